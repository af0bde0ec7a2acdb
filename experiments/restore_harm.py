"""Restore must first do no harm, measured (issue 42): real color photos, unfaded and aged by each
of `pix2pix_color.synthetic.fading.AGEING`'s models at several severities, restored and scored against the
real photo in mean CIEDE2000, beside the aged input, a gray-world correction and colorizing the
gray version.

    PYTHONPATH=. python experiments/restore_harm.py --set validation --limit 60
    PYTHONPATH=. python experiments/restore_harm.py --set photos-hq --limit 40
    PYTHONPATH=. python experiments/restore_harm.py --set design --limit 60   # photos-varied (training)

Besides `AGEING`'s six, three held-out fadings (`HELD_OUT`) that neither it nor the fade
estimator's training contains: light fading, dye crosstalk, a faded print scanned with auto levels.

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
from pix2pix_color.pipeline.assessment import lab_of
from pix2pix_color.synthetic.fading import AGEING

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SEVERITIES = (0.15, 0.4, 0.7, 1.0)


# Held-out fadings: forms that neither `AGEING` nor the fade estimator's training
# (`fading.random_ageing`) contains, to see whether restore learned fading or its formulas.
def _density(rgb: np.ndarray) -> np.ndarray:
    x = rgb / 255.0
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return -np.log10(np.maximum(linear, 1e-4))


def _from_density(d: np.ndarray) -> np.ndarray:
    linear = np.clip(10.0 ** (-d), 0, 1)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(np.clip(srgb, 0, 1) * 255).astype(np.uint8)


def light_fading(rgb: np.ndarray, severity: float) -> np.ndarray:
    """Faded by light (not in the dark): the thin densities of highlights and mid-tones go first,
    magenta most: D' = D (1 - a exp(-D / 0.6)), a = (0.35, 0.6, 0.25) at 1."""
    d = _density(rgb)
    a = np.array([0.35, 0.6, 0.25]) * severity
    return _from_density(d * (1 - a * np.exp(-d / 0.6)))


def dye_crosstalk(rgb: np.ndarray, severity: float) -> np.ndarray:
    """The dyes' unwanted absorptions grown and their own lost: D' = M D, each layer keeping
    1 - 0.35 s of its density and taking 0.12 s of its neighbours' (the colors muddy and shift)."""
    d = _density(rgb)
    m = np.eye(3) * (1 - 0.35 * severity) + (np.ones((3, 3)) - np.eye(3)) * 0.12 * severity
    return _from_density(d @ m.T)


def scanned_faded_print(rgb: np.ndarray, severity: float) -> np.ndarray:
    """A print faded cyan-first and yellowed, then scanned with the scanner's auto levels: each
    channel stretched from its 0.5th to its 99.5th percentile in display values."""
    s = float(severity)
    faded = AGEING["dye loss"](AGEING["yellowing"](rgb, 0.6 * s), s).astype(np.float64)
    lo, hi = np.percentile(faded.reshape(-1, 3), [0.5, 99.5], axis=0)
    return np.round(np.clip((faded - lo) / np.maximum(hi - lo, 1) * 255, 0, 255)).astype(np.uint8)


HELD_OUT = {"light fading": light_fading, "dye crosstalk": dye_crosstalk, "scanned faded print": scanned_faded_print}
FADINGS = {**AGEING, **HELD_OUT}


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
    parser.add_argument("--models", nargs="*", default=list(FADINGS))
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
            aged = real if model == "unfaded" else FADINGS[model](real, severity)
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
