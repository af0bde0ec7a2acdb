"""Carrying a user's color hints along the photo's own edges: an edge-aware correction field.

The generator takes the hints as input channels and was trained to use them, but a network learns
to *spread* a single clicked point over a whole region only with far more training than this
project's models get (measured: 10 hints moved the validation PSNR by +0.06 dB). So the colorizer
also propagates each hint's residual, the difference between the color the user gave and the color
the network predicted there, with the classical colorization-by-optimization energy (Levin,
Lischinski & Weiss 2004) at the working resolution:

    minimise  sum_(r,s neighbours) w_rs (d_r - d_s)^2  +  lam sum_r d_r^2  +  mu sum_(hints h) (d_h - t_h)^2

with w_rs = exp(-(L_r - L_s)^2 / 2 sigma^2): the correction d flows freely within a region of even
lightness, stops at the photo's edges, and fades with distance (lam) so that far regions keep the
network's colors. It is one sparse linear solve per photo (scipy; ~12k unknowns at the default
working size, a few tens of milliseconds); the result is then upsampled with the photo's edges like
any prediction. Why by hand: no maintained library solves this for an arbitrary guide image.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn.functional as F
from torch import Tensor

# A hint's reach is a share of the photo's long side, so a click spreads over the same part of the
# photo at any working size (it was 80 working pixels: 62% of the photo at 128 px, 16% at 512).
# SIGMA_L and REACH are chosen on training photos (benchmarks/hint_reach.py), not on the validation
# photos the card reports: the most help from 10 sampled hints (+1.83 dB) among the constants with
# which one click recolors at most a quarter of a photo on average (15% at "Auto", 22% at 512 px).
SIGMA_L = 6.0  # L* difference (0-100) at which neighbours are ~60% linked: edges of ~15 L* block
REACH = 0.25  # a hint's reach in an even region, as a share of the long side
HINT_WEIGHT = 100.0  # hints are nearly hard constraints
MAX_SIDE = 256  # propagate at most at this long side, then upsample the (smooth) correction


def propagate_hints(L: Tensor, ab: Tensor, hints: Tensor, *, sigma: float = SIGMA_L, reach: float = REACH) -> Tensor:
    """L* (1,h,w) in [0,100], predicted a*b* (2,h,w) and hint channels (3,h,w; a*b* in Lab units and
    a 0/1 mask) -> a*b* (2,h,w) that equals the hints where they are and blends into `ab` along edges."""
    mask = hints[2] > 0
    if not bool(mask.any()):
        return ab
    h, w = L.shape[-2:]
    scale = min(1.0, MAX_SIDE / max(h, w))
    decay = 1.0 / (reach * max(h, w) * scale) ** 2  # in the pixels of the grid that is solved
    if scale < 1.0:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        L_small = F.interpolate(L[None], size=size, mode="area")[0]
        target_small = _pool_hints(hints[:2] - ab, mask, size)
        correction = _solve(L_small, *target_small, decay=decay, sigma=sigma)
        return ab + F.interpolate(correction[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    correction = _solve(L, (hints[:2] - ab) * mask, mask.float(), decay=decay, sigma=sigma)
    return ab + correction


def _pool_hints(residual: Tensor, mask: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Residuals at hint pixels averaged onto a smaller grid, and that grid's hint mask."""
    m = mask.float()[None]
    total = F.adaptive_avg_pool2d((residual * m)[None], size)[0]
    count = F.adaptive_avg_pool2d(m[None], size)[0]
    small_mask = count[0] > 0
    return torch.where(small_mask, total / count.clamp(min=1e-12), torch.zeros_like(total)), small_mask.float()


def _solve(L: Tensor, target: Tensor, mask: Tensor, *, decay: float, sigma: float) -> Tensor:
    """The correction (2,h,w) minimising the energy above; `target` (2,h,w) is valid where `mask` (h,w) is 1."""
    h, w = L.shape[-2:]
    n = h * w
    lum = L.reshape(h, w).double().cpu().numpy()
    index = np.arange(n).reshape(h, w)
    rows, cols, weights = [], [], []
    for a, b, da, db in (
        (index[:, :-1], index[:, 1:], lum[:, :-1], lum[:, 1:]),
        (index[:-1], index[1:], lum[:-1], lum[1:]),
    ):
        rows.append(a.ravel())
        cols.append(b.ravel())
        weights.append(np.exp(-((da - db).ravel() ** 2) / (2 * sigma**2)))
    r, c, wt = np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)
    adjacency = scipy.sparse.coo_matrix((np.r_[wt, wt], (np.r_[r, c], np.r_[c, r])), shape=(n, n)).tocsr()
    laplacian = scipy.sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency
    hint = mask.reshape(-1).double().cpu().numpy() * HINT_WEIGHT
    system = (laplacian + scipy.sparse.diags(decay + hint)).tocsc()
    solve = scipy.sparse.linalg.factorized(system)
    rhs = target.reshape(2, -1).double().cpu().numpy() * hint
    out = np.stack([solve(rhs[0]), solve(rhs[1])]).reshape(2, h, w)
    return torch.from_numpy(out).to(dtype=torch.float32, device=L.device)
