"""What the confidence map costs: colorize a photo with and without `ColorizeRequest(confidence=True)`, at
1 MP and 12 MP, the bundled model in PyTorch (the map reads the head's logits, which only PyTorch
gives), timed interleaved.

    PYTHONPATH=. python benchmarks/bench_confidence.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table, timeit_interleaved  # noqa: E402
from PIL import Image  # noqa: E402

from pix2pix_color import (
    Colorizer,  # noqa: E402
    ColorizeRequest,
)

PHOTO = Path(__file__).resolve().parents[1] / "tests" / "data" / "bridge_color.jpg"


def main() -> None:
    colorizer = Colorizer.from_pretrained(None, backend="torch")
    rows = []
    for name, size in (("1 MP", (1333, 750)), ("12 MP", (4000, 3000))):
        photo = Image.open(PHOTO).convert("L").resize(size, Image.BICUBIC)
        plain, with_map = timeit_interleaved(
            [lambda: colorizer.colorize(photo), lambda: colorizer.run(ColorizeRequest(photo, confidence=True))],
            repeat=3,
        )
        rows.append([name, f"{plain:.3f}", f"{with_map:.3f}", f"{with_map / plain:.2f}x"])
    print(machine())
    print(table(["photo", "colorize (s)", "with confidence (s)", "ratio"], rows))


if __name__ == "__main__":
    main()
