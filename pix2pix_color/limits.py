"""The ranges and limits every front end shares (library, CLI, app, ComfyUI), in one torch-free module:
the command line builds its help and argument checks from these without importing the network, so
`pix2pix-color --help` and a mistyped option answer at once.

The checks raise ValueError with one line naming the range; each front end words it its own way.
"""

from __future__ import annotations

from numbers import Integral

# 1 is the calibrated colorfulness, 0 gray, 2 twice as colorful (already garish; more only saturates).
COLOR_STRENGTH_RANGE = (0.0, 2.0)
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


def check_smoothing(value: float) -> float:
    """A smoothing in [0, 1) (1 would never let a frame's own colors in); anything else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"smoothing must be at least 0 and below 1, got {value!r}")
    return float(value)
