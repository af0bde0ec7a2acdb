"""Regenerate docs/restore.jpg: old prints made from real color photos, restored, beside the real
photos. Top: a faded color print (cyan dye at half its density, magenta at 80%, yellowed, lifted
blacks: `pix2pix_color.synthetic.fading`); bottom: a sepia-toned print of another photo, which `restore`
recognises as toned and colorizes.

    python docs/make_restore_figure.py [--faded PHOTO] [--sepia PHOTO]

The defaults are CC0 photos of `photos-hq` (BuddiesOfBudgie/budgie-backgrounds), never trained on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.io.images import open_image
from pix2pix_color.synthetic.fading import Fading, fade, sepia_tone

OUT = Path(__file__).resolve().parent / "restore.jpg"
HQ = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos-hq" / "validation"
PRINT = Fading(cyan=0.5, magenta=0.8, yellow=0.95, stain=0.08, flare=0.06)


def row(colorizer: Colorizer, real: Image.Image, old: np.ndarray, height: int) -> list[Image.Image]:
    restored = colorizer.restore(Image.fromarray(old))
    panels = [Image.fromarray(old), restored.convert("RGB"), real]
    return [p.resize((round(p.width * height / p.height), height), Image.LANCZOS) for p in panels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faded", default=str(HQ / "tea_gardens.jpg"))
    parser.add_argument("--sepia", default=str(HQ / "casa_mila.jpg"))
    parser.add_argument("--height", type=int, default=260)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    rows = []

    def sepia_print(x):
        return sepia_tone(x, 18.0, flare=0.04, stain=0.05)

    prints = ((args.faded, lambda x: fade(x, PRINT)), (args.sepia, sepia_print))
    for path, old in prints:
        real = open_image(path).convert("RGB")
        real.thumbnail((1600, 1600), Image.LANCZOS)
        rows.append(row(colorizer, real, old(np.asarray(real)), args.height))
    gap = 4
    width = max(sum(p.width for p in r) + gap * (len(r) - 1) for r in rows)
    figure = Image.new("RGB", (width, len(rows) * (args.height + gap) - gap), "white")
    for i, panels in enumerate(rows):
        x = 0
        for p in panels:
            figure.paste(p, (x, i * (args.height + gap)))
            x += p.width + gap
    figure.save(OUT, quality=88, optimize=True)
    print(f"{OUT}: {Path(args.faded).name}, {Path(args.sepia).name}; {figure.size[0]}x{figure.size[1]}")


if __name__ == "__main__":
    main()
