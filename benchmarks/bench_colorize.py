"""End-to-end colorization of one photo: Colorizer vs the naive pipeline, same generator, same machine.

    python benchmarks/bench_colorize.py [--quick]

Naive: scikit-image rgb2lab at full resolution -> resize L to the working size -> eager fp32 model ->
upsample ab -> scikit-image lab2rgb at full resolution. Ours: `Colorizer.colorize` (LUT + fused
threaded Lab, L* only on the way in, uint8 straight out). Both use the default 54M-parameter
generator at a 256-pixel working size; the weights are random (speed does not depend on them).
A second table measures PNG encoding of the result; a third the generator alone in fp32,
channels_last and bf16 autocast on this CPU.
"""

from __future__ import annotations

import argparse
import io
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import machine, photo, table, timeit, timeit_interleaved
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

from pix2pix_color import Colorizer
from pix2pix_color.core.color import lab_to_rgb
from pix2pix_color.core.image_processor import apply_guided, compose_rgb, guided_coefficients, working_shape
from pix2pix_color.io.images import PNG_COMPRESS_LEVEL
from pix2pix_color.models.networks import UNetGenerator, init_weights


def naive_colorize(G: UNetGenerator, image: Image.Image, working: int = 256) -> Image.Image:
    rgb = np.asarray(image.convert("RGB"))
    lab = rgb2lab(rgb)  # full resolution, float64
    h, w = rgb.shape[:2]
    size = working_shape(h, w, working, G.multiple)
    L = torch.from_numpy(lab[..., 0]).float()[None, None]
    L_small = F.interpolate(L, size=size, mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        ab_small = G(L_small / 50 - 1) * 110
    ab = F.interpolate(ab_small, size=(h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    lab[..., 1:] = ab
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = lab2rgb(lab)
    return Image.fromarray((out * 255).round().astype(np.uint8))


def finish_rows(quick: bool) -> list[list[str]]:
    """The full-resolution finish alone: `compose_rgb` (guided upsampling fused with Lab -> sRGB in
    strips, f formed straight from the maps) against the whole-image path (`apply_guided` + the exact
    `lab_to_rgb`), the same maps and L*."""
    torch.manual_seed(0)
    sizes = [(300, 400)] if quick else [(866, 1155), (3000, 4000)]
    rows = []
    for height, width in sizes:
        coefficients, limit = guided_coefficients(torch.rand(1, 1, 192, 256) * 100, torch.randn(1, 2, 192, 256) * 30)
        L = torch.rand(height, width) * 100

        def whole() -> torch.Tensor:
            ab = apply_guided(coefficients, limit, L[None, None])
            return lab_to_rgb(torch.cat([L[None, None], ab], 1)[0], dtype=torch.uint8)

        with torch.inference_mode():
            t_whole, t_strips = timeit_interleaved([whole, lambda: compose_rgb(L, coefficients[0], limit[0])], 5)
        megapixels = height * width / 1e6
        times = [f"{t_whole * 1e3:.0f}", f"{t_strips * 1e3:.0f}", f"{t_whole / t_strips:.1f}x"]
        rows.append([f"{megapixels:.1f} MP", *times])
    return rows


def model_variants(G: UNetGenerator, size: int) -> list[list[str]]:
    x = torch.rand(1, 1, size, size) * 2 - 1
    rows = []
    with torch.inference_mode():
        base = timeit(lambda: G(x), repeat=5)
        rows.append(["fp32 (default)", f"{base * 1e3:.0f}", "1.00x"])
        G_cl = UNetGenerator().eval()
        G_cl.load_state_dict(G.state_dict())
        G_cl = G_cl.to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        t = timeit(lambda: G_cl(x_cl), repeat=5)
        rows.append(["fp32 channels_last", f"{t * 1e3:.0f}", f"{base / t:.2f}x"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            t = timeit(lambda: G(x), repeat=2)
        rows.append(["bf16 autocast", f"{t * 1e3:.0f}", f"{base / t:.2f}x"])
    return rows


def png_rows(quick: bool) -> list[list[object]]:
    """PIL's default PNG level (6) against faster ones, on real photos colorized by the bundled model
    (compressibility depends on content, so not on the synthetic photo)."""
    colorizer = Colorizer.from_pretrained()
    root = Path(__file__).resolve().parents[1]
    sources = sorted((root / "examples").glob("*.jpg"))[:1]
    if not quick:
        sources += sorted((root.parent / "shared" / "examples").glob("Bridge*.jpg"))
    rows = []
    for path in sources:
        result = colorizer.colorize(path)
        name = f"{path.stem[:12]} ({result.size[0] * result.size[1] / 1e6:.1f} MP)"
        base = None
        for level in (6, PNG_COMPRESS_LEVEL, 1):
            buffer = io.BytesIO()
            result.save(buffer, format="PNG", compress_level=level)
            seconds = timeit(lambda: result.save(io.BytesIO(), format="PNG", compress_level=level), repeat=3)
            base = base or seconds
            rows.append(
                [name, level, f"{seconds * 1000:.0f}", len(buffer.getvalue()) // 1024, f"{base / seconds:.1f}x"]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    G = init_weights(UNetGenerator()).eval()
    colorizer = Colorizer(G, working_size=256)
    sizes = [("1 MP", 1155, 866), ("12 MP", 4000, 3000)] if not args.quick else [("0.1 MP", 400, 300)]
    rows = []
    for name, w, h in sizes:
        image = photo(w, h).convert("L")  # a black-and-white photo, as users bring
        t_naive, t_ours = timeit_interleaved([lambda: naive_colorize(G, image), lambda: colorizer.colorize(image)], 3)
        ours, naive = (
            np.asarray(colorizer.colorize(image)).astype(int),
            np.asarray(naive_colorize(G, image)).astype(int),
        )
        rows.append(
            [
                f"{name} ({w}x{h})",
                f"{t_naive:.2f}",
                f"{t_ours:.2f}",
                f"{t_naive / t_ours:.1f}x",
                f"{np.abs(ours - naive).max()}",
            ]
        )
    print(f"colorize one grayscale photo, default 54M generator at 256 px working size ({machine()})\n")
    print(table(["photo", "naive s", "Colorizer s", "speedup", "max |diff| (0-255)"], rows))
    print("\nthe full-resolution finish alone (guided upsampling + Lab -> sRGB bytes)\n")
    print(table(["photo", "whole image ms", "compose_rgb ms", "speedup"], finish_rows(args.quick)))
    print("\nsaving the colorized photo as PNG (PIL; zlib level)\n")
    print(table(["photo", "level", "ms", "KB", "vs level 6"], png_rows(args.quick)))
    print("\ngenerator alone, 1x1x256x256, inference mode\n")
    print(table(["variant", "ms", "vs fp32"], model_variants(G, 256)))


if __name__ == "__main__":
    main()
