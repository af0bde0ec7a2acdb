"""Animated images (GIF, WebP, APNG): every frame colorized, written back in the same format with
each frame's duration and the loop count kept.

Frames are colorized one by one as photos (an animated GIF is a few seconds of small frames; the
video pipeline's motion tracking is for films), through `Engine.colorize_iter`. Pillow reads
and writes all three formats; its frames come composed (what a viewer shows), so each is colorized
whole.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, ImageSequence

from pix2pix_color.io.images import ImageError, open_image, source_name
from pix2pix_color.limits import Limits
from pix2pix_color.pipeline.engine import Engine

# Pillow's format name -> the suffix of the result; APNG is a PNG.
ANIMATED_FORMATS = {"GIF": ".gif", "WEBP": ".webp", "PNG": ".png"}


def animated_format(path: str | os.PathLike) -> str | None:
    """Pillow's format name of an animated image file with more than one frame, else None (a still
    image, or not an image at all: `colorize` reports that)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # open_image says it, once
            with Image.open(path) as image:
                if image.format in ANIMATED_FORMATS and getattr(image, "n_frames", 1) > 1:
                    return image.format
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None
    return None


def read_animation(
    path: str | os.PathLike, max_pixels: int = Limits().max_animation_pixels
) -> tuple[list[Image.Image], list[int], int, str]:
    """An animated image -> (its frames as RGB or RGBA, each frame's duration in ms, loop count, format).
    The frames' pixels together may be at most `max_pixels`: counted on the frames as they are
    decoded (all are held), and refused at once when the header's frame count already says more."""
    name = source_name(path)
    opened = open_image(path)  # the header checks (size, a broken file) as for any photo
    image = Image.open(path)
    frames, durations = [], []
    width, height = opened.size

    def too_many(count: int) -> ImageError:
        limit = f"{max_pixels / 1e6:.0f} megapixels" if max_pixels >= 1e6 else f"{max_pixels:,} pixels"
        return ImageError(
            f"{name}: {count} frames of {width}x{height} are more than {limit} together; "
            "convert it to a video and colorize that"
        )

    if width * height * getattr(image, "n_frames", 1) > max_pixels:
        raise too_many(image.n_frames)
    over = 0
    try:
        for frame in ImageSequence.Iterator(image):
            if width * height * (len(frames) + 1) > max_pixels:
                over = len(frames) + 1
                break
            alpha = frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info
            frames.append(frame.convert("RGBA" if alpha else "RGB"))
            durations.append(int(frame.info.get("duration", image.info.get("duration", 100)) or 100))
    except (OSError, ValueError, EOFError) as e:
        raise ImageError(f"{name}: frame {len(frames)} cannot be decoded ({e})") from None
    if over:
        raise too_many(over)
    return frames, durations, int(image.info.get("loop", 0)), image.format


def write_animation(frames: list[Image.Image], durations: list[int], loop: int, fmt: str, target: Path) -> None:
    """Frames -> an animated file of `fmt` at `target`, written under a temporary name, then renamed."""
    options: dict = {"save_all": True, "append_images": frames[1:], "duration": durations, "loop": loop}
    if fmt == "WEBP":
        options.update(lossless=True, method=0)
    elif fmt == "GIF":
        options.update(disposal=1, optimize=False)  # each frame whole: the palette per frame is adaptive
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        frames[0].save(tmp, format=fmt, **options)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def colorize_animation(engine: Engine, source: str | os.PathLike, target: str | os.PathLike, *, hints=None,
                       batch_size: int = 8) -> int:  # fmt: skip
    """Colorize every frame of an animated image at `source` into the same format at `target` (its
    suffix is the caller's choice), frame timing and loop kept; returns the number of frames. `hints`
    apply to every frame. Raises `ImageError` (or `HintError`) with a one-line reason."""
    frames, durations, loop, fmt = read_animation(source, engine.limits.max_animation_pixels)
    colorized: list[Image.Image] = []
    for start in range(0, len(frames), batch_size):
        chunk = frames[start : start + batch_size]
        for result in engine.colorize_iter(chunk, hints=[hints] * len(chunk) if hints else None):
            if isinstance(result, Exception):
                raise result
            colorized.append(result)
    write_animation(colorized, durations, loop, fmt, Path(target))
    return len(colorized)
