"""Colorization metrics on what users see: 8-bit RGB images at full resolution.

- PSNR (dB) and SSIM (Wang et al. 2004, Gaussian window, via scikit-image) against the real photo;
- colorfulness (Hasler & Suesstrunk 2003) of outputs and of the real photos: a model that washes
  everything out to sepia scores well on PSNR, this catches it;
- AuC of the cumulative ab-error curve over thresholds 0..150 (Zhang et al. 2016);
- hue hit rate: over the real photo's colorful pixels (C*ab >= 20), the share where the output is
  colorful too (C*ab >= 10) with a hue angle within 45 degrees of the real one. Gray output scores 0.
  It answers "is the grass green, is the sky blue", which PSNR and AuC hide: both reward a model
  that hedges towards gray.

`evaluate` runs them for a colorizer and for the grayscale baseline (output = input) side by side:
that baseline is what a colorizer must beat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .color import gray_version, rgb_to_lab
from .hints import sample_hints

AUC_MAX_THRESHOLD = 150  # thresholds 0, 1, ..., 150 in ab units
HUE_REAL_CHROMA = 20.0  # a real pixel counts as colorful from this C*ab on
HUE_OUTPUT_CHROMA = 10.0  # an output pixel must reach this C*ab to count as colored at all
HUE_TOLERANCE_DEG = 45.0
PSNR_CAP = 100.0  # identical images score this instead of inf, so one cannot dominate a mean


def _as_uint8(image: Image.Image | np.ndarray) -> np.ndarray:
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB uint8 image (H,W,3), got {array.dtype} {array.shape}")
    return array


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two (H,W,3) uint8 images, capped at 100 (identical images)."""
    if np.array_equal(output, target):
        return PSNR_CAP
    return min(PSNR_CAP, float(peak_signal_noise_ratio(target, output, data_range=255)))


def ssim(output: np.ndarray, target: np.ndarray) -> float:
    """Structural similarity of two (H,W,3) uint8 images, Wang et al.'s Gaussian-window settings."""
    if min(output.shape[:2]) < 7:  # the 11x11 Gaussian window cannot fit; compare like PSNR would
        return float(np.allclose(output, target))
    return float(
        structural_similarity(
            output,
            target,
            channel_axis=-1,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def colorfulness(image: np.ndarray) -> float:
    """Hasler & Suesstrunk's M = sigma_rgyb + 0.3 mu_rgyb on 0..255 RGB; 0 for gray images."""
    r, g, b = (image[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _chw(image: np.ndarray) -> torch.Tensor:
    # np.require copies only read-only arrays (PIL's), which torch.from_numpy cannot wrap safely.
    return torch.from_numpy(np.require(image, requirements=["W"])).permute(2, 0, 1)


def _ab(image: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(_chw(image))[1:]


def ab_error_auc(output: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> float:
    """Area under the CDF of per-pixel ab Euclidean error for thresholds 0..150, normalised to [0,1].

    Takes (H,W,3) uint8 images, or their a*b* as (2,H,W) tensors.
    """
    ab_out, ab_real = (x if isinstance(x, torch.Tensor) else _ab(x) for x in (output, target))
    error = torch.linalg.vector_norm(ab_out - ab_real, dim=0).flatten()
    # error <= t  <=>  ceil(error) <= t for integer t: a histogram gives the whole CDF in one pass.
    counts = torch.bincount(error.ceil().clamp(max=AUC_MAX_THRESHOLD + 1).long(), minlength=AUC_MAX_THRESHOLD + 2)
    cdf = counts[: AUC_MAX_THRESHOLD + 1].cumsum(0).double() / error.numel()
    return float(cdf.mean())


def hue_hit_rate(output: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> float:
    """Share of the real photo's colorful pixels whose output color has the right hue; NaN if it has none.

    Takes (H,W,3) uint8 images, or their a*b* as (2,H,W) tensors. A pixel is a hit when the real
    C*ab >= 20 and the output's C*ab >= 10 and the two hue angles atan2(b*, a*) differ by <= 45 deg.
    """
    ab_out, ab_real = (x if isinstance(x, torch.Tensor) else _ab(x) for x in (output, target))
    colorful = torch.linalg.vector_norm(ab_real, dim=0) >= HUE_REAL_CHROMA
    n = int(colorful.sum())
    if n == 0:
        return float("nan")
    out, real = ab_out[:, colorful].double(), ab_real[:, colorful].double()
    colored = torch.linalg.vector_norm(out, dim=0) >= HUE_OUTPUT_CHROMA
    # The angle between the two ab vectors, from their dot and cross products (no wrap-around).
    angle = torch.atan2(out[0] * real[1] - out[1] * real[0], (out * real).sum(0)).abs()
    return float((colored & (angle <= torch.deg2rad(torch.tensor(HUE_TOLERANCE_DEG, dtype=torch.float64)))).sum()) / n


@dataclass
class ImageMetrics:
    psnr: float
    ssim: float
    colorfulness: float
    auc: float
    hue_hit: float  # NaN for a photo with no colorful pixel


def image_metrics(output: Image.Image | np.ndarray, target: Image.Image | np.ndarray) -> ImageMetrics:
    out, ref = _as_uint8(output), _as_uint8(target)
    if out.shape != ref.shape:
        raise ValueError(f"output {out.shape} and target {ref.shape} differ in size")
    ab_out, ab_ref = _ab(out), _ab(ref)
    return ImageMetrics(
        psnr(out, ref), ssim(out, ref), colorfulness(out), ab_error_auc(ab_out, ab_ref), hue_hit_rate(ab_out, ab_ref)
    )


@dataclass
class Summary:
    """Means over a set of images. `colorfulness_gap` is (outputs - real) / real, in percent."""

    n_images: int
    psnr: float
    ssim: float
    auc: float
    hue_hit: float  # mean over the photos that have colorful pixels
    colorfulness: float
    colorfulness_real: float
    colorfulness_gap: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(per_image: list[ImageMetrics], real_colorfulness: list[float]) -> Summary:
    real = float(np.mean(real_colorfulness))
    out = float(np.mean([m.colorfulness for m in per_image]))
    hits = [m.hue_hit for m in per_image if not np.isnan(m.hue_hit)]
    return Summary(
        n_images=len(per_image),
        psnr=float(np.mean([m.psnr for m in per_image])),
        ssim=float(np.mean([m.ssim for m in per_image])),
        auc=float(np.mean([m.auc for m in per_image])),
        hue_hit=float(np.mean(hits)) if hits else float("nan"),
        colorfulness=out,
        colorfulness_real=real,
        colorfulness_gap=100.0 * (out - real) / real if real > 0 else 0.0,
    )


def evaluate(
    colorize_batch, images: Iterable[Image.Image], *, batch_size: int = 16, hints_per_photo: int = 0, seed: int = 0
) -> dict[str, Summary]:
    """Metrics of a colorizer and of the grayscale baseline on real color photos.

    `colorize_batch` maps a list of grayscale PIL images to colorized ones of the same size
    (e.g. `Colorizer.colorize_batch`). Each photo is reduced to its own L* first, so the model sees
    exactly what a black-and-white input would give it. With `hints_per_photo`, each photo also
    gets that many color hints sampled from the real photo (seeded: the same points for every
    model), passed as `colorize_batch(grays, hints=[...])`. Returns {"model": ..., "gray": ...}.
    """
    rng = np.random.default_rng(seed)
    model_metrics: list[ImageMetrics] = []
    gray_metrics: list[ImageMetrics] = []
    real_colorfulness: list[float] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        grays = [gray_version(img) for img in batch]
        inputs = [Image.fromarray(g, "L") for g in grays]
        if hints_per_photo:
            outputs = colorize_batch(inputs, hints=[sample_hints(img, hints_per_photo, rng) for img in batch])
        else:
            outputs = colorize_batch(inputs)
        for real, gray, out in zip(batch, grays, outputs):
            if isinstance(out, Exception):  # a colorizer's per-item error: nothing to score
                raise out
            model_metrics.append(image_metrics(out, real))
            gray_metrics.append(image_metrics(np.repeat(gray[..., None], 3, axis=-1), real))
            real_colorfulness.append(colorfulness(real))
        batch.clear()

    for image in images:
        batch.append(_as_uint8(image))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not model_metrics:
        raise ValueError("no images to evaluate")
    return {
        "model": summarize(model_metrics, real_colorfulness),
        "gray": summarize(gray_metrics, real_colorfulness),
    }
