"""The pix2pix training loop: read it top to bottom in `train`.

One GPU: `python -m train ...`; several: `accelerate launch -m train ...`; CPU: `--preset cpu-small`.
"""

from __future__ import annotations

import itertools
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
from accelerate import Accelerator
from accelerate.utils import gather_object, set_seed
from torch import Tensor
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from pix2pix_color import ab_bins
from pix2pix_color.models import PatchDiscriminator, UNetGenerator, init_weights

from . import data
from .checkpoint import load_latest_checkpoint, save_checkpoint
from .config import TrainConfig, command_line
from .export import export_model, write_run_record
from .hints import simulate_hints
from .publish import publish_or_explain
from .step import everyone, gan_step
from .validate import run_validation, sample_grid
from .warm_start import load_initial_weights

logger = logging.getLogger("train")


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps with NaN or infinite losses."""


def learning_rate(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """pix2pix's schedule: constant, then linear decay to 0 over the last `lr_decay_steps` steps."""
    decay_start = total_steps - cfg.lr_decay_steps
    if cfg.lr_decay_steps <= 0 or step < decay_start:
        return cfg.lr
    return cfg.lr * max(0.0, 1.0 - (step - decay_start) / cfg.lr_decay_steps)


def hardware_description(accelerator: Accelerator) -> str:
    precision = "bf16 autocast" if accelerator.mixed_precision == "bf16" else "fp32"
    if accelerator.device.type == "cuda":
        name = torch.cuda.get_device_name(accelerator.device)
        return f"{accelerator.num_processes} x {name}, {precision}"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    processes = f"{accelerator.num_processes} processes, " if accelerator.num_processes > 1 else ""
    return f"CPU ({cpu}), {os.cpu_count()} cores, {processes}{precision}, torch threads {torch.get_num_threads()}"


def build_models(cfg: TrainConfig) -> tuple[UNetGenerator, PatchDiscriminator]:
    G = UNetGenerator(
        depth=cfg.gen_depth,
        base_channels=cfg.gen_base_channels,
        max_channels=cfg.gen_max_channels,
        dropout=cfg.gen_dropout,
        image_size=cfg.image_size,
        head=cfg.head,
        hints=cfg.hints,
    )
    D = PatchDiscriminator(base_channels=cfg.disc_base_channels, n_layers=cfg.disc_layers)
    return init_weights(G), init_weights(D)


def pick_mixed_precision(cfg: TrainConfig) -> str:
    """ "bf16" or "no". For "auto" on a CPU: time generator steps both ways and take the faster.

    Whether bf16 autocast pays on a CPU depends on the chip (with AVX-512 BF16 or AMX it can be
    1.6x faster; without, many times slower), so it is measured rather than assumed.
    """
    if cfg.mixed_precision != "auto":
        return cfg.mixed_precision
    if torch.cuda.is_available():
        return "bf16"
    G, _ = build_models(cfg)
    G = G.to(memory_format=torch.channels_last) if cfg.channels_last else G
    L = torch.randn(cfg.batch_size, 1, cfg.image_size, cfg.image_size)
    seconds = {}
    for mode in ("no", "bf16"):
        times = []
        for _ in range(3):  # the first is warm-up
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                out = G(L)
            out.float().mean().backward()
            times.append(time.perf_counter() - start)
        seconds[mode] = min(times[1:])
    choice = "bf16" if seconds["bf16"] < 0.9 * seconds["no"] else "no"
    logger.info(
        "mixed precision: %s (probe: fp32 %.2f s, bf16 %.2f s per forward/backward)",
        choice,
        seconds["no"],
        seconds["bf16"],
    )
    return choice


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _total_steps(cfg: TrainConfig, splits: data.Splits, cache: data.PhotoCache | None, world_size: int) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    global_batch = cfg.batch_size * world_size
    if cache is not None:  # whole global batches only (data.cached_batches)
        per_epoch = max(1, len(cache.photos) // global_batch)
    else:
        per_epoch = max(1, math.ceil(data.count_examples(splits.train) / global_batch))
    return max(1, math.ceil(cfg.epochs * per_epoch))


def _step_generator(cfg: TrainConfig, step: int, rank: int) -> torch.Generator:
    # A step's own random choices (hints, scored pixels) depend on (seed, step, process) only, so a
    # resumed run makes exactly the choices the uninterrupted one would have.
    return torch.Generator().manual_seed((cfg.seed * 1_000_003 + step) * 1_009 + rank)


def train(cfg: TrainConfig) -> Path:
    """Train, checkpoint, validate and export; returns the exported model folder."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    _setup_logging(out, main=True)
    # On a machine without a GPU, several processes (torchrun, accelerate launch) train together over
    # gloo; without cpu=True Accelerate would leave each of them training alone on the same folder.
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=pick_mixed_precision(cfg),
        log_with="tensorboard",
        project_dir=str(out),
    )
    _setup_logging(out, accelerator.is_main_process)
    if accelerator.is_main_process:  # every invocation of a run (first, resumed...) for its record
        with open(out / "commands.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {command_line(cfg)}\n")
    device = accelerator.device
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cuda"

    # --- models, optimizers, and the state to resume from
    set_seed(cfg.seed)  # the same initial networks (and EMA copy) on every process
    G, D = build_models(cfg)
    if cfg.init_from:
        for line in load_initial_weights(G, D, cfg.init_from):
            logger.info("--init-from %s: %s", cfg.init_from, line)
    ema = (
        AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True) if cfg.ema_decay else None
    )
    set_seed(cfg.seed + accelerator.process_index)  # then each process its own dropout stream
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
            if ema is not None:
                ema.load_state_dict(checkpoint["G_ema"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise SystemExit(
                f"{checkpoint['path']} was written for other networks than the flags describe now "
                f"({str(e).splitlines()[0]}); resume with the run's original flags"
            ) from None
        step, epoch, batches_in_epoch = checkpoint["step"], checkpoint["epoch"], checkpoint["batches_in_epoch"]
        counters.update(checkpoint["counters"])
        elapsed = checkpoint["elapsed"]
        rng = checkpoint["rng"]
        if len(rng) == accelerator.num_processes:
            _set_rng_state(rng[accelerator.process_index])
        else:
            logger.warning(
                "the checkpoint was written by %d processes, this run has %d: random streams start afresh",
                len(rng),
                accelerator.num_processes,
            )
        logger.info("resumed from %s (step %d, epoch %d)", checkpoint["path"], step, epoch)
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        if ema is not None:
            ema = ema.to(memory_format=torch.channels_last)
    G, D, opt_g, opt_d = accelerator.prepare(G, D, opt_g, opt_d)
    G_plain, D_plain = accelerator.unwrap_model(G), accelerator.unwrap_model(D)
    if ema is not None:
        ema = ema.to(device)
    G_eval = ema.module if ema is not None else G_plain  # what is validated and exported

    # --- data
    splits = data.load_splits(cfg)
    cache_started = time.monotonic()
    cache = (
        data.build_cache(splits, cfg, limit_bytes=int(cfg.cache_limit_gb * 2**30)) if cfg.cache_limit_gb > 0 else None
    )
    timings = {"cache_seconds": time.monotonic() - cache_started}
    if not everyone(cache is not None, accelerator):
        cache = None  # one process could not cache: all stream, so all run the same batches
    if cache is not None:
        counters.update({k: max(counters[k], v) for k, v in cache.skipped.items()})
        logger.info(
            "cached %d training photos in memory (%.0f MB); skipped %s",
            len(cache.photos),
            cache.nbytes / 2**20,
            cache.skipped,
        )
    total_steps = _total_steps(cfg, splits, cache, accelerator.num_processes)
    color_weights = None
    if cfg.color_rebalance is not None:
        photos = cache.photos if cache is not None else data.training_photos(splits)
        color_weights = ab_bins.rebalancing_weights(data.color_histogram(photos), mix=cfg.color_rebalance).to(device)
        logger.info(
            "color rebalancing (lambda %g): bin weights %.2f to %.2f",
            cfg.color_rebalance,
            color_weights.min(),
            color_weights.max(),
        )
    validation_photos = list(data.validation_photos(splits, cfg.validation_images))
    if not validation_photos:
        raise SystemExit("the validation split holds no usable photo")
    samples = validation_photos[: cfg.sample_images]
    logger.info(
        "%d validation photos; training for %d steps on %s",
        len(validation_photos),
        total_steps,
        hardware_description(accelerator),
    )
    accelerator.init_trackers("logs", config=_flat(cfg.to_dict()))
    tracker = accelerator.get_tracker("tensorboard", unwrap=True) if accelerator.is_main_process else None

    def checkpoint_now() -> None:
        rng_states = gather_object([_rng_state()])  # every process's random state, in rank order
        if accelerator.is_main_process:
            state = {
                "step": step,
                "epoch": epoch,
                "batches_in_epoch": batches_in_epoch,
                "config": cfg.to_dict(),
                "G": G_plain.state_dict(),
                "D": D_plain.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "rng": rng_states,
                "counters": dict(counters),
                "elapsed": elapsed + time.monotonic() - started,
            }
            if ema is not None:
                state["G_ema"] = ema.state_dict()
            save_checkpoint(state, out, keep=cfg.keep_checkpoints)
        accelerator.wait_for_everyone()

    def validate_now() -> None:
        if accelerator.is_main_process:
            record = {"step": step}
            for n_hints in (0, 10) if cfg.hints else (0,):
                summary = run_validation(G_eval, validation_photos, working_size=cfg.image_size, hints=n_hints)
                prefix = f"val/hints{n_hints}/" if n_hints else "val/"
                accelerator.log(
                    {
                        f"{prefix}{name}/{k}": v
                        for name, s in summary.items()
                        for k, v in s.as_dict().items()
                        if k != "n_images"
                    },
                    step=step,
                )
                m, g = summary["model"], summary["gray"]
                logger.info(
                    "step %d validation%s: PSNR %.2f dB (gray %.2f), SSIM %.4f, AuC %.4f, hue hit %.3f, "
                    "colorfulness %.1f vs real %.1f (%+.1f%%)",
                    step,
                    f" with {n_hints} hints" if n_hints else "",
                    m.psnr,
                    g.psnr,
                    m.ssim,
                    m.auc,
                    m.hue_hit,
                    m.colorfulness,
                    m.colorfulness_real,
                    m.colorfulness_gap,
                )
                results = {k: s.as_dict() for k, s in summary.items()}
                record.update(results) if n_hints == 0 else record.update({f"hints{n_hints}": results})
            grid = sample_grid(G_eval, samples, working_size=cfg.image_size)
            (out / "samples").mkdir(exist_ok=True)
            grid.save(out / "samples" / f"step-{step:08d}.png")
            grid.save(out / "samples.png")
            tracker.add_image("samples", np.asarray(grid), step, dataformats="HWC")
            (out / "metrics.json").write_text(json.dumps(record, indent=2))
        accelerator.wait_for_everyone()

    def epoch_batches():
        """This process's batches of the current epoch, from where a checkpoint left it."""
        rank, world = accelerator.process_index, accelerator.num_processes
        if cache is not None:
            return data.cached_batches(
                cache, cfg, epoch=epoch, rank=rank, world_size=world, start_batch=batches_in_epoch
            )
        loader = data.training_loader(splits, cfg, epoch=epoch, rank=rank, world_size=world)
        return itertools.islice(loader, batches_in_epoch, None)  # replays the epoch's order up to where it left

    # --- the loop
    started, first_step = time.monotonic(), step
    G.train()
    D.train()
    progress = tqdm(
        total=total_steps, initial=step, desc="train", disable=not accelerator.is_main_process, dynamic_ncols=True
    )
    bad_in_a_row = 0
    while step < total_steps:
        batches = iter(epoch_batches())
        while step < total_steps:
            batch = next(batches, None)
            if not everyone(batch is not None, accelerator):
                break  # the epoch ends for all when it ends for one (shards differ in length)
            batches_in_epoch += 1
            counters["corrupt"] += batch["corrupt"]
            counters["grayscale"] += batch["grayscale"]
            for failure in batch["shards_failed"]:
                counters["shards_failed"] += 1
                logger.warning("skipped an unreadable shard (%d so far): %s", counters["shards_failed"], failure)
            if not everyone(batch["rgb"].shape[0] >= 2, accelerator):  # BatchNorm needs two samples
                counters["short_batches"] += 1
                continue
            rgb = batch["rgb"].to(device, non_blocking=True)
            L, ab = data.to_model_space(rgb)
            if channels_last:
                L, ab = (
                    L.contiguous(memory_format=torch.channels_last),
                    ab.contiguous(memory_format=torch.channels_last),
                )
            generator = _step_generator(cfg, step, accelerator.process_index)
            hints = simulate_hints(ab, generator) if cfg.hints else None
            lr = learning_rate(step, total_steps, cfg)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            losses = gan_step(
                G,
                D,
                D_plain,
                opt_g,
                opt_d,
                L,
                ab,
                cfg,
                accelerator,
                adversarial=step >= cfg.l1_warmup_steps,
                hints=hints,
                color_weights=color_weights,
                generator=generator,
            )
            if not losses.pop("finite"):
                bad_in_a_row += 1
                counters["non_finite_steps"] += 1
                logger.warning("step %d: non-finite loss (%s); the update was not applied", step + 1, _fmt(losses))
                if bad_in_a_row >= cfg.max_bad_steps:
                    raise NonFiniteLossError(
                        f"{bad_in_a_row} consecutive non-finite losses ending at step {step + 1}; stopping. "
                        f"The last good checkpoint is in {out / 'checkpoints'}: "
                        "lower --lr or check the data, then --resume"
                    )
                continue
            bad_in_a_row = 0
            if ema is not None:
                ema.update_parameters(G_plain)
            step += 1
            progress.update(1)
            if step % cfg.log_every == 0 or step == total_steps:
                scalars = {f"train/{k}": v.item() for k, v in losses.items()}
                scalars.update({"train/lr": lr, **{f"data/skipped_{k}": v for k, v in counters.items()}})
                accelerator.log(scalars, step=step)
                progress.set_postfix(
                    {k.split("/")[1]: f"{v:.3f}" for k, v in scalars.items() if k.startswith("train/loss")}
                )
            if step % cfg.checkpoint_every == 0:
                checkpoint_now()
            if step % cfg.validate_every == 0 and step < total_steps:
                validate_now()
        else:
            break  # total_steps reached inside the epoch
        epoch += 1
        batches_in_epoch = 0
        logger.info("epoch %d done at step %d; skipped so far: %s", epoch, step, counters)
    progress.close()
    # This invocation's loop alone (steps, logging, checkpoints): what benchmarks/bench_train_run.py reads.
    timings.update(loop_seconds=time.monotonic() - started, loop_steps=step - first_step)

    # --- the end: a last checkpoint, validation, export
    if step % cfg.checkpoint_every:
        checkpoint_now()
    validate_now()
    wall = elapsed + time.monotonic() - started
    export_dir = out / "model"
    if accelerator.is_main_process:
        record = write_run_record(
            out,
            cfg=cfg,
            step=step,
            wall_seconds=wall,
            hardware=hardware_description(accelerator),
            counters=counters,
            timings=timings,
        )
        export_model(G_eval, export_dir, cfg=cfg, record=record, discriminator=D_plain)
        logger.info("exported %s (wall time %.1f min, skipped: %s)", export_dir, wall / 60, counters)
        if cfg.push_to_hub:
            publish_or_explain(out, cfg.push_to_hub)
    accelerator.end_training()
    if torch.distributed.is_initialized():
        # An explicit goodbye: gloo's threads torn down at interpreter exit can abort the process.
        torch.distributed.destroy_process_group()
    return export_dir


def _fmt(losses: dict[str, Tensor]) -> str:
    return ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())


def _flat(config: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in config.items()}


def _setup_logging(out: Path, main: bool) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if main:
        handlers.append(logging.FileHandler(out / "train.log"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )
