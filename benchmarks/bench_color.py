"""Lab conversion speed: pix2pix_color.core.color vs scikit-image, OpenCV, kornia and the textbook torch formula.

    pip install -e ".[bench]"   # kornia (OpenCV comes with the app extra)
    python benchmarks/bench_color.py [--quick]

Both directions on uint8 sRGB input: rgb -> Lab (float32), Lab -> rgb (float in [0,1]). The last
column is each method's largest L*a*b* difference from scikit-image's float64 result: OpenCV's and
kornia's are libraries that do this job; the table says whether one could replace ours.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from common import machine, table, timeit, timeit_interleaved
from skimage.color import lab2rgb, rgb2lab

from pix2pix_color.core.color import lab_to_rgb, lab_to_rgb_pixels, lab_to_srgb_bytes, rgb_to_lab
from pix2pix_color.core.image_processor import STRIP_PIXELS

_M = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])


def naive_rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """The usual torch port of the formula: whole-tensor ops, where(), pow()."""
    x = rgb.float() / 255
    linear = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = torch.einsum("ij,...jhw->...ihw", _M, linear) / _WHITE.view(3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.pow(1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def naive_lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, (fy - b / 200).clamp_min(0)], dim=-3)
    xyz = torch.where(f > 0.2068966, f**3, (f - 16 / 116) / 7.787) * _WHITE.view(3, 1, 1)
    linear = torch.einsum("ij,...jhw->...ihw", torch.linalg.inv(_M), xyz).clamp(0, 1)
    return torch.where(linear > 0.0031308, 1.055 * linear.pow(1 / 2.4) - 0.055, 12.92 * linear)


def skimage_both(images: np.ndarray) -> tuple[float, float]:
    """images: (N,H,W,3) uint8; per-image loop, as a data loader would run it."""
    labs = [rgb2lab(img) for img in images]
    t_forward = timeit(lambda: [rgb2lab(img) for img in images], repeat=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_back = timeit(lambda: [lab2rgb(lab) for lab in labs], repeat=3)
    return t_forward, t_back


def opencv_both(images: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """OpenCV's cvtColor on float32 RGB in [0,1] (its exact path; the uint8 one quantizes Lab to bytes)."""
    try:
        import cv2
    except ImportError:
        return None
    floats = [img.astype(np.float32) / 255 for img in images]
    forward = timeit(
        lambda: [cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2Lab) for img in images], repeat=3
    )
    labs = [cv2.cvtColor(f, cv2.COLOR_RGB2Lab) for f in floats]
    back = timeit(lambda: [cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) for lab in labs], repeat=3)
    return forward, back, np.stack(labs)


def kornia_both(tensor: torch.Tensor) -> tuple[float, float, np.ndarray] | None:
    try:
        from kornia.color import lab_to_rgb as k_lab_to_rgb
        from kornia.color import rgb_to_lab as k_rgb_to_lab
    except ImportError:
        return None
    lab = k_rgb_to_lab(tensor.float() / 255)
    forward = timeit(lambda: k_rgb_to_lab(tensor.float() / 255))
    back = timeit(lambda: k_lab_to_rgb(lab, clip=True))
    return forward, back, lab.permute(0, 2, 3, 1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases = [("256x256 batch of 32", 32, 256, 256), ("12 MP (4000x3000)", 1, 3000, 4000)]
    if args.quick:
        cases = [("64x64 batch of 4", 4, 64, 64), ("0.3 MP", 1, 480, 640)]
    rows = []
    for name, n, h, w in cases:
        images = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
        tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
        sk_f, sk_b = skimage_both(images)
        truth = np.stack([rgb2lab(img) for img in images])
        lab = rgb_to_lab(tensor)
        results = {
            "scikit-image": (sk_f, sk_b, truth),
            "OpenCV cvtColor (float32)": opencv_both(images),
            "kornia.color": kornia_both(tensor),
            "torch, textbook formula": (
                timeit(lambda: naive_rgb_to_lab(tensor)),
                timeit(lambda: naive_lab_to_rgb(lab)),
                naive_rgb_to_lab(tensor).permute(0, 2, 3, 1).numpy(),
            ),
            "pix2pix_color.core.color": (
                timeit(lambda: rgb_to_lab(tensor)),
                timeit(lambda: lab_to_rgb(lab)),
                lab.permute(0, 2, 3, 1).numpy(),
            ),
        }
        for method, result in results.items():
            if result is None:
                rows.append([name, method, "not installed", "", "", "", ""])
                continue
            forward, back, got = result
            total = forward + back
            error = float(np.abs(got.astype(np.float64) - truth).max())
            rows.append(
                [
                    name,
                    method,
                    f"{forward * 1e3:.0f}",
                    f"{back * 1e3:.0f}",
                    f"{total * 1e3:.0f}",
                    f"{(sk_f + sk_b) / total:.1f}x",
                    f"{error:.1e}",
                ]
            )
    print(f"Lab conversion, uint8 sRGB <-> float L*a*b*, median wall time ({machine()})\n")
    headers = ["input", "method", "rgb->lab ms", "lab->rgb ms", "both ms", "vs scikit-image", "max |dLab|"]
    print(table(headers, rows))
    print(f"\nL*a*b* -> sRGB bytes as photos are finished (in compose_rgb's strips, {machine()})\n")
    print(table(["pixels", "kernel", "ms", "vs exact", "bytes differing", "max |diff|"], finish_rows(args.quick)))


def finish_rows(quick: bool) -> list[list[str]]:
    """The finishing kernel (`lab_to_srgb_bytes`, the sRGB curve as a table) against the exact one
    (`lab_to_rgb_pixels`) on the same colors, interleaved in one run; 12 MP as strips would see them."""
    pixels = 1 << 17 if quick else 12_000_000
    g = torch.Generator().manual_seed(0)
    lab = torch.stack([torch.rand(pixels, generator=g) * 100, *(torch.randn(2, pixels, generator=g) * 30)])
    strips = lab.split(STRIP_PIXELS, dim=1)  # as compose_rgb calls it: cache-sized strips
    exact, table_kernel = timeit_interleaved(
        [lambda: [lab_to_rgb_pixels(x, torch.uint8) for x in strips], lambda: [lab_to_srgb_bytes(x) for x in strips]],
        repeat=7,
    )
    difference = (lab_to_rgb_pixels(lab, torch.uint8).int() - lab_to_srgb_bytes(lab).int()).abs()
    name = f"{pixels / 1e6:.1f} M"
    return [
        [name, "lab_to_rgb_pixels (exact pow)", f"{exact * 1e3:.0f}", "1.00x", "", ""],
        [
            name,
            "lab_to_srgb_bytes (sRGB table)",
            f"{table_kernel * 1e3:.0f}",
            f"{exact / table_kernel:.2f}x",
            f"{float((difference > 0).float().mean()) * 100:.2f}%",
            f"{int(difference.max())}",
        ],
    ]


if __name__ == "__main__":
    main()
