"""Regenerate docs/validation_grid.png: validation photos as gray input / pix2pix-color / real.

    python docs/make_validation_grid.py --dataset ../shared/data/landscapes

The photos are picked by a fixed rule (every `--stride`-th validation row, two per class), not by
hand, so the grid shows typical results rather than the best ones.
"""

from __future__ import annotations

import argparse
import io
from collections import defaultdict
from pathlib import Path

from datasets import Image as ImageFeature
from datasets import load_dataset
from PIL import Image

from pix2pix_color import Colorizer
from train.validate import sample_grid

OUT = Path(__file__).resolve().parent / "validation_grid.png"


def pick(dataset: str, per_class: int, stride: int) -> list[Image.Image]:
    stream = load_dataset(dataset, split="validation", streaming=True)
    stream = stream.cast_column("image", ImageFeature(decode=False))
    chosen: dict[str, list[Image.Image]] = defaultdict(list)
    for index, row in enumerate(stream):
        label = str(row.get("label", ""))
        if index % stride or len(chosen[label]) >= per_class:
            continue
        chosen[label].append(Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB"))
    return [photo for label in sorted(chosen) for photo in chosen[label]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="../shared/data/landscapes")
    parser.add_argument("--per-class", type=int, default=2)
    parser.add_argument("--stride", type=int, default=97)
    parser.add_argument("--cell", type=int, default=150)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    photos = pick(args.dataset, args.per_class, args.stride)
    grid = sample_grid(colorizer.generator, photos, working_size=colorizer.working_size, cell=args.cell)
    grid.save(OUT, optimize=True)
    print(f"{OUT}: {len(photos)} photos, {grid.size[0]}x{grid.size[1]}")


if __name__ == "__main__":
    main()
