"""Regenerate docs/photos_hq_grid.png: large photos as people upload them, gray / pix2pix-color / real.

    python docs/make_photos_hq_grid.py --folder ../shared/data/photos-hq/validation

The photos are every `--stride`-th file of the folder in name order (a fixed rule, not a choice),
colorized at full resolution and shown with their own aspect ratio.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.core.color import gray_version
from pix2pix_color.io.images import find_images, open_image

OUT = Path(__file__).resolve().parent / "photos_hq_grid.png"


def strip(rows: list[list[Image.Image]], height: int, gap: int = 4) -> Image.Image:
    """Rows of images side by side, each scaled to `height`, rows stacked."""
    scaled = [[im.resize((round(im.width * height / im.height), height), Image.LANCZOS) for im in row] for row in rows]
    width = max(sum(im.width for im in row) + gap * (len(row) - 1) for row in scaled)
    grid = Image.new("RGB", (width, len(rows) * height + gap * (len(rows) - 1)), "white")
    for r, row in enumerate(scaled):
        x = 0
        for im in row:
            grid.paste(im.convert("RGB"), (x, r * (height + gap)))
            x += im.width + gap
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="../shared/data/photos-hq/validation")
    parser.add_argument("--stride", type=int, default=13)
    parser.add_argument("--height", type=int, default=170)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    paths = find_images([args.folder])[:: args.stride]
    real = [open_image(p).convert("RGB") for p in paths]
    gray = [Image.fromarray(gray_version(np.asarray(r)), "L") for r in real]
    ours = colorizer.colorize_batch(gray)
    grid = strip([gray, ours, real], args.height)
    grid.save(OUT, optimize=True)
    print(f"{OUT}: {', '.join(p.name for p in paths)}; {grid.size[0]}x{grid.size[1]}")


if __name__ == "__main__":
    main()
