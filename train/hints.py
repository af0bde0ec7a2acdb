"""Simulated users for training with color hints (Zhang et al. 2017, "Real-Time User-Guided Image
Colorization"): each photo of a batch gets a random number of hints, each revealing the real
photo's mean a*b* over a small square patch at a random place.

Half of the photos get none, so the network stays a good automatic colorizer; the others get a
geometric number of points (mean 8, as in the paper: few hints are common, many are rare).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pix2pix_color.models.networks import HINT_CHANNELS

NO_HINTS_SHARE = 0.5
GEOMETRIC_P = 1 / 8
MAX_POINTS = 64
MAX_PATCH = 5  # patch sides 1..5 px at the training resolution (1..9 at 256 in the paper)


def simulate_hints(ab: Tensor, generator: torch.Generator) -> Tensor:
    """True ab (B,2,H,W), model scale -> hints (B,3,H,W): hint a*b* and a 0/1 mask, zeros elsewhere.

    `generator` (CPU) makes every choice, so a run seeded per step draws the same hints on resume.
    """
    B, _, H, W = ab.shape
    hints = ab.new_zeros(B, HINT_CHANNELS, H, W)
    for i in range(B):
        if torch.rand((), generator=generator) < NO_HINTS_SHARE:
            continue
        u = torch.rand((), generator=generator).clamp(min=1e-6)
        n = min(MAX_POINTS, 1 + int(torch.log(u) / torch.log(torch.tensor(1 - GEOMETRIC_P))))
        sides = torch.randint(1, MAX_PATCH + 1, (n,), generator=generator).tolist()
        ys = (torch.rand(n, generator=generator) * (H - torch.tensor(sides) + 1)).long().tolist()
        xs = (torch.rand(n, generator=generator) * (W - torch.tensor(sides) + 1)).long().tolist()
        for s, y, x in zip(sides, ys, xs):
            patch = ab[i, :, y : y + s, x : x + s]
            hints[i, :2, y : y + s, x : x + s] = patch.mean(dim=(1, 2), keepdim=True)
            hints[i, 2, y : y + s, x : x + s] = 1.0
    return hints
