"""pix2pix-color: grayscale photos to color with pix2pix in CIE L*a*b*."""

__version__ = "0.1.0"  # before the imports: colorized files name it

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
