"""pix2pix-color: grayscale photos to color with pix2pix in CIE L*a*b*."""

from ._version import __version__
from .hub import ModelLoadError
from .images import ImageError
from .inference import Colorizer
from .models import PatchDiscriminator, UNetGenerator, count_parameters, init_weights

__all__ = [
    "__version__",
    "Colorizer",
    "ImageError",
    "ModelLoadError",
    "PatchDiscriminator",
    "UNetGenerator",
    "count_parameters",
    "init_weights",
]
