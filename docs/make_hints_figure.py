"""Regenerate docs/hints.png: a black-and-white photo, the automatic result, the result with a few
color hints, and the real photo.

    python docs/make_hints_figure.py [--photo ../shared/data/photos-hq/validation/horseshoe_bend_sunset.jpg]

The hints are `--hints` points whose colors are read from the real photo (a 3x3 mean) at places
picked by a seeded random draw, as `pix2pix-color evaluate --hints-per-photo` does: what a user who
knows the colors would click, not points chosen to flatter the model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pix2pix_color import Colorizer
from pix2pix_color.core.color import gray_version
from pix2pix_color.core.hints import sample_hints
from pix2pix_color.io.images import open_image

OUT = Path(__file__).resolve().parent / "hints.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default="../shared/data/photos-hq/validation/horseshoe_bend_sunset.jpg")
    parser.add_argument("--hints", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=int, default=260)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    real = open_image(args.photo).convert("RGB")
    gray = Image.fromarray(gray_version(np.asarray(real)), "L")
    hints = sample_hints(np.asarray(real), args.hints, np.random.default_rng(args.seed))
    automatic = colorizer.colorize(gray)
    hinted = colorizer.colorize(gray, hints=hints)
    scale = args.height / real.height
    panels = [gray.convert("RGB"), automatic, hinted, real]
    panels = [p.resize((round(p.width * scale), args.height), Image.LANCZOS) for p in panels]
    marked = panels[0].copy()
    draw = ImageDraw.Draw(marked)
    for x, y, color in hints:
        cx, cy = x * scale, y * scale
        draw.ellipse((cx - 6, cy - 6, cx + 6, cy + 6), fill=color, outline="white", width=2)
    panels[0] = marked
    gap = 4
    figure = Image.new("RGB", (sum(p.width for p in panels) + gap * 3, args.height), "white")
    x = 0
    for p in panels:
        figure.paste(p, (x, 0))
        x += p.width + gap
    figure.save(OUT, optimize=True)
    print(f"{OUT}: {Path(args.photo).name}, {len(hints)} hints; {figure.size[0]}x{figure.size[1]}")


if __name__ == "__main__":
    main()
