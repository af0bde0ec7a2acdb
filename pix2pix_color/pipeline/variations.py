"""Variations: other coherent colorings where a gray value cannot decide (a cup red or blue, a sky
by day or at dusk).

The classification head gives, for every pixel, a distribution over a*b* bins. Where the network
is sure, one hue holds nearly all of it; where it hesitates, two or three hues share it. A
variation is the same distribution decoded with one hue sector favoured photo-wide: the annealed
distribution's bins in that sector are multiplied by exp(`BOOST`). A pixel whose distribution gives
the sector almost nothing (a sure green lawn, when the sector is red) does not move; a hesitant one
goes over to the sector. Because the network's distribution varies smoothly over a region, a
region goes over as a whole: a coherent photo, not per-pixel noise, and no segmentation to tune.
The sectors offered for a photo are those with the most *alternative* mass: probability that its
hesitant pixels give a hue other than the one `colorize` shows.

A variation is one number (`PredictOptions.hue_sector`), so hints, strength and the rest of the
pipeline apply to a picked variation exactly as to the first coloring.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from pix2pix_color.core import ab_bins

SECTORS = 8  # hue sectors of 45 degrees, the first centred on 0 (pinkish red)
SECTOR_MIN_CHROMA = 15.0  # bins nearer gray than this belong to no sector: gray is not a variation
# Log-factor (x3.5) on a sector's annealed probability: flips a hesitant pixel, not a sure one. The
# larger, the more a variation differs, and the further a wrong one falls in PSNR: on photos-hq (24 at
# 512 px) boosts 1 / 1.25 / 1.5 / 3 gave best-of-4 color hit gains of 0.067 / 0.086 / 0.106 / 0.205,
# the variations' PSNR 20.99-21.03 / 20.95-21.00 / 20.91-20.97 / 20.52-20.63 against gray's 20.98
# (experiments/variations_study.py): 1.25 is the largest that keeps them about level with gray.
BOOST = 1.25
SCORE_STRIDE = 4  # `sector_scores` reads every 4th pixel of the model's grid each way
SECTOR_NAMES = ("red", "orange", "yellow", "green", "cyan", "blue", "violet", "magenta")


def check_hue_sector(value: int | None) -> int | None:
    """None (the plain decoding) or a sector 0..SECTORS-1; anything else raises ValueError."""
    if value is not None and (isinstance(value, bool) or value not in range(SECTORS)):
        raise ValueError(f"hue_sector must be from 0 to {SECTORS - 1}, got {value!r}")
    return value


def _sector_of(a: Tensor, b: Tensor) -> Tensor:
    """a*, b* (any shape) -> their hue sector (long, same shape), -1 where nearer gray than SECTOR_MIN_CHROMA."""
    hue = torch.rad2deg(torch.atan2(b, a)) % 360
    sector = torch.floor(((hue + 180 / SECTORS) % 360) / (360 / SECTORS)).long()
    return torch.where(torch.hypot(a, b) >= SECTOR_MIN_CHROMA, sector, torch.full_like(sector, -1))


def _sector_of_bins(device: torch.device) -> Tensor:
    """(Q,) long: each a*b* bin's hue sector, or -1 for a bin near gray."""
    centers = ab_bins.bin_centers(device)
    return _sector_of(centers[:, 0], centers[:, 1])


def sector_boost(sector: int) -> Tensor:
    """(SECTORS,) the ONNX graph's `sector_boost` input for the variation favouring `sector`."""
    boost = torch.zeros(SECTORS)
    boost[sector] = BOOST
    return boost


def sector_bias(sector: int, device: torch.device, boost: float | None = None) -> Tensor:
    """(1,Q,1,1) bias to add to logits / temperature: `boost` (default `BOOST`) on the bins of hue `sector`."""
    boost = BOOST if boost is None else boost
    if not 0 <= sector < SECTORS:
        raise ValueError(f"hue sector must be from 0 to {SECTORS - 1}, got {sector!r}")
    return ((_sector_of_bins(device) == sector).float() * boost).view(1, -1, 1, 1)


def decode_with_sector(logits: Tensor, temperature: float, sector: int | None) -> Tensor:
    """Bin logits (B,Q,h,w) -> a*b* (B,2,h,w): the annealed mean at `temperature`, with hue `sector`
    favoured (`sector_bias`); None: the plain annealed mean, as `colorize` decodes."""
    z = logits.float() / temperature
    if sector is not None:
        z = z + sector_bias(sector, logits.device)
    return torch.einsum("bqhw,qc->bchw", torch.softmax(z, dim=1), ab_bins.bin_centers(logits.device))


def sector_matrix(device: torch.device) -> Tensor:
    """(Q, SECTORS) float: 1 where a bin lies in a sector (bins near gray in none)."""
    return (_sector_of_bins(device)[:, None] == torch.arange(SECTORS, device=device)).float()


def sector_scores(logits: Tensor, shown: Tensor, matrix: Tensor | None = None) -> Tensor:
    """Bin logits (B,Q,h,w) and the a*b* shown there (B,2,h,w) -> (B, SECTORS): each sector's
    probability, at temperature 1, on pixels whose shown hue is another sector's or gray, averaged
    over the photo: how much another coloring has to offer. Written with ops every ONNX runtime has
    (no atan2: a hue's sector is the one whose centre direction is nearest), so the exported graph
    returns the same scores (`onnx_export`) and the browser page ranks variations as the library.
    `matrix`: `sector_matrix`, where the caller holds it (the graph, as a constant)."""
    # Every SCORE_STRIDE-th pixel each way: an average over a sixteenth of the grid ranks the sectors
    # as the whole grid does (the variations study's numbers are unchanged), and the graph, which
    # returns the scores beside every coloring, then costs 4% more instead of 14% (at 384x512).
    z = logits.float()[:, :, ::SCORE_STRIDE, ::SCORE_STRIDE]
    shown = shown[:, :, ::SCORE_STRIDE, ::SCORE_STRIDE]
    matrix = sector_matrix(logits.device) if matrix is None else matrix
    # One 1x1 convolution sums each sector's and all the probability (ONNX Runtime runs a
    # convolution far faster than an einsum over the bins' axis, which it transposes first).
    weights = torch.cat([matrix.T, torch.ones(1, matrix.shape[0], device=matrix.device)])[:, :, None, None]
    sums = F.conv2d((z - z.amax(dim=1, keepdim=True)).exp(), weights)
    mass = sums[:, :SECTORS] / sums[:, SECTORS:]
    angles = torch.arange(SECTORS, device=logits.device, dtype=torch.float32) * (2 * torch.pi / SECTORS)
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)[:, :, None, None]  # (S,2,1,1)
    dots = F.conv2d(shown.float(), directions)
    colorful = (shown.float().square().sum(dim=1, keepdim=True) >= SECTOR_MIN_CHROMA**2).float()
    shown_in = (dots >= dots.amax(dim=1, keepdim=True)).float() * colorful
    return (mass * (1.0 - shown_in)).mean(dim=(2, 3))


def alternative_sectors(logits: Tensor, temperature: float, count: int) -> list[int]:
    """Bin logits (1,Q,h,w) -> the `count` hue sectors (best first) holding the most probability,
    at temperature 1, on pixels whose shown hue (the annealed mean's) is another sector's or gray
    (`sector_scores`).

    Ties and photos with no hesitation still give `count` distinct sectors (by mass, then by
    index), so `n` variations are always `n` images."""
    score = sector_scores(logits, decode_with_sector(logits, temperature, None))[0]  # (S,)
    return ranked_sectors(score.tolist(), count)


def ranked_sectors(scores: list[float], count: int) -> list[int]:
    """Sector scores -> the `count` best sectors, ties by index (the browser page ranks alike)."""
    order = sorted(range(SECTORS), key=lambda s: (-float(scores[s]), s))
    return order[: max(0, min(count, SECTORS))]


def sector_name(sector: int) -> str:
    """A hue sector's everyday name ("orange"), for captions."""
    return SECTOR_NAMES[sector]
