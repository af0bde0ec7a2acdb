"""Colors from a reference photo, measured: each photo's gray version colorized automatically and with
a reference, scored against the real photo (PSNR, hue hit rate):

- itself: the real photo as its own reference (the upper bound: every region has its match);
- flipped and cropped: the real photo mirrored left-right and cut to its central 75% x 75%, so
  matches must be found by content, not position, and some regions have none;
- unrelated: the next photo of the set (another scene, usually of the same kind of landscape).

    PYTHONPATH=. python experiments/reference_study.py --set validation --limit 300
    PYTHONPATH=. python experiments/reference_study.py --set photos-hq --side 1024
    PYTHONPATH=. python experiments/reference_study.py --set train --limit 150   # to choose constants

Results go to experiments/results/reference_<set>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from pix2pix_color import Colorizer
from pix2pix_color.evaluation.metrics import hue_hit_rate, psnr
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder
from pix2pix_color.pipeline.assessment import assess, thumbnail

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CONDITIONS = ("automatic", "itself", "flipped and cropped", "unrelated")


def photos(name: str, limit: int | None) -> list[Image.Image]:
    if name == "photos-hq":
        return list(photos_from_folder(SHARED / "photos-hq", limit))
    split = "train" if name == "train" else "validation"
    return list(photos_from_dataset(str(SHARED / "landscapes"), split, limit))


def flipped_and_cropped(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.transpose(Image.FLIP_LEFT_RIGHT).crop((w // 8, h // 8, w - w // 8, h - h // 8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="validation", choices=["validation", "photos-hq", "train"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--side", type=int, default=1024, help="long side the photos are scored at")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    reals = []
    for image in photos(args.set, args.limit):
        scale = min(1.0, args.side / max(image.size))
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        reals.append(image.convert("RGB"))
    # Black-and-white photos of a set have no colors to score or to give.
    reals = [
        real
        for real in reals
        if all(assess(np.asarray(thumbnail(x))).kind != "gray" for x in (real, flipped_and_cropped(real)))
    ]
    rows = {name: [] for name in CONDITIONS}
    for i, real in enumerate(tqdm(reals, desc=args.set, unit="photo")):
        gray = real.convert("L")
        references = {
            "automatic": None,
            "itself": real,
            "flipped and cropped": flipped_and_cropped(real),
            "unrelated": reals[(i + 1) % len(reals)],
        }
        target = np.asarray(real)
        for name, reference in references.items():
            out = np.asarray(colorizer.colorize(gray, reference=reference))
            rows[name].append((psnr(out, target), hue_hit_rate(out, target)))
    summary = {}
    print(f"\n{args.set}: {len(reals)} color photos, long side <= {args.side}")
    print("| reference | PSNR (dB) | vs automatic | hue hit rate |\n|---|---|---|---|")
    auto = np.array(rows["automatic"], dtype=float)
    for name, values in rows.items():
        v = np.array(values, dtype=float)
        summary[name] = {"psnr": float(v[:, 0].mean()), "hue_hit": float(np.nanmean(v[:, 1]))}
        gain = v[:, 0].mean() - auto[:, 0].mean()
        summary[name]["psnr_vs_automatic"] = float(gain)
        summary[name]["worse_than_automatic_by_1db"] = int(((v[:, 0] - auto[:, 0]) < -1.0).sum())
        print(f"| {name} | {v[:, 0].mean():.2f} | {gain:+.2f} | {np.nanmean(v[:, 1]):.3f} |")
    out = args.out or Path(__file__).parent / "results" / f"reference_{args.set}.json"
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary}, indent=1))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
