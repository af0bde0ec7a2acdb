"""Where does one model win or lose against another? Per-photo metrics of two models on one photo set.

    python experiments/per_photo.py pix2pix_color/default_model runs/gen4/model \
        --images ../shared/data/photos-hq/validation [--temperature 0.76] [--worst 8]

A mean PSNR hides whether a model is worse everywhere or much worse on a few photos. This scores
both models photo by photo (at full resolution, the app's working size, as `evaluate` does), then
prints how many photos each wins, the spread of the PSNR difference, how it goes with the change in
colorfulness, and the photos where B loses most (to look at them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pix2pix_color import Colorizer, UNetGenerator  # noqa: E402
from pix2pix_color.core.color import gray_version, rgb_to_lab  # noqa: E402
from pix2pix_color.evaluation.metrics import colorfulness, metrics_against  # noqa: E402


def load_model(path: str, temperature: float | None) -> Colorizer:
    G = UNetGenerator.from_pretrained(path)
    if temperature is not None and G.head == "classification":
        G = G.with_decoding(temperature=temperature)
    return Colorizer(G.eval())


def mean_b(image) -> float:
    """Mean b* of a photo: its warm (+) or cold (-) cast."""
    rgb = torch.from_numpy(np.ascontiguousarray(np.asarray(image))).permute(2, 0, 1)
    return float(rgb_to_lab(rgb)[2].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_a")
    parser.add_argument("model_b")
    parser.add_argument("--images", type=Path, required=True, help="a folder of color photos")
    parser.add_argument("--temperature", type=float, help="decode both at this temperature (default: their own)")
    parser.add_argument("--worst", type=int, default=8, help="how many of B's worst photos to list")
    args = parser.parse_args()

    paths = sorted(p for p in args.images.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    a, b = load_model(args.model_a, args.temperature), load_model(args.model_b, args.temperature)
    rows, casts = [], []
    with torch.inference_mode():
        for path in paths:
            real = np.asarray(Image.open(path).convert("RGB"))
            gray = Image.fromarray(gray_version(real), "L")
            out_a, out_b = a.colorize(gray), b.colorize(gray)
            m_a, m_b, m_gray = metrics_against([out_a, out_b, np.asarray(gray)], real)
            rows.append((path.name, m_a, m_b, m_gray, colorfulness(real)))
            casts.append((mean_b(real), mean_b(out_a), mean_b(out_b)))
    d_psnr = np.array([r[2].psnr - r[1].psnr for r in rows])
    d_color = np.array([r[2].colorfulness - r[1].colorfulness for r in rows])
    hue = np.array([(r[1].hue_hit, r[2].hue_hit) for r in rows])
    print(f"{len(rows)} photos of {args.images}; A = {args.model_a}, B = {args.model_b}")
    print("| | A | B |")
    print("|---|---|---|")
    print(f"| mean PSNR (dB) | {np.mean([r[1].psnr for r in rows]):.2f} | {np.mean([r[2].psnr for r in rows]):.2f} |")
    print(f"| mean hue hit | {np.nanmean(hue[:, 0]):.3f} | {np.nanmean(hue[:, 1]):.3f} |")
    cast = np.mean(casts, axis=0)
    print(f"| mean b* (real {cast[0]:+.1f}) | {cast[1]:+.1f} | {cast[2]:+.1f} |")
    print(f"| photos below gray in PSNR | {sum(r[1].psnr < r[3].psnr for r in rows)} | "
          f"{sum(r[2].psnr < r[3].psnr for r in rows)} |")  # fmt: skip
    print(f"B wins PSNR on {int((d_psnr > 0).sum())} of {len(rows)} photos; B - A: median {np.median(d_psnr):+.2f} dB, "
          f"10th percentile {np.percentile(d_psnr, 10):+.2f}, 90th {np.percentile(d_psnr, 90):+.2f}")  # fmt: skip
    print(f"B wins hue hit on {int((hue[:, 1] > hue[:, 0]).sum())} photos; correlation of the PSNR difference with "
          f"the colorfulness difference: {np.corrcoef(d_psnr, d_color)[0, 1]:+.2f}")  # fmt: skip
    print(f"\nB's {args.worst} worst photos against A:")
    print("| photo | PSNR A | PSNR B | gray | hue hit A | hue hit B | colorfulness real / A / B |")
    print("|---|---|---|---|---|---|---|")
    for i in np.argsort(d_psnr)[: args.worst]:
        name, m_a, m_b, m_gray, real_c = rows[i]
        print(f"| {name} | {m_a.psnr:.2f} | {m_b.psnr:.2f} | {m_gray.psnr:.2f} | {m_a.hue_hit:.3f} | "
              f"{m_b.hue_hit:.3f} | {real_c:.0f} / {m_a.colorfulness:.0f} / {m_b.colorfulness:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
