"""A run folder for a kept model whose run folder was lost with its machine (experiments/candidates/):
run.json rebuilt from the facts its card states, model/ a copy of the folder, and the validation
metrics measured again, so that `train.calibrate` and `train.publish` work on it as on any run.

    PYTHONPATH=. python experiments/rebuild_run.py experiments/candidates/gen7 runs/gen7 \
        --hardware "CPU (AMD EPYC), 2 cores, bf16 autocast, torch threads 2" --wall-hours 0.54 \
        --date 2026-12-03 --grayscale-skipped 28

The card's "Full training config" block is the run's TrainConfig; commands.txt beside the weights
holds its command lines. Nothing is retrained: the weights are copied byte for byte.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import torch

import pix2pix_color
from pix2pix_color import UNetGenerator
from train import data
from train.config import TrainConfig
from train.export import run_record
from train.validate import run_validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a kept model folder with its card (README.md) and commands.txt")
    parser.add_argument("run_dir")
    parser.add_argument("--dataset", default=str(Path(__file__).resolve().parents[2] / "shared/data/landscapes"))
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--wall-hours", type=float, required=True)
    parser.add_argument("--date", required=True)
    parser.add_argument("--grayscale-skipped", type=int, default=0)
    args = parser.parse_args()
    model, run = Path(args.model), Path(args.run_dir)
    card = (model / "README.md").read_text()
    block = re.search(r"<summary>Full training config</summary>\s*```json\n(.*?)```", card, re.S)
    if not block:
        raise SystemExit(f"{model}/README.md has no full training config")
    cfg = TrainConfig.from_dict({**json.loads(block.group(1)), "dataset": args.dataset, "output_dir": str(run)})
    run.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model, run / "model", dirs_exist_ok=True)
    shutil.copyfile(model / "commands.txt", run / "commands.txt")
    G = UNetGenerator.from_pretrained(str(model))
    validation = list(data.validation_photos(data.load_splits(cfg), cfg.validation_images))
    summary = run_validation(G, validation, working_size=cfg.image_size)
    metrics = {"step": cfg.max_steps, **{k: s.as_dict() for k, s in summary.items()}}
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2))
    record = run_record(
        run,
        cfg=cfg,
        step=cfg.max_steps,
        wall_seconds=args.wall_hours * 3600,
        hardware=args.hardware,
        counters={"corrupt": 0, "grayscale": args.grayscale_skipped},
    )
    record["date"] = args.date
    record["versions"] = {"pix2pix_color": pix2pix_color.__version__, "torch": torch.__version__}
    (run / "run.json").write_text(json.dumps(record, indent=2, default=str))
    model_m, gray_m = summary["model"], summary["gray"]
    print(f"{run}: validation PSNR {model_m.psnr:.2f} (gray {gray_m.psnr:.2f}) on {len(validation)} photos")


if __name__ == "__main__":
    main()
