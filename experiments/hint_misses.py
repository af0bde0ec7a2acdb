"""Where the hue misses are once 10 hints are given (issue 28, target 6: hue hit >= 0.85 with 10 hints).

    PYTHONPATH=. python experiments/hint_misses.py [MODEL ...] [--photos 300]

The hue hit rate is a mean over photos of each photo's share of colorful pixels (real C*ab >= 20)
shown with C*ab >= 10 and a hue within 45 degrees. A miss is either *too gray* (the output's C*ab
< 10) or *a wrong hue*. This splits the misses of each model with the same 10 sampled hints as
`metrics.evaluate` (seed 0), pools them over pixels too, and groups the photos by how much of
each is colorful: a photo of a glacier with one colorful tent weighs as much in the mean as a
field of poppies, and its few colorful pixels rarely get a hint.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine, table  # noqa: E402

from pix2pix_color import Colorizer  # noqa: E402
from pix2pix_color.core.color import gray_version, is_grayscale  # noqa: E402
from pix2pix_color.core.hints import sample_hints  # noqa: E402
from pix2pix_color.evaluation.metrics import MIN_SIDE, hue_hit_masks  # noqa: E402
from pix2pix_color.io.photo_sets import photos_from_dataset  # noqa: E402

LANDSCAPES = ROOT.parent / "shared" / "data" / "landscapes"
GROUPS = ((0.0, 0.01), (0.01, 0.05), (0.05, 0.2), (0.2, 1.0))  # share of the photo that is colorful


def misses(output: np.ndarray, real: np.ndarray) -> dict:
    """Pixel counts of one photo: colorful, hit, too gray, wrong hue (the hue hit rule of `metrics`)."""
    colorful, colored, within = hue_hit_masks(output, real)
    count = lambda m: int((colorful & m).sum())  # noqa: E731
    return {"pixels": colorful.numel(), "colorful": int(colorful.sum()), "hit": count(colored & within),
            "gray": count(~colored), "wrong": count(colored & ~within)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["bundled"])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results" / "hint_misses.json"))
    args = parser.parse_args()
    if not LANDSCAPES.is_dir():
        raise SystemExit(f"no landscapes under {LANDSCAPES.parent}: this study needs ../shared")
    photos = [
        np.asarray(p.convert("RGB"))
        for p in photos_from_dataset(str(LANDSCAPES), "validation", args.photos)
        if min(p.size) >= MIN_SIDE and not is_grayscale(p)
    ]
    results, rows, group_rows = {}, [], []
    for model in args.models:
        colorizer = Colorizer.from_pretrained(None if model == "bundled" else model, backend="torch")
        rng = np.random.default_rng(0)  # the points metrics.evaluate(hints_per_photo=10) samples
        start, counts = time.perf_counter(), []
        for real in photos:
            gray = Image.fromarray(gray_version(real), "L")
            out = np.asarray(colorizer.colorize(gray, hints=sample_hints(real, 10, rng)))
            counts.append(misses(out, real))
        scored = [c for c in counts if c["colorful"]]
        rate = np.array([c["hit"] / c["colorful"] for c in scored])
        share = np.array([c["colorful"] / c["pixels"] for c in scored])
        total = {k: sum(c[k] for c in scored) for k in ("colorful", "hit", "gray", "wrong")}
        record = {
            "photos": len(scored),
            "hue_hit_per_photo": float(rate.mean()),
            "hue_hit_pooled": total["hit"] / total["colorful"],
            "miss_too_gray": total["gray"] / total["colorful"],
            "miss_wrong_hue": total["wrong"] / total["colorful"],
            "photos_below_half": int((rate < 0.5).sum()),
            "groups": {},
            "seconds": round(time.perf_counter() - start, 1),
        }
        for lo, hi in GROUPS:
            inside = (share >= lo) & (share < hi if hi < 1 else share <= hi)
            record["groups"][f"{lo:g}-{hi:g}"] = {"photos": int(inside.sum()), "hue_hit": float(rate[inside].mean())}
            group_rows.append([model, f"{100 * lo:g}-{100 * hi:g}%", int(inside.sum()), f"{rate[inside].mean():.3f}"])
        results[model] = record
        shares = ("hue_hit_per_photo", "hue_hit_pooled", "miss_too_gray", "miss_wrong_hue")
        rows.append([model, record["photos"], *(f"{record[k]:.3f}" for k in shares), record["photos_below_half"]])
        print(rows[-1], flush=True)
    print(f"\nthe first {args.photos} validation photos, 10 sampled hints each (seed 0); {machine()}\n")
    print(table(["model", "photos", "hue hit (mean of photos)", "pooled over pixels", "missed: too gray",
                 "missed: wrong hue", "photos below 0.5"], rows))  # fmt: skip
    print()
    print(table(["model", "colorful share of the photo", "photos", "hue hit"], group_rows))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "date": time.strftime("%Y-%m-%d"), **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
