"""Pre- and post-processing around the generator: working shapes, resizing, guided upsampling.

The generator sees a photo's L* at a modest working resolution; these functions pick that
resolution, resize to it, and bring the predicted a*b* back to the photo's full size along its own
edges. Tensors in, tensors out: the colorizer (`inference.py`), video, calibration and benchmarks
share them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pix2pix_color.core.color import lab_to_rgb, lab_to_rgb_pixels, srgb_byte_table, srgb_cells, worker_pool

# Pixels per strip of `compose_rgb`: 2^17 measured fastest at 12 MP on 2 cores (2^15: 1.3x slower, op overhead).
STRIP_PIXELS = 1 << 17


def working_shape(height: int, width: int, long_side: int, multiple: int) -> tuple[int, int]:
    """Aspect-preserving (h, w) with the long side near `long_side`, both multiples of `multiple`."""

    def snap(x: float) -> int:
        return max(multiple, int(round(x / multiple)) * multiple)

    long_px = snap(long_side)
    if height >= width:
        return long_px, snap(long_px * width / height)
    return snap(long_px * height / width), long_px


def guided_upsample(L_low: Tensor, ab_low: Tensor, L_full: Tensor, *, radius: int = 2, eps: float = 1e-3) -> Tensor:
    """Fast guided filter (He & Sun 2015): a*b* (B,2,h,w) -> (B,2,H,W), edges following L* (B,1,H,W).

    Plain bilinear upsampling of chroma predicted at 128-256 px smears color across sharp edges of a
    large photo (a blue halo of sky over a dark ridge). Here a*b* is modelled, in each small window of
    the working resolution, as a linear function of L*; the coefficients are smooth, so they are
    upsampled instead, and applied to the full-resolution L*: color edges land where the photo's
    own edges are. All box filtering happens at the working resolution; at full resolution it costs
    one bilinear resize of 4 channels and a multiply-add.
    """
    return apply_guided(*guided_coefficients(L_low, ab_low, radius=radius, eps=eps), L_full)


def guided_coefficients(L_low: Tensor, ab_low: Tensor, *, radius: int = 2, eps: float = 1e-3) -> tuple[Tensor, Tensor]:
    """The low-resolution half of `guided_upsample`: L* (B,1,h,w), a*b* (B,2,h,w) -> per-pixel linear
    coefficients (B,4,h,w: slope a, slope b, offset a, offset b) and chroma bound (B,1,h,w). Batched
    here, applied frame by frame at full resolution (video does that: one call for many frames)."""

    def box(x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)

    guide = L_low / 100.0
    mean_guide = box(guide)
    var_guide = box(guide * guide) - mean_guide * mean_guide
    mean_ab = box(ab_low)
    cov = box(guide * ab_low) - mean_guide * mean_ab
    slope = cov / (var_guide + eps)
    offset = mean_ab - slope * mean_guide
    limit = F.max_pool2d(torch.linalg.vector_norm(ab_low, dim=1, keepdim=True), 3, 1, 1)
    return torch.cat([box(slope), box(offset)], dim=1), limit


def apply_guided(coefficients: Tensor, limit: Tensor, L_full: Tensor) -> Tensor:
    """The full-resolution half of `guided_upsample`: coefficients (B,4,h,w), bound (B,1,h,w) and L*
    (B,1,H,W) -> a*b* (B,2,H,W)."""
    slope_full, offset_full = resize(coefficients, L_full.shape[-2:]).split(2, dim=1)
    ab = slope_full * (L_full / 100.0) + offset_full
    # Where L* varies more at full resolution than the window saw (grain, per-pixel noise), the
    # linear model extrapolates: bound each pixel's chroma by the largest one predicted around it.
    limit = resize(limit, L_full.shape[-2:])
    # Elementwise rather than vector_norm over the channel dimension: 6 ms instead of 220 at 1 MP.
    chroma_squared = ab[:, :1] * ab[:, :1] + ab[:, 1:2] * ab[:, 1:2]
    return ab * torch.rsqrt(chroma_squared.clamp(min=1e-12)).mul_(limit).clamp_(max=1.0)


def resize(x: Tensor, size: Sequence[int]) -> Tensor:
    """(B,C,h,w) -> (B,C,*size), bilinear; antialiased when shrinking so L* does not alias."""
    shrinking = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=tuple(size), mode="bilinear", antialias=shrinking, align_corners=False)


def compose_rgb(L: Tensor, coefficients: Tensor, limit: Tensor, depth: int = 8) -> np.ndarray:
    """L* (H,W), `guided_coefficients`' maps (4,h,w) and chroma bound (1,h,w) -> the colorized image
    (H,W,3) uint8 (uint16 with `depth` 16, for 16-bit scans): `apply_guided` and `lab_to_rgb` fused,
    the way photos and video frames are finished.

    In strips of rows that the CPU's threads take in turn, each straight into the output: bilinear
    resizing (align_corners=False) is separable, so the maps are widened once and a strip blends the
    two of their rows each of its rows falls between, and a strip's temporaries stay in cache. A 12 MP
    photo never holds its full-size a*b*, coefficient maps or float RGB (~600 MB), and the same pixels
    come out to within one level of the whole-image path (tested): the sRGB curve is
    `lab_to_srgb_bytes`' table. Why by hand: no library fuses guided filtering with Lab decoding.
    """
    H, W = L.shape
    h, w = coefficients.shape[-2:]
    if H < h or W < w:  # smaller than the working grid: the whole-image path, which antialiases
        L_full = L.float()[None, None]
        ab = apply_guided(coefficients[None].float(), limit[None].float(), L_full)
        lab = torch.cat([L_full, ab], dim=1)[0]
        if depth == 16:
            return (lab_to_rgb(lab) * 65535).round_().to(torch.int32).permute(1, 2, 0).numpy().astype(np.uint16)
        return lab_to_rgb(lab, dtype=torch.uint8).permute(1, 2, 0).numpy()
    wide = F.interpolate(_f_maps(coefficients, limit)[None], size=(h, W), mode="bilinear", align_corners=False)[0]
    source = ((torch.arange(H, dtype=torch.float64) + 0.5) * (h / H) - 0.5).clamp(min=0)
    top = source.floor().long().clamp(max=h - 1)
    weight = (source - top).float()[:, None]
    # Runs of rows between the same two rows of the maps: one lerp each, on views (no gather).
    runs = torch.unique_consecutive(top, return_counts=True)
    bounds = np.concatenate([[0], np.cumsum(runs[1].numpy())]).tolist()
    run_rows = list(zip(runs[0].tolist(), bounds[:-1], bounds[1:], strict=True))
    out = np.empty((H, W, 3), np.uint16 if depth == 16 else np.uint8)
    table = srgb_byte_table(L.device)
    rows_per_strip = max(1, STRIP_PIXELS // W)
    inference = torch.is_inference_mode_enabled()

    def strip(start: int) -> None:
        stop = min(H, start + rows_per_strip)
        with torch.inference_mode(inference):
            maps = torch.empty(5, stop - start, W)
            for k, first, last in run_rows[bisect.bisect_right(bounds, start) - 1 :]:
                if first >= stop:
                    break
                first, last = max(first, start), min(last, stop)
                if first < last:
                    pair = wide[:, k : min(k + 2, h)]  # the last row blends with itself
                    torch.lerp(pair[:, :1], pair[:, -1:], weight[first:last], out=maps[:, first - start : last - start])
            f = _strip_f(maps, L[start:stop].float()).view(3, -1)
            if depth == 16:  # the exact curve: the byte table is 8-bit
                rgb16 = lab_to_rgb_pixels(_f_to_lab(f)).mul_(65535).round_().to(torch.int32)
                out[start:stop] = rgb16.view(3, -1, W).permute(1, 2, 0).numpy()
                return
            # Cells interleaved before the lookup: a transposing copy of int32 costs a fifth of one of bytes.
            cells = torch.empty(f.shape[1], 3, dtype=torch.int32)
            cells.t().copy_(srgb_cells(f))
            torch.index_select(table, 0, cells.view(-1), out=torch.from_numpy(out[start:stop]).view(-1))

    # Each strip's ops are below torch's intra-op threshold: the pool's threads do not compete with it.
    list(worker_pool(max(1, torch.get_num_threads())).map(strip, range(0, H, rows_per_strip)))
    return out


# Scales that turn the guided maps into f's terms: slopes per L* (not per L*/100), a*/500 and -b*/200,
# so that fx = fy + s * a', fz = fy + s * b', and the chroma bound in units of 200.
_F_MAP_SCALE = torch.tensor([1 / 50_000, -1 / 20_000, 1 / 500, -1 / 200, 1 / 200])[:, None, None]


def _f_maps(coefficients: Tensor, limit: Tensor) -> Tensor:
    """(4,h,w) guided maps + (1,h,w) bound -> (5,h,w) in f's terms, finite (a broken model's NaN
    becomes no color, not an index out of the byte table)."""
    maps = torch.cat([coefficients, limit]).float().nan_to_num_(0.0, 0.0, 0.0)
    return maps.clamp_(-1e4, 1e4).mul_(_F_MAP_SCALE.to(maps.device))


def _strip_f(maps: Tensor, L: Tensor) -> Tensor:
    """(5,n,W) maps in f's terms and L* (n,W) -> (3,n,W) CIE f values, chroma bounded as in
    `apply_guided`: |ab| = 200 * sqrt(6.25 a'^2 + b'^2), and a negative Z clipped."""
    ab = torch.addcmul(maps[2:4], maps[:2], L)
    chroma = torch.addcmul(ab[1].square(), ab[0], ab[0], value=6.25)
    shrink = chroma.clamp_min_(1e-16).rsqrt_().mul_(maps[4]).clamp_max_(1.0)
    f = torch.empty(3, *L.shape)
    torch.clamp(L, 0.0, 100.0, out=f[1]).add_(16).div_(116)
    torch.addcmul(f[1], ab[0], shrink, out=f[0])
    torch.addcmul(f[1], ab[1], shrink, out=f[2]).clamp_min_(0.0)
    return f


def _f_to_lab(f: Tensor) -> Tensor:
    """(3,P) f values -> (3,P) L*a*b* (the 16-bit path decodes through the exact curve)."""
    fx, fy, fz = f
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)])
