"""The pix2pix training loop: read it top to bottom in `train`.

One GPU: `python -m train ...`; several: `accelerate launch -m train ...`; CPU: `--preset cpu-small`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import Tensor, nn
from tqdm.auto import tqdm

from pix2pix_color.losses import gan_loss
from pix2pix_color.models import PatchDiscriminator, UNetGenerator, init_weights

from . import data
from .checkpoint import load_latest_checkpoint, save_checkpoint
from .publish import export_model, publish_or_explain, write_run_record
from .config import TrainConfig, command_line
from .validate import run_validation, sample_grid

logger = logging.getLogger("train")


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps with NaN or infinite losses."""


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def gan_step(
    G: nn.Module,
    D: nn.Module,
    D_plain: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    L: Tensor,
    ab: Tensor,
    cfg: TrainConfig,
    accelerator: Accelerator,
    *,
    adversarial: bool,
) -> dict[str, Tensor]:
    """One pix2pix step on a batch: L (B,1,H,W), ab (B,2,H,W), both in model space.

    D learns to tell (L, real ab) from (L, G(L)) (BCE or LSGAN, the two halves averaged); G minimises
    the adversarial loss plus lambda_l1 x L1. With `adversarial=False` (L1 warm-up) G trains on L1
    alone and D is left untouched. A non-finite loss is never applied: its optimizer step is skipped
    and `finite` in the result is False. `D_plain` is D without its DDP wrapper: G's step goes
    through it so that D's frozen parameters take no part in gradient synchronisation.
    """
    fake = G(L)
    losses: dict[str, Tensor] = {}
    finite = torch.ones((), dtype=torch.bool, device=L.device)
    if adversarial:
        set_requires_grad(D, True)
        opt_d.zero_grad(set_to_none=True)
        loss_d = 0.5 * (
            gan_loss(D(L, ab), True, cfg.gan_mode) + gan_loss(D(L, fake.detach()), False, cfg.gan_mode)
        )
        accelerator.backward(loss_d)
        finite &= torch.isfinite(loss_d)
        if finite:  # one host sync per step: the price of never applying a NaN step
            opt_d.step()
        losses["loss_d"] = loss_d.detach()
        set_requires_grad(D, False)
    opt_g.zero_grad(set_to_none=True)
    loss_g_l1 = F.l1_loss(fake.float(), ab.float())
    loss_g = cfg.lambda_l1 * loss_g_l1
    if adversarial:
        loss_g_gan = gan_loss(D_plain(L, fake), True, cfg.gan_mode)
        loss_g = loss_g + loss_g_gan
        losses["loss_g_gan"] = loss_g_gan.detach()
    accelerator.backward(loss_g)
    finite_g = torch.isfinite(loss_g)
    if finite_g:
        opt_g.step()
    losses["loss_g_l1"] = loss_g_l1.detach()
    losses["finite"] = finite & finite_g
    return losses


def learning_rate(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """pix2pix's schedule: constant, then linear decay to 0 over the last `lr_decay_steps` steps."""
    decay_start = total_steps - cfg.lr_decay_steps
    if cfg.lr_decay_steps <= 0 or step < decay_start:
        return cfg.lr
    return cfg.lr * max(0.0, 1.0 - (step - decay_start) / cfg.lr_decay_steps)


def hardware_description(accelerator: Accelerator) -> str:
    if accelerator.device.type == "cuda":
        name = torch.cuda.get_device_name(accelerator.device)
        return f"{accelerator.num_processes} x {name}"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU ({cpu}), {os.cpu_count()} cores, fp32, torch threads {torch.get_num_threads()}"


def build_models(cfg: TrainConfig) -> tuple[UNetGenerator, PatchDiscriminator]:
    G = UNetGenerator(
        depth=cfg.gen_depth,
        base_channels=cfg.gen_base_channels,
        max_channels=cfg.gen_max_channels,
        dropout=cfg.gen_dropout,
        image_size=cfg.image_size,
    )
    D = PatchDiscriminator(base_channels=cfg.disc_base_channels, n_layers=cfg.disc_layers)
    return init_weights(G), init_weights(D)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _total_steps(cfg: TrainConfig, splits: data.Splits, world_size: int) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    n = data.count_examples(splits.train)
    return max(1, math.ceil(cfg.epochs * n / (cfg.batch_size * world_size)))


def train(cfg: TrainConfig) -> Path:
    """Train, checkpoint, validate and export; returns the exported model folder."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    mixed = cfg.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() else "no"
    accelerator = Accelerator(mixed_precision=mixed, log_with="tensorboard", project_dir=str(out))
    _setup_logging(out, accelerator.is_main_process)
    if accelerator.is_main_process:  # every invocation of a run (first, resumed...) for its record
        with open(out / "commands.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {command_line(cfg)}\n")
    device = accelerator.device
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cuda"

    # --- models, optimizers, and the state to resume from
    set_seed(cfg.seed + accelerator.process_index)
    G, D = build_models(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
    step, epoch, batches_in_epoch, elapsed = 0, 0, 0, 0.0
    counters = {"corrupt": 0, "grayscale": 0, "shards_failed": 0, "short_batches": 0, "non_finite_steps": 0}
    checkpoint = load_latest_checkpoint(out) if cfg.resume else None
    if cfg.resume and checkpoint is None:
        logger.info("--resume: no checkpoint in %s yet, starting from scratch", out)
    if checkpoint is not None:
        try:
            G.load_state_dict(checkpoint["G"])
            D.load_state_dict(checkpoint["D"])
            opt_g.load_state_dict(checkpoint["opt_g"])
            opt_d.load_state_dict(checkpoint["opt_d"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise SystemExit(
                f"{checkpoint['path']} was written for other networks than --gen-*/--disc-* describe now "
                f"({str(e).splitlines()[0]}); resume with the run's original flags"
            ) from None
        step, epoch, batches_in_epoch = checkpoint["step"], checkpoint["epoch"], checkpoint["batches_in_epoch"]
        counters.update(checkpoint["counters"])
        elapsed = checkpoint["elapsed"]
        if accelerator.is_main_process:
            _set_rng_state(checkpoint["rng"])
        logger.info("resumed from %s (step %d, epoch %d)", checkpoint["path"], step, epoch)
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    G, D, opt_g, opt_d = accelerator.prepare(G, D, opt_g, opt_d)
    G_plain, D_plain = accelerator.unwrap_model(G), accelerator.unwrap_model(D)

    # --- data
    splits = data.load_splits(cfg)
    total_steps = _total_steps(cfg, splits, accelerator.num_processes)
    validation_photos = list(data.validation_photos(splits, cfg.validation_images))
    if not validation_photos:
        raise SystemExit("the validation split holds no usable photo")
    samples = validation_photos[: cfg.sample_images]
    logger.info("%d validation photos; training for %d steps on %s", len(validation_photos), total_steps, hardware_description(accelerator))
    accelerator.init_trackers("logs", config=_flat(cfg.to_dict()))
    tracker = accelerator.get_tracker("tensorboard", unwrap=True) if accelerator.is_main_process else None

    def checkpoint_now() -> None:
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            state = {
                "step": step, "epoch": epoch, "batches_in_epoch": batches_in_epoch, "config": cfg.to_dict(),
                "G": G_plain.state_dict(), "D": D_plain.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                "rng": _rng_state(), "counters": dict(counters), "elapsed": elapsed + time.monotonic() - started,
            }
            save_checkpoint(state, out, keep=cfg.keep_checkpoints)

    def validate_now() -> None:
        if accelerator.is_main_process:
            summary = run_validation(G_plain, validation_photos, working_size=cfg.image_size)
            metrics = {f"val/{name}/{k}": v for name, s in summary.items() for k, v in s.as_dict().items() if k != "n_images"}
            accelerator.log(metrics, step=step)
            grid = sample_grid(G_plain, samples, working_size=cfg.image_size)
            (out / "samples").mkdir(exist_ok=True)
            grid.save(out / "samples" / f"step-{step:08d}.png")
            grid.save(out / "samples.png")
            tracker.add_image("samples", np.asarray(grid), step, dataformats="HWC")
            logger.info(
                "step %d validation: PSNR %.2f dB (gray %.2f), SSIM %.4f, AuC %.4f (gray %.4f), colorfulness %.1f vs real %.1f (%+.1f%%)",
                step, summary["model"].psnr, summary["gray"].psnr, summary["model"].ssim, summary["model"].auc,
                summary["gray"].auc, summary["model"].colorfulness, summary["model"].colorfulness_real,
                summary["model"].colorfulness_gap,
            )
            (out / "metrics.json").write_text(json.dumps({"step": step, **{k: s.as_dict() for k, s in summary.items()}}, indent=2))
        accelerator.wait_for_everyone()

    # --- the loop
    started = time.monotonic()
    G.train()
    D.train()
    progress = tqdm(total=total_steps, initial=step, desc="train", disable=not accelerator.is_main_process, dynamic_ncols=True)
    bad_in_a_row = 0
    while step < total_steps:
        loader = data.training_loader(splits, cfg, epoch=epoch, rank=accelerator.process_index, world_size=accelerator.num_processes)
        for batch_index, batch in enumerate(loader):
            if batch_index < batches_in_epoch:
                continue  # replaying the epoch's order up to where the checkpoint left it
            batches_in_epoch += 1
            counters["corrupt"] += batch["corrupt"]
            counters["grayscale"] += batch["grayscale"]
            for failure in batch["shards_failed"]:
                counters["shards_failed"] += 1
                logger.warning("skipped an unreadable shard (%d so far): %s", counters["shards_failed"], failure)
            if batch["rgb"].shape[0] < 2:  # everything skipped: BatchNorm needs two samples
                counters["short_batches"] += 1
                continue
            rgb = batch["rgb"].to(device, non_blocking=True)
            L, ab = data.to_model_space(rgb)
            if channels_last:
                L, ab = L.contiguous(memory_format=torch.channels_last), ab.contiguous(memory_format=torch.channels_last)
            lr = learning_rate(step, total_steps, cfg)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            losses = gan_step(G, D, D_plain, opt_g, opt_d, L, ab, cfg, accelerator, adversarial=step >= cfg.l1_warmup_steps)
            if not bool(losses.pop("finite")):
                bad_in_a_row += 1
                counters["non_finite_steps"] += 1
                logger.warning("step %d: non-finite loss (%s); the update was not applied", step + 1, _fmt(losses))
                if bad_in_a_row >= cfg.max_bad_steps:
                    raise NonFiniteLossError(
                        f"{bad_in_a_row} consecutive non-finite losses ending at step {step + 1}; stopping. "
                        f"The last good checkpoint is in {out / 'checkpoints'}: lower --lr or check the data, then --resume"
                    )
                continue
            bad_in_a_row = 0
            step += 1
            progress.update(1)
            if step % cfg.log_every == 0 or step == total_steps:
                scalars = {f"train/{k}": v.item() for k, v in losses.items()}
                scalars.update({"train/lr": lr, **{f"data/skipped_{k}": v for k, v in counters.items()}})
                accelerator.log(scalars, step=step)
                progress.set_postfix({k.split("/")[1]: f"{v:.3f}" for k, v in scalars.items() if k.startswith("train/loss")})
            if step % cfg.checkpoint_every == 0:
                checkpoint_now()
            if step % cfg.validate_every == 0 and step < total_steps:
                validate_now()
            if step >= total_steps:
                break
        else:
            epoch += 1
            batches_in_epoch = 0
            logger.info("epoch %d done at step %d; skipped so far: %s", epoch, step, counters)
    progress.close()

    # --- the end: a last checkpoint, validation, export
    if step % cfg.checkpoint_every:
        checkpoint_now()
    validate_now()
    wall = elapsed + time.monotonic() - started
    export_dir = out / "model"
    if accelerator.is_main_process:
        record = write_run_record(out, cfg=cfg, step=step, wall_seconds=wall, hardware=hardware_description(accelerator), counters=counters)
        export_model(G_plain, export_dir, cfg=cfg, record=record)
        logger.info("exported %s (wall time %.1f min, skipped: %s)", export_dir, wall / 60, counters)
        if cfg.push_to_hub:
            publish_or_explain(out, cfg.push_to_hub)
    accelerator.end_training()
    return export_dir


def _fmt(losses: dict[str, Tensor]) -> str:
    return ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())


def _flat(config: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in config.items()}


def _setup_logging(out: Path, main: bool) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if main:
        handlers.append(logging.FileHandler(out / "train.log"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)
