"""How far a color hint spreads: the propagation constants chosen on training photos.

    python experiments/hint_reach.py [--photos 150] [--large 20]

Two things pull apart. Ten hints sampled all over a photo reward a hint that floods (each pixel is
near some hint whose color is right there), while a user who clicks once on a red leaf wants the
leaf red and the rest of the photo as it was. So the constants are chosen with both, on *training*
photos of ../shared/data/landscapes (the validation split and photos-hq, which the card reports,
are not used for the choice):
1. flood: one red hint at a third of the width on each of `--large` large training photos
   (481x321), colorized at "Auto" and at 512 px: the share of the photo whose a*b* moved by > 5;
2. help: `--photos` training photos, each given 10 hints sampled from the real photo (seeded):
   PSNR gain over no hints and hue hit rate.
The rule: the largest 10-hint gain among the constants whose single click moves at most
FLOOD_LIMIT of a photo on average at both working sizes. The example photos and photos-hq are then
measured with the chosen constants as a check (never for the choice).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # their table() and machine()
from common import machine, table  # noqa: E402

from pix2pix_color import Colorizer
from pix2pix_color.core.color import gray_version, rgb_to_lab
from pix2pix_color.core.propagation import REACH, SIGMA_L
from pix2pix_color.evaluation.metrics import evaluate
from train import data, with_preset

ROOT = Path(__file__).resolve().parents[1]
LANDSCAPES = ROOT.parent / "shared" / "data" / "landscapes"
FLOOD_LIMIT = 0.25  # one click may recolor a quarter of a photo on average: an object, not the scene
SIGMAS = (3.0, 4.0, 6.0)
REACHES = (0.1, 0.15, 0.2, 0.25, 0.4)


def training_photos(n: int, large: int) -> tuple[list[Image.Image], list[Image.Image]]:
    cfg = with_preset(dataset=str(LANDSCAPES), output_dir="/tmp/hint-reach", max_steps=1, preset="cpu-small")
    small, big = [], []
    for photo in data.usable_photos(data.load_splits(cfg).train):
        if min(photo.size) >= 256 and len(big) < large:
            big.append(photo)
        elif min(photo.size) < 256 and len(small) < n:
            small.append(photo)
        if len(small) >= n and len(big) >= large:
            break
    return small, big


def moved_share(colorizer: Colorizer, photo: Image.Image, working_size: int | None) -> float:
    gray = Image.fromarray(gray_version(np.asarray(photo.convert("RGB"))), "L")
    w, h = gray.size
    plain = colorizer.colorize(gray, working_size=working_size)
    hinted = colorizer.colorize(gray, working_size=working_size, hints=[(w // 3, h // 2, "#c0392b")])
    ab = [rgb_to_lab(torch.from_numpy(np.asarray(i).copy()).permute(2, 0, 1))[1:] for i in (plain, hinted)]
    return float(((ab[0] - ab[1]).norm(dim=0) > 5).float().mean())


def flood(colorizer: Colorizer, photos: list[Image.Image]) -> dict:
    return {size: float(np.mean([moved_share(colorizer, p, size) for p in photos])) for size in (None, 512)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--large", type=int, default=20)
    parser.add_argument("--check-only", action="store_true", help="only the check with the constants in the code")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(backend="torch")
    if not args.check_only:
        choose(colorizer, args)
    check(colorizer)


def with_constants(colorizer: Colorizer, sigma: float, reach: float) -> Colorizer:
    """The same model and backend, its hints propagated with these constants (the library's own option)."""
    return Colorizer(
        colorizer.generator, backend=colorizer.backend, model_id=colorizer.model_id, hint_sigma=sigma, hint_reach=reach
    )


def choose(colorizer: Colorizer, args: argparse.Namespace) -> None:
    photos, large = training_photos(args.photos, args.large)
    base = evaluate(colorizer.colorize_batch, photos)["model"]
    rows, candidates = [], []
    for sigma in SIGMAS:
        for reach in REACHES:
            colorizer = with_constants(colorizer, sigma, reach)
            hinted = evaluate(colorizer.colorize_batch, photos, hints_per_photo=10)["model"]
            spread = flood(colorizer, large)
            ok = max(spread.values()) <= FLOOD_LIMIT
            gain = hinted.psnr - base.psnr
            candidates += [(gain, sigma, reach)] if ok else []
            rows.append(
                [sigma, reach, f"{100 * spread[None]:.0f}%", f"{100 * spread[512]:.0f}%", f"{gain:+.2f}",
                 f"{hinted.hue_hit:.3f}", "yes" if ok else "floods"]
            )  # fmt: skip
            print(rows[-1], flush=True)
    print(
        f"\n{len(photos)} training thumbnails with 10 sampled hints each (no hints: PSNR {base.psnr:.2f}, hue hit "
        f"{base.hue_hit:.3f}); one red click on {len(large)} large training photos ({machine()})\n"
    )
    headers = ["SIGMA_L", "REACH", "one click: Auto", "one click: 512", "10 hints: PSNR gain", "hue hit", "within"]
    print(table(headers, rows))
    if candidates:
        gain, sigma, reach = max(candidates)
        print(f"\nchosen: SIGMA_L {sigma:g}, REACH {reach:g} ({gain:+.2f} dB); in the code now: {SIGMA_L:g}, {REACH:g}")


def overshoot(colorizer: Colorizer, photo: Image.Image) -> tuple[float, float]:
    """One click with the real color at a fixed place (a third across, a fifth down: sky in most of
    these photos): the a*b* distance from the hint at the click, and the most chroma within a tenth
    of the long side around it beyond both the hint's and the unhinted result's there (0: the click
    pulled colors towards its own and no further; the residual propagation overshot)."""
    real = np.asarray(photo.convert("RGB"))
    gray = Image.fromarray(gray_version(real), "L")
    w, h = gray.size
    x, y = w // 3, h // 5
    color = real[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].reshape(-1, 3).mean(0).round().astype(int)
    hinted = colorizer.colorize(gray, hints=[(x, y, tuple(int(c) for c in color))])
    lab, lab_plain = (
        rgb_to_lab(torch.from_numpy(np.asarray(i).copy()).permute(2, 0, 1)) for i in (hinted, colorizer.colorize(gray))
    )
    target = rgb_to_lab(torch.from_numpy(color.astype(np.uint8)).view(3, 1, 1))[1:, 0, 0]
    r = max(1, max(w, h) // 10)
    rows, cols = slice(max(0, y - r), y + r), slice(max(0, x - r), x + r)
    chroma, chroma_plain = lab[1:, rows, cols].norm(dim=0), lab_plain[1:, rows, cols].norm(dim=0)
    excess = (chroma - torch.maximum(chroma_plain, target.norm())).clamp(min=0)
    return float((lab[1:, y, x] - target).norm()), float(excess.max())


def check(colorizer: Colorizer) -> None:
    examples = sorted((ROOT / "examples").glob("*.jpg"))
    hq = ROOT.parent / "shared" / "data" / "photos-hq" / "validation"
    examples += sorted(hq.glob("*.jpg"))[:6] if hq.is_dir() else []
    check = []
    colorizer = with_constants(colorizer, SIGMA_L, REACH)
    for size in (None, 256, 512):
        shares = [moved_share(colorizer, Image.open(p), size) for p in examples]
        check.append(
            [f"{SIGMA_L:g} / {REACH:g}", size or "Auto", f"{100 * np.mean(shares):.0f}%", f"{100 * max(shares):.0f}%"]
        )
    print(f"\ncheck on {len(examples)} example and photos-hq photos: share moved by one red click\n")
    print(table(["SIGMA_L / REACH", "working size", "mean", "largest"], check))
    errors, ratios = zip(*(overshoot(colorizer, Image.open(p)) for p in examples))
    print(f"\none click of the real color (a third across, a fifth down) on the same {len(examples)} photos\n")
    print(table(
        ["a*b* distance at the click: mean", "largest", "chroma beyond hint and unhinted around it: mean", "largest"],
        [[f"{np.mean(errors):.1f}", f"{max(errors):.1f}", f"{np.mean(ratios):.1f}", f"{max(ratios):.1f}"]],
    ))  # fmt: skip


if __name__ == "__main__":
    main()
