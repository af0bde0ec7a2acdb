"""ONNX Runtime against PyTorch: the generator alone and a whole colorization, side by side in one run.

    python benchmarks/bench_onnx.py [--quick]

Goals (issue 17): the bundled model at its working size >= 1.5x, at 512 px and the 54M generator at
256 px >= 2x; and the app's 1 MP colorization end to end with each backend. Also the parity of the
bundled graph with PyTorch on `../shared/data/photos-hq` photos (a sample) at two working sizes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import machine, photo, table, timeit
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.core.color import gray_to_l, gray_version
from pix2pix_color.core.image_processor import working_shape
from pix2pix_color.inference import default_model_path
from pix2pix_color.models.networks import UNetGenerator, init_weights
from pix2pix_color.pipeline.backends import OnnxRuntimeBackend
from pix2pix_color.pipeline.onnx_export import export_onnx

PHOTOS_HQ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos-hq" / "validation"


def network_rows(name: str, G: UNetGenerator, graph: Path, sides: list[tuple[int, int]]) -> list[list[str]]:
    backend = OnnxRuntimeBackend(graph, takes_hints=G.hints)
    rows = []
    for h, w in sides:
        L = torch.rand(1, 1, h, w) * 2 - 1
        with torch.inference_mode():
            t_torch = timeit(lambda: G.predict_ab(L), repeat=7)
        t_ort = timeit(lambda: backend.predict_ab(L), repeat=7)
        rows.append([name, f"{h}x{w}", f"{t_torch * 1e3:.1f}", f"{t_ort * 1e3:.1f}", f"{t_torch / t_ort:.2f}x"])
    return rows


def parity_rows(n: int) -> list[list[str]]:
    paths = sorted(PHOTOS_HQ.glob("*.jpg"))[:n] if PHOTOS_HQ.is_dir() else []
    if not paths:
        raise SystemExit(f"no photos in {PHOTOS_HQ}: the parity check needs ../shared/data/photos-hq")
    pt, ort = Colorizer.from_pretrained(backend="torch"), Colorizer.from_pretrained(backend="onnxruntime")
    rows = []
    for working in (None, 512):
        worst = 0.0
        for path in paths:
            image = Image.open(path).convert("RGB")
            image.thumbnail((2000, 2000))
            L = gray_to_l(torch.from_numpy(gray_version(np.asarray(image))))[None, None]
            ours, theirs = pt.engine.predict_ab(L, working_size=working), ort.engine.predict_ab(L, working_size=working)
            difference = (ours - theirs).abs()
            worst = max(worst, float(difference.max()) / 110)  # in the model's -1..1 units
        rows.append([f"{len(paths)} photos-hq photos", str(working or "Auto"), f"{worst:.1e}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    bundled = UNetGenerator.from_pretrained(default_model_path()).eval()
    graph = default_model_path() / "onnx" / "model_fp16.onnx"
    m = bundled.multiple
    rows = network_rows("bundled 10.5M", bundled, graph, [working_shape(600, 800, s, m) for s in (128, 512)])
    if not args.quick:
        torch.manual_seed(0)
        big = init_weights(UNetGenerator()).eval()
        with tempfile.TemporaryDirectory() as tmp:
            rows += network_rows(
                "default 54M", big, export_onnx(big, tmp), [working_shape(600, 800, 256, big.multiple)]
            )
    print(f"generator alone (decoding included), batch 1, median ms ({machine()})\n")
    print(table(["model", "working shape", "torch ms", "onnxruntime ms", "speedup"], rows))

    image = photo(1155, 866).convert("L")  # 1 MP, a black-and-white photo as the app gets it
    e2e = []
    for backend in ("torch", "onnxruntime"):
        colorizer = Colorizer.from_pretrained(backend=backend)
        e2e.append([backend, f"{timeit(lambda: colorizer.colorize(image), repeat=5) * 1e3:.0f}"])
    print("\nthe app's path: a 1 MP black-and-white photo colorized at full resolution, bundled model\n")
    print(table(["backend", "ms"], e2e))
    chosen = Colorizer.from_pretrained(backend="auto").backend
    print(f"\nbackend='auto' chose: {chosen.name if chosen else 'torch'}")
    print("\nparity of the bundled graph with PyTorch (largest |a*b*| difference, -1..1 units; limit 1e-3)\n")
    print(table(["photos", "working size", "max difference"], parity_rows(4 if args.quick else 12)))


if __name__ == "__main__":
    main()
