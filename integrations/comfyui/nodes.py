"""ComfyUI nodes for pix2pix-color: load a colorizer once, colorize or restore IMAGE batches with it.

ComfyUI's IMAGE is a float tensor (B, H, W, C) in [0, 1], C = 3; the library works on photos, so each
image of a batch goes through `Colorizer.colorize` as an 8-bit picture (what ComfyUI loaded it from)
and comes back as the same layout at the same size. The model is loaded by its own node so that a
workflow that colorizes many images loads it once; loaded colorizers are also kept per (model,
backend, device) across runs, as ComfyUI's own loaders keep theirs.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pix2pix_color import Colorizer, ColorizeRequest, ImageError, ModelLoadError
from pix2pix_color.core.hints import HintError, parse_hints_json
from pix2pix_color.io.images import save_png
from pix2pix_color.limits import COLOR_STRENGTH_RANGE, WORKING_SIZE_MULTIPLE, WORKING_SIZE_RANGE

MODEL_TYPE = "PIX2PIX_COLOR_MODEL"
CATEGORY = "image/color"


def _device() -> str:
    try:  # inside ComfyUI: the device it chose (GPU, MPS, or CPU when started with --cpu)
        import comfy.model_management

        return str(comfy.model_management.get_torch_device())
    except ImportError:
        return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def load_colorizer(model: str, backend: str, device: str) -> Colorizer:
    try:
        return Colorizer.from_pretrained(model or None, backend=backend if device == "cpu" else "torch", device=device)
    except ModelLoadError as e:
        raise ValueError(f"pix2pix-color: {e}") from None


def to_pictures(images: torch.Tensor) -> list[Image.Image]:
    """ComfyUI's (B, H, W, C) float [0, 1] -> one 8-bit PIL picture per image (C = 1, 3 or 4)."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"pix2pix-color: expected an IMAGE of shape (batch, height, width, 1/3/4), got {tuple(images.shape)}"
        )
    pixels = (images.detach().float().clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[pixels.shape[-1]]
    return [Image.fromarray(p[..., 0] if mode == "L" else p, mode) for p in pixels]


def to_images(pictures: list[Image.Image], channels: int = 3) -> torch.Tensor:
    """PIL pictures of one size -> ComfyUI's (B, H, W, C) float [0, 1]; C = 4 (the pictures' alpha
    kept, as the library keeps it) when the IMAGE that came in had 4 channels, else 3."""
    mode = "RGBA" if channels == 4 else "RGB"
    return torch.from_numpy(np.stack([np.asarray(p.convert(mode)) for p in pictures])).float() / 255


def provenance(pictures: list[Image.Image]) -> str:
    """What made each picture, one line per image (the library's PNG Description): for the Save node
    or any node that writes metadata."""
    return "\n".join(p.info.get("Description", "") for p in pictures)


def check_working_size(size: int) -> int | None:
    """The node's working_size (0 = the model's own) as the library takes it, or a one-line error."""
    if size == 0:
        return None
    low, high = WORKING_SIZE_RANGE
    if not low <= size <= high:
        raise ValueError(f"pix2pix-color: working_size {size} is below {low} (0 = the model's own)" if size < low
                         else f"pix2pix-color: working_size {size} is above {high}")  # fmt: skip
    if size % WORKING_SIZE_MULTIPLE:
        below = size - size % WORKING_SIZE_MULTIPLE
        raise ValueError(
            f"pix2pix-color: working_size {size} is not a multiple of {WORKING_SIZE_MULTIPLE} "
            f"({max(low, below)} or {min(high, below + WORKING_SIZE_MULTIPLE)}; 0 = the model's own)"
        )
    return size


class LoadColorizer:
    """Load a pix2pix-color model: the one bundled with the package (leave the name empty), a Hub
    repo id such as org/name (downloaded once into the Hugging Face cache) or a local model folder."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("STRING", {"default": "", "tooltip": "empty: the bundled model; or a Hub id / folder"}),
                "backend": (
                    ["auto", "torch", "onnxruntime"],
                    {"default": "auto", "tooltip": "on a CPU: the faster one"},
                ),
            }
        }

    RETURN_TYPES = (MODEL_TYPE,)
    RETURN_NAMES = ("colorizer",)
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = __doc__

    def load(self, model: str, backend: str):
        return (load_colorizer(model.strip(), backend, _device()),)


class Colorize:
    """Colorize black-and-white images: the lightness stays each image's own, the colors are
    predicted. Color images are colorized from their lightness (their own colors are not used)."""

    @classmethod
    def INPUT_TYPES(cls):
        low, high = WORKING_SIZE_RANGE
        return {
            "required": {
                "colorizer": (MODEL_TYPE,),
                "image": ("IMAGE",),
                "strength": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": COLOR_STRENGTH_RANGE[0],
                        "max": COLOR_STRENGTH_RANGE[1],
                        "step": 0.05,
                        "tooltip": "1 = as calibrated on real photos, 0 = gray",
                    },
                ),
                "working_size": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": high,
                        "step": 16,
                        "tooltip": f"long side at which colors are predicted; 0 = the model's own ({low}-{high})",
                    },
                ),
            },
            "optional": {
                "hints": (
                    "STRING",
                    {
                        "multiline": True,
                        "default": "",
                        "tooltip": 'colors you know, as [[x, y, "#rrggbb"], ...] in pixels of the image',
                    },
                ),
            },
        }

    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "provenance")
    FUNCTION = "colorize"
    CATEGORY = CATEGORY
    DESCRIPTION = __doc__

    def colorize(self, colorizer: Colorizer, image: torch.Tensor, strength: float, working_size: int, hints: str = ""):
        size = check_working_size(working_size)
        try:
            points = parse_hints_json(hints) if hints.strip() else None
            results = [
                colorizer.colorize(picture, hints=points, working_size=size, color_strength=strength)
                for picture in to_pictures(image)
            ]
        except (ImageError, HintError) as e:
            raise ValueError(f"pix2pix-color: {e}") from None
        return to_images(results, image.shape[-1]), provenance(results)


class Restore:
    """Restore old photos: a faded color print or slide gets its fading undone and keeps the colors
    that survived, the model's colors filling in where they are gone; a black-and-white or sepia
    photo is colorized (its tone kept on request). Also gives a MASK of where the colors are the
    model's guesses (1: a guess, 0: the photo's own color or a sure one), e.g. to inpaint or hint
    there, and one line per image saying what it was taken for."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "colorizer": (MODEL_TYPE,),
                "image": ("IMAGE",),
                "keep_tone": (
                    "BOOLEAN",
                    {"default": False, "tooltip": "for a sepia or toned print: keep its tone on top of the colors"},
                ),
            },
            "optional": {
                "repair": (
                    "BOOLEAN",
                    {"default": False, "tooltip": "first fill cracks, scratches and dust, so that none is colored"},
                ),
            },
        }

    RETURN_TYPES = ("IMAGE", "MASK", "STRING", "STRING")
    RETURN_NAMES = ("image", "guesses", "found", "provenance")
    FUNCTION = "restore"
    CATEGORY = CATEGORY
    DESCRIPTION = __doc__

    def restore(self, colorizer: Colorizer, image: torch.Tensor, keep_tone: bool, repair: bool = False):
        restored, guesses, found = [], [], []
        try:
            for picture in to_pictures(image):
                request = ColorizeRequest(picture, restore=True, keep_tone=keep_tone, confidence=True, repair=repair)
                output = colorizer.run(request)
                restored.append(output.image)
                guesses.append(torch.from_numpy(1.0 - output.confidence.map))
                found.append(FOUND[output.restoration.kind])
        except (ImageError, ValueError) as e:
            raise ValueError(f"pix2pix-color: {e}") from None
        return (
            to_images(restored, image.shape[-1]),
            torch.stack(guesses).float(),
            "\n".join(found),
            provenance(restored),
        )


class SavePNG:
    """Save images as lossless PNGs into ComfyUI's output folder with what made them written into
    each file, as the library's own PNGs carry it: the provenance line (which program, which model)
    as PNG text chunks and an sRGB ICC profile (the space the colors were computed in)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE",),
                "filename_prefix": ("STRING", {"default": "pix2pix-color"}),
            },
            "optional": {
                "provenance": ("STRING", {"forceInput": True, "tooltip": "the Colorize or Restore node's provenance"}),
            },
        }

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = CATEGORY
    DESCRIPTION = __doc__

    def save(self, images: torch.Tensor, filename_prefix: str, provenance: str = ""):
        folder = _output_folder()
        lines = provenance.splitlines() or [""]
        prefix = Path(filename_prefix.strip() or "pix2pix-color").name  # a name, never a path elsewhere
        taken = {p.name for p in folder.glob(f"{prefix}_*.png")}
        saved, n = [], 0
        for i, picture in enumerate(to_pictures(images)):
            while f"{prefix}_{n:05}.png" in taken:
                n += 1
            name = f"{prefix}_{n:05}.png"
            taken.add(name)
            description = lines[min(i, len(lines) - 1)]
            if description:
                version = description.split("pix2pix-color ", 1)[-1].split(",", 1)[0]
                picture.info.update(Software=f"pix2pix-color {version}", Description=description)
            save_png(picture, folder / name)
            saved.append({"filename": name, "subfolder": "", "type": "output"})
        return {"ui": {"images": saved}}


def _output_folder() -> Path:
    try:  # inside ComfyUI: its output folder
        import folder_paths

        folder = Path(folder_paths.get_output_directory())
    except ImportError:
        folder = Path(os.getcwd()) / "output"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


FOUND = {
    "color": "a faded color photo: restored",
    "toned": "a toned (sepia) photo: colorized",
    "gray": "a black-and-white photo: colorized",
}

NODE_CLASS_MAPPINGS = {
    "Pix2PixColorLoad": LoadColorizer,
    "Pix2PixColorColorize": Colorize,
    "Pix2PixColorRestore": Restore,
    "Pix2PixColorSavePNG": SavePNG,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "Pix2PixColorLoad": "Load pix2pix-color model",
    "Pix2PixColorColorize": "Colorize (pix2pix-color)",
    "Pix2PixColorRestore": "Restore old photo (pix2pix-color)",
    "Pix2PixColorSavePNG": "Save PNG with provenance (pix2pix-color)",
}
