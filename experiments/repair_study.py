"""Repair, measured (issue 42): gray and sepia-toned versions of real photos, damaged by
`pix2pix_color.synthetic.damage` with fixed seeds, repaired, and scored in L* against the clean photo:

- damage error: mean |dL*| over the true damage, as a share of the damaged input's (lower is better;
  Telea inpainting on the *true* mask is the floor a detector can reach with that fill);
- undamaged moved: mean |dL*| over the pixels that were not damaged (a repair must leave them);
- clean changed: mean |dL*| when the photo had no damage at all.

Methods: the damaged input; the simple baseline (a pixel is damage where it differs from its 5x5
median by more than 20 levels, then Telea); `repair` (the detector, then Telea); the true mask with
Telea and with Navier-Stokes.

    PYTHONPATH=. python experiments/repair_study.py --set photos-hq --limit 40 --side 1024
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder
from pix2pix_color.repair.repair import LIGHTNESS, fill, find_damage
from pix2pix_color.synthetic.damage import damage
from pix2pix_color.synthetic.fading import sepia_tone

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def median_baseline(gray: np.ndarray) -> np.ndarray:
    diff = np.abs(gray.astype(np.int16) - cv2.medianBlur(gray, 5).astype(np.int16)) > 20
    return cv2.dilate(diff.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def L_of(pixels: np.ndarray) -> np.ndarray:
    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    return LIGHTNESS[gray] * 100.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="photos-hq", choices=["photos-hq", "validation"])
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--side", type=int, default=1024)
    args = p.parse_args()
    source = (
        photos_from_folder(SHARED / "photos-hq", args.limit)
        if args.set == "photos-hq"
        else photos_from_dataset(str(SHARED / "landscapes"), "validation", args.limit)
    )
    methods = {
        "damaged input": lambda d, g: np.zeros(g.shape, bool),
        "median + Telea": lambda d, g: median_baseline(g),
        "repair (detector + Telea)": lambda d, g: find_damage(g),
    }
    names = [*methods, "true mask + Telea", "true mask + NS"]
    rows = {k: {"damage": [], "undamaged": [], "clean": [], "found": []} for k in names}
    for i, image in enumerate(tqdm(source, total=args.limit)):
        scale = args.side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        rgb = np.asarray(image.convert("RGB"))
        toned = i % 3 == 2  # every third photo a sepia print, damaged in color
        clean = sepia_tone(rgb, 18.0) if toned else np.asarray(image.convert("L"))
        rng = np.random.default_rng(1000 + i)
        damaged, truth = damage(clean, rng)
        L_clean, L_damaged = L_of(clean), L_of(damaged)
        base = np.abs(L_damaged - L_clean)[truth].mean()
        for name, detect in methods.items():
            gray = damaged if damaged.ndim == 2 else cv2.cvtColor(damaged, cv2.COLOR_RGB2GRAY)
            mask = detect(damaged, gray)
            out = L_of(fill(damaged, mask))
            rows[name]["damage"].append(np.abs(out - L_clean)[truth].mean() / base)
            rows[name]["undamaged"].append(np.abs(out - L_clean)[~truth].mean())
            rows[name]["found"].append(mask.mean())
            cgray = clean if clean.ndim == 2 else cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY)
            rows[name]["clean"].append(np.abs(L_of(fill(clean, detect(clean, cgray))) - L_clean).mean())
        for name, flag in (("true mask + Telea", cv2.INPAINT_TELEA), ("true mask + NS", cv2.INPAINT_NS)):
            m = truth.astype(np.uint8)
            filled = cv2.inpaint(damaged, m, 3, flag)
            rows[name]["damage"].append(np.abs(L_of(filled) - L_clean)[truth].mean() / base)
            rows[name]["undamaged"].append(0.0)
            rows[name]["clean"].append(0.0)
            rows[name]["found"].append(truth.mean())
    summary = {k: {m: float(np.mean(v)) for m, v in r.items()} for k, r in rows.items()}
    print(f"\n{args.set}: {args.limit} photos at long side {args.side} (a third sepia-toned)")
    print("| method | damage error (share of input's) | undamaged moved, L* | clean photo changed, L* | flagged |")
    print("|---|---|---|---|---|")
    for k, r in summary.items():
        print(f"| {k} | {r['damage']:.2f} | {r['undamaged']:.2f} | {r['clean']:.2f} | {r['found']:.3f} |")
    out = Path(__file__).parent / "results" / f"repair_{args.set}.json"
    out.write_text(json.dumps({"photos": args.limit, "side": args.side, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
