"""The decoding temperature of a classification head, chosen by what users see on photos the model
never trained on, instead of by a colorfulness target on its training thumbnails.

    PYTHONPATH=. python experiments/temperature_study.py MODEL [--photos 120] [--temperatures 1 0.8 ...]

`train.calibrate` picks the highest temperature whose colorfulness on 200-500 training photos comes
within -14% of theirs, on the grounds that T = 1 (the distribution's mean) has the best PSNR. For the
pretrained-encoder candidate (gen7) that premise is false: its distribution is trained with class
rebalancing, which inflates the probability of rare, warm, saturated bins, so its mean is pulled
towards a warm, muddy cast wherever the model hesitates (a sepia sky on large photos); a lower
temperature moves each pixel towards its most likely color, which is the fix for that bias, and
PSNR rises with it.

The choice is made on `photos-varied`'s large wallpapers (short side 512 px: photos as people upload
them), which a landscapes-only model never saw in training, plus the first landscape training
photos; never on `photos-hq` or the validation split, which then score the choice. One network pass
per photo, its logits decoded at every temperature (`UNetGenerator.decode`), finished at full size
as the library finishes a photo. Prints a table and writes experiments/results/temperature_<name>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine, table  # noqa: E402

from pix2pix_color import UNetGenerator  # noqa: E402
from pix2pix_color.core.color import denormalize_ab, gray_to_l, gray_version, is_grayscale, normalize_l  # noqa: E402
from pix2pix_color.core.image_processor import resize  # noqa: E402
from pix2pix_color.evaluation.metrics import colorfulness, hue_hit_rate, psnr  # noqa: E402
from pix2pix_color.inference import default_model_path  # noqa: E402
from pix2pix_color.pipeline.steps import PredictOptions, finish_batch, working_grid  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GRID = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2]


def calibration_photos(limit: int) -> dict[str, list[np.ndarray]]:
    """{set name: uint8 (H,W,3) photos}: photos-varied's wallpapers and the landscape training split's
    first photos, `limit` of each, black-and-white ones left out (nothing to score)."""
    from datasets import load_dataset

    sets: dict[str, list[np.ndarray]] = {"photos-varied wallpapers": [], "landscapes train": []}
    varied = load_dataset(str(SHARED / "photos-varied"), split="train", streaming=True)
    for row in varied.filter(lambda r: r["kind"] == "wallpaper"):
        if not is_grayscale(row["image"]):
            sets["photos-varied wallpapers"].append(np.asarray(row["image"].convert("RGB")))
        if len(sets["photos-varied wallpapers"]) == limit:
            break
    landscapes = load_dataset(str(SHARED / "landscapes"), split="train", streaming=True)
    for row in landscapes:
        if min(row["image"].size) >= 64 and not is_grayscale(row["image"]):
            sets["landscapes train"].append(np.asarray(row["image"].convert("RGB")))
        if len(sets["landscapes train"]) == limit:
            break
    return sets


def score(G: UNetGenerator, photos: list[np.ndarray], temperatures: list[float]) -> dict[float, dict]:
    """Mean PSNR, hue hit rate and colorfulness gap (%) per temperature, each photo from its gray version."""
    options = PredictOptions()
    sums = {t: {"psnr": 0.0, "hue_hit": 0.0, "hue_n": 0, "colorfulness": 0.0} for t in temperatures}
    real = 0.0
    for rgb in tqdm(photos, leave=False, unit="photo"):
        L = gray_to_l(torch.from_numpy(gray_version(rgb)))[None, None]
        L_low = resize(L, working_grid(G, tuple(L.shape[-2:]), options))
        real += colorfulness(rgb)
        with torch.inference_mode():
            logits = G(normalize_l(L_low))
            for t in temperatures:
                ab = denormalize_ab(G.decode(logits, L_low.shape[-2:], temperature=t)) * G.chroma_gain
                out = next(finish_batch([L], L_low, ab))
                sums[t]["psnr"] += psnr(out, rgb)
                hit = hue_hit_rate(out, rgb)
                if not np.isnan(hit):
                    sums[t]["hue_hit"] += hit
                    sums[t]["hue_n"] += 1
                sums[t]["colorfulness"] += colorfulness(out)
    n = len(photos)
    return {
        t: {
            "psnr": s["psnr"] / n,
            "hue_hit": s["hue_hit"] / max(1, s["hue_n"]),
            "colorfulness_gap": 100 * (s["colorfulness"] - real) / real,
        }
        for t, s in sums.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model folder, or 'bundled'")
    parser.add_argument("--photos", type=int, default=120, help="photos of each calibration set")
    parser.add_argument("--temperatures", type=float, nargs="*", default=GRID)
    args = parser.parse_args()
    if not (SHARED / "photos-varied").is_dir():
        raise SystemExit(f"no photo sets under {SHARED}: the study needs ../shared")
    folder = default_model_path() if args.model == "bundled" else Path(args.model)
    G = UNetGenerator.from_pretrained(str(folder)).eval()
    if G.head != "classification":
        raise SystemExit(f"{folder} has a regression head: it has no decoding temperature")
    start = time.perf_counter()
    sets = calibration_photos(args.photos)
    results = {name: score(G, photos, args.temperatures) for name, photos in sets.items()}
    # The choice: the best mean PSNR over both sets (each set weighs the same), so neither the
    # thumbnails nor the large photos alone decide; hue hit rate and colorfulness are reported beside it.
    both = {t: np.mean([results[name][t]["psnr"] for name in sets]) for t in args.temperatures}
    chosen = max(args.temperatures, key=lambda t: both[t])
    rows = []
    for t in args.temperatures:
        cells = [f"{t:.2f}" + (" (chosen)" if t == chosen else "")]
        for name in sets:
            r = results[name][t]
            cells += [f"{r['psnr']:.2f}", f"{r['hue_hit']:.3f}", f"{r['colorfulness_gap']:+.1f}%"]
        rows.append(cells + [f"{both[t]:.3f}"])
    headers = ["T"]
    for name in sets:
        headers += [f"{name} PSNR", "hue hit", "colorfulness"]
    print(f"\n{folder}: {', '.join(f'{len(p)} {n}' for n, p in sets.items())}; {machine()}\n")
    print(table(headers + ["mean PSNR"], rows))
    print(f"\nchosen temperature: {chosen} ({time.perf_counter() - start:.0f} s)")
    out = ROOT / "experiments" / "results" / f"temperature_{folder.name}.json"
    out.write_text(
        json.dumps(
            {
                "model": str(folder),
                "photos": {n: len(p) for n, p in sets.items()},
                "chosen": chosen,
                "results": {n: {str(t): v for t, v in r.items()} for n, r in results.items()},
                "machine": machine(),
                "date": time.strftime("%Y-%m-%d"),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
