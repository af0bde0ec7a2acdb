"""How old prints get damaged, as a function: damaged versions of real photos, whose clean pixels and
damage mask are known, to train the damage detector on and to score `repair` against.

What a scanned old print shows, and what is drawn here (all at a few widths and contrasts, light or
dark, softened like a scan):

- **Cracks**: a dried, bent emulsion breaks along branching, wandering lines; where it flakes, the
  paper shows through (light) or dirt settles in (dark). A random walk that drifts in direction,
  branches now and then and thins towards its ends.
- **Scratches**: a hard point dragged across the print or the negative: long, nearly straight,
  thin lines, most often light (the emulsion scraped off).
- **Dust and specks**: small round or ragged dots, dark (dirt on the print) or light (dust on the
  negative printed white), and short curled fibres and hairs.
- **Emulsion loss and blotches**: larger ragged patches where the image layer is gone (the paper
  shows, light) or stained (dark), with a soft, irregular edge.

Every damage type is a coverage layer `alpha` (H,W) in [0,1] and a tone (the paper's or the dirt's)
that the clean photo is blended towards; the mask is where that moved a pixel visibly. Drawn with
OpenCV's anti-aliased lines and polygons; no library synthesises photographic damage.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# A pixel counts as damaged when the damage moved it by more than this many levels (of 255): what a
# person sees as a mark. Fainter coverage (the anti-aliased fringe) is left out of the mask.
VISIBLE_LEVELS = 10


@dataclass(frozen=True)
class DamageStyle:
    """How much of each kind of damage a print gets (counts per megapixel scale with the size).

    `cracks`, `scratches`: number of crack networks and of scratches; `dust`: specks;
    `blotches`: patches of emulsion loss; `width`: the scale of line widths, in pixels;
    `contrast`: 0-1, how far a mark goes towards the paper's or the dirt's tone."""

    cracks: int = 2
    scratches: int = 2
    dust: int = 60
    blotches: int = 1
    width: float = 1.5
    contrast: float = 0.9


def random_style(rng: np.random.Generator) -> DamageStyle:
    """A plausible mix for one print: from a few specks to a badly cracked portrait."""
    heavy = rng.random() < 0.35
    return DamageStyle(
        cracks=int(rng.integers(0, 6 if heavy else 3)),
        scratches=int(rng.integers(0, 5)),
        dust=int(rng.integers(0, 160 if heavy else 60)),
        blotches=int(rng.integers(0, 4 if heavy else 2)),
        width=float(rng.uniform(0.7, 3.0)),
        contrast=float(rng.uniform(0.35, 1.0)),
    )


def _walk(rng, start, angle, steps, step_len, wobble) -> np.ndarray:
    """A wandering line: (steps+1, 2) float points from `start`, direction drifting by `wobble`."""
    turns = np.cumsum(rng.normal(0.0, wobble, steps)) + angle
    moves = np.stack([np.cos(turns), np.sin(turns)], axis=1) * step_len
    return np.vstack([start, start + np.cumsum(moves, axis=0)])


def draw_polyline(layer: np.ndarray, points: np.ndarray, width: float, strength: float) -> None:
    """Anti-aliased polyline onto `layer` (H,W) float32, keeping the maximum coverage. OpenCV draws
    on a 16x sub-pixel grid (shift=4), so a 1 px line lands between pixels as a scan would show it."""
    canvas = np.zeros_like(layer, dtype=np.uint8)
    pts = np.round(points * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [pts], False, 255, thickness=max(1, int(round(width))), lineType=cv2.LINE_AA, shift=4)
    if width < 1.0:  # thinner than a pixel: fainter, as a scan averages it
        canvas = (canvas * width).astype(np.uint8)
    np.maximum(layer, canvas.astype(np.float32) / 255.0 * strength, out=layer)


def _crack(layer, rng, style: DamageStyle, size: float) -> None:
    h, w = layer.shape
    trunks = [(rng.uniform([0, 0], [w, h]), rng.uniform(0, 2 * np.pi), style.width * rng.uniform(0.7, 1.5))]
    drawn = 0
    while trunks and drawn < 12:
        start, angle, width = trunks.pop()
        steps = int(rng.integers(10, 60) * max(size / 256.0, 0.5))
        points = _walk(rng, start, angle, steps, rng.uniform(2.0, 6.0), rng.uniform(0.08, 0.35))
        # A crack thins towards its end: drawn in pieces of falling width.
        pieces = np.array_split(np.arange(len(points)), 3)
        for k, idx in enumerate(pieces):
            if len(idx) < 1:
                continue
            seg = points[max(idx[0] - 1, 0) : idx[-1] + 1]
            draw_polyline(layer, seg, max(0.6, width * (1.0 - 0.25 * k)), style.contrast)
        drawn += 1
        for _ in range(int(rng.poisson(1.2))):  # branches start somewhere along it, at an angle
            at = points[int(rng.integers(0, len(points)))]
            trunks.append((at, angle + rng.choice([-1, 1]) * rng.uniform(0.4, 1.4), width * 0.7))


def _scratch(layer, rng, style: DamageStyle) -> None:
    h, w = layer.shape
    start = rng.uniform([0, 0], [w, h])
    length = rng.uniform(0.3, 1.2) * max(h, w)
    steps = 20
    points = _walk(rng, start, rng.uniform(0, 2 * np.pi), steps, length / steps, rng.uniform(0.0, 0.03))
    draw_polyline(layer, points, style.width * rng.uniform(0.4, 1.0), style.contrast * rng.uniform(0.6, 1.0))


def speck(layer, rng, style: DamageStyle) -> None:
    h, w = layer.shape
    center = rng.uniform([0, 0], [w, h])
    if rng.random() < 0.15:  # a fibre or hair: short and curled
        points = _walk(rng, center, rng.uniform(0, 2 * np.pi), 8, rng.uniform(1.5, 4.0), 0.4)
        draw_polyline(layer, points, rng.uniform(0.6, 1.5), style.contrast)
        return
    radius = rng.uniform(0.5, 1.2) * style.width * rng.choice([1.0, 1.0, 2.0])
    _blob(layer, rng, center, radius, style.contrast)


def _blob(layer, rng, center, radius, strength) -> None:
    """A ragged round patch: a polygon whose radius wanders around `radius`."""
    corners = int(np.clip(radius * 3, 5, 24))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = radius * rng.uniform(0.6, 1.3, corners)
    pts = center + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
    canvas = np.zeros(layer.shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    np.maximum(layer, canvas.astype(np.float32) / 255.0 * strength, out=layer)


def damage_layers(shape: tuple[int, int], style: DamageStyle, rng: np.random.Generator):
    """(H,W) and a style -> (light, dark): two coverage layers (H,W) float32 in [0,1], the marks
    that go towards the paper's white and those that go towards dirt's dark."""
    h, w = shape
    scale = max(h * w / 65_536.0, 0.25)  # counts are per 256x256 and grow with the area
    light, dark = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    pick = lambda p_light: light if rng.random() < p_light else dark  # noqa: E731
    for _ in range(int(round(style.cracks * min(scale, 4.0) ** 0.5))):
        _crack(pick(0.7), rng, style, float(max(h, w)))
    for _ in range(int(round(style.scratches * min(scale, 4.0) ** 0.5))):
        _scratch(pick(0.8), rng, style)
    for _ in range(int(round(style.dust * scale / 4.0))):
        speck(pick(0.4), rng, style)
    for _ in range(int(round(style.blotches * min(scale, 4.0) ** 0.5))):
        radius = rng.uniform(3.0, 18.0) * style.width
        _blob(pick(0.75), rng, rng.uniform([0, 0], [w, h]), radius, style.contrast)
    return light, dark


def apply_damage(
    image: np.ndarray, light: np.ndarray, dark: np.ndarray, rng: np.random.Generator, soften: float = 0.6
) -> tuple[np.ndarray, np.ndarray]:
    """A clean photo (H,W) or (H,W,3) uint8 and the two layers -> (damaged, mask): the damaged photo
    (same shape, uint8) and where it visibly changed (H,W) bool.

    The paper is a slightly warm white, the dirt a dark brown; each mark's tone varies a little, and
    the layers are softened by `soften` pixels (a scan's blur) before they are blended in."""
    if soften > 0:
        light = cv2.GaussianBlur(light, (0, 0), soften)
        dark = cv2.GaussianBlur(dark, (0, 0), soften)
    x = image.astype(np.float32)
    gray = x.ndim == 2
    paper = np.float32(rng.uniform(215, 255)) * (np.ones(1) if gray else np.array([1.0, 0.98, 0.93]))
    dirt = np.float32(rng.uniform(10, 70)) * (np.ones(1) if gray else np.array([1.0, 0.9, 0.8]))
    if gray:
        out = x + light * (paper[0] - x)
        out = out + dark * (dirt[0] - out)
    else:
        out = x + light[..., None] * (paper.astype(np.float32) - x)
        out = out + dark[..., None] * (dirt.astype(np.float32) - out)
    damaged = np.clip(np.round(out), 0, 255).astype(np.uint8)
    moved = np.abs(damaged.astype(np.int16) - image.astype(np.int16))
    mask = (moved if gray else moved.max(axis=2)) > VISIBLE_LEVELS
    return damaged, mask


def damage(image: np.ndarray, rng: np.random.Generator, style: DamageStyle | None = None):
    """A clean photo (H,W) or (H,W,3) uint8 -> (damaged photo, mask (H,W) bool), with a random
    style unless one is given."""
    style = style or random_style(rng)
    light, dark = damage_layers(image.shape[:2], style, rng)
    return apply_damage(image, light, dark, rng, soften=float(rng.uniform(0.3, 0.9)))
