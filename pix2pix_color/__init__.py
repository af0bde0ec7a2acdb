"""pix2pix-color: grayscale photos to color with pix2pix in CIE L*a*b*.

The names below are imported when first used (PEP 562), so that `import pix2pix_color.limits` or
the command line's `--help` do not load PyTorch (1.5-3 s): `from pix2pix_color import Colorizer`
works as always.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

_LAZY = {
    "Colorizer": ".inference",
    "ImageError": ".images",
    "ModelLoadError": ".hub",
    "HintError": ".hints",
    "VideoError": ".video",
    "Confidence": ".confidence",
    "PredictOptions": ".pipeline",
    "UNetGenerator": ".models",
}

__all__ = [
    "__version__",
    "Colorizer",
    "Confidence",
    "HintError",
    "ImageError",
    "ModelLoadError",
    "PredictOptions",
    "UNetGenerator",
    "VideoError",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .confidence import Confidence
    from .hints import HintError
    from .hub import ModelLoadError
    from .images import ImageError
    from .inference import Colorizer
    from .models import UNetGenerator
    from .pipeline import PredictOptions
    from .video import VideoError


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
