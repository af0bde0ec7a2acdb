"""Color hints: a user's "this spot is red" turned into the generator's hint channels.

A hint is a point `(x, y, color)` in the input photo's pixel coordinates, with `color` an `(r, g, b)`
tuple or `"#rrggbb"`, or a scribble: an RGBA image of the photo's size whose non-transparent pixels
are the hints. Only a hint's chroma (a*, b*) is used; the lightness stays the photo's own.
At the working resolution the hints become three channels (Zhang et al. 2017): the mean a*b* of the
hints falling on each pixel (model scale) and a 0/1 mask.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from pix2pix_color.core.color import normalize_ab, rgb_to_lab
from pix2pix_color.limits import MAX_HINT_POINTS  # noqa: F401  (re-exported)

# Limits, and what each applies to: a list of points (API, CLI, app clicks) holds at most
# MAX_HINT_POINTS; a scribble (RGBA image of the photo's size) may mark any number of pixels, and is
# pooled to at most SCRIBBLE_GRID x SCRIBBLE_GRID points, so its cost is bounded by the photo's size.
SCRIBBLE_GRID = 512
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")
# What browsers' color pickers hand out besides hex (Gradio's ColorPicker among them).
_CSS_RGB = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*[\d.]+\s*)?\)")

Hints = Sequence[tuple[float, float, object]] | Image.Image | None


class HintError(ValueError):
    """Hints that cannot be used; the message is meant for the user as is."""


def parse_color(color: object) -> tuple[int, int, int]:
    """ "#rrggbb" or (r, g, b) with 0..255 integers -> (r, g, b)."""
    if isinstance(color, str):
        match = _HEX.fullmatch(color.strip())
        if match:
            value = int(match.group(1), 16)
            return value >> 16, (value >> 8) & 255, value & 255
        match = _CSS_RGB.fullmatch(color.strip())
        if match and all(float(v) <= 255 for v in match.groups()):
            return tuple(int(round(float(v))) for v in match.groups())  # type: ignore[return-value]
    elif isinstance(color, (tuple, list)) and len(color) == 3:
        if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c <= 255 for c in color):
            return tuple(int(c) for c in color)  # type: ignore[return-value]
    raise HintError(f"hint color {color!r} is not '#rrggbb' or an (r, g, b) tuple of 0-255 integers")


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """(N,3) uint8 colors -> (N,2) their a*, b*."""
    lab = rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb.T[:, :, None], dtype=np.uint8)))
    return lab[1:, :, 0].T.numpy()


def parse_hints_json(text: str | bytes | None) -> list[tuple[float, float, object]]:
    """The API's and CLI's format: a JSON list of [x, y, "#rrggbb"]; empty or missing: no hints."""
    if text is None or not str(text).strip():
        return []
    try:
        value = json.loads(text)
    except ValueError as e:
        raise HintError(f"hints are not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(value, list):
        raise HintError('hints must be a JSON list of [x, y, "#rrggbb"] points')
    if len(value) > MAX_HINT_POINTS:
        raise HintError(f"{len(value)} hint points: at most {MAX_HINT_POINTS:,} are accepted")
    return [tuple(h) if isinstance(h, list) else h for h in value]


def parse_video_hints_json(text: str | bytes | None) -> list | dict[int, list]:
    """Hints for a video: a JSON list of [x, y, "#rrggbb"] for the first frame, or an object
    {"frame number": [[x, y, "#rrggbb"], ...], ...} for any frames."""
    if text is None or not str(text).strip().startswith("{"):
        return parse_hints_json(text)
    try:
        value = json.loads(text)
    except ValueError as e:
        raise HintError(f"hints are not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    out, total = {}, 0
    for frame, points in value.items():
        # ASCII digits only: "²".isdigit() is True, and int("²") a bare ValueError.
        if not re.fullmatch(r"[0-9]+", str(frame)):
            raise HintError(f'per-frame hints are keyed by frame number ("0", "25", ...), not {frame!r}')
        out[int(frame)] = parse_hints_json(json.dumps(points))
        total += len(out[int(frame)])
        if total > MAX_HINT_POINTS:
            raise HintError(f"at most {MAX_HINT_POINTS} hint points in all the frames together")
    return out


def hint_points(hints: Hints, width: int, height: int) -> np.ndarray | None:
    """Hints for a `width` x `height` photo -> (N,4) float array of x, y, a*, b*; None when there are none."""
    if hints is None:
        return None
    if isinstance(hints, Image.Image):
        if hints.size != (width, height):
            raise HintError(
                f"the hint scribble is {hints.size[0]}x{hints.size[1]}, the photo {width}x{height}: they must match"
            )
        return _scribble_points(np.asarray(hints.convert("RGBA")))
    if isinstance(hints, (str, bytes)) or not isinstance(hints, Sequence):
        raise HintError("hints must be a list of (x, y, color) points or an RGBA scribble image")
    if len(hints) == 0:
        return None
    if len(hints) > MAX_HINT_POINTS:
        raise HintError(f"{len(hints)} hint points: at most {MAX_HINT_POINTS:,} are accepted")
    xy, colors = np.empty((len(hints), 2)), np.empty((len(hints), 3), dtype=np.uint8)
    for i, hint in enumerate(hints):
        if not isinstance(hint, (tuple, list)) or len(hint) != 3:
            raise HintError(f"hint {i + 1} is {hint!r}: expected (x, y, color)")
        x, y, color = hint
        if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in (x, y)):
            raise HintError(f"hint {i + 1}: x and y must be numbers, got {x!r}, {y!r}")
        if not (0 <= x < width and 0 <= y < height):
            raise HintError(f"hint {i + 1} at ({x}, {y}) lies outside the {width}x{height} photo")
        xy[i] = x, y
        colors[i] = parse_color(color)
    return np.column_stack([xy, _chroma(colors)])


def _scribble_points(rgba: np.ndarray) -> np.ndarray | None:
    """An RGBA scribble (H,W,4) -> (N,4) points: its marked pixels pooled into cells of a grid of at
    most SCRIBBLE_GRID cells per side, each cell one point at the mean position and color of its marked
    pixels. A brush stroke of any size then costs at most SCRIBBLE_GRID**2 points (the working grid
    is at most 1024 px, so a cell is never coarser than 2 working pixels)."""
    H, W = rgba.shape[:2]
    cell = max(1, -(-max(H, W) // SCRIBBLE_GRID))
    marked = rgba[..., 3] > 0
    if not marked.any():
        return None
    ys, xs = np.nonzero(marked)
    if cell == 1:
        return np.column_stack([xs + 0.5, ys + 0.5, _chroma(rgba[ys, xs, :3])]).astype(np.float64)
    grid_w = -(-W // cell)
    key = (ys // cell) * grid_w + xs // cell
    cells, index, count = np.unique(key, return_inverse=True, return_counts=True)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=len(cells)) / count

    colors = np.stack([mean(rgba[ys, xs, c].astype(np.float64)) for c in range(3)], axis=1)
    return np.column_stack([mean(xs + 0.5), mean(ys + 0.5), _chroma(np.round(colors).astype(np.uint8))])


def hint_channels(points: np.ndarray | None, full: tuple[int, int], work: tuple[int, int]) -> Tensor:
    """(N,4) points of a photo of size `full` (H,W) -> hint channels (3,h,w) at the working size.

    Several hints on one working pixel are averaged, so a dense scribble gives its mean color.
    """
    (H, W), (h, w) = full, work
    channels = torch.zeros(3, h, w)
    if points is None or len(points) == 0:
        return channels
    p = torch.from_numpy(points).float()
    col = (p[:, 0] * w / W).long().clamp(0, w - 1)
    row = (p[:, 1] * h / H).long().clamp(0, h - 1)
    index = row * w + col
    sums = torch.zeros(3, h * w)
    sums[:2].index_add_(1, index, normalize_ab(p[:, 2:4].T))
    sums[2].index_add_(0, index, torch.ones(len(p)))
    marked = sums[2] > 0
    channels.view(3, -1)[:2, marked] = sums[:2, marked] / sums[2, marked]
    channels.view(3, -1)[2, marked] = 1.0
    return channels


def sample_hints(photo: np.ndarray, n: int, rng: np.random.Generator, patch: int = 3) -> list[tuple[int, int, str]]:
    """`n` hints taken from a real (H,W,3) uint8 photo, as a user who knows its colors would give.

    Each is a random point with the photo's mean color over a `patch` x `patch` square around it;
    used to score a model "with 10 hints".
    """
    H, W = photo.shape[:2]
    hints = []
    for _ in range(n):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        square = photo[max(0, y - patch // 2) : y + patch // 2 + 1, max(0, x - patch // 2) : x + patch // 2 + 1]
        r, g, b = np.round(square.reshape(-1, 3).mean(0)).astype(int)
        hints.append((x, y, f"#{r:02x}{g:02x}{b:02x}"))
    return hints
