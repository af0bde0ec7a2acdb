"""The loaded model and what every request shares: `Engine` holds the generator (or its ONNX Runtime
backend), the device, the defaults (working size, color strength, hint propagation, the pixel limit)
and the model's id, and runs the pipeline's network steps for one photo or a batch:

    prediction(image, ...)  -> Prediction: the network's colors on the working grid, kept
    render(prediction, s)   -> the finished full-resolution image at color strength s; no network
    confidence(prediction)  -> Confidence: where the colors are guesses
    vary(prediction, k)     -> the same prediction decoded as variation k
    colorize_iter(images)   -> finished images, batched by working grid

The request-level steps (repair, restore, reference, variations) are composed over these in
`pipeline.run`; `Colorizer` (pix2pix_color/inference.py) is the documented façade over both. Restore
and the video pipeline call the engine, never the façade: the layers call downwards only.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from pix2pix_color._version import __version__ as VERSION
from pix2pix_color.core.color import normalize_l
from pix2pix_color.core.hints import HintError, Hints, hint_channels
from pix2pix_color.core.image_processor import guided_upsample, resize
from pix2pix_color.core.propagation import REACH, SIGMA_L
from pix2pix_color.io.images import ImageError
from pix2pix_color.limits import Limits, check_variations
from pix2pix_color.models.networks import UNetGenerator
from pix2pix_color.pipeline import variations
from pix2pix_color.pipeline.backends import OnnxRuntimeBackend
from pix2pix_color.pipeline.confidence import Confidence, confidence_at
from pix2pix_color.pipeline.reference import ReferenceCells, reference_cells, reference_guides
from pix2pix_color.pipeline.steps import (
    ImageInput,
    Photo,
    PredictOptions,
    apply_strength_and_hints,
    check_strength,
    finish_batch,
    network_colors,
    predict,
    prepare,
    working_grid,
)


@dataclass
class Prediction:
    """What the network said about one photo (`Engine.prediction`): the prepared photo, its L* on
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


class Engine:
    """A generator ready to colorize, with the defaults every call starts from (see the module
    docstring). Built by `Colorizer`; a front end that keeps predictions (the app's live strength
    slider, its variations gallery) uses `colorizer.engine` directly."""

    def __init__(
        self,
        generator: UNetGenerator,
        *,
        device: str | torch.device | None = None,
        working_size: int | None = None,
        limits: Limits = Limits(),
        color_strength: float = 1.0,
        model_id: str | None = None,
        backend: OnnxRuntimeBackend | None = None,
        mirror_average: bool = False,
        hint_sigma: float = SIGMA_L,
        hint_reach: float = REACH,
    ):
        self.mirror_average = bool(mirror_average)  # test-time augmentation; see `steps.network_ab`
        self.hint_sigma, self.hint_reach = hint_sigma, hint_reach  # how hints propagate; see `propagation`
        # The working sizes measured no worse than the model's own (`steps.sizes_no_worse`), which
        # front ends offer; from_pretrained reads them from the model's working_sizes.json.
        self.offered_working_sizes = [generator.image_size]
        self.model_id = model_id or "(unnamed)"  # written into every colorized PNG
        self.backend = backend  # None: the generator runs in PyTorch
        self.device = torch.device(device) if device is not None else next(generator.parameters()).device
        if generator.training or next(generator.parameters()).device != self.device:
            # A copy, not the caller's model moved or put in eval mode (a training loop's, say).
            generator = copy.deepcopy(generator)
        self.generator = generator.to(self.device).eval()
        self.limits = limits  # what one request may ask (`pix2pix_color.limits.Limits`), enforced here
        self.working_size = limits.check_working_size(working_size) or generator.image_size
        self.color_strength = check_strength(color_strength)

    @property
    def max_pixels(self) -> int:
        return self.limits.max_pixels

    def options(
        self, working_size: int | None = None, color_strength: float | None = None, hue_sector: int | None = None
    ) -> PredictOptions:
        """This colorizer's `PredictOptions`, with a call's own working size, strength and variation
        (`hue_sector`, see `colorize_variations`) where given."""
        return PredictOptions(
            working_size=self.limits.check_working_size(working_size) or self.working_size,
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
        photo = self._prepared(image, hints)
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

    def prepare_reference(self, reference: ImageInput, *, working_size: int | None = None) -> ReferenceCells:
        """A reference photo, read, checked and described once at `working_size` (the one it will be
        used at), for a run that colorizes many photos or frames with it: pass the result as
        `reference=`. Raises `ImageError` (unreadable, or black and white) or ValueError (a model
        without a pretrained encoder) with a one-line reason."""
        options = self.options(working_size)
        grid_of = lambda shape: working_grid(self.generator, shape, options)  # noqa: E731
        return reference_cells(self.generator, reference, grid_of, self.limits.max_reference_pixels, self.device)

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
        most (`pix2pix_color.pipeline.confidence`). Reads the classification head's distribution, so it runs
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

    @torch.inference_mode()
    def variation_sectors(self, prediction: Prediction, n: int) -> list[int | None]:
        """The variations worth showing for a kept `prediction`: [None (the coloring itself), then
        n - 1 hue sectors where its network hesitates most] (`pix2pix_color.pipeline.variations`)."""
        check_variations(n)
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
        # The backend where its graph makes variations (`sector_boost`), else PyTorch for them.
        colors = network_colors(self.generator, prediction.L_work, prediction.hint_maps, options, backend=self.backend)
        return replace(prediction, colors=colors, options=options)

    def colorize_iter(
        self,
        images: Iterable[ImageInput],
        *,
        hints: Sequence[Hints] | None = None,
        working_size: int | None = None,
        color_strength: float | None = None,
        batch_size: int = 8,
    ) -> Iterator[Image.Image | ImageError | HintError]:
        """Many images -> one result per input, in order, as each is ready: the colorized image, or the
        `ImageError` (`HintError`) that says why that input (its hints) could not be used, so one bad
        file never stops the others. Those sharing a working grid go through the network together.
        `images` may be any iterable (a generator of paths, a `datasets` column): it is read
        `batch_size` at a time, never whole, so memory stays flat whatever the number of inputs.
        `hints`, if given, holds one entry per image (None or [] for none)."""
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

    def _prepared(self, image: ImageInput, hints: Hints) -> Photo:
        """`steps.prepare` within this engine's limits: the photo's pixels, and as many hint points
        as `limits.max_hints` (a scribble is one mark, whatever pixels it paints)."""
        if isinstance(hints, (list, tuple)) and len(hints) > self.limits.max_hints:
            raise HintError(f"{len(hints)} hint points: at most {self.limits.max_hints:,} are accepted")
        return prepare(image, hints, takes_hints=self.takes_hints, max_pixels=self.max_pixels, device=self.device)

    def _prepare(self, image: ImageInput, hints: Hints) -> Photo | ImageError | HintError:
        try:
            return self._prepared(image, hints)
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
