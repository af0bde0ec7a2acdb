"""pix2pix-color: grayscale photos to color with pix2pix in CIE L*a*b*."""

from importlib.metadata import version as _version

__version__ = _version("pix2pix-color")

from .hub import ModelLoadError
from .images import ImageError
from .inference import Colorizer
from .models import PatchDiscriminator, UNetGenerator, count_parameters, init_weights

__all__ = [
    "Colorizer",
    "ImageError",
    "ModelLoadError",
    "PatchDiscriminator",
    "UNetGenerator",
    "count_parameters",
    "init_weights",
]
