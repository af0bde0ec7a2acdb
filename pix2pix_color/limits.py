"""The ranges and limits every front end shares (library, CLI, app, ComfyUI), in one torch-free module:
the command line builds its help and argument checks from these without importing the network, so
`pix2pix-color --help` and a mistyped option answer at once.

The checks raise ValueError with one line naming the range; each front end words it its own way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from numbers import Integral

# 1 is the calibrated colorfulness, 0 gray, 2 twice as colorful (already garish; more only saturates).
COLOR_STRENGTH_RANGE = (0.0, 2.0)
DEFAULT_COLOR_STRENGTH = 1.0
# Long side of the working grid: below 16 px a photo is a few color blobs; above 1024 the model sees
# too little context per pixel and memory grows with its square (the ONNX graph's limit too).
WORKING_SIZE_RANGE = (16, 1024)
# The working grid's sides are multiples of this (the U-Net halves them four times).
WORKING_SIZE_MULTIPLE = 16
# Color hints in one request: a click each; the propagation's cost grows with them.
MAX_HINT_POINTS = 10_000
# Colorings offered by `Colorizer.colorize_variations`: the first and one per hue sector (8, of 45
# degrees: `variations.SECTORS`); beyond four the later ones differ little from the first.
VARIATIONS_MAX = 9
DEFAULT_VARIATIONS = 4
# Videos: how much of its color a reliably tracked pixel keeps each frame. 0.9 averages over ~10
# frames each way (enough to cancel grain and exposure flicker) while the reliability mask lets new
# content in at once. Measured in benchmarks/bench_video.py.
DEFAULT_SMOOTHING = 0.9

# A photo's pixels (counted from its size before the pixels are decoded): a 50 MP scan is an A4 print
# at 600 dpi; beyond it the full-resolution finish needs several GB.
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the library, enforced by the library itself (the engine, the
    video pipeline, the hint parser), so that no front end can forget one: the app, its API and MCP
    set stricter values with `stricter`, never looser.

    `max_pixels`: a photo's, read from its size before any pixel is decoded. `max_frame_pixels`: a
    video frame's. `max_seconds`: a video's length, counted on its frames while decoding (a header
    can say 0 s whatever the file holds; None: no limit). `max_hints`: hint points in one request
    (all frames of a video together). `max_reference_pixels`: a reference photo's.
    `max_working_size`: the longest working grid a request may ask for (memory grows with its square).
    `max_animation_pixels`: all frames of an animated GIF/WebP/PNG together (they are all held)."""

    max_pixels: int = MAX_PIXELS
    max_frame_pixels: int = MAX_PIXELS
    max_seconds: float | None = None
    max_hints: int = MAX_HINT_POINTS
    max_reference_pixels: int = MAX_PIXELS
    max_working_size: int = WORKING_SIZE_RANGE[1]
    max_animation_pixels: int = 4 * MAX_PIXELS

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name == "max_seconds":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{f.name} must be a positive number, got {value!r}")
        if self.max_hints > MAX_HINT_POINTS:
            raise ValueError(f"max_hints must be at most {MAX_HINT_POINTS}, got {self.max_hints!r}")
        low, high = WORKING_SIZE_RANGE
        if not low <= self.max_working_size <= high:
            raise ValueError(f"max_working_size must be from {low} to {high}, got {self.max_working_size!r}")

    def stricter(self, **changes) -> Limits:
        """These limits with some made stricter: a value above the current one raises ValueError
        (a front end may narrow what the library allows, never widen it)."""
        for name, value in changes.items():
            current = getattr(self, name)
            if current is not None and (value is None or value > current):
                raise ValueError(f"{name}={value!r} would loosen the limit of {current!r}")
        return replace(self, **changes)

    def check_working_size(self, value: int | None) -> int | None:
        """`check_working_size`, and no larger than `max_working_size`."""
        value = check_working_size(value)
        if value is not None and value > self.max_working_size:
            raise ValueError(f"working_size must be at most {self.max_working_size} here, got {value}")
        return value


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jp2", ".jpx"})
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".wmv", ".flv", ".ogv"}
)


def check_strength(value: float) -> float:
    """A color strength in COLOR_STRENGTH_RANGE, as float; anything else raises ValueError."""
    low, high = COLOR_STRENGTH_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"color_strength must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def check_working_size(value: int | None) -> int | None:
    """None (the model's training size) or a long side in WORKING_SIZE_RANGE; anything else raises ValueError."""
    low, high = WORKING_SIZE_RANGE
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise ValueError(f"working_size must be a whole number of pixels from {low} to {high}, got {value!r}")
    return int(value)


def check_variations(value: int) -> int:
    """A number of colorings from 1 to VARIATIONS_MAX; anything else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not 1 <= value <= VARIATIONS_MAX:
        raise ValueError(f"the number of variations must be a whole number from 1 to {VARIATIONS_MAX}, got {value!r}")
    return int(value)


def check_smoothing(value: float) -> float:
    """A smoothing in [0, 1) (1 would never let a frame's own colors in); anything else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"smoothing must be a number at least 0 and below 1, got {value!r}")
    return float(value)
