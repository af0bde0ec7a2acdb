"""`Colorizer`: the library's front door, a thin façade over the pipeline.

A photo's detail lives in its L* channel, and that is the one channel we already have. So the
generator only predicts a*b* at a modest working resolution; a*b* is upsampled smoothly to the
photo's full size and recombined with the photo's own full-resolution L*. The output has exactly
the input's size and sharpness, whatever resolution the model was trained at.

Everything a call may ask for is one `ColorizeRequest`; everything it gives is one `ColorizeOutput`
(`Colorizer.run`). The shortcuts below build the request and return its image, always an image:

    colorize(image, ...)            -> Image       run(ColorizeRequest(image, ...)).image
    colorize_variations(image, n)   -> [Image]     run(..., variations=n).variations
    restore(image, ...)             -> Image       run(..., restore=True).image
    repair(image)                   -> Image       the damage filled, nothing colored
    colorize_batch / colorize_iter  -> many photos, batched through the network
    colorize_video / restore_video  -> a film, frame by frame: run_video(VideoRequest(...))
    repair_video                    -> a film's dust and scratches filled, no color added

The loaded model and its defaults are `colorizer.engine` (`pipeline.engine.Engine`): front ends
that keep a prediction to re-render it (a live strength slider) use it directly.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from PIL import Image

from pix2pix_color.core.hints import HintError, Hints
from pix2pix_color.core.propagation import REACH, SIGMA_L
from pix2pix_color.io.images import ImageError, open_image
from pix2pix_color.limits import DEFAULT_VARIATIONS, Limits
from pix2pix_color.models.hub import ModelLoadError, offline_kwargs, resolve_file
from pix2pix_color.models.networks import UNetGenerator
from pix2pix_color.pipeline.backends import OnnxRuntimeBackend, choose_backend
from pix2pix_color.pipeline.engine import Engine
from pix2pix_color.pipeline.request import ColorizeOutput, ColorizeRequest
from pix2pix_color.pipeline.run import run
from pix2pix_color.pipeline.steps import (
    WORKING_SIZES_FILE,
    ImageInput,
    check_working_size,
    sizes_no_worse,
)

if TYPE_CHECKING:  # pragma: no cover - video needs PyAV and OpenCV, loaded only for a video
    from pix2pix_color.video.frames import VideoResult
    from pix2pix_color.video.request import VideoRequest

__all__ = ["Colorizer", "ColorizeOutput", "ColorizeRequest", "ImageInput"]

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
BUNDLED_MODEL_ID = "pix2pix-color/pix2pix-color-landscapes"  # where the bundled model is published


def default_model_path() -> Path:
    """The model folder shipped inside the package (Hub layout: config.json, model.safetensors)."""
    return DEFAULT_MODEL_DIR


class Colorizer:
    """Colorizes photos with a `UNetGenerator`, at the input's full resolution.

    >>> colorizer = Colorizer.from_pretrained("org/model")  # or a folder; no argument: the bundled model
    >>> colorizer.colorize(Image.open("old_photo.jpg")).save("colorized.png")
    >>> out = colorizer.run(ColorizeRequest("old_photo.jpg", confidence=True, variations=4))
    >>> out.image, out.confidence.map, out.variations

    The constructor's settings are the defaults every request starts from: `working_size` (the
    working grid's long side; None: the model's training size), `color_strength` (1 as calibrated),
    `limits` (what one request may ask: pixels, working size, video length, hints, reference size;
    `pix2pix_color.limits.Limits`, enforced by the library; `max_pixels` is a shorthand for its
    photo limit), `mirror_average` (test-time augmentation: the mean of the photo's colors and its
    mirror image's), `hint_sigma`/`hint_reach` (`core.propagation`).
    The caller's generator is never changed: one in training mode or on another device is copied.
    """

    def __init__(
        self,
        generator: UNetGenerator,
        *,
        device: str | torch.device | None = None,
        working_size: int | None = None,
        max_pixels: int | None = None,
        color_strength: float = 1.0,
        model_id: str | None = None,
        limits: Limits = Limits(),
        backend: OnnxRuntimeBackend | None = None,
        mirror_average: bool = False,
        hint_sigma: float = SIGMA_L,
        hint_reach: float = REACH,
    ):
        if max_pixels is not None:  # the one limit most callers set: a shorthand
            limits = replace(limits, max_pixels=max_pixels)
        self.engine = Engine(
            generator,
            device=device,
            working_size=working_size,
            limits=limits,
            color_strength=color_strength,
            model_id=model_id,
            backend=backend,
            mirror_average=mirror_average,
            hint_sigma=hint_sigma,
            hint_reach=hint_reach,
        )

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike | None = None,
        *,
        device: str | torch.device | None = None,
        working_size: int | None = None,
        max_pixels: int | None = None,
        color_strength: float = 1.0,
        backend: str = "auto",
        mirror_average: bool = False,
        limits: Limits = Limits(),
        **hub_kwargs,
    ) -> Colorizer:
        """Load a Hub repo id or local folder; with no `model`, the model bundled with the package.

        `backend`: "torch", "onnxruntime" (the model's `onnx/model.onnx` in ONNX Runtime, CPU only; needs
        `pip install onnxruntime`), or "auto": ONNX Runtime on a CPU when it is installed, the
        model ships the graph and a timed run is faster there; PyTorch otherwise. `colorizer.backend`
        says which was chosen (None: PyTorch). Other settings as the constructor's.
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
            limits=limits,
        )
        colorizer.engine.offered_working_sizes = measured_working_sizes(os.fspath(model), generator, **hub_kwargs)
        return colorizer

    # What front ends read about the loaded model (the engine holds it).
    generator = property(lambda self: self.engine.generator, doc="The `UNetGenerator`, in eval mode.")
    backend = property(lambda self: self.engine.backend, doc="The ONNX Runtime backend, or None: PyTorch.")
    device = property(lambda self: self.engine.device)
    model_id = property(lambda self: self.engine.model_id, doc="Written into every colorized PNG.")
    working_size = property(lambda self: self.engine.working_size, doc="The default working grid's long side.")
    color_strength = property(lambda self: self.engine.color_strength)
    max_pixels = property(lambda self: self.engine.max_pixels, doc="Larger inputs are refused (ImageError).")
    limits = property(lambda self: self.engine.limits, doc="What one request may ask (`limits.Limits`).")
    mirror_average = property(lambda self: self.engine.mirror_average, doc="Test-time mirror averaging.")
    takes_hints = property(lambda self: self.engine.takes_hints, doc="Whether the model reads color hints.")
    offered_working_sizes = property(
        lambda self: self.engine.offered_working_sizes,
        doc="The working sizes measured no worse than the model's own: what front ends offer.",
    )

    def with_limits(self, **stricter) -> Colorizer:
        """A colorizer on the same loaded model whose limits are these stricter ones (`Limits.stricter`:
        loosening one raises ValueError): how a front end (the app, its API, MCP) narrows what its
        visitors may ask without touching the caller's colorizer."""
        narrowed = copy.copy(self)
        narrowed.engine = copy.copy(self.engine)
        narrowed.engine.limits = self.engine.limits.stricter(**stricter)
        return narrowed

    def run(self, request: ColorizeRequest) -> ColorizeOutput:
        """The one entry point: a `ColorizeRequest` through the pipeline (`pipeline.run`: repair,
        restore, hints and reference, render, confidence, variations, as the request asks) ->
        a `ColorizeOutput`. Raises `ImageError` / `HintError` / ValueError with a one-line reason."""
        with torch.inference_mode():
            return run(self.engine, request)

    def colorize(
        self,
        image: ImageInput,
        *,
        hints: Hints = None,
        working_size: int | None = None,
        color_strength: float | None = None,
        reference: ImageInput | None = None,
        repair: bool = False,
    ) -> Image.Image:
        """Any PIL image, path or bytes -> RGB (RGBA if it had alpha) image of the same displayed size.

        The output's L* is the input's own luminance; its colors are predicted. Raises `ImageError`
        with a one-line reason for anything that is not a usable image. `hints` (a hint model only):
        points `(x, y, color)` in the photo's pixel coordinates with `color` "#rrggbb" or (r, g, b),
        or an RGBA scribble of the photo's size; bad hints raise `HintError`. `working_size` and
        `color_strength` (a factor on the model's calibrated colors: 1 as calibrated, 0 gray) override
        the colorizer's own for this call. `reference`: a color photo (any size, or one made ready by
        `engine.prepare_reference`) whose colors to take, region by region, where its regions match
        the photo's (`pix2pix_color.pipeline.reference`); one that is black and white raises
        `ImageError`; hints, if also given, take precedence where they are. `repair`: cracks and dust
        filled first. For the confidence map, variations or the damage mask as well, use `run`.
        """
        request = ColorizeRequest(
            image, hints=hints, working_size=working_size, color_strength=color_strength, reference=reference,
            repair=repair,
        )  # fmt: skip
        return self.run(request).image

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
        (`Engine.variation_sectors`). Options as `colorize`'s; each image's `info["hue_sector"]` says
        which variation it is (none on the first)."""
        request = ColorizeRequest(
            image, hints=hints, working_size=working_size, color_strength=color_strength, reference=reference,
            variations=n,
        )  # fmt: skip
        output = self.run(request)
        return list(output.variations) if n > 1 else [output.image]

    def restore(
        self, image: ImageInput, *, keep_tone: bool = False, working_size: int | None = None, repair: bool = False
    ) -> Image.Image:
        """An old photo that may still have some color -> restored RGB image of the same size.

        `repair=True` first finds and fills cracks, scratches, dust and blotches (`repair`), so no
        crack is colored; `image.info["repaired"]` then gives the share of the photo that was filled.

        A faded color photo keeps the colors that survived (its fading undone by one tone curve per
        channel, estimated from the photo's own statistics) and gets the model's colors where its
        color is gone; a black-and-white or toned (sepia) photo is colorized, with
        `keep_tone=True` keeping its tone on top. `image.info["restoration"]` says which it was
        ("color", "toned" or "gray"). See `pix2pix_color.pipeline.restore`. Raises `ImageError` as `colorize`.
        """
        request = ColorizeRequest(image, restore=True, keep_tone=keep_tone, working_size=working_size, repair=repair)
        return self.run(request).image

    def repair(self, image: ImageInput, *, return_mask: bool = False) -> Image.Image | tuple[Image.Image, Image.Image]:
        """An old print -> the same photo with its cracks, scratches, dust and small blotches found and
        filled from the photo around them; every pixel outside the damage found is returned
        unchanged (same size, mode, transparency and metadata). With `return_mask=True`, also the
        damage mask (mode "L", white where it filled). Colors nothing: restore or colorize after (or
        `run` with `repair=True`, whose output has the mask too). See `pix2pix_color.repair`.
        Raises `ImageError` as `colorize`."""
        from pix2pix_color.repair import repair_photo  # OpenCV: loaded only for a repair

        fixed = repair_photo(open_image(image, max_pixels=self.max_pixels))
        return (fixed.image, fixed.mask_image()) if return_mask else fixed.image

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
        settings = dict(hints=hints, working_size=working_size, color_strength=color_strength, batch_size=batch_size)
        return list(self.engine.colorize_iter(images, **settings))

    def colorize_iter(self, images: Iterable[ImageInput], **settings) -> Iterator[Image.Image | ImageError | HintError]:
        """`colorize_batch` one result at a time (the same `settings`), for callers that save each
        output as it comes: then memory stays flat whatever the number of inputs. `images` may be any
        iterable (a generator of paths, a `datasets` column): it is read `batch_size` at a time."""
        return self.engine.colorize_iter(images, **settings)

    def run_video(self, request: VideoRequest) -> VideoResult:
        """A `VideoRequest` (`pix2pix_color.video.request`) -> its MP4 and a `VideoResult` (path,
        frames, shots, audio handling, restore's finding); errors as `colorize_video`."""
        from pix2pix_color.video.frames import colorize_video

        return colorize_video(self.engine, request)

    def colorize_video(self, src: str | os.PathLike, dst: str | os.PathLike, **settings) -> VideoResult:
        """Colorize a video (anything FFmpeg reads) into an H.264 MP4 at `dst`, without flicker.

        The output has the input's frame count, timestamps, rotation and display aspect, and its audio
        unchanged; each frame keeps its own lightness. Colors are carried along the motion within a
        shot and reset at cuts (`pix2pix_color.video.temporal`). `settings` are `VideoRequest`'s:
        `hints` (for the first frame, or `{frame_number: hints}`), `reference`, `working_size`,
        `color_strength`, `smoothing` (default 0.9), `max_seconds`, `max_pixels`, `batch_size`,
        `progress` (True for a bar, or a callable `(done, total)`). Memory stays bounded whatever the
        length. Raises `VideoError` (one line naming the file and the reason), `HintError` or
        `ImageError` (the reference); nothing is left at `dst` on failure. Returns a `VideoResult`.
        """
        from pix2pix_color.video.request import VideoRequest

        return self.run_video(VideoRequest(src, dst, **settings))

    def restore_video(self, src: str | os.PathLike, dst: str | os.PathLike, **settings) -> VideoResult:
        """`restore` for a film: a faded color film (its fading read once from frames spread over
        it: one stock, one fading) gets it undone on every frame and keeps its surviving colors, the
        model's colors carried along the motion filling in where they are gone; a black-and-white or
        toned film is colorized (`keep_tone=True` keeps the tone). Decodes the video twice. The
        returned `VideoResult.restoration` says which it was ("color", "toned" or "gray"); other
        settings and errors as `colorize_video`."""
        from pix2pix_color.video.request import VideoRequest

        return self.run_video(VideoRequest(src, dst, restore=True, **settings))

    def repair_video(self, src: str | os.PathLike, dst: str | os.PathLike, **settings) -> VideoResult:
        """A film's dust, specks and scratches filled (`video.film_repair`), nothing else changed:
        no color added, every undamaged pixel the decoded frame's, timing and audio kept, an H.264
        MP4 at `dst`. `settings`: `VideoRequest`'s `damage_mask` (a path: the film of what was
        filled), `max_seconds`, `max_pixels`, `progress`."""
        from pix2pix_color.video.request import VideoRequest

        return self.run_video(VideoRequest(src, dst, repair=True, colorize=False, **settings))


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
