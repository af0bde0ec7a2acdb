"""Restore must first do no harm, measured (issue 42): real color photos, unfaded and aged by each
of `pix2pix_color.synthetic.fading.AGEING`'s models at several severities, restored and scored against the
real photo in mean CIEDE2000, beside the aged input, a gray-world correction and colorizing the
gray version.

    PYTHONPATH=. python experiments/restore_harm.py --set validation --limit 60
    PYTHONPATH=. python experiments/restore_harm.py --set photos-hq --limit 40
    PYTHONPATH=. python experiments/restore_harm.py --set design --limit 60   # photos-varied (training)

The rule: an unfaded photo comes back within a mean dE2000 of 2 of itself; an aged one closer to the
real photo than the input at every severity, and than both baselines. Photos are scored at a long
side of `--side` (default 512). Results: experiments/results/restore_harm_<set>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000
from tqdm.auto import tqdm

from experiments.restore_study import gray_world  # the same baseline as restore_study's table
from pix2pix_color import Colorizer
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder
from pix2pix_color.pipeline.restore import lab_of
from pix2pix_color.synthetic.fading import AGEING

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SEVERITIES = (0.15, 0.4, 0.7, 1.0)


def photos(name: str, limit: int):
    if name == "photos-hq":
        return photos_from_folder(SHARED / "photos-hq", limit)
    if name == "validation":
        return photos_from_dataset(str(SHARED / "landscapes"), "validation", limit)
    return photos_from_dataset(str(SHARED / "photos-varied"), "train", limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="validation", choices=["photos-hq", "validation", "design"])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--models", nargs="*", default=list(AGEING))
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    methods = {
        "input": lambda x: x,
        "gray world": gray_world,
        "colorize gray": lambda x: np.asarray(colorizer.colorize(Image.fromarray(x).convert("L"))),
        "restore": lambda x: np.asarray(colorizer.restore(Image.fromarray(x)).convert("RGB")),
    }
    cases = [("unfaded", 0.0)] + [(m, s) for m in args.models for s in SEVERITIES]
    scores = {f"{m} {s}": {k: [] for k in methods} for m, s in cases}
    for image in tqdm(photos(args.set, args.limit), total=args.limit, desc=args.set):
        scale = min(1.0, args.side / max(image.size))
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        real = np.asarray(image.convert("RGB"))
        real_lab = lab_of(real)
        for model, severity in cases:
            aged = real if model == "unfaded" else AGEING[model](real, severity)
            for name, method in methods.items():
                if model == "unfaded" and name == "colorize gray":
                    continue
                out = method(aged)
                scores[f"{model} {severity}"][name].append(float(deltaE_ciede2000(real_lab, lab_of(out)).mean()))
    summary = {case: {k: float(np.mean(v)) for k, v in row.items() if v} for case, row in scores.items()}
    print(f"\n{args.set}: {args.limit} photos, long side {args.side}, mean CIEDE2000 to the real photo")
    print("| ageing | severity | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for case, row in summary.items():
        model, severity = case.rsplit(" ", 1)
        best = min(row.values())
        cells = [(f"**{row[k]:.2f}**" if row[k] == best else f"{row[k]:.2f}") if k in row else "-" for k in methods]
        print(f"| {model} | {severity} | " + " | ".join(cells) + " |")
    out = Path(__file__).parent / "results" / f"restore_harm_{args.set}.json"
    out.write_text(json.dumps({"photos": args.limit, "side": args.side, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
