"""Colors from a reference photo: the user gives a color photo with the right colors (the same place
in color, a frame of a color film, a photo with the palette they want), and the colorizer carries
its colors onto the black-and-white photo.

1. **Match regions** (`match`). Both photos go through the generator's pretrained encoder as gray
   images (the reference's colors play no part in matching, so a gray target and a color reference
   are compared alike), at the working size. Each cell of a grid at stride 8 is described by the
   encoder's features at strides 8, 16 and 32 (what it is, and what is around it), each unit-length.
   A target cell takes the colors of the reference cells most like it, their cosine similarity
   lowered by their difference in lightness (sky is bright, a wall in shade is dark).
2. **Weigh each match** by how sure it is: its similarity, and whether the match holds both ways
   (the reference cell's own best match in the target is a cell like this one: a cycle check, as
   exemplar-based colorization does, He et al. 2018). A target region with nothing like it in the
   reference (a red barn, a reference of open fields) gets little weight.
3. **Carry them** (`reference_guides`): each cell's color becomes a hint of that weight, which the
   hint propagation (`propagation.propagate_hints`) spreads along the target's own edges; where the
   weights are low the model's own colors stay. The network itself never sees these hints.

It is strongest for the same kind of place: a reference of other content but the wanted palette
matches little and so changes little (measured: experiments/README.md, "colors from a reference
photo").

Why by hand: deep exemplar-based colorizers (He et al. 2018, Zhang et al. 2019) train a correspondence
network for this; we have the colorizer's own encoder, and matching with it needs no training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from pix2pix_color.core.color import normalize_ab, normalize_l, rgb_to_lab
from pix2pix_color.io.images import ImageError, decode, open_image, source_name
from pix2pix_color.pipeline.assessment import assess, thumbnail

NO_ENCODER = "this model has no pretrained encoder to match a reference photo's regions with"
# The constants below were set once and checked on 149 landscape training photos
# (experiments/reference_study.py --set train), not tuned on the sets the README reports.
# Cells are this many working pixels wide: the encoder's stride 8.
STRIDE = 8
# How much a difference in lightness lowers a match: 0.5 per 100 L* (cosine similarity units).
LIGHTNESS_PENALTY = 0.5
# The colors of the TOP_K most similar reference cells are averaged, weighted by softmax(similarity /
# SOFTMAX_T): one region's color, not one cell's noise.
TOP_K = 4
SOFTMAX_T = 0.02
# Similarity at which a match starts to count, and at which it counts fully.
SIMILARITY_FLOOR, SIMILARITY_FULL = 0.45, 0.75
# The cycle check: how alike (cosine) the target cell and the reference cell's own best match in
# the target must be to count at all / fully.
CYCLE_FLOOR, CYCLE_FULL = 0.5, 0.85


def cell_features(generator, L_work: Tensor) -> Tensor:
    """L* (1,1,h,w) on the working grid, [0,100] -> unit-length cell features (C, h/8 * w/8), from the
    generator's pretrained encoder (strides 8, 16 and 32, each unit-length, upsampled to stride 8)."""
    _, _, f8, f16, f32 = generator.encoder_features(normalize_l(L_work))
    size = f8.shape[-2:]
    parts = [F.normalize(f8, dim=1)]
    for f in (f16, f32):
        parts.append(F.normalize(F.interpolate(f, size=size, mode="bilinear", align_corners=False), dim=1))
    features = torch.cat(parts, dim=1) / len(parts) ** 0.5
    return features[0].flatten(1)


def _ramp(x: Tensor, low: float, high: float) -> Tensor:
    return ((x - low) / (high - low)).clamp(0.0, 1.0)


# Target cells matched per block: a (block, M) score matrix of about this many elements (16 MB in
# float32), whatever the working size; the dense (N, M) matrices were 1.07 GB each at 1024 px.
MATCH_BLOCK_ELEMENTS = 4_000_000


def match(
    features_t: Tensor, L_t: Tensor, features_r: Tensor, L_r: Tensor, ab_r: Tensor, block_elements: int | None = None
) -> tuple[Tensor, Tensor]:
    """Target cells' features (C,N) and mean L* (N,), reference cells' features (C,M), L* (M,) and
    a*b* (M,2) -> each target cell's color from the reference (N,2) and its weight in [0,1] (N,).

    In blocks of target cells (`block_elements` score entries at a time): each block's rows give
    their top matches, and a running maximum over the blocks gives each reference cell's best target
    cell for the cycle check; the same numbers as the whole (N,M) matrices at once, in bounded memory."""
    n, m = features_t.shape[1], features_r.shape[1]
    rows = max(1, (block_elements or MATCH_BLOCK_ELEMENTS) // max(m, 1))
    k = min(TOP_K, m)
    colors, best, sure = features_t.new_empty(n, 2), torch.empty(n, dtype=torch.long), features_t.new_empty(n)
    column_max = features_t.new_full((m,), -float("inf"))
    back = torch.zeros(m, dtype=torch.long)  # (M,): each reference cell's best target cell
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        similarity = features_t[:, start:stop].T @ features_r  # (rows, M)
        score = similarity - LIGHTNESS_PENALTY * (L_t[start:stop, None] - L_r[None, :]).abs() / 100.0
        top, index = score.topk(k, dim=1)
        share = torch.softmax(top / SOFTMAX_T, dim=1)
        colors[start:stop] = (share[..., None] * ab_r[index]).sum(dim=1)
        best[start:stop] = index[:, 0]
        sure[start:stop] = similarity.gather(1, index[:, :1])[:, 0]
        block_max, block_arg = score.max(dim=0)
        better = block_max > column_max  # strictly: the first of equal maxima wins, as argmax's
        column_max = torch.where(better, block_max, column_max)
        back = torch.where(better, block_arg + start, back)
    cycle = (features_t * features_t[:, back[best]]).sum(dim=0)
    weight = _ramp(sure, SIMILARITY_FLOOR, SIMILARITY_FULL) * _ramp(cycle, CYCLE_FLOOR, CYCLE_FULL)
    return colors, weight


def reference_lab(reference, grid_of, max_pixels: int) -> Tensor:
    """A reference photo (path, bytes or PIL) -> its L*a*b* (1,3,h,w) at its working grid,
    `grid_of((H, W))`: the same working size as the target's, whatever the reference's own size.

    Raises `ImageError` for what is not a usable color photo: unreadable, or black and white (it has
    no colors to give)."""
    name = source_name(reference)
    name = "" if name == "image" else f" {name}"  # a PIL image without a file name
    try:
        decoded = decode(open_image(reference, max_pixels=max_pixels))
    except ImageError as e:
        raise ImageError(f"reference photo: {e}") from None
    rgb = None if decoded.rgb is None else Image.fromarray(decoded.rgb.permute(1, 2, 0).numpy())
    # A toned one (sepia, or a misty scene of one hue) is taken: its one hue is the palette asked for.
    if rgb is None or assess(np.asarray(thumbnail(rgb))).kind == "gray":
        raise ImageError(f"reference photo{name} is black and white: it has no colors to give")
    h, w = grid_of((rgb.height, rgb.width))
    small = rgb.resize((w, h), Image.BOX)
    return rgb_to_lab(torch.from_numpy(np.asarray(small).copy()).permute(2, 0, 1))[None]


@dataclass
class ReferenceCells:
    """A reference photo ready to match against: its cells' features (C, M) and mean L*a*b* (3, M)."""

    features: Tensor
    lab: Tensor


@torch.inference_mode()
def reference_cells(generator, reference, grid_of, max_pixels: int, device="cpu") -> ReferenceCells:
    """A reference photo (path, bytes or PIL) -> its `ReferenceCells` at its working grid
    (`grid_of((H, W))`, the same working size as the photos it colors). Made once for a video or a
    batch. Raises `ImageError` for an unusable reference, ValueError for a model without a
    pretrained encoder."""
    if getattr(generator, "encoder", "none") == "none":
        raise ValueError(NO_ENCODER)
    lab = reference_lab(reference, grid_of, max_pixels).to(device)
    return ReferenceCells(cell_features(generator, lab[:, :1]), F.avg_pool2d(lab, STRIDE)[0].flatten(1))


@torch.inference_mode()
def reference_guides(generator, L_work: Tensor, cells: ReferenceCells) -> Tensor:
    """The target's L* (B,1,h,w) on its working grid and a prepared reference -> guide channels
    (B,3,h,w): a*b* in model scale and a weight at each cell's center, 0 elsewhere (what
    `Prediction.guides` holds; propagated like hints)."""
    out = L_work.new_zeros(L_work.shape[0], 3, *L_work.shape[-2:])
    for i in range(L_work.shape[0]):
        L = L_work[i : i + 1]
        cells_t = F.avg_pool2d(L, STRIDE)  # (1,1,rows,cols)
        colors, weight = match(
            cell_features(generator, L), cells_t.flatten(), cells.features, cells.lab[0], cells.lab[1:].T
        )
        rows, cols = cells_t.shape[-2:]
        centers = (slice(STRIDE // 2, rows * STRIDE, STRIDE), slice(STRIDE // 2, cols * STRIDE, STRIDE))
        out[i, :2, centers[0], centers[1]] = normalize_ab(colors.T.reshape(2, rows, cols))
        # Every cell is a hint, an unsure one of (almost) no weight: it then holds the model's own
        # color there instead of letting a sure neighbour's color flow in.
        out[i, 2, centers[0], centers[1]] = weight.reshape(rows, cols).clamp(min=1e-3)
    return out
