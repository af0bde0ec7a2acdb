"""Does a hint at a suggested point help more than one at a random point?

For each photo: colorize its gray version; then once more with one hint (the real photo's color, a
3x3 mean) at the first suggested point (`Confidence.suggestions[0]`), and at each of `--random`
uniformly drawn points. Gains in hue hit rate and PSNR over the automatic result, averaged.

    PYTHONPATH=. python experiments/hint_suggestions.py [--photos 150] [--random 3] [--set validation|photos-hq]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine, table  # noqa: E402

from pix2pix_color import Colorizer, ColorizeRequest  # noqa: E402
from pix2pix_color.evaluation.metrics import image_metrics  # noqa: E402
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def hint_at(real: np.ndarray, x: int, y: int) -> list:
    patch = real[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].reshape(-1, 3).mean(0)
    return [(x, y, tuple(int(round(v)) for v in patch))]


def gains(colorizer: Colorizer, photo, rng, n_random: int) -> tuple[dict, dict] | None:
    real = np.asarray(photo.convert("RGB"))
    gray = photo.convert("L")
    out = colorizer.run(ColorizeRequest(gray, confidence=True))
    auto, confidence = out.image, out.confidence
    if not confidence.suggestions:
        return None
    base = image_metrics(auto, real)
    if np.isnan(base.hue_hit):
        return None

    def gain(x, y):
        m = image_metrics(colorizer.colorize(gray, hints=hint_at(real, x, y)), real)
        return {"hue_hit": m.hue_hit - base.hue_hit, "psnr": m.psnr - base.psnr}

    suggested = gain(*confidence.suggestions[0])
    h, w = real.shape[:2]
    draws = [gain(int(rng.integers(w)), int(rng.integers(h))) for _ in range(n_random)]
    return suggested, {k: float(np.mean([d[k] for d in draws])) for k in suggested}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--random", type=int, default=3)
    parser.add_argument("--set", default="validation", choices=["validation", "photos-hq"])
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(None, backend="torch")
    photos = (
        photos_from_dataset(str(SHARED / "landscapes"), "validation", args.photos)
        if args.set == "validation"
        else photos_from_folder(SHARED / "photos-hq", args.photos)
    )
    rng = np.random.default_rng(0)
    results = [r for p in photos if (r := gains(colorizer, p, rng, args.random)) is not None]
    suggested = {k: float(np.mean([s[k] for s, _ in results])) for k in ("hue_hit", "psnr")}
    random = {k: float(np.mean([r[k] for _, r in results])) for k in ("hue_hit", "psnr")}
    better = float(np.mean([s["hue_hit"] > r["hue_hit"] for s, r in results]))
    record = {"machine": machine(), "set": args.set, "photos": len(results), "suggested": suggested,
              "random": random, "share_of_photos_suggested_better": better}  # fmt: skip
    out = ROOT / "experiments" / "results" / f"hint_suggestions_{args.set}.json"
    out.write_text(json.dumps(record, indent=1))
    print(table(
        ["one hint at", "hue hit gain", "PSNR gain (dB)"],
        [["the suggested point", f"{suggested['hue_hit']:+.4f}", f"{suggested['psnr']:+.3f}"],
         ["a random point", f"{random['hue_hit']:+.4f}", f"{random['psnr']:+.3f}"]],
    ))  # fmt: skip
    print(f"{len(results)} photos; the suggested point gained more hue hits on {better:.0%} of them")


if __name__ == "__main__":
    main()
