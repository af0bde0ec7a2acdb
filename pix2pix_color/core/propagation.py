"""Carrying a user's color hints along the photo's own edges: an edge-aware correction field.

The generator takes the hints as input channels and was trained to use them, but a network learns
to *spread* a single clicked point over a whole region only with far more training than this
project's models get (measured: 10 hints moved the validation PSNR by +0.06 dB). So the colorizer
also spreads each hint over the region it belongs to, with the classical colorization-by-
optimization energy (Levin, Lischinski & Weiss 2004) on a small grid of the photo's shape
(`solve_shape`):

    minimise  sum_(r,s neighbours) w_rs (d_r - d_s)^2  +  lam sum_r d_r^2  +  mu sum_(hints h) (d_h - t_h)^2

with w_rs = exp(-(L_r - L_s)^2 / 2 sigma^2): a field d flows freely within a region of even
lightness, stops at the photo's edges, and fades with distance (lam). Solved for the hints' colors
and for their influence (t = 1), it blends each pixel between the network's color and the hints'
(`propagate_hints`), so far regions keep the network's colors and the click keeps its own. It is
one sparse factorisation per photo (scipy; at most 16k unknowns, a few tens of milliseconds); the
result is then upsampled with the photo's edges like any prediction. Why by hand: no maintained
library solves this for an arbitrary guide image.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn.functional as F
from torch import Tensor

from pix2pix_color.core.image_processor import resize

# A hint's reach is a share of the photo's long side, and every hint is solved on one grid, the
# photo's own shape at SOLVE_SIDE px (it was the working grid, up to 256 px): how strongly an edge
# holds a hint back depends on the grid it is solved on, since a soft edge (a shadow, a slope) that
# is a 6 L* step between neighbours at 128 px is two 3 L* steps at 256 px, which the weights below
# let through far more easily. On the working grid one click recolored 21% of a photo at "Auto" and
# 45% at 512 px (experiments/hint_reach.py); on one grid it is the same share at every working size.
# The working grid's own aspect is not the photo's (its sides are multiples of the network's 2**depth:
# a 16:9 photo is 128x128 at "Auto"), so the grid is laid out from the photo's shape when given.
# SIGMA_L and REACH are chosen on training photos (experiments/hint_reach.py), not on the validation
# photos the card reports: the most help from 10 sampled hints (+1.62 dB) among the constants with
# which one click recolors at most a quarter of a photo on average (22% at "Auto", 20% at 512 px).
SIGMA_L = 4.0  # L* difference (0-100) at which neighbours are ~60% linked: edges of ~10 L* block
REACH = 0.25  # a hint's reach in an even region, as a share of the long side
HINT_WEIGHT = 100.0  # hints are nearly hard constraints
SOLVE_SIDE = 128  # the long side of the grid every hint is solved on (the bundled model's working size)


def solve_shape(photo_shape: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of a photo -> the (h, w) grid its hints are solved on: its aspect, long side SOLVE_SIDE."""
    H, W = photo_shape
    scale = SOLVE_SIDE / max(H, W)
    return max(1, round(H * scale)), max(1, round(W * scale))


def propagate_hints(
    L: Tensor,
    ab: Tensor,
    hints: Tensor,
    *,
    photo_shape: tuple[int, int] | None = None,
    sigma: float = SIGMA_L,
    reach: float = REACH,
) -> Tensor:
    """L* (1,h,w) in [0,100], predicted a*b* (2,h,w) and hint channels (3,h,w; a*b* in Lab units and
    each hint's weight in (0, 1], 0 where there is none), all on the working grid -> a*b* (2,h,w)
    that equals the hints where they are and blends into `ab` along edges. A user's hint weighs 1;
    a guessed one (a reference photo's color, `pix2pix_color.pipeline.reference`) weighs its confidence w,
    and the result there is w of the hint's color and 1 - w of the network's. `photo_shape`: the
    (H, W) of the photo the working grid was resized from (default: the working grid's own shape),
    so that the solve grid has the photo's aspect.

    One solve with three right-hand sides gives each pixel a hint's *influence* s in [0, 1] (1 at
    the click, falling off with distance and across edges) and the influence-weighted hint colors C;
    the result is (1 - s) ab + C, a blend of the network's color and the hints' colors. A blend
    never goes beyond either, so a click reaches its color and carries it without overshooting.
    (Spreading the residual hint - prediction instead added the click's residual on top of what the
    network had already moved towards the hint: ~50% more chroma around a click on a plain sky.)
    """
    mask = hints[2] > 0
    if not bool(mask.any()):
        return ab
    h, w = L.shape[-2:]
    grid = solve_shape(photo_shape or (h, w))
    decay = 1.0 / (reach * max(grid)) ** 2  # in the pixels of the grid that is solved
    weight = hints[2:3].clamp(0.0, 1.0)
    targets = torch.cat([hints[:2] * weight, weight])  # the hints' weighted a*, b*, and their weight (influence)
    if grid == (h, w):
        field = _solve(L, targets * mask, mask.float(), decay=decay, sigma=sigma)
    else:
        L_grid = resize(L[None], grid)[0]
        pooled, grid_mask = _pool_hints(targets, mask, grid)
        field = F.interpolate(
            _solve(L_grid, pooled, grid_mask, decay=decay, sigma=sigma)[None], size=(h, w), mode="bilinear",
            align_corners=False,
        )[0]  # fmt: skip
    colors, influence = field[:2], field[2:3].clamp(0.0, 1.0)
    return ab * (1 - influence) + colors


def _pool_hints(values: Tensor, mask: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Values (C,h,w) at hint pixels averaged onto another grid, and that grid's hint mask."""
    m = mask.float()[None]
    total = F.adaptive_avg_pool2d((values * m)[None], size)[0]
    count = F.adaptive_avg_pool2d(m[None], size)[0]
    small_mask = count[0] > 0
    return torch.where(small_mask, total / count.clamp(min=1e-12), torch.zeros_like(total)), small_mask.float()


def _solve(L: Tensor, target: Tensor, mask: Tensor, *, decay: float, sigma: float) -> Tensor:
    """The field (C,h,w) minimising the energy above, channel by channel; `target` (C,h,w) is valid
    where `mask` (h,w) is 1. One factorisation serves every channel."""
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
    rhs = target.reshape(len(target), -1).double().cpu().numpy() * hint
    out = np.stack([solve(channel) for channel in rhs]).reshape(len(target), h, w)
    return torch.from_numpy(out).to(dtype=torch.float32, device=L.device)
