"""Color as classes: a*b* quantized into in-gamut bins (Zhang, Isola & Efros 2016, "Colorful Image
Colorization"), for generators whose head predicts a distribution over colors instead of one color.

Why: a regression loss (L1, L2) answers an uncertain pixel with the median or mean of its possible
colors, and the mean of "red barn or blue barn" is gray. A distribution keeps both; decoding it with
the *annealed mean* (softmax at temperature T < 1, then the mean) gives a color that is vivid where
the model is fairly sure and still spatially coherent. T = 1 is the plain mean (best PSNR),
T -> 0 the mode (most vivid).

Bins: a 10-unit grid over a*, b* in [-110, 110], keeping the cells that reach displayable sRGB
colors at some lightness: Q = 253 of the 529. Tensors are (B,Q,H,W) over the Q bins.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from pix2pix_color.core.color import lab_to_rgb, rgb_to_lab

GRID_STEP = 10.0
GRID_MAX = 110.0
SOFT_NEIGHBOURS = 5  # each true color is spread over its 5 nearest bins...
SOFT_SIGMA = 5.0  # ...with Gaussian weights, sigma 5 ab units (the paper's settings)


@functools.cache
def _centers_cpu() -> Tensor:
    axis = torch.arange(-GRID_MAX, GRID_MAX + 1, GRID_STEP)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    ab = torch.stack([a.flatten(), b.flatten()])  # (2, 529)
    # A bin is kept when its cell reaches displayable colors: at some L* from 5 to 95, its center is
    # within half a bin of what survives the round trip through sRGB (which clips out-of-gamut colors).
    L = torch.arange(5.0, 96.0, 2.5)
    lab = torch.cat([L[:, None, None].expand(-1, 1, ab.shape[1]), ab[None].expand(len(L), -1, -1)], dim=1)
    round_trip = rgb_to_lab(lab_to_rgb(lab[..., None]))[..., 0]
    in_gamut = (torch.linalg.vector_norm(round_trip - lab, dim=1) < GRID_STEP / 2).any(dim=0)
    return ab[:, in_gamut].T.contiguous()  # (Q, 2)


def bin_centers(device: torch.device | str = "cpu") -> Tensor:
    """(Q,2) a*b* of the bin centers."""
    return _centers_cpu().to(device)


def num_bins() -> int:
    return _centers_cpu().shape[0]


LUT_MIN = -128  # the lookup tables cover integer a*, b* in [-128, 127], all of 8-bit sRGB


@functools.cache
def _soft_lut_cpu() -> tuple[Tensor, Tensor]:
    """For every integer (a*, b*): its 5 nearest bins (256,256,5) and their soft weights (256,256,5).

    Why a table: the nearest bins of each pixel would otherwise be a (pixels x Q) distance matrix
    and a top-k per training step; at 1-unit steps the table's rounding (<= 0.5) is far below the
    Gaussian's sigma of 5.
    """
    axis = torch.arange(LUT_MIN, LUT_MIN + 256, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    distance2 = torch.cdist(grid, _centers_cpu()).square()
    nearest, index = distance2.topk(SOFT_NEIGHBOURS, dim=1, largest=False)
    weights = torch.softmax(-nearest / (2 * SOFT_SIGMA**2), dim=1)
    return index.view(256, 256, -1), weights.view(256, 256, -1)


def encode(ab: Tensor) -> tuple[Tensor, Tensor]:
    """a*b* (N,2) -> the 5 nearest bins (N,5), nearest first, and their soft weights (N,5)."""
    index_lut, weight_lut = (t.to(ab.device).view(256 * 256, SOFT_NEIGHBOURS) for t in _soft_lut_cpu())
    a, b = (ab.round().clamp(LUT_MIN, LUT_MIN + 255).int() - LUT_MIN).unbind(1)
    flat = a * 256 + b
    return index_lut.index_select(0, flat), weight_lut.index_select(0, flat)


def nearest_bin(ab: Tensor) -> Tensor:
    """a*b* (..., 2) -> index of the nearest bin (...)."""
    return encode(ab.reshape(-1, 2))[0][:, 0].view(ab.shape[:-1])


def annealed_mean(
    logits: Tensor, temperature: float, *, exp_weighted: bool = False, bin_scale: Tensor | None = None
) -> Tensor:
    """Logits (B,Q,H,W) -> a*b* (B,2,H,W): the mean of softmax(logits / T) over the bin centers.

    Two kernels of one formula, tested equal (within 2e-4 a*b* units): softmax + einsum, what
    PyTorch runs fastest (28 against 54 ms at 128x128 on 2 cores), and with `exp_weighted`,
    exp(z - max z) weighted by the bin centers and by ones in one 1x1 convolution, then divided:
    what ONNX Runtime runs fastest (its Softmax on a non-last axis transposes the whole tensor, 69%
    of a 512x768 run; the ONNX graph is exported with this one). `bin_scale` (Q,), with
    `exp_weighted`: each bin's annealed probability multiplied by it before the mean (a variation's
    favoured sector, `pipeline.variations`), folded into the convolution's weights.
    """
    z = logits.float() / temperature
    if not exp_weighted:
        return torch.einsum("bqhw,qc->bchw", torch.softmax(z, dim=1), bin_centers(logits.device))
    centers = bin_centers(logits.device)
    weights = torch.cat([centers.T, torch.ones(1, len(centers), device=logits.device)])
    if bin_scale is not None:
        weights = weights * bin_scale
    sums = torch.nn.functional.conv2d(
        (z - z.amax(dim=1, keepdim=True)).exp(), weights.view(3, len(centers), 1, 1)
    )  # sum p*a, p*b, p
    return sums[:, :2] / sums[:, 2:]


def rebalancing_weights(histogram: Tensor, mix: float, sigma_bins: float = 0.5) -> Tensor:
    """Per-bin loss weights (Q,) that make rare colors count, from bin counts (Q,).

    Zhang et al.'s class rebalancing: the empirical distribution p is smoothed with a Gaussian
    (sigma 5 ab units = half a bin), mixed with the uniform one, w ~ ((1 - mix) p + mix / Q)^-1,
    and normalised so that the expected weight under p is 1. mix = 1 turns rebalancing off;
    the paper uses 0.5.
    """
    centers = bin_centers(histogram.device)
    p = histogram.double() / histogram.sum().clamp(min=1)
    kernel = torch.exp(-torch.cdist(centers, centers).double().square() / (2 * (sigma_bins * GRID_STEP) ** 2))
    p = kernel @ p
    p = p / p.sum()
    w = 1.0 / ((1 - mix) * p + mix / len(p))
    return (w / (p * w).sum()).float()
