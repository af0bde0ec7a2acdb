"""Full-resolution colorization: chroma predicted at a working resolution, luminance kept as is.

A photo's detail lives in its L* channel, and that is the one channel we already have. So the
generator only predicts a*b* at a modest working resolution; a*b* is upsampled smoothly to the
photo's full size and recombined with the photo's own full-resolution L*. The output has exactly
the input's size and sharpness, whatever resolution the model was trained at.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ._version import __version__ as VERSION
from .backends import OnnxRuntimeBackend, choose_backend
from .color import denormalize_ab, gray_to_l, lab_to_rgb, normalize_l, rgb_to_l
from .hints import HintError, Hints, hint_channels, hint_points
from .hub import ModelLoadError
from .image_processor import apply_guided, compose_rgb, guided_coefficients, guided_upsample, resize, working_shape
from .images import DEFAULT_MAX_PIXELS, DecodedImage, ImageError, decode, exif_of, open_image
from .models import UNetGenerator
from .propagation import propagate_hints

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
BUNDLED_MODEL_ID = "pix2pix-color/pix2pix-color-landscapes"  # where the bundled model is published
# The one answer for every front end (library, CLI, app): 1 is the calibrated colorfulness, 0 gray,
# 2 twice as colorful (already garish; more only saturates).
COLOR_STRENGTH_RANGE = (0.0, 2.0)
# Long side of the working grid: below 16 px a photo is a few color blobs; above 1024 the model sees
# too little context per pixel and memory grows with its square.
WORKING_SIZE_RANGE = (16, 1024)
ImageInput = str | os.PathLike | bytes | Image.Image


def default_model_path() -> Path:
    """The model folder shipped inside the package (Hub layout: config.json, model.safetensors)."""
    return DEFAULT_MODEL_DIR


@dataclass
class _Decoded:
    """One input, ready for the generator: L* (1,1,H,W), alpha (H,W) or None, hint points, EXIF."""

    L: Tensor
    alpha: Tensor | None
    points: np.ndarray | None
    exif: bytes | None


class Colorizer:
    """Colorizes photos with a `UNetGenerator`, at the input's full resolution.

    >>> colorizer = Colorizer.from_pretrained("org/model")  # or a folder; no argument: the bundled model
    >>> colorizer.colorize(Image.open("old_photo.jpg")).save("colorized.png")
    """

    def __init__(
        self,
        generator: UNetGenerator,
        *,
        device: str | torch.device | None = None,
        working_size: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        color_strength: float = 1.0,
        model_id: str | None = None,
        backend: OnnxRuntimeBackend | None = None,
        mirror_average: bool = False,
    ):
        self.mirror_average = bool(mirror_average)  # test-time augmentation; see `_network`
        self.model_id = model_id or "(unnamed)"  # written into every colorized PNG
        self.backend = backend  # None: the generator runs in PyTorch
        self.device = torch.device(device) if device is not None else next(generator.parameters()).device
        self.generator = generator.to(self.device).eval()
        self.working_size = check_working_size(working_size) or generator.image_size
        self.max_pixels = max_pixels
        self.color_strength = _check_strength(color_strength)

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike | None = None,
        *,
        device: str | torch.device | None = None,
        working_size: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        color_strength: float = 1.0,
        backend: str = "auto",
        mirror_average: bool = False,
        **hub_kwargs,
    ) -> Colorizer:
        """Load a Hub repo id or local folder; with no `model`, the model bundled with the package.

        `backend`: "torch", "onnxruntime" (the model's `onnx/model.onnx` in ONNX Runtime, CPU only; needs
        `pip install pix2pix-color[onnx]`), or "auto": ONNX Runtime on a CPU when it is installed, the
        model ships the graph and a timed run is faster there; PyTorch otherwise. `colorizer.backend`
        says which was chosen (None: PyTorch). `mirror_average`: test-time augmentation, the colors
        are the mean of the photo's prediction and its mirror image's (twice the network's time).
        """
        bundled = model is None
        if bundled:
            model = default_model_path()
            if not (Path(model) / "config.json").is_file():
                raise ModelLoadError(
                    "no default model is bundled with this installation: pass a model folder or Hub repo id"
                )
        generator = UNetGenerator.from_pretrained(os.fspath(model), **hub_kwargs)
        model_id = f"{BUNDLED_MODEL_ID} (bundled with the package)" if bundled else os.fspath(model)
        target = torch.device(device) if device is not None else torch.device("cpu")
        size = check_working_size(working_size) or generator.image_size
        runtime = choose_backend(backend, os.fspath(model), generator.eval(), target, size, **hub_kwargs)
        return cls(
            generator,
            device=device,
            working_size=working_size,
            max_pixels=max_pixels,
            color_strength=color_strength,
            model_id=model_id,
            backend=runtime,
            mirror_average=mirror_average,
        )

    def _working_shape(self, height: int, width: int, working_size: int | None) -> tuple[int, int]:
        return working_shape(
            height, width, check_working_size(working_size) or self.working_size, self.generator.multiple
        )

    @property
    def takes_hints(self) -> bool:
        return self.generator.hints

    def _generate(
        self,
        L_work: Tensor,
        color_strength: float | None = None,
        hints: Tensor | None = None,
        photo_shapes: Sequence[tuple[int, int]] | None = None,
    ) -> Tensor:
        """L* (B,1,h,w) [+ hint channels (B,3,h,w)] at working resolution -> a*b* (B,2,h,w).

        The a*b* are scaled by the model's calibrated `chroma_gain` (config.json) times the color
        strength; that scales the model's own guesses. Hints then pull the colors to the ones the
        user gave, along the photo's edges (`pix2pix_color.propagation`), so they are kept as given.
        """
        strength = self.color_strength if color_strength is None else _check_strength(color_strength)
        gain = self.generator.chroma_gain * strength
        ab = denormalize_ab(self._network(normalize_l(L_work), hints).float().to(L_work.device)) * gain
        if hints is None:
            return ab
        user = torch.cat([denormalize_ab(hints[:, :2].float()), hints[:, 2:3].float()], dim=1)
        # Each photo's (H, W): the hints are solved on a grid of its own shape, not the working grid's.
        shapes = photo_shapes or [None] * len(ab)
        return torch.stack([propagate_hints(L_work[i], ab[i], user[i], photo_shape=shapes[i]) for i in range(len(ab))])

    def _network(self, L: Tensor, hints: Tensor | None) -> Tensor:
        """Model-space L (B,1,h,w) [+ hints (B,3,h,w)] -> a*b* (B,2,h,w) from the chosen backend.

        With `mirror_average` the mirrored photo goes through in the same batch and its (mirrored
        back) a*b* is averaged in: a landscape's colors do not depend on its left-right orientation,
        so the two guesses differ only by the network's errors, which the mean reduces.
        """
        network = self.backend.predict_ab if self.backend is not None else self.generator.predict_ab
        if not self.mirror_average:
            return network(L, hints)
        both = network(torch.cat([L, L.flip(-1)]), None if hints is None else torch.cat([hints, hints.flip(-1)]))
        plain, mirrored = both.float().chunk(2)
        return (plain + mirrored.flip(-1)) / 2

    @torch.inference_mode()
    def predict_ab(self, L: Tensor, working_size: int | None = None) -> Tensor:
        """L* (B,1,H,W) in [0,100] at full resolution -> a*b* (B,2,H,W) at the same resolution."""
        L = L.to(self.device)
        L_low = resize(L, self._working_shape(*L.shape[-2:], working_size))
        return guided_upsample(L_low, self._generate(L_low), L)

    def _luminance(self, decoded: DecodedImage) -> Tensor:
        """(1,1,H,W) L* of the image as shown."""
        if decoded.gray is not None:
            return gray_to_l(decoded.gray.to(self.device))[None, None]
        return rgb_to_l(decoded.rgb.to(self.device))[None]

    def _compose(
        self, L: Tensor, coefficients: Tensor, limit: Tensor, alpha: Tensor | None, exif: bytes | None
    ) -> Image.Image:
        """L* (1,1,H,W) and the guided filter's maps ((4,h,w), (1,h,w)) -> the output image."""
        if L.device.type == "cpu":
            array = compose_rgb(L[0, 0], coefficients, limit)
        else:  # on a GPU the whole image at once is fastest
            ab = apply_guided(coefficients[None], limit[None], L)
            array = lab_to_rgb(torch.cat([L, ab], dim=1)[0], dtype=torch.uint8).permute(1, 2, 0).cpu().numpy()
        if alpha is not None:
            image = Image.fromarray(np.dstack([array, alpha.numpy()]), "RGBA")
        else:
            image = Image.fromarray(array, "RGB")
        # What `save_png` writes into the file: the photo's own EXIF, and what made its colors.
        image.info["Software"] = f"pix2pix-color {VERSION}"
        image.info["Description"] = f"colorized by pix2pix-color {VERSION}, model {self.model_id}"
        if exif:
            image.info["exif"] = exif
        return image

    def colorize(
        self,
        image: ImageInput,
        *,
        hints: Hints = None,
        working_size: int | None = None,
        color_strength: float | None = None,
    ) -> Image.Image:
        """Any PIL image, path or bytes -> RGB (RGBA if it had alpha) image of the same displayed size.

        The output's L* is the input's own luminance; its colors are predicted. Raises `ImageError`
        with a one-line reason for anything that is not a usable image. `hints` (a hint model only):
        points `(x, y, color)` in the photo's pixel coordinates with `color` "#rrggbb" or (r, g, b),
        or an RGBA scribble of the photo's size; bad hints raise `HintError`. `working_size` and
        `color_strength` (a factor on the model's calibrated colors: 1 as calibrated, 0 gray) override
        the colorizer's own for this call.
        """
        result = self.colorize_batch(
            [image], hints=None if hints is None else [hints], working_size=working_size, color_strength=color_strength
        )[0]
        if isinstance(result, Exception):
            raise result
        return result

    @torch.inference_mode()
    def colorize_batch(
        self,
        images: Iterable[ImageInput],
        *,
        hints: Sequence[Hints] | None = None,
        working_size: int | None = None,
        color_strength: float | None = None,
        batch_size: int = 8,
    ) -> list[Image.Image | ImageError | HintError]:
        """Colorize many images; those sharing a working shape go through the generator together.

        Returns one entry per input, in order: the colorized image, or the `ImageError` (`HintError`)
        that says why that input (its hints) could not be used, so one bad file never stops the
        others. `hints`, if given, holds one entry per image (None or [] for none), as in `colorize`.
        Inputs are decoded `batch_size` at a time, so at most that many full-resolution photos are
        held at once besides the outputs (20 photos of 50 MP would be 4 GB of L* otherwise);
        `colorize_iter` does not hold the outputs either.
        """
        options = dict(hints=hints, working_size=working_size, color_strength=color_strength, batch_size=batch_size)
        return list(self.colorize_iter(images, **options))

    def colorize_iter(
        self,
        images: Iterable[ImageInput],
        *,
        hints: Sequence[Hints] | None = None,
        working_size: int | None = None,
        color_strength: float | None = None,
        batch_size: int = 8,
    ) -> Iterator[Image.Image | ImageError | HintError]:
        """`colorize_batch` one result at a time, for callers that save each output as it comes:
        then memory stays flat whatever the number of inputs. `images` may be any iterable (a
        generator of paths, a `datasets` column): it is read `batch_size` at a time, never whole."""
        if hints is not None and (isinstance(hints, (str, bytes, Image.Image)) or not isinstance(hints, Sequence)):
            raise HintError("hints for a batch must be a list with one entry (or None) per image")
        if hints is not None and hasattr(images, "__len__") and len(hints) != len(images):
            raise HintError("hints for a batch must be a list with one entry (or None) per image")
        inputs, start = iter(images), 0
        while group := list(itertools.islice(inputs, batch_size)):
            if hints is not None and start + len(group) > len(hints):
                raise HintError("hints for a batch must be a list with one entry (or None) per image")
            photo_hints = hints[start : start + len(group)] if hints is not None else [None] * len(group)
            decoded = [self._prepare(image, h) for image, h in zip(group, photo_hints)]
            del group
            with torch.inference_mode():
                results = self._colorize_decoded(decoded, working_size, color_strength)
            del decoded
            start += len(results)
            yield from results

    def _prepare(self, image: ImageInput, hints: Hints) -> _Decoded | ImageError | HintError:
        try:
            opened = open_image(image, max_pixels=self.max_pixels)
            decoded = decode(opened)
            L = self._luminance(decoded)
            points = hint_points(hints, L.shape[-1], L.shape[-2]) if hints is not None else None
            if points is not None and not self.takes_hints:
                raise HintError('this model takes no color hints (its config.json has no "hints": true)')
        except (ImageError, HintError) as e:
            return e
        return _Decoded(L, decoded.alpha, points, exif_of(opened))

    def _colorize_decoded(
        self, inputs: list[_Decoded | Exception], working_size: int | None, color_strength: float | None
    ) -> list[Image.Image | Exception]:
        """Decoded photos -> colorized images (errors passed through), one generator call per working shape."""
        outputs: list = list(inputs)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, item in enumerate(inputs):
            if isinstance(item, _Decoded):
                groups.setdefault(self._working_shape(*item.L.shape[-2:], working_size), []).append(i)
        for size, chunk in groups.items():
            photos = [inputs[i] for i in chunk]
            L_low = torch.cat([resize(p.L, size) for p in photos])
            hint_maps = None
            if self.takes_hints and any(p.points is not None for p in photos):
                hint_maps = torch.stack([hint_channels(p.points, tuple(p.L.shape[-2:]), size) for p in photos])
                hint_maps = hint_maps.to(self.device)
            ab_low = self._generate(L_low, color_strength, hint_maps, [tuple(p.L.shape[-2:]) for p in photos])
            coefficients, limit = guided_coefficients(L_low, ab_low)  # the low-resolution half, batched
            for k, (i, p) in enumerate(zip(chunk, photos)):
                outputs[i] = self._compose(p.L, coefficients[k], limit[k], p.alpha, p.exif)
        return outputs

    def colorize_video(
        self,
        src: str | os.PathLike,
        dst: str | os.PathLike,
        *,
        hints=None,
        color_strength: float | None = None,
        working_size: int | None = None,
        smoothing: float | None = None,
        progress=False,
        batch_size: int = 8,
        max_seconds: float | None = None,
        max_pixels: int | None = None,
    ):
        """Colorize a video (anything FFmpeg reads) into an H.264 MP4 at `dst`, without flicker.

        The output has the input's frame count, timestamps, rotation and display aspect, and its audio
        unchanged; each frame keeps its own lightness. Colors are carried along the motion within a
        shot and reset at cuts (`pix2pix_color.temporal`); `smoothing` (0-1, default 0.9) is how much
        of the carried color a tracked pixel keeps per frame, 0 colorizes every frame on its own.
        `hints`: points or a scribble for the first frame, or `{frame_number: hints}`; they follow
        the content until the shot ends. `progress`: True for a progress bar in frames, or a
        callable `(done, total)`. Memory stays bounded whatever the length. Raises `VideoError` (one
        line naming the file and the reason) or `HintError`; nothing is left at `dst` on failure.
        Returns a `VideoResult` (path, frames, shots, audio handling).
        """
        from .temporal import DEFAULT_SMOOTHING
        from .video import colorize_video

        return colorize_video(
            self,
            src,
            dst,
            hints=hints,
            color_strength=color_strength,
            working_size=working_size,
            smoothing=DEFAULT_SMOOTHING if smoothing is None else smoothing,
            progress=progress,
            batch_size=batch_size,
            max_seconds=max_seconds,
            max_pixels=max_pixels,
        )


def _check_strength(value: float) -> float:
    low, high = COLOR_STRENGTH_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"color_strength must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def check_working_size(value: int | None) -> int | None:
    """None (the model's training size) or a long side in WORKING_SIZE_RANGE; anything else raises ValueError."""
    low, high = WORKING_SIZE_RANGE
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"working_size must be a whole number of pixels from {low} to {high}, got {value!r}")
    return int(value)
