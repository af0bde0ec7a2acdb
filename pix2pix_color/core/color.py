"""sRGB <-> CIE L*a*b* (D65, 2 degree observer) on tensors, and the model's normalisation.

The formulas and constants are scikit-image's (`rgb2lab`/`lab2rgb`), so results agree with it to
float32 precision; tests check that on a dense grid of colors.

Why not just the textbook torch formula: at 12 megapixels every elementwise op streams ~150 MB
through memory and allocates a fresh buffer (page faults), which makes it barely 2x faster than
scikit-image. On the CPU we instead run the whole per-pixel formula on cache-sized chunks, spread
over threads, and read 8-bit inputs through a 256-entry lookup table (sRGB decoding is the costly
`pow(x, 2.4)`). No library offers fused, threaded Lab conversion for torch tensors, hence this file.
On accelerators the plain formula is used on the whole tensor (it is already fast there).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image
from torch import Tensor

# scikit-image's sRGB -> XYZ matrix and D65 white point.
_XYZ_FROM_RGB = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_D65_WHITE = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)

# Pixels per chunk: 3 channels x 4 bytes x 128K pixels ~ 1.5 MB, so a chunk's temporaries stay in L2.
_CHUNK_PIXELS = 1 << 17

# The model's normalisation, in this one place: L in [0,100] -> [-1,1], ab in ~[-110,110] -> ~[-1,1].
L_SCALE, L_SHIFT = 50.0, 1.0
AB_SCALE = 110.0


def normalize_l(L: Tensor) -> Tensor:
    """L* in [0,100] -> model input in [-1,1]."""
    return L / L_SCALE - L_SHIFT


def normalize_ab(ab: Tensor) -> Tensor:
    """a*b* -> model space (ab / 110)."""
    return ab / AB_SCALE


def denormalize_ab(ab: Tensor) -> Tensor:
    """Model output in [-1,1] -> a*b*."""
    return ab * AB_SCALE


@functools.cache
def _constants(device: torch.device) -> dict[str, Tensor]:
    # XYZ is divided by the white point in rgb->lab and multiplied by it in lab->rgb; fold that
    # scaling into the matrices so each direction is one 3x3 product.
    xyzn_from_rgb = _XYZ_FROM_RGB / _D65_WHITE[:, None]
    rgb_from_xyzn = torch.linalg.inv(_XYZ_FROM_RGB) * _D65_WHITE[None, :]
    levels = torch.arange(256, dtype=torch.float64) / 255
    linear_lut = _srgb_to_linear(levels)
    return {
        "xyzn_from_rgb": xyzn_from_rgb.float().to(device),
        "rgb_from_xyzn": rgb_from_xyzn.float().to(device),
        "linear_lut": linear_lut.float().to(device),  # sRGB byte -> linear RGB
        "l_lut": (116 * _f(linear_lut) - 16).float().to(device),  # gray byte -> L*
        # sqrt(linear) in SRGB_CELLS even cells -> the sRGB byte at each cell's centre (see below);
        # one cell more for sqrt(1.0) itself, so a white pixel needs no clamp of its index
        "srgb_byte_lut": (_linear_to_srgb(_srgb_cell_centres() ** 2) * 255).round().to(torch.uint8).to(device),
        # rgb_from_xyzn scaled by SRGB_CELLS**2: sqrt of its product is the table cell itself
        "cells_from_xyzn": (rgb_from_xyzn * SRGB_CELLS**2).float().to(device),
    }


SRGB_CELLS = 1 << 16


def _srgb_cell_centres() -> Tensor:
    return ((torch.arange(SRGB_CELLS + 1, dtype=torch.float64) + 0.5) / SRGB_CELLS).clamp_max(1.0)


# Each piecewise curve below is written branch-free as  g(max(x, k)) + slope * min(x - k, 0),
# which equals the textbook `where(x > k, g(x), linear(x))` because the pieces meet at k; clamps are
# several times cheaper than where() on the CPU, and pow() is computed as exp(log(x) * p), which is
# 2.5x faster than torch's pow with a fractional exponent and as accurate in float32.


def _pow(x: Tensor, exponent: float) -> Tensor:
    """x ** exponent for x > 0."""
    return x.log().mul_(exponent).exp_()


def _srgb_to_linear(x: Tensor) -> Tensor:
    k = 0.04045
    return _pow((x.clamp_min(k) + 0.055) / 1.055, 2.4) + (x - k).clamp_max_(0.0) / 12.92


def _linear_to_srgb(x: Tensor) -> Tensor:
    # Clamping to [0,1] first is the gamut clip, and keeps log() away from negatives.
    x = x.clamp(0.0, 1.0)
    k = 0.0031308
    srgb = _pow(x.clamp_min(k), 1 / 2.4).mul_(1.055).sub_(0.055) + (x - k).clamp_max_(0.0) * 12.92
    return srgb.clamp_(0.0, 1.0)  # the two pieces meet at k only to float precision


def _f(t: Tensor) -> Tensor:
    """CIE's companding of XYZ/white: cube root above 0.008856, linear (slope 7.787) below."""
    k = 0.008856
    return _pow(t.clamp_min(k), 1 / 3) + (t - k).clamp_max_(0.0) * 7.787


def _f_inverse(f: Tensor) -> Tensor:
    k = 0.2068966
    # pow with the integer 3 is one pass (half the time of cube * cube * cube)
    return torch.add(f.clamp_min(k).pow_(3), (f - k).clamp_max_(0.0), alpha=1 / 7.787)


def _to_linear(rgb: Tensor, c: dict[str, Tensor]) -> Tensor:
    if rgb.dtype == torch.uint8:
        # index_select is several times faster than advanced indexing for a table lookup.
        return c["linear_lut"].index_select(0, rgb.reshape(-1).long()).view(rgb.shape)
    if not rgb.is_floating_point():
        raise TypeError(f"expected uint8 or floating RGB, got {rgb.dtype}")
    return _srgb_to_linear(rgb.float())


def _rgb_to_lab_pixels(rgb: Tensor) -> Tensor:
    """(..., 3, P) sRGB (uint8, or float in [0,1]) -> (..., 3, P) float32 L*a*b*."""
    c = _constants(rgb.device)
    f = _f(c["xyzn_from_rgb"] @ _to_linear(rgb, c))
    fx, fy, fz = f.unbind(-2)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-2)


def _rgb_to_l_pixels(rgb: Tensor) -> Tensor:
    """(..., 3, P) sRGB -> (..., 1, P) float32 L*; only the Y row of the matrix is needed."""
    c = _constants(rgb.device)
    y = c["xyzn_from_rgb"][1:2] @ _to_linear(rgb, c)
    return 116 * _f(y) - 16


def lab_to_rgb_pixels(lab: Tensor, out_dtype: torch.dtype = torch.float32) -> Tensor:
    """(..., 3, P) L*a*b* -> (..., 3, P) sRGB in [0,1] (or uint8), clipped to the gamut."""
    c = _constants(lab.device)
    # NaN and huge values (a broken model, a hostile input) must not become NaN pixels: L* outside
    # [0,100] is no color, and |a*|,|b*| beyond 500 is far outside any gamut either way.
    L, a, b = lab.float().nan_to_num(0.0).unbind(-2)
    L, a, b = L.clamp(0.0, 100.0), a.clamp(-500.0, 500.0), b.clamp(-500.0, 500.0)
    fy = (L + 16) / 116
    # A negative Z is not a color; clip it to 0 as scikit-image does.
    f = torch.stack([fy + a / 500, fy, (fy - b / 200).clamp_min(0.0)], dim=-2)
    rgb = _linear_to_srgb(c["rgb_from_xyzn"] @ _f_inverse(f))
    if out_dtype == torch.uint8:
        return rgb.mul_(255).round_().to(torch.uint8)
    return rgb.to(out_dtype)


def lab_to_srgb_bytes(lab: Tensor) -> Tensor:
    """(3, P) L*a*b* -> (3, P) uint8 sRGB, for finishing photos on the CPU: `lab_to_rgb_pixels`'
    bytes to within one level (0.09% of random colors differ by 1), 2x faster.

    The sRGB curve (a pow per channel, half of the conversion's time) becomes one table lookup:
    the byte of linear value x is read at sqrt(x) from a table of 2**16 even cells (in sqrt(x) the
    curve's slope is bounded: at most 0.1 of a level per cell), and sqrt(x) is x * rsqrt(x), which
    is 6x faster than torch's sqrt on the AMD EPYC this was measured on (see benchmarks/README.md).
    Kept apart from `lab_to_rgb`, whose round trip to rgb_to_lab is byte-exact (tested).
    """
    c = _constants(lab.device)
    L, a, b = lab.float().nan_to_num(0.0).unbind(-2)
    fy = L.clamp(0.0, 100.0).add_(16).div_(116)
    f = torch.empty(3, fy.shape[-1], device=lab.device)
    torch.add(fy, a.clamp(-500.0, 500.0), alpha=1 / 500, out=f[0])
    f[1] = fy
    torch.add(fy, b.clamp(-500.0, 500.0), alpha=-1 / 200, out=f[2]).clamp_min_(0.0)
    return c["srgb_byte_lut"].index_select(0, srgb_cells(f).view(-1)).view(3, -1)


def srgb_cells(f: Tensor) -> Tensor:
    """(3, P) CIE f values (fx, fy, fz: (L*+16)/116 with a*/500 added, b*/200 taken away) -> (3, P)
    int32 cells of the byte table; the tail of `lab_to_srgb_bytes`, shared with `compose_rgb`, which
    forms f straight from its maps. f must be finite. The cell of linear value x is
    SRGB_CELLS * sqrt(x) = y * rsqrt(y) for y = SRGB_CELLS**2 * x, the scale folded into the matrix."""
    c = _constants(f.device)
    scaled = (c["cells_from_xyzn"] @ _f_inverse(f)).clamp_(1e-12 * SRGB_CELLS**2, float(SRGB_CELLS**2))
    return scaled.rsqrt().mul_(scaled).to(torch.int32)


def srgb_byte_table(device: torch.device) -> Tensor:
    """(SRGB_CELLS + 1,) uint8: the sRGB byte of each cell `srgb_cells` returns."""
    return _constants(device)["srgb_byte_lut"]


@functools.cache
def worker_pool(workers: int) -> ThreadPoolExecutor:
    """The shared threads that run per-pixel kernels on cache-sized chunks (one pool per size)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pix2pix-color")


def _map_pixels(kernel: Callable[[Tensor], Tensor], x: Tensor, out_channels: int, out_dtype: torch.dtype) -> Tensor:
    """Apply a per-pixel `kernel` ((..., C, P) -> (..., out_channels, P)) to x (..., C, H, W).

    On the CPU, large inputs are cut into chunks of `_CHUNK_PIXELS` that threads process in parallel
    straight into the output buffer: one pass over memory instead of one per elementwise op.
    """
    *batch, channels, height, width = x.shape
    pixels = height * width
    n_images = 1
    for size in batch:
        n_images *= size
    workers = torch.get_num_threads()
    if x.device.type != "cpu" or x.requires_grad or n_images * pixels < 2 * _CHUNK_PIXELS or workers < 2:
        return kernel(x.reshape(*batch, channels, pixels)).reshape(*batch, out_channels, height, width)

    src = x.reshape(n_images, channels, pixels)
    out = torch.empty(n_images, out_channels, pixels, dtype=out_dtype)
    inference = torch.is_inference_mode_enabled()  # thread-local: the workers must match the caller

    def work(task: tuple[int, int]) -> None:
        i, start = task
        stop = min(start + _CHUNK_PIXELS, pixels)
        with torch.inference_mode(inference):
            out[i, :, start:stop] = kernel(src[i, :, start:stop])

    tasks = [(i, start) for i in range(n_images) for start in range(0, pixels, _CHUNK_PIXELS)]
    # Each chunk's ops are below torch's intra-op parallel threshold, so the pool's threads do not
    # compete with torch's own; list() re-raises a worker's exception here.
    list(worker_pool(workers).map(work, tasks))
    return out.reshape(*batch, out_channels, height, width)


def _check_shape(x: Tensor, name: str) -> None:
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} expects a tensor of shape (..., 3, H, W), got {tuple(x.shape)}")


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB (..., 3, H, W), uint8 or float in [0,1] -> L*a*b* (..., 3, H, W) float32.

    L* in [0,100], a* and b* roughly in [-128,127].
    """
    _check_shape(rgb, "rgb_to_lab")
    return _map_pixels(_rgb_to_lab_pixels, rgb, 3, torch.float32)


def rgb_to_l(rgb: Tensor) -> Tensor:
    """sRGB (..., 3, H, W), uint8 or float in [0,1] -> L* (..., 1, H, W) float32 in [0,100]."""
    _check_shape(rgb, "rgb_to_l")
    return _map_pixels(_rgb_to_l_pixels, rgb, 1, torch.float32)


def gray_to_l(gray: Tensor) -> Tensor:
    """sRGB-encoded gray levels (any shape), uint8 or float in [0,1] -> L* float32, same shape.

    A gray pixel v is the color (v, v, v), whose L* depends on v alone; for bytes that is one lookup.
    """
    if gray.dtype == torch.uint8:
        lut = _constants(gray.device)["l_lut"]
        # In cache-sized chunks on the pool's threads: the int64 indices of a whole 12 MP photo would
        # be 96 MB written and read back (measured 70-80 ms against 35-39 ms chunked, AMD EPYC).
        flat = gray.reshape(1, 1, 1, -1)
        lookup = lambda chunk: lut.index_select(0, chunk.reshape(-1).long()).view(chunk.shape)  # noqa: E731
        return _map_pixels(lookup, flat, 1, torch.float32).view(gray.shape)
    linear = _srgb_to_linear(gray.float())
    return 116 * _f(linear) - 16


def l_to_gray(L: Tensor) -> Tensor:
    """L* (any shape) in [0,100] -> the sRGB gray level in [0,1] of the color (L*, 0, 0), same shape.

    Plain differentiable tensor ops (no threads, no lookup table), so it can sit inside a network
    and its ONNX graph; the same formula as `lab_to_rgb` on a* = b* = 0.
    """
    fy = (L.clamp(0.0, 100.0) + 16) / 116
    linear = torch.where(fy > 0.2068966, fy * fy * fy, (fy - 16 / 116) / 7.787)
    k = 0.0031308
    srgb = torch.where(linear > k, 1.055 * linear.clamp_min(k) ** (1 / 2.4) - 0.055, 12.92 * linear)
    return srgb.clamp(0.0, 1.0)


def lab_to_rgb(lab: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """L*a*b* (..., 3, H, W) -> sRGB (..., 3, H, W), float in [0,1] or uint8 (dtype=torch.uint8).

    Out-of-gamut colors are clipped to valid RGB; the result is never NaN and never wraps around.
    """
    _check_shape(lab, "lab_to_rgb")
    return _map_pixels(functools.partial(lab_to_rgb_pixels, out_dtype=dtype), lab, 3, dtype)


def _gray_pixels(rgb: Tensor) -> Tensor:
    """(..., 3, P) sRGB -> (..., 1, P) uint8: `lab_to_rgb_pixels` of (its L*, 0, 0), green row only
    (with a* = b* = 0 the three rows agree), the same operations in the same order."""
    c = _constants(rgb.device)
    L = (116 * _f(c["xyzn_from_rgb"][1:2] @ _to_linear(rgb, c)) - 16).clamp(0.0, 100.0)
    f = ((L + 16) / 116).expand(*L.shape[:-2], 3, L.shape[-1])
    return _linear_to_srgb(c["rgb_from_xyzn"][1:2] @ _f_inverse(f)).mul_(255).round_().to(torch.uint8)


def gray_version(image: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 photo -> (H,W) uint8: how it looks in black and white (its own L*, a* = b* = 0)."""
    rgb = torch.from_numpy(np.require(image, requirements=["W"])).permute(2, 0, 1)
    return _map_pixels(_gray_pixels, rgb, 1, torch.uint8)[0].numpy()


# Mean chroma C*ab (over a 64x64 thumbnail) below which a photo counts as black and white. JPEG noise
# and a scanner's faint tone on a gray photo stay under it; a muted color photo is well above it.
GRAY_CHROMA = 2.0


def is_grayscale(image: Image.Image) -> bool:
    """True for a black-and-white photo: no color channels, or colors that all sit near gray."""
    if image.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return True
    thumb = np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.uint8).copy()
    ab = rgb_to_lab(torch.from_numpy(thumb).permute(2, 0, 1))[1:]
    return float(torch.linalg.vector_norm(ab, dim=0).mean()) < GRAY_CHROMA
