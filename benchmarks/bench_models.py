"""What a user waits for, model against model: a 1 MP photo end to end (decode to PNG-ready image) with
each backend, and the network alone at its working size, in one run so that the ratios hold on a
noisy machine. The target (issue 28): the bundled model's 1 MP colorization <= 0.15 s with the
faster backend; ONNX Runtime at least 1.4x PyTorch on the network (issue 29).

    PYTHONPATH=. python benchmarks/bench_models.py [MODEL ...]   # default: the bundled model
"""

from __future__ import annotations

import argparse
import io

import torch
from common import machine, photo, table, timeit

from pix2pix_color import Colorizer
from pix2pix_color.pipeline.steps import PredictOptions, working_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["bundled"])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    gray = photo(1280, 800).convert("L")  # 1.02 MP
    data = io.BytesIO()
    gray.save(data, "PNG")
    encoded = data.getvalue()
    rows = []
    for model in args.models:
        source = None if model == "bundled" else model
        backends = {name: Colorizer.from_pretrained(source, backend=name) for name in ("torch", "onnxruntime")}
        G = backends["torch"].generator
        shape = working_grid(G, (800, 1280), PredictOptions())
        L = torch.zeros(1, 1, *shape)
        net = {}
        for name, colorizer in backends.items():
            run = colorizer.backend.predict_ab if colorizer.backend is not None else G.predict_ab
            with torch.inference_mode():
                net[name] = timeit(lambda: run(L), repeat=args.repeat)
            whole = timeit(lambda: colorizer.colorize(encoded), repeat=args.repeat)
            rows.append([model, name, f"{G.encoder}", f"{shape[1]}x{shape[0]}", f"{net[name] * 1e3:.0f}",
                         f"{whole * 1e3:.0f}"])  # fmt: skip
        rows[-1].append(f"{net['torch'] / net['onnxruntime']:.2f}x")
        rows[-2].append("")
        print(rows[-2], rows[-1], flush=True)
    print(f"\n1 MP photo (1280x800, PNG bytes in, image out); {machine()}\n")
    print(
        table(["model", "backend", "encoder", "working grid", "network ms", "1 MP end to end ms", "ORT vs torch"], rows)
    )


if __name__ == "__main__":
    main()
