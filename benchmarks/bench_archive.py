"""`pix2pix-color colorize-dataset` with 1 and 2 processes: photos per second and the scaling ratio.

    python benchmarks/bench_archive.py [--photos 256] [--model MODEL] [--ray /path/to/python]

The input is the first N photos of `../shared/data/landscapes`' validation split, written as a
Hub-layout dataset of 4 Parquet files (so that 2 processes split it by file, as on a real archive).
Each run colorizes all of it into a fresh output with the bundled model: one process with every core
(torch's threads), one process on one thread (what each of the two gets), and two processes under
torchrun (what `accelerate launch` runs) with one thread each. Wall time includes starting Python
and loading the model, as a user's job does. `--ray PYTHON` adds the same job on Ray Data
(`archive_ray.py`, 2 actors of one CPU each) run by a Python that has Ray installed (the project
does not depend on it): wall time only, Ray's start included.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, table

ROOT = Path(__file__).resolve().parents[1]
LANDSCAPES = ROOT.parent / "shared" / "data" / "landscapes"


def write_input(folder: Path, photos: int) -> None:
    from datasets import Dataset, load_dataset
    from datasets import Image as ImageFeature

    if not LANDSCAPES.is_dir():
        raise SystemExit(f"no dataset at {LANDSCAPES}: this benchmark colorizes real photos")
    stream = load_dataset(str(LANDSCAPES), split="validation", streaming=True)
    stream = stream.cast_column("image", ImageFeature(decode=False)).select_columns(["image"]).take(photos)
    ds = Dataset.from_list(list(stream)).cast_column("image", ImageFeature())
    (folder / "data").mkdir(parents=True)
    for k in range(4):
        ds.shard(4, k, contiguous=True).to_parquet(str(folder / "data" / f"train-{k:05d}-of-00004.parquet"))
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/*.parquet\n---\n"
    )


def run(command: list[str], threads: int) -> tuple[float, float]:
    """Wall seconds of the whole job, and the photos/s its processes report for their work alone
    (summed over processes: without starting Python, loading the model and joining the group)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT), "ACCELERATE_USE_CPU": "true"}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    seconds = time.perf_counter() - start
    rates = [float(m) for m in re.findall(r"([0-9.]+) photos/s\)", done.stderr)]
    return seconds, sum(rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=256)
    parser.add_argument("--model", default=None)
    parser.add_argument("--ray", metavar="PYTHON", help="a Python with ray[data] installed: add a Ray Data run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        source = work / "input"
        write_input(source, args.photos)
        flags = ["--rows-per-shard", "16", "-q"] + (["--model", args.model] if args.model else [])
        cli = ["-m", "pix2pix_color.cli", "colorize-dataset", str(source)]
        cases = [
            ("1 process, all cores", [sys.executable, *cli], os.cpu_count() or 1),
            ("1 process, 1 thread", [sys.executable, *cli], 1),
            ("2 processes (torchrun), 1 thread each", ["torchrun", "--standalone", "--nproc_per_node", "2", *cli], 1),
        ]
        rows, base = [], None
        for name, command, threads in cases:
            out = work / f"out-{len(rows)}"
            seconds, working_rate = run([*command, "-o", str(out), *flags], threads)
            rate = args.photos / seconds
            base = base or (rate, working_rate)
            rows.append(
                [name, f"{seconds:.1f}", f"{rate:.1f}", f"{rate / base[0]:.2f}x", f"{working_rate:.1f}",
                 f"{working_rate / base[1]:.2f}x"]
            )  # fmt: skip
        if args.ray:
            out = work / "out-ray"
            script = str(Path(__file__).parent / "archive_ray.py")
            seconds, _ = run([args.ray, script, str(source), str(out), "--workers", "2"], 1)
            rate = args.photos / seconds
            rows.append(["Ray Data, 2 actors, 1 thread each", f"{seconds:.1f}", f"{rate:.1f}", f"{rate / base[0]:.2f}x",
                         "-", "-"])  # fmt: skip
        print(f"colorize-dataset, {args.photos} landscape photos (~150 px), bundled model ({machine()})\n")
        headers = ["run", "wall s", "photos/s (wall)", "vs 1 process", "photos/s (working)", "vs 1 process"]
        print(table(headers, rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
