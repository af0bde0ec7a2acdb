"""Full-resolution colorization: chroma predicted at a working resolution, luminance kept as is.

A photo's detail lives in its L* channel, and that is the one channel we already have. So the
generator only predicts a*b* at a modest working resolution; a*b* is upsampled smoothly to the
photo's full size and recombined with the photo's own full-resolution L*. The output has exactly
the input's size and sharpness, whatever resolution the model was trained at.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .color import denormalize_ab, gray_to_l, lab_to_rgb, normalize_l, rgb_to_l
from .hints import HintError, Hints, hint_channels, hint_points
from .hub import ModelLoadError
from .images import DEFAULT_MAX_PIXELS, DecodedImage, decode, open_image
from .models import UNetGenerator

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
ImageInput = str | os.PathLike | bytes | Image.Image


def default_model_path() -> Path:
    """The model folder shipped inside the package (Hub layout: config.json, model.safetensors)."""
    return DEFAULT_MODEL_DIR


def working_shape(height: int, width: int, long_side: int, multiple: int) -> tuple[int, int]:
    """Aspect-preserving (h, w) with the long side near `long_side`, both multiples of `multiple`."""

    def snap(x: float) -> int:
        return max(multiple, int(round(x / multiple)) * multiple)

    long_px = snap(long_side)
    if height >= width:
        return long_px, snap(long_px * width / height)
    return snap(long_px * height / width), long_px


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
        chroma_gain: float | None = None,
    ):
        self.device = torch.device(device) if device is not None else next(generator.parameters()).device
        self.generator = generator.to(self.device).eval()
        self.working_size = working_size or generator.image_size
        self.max_pixels = max_pixels
        self.chroma_gain = generator.chroma_gain if chroma_gain is None else float(chroma_gain)
        if not 0 <= self.chroma_gain <= 4:
            raise ValueError(f"chroma_gain must be in [0, 4], got {chroma_gain}")

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike | None = None,
        *,
        device: str | torch.device | None = None,
        working_size: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        chroma_gain: float | None = None,
        **hub_kwargs,
    ) -> Colorizer:
        """Load a Hub repo id or local folder; with no `model`, the model bundled with the package."""
        if model is None:
            model = default_model_path()
            if not (Path(model) / "config.json").is_file():
                raise ModelLoadError(
                    "no default model is bundled with this installation: pass a model folder or Hub repo id"
                )
        generator = UNetGenerator.from_pretrained(os.fspath(model), **hub_kwargs)
        return cls(generator, device=device, working_size=working_size, max_pixels=max_pixels, chroma_gain=chroma_gain)

    def _working_shape(self, height: int, width: int, working_size: int | None) -> tuple[int, int]:
        return working_shape(height, width, working_size or self.working_size, self.generator.multiple)

    @property
    def takes_hints(self) -> bool:
        return self.generator.hints

    def _generate(self, L_work: Tensor, chroma_gain: float | None = None, hints: Tensor | None = None) -> Tensor:
        """L* (B,1,h,w) [+ hint channels (B,3,h,w)] at working resolution -> a*b* (B,2,h,w), with the chroma gain.

        The gain scales the model's own guesses; where the user gave a color it is kept as given.
        """
        gain = self.chroma_gain if chroma_gain is None else chroma_gain
        ab = denormalize_ab(self.generator.predict_ab(normalize_l(L_work), hints).float())
        if hints is None or gain == 1.0:
            return ab * gain
        # Near a hint the output should match it: no gain there, full gain a few pixels away.
        near = F.max_pool2d(hints[:, 2:3].float(), 5, stride=1, padding=2)
        return ab * (gain + (1.0 - gain) * near)

    @torch.inference_mode()
    def predict_ab(self, L: Tensor, working_size: int | None = None) -> Tensor:
        """L* (B,1,H,W) in [0,100] at full resolution -> a*b* (B,2,H,W) at the same resolution."""
        L = L.to(self.device)
        L_low = _resize(L, self._working_shape(*L.shape[-2:], working_size))
        return guided_upsample(L_low, self._generate(L_low), L)

    def _luminance(self, decoded: DecodedImage) -> Tensor:
        """(1,1,H,W) L* of the image as shown."""
        if decoded.gray is not None:
            return gray_to_l(decoded.gray.to(self.device))[None, None]
        return rgb_to_l(decoded.rgb.to(self.device))[None]

    def _compose(self, L: Tensor, ab: Tensor, alpha: Tensor | None) -> Image.Image:
        rgb = lab_to_rgb(torch.cat([L, ab], dim=1)[0], dtype=torch.uint8)
        array = rgb.permute(1, 2, 0).cpu().numpy()
        if alpha is not None:
            return Image.fromarray(np.dstack([array, alpha.numpy()]), "RGBA")
        return Image.fromarray(array, "RGB")

    def colorize(
        self,
        image: ImageInput,
        *,
        hints: Hints = None,
        working_size: int | None = None,
        chroma_gain: float | None = None,
    ) -> Image.Image:
        """Any PIL image, path or bytes -> RGB (RGBA if it had alpha) image of the same displayed size.

        The output's L* is the input's own luminance; its colors are predicted. Raises `ImageError`
        with a one-line reason for anything that is not a usable image. `hints` (a hint model only):
        points `(x, y, color)` in the photo's pixel coordinates with `color` "#rrggbb" or (r, g, b),
        or an RGBA scribble of the photo's size; bad hints raise `HintError`. `working_size` and
        `chroma_gain` override the colorizer's own for this call.
        """
        return self.colorize_batch(
            [image], hints=None if hints is None else [hints], working_size=working_size, chroma_gain=chroma_gain
        )[0]

    @torch.inference_mode()
    def colorize_batch(
        self,
        images: Iterable[ImageInput],
        *,
        hints: Sequence[Hints] | None = None,
        working_size: int | None = None,
        chroma_gain: float | None = None,
        batch_size: int = 8,
    ) -> list[Image.Image]:
        """Colorize many images; those sharing a working shape go through the generator together.

        `hints`, if given, holds one entry per image (None or [] for none), as in `colorize`.
        """
        decoded = [decode(open_image(image, max_pixels=self.max_pixels)) for image in images]
        luminance = [self._luminance(d) for d in decoded]
        points = self._hint_points(hints, luminance)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, L in enumerate(luminance):
            groups.setdefault(self._working_shape(*L.shape[-2:], working_size), []).append(i)
        outputs: list[Image.Image | None] = [None] * len(decoded)
        for size, indices in groups.items():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                L_low = torch.cat([_resize(luminance[i], size) for i in chunk])
                hint_maps = None
                if self.takes_hints and any(points[i] is not None for i in chunk):
                    hint_maps = torch.stack(
                        [hint_channels(points[i], tuple(luminance[i].shape[-2:]), size) for i in chunk]
                    ).to(self.device)
                ab_low = self._generate(L_low, chroma_gain, hint_maps)
                for k, i in enumerate(chunk):
                    ab = guided_upsample(L_low[k : k + 1], ab_low[k : k + 1], luminance[i])
                    outputs[i] = self._compose(luminance[i], ab, decoded[i].alpha)
        return outputs  # type: ignore[return-value]

    def _hint_points(self, hints: Sequence[Hints] | None, luminance: list[Tensor]) -> list:
        if hints is None:
            return [None] * len(luminance)
        if isinstance(hints, (str, bytes, Image.Image)) or len(hints) != len(luminance):
            raise HintError("hints for a batch must be a list with one entry (or None) per image")
        points = [hint_points(h, L.shape[-1], L.shape[-2]) for h, L in zip(hints, luminance)]
        if not self.takes_hints and any(p is not None for p in points):
            raise HintError('this model takes no color hints (its config.json has no "hints": true)')
        return points


def guided_upsample(L_low: Tensor, ab_low: Tensor, L_full: Tensor, *, radius: int = 2, eps: float = 1e-3) -> Tensor:
    """Fast guided filter (He & Sun 2015): a*b* (B,2,h,w) -> (B,2,H,W), edges following L* (B,1,H,W).

    Plain bilinear upsampling of chroma predicted at 128-256 px smears color across sharp edges of a
    large photo (a blue halo of sky over a dark ridge). Here a*b* is modelled, in each small window of
    the working resolution, as a linear function of L*; the coefficients are smooth, so they are
    upsampled instead, and applied to the full-resolution L*: color edges land where the photo's
    own edges are. All box filtering happens at the working resolution; at full resolution it costs
    one bilinear resize of 4 channels and a multiply-add.
    """

    def box(x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)

    guide = L_low / 100.0
    mean_guide = box(guide)
    var_guide = box(guide * guide) - mean_guide * mean_guide
    mean_ab = box(ab_low)
    cov = box(guide * ab_low) - mean_guide * mean_ab
    slope = cov / (var_guide + eps)
    offset = mean_ab - slope * mean_guide
    coefficients = _resize(torch.cat([box(slope), box(offset)], dim=1), L_full.shape[-2:])
    slope_full, offset_full = coefficients.split(ab_low.shape[1], dim=1)
    return slope_full * (L_full / 100.0) + offset_full


def _resize(x: Tensor, size: Sequence[int]) -> Tensor:
    """(B,C,h,w) -> (B,C,*size), bilinear; antialiased when shrinking so L* does not alias."""
    shrinking = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=tuple(size), mode="bilinear", antialias=shrinking, align_corners=False)
