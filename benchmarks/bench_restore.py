"""What restoring costs against colorizing: a faded color print (`pix2pix_color.synthetic.fading`) through
`Colorizer.restore` and its gray version through `Colorizer.colorize`, at 1 MP and 12 MP, the
bundled model on the backend "auto" picks, timed interleaved. Restore runs the network twice (the
colors, then the classification head's distribution for where to trust them) and per-pixel curves
and L*a*b* conversions on the full photo. "restore, naive" is the same restoration the first way
it was written: the curves applied per pixel in floating point, and the model's colors rendered to
sRGB bytes and converted back to L*a*b*, where `restore` uses a 256-entry table per channel and takes
the model's a*b* before they become bytes.

    PYTHONPATH=. python benchmarks/bench_restore.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from common import machine, table, timeit_interleaved  # noqa: E402
from PIL import Image  # noqa: E402

from pix2pix_color import Colorizer  # noqa: E402
from pix2pix_color.pipeline.assessment import assess, lab_of, linear_to_srgb, srgb_to_linear, thumbnail  # noqa: E402
from pix2pix_color.pipeline.fading_curves import estimate_curves  # noqa: E402
from pix2pix_color.pipeline.restore import blend_evidence, compose  # noqa: E402
from pix2pix_color.synthetic.fading import Fading, fade  # noqa: E402

PHOTO = Path(__file__).resolve().parents[1] / "tests" / "data" / "bridge_color.jpg"
PRINT = Fading(cyan=0.5, magenta=0.8, yellow=0.95, stain=0.08, flare=0.06)


def restore_naive(colorizer: Colorizer, faded: Image.Image) -> Image.Image:
    rgb = np.asarray(faded)
    small = np.asarray(thumbnail(faded))
    assert assess(small).kind == "color"
    curves = estimate_curves(srgb_to_linear(small).reshape(-1, 3))
    corrected = np.round(linear_to_srgb(curves.apply(srgb_to_linear(rgb))) * 255).astype(np.uint8)
    prediction = colorizer.engine.prediction(Image.fromarray(corrected))
    model = np.asarray(colorizer.engine.render(prediction, 1.0))
    sure = colorizer.engine.confidence(prediction, 1.0).map
    lab = lab_of(corrected)
    return Image.fromarray(compose(lab[..., 0], blend_evidence(lab[..., 1:], lab_of(model)[..., 1:], sure)))


def main() -> None:
    colorizer = Colorizer.from_pretrained()
    rows = []
    for name, size in (("1 MP", (1333, 750)), ("12 MP", (4000, 3000))):
        real = Image.open(PHOTO).convert("RGB").resize(size, Image.BICUBIC)
        faded = Image.fromarray(fade(np.asarray(real), PRINT))
        gray = faded.convert("L")
        colorize, naive, restore = timeit_interleaved(
            [
                lambda: colorizer.colorize(gray),
                lambda: restore_naive(colorizer, faded),
                lambda: colorizer.restore(faded),
            ],
            repeat=3,
        )
        difference = np.abs(
            np.asarray(restore_naive(colorizer, faded), dtype=int) - np.asarray(colorizer.restore(faded), dtype=int)
        )
        rows.append(
            [
                name,
                f"{colorize:.3f}",
                f"{naive:.3f}",
                f"{restore:.3f}",
                f"{naive / restore:.2f}x",
                f"{restore / colorize:.2f}x",
                f"{difference.mean():.3f} / {difference.max()}",
            ]
        )
    print(machine(), f"backend: {type(colorizer.backend).__name__ if colorizer.backend else 'torch'}")
    headers = ["photo", "colorize gray (s)", "restore, naive (s)", "restore (s)", "naive / restore"]
    print(table([*headers, "restore / colorize", "difference mean / max (0-255)"], rows))


if __name__ == "__main__":
    main()
