"""Test-time augmentation: what averaging over the mirror image (`mirror_average`) gains and costs.

    python benchmarks/bench_tta.py [--model DIR] [--validation-photos 500]

Cost: a 1 MP photo (1280x800) colorized the app's way (`Colorizer.colorize`, backend "auto"), with
and without the mirror average, median of 7, side by side in one run. Gain: PSNR, hue hit rate and
colorfulness on validation photos and photos-hq (full resolution, `pix2pix_color.metrics.evaluate`).
The issue's budget: 1 MP in about 0.1 s with TTA if it is on by default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import machine, photo, table, timeit

from pix2pix_color import Colorizer
from pix2pix_color.cli import _photos_from_dataset, _photos_from_folder
from pix2pix_color.metrics import evaluate

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--validation-photos", type=int, default=500)
    args = parser.parse_args()
    plain = Colorizer.from_pretrained(args.model)
    mirrored = Colorizer(plain.generator, backend=plain.backend, mirror_average=True, model_id=plain.model_id)
    backend = plain.backend.name if plain.backend is not None else "torch"

    gray = photo(1280, 800).convert("L")
    t_plain = timeit(lambda: plain.colorize(gray), repeat=7)
    t_tta = timeit(lambda: mirrored.colorize(gray), repeat=7)
    print(f"{machine()}; backend {backend}\n")
    print(
        table(
            ["1 MP photo (1280x800)", "ms", "vs plain"],
            [
                ["plain", f"{t_plain * 1e3:.0f}", "1.00x"],
                ["mirror average", f"{t_tta * 1e3:.0f}", f"{t_tta / t_plain:.2f}x"],
            ],
        )
    )

    sets = {
        "validation": list(_photos_from_dataset(str(SHARED / "landscapes"), "validation", args.validation_photos)),
        "photos-hq": list(_photos_from_folder(SHARED / "photos-hq", None)),
    }
    rows = []
    for name, photos in sets.items():
        scores = {label: evaluate(c.colorize_batch, photos) for label, c in (("plain", plain), ("mirror", mirrored))}
        gray_psnr = scores["plain"]["gray"].psnr
        for label, s in scores.items():
            m = s["model"]
            rows.append(
                [
                    name,
                    label,
                    f"{m.psnr:.2f} ({m.psnr - gray_psnr:+.2f})",
                    f"{m.hue_hit:.3f}",
                    f"{m.colorfulness_gap:+.1f}%",
                ]
            )
    print()
    print(table(["set", "decoding", "PSNR (vs gray)", "hue hit", "colorfulness vs real"], rows))


if __name__ == "__main__":
    main()
