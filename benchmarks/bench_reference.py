"""What a reference photo costs: colorizing a photo with and without `reference=`, at 1 MP and 12 MP
(the reference a 2 MP color photo), the bundled model on the backend "auto" picks, timed interleaved.
With a reference the encoder runs once more on each photo and on the reference (in PyTorch: the
matching reads its features), the cells are matched, and one more propagation solve carries them.

    PYTHONPATH=. python benchmarks/bench_reference.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table, timeit_interleaved  # noqa: E402
from PIL import Image  # noqa: E402

from pix2pix_color import Colorizer  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def main() -> None:
    colorizer = Colorizer.from_pretrained()
    reference = Image.open(DATA / "summer_1am_color.jpg").convert("RGB").resize((1920, 1200), Image.BICUBIC)
    rows = []
    for name, size in (("1 MP", (1333, 750)), ("12 MP", (4000, 3000))):
        gray = Image.open(DATA / "summer_1am_color.jpg").convert("L").resize(size, Image.BICUBIC)
        plain, with_reference = timeit_interleaved(
            [lambda: colorizer.colorize(gray), lambda: colorizer.colorize(gray, reference=reference)], repeat=3
        )
        rows.append([name, f"{plain:.3f}", f"{with_reference:.3f}", f"{with_reference / plain:.2f}x"])
    backend = type(colorizer.backend).__name__ if colorizer.backend else "torch"
    print(machine(), f"backend: {backend}")
    print(table(["photo", "automatic (s)", "with a reference (s)", "ratio"], rows))


if __name__ == "__main__":
    main()
