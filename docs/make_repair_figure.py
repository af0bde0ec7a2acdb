"""Regenerate docs/repair.jpg: old prints as they come, repaired, restored and colorized, real.

    python docs/make_repair_figure.py --folder ../shared/data/photos-hq/validation

A fixed rule, not a choice: every `--stride`-th `photos-hq` file in name order, shrunk to a long
side of `--side` px, made an old print (every other one sepia-toned, the rest black and white),
damaged by `pix2pix_color/synthetic/damage.py` with one style and seed 0, 1, 2... (cracks,
scratches, dust and a blotch). Columns: the damaged print, `Colorizer.repair` (nothing colored),
`Colorizer.restore(..., repair=True)` (repaired, then colorized), the real photo; plus a crop at
100% of the print and of the restore (the centre quarter), where the marks show.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_photos_hq_grid import strip  # noqa: E402

from pix2pix_color import Colorizer  # noqa: E402
from pix2pix_color.core.color import gray_version  # noqa: E402
from pix2pix_color.io.images import find_images, open_image  # noqa: E402
from pix2pix_color.synthetic.damage import DamageStyle, damage  # noqa: E402
from pix2pix_color.synthetic.fading import sepia_tone  # noqa: E402

OUT = Path(__file__).resolve().parent / "repair.jpg"
STYLE = DamageStyle(cracks=3, scratches=2, dust=80, blotches=1, width=1.5, contrast=0.85)


def old_print(real: Image.Image, k: int, side: int) -> Image.Image:
    """The real photo as a damaged old print: gray or (odd k) sepia, damage seeded by k."""
    small = real.copy()
    small.thumbnail((side, side), Image.LANCZOS)
    gray = gray_version(np.asarray(small))
    toned = sepia_tone(np.dstack([gray] * 3)) if k % 2 else gray
    damaged, _ = damage(toned, np.random.default_rng(k), STYLE)
    return Image.fromarray(damaged)


def centre(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((w * 3 // 8, h * 3 // 8, w * 5 // 8, h * 5 // 8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="../shared/data/photos-hq/validation")
    parser.add_argument("--stride", type=int, default=20)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--height", type=int, default=190)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    paths = find_images([args.folder])[:: args.stride]
    rows = []
    for k, path in enumerate(paths):
        real = open_image(path).convert("RGB")
        printed = old_print(real, k, args.side)
        restored = colorizer.restore(printed, repair=True)
        shown_real = real.resize(printed.size, Image.LANCZOS)
        rows.append([printed, colorizer.repair(printed), restored, shown_real, centre(printed), centre(restored)])
    grid = strip(rows, args.height)
    grid.save(OUT, quality=88, optimize=True)
    print(f"{OUT}: {', '.join(p.name for p in paths)}; {grid.size[0]}x{grid.size[1]}")


if __name__ == "__main__":
    main()
