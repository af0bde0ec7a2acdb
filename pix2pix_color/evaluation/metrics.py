"""Colorization metrics on what users see: 8-bit RGB images at full resolution.

- PSNR (dB) and SSIM (Wang et al. 2004: Gaussian window, sigma 1.5, 11 px, per RGB channel at full
  resolution; scikit-image's definition, computed in torch) against the real photo;
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

import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pix2pix_color.core.color import gray_version, is_grayscale, rgb_to_lab
from pix2pix_color.core.hints import sample_hints
from pix2pix_color.core.hue import (  # noqa: F401 (also read from here by the experiments)
    COLOR_MIN_CHROMA_SHARE,
    COLOR_TOLERANCE_DEG,
    COOL_HUES,
    HUE_OUTPUT_CHROMA,
    HUE_REAL_CHROMA,
    HUE_TOLERANCE_DEG,
    WARM_HUES,
)

logger = logging.getLogger(__name__)

# How each metric is computed, in words: written into every `pix2pix-color evaluate` report.
METHODS = {
    "psnr": "dB on 8-bit RGB at full resolution against the real photo, capped at 100",
    "ssim": "Wang et al. 2004: Gaussian window sigma 1.5 (11 px), per RGB channel at full resolution, "
    "mean over the pixels where the window fits (scikit-image's structural_similarity with "
    "gaussian_weights=True, use_sample_covariance=False, data_range=255), computed in float32",
    "auc": "area under the CDF of per-pixel a*b* error, thresholds 0-150 (Zhang et al. 2016)",
    "color_hit": "strict, what a person sees: share of the real photo's pixels with C*ab >= 20 where the output's "
    "hue is within 30 degrees and its C*ab at least half the real one (a faint beige is no hit on an orange)",
    "color_hit_warm": "color_hit on warm pixels (real hue 10-100 degrees: red, orange, yellow), over the photos "
    "where at least 15% of the pixels are warm and colorful",
    "color_hit_cool": "color_hit on cool pixels (real hue 130-290 degrees: green-cyan, blue), over the photos "
    "where at least 15% of the pixels are cool and colorful",
    "chroma_ratio": "the output's C*ab summed over the real photo's colorful pixels, over the real C*ab summed "
    "there (1 = as vivid as the real colors); _warm and _cool on those pixels, over the same photos",
    "hue_hit": "lenient: share of the real photo's pixels with C*ab >= 20 where the output has C*ab >= 10 and a "
    "hue within 45 degrees",
    "colorfulness": "Hasler and Suesstrunk 2003, on 8-bit RGB",
}
AUC_MAX_THRESHOLD = 150  # thresholds 0, 1, ..., 150 in ab units
HUE_GROUP_MIN_SHARE = 0.15  # a photo counts for the warm (cool) numbers when this share of it is warm (cool)
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11  # scikit-image's Gaussian window for sigma 1.5: 2 * int(3.5 * sigma + 0.5) + 1
PSNR_CAP = 100.0  # identical images score this instead of inf, so one cannot dominate a mean


def _as_uint8(image: Image.Image | np.ndarray) -> np.ndarray:
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB uint8 image (H,W,3), got {array.dtype} {array.shape}")
    return array


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two (H,W,3) uint8 images, capped at 100 (identical images);
    `output` may be a black-and-white (H,W)."""
    # Exact in integers, on torch's threads (scikit-image's goes through float64 on one core).
    difference = torch.from_numpy(
        np.subtract(output[..., None] if output.ndim == 2 else output, target, dtype=np.int32)
    )
    mse = int((difference * difference).sum()) / difference.numel()
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def _gaussian_taps(sigma: float = SSIM_SIGMA) -> torch.Tensor:
    radius = (SSIM_WINDOW - 1) // 2
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-(x**2) / (2 * sigma**2))
    return (taps / taps.sum()).float()


def ssim(output: np.ndarray, target: np.ndarray) -> float:
    """Structural similarity of two (H,W,3) uint8 images, Wang et al. 2004 with their Gaussian window
    (sigma 1.5, 11 px), per RGB channel, averaged over the pixels where the window fits and the channels.

    The same definition as scikit-image's `structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255, channel_axis=-1)` (tested to 1e-6), computed in float32
    in torch (see `ssim_against`).
    """
    return ssim_against([output], target)[0]


def ssim_against(outputs: list[np.ndarray], target: np.ndarray) -> list[float]:
    """`ssim` of each output against one target; the target's local means and variances are computed once.

    Why by hand: scikit-image's runs in float64 on one core (0.85 s at 1.6 MP), and was most of an
    `evaluate` run's time; kornia's and torchmetrics' pad the borders (other numbers). Here the local
    statistics of every image are channels of one tensor, blurred by one depthwise convolution per axis
    in channels_last, oneDNN's fast path (15 single-channel convolutions were 15x slower).
    """
    if min(target.shape[:2]) < SSIM_WINDOW:  # the window cannot fit: 1 if identical, else 0
        return [float(np.array_equal(_rgb(o), target)) for o in outputs]
    H, W, _ = target.shape
    # Every image's local-statistics inputs as channels of one (H,W,C) buffer, each written in one pass:
    # target, target^2, then per output: output, output^2, output x target. A black-and-white output
    # (H,W) has one channel of each of the first two: 5 channels instead of 9.
    widths = [1 if o.ndim == 2 else 3 for o in outputs]
    channels = 6 + sum(2 * c + 3 for c in widths)
    planes = torch.empty(H, W, channels)
    y = planes[..., 0:3].copy_(torch.from_numpy(np.require(target, requirements=["W"])))
    torch.mul(y, y, out=planes[..., 3:6])
    at, slots = 6, []
    for output, c in zip(outputs, widths):
        x = planes[..., at : at + c].copy_(torch.from_numpy(np.require(output, requirements=["W"])).view(H, W, c))
        torch.mul(x, x, out=planes[..., at + c : at + 2 * c])
        torch.mul(x, y, out=planes[..., at + 2 * c : at + 2 * c + 3])
        slots.append((at, c))
        at += 2 * c + 3
    planes = planes[None].permute(0, 3, 1, 2)  # channels_last (1,C,H,W); permute()[None] would hide that from oneDNN
    taps = _gaussian_taps()
    with torch.inference_mode():
        down = taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1).contiguous()
        across = taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1).contiguous()
        blurred = F.conv2d(F.conv2d(planes, down, groups=channels), across, groups=channels)[0]
        blurred = blurred.contiguous()  # valid-only: (C,H-10,W-10)
        mu_y, yy = blurred[0:3], blurred[3:6]
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        scores = []
        for at, c in slots:
            mu_x, xx, xy = blurred[at : at + c], blurred[at + c : at + 2 * c], blurred[at + 2 * c : at + 2 * c + 3]
            mxmy = mu_x * mu_y
            m2 = mu_x * mu_x + mu_y * mu_y
            s = (2 * mxmy + c1).mul_(2 * (xy - mxmy) + c2).div_((m2 + c1).mul_(xx + yy - m2 + c2))
            scores.append(float(s.mean(dim=(1, 2)).double().mean()))
    return scores


def _rgb(image: np.ndarray) -> np.ndarray:
    """(H,W,3) as it is, or a black-and-white (H,W) as its (H,W,3) RGB."""
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def colorfulness(image: np.ndarray) -> float:
    """Hasler & Suesstrunk's M = sigma_rgyb + 0.3 mu_rgyb on 0..255 RGB; 0 for gray images."""
    rgb = torch.from_numpy(np.require(image, requirements=["W"])).to(torch.int32)
    r, g, b = rgb.unbind(-1)
    # Sums and sums of squares in exact integers (yb doubled to stay whole): float64 on numpy's
    # single core took 47 ms at 1.6 MP, this 6 ms.
    moments = []
    for values, scale in ((r - g, 1.0), (r + g - 2 * b, 0.5)):
        n = values.numel()
        total, squares = int(values.sum()), int((values * values).sum())
        mean = total / n
        moments.append((scale * mean, scale * math.sqrt(max(0.0, squares / n - mean * mean))))
    (mean_rg, std_rg), (mean_yb, std_yb) = moments
    return float(math.hypot(std_rg, std_yb) + 0.3 * math.hypot(mean_rg, mean_yb))


def _chw(image: np.ndarray) -> torch.Tensor:
    # np.require copies only read-only arrays (PIL's), which torch.from_numpy cannot wrap safely.
    return torch.from_numpy(np.require(image, requirements=["W"])).permute(2, 0, 1)


def ab_of(image: np.ndarray) -> torch.Tensor:
    """(H,W,3) uint8 sRGB -> its a*b* (2,H,W)."""
    return rgb_to_lab(_chw(image))[1:]


def _ab_pair(output, target) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(x.float() if isinstance(x, torch.Tensor) else ab_of(x) for x in (output, target))


def ab_error_auc(output: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> float:
    """Area under the CDF of per-pixel ab Euclidean error for thresholds 0..150, normalised to [0,1].

    Takes (H,W,3) uint8 images, or their a*b* as (2,H,W) tensors.
    """
    ab_out, ab_real = _ab_pair(output, target)
    d = ab_out - ab_real
    # Elementwise rather than vector_norm over the channel axis: ~10x faster on (2,H,W) tensors.
    error = (d[0] * d[0] + d[1] * d[1]).sqrt_().flatten()
    # error <= t  <=>  ceil(error) <= t for integer t: a histogram gives the whole CDF in one pass.
    counts = torch.bincount(error.ceil_().clamp_(max=AUC_MAX_THRESHOLD + 1).long(), minlength=AUC_MAX_THRESHOLD + 2)
    cdf = counts[: AUC_MAX_THRESHOLD + 1].cumsum(0).double() / error.numel()
    return float(cdf.mean())


def hue_hit_masks(
    output: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pixel masks (H,W) behind the hue hit rate: the real photo's colorful pixels (C*ab >= 20),
    the output's colored ones (C*ab >= 10), and those whose two hue angles differ by <= 45 deg.
    Takes what `hue_hit_rate` takes; a hit is all three."""
    (oa, ob), (ra, rb) = _ab_pair(output, target)
    colorful = ra * ra + rb * rb >= HUE_REAL_CHROMA**2
    colored = oa * oa + ob * ob >= HUE_OUTPUT_CHROMA**2
    # The angle between the two ab vectors is within the tolerance (< 90 deg) when their dot product
    # is positive and |cross| <= tan(tolerance) * dot: no atan2, no wrap-around, all elementwise.
    dot, cross = oa * ra + ob * rb, oa * rb - ob * ra
    within = (dot > 0) & (cross.abs() <= math.tan(math.radians(HUE_TOLERANCE_DEG)) * dot)
    return colorful, colored, within


def hue_hit_rate(output: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> float:
    """Share of the real photo's colorful pixels whose output color has the right hue; NaN if it has none.

    Takes (H,W,3) uint8 images, or their a*b* as (2,H,W) tensors. A pixel is a hit when the real
    C*ab >= 20 and the output's C*ab >= 10 and the two hue angles atan2(b*, a*) differ by <= 45 deg.
    """
    colorful, colored, within = hue_hit_masks(output, target)
    n = int(colorful.sum())
    if n == 0:
        return float("nan")
    return float((colorful & colored & within).sum()) / n


@dataclass(frozen=True)
class ColorHits:
    """The strict color numbers of one output (NaN where a photo has no such pixels): the color hit
    rate and chroma ratio on all the real photo's colorful pixels, on its warm ones and on its cool
    ones, and the shares of the photo that are warm and cool colorful pixels."""

    color_hit: float
    chroma_ratio: float
    color_hit_warm: float
    chroma_ratio_warm: float
    color_hit_cool: float
    chroma_ratio_cool: float
    warm_share: float
    cool_share: float


def color_hits(output: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> ColorHits:
    """`ColorHits` of an output against its real photo; takes what `hue_hit_rate` takes.

    A pixel of the real photo with C*ab >= 20 is a hit when the output's hue is within 30 degrees of
    it and the output's C*ab is at least half of it: the right color, not a grayish hint of it."""
    (oa, ob), (ra, rb) = _ab_pair(output, target)
    real_c, out_c = torch.hypot(ra, rb), torch.hypot(oa, ob)
    colorful = real_c >= HUE_REAL_CHROMA
    dot, cross = oa * ra + ob * rb, oa * rb - ob * ra
    within = (dot > 0) & (cross.abs() <= math.tan(math.radians(COLOR_TOLERANCE_DEG)) * dot)
    hit = within & (out_c >= COLOR_MIN_CHROMA_SHARE * real_c)
    hue = torch.rad2deg(torch.atan2(rb, ra)) % 360
    warm = colorful & (hue >= WARM_HUES[0]) & (hue <= WARM_HUES[1])
    cool = colorful & (hue >= COOL_HUES[0]) & (hue <= COOL_HUES[1])

    def rates(mask: torch.Tensor) -> tuple[float, float]:
        n = int(mask.sum())
        if n == 0:
            return float("nan"), float("nan")
        return float(hit[mask].sum()) / n, float(out_c[mask].sum() / real_c[mask].sum())

    pixels = colorful.numel()
    return ColorHits(*rates(colorful), *rates(warm), *rates(cool), int(warm.sum()) / pixels, int(cool.sum()) / pixels)


@dataclass
class ImageMetrics:
    psnr: float
    ssim: float
    colorfulness: float
    auc: float
    hue_hit: float  # NaN for a photo with no colorful pixel
    colors: ColorHits | None = None


def image_metrics(output: Image.Image | np.ndarray, target: Image.Image | np.ndarray) -> ImageMetrics:
    """Every metric of one output against its real photo."""
    return metrics_against([output], target)[0]


def metrics_against(outputs: list[Image.Image | np.ndarray], target: Image.Image | np.ndarray) -> list[ImageMetrics]:
    """Every metric of each output against one real photo, whose a*b* and SSIM statistics are
    computed once (`evaluate` scores the model's output and the grayscale baseline this way). An
    output may be a black-and-white (H,W) uint8 array: the same numbers as its RGB version, cheaper
    (its a*b* are 0: sRGB grays are neutral under the D65 white of L*a*b*)."""
    ref = _as_uint8(target)
    outs = [o if isinstance(o, np.ndarray) and o.ndim == 2 and o.dtype == np.uint8 else _as_uint8(o) for o in outputs]
    for out in outs:
        if out.shape[:2] != ref.shape[:2]:
            raise ValueError(f"output {out.shape} and target {ref.shape} differ in size")
    ab_ref = ab_of(ref)
    ssims = ssim_against(outs, ref)
    results = []
    for out, structural in zip(outs, ssims):
        gray = out.ndim == 2
        ab_out = torch.zeros_like(ab_ref) if gray else ab_of(out)
        auc, hue_hit = ab_error_auc(ab_out, ab_ref), hue_hit_rate(ab_out, ab_ref)
        results.append(
            ImageMetrics(psnr(out, ref), structural, 0.0 if gray else colorfulness(out), auc, hue_hit,
                         color_hits(ab_out, ab_ref))
        )  # fmt: skip
    return results


@dataclass
class Summary:
    """Means over a set of images. `colorfulness_gap` is (outputs - real) / real, in percent."""

    n_images: int
    psnr: float
    ssim: float
    auc: float
    hue_hit: float  # mean over the photos that have colorful pixels (lenient; color_hit is the strict one)
    colorfulness: float
    colorfulness_real: float
    colorfulness_gap: float
    color_hit: float = float("nan")  # mean over the photos that have colorful pixels
    chroma_ratio: float = float("nan")
    color_hit_warm: float = float("nan")  # over the photos at least HUE_GROUP_MIN_SHARE warm and colorful
    chroma_ratio_warm: float = float("nan")
    n_warm_photos: int = 0
    color_hit_cool: float = float("nan")  # over the photos at least HUE_GROUP_MIN_SHARE cool and colorful
    chroma_ratio_cool: float = float("nan")
    n_cool_photos: int = 0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(per_image: list[ImageMetrics], real_colorfulness: list[float]) -> Summary:
    real = float(np.mean(real_colorfulness))
    out = float(np.mean([m.colorfulness for m in per_image]))
    hits = [m.hue_hit for m in per_image if not np.isnan(m.hue_hit)]
    colors = [m.colors for m in per_image if m.colors is not None]
    warm = [c for c in colors if c.warm_share >= HUE_GROUP_MIN_SHARE]
    cool = [c for c in colors if c.cool_share >= HUE_GROUP_MIN_SHARE]
    return Summary(
        n_images=len(per_image),
        psnr=float(np.mean([m.psnr for m in per_image])),
        ssim=float(np.mean([m.ssim for m in per_image])),
        auc=float(np.mean([m.auc for m in per_image])),
        hue_hit=float(np.mean(hits)) if hits else float("nan"),
        colorfulness=out,
        colorfulness_real=real,
        colorfulness_gap=100.0 * (out - real) / real if real > 0 else 0.0,
        color_hit=_mean(c.color_hit for c in colors),
        chroma_ratio=_mean(c.chroma_ratio for c in colors),
        color_hit_warm=_mean(c.color_hit_warm for c in warm),
        chroma_ratio_warm=_mean(c.chroma_ratio_warm for c in warm),
        n_warm_photos=len(warm),
        color_hit_cool=_mean(c.color_hit_cool for c in cool),
        chroma_ratio_cool=_mean(c.chroma_ratio_cool for c in cool),
        n_cool_photos=len(cool),
    )


def _mean(values) -> float:
    """The mean of the numbers that are not NaN (NaN if none is)."""
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


class NoPhotosError(ValueError):
    """`evaluate` was given no photo it could score."""


MIN_SIDE = SSIM_WINDOW  # a photo must be at least one SSIM window across to be scored at all


def evaluate(
    colorize_batch,
    images: Iterable[Image.Image],
    *,
    batch_size: int = 16,
    hints_per_photo: int = 0,
    seed: int = 0,
    per_photo: list[dict] | None = None,
) -> dict[str, Summary]:
    """Metrics of a colorizer and of the grayscale baseline on real color photos.

    `colorize_batch` maps a list of grayscale PIL images to colorized ones of the same size
    (e.g. `Colorizer.colorize_batch`). Each photo is reduced to its own L* first, so the model sees
    exactly what a black-and-white input would give it. With `hints_per_photo`, each photo also
    gets that many color hints sampled from the real photo (seeded: the same points for every
    model), passed as `colorize_batch(grays, hints=[...])`. Returns {"model": ..., "gray": ...}.

    A black-and-white photo (nothing to compare colors with: the gray baseline would score its
    PSNR cap) and one smaller than MIN_SIDE are skipped with a logged note each. `per_photo`, if
    given, receives one row per photo: its name (`image.info["source"]`, as `photo_sets` sets it),
    the model's PSNR, hue hit rate and colorfulness, the gray baseline's PSNR, or why it was skipped.
    """
    rng = np.random.default_rng(seed)
    scored = _Scored(per_photo if per_photo is not None else [])
    batch: list[tuple[np.ndarray, str]] = []
    for index, image in enumerate(images):
        name = str(getattr(image, "info", {}).get("source") or f"photo {index + 1}")
        array = _as_uint8(image)
        if min(array.shape[:2]) < MIN_SIDE:
            scored.skip(name, f"{array.shape[1]}x{array.shape[0]} px, smaller than {MIN_SIDE} px: too small to score")
            continue
        if is_grayscale(Image.fromarray(array)):
            scored.skip(name, "black and white: there are no real colors to compare with")
            continue
        batch.append((array, name))
        if len(batch) == batch_size:
            _score_batch(colorize_batch, batch, hints_per_photo, rng, scored)
            batch.clear()
    if batch:
        _score_batch(colorize_batch, batch, hints_per_photo, rng, scored)
    if not scored.model:
        raise NoPhotosError("no photos to evaluate (none could be read, or every one was skipped)")
    return {"model": summarize(scored.model, scored.real), "gray": summarize(scored.gray, scored.real)}


@dataclass
class _Scored:
    """What `evaluate` has scored so far: each photo's metrics for the model and the gray baseline,
    the real photos' colorfulness, and the per-photo rows (scored, or why skipped)."""

    rows: list[dict]
    model: list[ImageMetrics] = field(default_factory=list)
    gray: list[ImageMetrics] = field(default_factory=list)
    real: list[float] = field(default_factory=list)

    def skip(self, name: str, reason: str) -> None:
        logger.warning("skipped %s: %s", name, reason)
        self.rows.append({"file": name, "skipped": reason})

    def add(self, name: str, model: ImageMetrics, baseline: ImageMetrics, real_colorfulness: float) -> None:
        self.model.append(model)
        self.gray.append(baseline)
        self.real.append(real_colorfulness)
        self.rows.append(
            {"file": name, "psnr": round(model.psnr, 3), "color_hit": round(model.colors.color_hit, 4),
             "chroma_ratio": round(model.colors.chroma_ratio, 4), "hue_hit": round(model.hue_hit, 4),
             "colorfulness": round(model.colorfulness, 2), "colorfulness_real": round(real_colorfulness, 2),
             "gray_psnr": round(baseline.psnr, 3)}
        )  # fmt: skip


def _score_batch(colorize_batch, batch: list[tuple[np.ndarray, str]], hints_per_photo: int, rng, scored: _Scored):
    """Colorize one batch of real photos' gray versions (with sampled hints if asked) and score each."""
    grays = [gray_version(img) for img, _ in batch]
    inputs = [Image.fromarray(g, "L") for g in grays]
    if hints_per_photo:
        outputs = colorize_batch(inputs, hints=[sample_hints(img, hints_per_photo, rng) for img, _ in batch])
    else:
        outputs = colorize_batch(inputs)
    for (real, name), gray, out in zip(batch, grays, outputs):
        if isinstance(out, Exception):  # a colorizer's per-item error: skipped, never the whole run
            scored.skip(name, str(out))
            continue
        model, baseline = metrics_against([out, gray], real)
        scored.add(name, model, baseline, colorfulness(real))
