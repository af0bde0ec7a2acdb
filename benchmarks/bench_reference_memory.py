"""Peak memory of colorizing with a reference photo: the matching in blocks of target cells against
the whole (N, M) score matrices at once (the naive way), each in a fresh process, at working sizes
512 and 1024 (the largest the API takes).

    python benchmarks/bench_reference_memory.py

Peak RSS is read from the process itself (ru_maxrss) and reported above that of a plain colorization
at 1024 px run first, so the network's own peak is not counted.
"""

from __future__ import annotations

import subprocess
import sys

from common import EXAMPLES, machine, table

CHILD = """
import resource, sys, time
from PIL import Image
import pix2pix_color.pipeline.reference as R
from pix2pix_color import Colorizer
if sys.argv[1] == "dense":
    R.MATCH_BLOCK_ELEMENTS = 10**12  # one block: the whole matrices
colorizer = Colorizer.from_pretrained(backend="torch")
real = Image.open(sys.argv[3]).convert("RGB").resize((1600, 1000))
gray = real.convert("L")
colorizer.colorize(gray, working_size=1024)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
colorizer.colorize(gray, working_size=int(sys.argv[2]), reference=real)
seconds = time.perf_counter() - start
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base, seconds)
"""


def main() -> None:
    photos = sorted(EXAMPLES.glob("*.jpg")) if EXAMPLES.is_dir() else []
    if not photos:
        raise SystemExit(f"no example photos in {EXAMPLES}: the benchmarks measure real photos (../shared/examples)")
    rows = []
    for size in (512, 1024):
        measured = {}
        for mode in ("dense", "blocks"):
            done = subprocess.run([sys.executable, "-c", CHILD, mode, str(size), str(photos[0])],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            measured[mode] = [float(x) for x in done.stdout.split()[-2:]]
        (dense_mb, dense_s), (ours_mb, ours_s) = measured["dense"], measured["blocks"]
        rows.append([size, f"+{dense_mb:.0f}", f"{dense_s:.2f}", f"+{ours_mb:.0f}", f"{ours_s:.2f}"])
    print(machine())
    print(table(["working size", "whole matrices MB", "s", "in blocks MB", "s"], rows))


if __name__ == "__main__":
    main()
