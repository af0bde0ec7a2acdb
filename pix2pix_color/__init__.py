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
    "ColorizeRequest": ".pipeline.request",
    "ColorizeOutput": ".pipeline.request",
    "VideoRequest": ".video.request",
    "Limits": ".limits",
    "ImageError": ".io.images",
    "ModelLoadError": ".models.hub",
    "HintError": ".core.hints",
    "VideoError": ".video.frames",
    "Confidence": ".pipeline.confidence",
    "PredictOptions": ".pipeline.steps",
    "UNetGenerator": ".models.networks",
}

__all__ = [
    "__version__",
    "Colorizer",
    "ColorizeOutput",
    "ColorizeRequest",
    "Confidence",
    "HintError",
    "Limits",
    "ImageError",
    "ModelLoadError",
    "PredictOptions",
    "UNetGenerator",
    "VideoError",
    "VideoRequest",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from pix2pix_color.core.hints import HintError
    from pix2pix_color.inference import Colorizer
    from pix2pix_color.io.images import ImageError
    from pix2pix_color.limits import Limits
    from pix2pix_color.models.hub import ModelLoadError
    from pix2pix_color.models.networks import UNetGenerator
    from pix2pix_color.pipeline.confidence import Confidence
    from pix2pix_color.pipeline.request import ColorizeOutput, ColorizeRequest
    from pix2pix_color.pipeline.steps import PredictOptions
    from pix2pix_color.video.frames import VideoError
    from pix2pix_color.video.request import VideoRequest


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
