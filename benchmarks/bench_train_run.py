"""A real `python -m train` run's images/s, today's data path side by side with the old one.

    python benchmarks/bench_train_run.py [--dataset ../shared/data/landscapes] [--steps 300]

Each configuration trains the cpu-small preset (L1 phase) for `--steps` steps in a fresh process
and reads the loop's own timing from run.json (steps x batch / seconds of the training loop; the
one-off photo cache build is reported apart). Beside them, the bare generator + loss step on a
fixed batch (no data, no logging): the gap between the two is what the data path and the loop
cost. Run it on a quiet machine: two torch jobs on 2 cores slow each other many times over.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from common import machine, table

from train import with_preset
from train.loop import build_models
from train.step import gan_step

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = ROOT.parent / "shared" / "data" / "landscapes"
CONFIGS = {
    "streaming, fp32 (the first release)": ["--cache-limit-gb", "0", "--mixed-precision", "no"],
    "streaming, bf16": ["--cache-limit-gb", "0", "--mixed-precision", "bf16"],
    "in-memory cache, fp32": ["--mixed-precision", "no"],
    "in-memory cache, --mixed-precision auto (the default)": [],
}


def real_run(dataset: str, steps: int, flags: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable, "-m", "train", "--preset", "cpu-small", "--dataset", dataset, "--output-dir", out,
            "--max-steps", str(steps), "--l1-warmup-steps", str(steps), "--checkpoint-every", str(steps),
            "--validate-every", str(10 * steps), "--validation-images", "4", "--sample-images", "2", *flags,
        ]  # fmt: skip
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        record = json.loads((Path(out) / "run.json").read_text())
    t = record["timings"]
    precision = "bf16" if "bf16" in record["hardware"] else "fp32"
    return {
        "img/s": t["loop_steps"] * record["config"]["batch_size"] / t["loop_seconds"],
        "cache s": t["cache_seconds"],
        "precision": precision,
    }


def bare_step(precision: str, steps: int = 20) -> float:
    accelerator = Accelerator(cpu=True, mixed_precision=precision)
    cfg = with_preset(dataset="x", output_dir="/tmp/bench", max_steps=1, preset="cpu-small")
    G, D = build_models(cfg)
    G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    G, D, opt_g, opt_d = accelerator.prepare(G, D, opt_g, opt_d)  # as the loop does: autocast comes with it
    L = (torch.rand(cfg.batch_size, 1, 128, 128) * 2 - 1).contiguous(memory_format=torch.channels_last)
    ab = (torch.randn(cfg.batch_size, 2, 128, 128) * 0.2).contiguous(memory_format=torch.channels_last)
    for _ in range(3):
        gan_step(G, D, D, opt_g, opt_d, L, ab, cfg, accelerator, adversarial=False)
    start = time.perf_counter()
    for _ in range(steps):
        gan_step(G, D, D, opt_g, opt_d, L, ab, cfg, accelerator, adversarial=False)
    return steps * cfg.batch_size / (time.perf_counter() - start)


def bare_in_subprocess(precision: str) -> float:
    # One precision per process: Accelerate's state is a per-process singleton.
    command = [sys.executable, __file__, "--bare", precision]
    return float(subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--bare", choices=["no", "bf16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(bare_step(args.bare))
        return
    results = {}
    for name, flags in CONFIGS.items():
        results[name] = real_run(args.dataset, args.steps, flags)
        print(f"{name}: {results[name]['img/s']:.0f} img/s", flush=True)
    baseline = results["streaming, fp32 (the first release)"]["img/s"]
    bare = {"fp32": bare_in_subprocess("no"), "bf16": bare_in_subprocess("bf16")}
    rows = []
    for name, r in results.items():
        ips = r["img/s"]
        cache = f"{r['cache s']:.0f}" if "cache" in name else "-"
        rows.append(
            [name, r["precision"], f"{ips:.0f}", f"{ips / baseline:.2f}x", f"{ips / bare[r['precision']]:.0%}", cache]
        )
    print(f"python -m train --preset cpu-small, {args.steps} L1 steps of 16 x 128 px ({machine()})\n")
    print(table(["data path", "precision", "img/s", "vs first release", "of the bare step", "cache build s"], rows))
    print(f"\nbare generator + L1 step, no data: fp32 {bare['fp32']:.0f} img/s, bf16 {bare['bf16']:.0f} img/s")


if __name__ == "__main__":
    main()
