"""Where the colors are guesses: a per-pixel confidence from the classification head's distribution,
and the few points where one hint would help most.

The head predicts, for every pixel, a distribution over a*b* bins (`ab_bins`). The confidence is the
model's own probability that the hue it shows is right, in the sense of the hue hit rate (the real
color within 45 degrees of the shown hue, given that the real pixel is colorful), times how surely
the shown color is colored at all (a gray output is never the right hue of a colorful thing):

    confidence = P_T(hue within 45 deg | C*ab >= 20) * sigmoid((C*ab_shown - 10) / 2)

with P_T the softmax at the model's decoding temperature. Chosen against the other spreads one could
read (entropy, the distribution's spread in a*b*, the top bin's probability, the shown chroma) on
200 photos of the training split, where it ranked the pixels whose hue is wrong best
(`experiments/confidence_study.py`; the README has its scores on the validation split and photos-hq).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from pix2pix_color.core import ab_bins
from pix2pix_color.core.hue import HUE_OUTPUT_CHROMA, HUE_REAL_CHROMA, HUE_TOLERANCE_DEG

SUGGESTIONS = 3


def hue_confidence(logits: Tensor, temperature: float, ab_shown: Tensor) -> Tensor:
    """Bin logits (B,Q,h,w) and the a*b* shown there (B,2,h,w) -> confidence (B,1,h,w) in [0,1]."""
    centers = ab_bins.bin_centers(logits.device)  # (Q,2)
    p = torch.softmax(logits.float() / temperature, dim=1)
    colorful = (centers.norm(dim=1) >= HUE_REAL_CHROMA).float()[None, :, None, None]
    hue_bins = torch.atan2(centers[:, 1], centers[:, 0])[None, :, None, None]
    a, b = ab_shown[:, 0:1].float(), ab_shown[:, 1:2].float()
    # The difference of hue angles, wrapped into (-pi, pi]: bins on the shown hue's side count.
    diff = torch.remainder(hue_bins - torch.atan2(b, a) + math.pi, 2 * math.pi) - math.pi
    near = (diff.abs() <= math.radians(HUE_TOLERANCE_DEG)).float()
    right = (p * colorful * near).sum(1, keepdim=True) / (p * colorful).sum(1, keepdim=True).clamp_min(1e-9)
    colored = torch.sigmoid(((a * a + b * b).sqrt() - HUE_OUTPUT_CHROMA) / 2)
    return (right * colored).clamp(0, 1)


def suggest_points(
    confidence: Tensor, L: Tensor, shape: tuple[int, int] | None = None, n: int = SUGGESTIONS
) -> list[tuple[int, int]]:
    """Confidence (h,w) and L* (h,w) on one grid -> up to `n` (x, y) pixel points of the photo of
    `shape` (H, W; default the grid's own) where one hint would help most: the centers of the
    largest unsure regions, at least a quarter of the photo's long side apart.

    A hint recolors a region along the photo's edges (about a quarter of its long side where no edge
    stops it), so what counts is how much unsure area lies around a point, not one unsure pixel;
    near-black and near-white places are left out (their colors barely show). The working grid may
    not have the photo's aspect (its sides are multiples of the network's), so distances are the photo's.
    """
    h, w = confidence.shape
    H, W = shape or (h, w)
    reach = max(H, W) / 4  # in the photo's pixels
    visible = torch.sigmoid((L - 12) / 3) * torch.sigmoid((92 - L) / 3)
    doubt = ((1 - confidence) * visible)[None, None]
    # The unsure area within a hint's reach; outside the photo counts as sure, so that a point sits
    # inside the unsure region rather than on the photo's border.
    kh, kw = (max(3, int(reach * cells / pixels) | 1) for cells, pixels in ((h, H), (w, W)))
    region = F.avg_pool2d(doubt, (kh, kw), stride=1, padding=(kh // 2, kw // 2), count_include_pad=True)[0, 0]
    ys = (torch.arange(h, dtype=torch.float32)[:, None] + 0.5) * H / h
    xs = (torch.arange(w, dtype=torch.float32)[None, :] + 0.5) * W / w
    points = []
    for _ in range(n):
        index = int(region.argmax())
        y, x = divmod(index, w)
        if region[y, x] <= 0.05:  # nothing left worth a click
            break
        px, py = float(xs[0, x]), float(ys[y, 0])
        points.append((min(int(px), W - 1), min(int(py), H - 1)))
        region = region.masked_fill((xs - px) ** 2 + (ys - py) ** 2 <= reach**2, 0)
    return points


@dataclass
class Confidence:
    """How sure the model is of each pixel's color, and where a hint would help most.

    `map`: (H,W) float32 in [0,1] at the photo's size, the model's probability that the hue shown is
    right (see the module). `suggestions`: up to three (x, y) pixel points of the photo, most useful
    first."""

    map: np.ndarray
    suggestions: list[tuple[int, int]]

    def image(self) -> Image.Image:
        """The map as an 8-bit grayscale image: white where the model is sure, black where it guesses."""
        return Image.fromarray((self.map * 255 + 0.5).astype(np.uint8), "L")

    def overlay(self, colorized: Image.Image, strength: float = 0.6) -> Image.Image:
        """`colorized` with its guessed places hatched in magenta (a color no landscape prediction
        has): the less sure, the more; for showing the map over the photo."""
        rgb = np.asarray(colorized.convert("RGB")).astype(np.float32)
        doubt = (1 - self.map)[..., None] * strength
        height, width = self.map.shape
        stripes = ((np.add.outer(np.arange(height), np.arange(width)) // 6) % 2).astype(np.float32)[..., None]
        tint = np.array([255, 0, 200], np.float32)
        out = rgb * (1 - doubt * stripes) + tint * doubt * stripes
        return Image.fromarray(out.clip(0, 255).astype(np.uint8), "RGB")


def confidence_at(logits: Tensor, temperature: float, ab_work: Tensor, L_work: Tensor, shape: tuple[int, int]):
    """Logits (1,Q,h/2,w/2), the a*b* shown (1,2,h,w) and L* (1,1,h,w) on the working grid -> the
    `Confidence` of a photo of `shape` (H, W)."""
    low = F.interpolate(ab_work.float(), size=logits.shape[-2:], mode="area")
    grid = hue_confidence(logits, temperature, low)
    L_low = F.interpolate(L_work.float(), size=logits.shape[-2:], mode="area")[0, 0]
    points = suggest_points(grid[0, 0], L_low, shape)
    full = F.interpolate(grid, size=shape, mode="bilinear", align_corners=False)[0, 0]
    return Confidence(full.clamp(0, 1).cpu().numpy().astype(np.float32), points)
