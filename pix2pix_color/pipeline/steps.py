"""The colorization pipeline as three public steps that photos, batches, video, calibration, the
ONNX checks and the benchmarks all compose:

    prepare(image, hints)                    -> Photo: L* (1,1,H,W), alpha, hint points, EXIF
    predict(net, L_work, hint_maps, shapes)  -> a*b* (B,2,h,w) on the working grid, calibrated
    finish(L_full, coefficients, limit)      -> (H,W,3) uint8 RGB at full resolution

with one frozen `PredictOptions` holding every per-call setting and the one place their ranges are
checked. `pipeline.engine.Engine` composes them for a photo or a batch, `pipeline.run` adds the
request's steps, and `video.frames` runs them frame by frame. The network is a `UNetGenerator`
or an `OnnxRuntimeBackend`: anything with `predict_ab(L, hints)` in model space.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from pix2pix_color.core import propagation
from pix2pix_color.core.color import denormalize_ab, gray_to_l, lab_to_rgb, normalize_ab, normalize_l, rgb_to_l
from pix2pix_color.core.hints import HintError, Hints, hint_points
from pix2pix_color.core.image_processor import apply_guided, compose_rgb, guided_coefficients, working_shape
from pix2pix_color.io.images import DEFAULT_MAX_PIXELS, decode, exif_of, open_image
from pix2pix_color.limits import COLOR_STRENGTH_RANGE, WORKING_SIZE_RANGE, check_strength, check_working_size  # noqa: F401
from pix2pix_color.models.networks import UNetGenerator
from pix2pix_color.pipeline import variations

ImageInput = str | os.PathLike | bytes | Image.Image


# Which working sizes a front end offers: those measured no worse than the model's own on large
# photos (photos-hq), by this margin; written beside the model by experiments/score_model.py.
WORKING_SIZES_FILE = "working_sizes.json"
WORKING_SIZE_PSNR_MARGIN = 0.2  # dB
WORKING_SIZE_HUE_MARGIN = 0.02  # hue hit rate


def sizes_no_worse(measured: dict[int, dict], auto: int) -> list[int]:
    """The working sizes whose photos-hq PSNR and hue hit rate are within the margins of `auto`'s
    (`measured`: {size: {"psnr": ..., "hue_hit": ...}}), in increasing order, `auto` included."""
    base = measured[auto]
    return sorted(
        size
        for size, m in measured.items()
        if m["psnr"] >= base["psnr"] - WORKING_SIZE_PSNR_MARGIN
        and m["hue_hit"] >= base["hue_hit"] - WORKING_SIZE_HUE_MARGIN
    )


@dataclass(frozen=True)
class PredictOptions:
    """Everything a call may set about how colors are predicted; checked once, here.

    `working_size`: the long side of the working grid (None: the model's training size).
    `color_strength`: a factor on the model's calibrated colors (1 as calibrated, 0 gray).
    `mirror_average`: average the colors predicted for the photo and its mirror image.
    `temperature`, `chroma_gain`: the decoding, when not the model's own (calibration measures
    the raw network this way; None: the model's config.json).
    `hint_sigma`, `hint_reach`: how hints propagate (`pix2pix_color.core.propagation`).
    `hue_sector`: a variation (`pix2pix_color.pipeline.variations`): the hue sector (0-7) favoured where the
    network hesitates; None: the plain decoding. A classification head only.
    """

    working_size: int | None = None
    color_strength: float = 1.0
    mirror_average: bool = False
    temperature: float | None = None
    chroma_gain: float | None = None
    hint_sigma: float = propagation.SIGMA_L
    hint_reach: float = propagation.REACH
    hue_sector: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "working_size", check_working_size(self.working_size))
        object.__setattr__(self, "color_strength", check_strength(self.color_strength))
        object.__setattr__(self, "mirror_average", bool(self.mirror_average))
        if self.temperature is not None and not 0.05 <= self.temperature <= 2:
            raise ValueError(f"temperature must be from 0.05 to 2, got {self.temperature!r}")
        if self.chroma_gain is not None and not 0 < self.chroma_gain <= 4:
            raise ValueError(f"chroma_gain must be above 0 and at most 4, got {self.chroma_gain!r}")
        variations.check_hue_sector(self.hue_sector)
        if not self.hint_sigma > 0 or not self.hint_reach > 0:
            raise ValueError("hint_sigma and hint_reach must be positive")


@dataclass
class Photo:
    """One input, ready for the network: L* (1,1,H,W) as shown, alpha (H,W) or None, hint points
    (N,5: x, y, a*, b*, weight) in its pixels or None, its EXIF bytes, and the bits per sample its
    lightness came with (16 for a 16-bit scan: the output keeps that depth)."""

    L: Tensor
    alpha: Tensor | None
    points: np.ndarray | None
    exif: bytes | None
    depth: int = 8

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.L.shape[-2:])


def prepare(
    image: ImageInput,
    hints: Hints = None,
    *,
    takes_hints: bool,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    device: torch.device | str = "cpu",
) -> Photo:
    """Decode an image (path, bytes or PIL; EXIF orientation applied) to its L*, alpha and hint
    points. Raises `ImageError` or `HintError` with a one-line reason."""
    opened = open_image(image, max_pixels=max_pixels)
    decoded = decode(opened)
    if decoded.gray is not None:
        L = gray_to_l(decoded.gray.to(device))[None, None]
    else:
        L = rgb_to_l(decoded.rgb.to(device))[None]
    points = hint_points(hints, L.shape[-1], L.shape[-2]) if hints is not None else None
    if points is not None and not takes_hints:
        raise HintError('this model takes no color hints (its config.json has no "hints": true)')
    depth = 16 if decoded.gray is not None and decoded.gray.is_floating_point() else 8
    return Photo(L, decoded.alpha, points, exif_of(opened), depth)


def working_grid(generator: UNetGenerator, shape: tuple[int, int], options: PredictOptions) -> tuple[int, int]:
    """(h, w) of the grid the network sees for a photo of `shape` (H, W): its aspect, the long side
    at the working size, both sides multiples of the network's."""
    long_side = options.working_size or generator.image_size
    return working_shape(*shape, long_side, generator.multiple)


def network_ab(
    generator: UNetGenerator, L: Tensor, hints: Tensor | None, options: PredictOptions, backend=None
) -> Tensor:
    """Model-space L (B,1,h,w) [+ hints (B,3,h,w)] -> the network's a*b* (B,2,h,w) in model space,
    from the backend (ONNX Runtime) or the generator, with the decoding `options` ask for.

    With `mirror_average` the mirrored photo goes through in the same batch and its (mirrored
    back) a*b* is averaged in: a photo's colors do not depend on its left-right orientation, so the
    two guesses differ only by the network's errors, which the mean reduces.
    """
    varies = backend is not None and getattr(backend, "varies", False) and options.temperature is None
    if options.hue_sector is not None and varies:  # a variation, in the graph (its sector_boost input)

        def run(L, hints):
            return backend.predict_ab(L, hints, sector_boost=variations.sector_boost(options.hue_sector))

    elif options.hue_sector is not None:  # a variation: the logits themselves, so PyTorch

        def run(L, hints):
            return _sector_ab(generator, L, hints, options)

    elif backend is not None and options.temperature is None:
        run = backend.predict_ab
    else:  # another temperature than the one folded into the ONNX graph: PyTorch

        def run(L, hints):
            return generator.predict_ab(L, hints, temperature=options.temperature)

    if not options.mirror_average:
        return run(L, hints).float()
    both = run(torch.cat([L, L.flip(-1)]), None if hints is None else torch.cat([hints, hints.flip(-1)]))
    plain, mirrored = both.float().chunk(2)
    return (plain + mirrored.flip(-1)) / 2


def _sector_ab(generator: UNetGenerator, L: Tensor, hints: Tensor | None, options: PredictOptions) -> Tensor:
    """Model-space L (B,1,h,w) -> a*b* (B,2,h,w) in model space, decoded with `options.hue_sector` favoured."""
    if generator.head != "classification":
        raise ValueError("variations need a classification head: a regression model predicts one color")
    temperature = generator.temperature if options.temperature is None else options.temperature
    ab = variations.decode_with_sector(generator(L, hints), temperature, options.hue_sector)
    return F.interpolate(normalize_ab(ab), size=tuple(L.shape[-2:]), mode="bilinear", align_corners=False)


def network_colors(
    generator: UNetGenerator,
    L_work: Tensor,
    hint_maps: Tensor | None = None,
    options: PredictOptions = PredictOptions(),
    *,
    backend=None,
) -> Tensor:
    """L* (B,1,h,w) in [0,100] on the working grid [+ hint channels (B,3,h,w)] -> the network's
    calibrated a*b* (B,2,h,w) at color strength 1: its decoding times its `chroma_gain`."""
    gain = generator.chroma_gain if options.chroma_gain is None else options.chroma_gain
    return (
        denormalize_ab(network_ab(generator, normalize_l(L_work), hint_maps, options, backend).to(L_work.device)) * gain
    )


def apply_strength_and_hints(
    ab: Tensor,
    L_work: Tensor,
    hint_maps: Tensor | None = None,
    photo_shapes: Sequence[tuple[int, int]] | None = None,
    options: PredictOptions = PredictOptions(),
    *,
    guides: Tensor | None = None,
) -> Tensor:
    """`network_colors`' a*b* (B,2,h,w) -> the colors shown: times the color strength, then a
    reference photo's `guides` (weighted hint channels, `pix2pix_color.pipeline.reference`) and then the
    user's hints pulled in along the photo's edges (`pix2pix_color.core.propagation`, solved on a grid of
    each photo's own shape, `photo_shapes`). The hints come last, so a click spreads over its region
    as it would without a reference, and wins there. No network runs: the app applies a new strength
    to a kept prediction with this alone."""
    ab = ab * options.color_strength
    shapes = photo_shapes or [None] * len(ab)
    for maps in (guides, hint_maps):
        if maps is None:
            continue
        given = torch.cat([denormalize_ab(maps[:, :2].float()), maps[:, 2:3].float()], dim=1)
        ab = torch.stack(
            [
                propagation.propagate_hints(
                    L_work[i], ab[i], given[i], photo_shape=shapes[i], sigma=options.hint_sigma,
                    reach=options.hint_reach,
                )
                for i in range(len(ab))
            ]
        )  # fmt: skip
    return ab


def predict(
    generator: UNetGenerator,
    L_work: Tensor,
    hint_maps: Tensor | None = None,
    photo_shapes: Sequence[tuple[int, int]] | None = None,
    options: PredictOptions = PredictOptions(),
    *,
    backend=None,
    guides: Tensor | None = None,
) -> Tensor:
    """L* (B,1,h,w) in [0,100] on the working grid [+ hint channels (B,3,h,w)] -> a*b* (B,2,h,w):
    `network_colors` (which sees the hints, never the `guides`), then `apply_strength_and_hints`."""
    ab = network_colors(generator, L_work, hint_maps, options, backend=backend)
    return apply_strength_and_hints(ab, L_work, hint_maps, photo_shapes, options, guides=guides)


def finish(L_full: Tensor, coefficients: Tensor, limit: Tensor, depth: int = 8) -> np.ndarray:
    """L* (1,1,H,W) and the guided filter's maps of its working grid ((4,h,w), (1,h,w): see
    `image_processor.guided_coefficients`, batched over photos) -> (H,W,3) sRGB, uint8 (uint16 for
    `depth` 16): the predicted colors upsampled along the photo's own edges and recombined with its
    full-resolution L*.

    The device decides how: on the CPU in cache-sized strips (`compose_rgb`), on a GPU the whole
    image at once (fastest there)."""
    if L_full.device.type == "cpu":
        return compose_rgb(L_full[0, 0], coefficients, limit, depth=depth)
    ab = apply_guided(coefficients[None], limit[None], L_full)
    lab = torch.cat([L_full, ab], dim=1)[0]
    if depth == 16:
        return (lab_to_rgb(lab) * 65535).round_().to(torch.int32).permute(1, 2, 0).cpu().numpy().astype(np.uint16)
    return lab_to_rgb(lab, dtype=torch.uint8).permute(1, 2, 0).cpu().numpy()


def finish_batch(L_fulls: Sequence[Tensor], L_work: Tensor, ab_work: Tensor, depths: Sequence[int] | None = None):
    """`finish` for photos that share a working grid: the guided filter's small half in one batched
    call, then each photo's full-resolution half, one at a time (yields (H,W,3) arrays, uint8 or
    uint16 by each photo's `depths`, default 8)."""
    coefficients, limit = guided_coefficients(L_work, ab_work)
    for k, L_full in enumerate(L_fulls):
        yield finish(L_full, coefficients[k], limit[k], depth=depths[k] if depths else 8)
