"""Helpers shared by the benchmark scripts: timing, tables, machine description, example photos."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "examples"


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time in seconds over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timeit_interleaved(fns: Sequence[Callable[[], object]], repeat: int = 5) -> list[float]:
    """Each function's fastest wall time in seconds, the functions run in turn `repeat` times after
    one warm-up each: a noisy neighbour then slows every contender alike, and the fastest run is the
    one least disturbed (the ratios of medians measured one after the other swung 1.1x-3x here)."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, seen in zip(fns, times):
            start = time.perf_counter()
            fn()
            seen.append(time.perf_counter() - start)
    return [min(seen) for seen in times]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def photo(width: int, height: int) -> Image.Image:
    """A real landscape from ../shared/examples resized to (width, height). Without ../shared this
    stops with a message: random noise in its place would measure something else (JPEG decoding,
    guided filtering and the network all behave differently on noise)."""
    candidates = sorted(EXAMPLES.glob("*.jpg")) if EXAMPLES.is_dir() else []
    if not candidates:
        raise SystemExit(f"no example photos in {EXAMPLES}: the benchmarks measure real photos (../shared/examples)")
    return Image.open(candidates[0]).convert("RGB").resize((width, height), Image.BICUBIC)
