"""Full-resolution colorization: chroma predicted at a working resolution, luminance kept as is.

A photo's detail lives in its L* channel, and that is the one channel we already have. So the
generator only predicts a*b* at a modest working resolution; a*b* is upsampled smoothly to the
photo's full size and recombined with the photo's own full-resolution L*. The output has exactly
the input's size and sharpness, whatever resolution the model was trained at.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from . import variations
from ._version import __version__ as VERSION
from .backends import OnnxRuntimeBackend, choose_backend
from .color import normalize_l
from .confidence import Confidence, confidence_at
from .hints import HintError, Hints, hint_channels
from .hub import ModelLoadError, offline_kwargs, resolve_file
from .image_processor import guided_upsample, resize
from .images import DEFAULT_MAX_PIXELS, ImageError
from .limits import DEFAULT_VARIATIONS, VARIATIONS_MAX
from .models import UNetGenerator
from .pipeline import (
    COLOR_STRENGTH_RANGE,
    WORKING_SIZE_RANGE,
    WORKING_SIZES_FILE,
    ImageInput,
    Photo,
    PredictOptions,
    apply_strength_and_hints,
    check_strength,
    check_working_size,
    finish_batch,
    network_colors,
    predict,
    prepare,
    sizes_no_worse,
    working_grid,
)
from .propagation import REACH, SIGMA_L
from .reference import ReferenceCells, reference_cells, reference_guides

__all__ = ["COLOR_STRENGTH_RANGE", "WORKING_SIZE_RANGE", "Colorizer", "ImageInput", "check_working_size"]

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
BUNDLED_MODEL_ID = "pix2pix-color/pix2pix-color-landscapes"  # where the bundled model is published


def default_model_path() -> Path:
    """The model folder shipped inside the package (Hub layout: config.json, model.safetensors)."""
    return DEFAULT_MODEL_DIR


@dataclass
class Prediction:
    """What the network said about one photo (`Colorizer.prediction`): the prepared photo, its L* on
    the working grid, the network's calibrated colors there at strength 1, its hint channels and
    the options used."""

    photo: Photo
    L_work: Tensor
    colors: Tensor
    hint_maps: Tensor | None
    options: PredictOptions
    # A reference photo's colors as weighted hint channels (1,3,h,w): propagated like hints, never
    # shown to the network (it was trained on a user's few sure points, not on dense guesses).
    guides: Tensor | None = None

    def shown_colors(self, options: PredictOptions) -> Tensor:
        """The a*b* shown on the working grid (1,2,h,w) at `options`' color strength."""
        return apply_strength_and_hints(
            self.colors, self.L_work, self.hint_maps, [self.photo.shape], options, guides=self.guides
        )


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
        hint_sigma: float = SIGMA_L,
        hint_reach: float = REACH,
    ):
        self.mirror_average = bool(mirror_average)  # test-time augmentation; see `pipeline.network_ab`
        self.hint_sigma, self.hint_reach = hint_sigma, hint_reach  # how hints propagate; see `propagation`
        # The working sizes measured no worse than the model's own (`pipeline.sizes_no_worse`), which
        # front ends offer; from_pretrained reads them from the model's working_sizes.json.
        self.offered_working_sizes = [generator.image_size]
        self.model_id = model_id or "(unnamed)"  # written into every colorized PNG
        self.backend = backend  # None: the generator runs in PyTorch
        self.device = torch.device(device) if device is not None else next(generator.parameters()).device
        if generator.training or next(generator.parameters()).device != self.device:
            # A copy, not the caller's model moved or put in eval mode (a training loop's, say).
            generator = copy.deepcopy(generator)
        self.generator = generator.to(self.device).eval()
        self.working_size = check_working_size(working_size) or generator.image_size
        self.max_pixels = max_pixels
        self.color_strength = check_strength(color_strength)

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
        `pip install onnxruntime`), or "auto": ONNX Runtime on a CPU when it is installed, the
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
        hub_kwargs = offline_kwargs(os.fspath(model), hub_kwargs)  # without a network: the cache, at once
        generator = UNetGenerator.from_pretrained(os.fspath(model), **hub_kwargs)
        model_id = f"{BUNDLED_MODEL_ID} (bundled with the package)" if bundled else os.fspath(model)
        target = torch.device(device) if device is not None else torch.device("cpu")
        size = check_working_size(working_size) or generator.image_size
        runtime = choose_backend(backend, os.fspath(model), generator.eval(), target, size, **hub_kwargs)
        colorizer = cls(
            generator,
            device=device,
            working_size=working_size,
            max_pixels=max_pixels,
            color_strength=color_strength,
            model_id=model_id,
            backend=runtime,
            mirror_average=mirror_average,
        )
        colorizer.offered_working_sizes = measured_working_sizes(os.fspath(model), generator, **hub_kwargs)
        return colorizer

    def options(
        self, working_size: int | None = None, color_strength: float | None = None, hue_sector: int | None = None
    ) -> PredictOptions:
        """This colorizer's `PredictOptions`, with a call's own working size, strength and variation
        (`hue_sector`, see `colorize_variations`) where given."""
        return PredictOptions(
            working_size=working_size or self.working_size,
            color_strength=self.color_strength if color_strength is None else color_strength,
            mirror_average=self.mirror_average,
            hint_sigma=self.hint_sigma,
            hint_reach=self.hint_reach,
            hue_sector=hue_sector,
        )

    @property
    def takes_hints(self) -> bool:
        return self.generator.hints

    @torch.inference_mode()
    def predict_ab(self, L: Tensor, working_size: int | None = None) -> Tensor:
        """L* (B,1,H,W) in [0,100] at full resolution -> a*b* (B,2,H,W) at the same resolution."""
        options = self.options(working_size)
        L = L.to(self.device)
        L_low = resize(L, working_grid(self.generator, tuple(L.shape[-2:]), options))
        return guided_upsample(L_low, predict(self.generator, L_low, options=options, backend=self.backend), L)

    @torch.inference_mode()
    def prediction(
        self,
        image: ImageInput,
        *,
        hints: Hints = None,
        working_size: int | None = None,
        reference: ImageInput | None = None,
        hue_sector: int | None = None,
    ) -> Prediction:
        """The network's part of colorizing one photo, kept: `render` turns it into the image at any
        color strength without running the network again (the app's live strength slider). Raises
        `ImageError` / `HintError` as `colorize` does. `hue_sector`: one of `variation_sectors`'
        (None: the first coloring)."""
        options = self.options(working_size, hue_sector=hue_sector)
        photo = prepare(image, hints, takes_hints=self.takes_hints, max_pixels=self.max_pixels, device=self.device)
        grid = working_grid(self.generator, photo.shape, options)
        L_work = resize(photo.L, grid)
        guides = None
        if reference is not None:
            if not isinstance(reference, ReferenceCells):
                reference = self.prepare_reference(reference, working_size=working_size)
            guides = reference_guides(self.generator, L_work, reference)
        hint_maps = None
        if photo.points is not None:
            hint_maps = hint_channels(photo.points, photo.shape, grid)[None].to(self.device)
        colors = network_colors(self.generator, L_work, hint_maps, options, backend=self.backend)
        return Prediction(photo, L_work, colors, hint_maps, options, guides)

    @torch.inference_mode()
    def variation_sectors(self, prediction: Prediction, n: int) -> list[int | None]:
        """The variations worth showing for a kept `prediction`: [None (the coloring itself), then
        n - 1 hue sectors where its network hesitates most] (`pix2pix_color.variations`)."""
        if not isinstance(n, int) or not 1 <= n <= VARIATIONS_MAX:
            raise ValueError(f"the number of variations must be a whole number from 1 to {VARIATIONS_MAX}, got {n!r}")
        if self.generator.head != "classification":
            raise ValueError("this model has a regression head: it predicts one color, with no alternatives")
        logits = self.generator(normalize_l(prediction.L_work), prediction.hint_maps)
        temperature = (
            self.generator.temperature if prediction.options.temperature is None else prediction.options.temperature
        )
        return [None, *variations.alternative_sectors(logits, temperature, n - 1)]

    @torch.inference_mode()
    def vary(self, prediction: Prediction, hue_sector: int | None) -> Prediction:
        """A kept `prediction` decoded as the variation favouring `hue_sector` (None: as colorized);
        the network runs once more, the photo is not read again."""
        options = replace(prediction.options, hue_sector=hue_sector)
        colors = network_colors(
            self.generator, prediction.L_work, prediction.hint_maps, options,
            backend=None if hue_sector is not None else self.backend,
        )  # fmt: skip
        return replace(prediction, colors=colors, options=options)

    def colorize_variations(
        self,
        image: ImageInput,
        n: int = DEFAULT_VARIATIONS,
        *,
        hints: Hints = None,
        working_size: int | None = None,
        color_strength: float | None = None,
        reference: ImageInput | None = None,
    ) -> list[Image.Image]:
        """`n` colorings of one photo that differ where a gray value cannot decide (a cup red or blue,
        a sky by day or at dusk), each a coherent photo: the first is exactly `colorize`'s result, the
        others favour, photo-wide, the hue sectors the network hesitated towards most
        (`variation_sectors`). Options as `colorize`'s; each image's `info["hue_sector"]` says which
        variation it is (none on the first)."""
        prediction = self.prediction(image, hints=hints, working_size=working_size, reference=reference)
        images = [self.render(prediction, color_strength)]  # what `colorize` returns, byte for byte (tested)
        for sector in self.variation_sectors(prediction, n)[1:]:
            varied = self.render(self.vary(prediction, sector), color_strength)
            varied.info["hue_sector"] = sector
            images.append(varied)
        return images

    def prepare_reference(self, reference: ImageInput, *, working_size: int | None = None) -> ReferenceCells:
        """A reference photo, read, checked and described once at `working_size` (the one it will be
        used at), for a run that colorizes many photos or frames with it: pass the result as
        `reference=`. Raises `ImageError` (unreadable, or black and white) or ValueError (a model
        without a pretrained encoder) with a one-line reason."""
        options = self.options(working_size)
        grid_of = lambda shape: working_grid(self.generator, shape, options)  # noqa: E731
        return reference_cells(self.generator, reference, grid_of, self.max_pixels, self.device)

    @torch.inference_mode()
    def render(self, prediction: Prediction, color_strength: float | None = None) -> Image.Image:
        """A kept `prediction` as the finished image at `color_strength` (default: the colorizer's):
        the strength, the hints along the photo's edges and the full-resolution finish; no network."""
        options = replace(
            prediction.options, color_strength=self.color_strength if color_strength is None else color_strength
        )
        ab = prediction.shown_colors(options)
        (array,) = finish_batch([prediction.photo.L], prediction.L_work, ab, [prediction.photo.depth])
        return self.finish_image(array, prediction.photo)

    @torch.inference_mode()
    def confidence(self, prediction: Prediction, color_strength: float | None = None) -> Confidence:
        """Where a kept `prediction`'s colors (at `color_strength`, with its hints) are guesses: the
        per-pixel probability that the hue shown is right, and the points where one hint would help
        most (`pix2pix_color.confidence`). Reads the classification head's distribution, so it runs
        the network once more, in PyTorch; a regression model has no distribution and raises ValueError."""
        if self.generator.head != "classification":
            raise ValueError("this model has a regression head: it predicts one color, with no spread to read")
        options = replace(
            prediction.options, color_strength=self.color_strength if color_strength is None else color_strength
        )
        logits = self.generator(normalize_l(prediction.L_work), prediction.hint_maps)
        ab = prediction.shown_colors(options)
        temperature = self.generator.temperature if options.temperature is None else options.temperature
        return confidence_at(logits, temperature, ab, prediction.L_work, prediction.photo.shape)

    def colorize(
        self,
        image: ImageInput,
        *,
        hints: Hints = None,
        working_size: int | None = None,
        color_strength: float | None = None,
        return_confidence: bool = False,
        reference: ImageInput | None = None,
    ) -> Image.Image | tuple[Image.Image, Confidence]:
        """Any PIL image, path or bytes -> RGB (RGBA if it had alpha) image of the same displayed size.

        The output's L* is the input's own luminance; its colors are predicted. Raises `ImageError`
        with a one-line reason for anything that is not a usable image. `hints` (a hint model only):
        points `(x, y, color)` in the photo's pixel coordinates with `color` "#rrggbb" or (r, g, b),
        or an RGBA scribble of the photo's size; bad hints raise `HintError`. `working_size` and
        `color_strength` (a factor on the model's calibrated colors: 1 as calibrated, 0 gray) override
        the colorizer's own for this call. `return_confidence=True` returns `(image, Confidence)`:
        where the colors are guesses, and where a hint would help most (see `confidence`).
        `reference`: a color photo (any size, or one made ready by `prepare_reference`) whose colors to
        take, region by region, where its regions match the photo's (`pix2pix_color.reference`); one
        that is black and white raises `ImageError`; hints, if also given, take precedence where they are.
        """
        if return_confidence or reference is not None:
            prediction = self.prediction(image, hints=hints, working_size=working_size, reference=reference)
            image = self.render(prediction, color_strength)
            return (image, self.confidence(prediction, color_strength)) if return_confidence else image
        result = self.colorize_batch(
            [image], hints=None if hints is None else [hints], working_size=working_size, color_strength=color_strength
        )[0]
        if isinstance(result, Exception):
            raise result
        return result

    @torch.inference_mode()
    def restore(
        self,
        image: ImageInput,
        *,
        keep_tone: bool = False,
        working_size: int | None = None,
        return_confidence: bool = False,
        repair: bool = False,
    ) -> Image.Image | tuple[Image.Image, Confidence]:
        """An old photo that may still have some color -> restored RGB image of the same size.

        `repair=True` first finds and fills cracks, scratches, dust and blotches (`repair`), so no
        crack is colored; `image.info["repaired"]` then gives the share of the photo that was filled.

        A faded color photo keeps the colors that survived (its fading undone by one tone curve per
        channel, estimated from the photo's own statistics) and gets the model's colors where its
        color is gone; a black-and-white or toned (sepia) photo is colorized, with
        `keep_tone=True` keeping its tone on top. `image.info["restoration"]` says which it was
        ("color", "toned" or "gray"). See `pix2pix_color.restore`. Raises `ImageError` as `colorize`.
        """
        from .restore import restore_photo

        fixed = self._repaired(image) if repair else None
        restored = restore_photo(
            self, fixed.image if fixed else image, keep_tone=keep_tone, working_size=working_size,
            confidence=return_confidence,
        )  # fmt: skip
        restored.image.info["restoration"] = restored.assessment.kind
        if fixed is not None:
            restored.image.info["repaired"] = f"{fixed.damaged_share:.4f}"
        if restored.assessment.kind == "color":
            restored.image.info["Description"] = f"restored by pix2pix-color {VERSION}, model {self.model_id}"
        return (restored.image, restored.confidence) if return_confidence else restored.image

    def repair(self, image: ImageInput, *, return_mask: bool = False) -> Image.Image | tuple[Image.Image, Image.Image]:
        """An old print -> the same photo with its cracks, scratches, dust and small blotches found and
        filled from the photo around them; every pixel outside the damage found is returned
        unchanged (same size, mode, transparency and metadata). With `return_mask=True`, also the
        damage mask (mode "L", white where it filled). Colors nothing: restore or colorize after.
        See `pix2pix_color.repair`. Raises `ImageError` as `colorize`."""
        fixed = self._repaired(image)
        return (fixed.image, fixed.mask_image()) if return_mask else fixed.image

    def _repaired(self, image: ImageInput):
        from .images import open_image
        from .repair import repair_photo

        opened = open_image(image, max_pixels=self.max_pixels)
        return repair_photo(opened)

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

    def _prepare(self, image: ImageInput, hints: Hints) -> Photo | ImageError | HintError:
        try:
            return prepare(image, hints, takes_hints=self.takes_hints, max_pixels=self.max_pixels, device=self.device)
        except (ImageError, HintError) as e:
            return e

    def _colorize_decoded(
        self, inputs: list[Photo | Exception], working_size: int | None, color_strength: float | None
    ) -> list[Image.Image | Exception]:
        """Prepared photos -> colorized images (errors passed through), one network call per working grid."""
        options = self.options(working_size, color_strength)
        outputs: list = list(inputs)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, item in enumerate(inputs):
            if isinstance(item, Photo):
                groups.setdefault(working_grid(self.generator, item.shape, options), []).append(i)
        for size, chunk in groups.items():
            photos = [inputs[i] for i in chunk]
            L_low = torch.cat([resize(p.L, size) for p in photos])
            hint_maps = None
            if self.takes_hints and any(p.points is not None for p in photos):
                hint_maps = torch.stack([hint_channels(p.points, p.shape, size) for p in photos]).to(self.device)
            ab_low = predict(self.generator, L_low, hint_maps, [p.shape for p in photos], options, backend=self.backend)
            for i, p, array in zip(
                chunk, photos, finish_batch([p.L for p in photos], L_low, ab_low, [p.depth for p in photos])
            ):
                outputs[i] = self.finish_image(array, p)
        return outputs

    def finish_image(self, array: np.ndarray, photo: Photo) -> Image.Image:
        """The finished (H,W,3) pixels -> the output image, with the input's alpha and EXIF and what
        made its colors (what `save_png` writes into the file).

        16-bit pixels (a 16-bit scan's, `Photo.depth`): PIL holds no 16-bit color image, so the image
        is their 8-bit rounding and `image.info["rgb16"]` keeps them, (H,W,3) or with alpha (H,W,4)
        uint16; `save_png` writes those, a 16-bit PNG with the photo's lightness at its full depth."""
        deep = None
        if array.dtype == np.uint16:
            deep = array if photo.alpha is None else np.dstack([array, photo.alpha.numpy().astype(np.uint16) * 257])
            array = ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
        if photo.alpha is not None:
            image = Image.fromarray(np.dstack([array, photo.alpha.numpy()]), "RGBA")
        else:
            image = Image.fromarray(array, "RGB")
        if deep is not None:
            image.info["rgb16"] = deep
        image.info["Software"] = f"pix2pix-color {VERSION}"
        image.info["Description"] = f"colorized by pix2pix-color {VERSION}, model {self.model_id}"
        if photo.exif:
            image.info["exif"] = photo.exif
        return image

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
        reference: ImageInput | None = None,
    ):
        """Colorize a video (anything FFmpeg reads) into an H.264 MP4 at `dst`, without flicker.

        The output has the input's frame count, timestamps, rotation and display aspect, and its audio
        unchanged; each frame keeps its own lightness. Colors are carried along the motion within a
        shot and reset at cuts (`pix2pix_color.temporal`); `smoothing` (0-1, default 0.9) is how much
        of the carried color a tracked pixel keeps per frame, 0 colorizes every frame on its own.
        `hints`: points or a scribble for the first frame, or `{frame_number: hints}`; they follow
        the content until the shot ends. `reference`: a color photo whose colors every frame takes
        where its regions match (as `colorize`'s; one for the whole video: for a film of several
        scenes, colorize each shot with its own). `progress`: True for a progress bar in frames, or a
        callable `(done, total)`. Memory stays bounded whatever the length. Raises `VideoError` (one
        line naming the file and the reason), `HintError` or `ImageError` (the reference); nothing
        is left at `dst` on failure. Returns a `VideoResult` (path, frames, shots, audio handling).
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
            reference=reference,
        )

    def restore_video(
        self,
        src: str | os.PathLike,
        dst: str | os.PathLike,
        *,
        keep_tone: bool = False,
        working_size: int | None = None,
        smoothing: float | None = None,
        progress=False,
        batch_size: int = 8,
        max_seconds: float | None = None,
        max_pixels: int | None = None,
    ):
        """`restore` for a film: a faded color film (its fading read once from frames spread over
        it: one stock, one fading) gets it undone on every frame and keeps its surviving colors, the
        model's colors carried along the motion filling in where they are gone; a black-and-white or
        toned film is colorized (`keep_tone` keeps the tone). Decodes the video twice. The returned
        `VideoResult.restoration` says which it was ("color", "toned" or "gray"); errors as
        `colorize_video`."""
        from .temporal import DEFAULT_SMOOTHING
        from .video import colorize_video

        return colorize_video(
            self,
            src,
            dst,
            working_size=working_size,
            smoothing=DEFAULT_SMOOTHING if smoothing is None else smoothing,
            progress=progress,
            batch_size=batch_size,
            max_seconds=max_seconds,
            max_pixels=max_pixels,
            restore=True,
            keep_tone=keep_tone,
        )


def measured_working_sizes(model: str, generator: UNetGenerator, **hub_kwargs) -> list[int]:
    """The sizes a model's working_sizes.json says measured no worse than its own (the rule is
    re-applied to the numbers, so a hand edit cannot offer a worse size); its own size alone when
    the model has no such file."""
    try:
        path = resolve_file(model, WORKING_SIZES_FILE, **hub_kwargs)
        measured = {int(k): v for k, v in json.loads(path.read_text())["photos_hq"].items()}
        return sizes_no_worse(measured, generator.image_size)
    except (ModelLoadError, OSError, ValueError, KeyError, TypeError):
        return [generator.image_size]
