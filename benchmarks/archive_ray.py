"""The same job as `pix2pix-color colorize-dataset` on Ray Data, for `bench_archive.py --ray`: the
input's Parquet files read by `ray.data.read_parquet`, colorized by `map_batches` on a pool of
actors (one CPU each, each holding a `Colorizer`, batches through `colorize_batch` as the CLI's), and
written as Parquet (the PNG and the row's index). Needs Ray (`pip install "ray[data]"`), which the
project does not depend on.

    python benchmarks/archive_ray.py INPUT_FOLDER OUTPUT_FOLDER --workers 2
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np


class Colorize:
    """One actor: a colorizer on one thread, PNGs out."""

    def __init__(self) -> None:
        import torch

        from pix2pix_color import Colorizer

        torch.set_num_threads(1)
        self.colorizer = Colorizer.from_pretrained()

    def __call__(self, batch: dict) -> dict:
        from PIL import Image

        from pix2pix_color.io.images import save_png

        pictures = [Image.open(io.BytesIO(cell["bytes"])) for cell in batch["image"]]
        pngs = []
        for result in self.colorizer.colorize_batch(pictures):
            buffer = io.BytesIO()
            save_png(result, buffer)
            pngs.append(buffer.getvalue())
        return {"png": np.array(pngs, dtype=object)}


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    # The rows are handed to Ray from the driver (pyarrow reads the Parquet files): Ray 2.60's own
    # read_parquet never produced a block here (the job waited, its read task holding a CPU).
    import pyarrow.parquet as pq

    cells = [row for f in sorted((args.input / "data").glob("*.parquet")) for row in pq.read_table(f).to_pylist()]
    ds = ray.data.from_items(cells, override_num_blocks=len(cells) // 8)
    colorized = ds.map_batches(
        Colorize, batch_size=8, compute=ray.data.ActorPoolStrategy(size=args.workers), num_cpus=1
    )
    colorized.write_parquet(str(args.output))
    rows = sum(len(t) for t in __import__("pyarrow.parquet").parquet.read_table(str(args.output)).to_batches())
    print(f"{rows} photos in {time.perf_counter() - start:.1f} s")
    ray.shutdown()


if __name__ == "__main__":
    main()
