"""How far a color hint spreads: the propagation constants chosen on training photos, and the reach
checked at two working sizes.

    python benchmarks/hint_reach.py [--photos 200]

1. Choice: the bundled hint model on `--photos` photos of the *training* split of
   ../shared/data/landscapes, each given 10 hints sampled from the real photo (seeded); PSNR gain
   over no hints and hue hit rate for each (SIGMA_L, REACH). The validation split is not used.
2. Reach: one hint on each of the repository's example photos (and photos-hq if present), colorized
   at "Auto" and at 512 px: the share of the photo whose a*b* the hint moved by more than 5 units.
   A hint's reach should not depend on the working size.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np
import torch
from common import machine, table
from datasets import load_dataset  # noqa: F401  (the train package opens the splits)
from PIL import Image

import pix2pix_color.inference as inference
from pix2pix_color import Colorizer
from pix2pix_color.color import gray_version, rgb_to_lab
from pix2pix_color.metrics import evaluate
from pix2pix_color.propagation import REACH, SIGMA_L, propagate_hints
from train import data, with_preset

ROOT = Path(__file__).resolve().parents[1]
LANDSCAPES = ROOT.parent / "shared" / "data" / "landscapes"


def with_constants(sigma: float, reach: float):
    inference.propagate_hints = functools.partial(propagate_hints, sigma=sigma, reach=reach)


def training_photos(n: int) -> list[Image.Image]:
    cfg = with_preset(dataset=str(LANDSCAPES), output_dir="/tmp/hint-reach", max_steps=1, preset="cpu-small")
    return list(data.usable_photos(data.load_splits(cfg).train, n))


def moved_share(colorizer: Colorizer, photo: Image.Image, working_size: int | None) -> float:
    gray = Image.fromarray(gray_version(np.asarray(photo.convert("RGB"))), "L")
    w, h = gray.size
    plain = colorizer.colorize(gray, working_size=working_size)
    hinted = colorizer.colorize(gray, working_size=working_size, hints=[(w // 3, h // 2, "#c0392b")])
    ab = [rgb_to_lab(torch.from_numpy(np.asarray(i).copy()).permute(2, 0, 1))[1:] for i in (plain, hinted)]
    return float(((ab[0] - ab[1]).norm(dim=0) > 5).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=200)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(backend="torch")
    photos = training_photos(args.photos)
    base = evaluate(colorizer.colorize_batch, photos)["model"]
    rows = []
    for sigma in (4.0, 6.0, 8.0):
        for reach in (0.05, 0.1, 0.15, 0.25, 0.4):
            with_constants(sigma, reach)
            hinted = evaluate(colorizer.colorize_batch, photos, hints_per_photo=10)["model"]
            rows.append([sigma, reach, f"{hinted.psnr - base.psnr:+.2f}", f"{hinted.hue_hit:.3f}"])
    print(
        f"{len(photos)} training photos, 10 sampled hints each; no hints: PSNR {base.psnr:.2f}, "
        f"hue hit {base.hue_hit:.3f} ({machine()})\n"
    )
    print(table(["SIGMA_L", "REACH (share of long side)", "PSNR gain dB", "hue hit"], rows))

    examples = sorted((ROOT / "examples").glob("*.jpg"))
    hq = ROOT.parent / "shared" / "data" / "photos-hq" / "validation"
    examples += sorted(hq.glob("*.jpg"))[:6] if hq.is_dir() else []
    reach_rows = []
    for name, constants in (("before: 80 working px", None), (f"now: {SIGMA_L:g} / {REACH:g}", (SIGMA_L, REACH))):
        if constants is None:  # the old rule: a fixed 80 pixels of whatever grid is solved
            inference.propagate_hints = _old_rule
        else:
            with_constants(*constants)
        for size in (None, 512):
            shares = [moved_share(colorizer, Image.open(p), size) for p in examples]
            reach_rows.append([name, size or "Auto", f"{100 * np.mean(shares):.0f}%", f"{100 * max(shares):.0f}%"])
    print("\none red hint at a third of the width: share of the photo whose a*b* moved by > 5\n")
    print(table(["propagation", "working size", "mean", "largest"], reach_rows))


def _old_rule(L, ab, hints):
    h, w = L.shape[-2:]
    solved = max(h, w) * min(1.0, 256 / max(h, w))
    return propagate_hints(L, ab, hints, sigma=6.0, reach=80 / solved)


if __name__ == "__main__":
    main()
