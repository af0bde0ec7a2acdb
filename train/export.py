"""A finished run, written down: run.json (how it was trained) and model/ (a Hub model repo)."""

from __future__ import annotations

import copy
import datetime
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

import pix2pix_color
from pix2pix_color.models import UNetGenerator, count_parameters

from .card import dataset_card_info, write_card
from .config import TrainConfig


def write_run_record(out: Path, **facts) -> dict:
    """`run_record`, written to run.json."""
    record = run_record(out, **facts)
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str))
    return record


def run_record(
    out: Path,
    *,
    cfg: TrainConfig,
    step: int,
    wall_seconds: float,
    hardware: str,
    counters: dict,
    timings: dict | None = None,
) -> dict:
    """How the run in `out` was trained, and its latest metrics: what the model card is made from."""
    metrics_path = out / "metrics.json"
    commands_path = out / "commands.txt"
    commands = commands_path.read_text().splitlines() if commands_path.is_file() else []
    record = {
        "config": cfg.to_dict(),
        "commands": commands,  # "date time  command", one per invocation (the first run, then resumes)
        "steps": step,
        "wall_seconds": wall_seconds,
        "hardware": hardware,
        "timings": timings or {},  # this invocation: photo cache build, and the training loop alone
        "skipped": counters,
        "metrics": json.loads(metrics_path.read_text()) if metrics_path.is_file() else None,
        "dataset": dataset_card_info(cfg.dataset),
        "date": datetime.date.today().isoformat(),
        "versions": {"pix2pix_color": pix2pix_color.__version__, "torch": torch.__version__},
    }
    return record


def export_model(
    G: UNetGenerator,
    export_dir: Path,
    *,
    cfg: TrainConfig,
    record: dict,
    repo_id: str | None = None,
    discriminator: torch.nn.Module | None = None,
) -> Path:
    """Write config.json, model.safetensors (in cfg.export_dtype), README.md, samples.png and, given
    one, discriminator.safetensors (so that `--init-from` can continue GAN training from it)."""
    export_dir.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if cfg.export_dtype == "float16" else torch.float32
    exported = copy.deepcopy(G).to(memory_format=torch.contiguous_format).to(dtype).eval()
    (export_dir / "README.md").unlink(missing_ok=True)  # save_pretrained would keep a stale card
    exported.save_pretrained(export_dir)
    if discriminator is not None:
        state = {k: v.detach().to(dtype).contiguous() for k, v in discriminator.state_dict().items()}
        save_file(state, export_dir / "discriminator.safetensors")
    samples = Path(cfg.output_dir) / "samples.png"
    if samples.is_file():
        shutil.copyfile(samples, export_dir / "samples.png")
    write_card(export_dir, record, repo_id=repo_id, weights_dtype=cfg.export_dtype, n_parameters=count_parameters(G))
    return export_dir
