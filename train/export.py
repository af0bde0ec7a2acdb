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
from pix2pix_color.models.networks import HINT_CHANNELS, UNetGenerator, count_parameters

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
        "mixed_datasets": [dataset_card_info(other) for other in cfg.mix_with],
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
    discriminator: torch.nn.Module | dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write config.json, model.safetensors (in cfg.export_dtype), README.md, samples.png and, given
    one (a module, or its saved tensors), discriminator.safetensors (so that `--init-from` can
    continue GAN training from it; only a discriminator that adversarial steps trained is given)."""
    export_dir.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if cfg.export_dtype == "float16" else torch.float32
    exported = copy.deepcopy(G).to(memory_format=torch.contiguous_format).to(dtype).eval()
    (export_dir / "README.md").unlink(missing_ok=True)  # save_pretrained would keep a stale card
    exported.save_pretrained(export_dir)
    (export_dir / "discriminator.safetensors").unlink(missing_ok=True)  # never a stale one from an earlier export
    if discriminator is not None:
        tensors = discriminator if isinstance(discriminator, dict) else discriminator.state_dict()
        state = {k: v.detach().to(dtype).contiguous() for k, v in tensors.items()}
        save_file(state, export_dir / "discriminator.safetensors")
    samples = Path(cfg.output_dir) / "samples.png"
    if samples.is_file():
        shutil.copyfile(samples, export_dir / "samples.png")
    write_card(export_dir, record, repo_id=repo_id, weights_dtype=cfg.export_dtype, n_parameters=count_parameters(G))
    return export_dir


PARITY_TOLERANCE = 1e-3  # largest a*b* difference allowed, in the model's -1..1 output units


def onnx_parity(generator: UNetGenerator, path: Path, sides: tuple[int, ...] = (1, 2, 4)) -> float:
    """Largest |a*b*| difference between ONNX Runtime on `path` and PyTorch, over working shapes of
    `sides` x the model's multiple (several aspect ratios, a batch of 2) with and without hints."""
    from pix2pix_color.pipeline.backends import OnnxRuntimeBackend

    backend = OnnxRuntimeBackend(path, takes_hints=generator.hints)
    generator = generator.eval()
    rng = torch.Generator().manual_seed(0)
    worst = 0.0
    for k in sides:
        h, w = k * generator.multiple, (k + 1) * generator.multiple
        L = torch.rand(2, 1, h, w, generator=rng) * 2 - 1
        for with_hints in (False, True) if generator.hints else (False,):
            hints = None
            if with_hints:
                hints = torch.zeros(2, HINT_CHANNELS, h, w)
                ys, xs = torch.randint(0, h, (10,), generator=rng), torch.randint(0, w, (10,), generator=rng)
                hints[:, :2, ys, xs] = torch.rand(2, 2, 10, generator=rng) * 2 - 1
                hints[:, 2, ys, xs] = 1.0
            with torch.inference_mode():
                expected = generator.predict_ab(L, hints)
            worst = max(worst, float((backend.predict_ab(L, hints) - expected).abs().max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    """python -m train.export MODEL_DIR --onnx [--fp16]: write MODEL_DIR/onnx/model.onnx (or
    model_fp16.onnx), kept only if ONNX Runtime's a*b* are within 1e-3 of PyTorch's."""
    import argparse
    import sys

    from pix2pix_color.models.hub import ModelLoadError
    from pix2pix_color.pipeline.onnx_export import export_onnx

    parser = argparse.ArgumentParser(prog="python -m train.export", description=main.__doc__.split("\n")[0])
    parser.add_argument("model_dir", help="an exported model folder (config.json + model.safetensors)")
    parser.add_argument("--onnx", action="store_true", required=True, help="write the ONNX graph")
    parser.add_argument("--fp16", action="store_true", help="weights stored in float16 (onnx/model_fp16.onnx)")
    args = parser.parse_args(argv)
    try:
        generator = UNetGenerator.from_pretrained(args.model_dir)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    path = export_onnx(generator, args.model_dir, fp16=args.fp16)
    worst = onnx_parity(generator, path)
    if worst > PARITY_TOLERANCE:
        path.unlink()
        print(
            f"error: ONNX Runtime differs from PyTorch by {worst:.2e} (limit {PARITY_TOLERANCE:g}); not kept",
            file=sys.stderr,
        )
        return 1
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB), ONNX Runtime within {worst:.1e} of PyTorch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
