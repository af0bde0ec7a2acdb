"""Restoring faded photos, measured: real color photos faded by `pix2pix_color.synthetic.fading` (a seeded
random fading per photo: dye fade with cyan first most often, yellow stain, lifted blacks, a fifth
sepia-toned), then scored against the real photos in CIEDE2000 and hue hit rate:

- faded: the input as it is;
- gray world: each channel scaled (in linear light) so that the channel means are equal;
- white patch: each channel scaled so that its 99th percentile is white;
- auto levels: each channel's 0.5th and 99.5th percentiles stretched to black and white;
- colorize gray: the model on the faded photo's lightness, its colors thrown away;
- restore: `Colorizer.restore` (`pix2pix_color.pipeline.restore`).

    PYTHONPATH=. python experiments/restore_study.py --set photos-hq --side 1024
    PYTHONPATH=. python experiments/restore_study.py --set validation --limit 300

Photos are scored at a long side of `--side` (default 1024) so that a set runs in minutes on 2 cores;
the fading is applied there. Results go to experiments/results/restore_<set>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000
from tqdm.auto import tqdm

from pix2pix_color import Colorizer
from pix2pix_color.evaluation.metrics import hue_hit_rate
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder
from pix2pix_color.pipeline.assessment import lab_of, linear_to_srgb, srgb_to_linear
from pix2pix_color.synthetic.fading import fade, random_fading

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def gray_world(rgb: np.ndarray) -> np.ndarray:
    x = srgb_to_linear(rgb)
    means = x.reshape(-1, 3).mean(0)
    return _bytes(x * (means.mean() / np.maximum(means, 1e-4)))


def white_patch(rgb: np.ndarray) -> np.ndarray:
    x = srgb_to_linear(rgb)
    return _bytes(x / np.maximum(np.percentile(x.reshape(-1, 3), 99, axis=0), 1e-4))


def auto_levels(rgb: np.ndarray) -> np.ndarray:
    x = srgb_to_linear(rgb).reshape(-1, 3)
    lo, hi = np.percentile(x, 0.5, axis=0), np.percentile(x, 99.5, axis=0)
    return _bytes((srgb_to_linear(rgb) - lo) / np.maximum(hi - lo, 1e-4))


def _bytes(linear: np.ndarray) -> np.ndarray:
    return np.round(linear_to_srgb(linear) * 255).astype(np.uint8)


def scores(output: np.ndarray, real: np.ndarray, real_lab: np.ndarray) -> dict[str, float]:
    de = deltaE_ciede2000(real_lab, lab_of(output))
    return {"delta_e": float(de.mean()), "hue_hit": hue_hit_rate(output, real)}


def photos(name: str, limit: int | None):
    if name == "photos-hq":
        return photos_from_folder(SHARED / "photos-hq", limit)
    if name == "validation":
        return photos_from_dataset(str(SHARED / "landscapes"), "validation", limit)
    raise SystemExit(f"unknown set {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="photos-hq", choices=["photos-hq", "validation"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    rng = np.random.default_rng(args.seed)
    methods = {
        "faded": lambda x: x,
        "gray world": gray_world,
        "white patch": white_patch,
        "auto levels": auto_levels,
        "colorize gray": lambda x: np.asarray(colorizer.colorize(Image.fromarray(x).convert("L"))),
        "restore": lambda x: np.asarray(restored(x)),
    }
    found: list[str] = []  # what restore took each faded photo for

    def restored(x):
        image = colorizer.restore(Image.fromarray(x))
        found.append(image.info["restoration"])
        return image

    rows: dict[str, list[dict]] = {name: [] for name in methods}
    kinds: list[str] = []
    seconds = {name: 0.0 for name in methods}
    for image in tqdm(photos(args.set, args.limit), desc=args.set, unit="photo"):
        scale = min(1.0, args.side / max(image.size))
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        real = np.asarray(image.convert("RGB"))
        fading = random_fading(rng)
        faded = fade(real, fading)
        kinds.append("sepia" if fading.sepia else "color")
        real_lab = lab_of(real)
        for name, method in methods.items():
            start = time.perf_counter()
            output = method(faded)
            seconds[name] += time.perf_counter() - start
            rows[name].append(scores(output, real, real_lab))
    kinds_arr = np.array(kinds)
    summary = {}
    for name, items in rows.items():
        entry = {}
        for subset, mask in (
            ("all", np.ones(len(kinds), bool)),
            ("color", kinds_arr == "color"),
            ("sepia", kinds_arr == "sepia"),
        ):
            chosen = [r for r, m in zip(items, mask) if m]
            if chosen:
                entry[subset] = {
                    "n": len(chosen),
                    "delta_e": float(np.mean([r["delta_e"] for r in chosen])),
                    "hue_hit": float(np.nanmean([r["hue_hit"] for r in chosen])),
                }
        entry["seconds_per_photo"] = seconds[name] / max(1, len(kinds))
        summary[name] = entry
    recognised = {
        truth: {kind: sum(1 for t, f in zip(kinds, found) if t == truth and f == kind) for kind in set(found)}
        for truth in ("color", "sepia")
    }
    summary["restore"]["taken_for"] = recognised
    print(f"restore took the faded color photos for {recognised['color']}, the sepia ones for {recognised['sepia']}")
    print(f"\n{args.set}: {len(kinds)} photos ({int((kinds_arr == 'sepia').sum())} sepia), long side {args.side}")
    print(
        "| method | dE2000 all | hue hit all | dE2000 faded color | hue hit faded color"
        " | dE2000 sepia | hue hit sepia | s/photo |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, entry in summary.items():
        cells = []
        for subset in ("all", "color", "sepia"):
            e = entry.get(subset, {"delta_e": float("nan"), "hue_hit": float("nan")})
            cells += [f"{e['delta_e']:.2f}", f"{e['hue_hit']:.3f}"]
        print(f"| {name} | " + " | ".join(cells) + f" | {entry['seconds_per_photo']:.2f} |")
    out = args.out or Path(__file__).parent / "results" / f"restore_{args.set}.json"
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary}, indent=1))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
