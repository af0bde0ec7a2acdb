"""`pix2pix-color evaluate` against `pix2pix-color colorize` on the same photos, and the metrics alone.

    python benchmarks/bench_evaluate.py [--photos 8] [--megapixels 1.6]

The goal (issue 19): scoring a folder of photos takes at most 3x the time of colorizing it. Both are
timed as the CLI runs them on a folder of JPEGs, bundled model, this machine:
- colorize: decode the file, colorize at full resolution, write the PNG (`pix2pix-color colorize`);
- evaluate: decode, reduce to black and white, colorize, score the output and the grayscale
  baseline against the real photo (`pix2pix-color evaluate --images`).
The naive column scores with the first implementation (scikit-image's float64 SSIM and PSNR, the
real photo's Lab computed for each score, `vector_norm` and float64 masks), side by side in this run.
Photos: `../shared/data/photos-hq` resized to --megapixels (synthetic ones if it is absent).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from common import machine, table
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pix2pix_color import Colorizer
from pix2pix_color.cli import main as cli_main
from pix2pix_color.core.color import gray_version, rgb_to_lab
from pix2pix_color.evaluation.metrics import colorfulness, metrics_against

PHOTOS_HQ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos-hq" / "validation"


def photos(n: int, megapixels: float) -> list[Image.Image]:
    paths = sorted(PHOTOS_HQ.glob("*.jpg"))[:n] if PHOTOS_HQ.is_dir() else []
    if not paths:  # noise would score and time something else than photos
        raise SystemExit(f"no photos in {PHOTOS_HQ}: this benchmark needs ../shared/data/photos-hq")
    images = [Image.open(p).convert("RGB") for p in paths]
    out = []
    for image in images:
        scale = math.sqrt(megapixels * 1e6 / (image.width * image.height))
        out.append(image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC))
    return out


def naive_metrics(output: np.ndarray, target: np.ndarray) -> tuple[float, ...]:
    """The first implementation of `image_metrics`, for the side-by-side column."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = peak_signal_noise_ratio(target, output, data_range=255)
    s = structural_similarity(
        output, target, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    ab_out = rgb_to_lab(torch.from_numpy(output.copy()).permute(2, 0, 1))[1:]
    ab_ref = rgb_to_lab(torch.from_numpy(target.copy()).permute(2, 0, 1))[1:]
    error = torch.linalg.vector_norm(ab_out - ab_ref, dim=0).flatten()
    counts = torch.bincount(error.ceil().clamp(max=151).long(), minlength=152)
    auc = float((counts[:151].cumsum(0).double() / error.numel()).mean())
    colorful = torch.linalg.vector_norm(ab_ref, dim=0) >= 20
    out, real = ab_out[:, colorful].double(), ab_ref[:, colorful].double()
    colored = torch.linalg.vector_norm(out, dim=0) >= 10
    angle = torch.atan2(out[0] * real[1] - out[1] * real[0], (out * real).sum(0)).abs()
    hue = float((colored & (angle <= math.radians(45))).sum()) / max(1, int(colorful.sum()))
    return p, s, colorfulness(output), auc, hue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--megapixels", type=float, default=1.6)
    args = parser.parse_args()
    images = photos(args.photos, args.megapixels)
    n = len(images)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i, image in enumerate(images):
            image.save(folder / f"{i:02d}.jpg", quality=92)
        run = ["-q", "--batch-size", "4"]
        cli_main(["colorize", str(folder / "00.jpg"), "-o", str(Path(tmp) / "warm"), "-q"])  # load, warm up
        start = time.perf_counter()
        cli_main(["colorize", str(folder), "-o", str(Path(tmp) / "out"), *run])
        t_colorize = (time.perf_counter() - start) / n
        start = time.perf_counter()
        cli_main(["evaluate", "--images", str(folder), "--output", str(Path(tmp) / "e.json"), *run])
        t_evaluate = (time.perf_counter() - start) / n

    # The metrics alone, per photo (model output and gray baseline against the real photo).
    colorizer = Colorizer.from_pretrained()
    reals = [np.asarray(image) for image in images]
    grays = [gray_version(r) for r in reals]
    outputs = [np.asarray(o) for o in colorizer.colorize_batch([Image.fromarray(g, "L") for g in grays])]
    baselines = [np.repeat(g[..., None], 3, axis=-1) for g in grays]
    start = time.perf_counter()
    ours = [metrics_against([o, g], r) for o, g, r in zip(outputs, grays, reals)]  # as evaluate calls it
    t_ours = (time.perf_counter() - start) / n
    start = time.perf_counter()
    naive = [(naive_metrics(o, r), naive_metrics(b, r)) for o, b, r in zip(outputs, baselines, reals)]
    t_naive = (time.perf_counter() - start) / n
    worst = max(
        abs(a - b)
        for pair_ours, pair_naive in zip(ours, naive)
        for m, values in zip(pair_ours, pair_naive)
        for a, b in zip((m.psnr, m.ssim, m.colorfulness, m.auc, m.hue_hit), values)
        if not (np.isnan(a) and np.isnan(b))
    )
    size = f"{images[0].width}x{images[0].height}"
    print(f"{n} photos of about {args.megapixels} MP ({size} first), bundled model; {machine()}\n")
    rows = [
        ["pix2pix-color colorize (decode, colorize, PNG)", f"{t_colorize:.3f}", "1.00x"],
        [
            "pix2pix-color evaluate (decode, gray, colorize, score both)",
            f"{t_evaluate:.3f}",
            f"{t_evaluate / t_colorize:.2f}x",
        ],
    ]
    print(table(["per photo", "s", "vs colorize"], rows))
    print("\nscoring one photo's output and gray baseline (PSNR, SSIM, colorfulness, AuC, hue hit)\n")
    rows = [
        ["naive (scikit-image float64, Lab twice)", f"{t_naive:.3f}", "1.00x"],
        ["metrics_against (torch SSIM, shared target)", f"{t_ours:.3f}", f"{t_naive / t_ours:.1f}x"],
    ]
    print(table(["per photo", "s", "speedup"], rows))
    print(f"\nlargest difference between the two on any metric of any photo: {worst:.2e}")
    print("SSIM: Wang et al. 2004, Gaussian window sigma 1.5 (11 px), per RGB channel, full resolution")


if __name__ == "__main__":
    main()
