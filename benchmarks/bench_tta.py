"""Test-time augmentation: what averaging over the mirror image (`mirror_average`), or over two
working sizes, gains and costs.

    python benchmarks/bench_tta.py [--model DIR] [--validation-photos 500] [--second-sizes 256 384]

Cost: a 1 MP photo (1280x800) colorized the app's way (`Colorizer.colorize`, backend "auto"), plain,
with the mirror average and with each two-size average, median of 7, side by side in one run. Gain:
PSNR, hue hit rate and colorfulness on validation photos and photos-hq (full resolution,
`pix2pix_color.evaluation.metrics.evaluate`). The issue's budget: 1 MP in about 0.1 s with TTA if it is on by
default. The two-size average lives here, not in the library, until it pays: `TwoSizeNetwork`
predicts at the working size and at a second long side, brings the second a*b* back to the working
grid (antialiased bilinear) and averages the two before the usual upsampling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from common import machine, photo, table, timeit

from pix2pix_color import Colorizer
from pix2pix_color.core.image_processor import resize, working_shape
from pix2pix_color.evaluation.metrics import evaluate
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class TwoSizeNetwork:
    """A backend (anything with `predict_ab`, as `Colorizer` takes): the mean of the network's answer
    at the working size and at `second_size`."""

    def __init__(self, network, multiple: int, second_size: int):
        self.network, self.multiple, self.second_size = network, multiple, second_size

    def predict_ab(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        first = self.network.predict_ab(L, hints).float()
        shape = working_shape(*L.shape[-2:], self.second_size, self.multiple)  # L is at the working size
        other_hints = None if hints is None else F.interpolate(hints, size=shape, mode="nearest")
        second = self.network.predict_ab(resize(L, shape), other_hints).float()
        second = F.interpolate(second, size=L.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
        return (first + second) / 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--validation-photos", type=int, default=500)
    # Working sizes are multiples of the network's 2**depth (128 for the bundled model): 96 would be 128, 192 256.
    parser.add_argument("--second-sizes", type=int, nargs="*", default=[256], help="of the two-size average")
    parser.add_argument("--no-timing", action="store_true", help="scores only (timings need the cores to itself)")
    parser.add_argument("--no-scores", action="store_true", help="timings only")
    args = parser.parse_args()
    plain = Colorizer.from_pretrained(args.model)
    shared = dict(backend=plain.backend, model_id=plain.model_id)
    variants = {"plain": plain, "mirror": Colorizer(plain.generator, mirror_average=True, **shared)}
    for size in args.second_sizes:
        size = max(working_shape(size, size, size, plain.generator.multiple))
        name = f"{plain.working_size}+{size}"
        network = TwoSizeNetwork(plain.backend or plain.generator, plain.generator.multiple, size)
        variants[name] = Colorizer(plain.generator, backend=network, model_id=plain.model_id)
    backend = plain.backend.name if plain.backend is not None else "torch"

    print(f"{machine()}; backend {backend}\n")
    if not args.no_timing:
        gray = photo(1280, 800).convert("L")
        times = {name: timeit(lambda: c.colorize(gray), repeat=7) for name, c in variants.items()}
        rows = [[name, f"{t * 1e3:.0f}", f"{t / times['plain']:.2f}x"] for name, t in times.items()]
        print(table(["1 MP photo (1280x800)", "ms", "vs plain"], rows))

    if args.no_scores:
        return
    sets = {
        "validation": list(photos_from_dataset(str(SHARED / "landscapes"), "validation", args.validation_photos)),
        "photos-hq": list(photos_from_folder(SHARED / "photos-hq", None)),
    }
    rows = []
    for name, photos in sets.items():
        scores = {label: evaluate(c.colorize_batch, photos) for label, c in variants.items()}
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
