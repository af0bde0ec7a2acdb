"""The pix2pix training loop: read it top to bottom in `train`.

One GPU: `python -m train ...`; several: `accelerate launch -m train ...`; CPU: `--preset cpu-small`.
The loop's mutable state lives in three dataclasses (`Networks`, `Progress`, `TrainingData`, held
together by `Run`); resuming, data preparation, a step, checkpointing and validation are functions
of them.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from PIL import Image
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from pix2pix_color.core import ab_bins
from pix2pix_color.models.networks import PatchDiscriminator, UNetGenerator, count_parameters, init_weights

from . import data
from .card import adversarial_steps, write_card
from .checkpoint import load_latest_checkpoint, save_checkpoint
from .config import CHANGEABLE_ON_RESUME, TrainConfig, TrainError, command_line, resume_conflicts
from .distributed import (
    all_rng_states,
    decided_on_main,
    everyone,
    mean_over_processes,
    set_rng_state,
    sum_over_processes,
)
from .export import export_model, run_record, write_run_record
from .hints import simulate_hints
from .pretrained import load_imagenet_encoder
from .publish import publish_or_explain
from .step import gan_step
from .validate import run_validation, sample_grid
from .warm_start import load_initial_weights

logger = logging.getLogger("train")


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps with NaN or infinite losses."""


@dataclass
class Networks:
    G: nn.Module  # as Accelerate prepared them (DDP-wrapped with several processes)
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema: AveragedModel | None  # exponential moving average of G, when --ema-decay is set
    G_plain: UNetGenerator  # the same modules, unwrapped
    D_plain: PatchDiscriminator

    @property
    def G_eval(self) -> UNetGenerator:
        """What is validated, checkpointed as a model and exported."""
        return self.ema.module if self.ema is not None else self.G_plain


@dataclass
class Progress:
    """Where the run stands: the data position and counters a checkpoint keeps, and the loop's own."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    elapsed: float = 0.0  # training seconds of earlier invocations (a resumed run)
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("corrupt", "grayscale", "shards_failed", "short_batches", "non_finite_steps"), 0
        )
    )
    bad_in_a_row: int = 0


@dataclass
class TrainingData:
    splits: data.Splits
    cache: data.PhotoCache | None  # the training split decoded in memory, or None: streamed
    total_steps: int
    color_weights: Tensor | None  # per-bin loss weights (class rebalancing)
    # On the main process only (the others never validate): the validation photos, streamed anew at
    # each validation instead of held at full resolution for the whole run (a 5% carve of a large
    # dataset would not fit in memory); their count, and the few kept for the sample grid.
    validation: Callable[[], Iterator[Image.Image]]
    validation_count: int
    samples: list[Image.Image]
    timings: dict[str, float]


@dataclass
class LossMeter:
    """Losses summed over a logging interval, and the images and time it took (as DiT logs them)."""

    sums: dict[str, Tensor] = field(default_factory=dict)
    steps: int = 0
    images: int = 0
    since: float = field(default_factory=time.monotonic)

    def add(self, losses: dict[str, Tensor], images: int) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v.detach().float()
        self.steps += 1
        self.images += images

    def exclude(self, since: float) -> None:
        """Leave the time from `since` until now (a checkpoint, a validation) out of the interval.

        The interval's images before the pause stay counted, so restarting the clock instead would
        divide them by too short a time (a mid-interval checkpoint showed 280 img/s for 4)."""
        self.since += time.monotonic() - since


@dataclass
class Run:
    cfg: TrainConfig
    out: Path
    accelerator: Accelerator
    nets: Networks
    progress: Progress
    data: TrainingData
    channels_last: bool
    started: float = field(default_factory=time.monotonic)
    meter: LossMeter = field(default_factory=LossMeter)
    bar: tqdm | None = None

    @property
    def tracker(self):
        return self.accelerator.get_tracker("tensorboard", unwrap=True)


def train(cfg: TrainConfig) -> Path:
    """Train, checkpoint, validate and export; returns the exported model folder."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    accelerator = start_accelerator(cfg, out)
    channels_last = cfg.channels_last if cfg.channels_last is not None else accelerator.device.type == "cuda"
    saved = load_latest_checkpoint(out) if cfg.resume else None
    G, D, ema, opt_g, opt_d = build_networks(cfg, accelerator, decoding=saved and saved["decoding"])
    progress = resume(cfg, saved, out, G, D, ema, opt_g, opt_d, accelerator)
    nets = place(G, D, ema, opt_g, opt_d, accelerator, channels_last)
    run = Run(cfg, out, accelerator, nets, progress, prepare_data(cfg, accelerator, progress), channels_last)
    accelerator.init_trackers("logs", config=_flat(cfg.to_dict()))
    logger.info(
        "%d validation photos; training for %d steps on %s",
        run.data.validation_count,
        run.data.total_steps,
        hardware_description(accelerator),
    )
    run.bar = tqdm(
        total=run.data.total_steps,
        initial=progress.step,
        desc="train",
        dynamic_ncols=True,
        disable=not accelerator.is_main_process,
    )
    first_step = progress.step
    run.nets.G.train()
    run.nets.D.train()
    while progress.step < run.data.total_steps:
        train_epoch(run)
    run.bar.close()
    # This invocation's loop alone (steps, logging, checkpoints): what benchmarks/bench_train_run.py reads.
    run.data.timings.update(loop_seconds=time.monotonic() - run.started, loop_steps=progress.step - first_step)
    if progress.step % cfg.checkpoint_every:
        checkpoint(run)
    validate(run)
    return finish(run)


# --- setting up ---------------------------------------------------------------------------------


def start_accelerator(cfg: TrainConfig, out: Path) -> Accelerator:
    _setup_logging(out, main=True)
    # On a machine without a GPU, several processes (torchrun, accelerate launch) train together over
    # gloo; without cpu=True Accelerate would leave each of them training alone on the same folder.
    cpu = not torch.cuda.is_available()
    state = PartialState(cpu=cpu)  # the processes can talk from here on: decide the precision once
    precision = decided_on_main(lambda: pick_mixed_precision(cfg), state)
    # A frozen encoder takes no gradient for a while; DDP must be told, or it waits for them.
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=True)] if cfg.freeze_encoder_steps else []
    accelerator = Accelerator(
        cpu=cpu, mixed_precision=precision, log_with="tensorboard", project_dir=str(out), kwargs_handlers=handlers
    )
    _setup_logging(out, accelerator.is_main_process)
    if accelerator.is_main_process:  # every invocation of a run (first, resumed...) for its record
        with open(out / "commands.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {command_line(cfg)}\n")
    return accelerator


def build_models(cfg: TrainConfig) -> tuple[UNetGenerator, PatchDiscriminator]:
    G = UNetGenerator(
        depth=cfg.gen_depth,
        base_channels=cfg.gen_base_channels,
        max_channels=cfg.gen_max_channels,
        dropout=cfg.gen_dropout,
        image_size=cfg.image_size,
        head=cfg.head,
        hints=cfg.hints,
        encoder=cfg.gen_encoder,
    )
    D = PatchDiscriminator(base_channels=cfg.disc_base_channels, n_layers=cfg.disc_layers)
    return init_weights(G), init_weights(D)


def build_networks(cfg: TrainConfig, accelerator: Accelerator, decoding: dict | None = None):
    """G and D (from --init-from if given), G's EMA copy, and both optimizers; not yet on the device.
    `decoding`: a resumed checkpoint's temperature and chroma gain, which G takes over."""
    set_seed(cfg.seed)  # the same initial networks (and EMA copy) on every process
    G, D = build_models(cfg)
    if decoding:  # a resume: the checkpoint's weights replace these, and its decoding stays
        G = G.with_decoding(**decoding)
    elif cfg.init_from:
        G, notes = load_initial_weights(G, D, cfg.init_from)
        for line in notes:
            logger.info("--init-from %s: %s", cfg.init_from, line)
    elif cfg.gen_encoder != "none":
        logger.info("encoder: %d ImageNet tensors of EfficientNet-Lite0 loaded", load_imagenet_encoder(G))
    ema = None
    if cfg.ema_decay:
        ema = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
    set_seed(cfg.seed + accelerator.process_index)  # then each process its own dropout stream
    opt_g = torch.optim.Adam(generator_param_groups(G, cfg), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
    return G, D, ema, opt_g, opt_d


def generator_param_groups(G: UNetGenerator, cfg: TrainConfig) -> list[dict]:
    """G's parameters for Adam: a pretrained encoder's at `encoder_lr_scale` x the rate (it already
    knows ImageNet; full-size steps would wash that out before the decoder has learnt anything)."""
    if cfg.gen_encoder == "none":
        return [{"params": list(G.parameters()), "lr_scale": 1.0}]
    encoder = {id(p) for p in G.pretrained_encoder.parameters()}
    return [
        {"params": [p for p in G.parameters() if id(p) in encoder], "lr_scale": cfg.encoder_lr_scale},
        {"params": [p for p in G.parameters() if id(p) not in encoder], "lr_scale": 1.0},
    ]


def resume(cfg, checkpoint: dict | None, out, G, D, ema, opt_g, opt_d, accelerator: Accelerator) -> Progress:
    """Load the newest checkpoint (read when --resume is set) into the networks; returns where it left off."""
    if checkpoint is None:
        if cfg.resume:
            logger.info("--resume: no checkpoint in %s yet, starting from scratch", out)
        return Progress()
    conflicts = resume_conflicts(checkpoint["config"], cfg)
    if conflicts:
        changeable = ", ".join(f"--{n.replace('_', '-')}" for n in sorted(CHANGEABLE_ON_RESUME - {"resume"}))
        raise TrainError(
            f"cannot resume {checkpoint['path']}: {'; '.join(conflicts)}. Resume with the run's original values "
            f"for these (or start a new --output-dir, e.g. with --init-from {checkpoint['path']}/pretrained_model); "
            f"only these may change on resume: {changeable}"
        )
    G.load_state_dict(checkpoint["G"])
    D.load_state_dict(checkpoint["D"])
    opt_g.load_state_dict(checkpoint["opt_g"])
    opt_d.load_state_dict(checkpoint["opt_d"])
    if ema is not None:
        ema.load_state_dict(checkpoint["G_ema"])
    rng = checkpoint["rng"]
    if len(rng) == accelerator.num_processes:
        set_rng_state(rng[accelerator.process_index])
    else:
        logger.warning(
            "the checkpoint was written by %d processes, this run has %d: random streams start afresh",
            len(rng),
            accelerator.num_processes,
        )
    progress = Progress(
        step=checkpoint["step"],
        epoch=checkpoint["epoch"],
        batches_in_epoch=checkpoint["batches_in_epoch"],
        elapsed=checkpoint["elapsed"],
    )
    progress.counters.update(checkpoint["counters"])
    logger.info("resumed from %s (step %d, epoch %d)", checkpoint["path"], progress.step, progress.epoch)
    return progress


def place(G, D, ema, opt_g, opt_d, accelerator: Accelerator, channels_last: bool) -> Networks:
    """The networks on the device, in their memory layout, wrapped by Accelerate."""
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        if ema is not None:
            ema = ema.to(memory_format=torch.channels_last)
    G, D, opt_g, opt_d = accelerator.prepare(G, D, opt_g, opt_d)
    if ema is not None:
        ema = ema.to(accelerator.device)
    return Networks(G, D, opt_g, opt_d, ema, accelerator.unwrap_model(G), accelerator.unwrap_model(D))


def prepare_data(cfg: TrainConfig, accelerator: Accelerator, progress: Progress) -> TrainingData:
    """Open the splits, cache the training photos if they fit, weigh colors, load validation (main only)."""
    splits = data.load_splits(cfg)
    started = time.monotonic()
    limit = int(cfg.cache_limit_gb * 2**30)
    cache = data.build_cache(splits, cfg, limit_bytes=limit) if cfg.cache_limit_gb > 0 else None
    timings = {"cache_seconds": time.monotonic() - started}
    if not everyone(cache is not None, accelerator):
        cache = None  # one process could not cache: all stream, so all run the same batches
    if cache is not None:
        progress.counters.update({k: max(progress.counters[k], v) for k, v in cache.skipped.items()})
        logger.info(
            "cached %d training photos in memory (%.0f MB); skipped %s",
            len(cache.photos),
            cache.nbytes / 2**20,
            cache.skipped,
        )
        if len(cache.photos) < 2 * accelerator.num_processes:
            raise TrainError(too_few_photos(cfg, len(cache.photos), cache.skipped, accelerator.num_processes))
    color_weights = None
    if cfg.color_rebalance is not None:
        photos = cache.photos if cache is not None else data.training_photos(splits)
        histogram = data.color_histogram(photos)
        color_weights = ab_bins.rebalancing_weights(histogram, mix=cfg.color_rebalance).to(accelerator.device)
        logger.info(
            "color rebalancing (lambda %g): bin weights %.2f to %.2f",
            cfg.color_rebalance,
            color_weights.min(),
            color_weights.max(),
        )

    def validation() -> Iterator[Image.Image]:
        return data.validation_photos(splits, cfg.validation_images)

    count, samples = 0, []
    if accelerator.is_main_process:  # only the main process validates: the others never decode the split
        for photo in validation():
            count += 1
            if len(samples) < cfg.sample_images:
                samples.append(photo)
    if decided_on_main(lambda: count, accelerator.state) == 0:
        raise TrainError("the validation split holds no usable photo")
    total_steps = _total_steps(cfg, splits, cache, accelerator.num_processes)
    return TrainingData(splits, cache, total_steps, color_weights, validation, count, samples, timings)


def too_few_photos(cfg: TrainConfig, usable: int, skipped: dict[str, int], processes: int) -> str:
    """One line: why no training step can be made from this dataset."""
    reasons = {"corrupt": "unreadable", "grayscale": "black and white", "shards_failed": "unreadable shards"}
    why = ", ".join(f"{skipped.get(k, 0)} {what}" for k, what in reasons.items() if skipped.get(k, 0)) or "none"
    return (
        f"{cfg.dataset}: only {usable} usable training photo(s); a step needs at least 2 per process "
        f"({2 * processes} in all). Skipped: {why}"
    )


# --- the loop -------------------------------------------------------------------------------------


def epoch_batches(run: Run):
    """This process's batches of the current epoch, from where a checkpoint left it."""
    cfg, p, acc = run.cfg, run.progress, run.accelerator
    rank, world = acc.process_index, acc.num_processes
    if run.data.cache is not None:
        return data.cached_batches(
            run.data.cache, cfg, epoch=p.epoch, rank=rank, world_size=world, start_batch=p.batches_in_epoch
        )
    loader = data.training_loader(run.data.splits, cfg, epoch=p.epoch, rank=rank, world_size=world)
    return itertools.islice(loader, p.batches_in_epoch, None)  # replays the epoch's order up to where it left


def train_epoch(run: Run) -> None:
    """Steps over the rest of the current epoch (or until the last step); then the next epoch begins."""
    p, acc = run.progress, run.accelerator
    whole_epoch, skipped_before, usable, stepped = p.batches_in_epoch == 0, dict(p.counters), 0, False
    batches = iter(epoch_batches(run))
    while p.step < run.data.total_steps:
        batch = next(batches, None)
        if not everyone(batch is not None, acc):
            break  # the epoch ends for all when it ends for one (shards differ in length)
        p.batches_in_epoch += 1
        usable += batch["rgb"].shape[0]
        _count_skipped(p, batch)
        if everyone(batch["rgb"].shape[0] >= 2, acc):  # BatchNorm needs two samples
            train_step(run, batch)
            stepped = True
        else:
            p.counters["short_batches"] += 1
    else:
        return  # the last step was reached inside the epoch
    if whole_epoch and not stepped:  # an epoch without a single trainable batch: the next would be the same
        seen = {k: p.counters[k] - skipped_before[k] for k in p.counters} | {"usable": usable}
        seen = sum_over_processes(seen, acc)  # each process saw its own share of the photos
        raise TrainError(too_few_photos(run.cfg, seen.pop("usable"), seen, acc.num_processes))
    p.epoch += 1
    p.batches_in_epoch = 0
    logger.info("epoch %d done at step %d; skipped so far: %s", p.epoch, p.step, p.counters)


def _count_skipped(p: Progress, batch: dict) -> None:
    p.counters["corrupt"] += batch["corrupt"]
    p.counters["grayscale"] += batch["grayscale"]
    for failure in batch["shards_failed"]:
        p.counters["shards_failed"] += 1
        logger.warning("skipped an unreadable shard (%d so far): %s", p.counters["shards_failed"], failure)


def train_step(run: Run, batch: dict) -> None:
    """One optimizer step of G (and D) on a batch; then logging, checkpoints and validation when due."""
    cfg, nets, p, acc = run.cfg, run.nets, run.progress, run.accelerator
    L, ab = data.to_model_space(batch["rgb"].to(acc.device, non_blocking=True))  # (B,1,S,S), (B,2,S,S)
    if run.channels_last:
        L, ab = L.contiguous(memory_format=torch.channels_last), ab.contiguous(memory_format=torch.channels_last)
    generator = _step_generator(cfg, p.step, acc.process_index)
    hints = simulate_hints(ab, generator) if cfg.hints else None
    lr = learning_rate(p.step, run.data.total_steps, cfg)
    for group in (*nets.opt_g.param_groups, *nets.opt_d.param_groups):
        group["lr"] = lr * group.get("lr_scale", 1.0)
    if cfg.gen_encoder != "none":
        nets.G_plain.freeze_encoder(p.step < cfg.freeze_encoder_steps)
        if cfg.freeze_encoder_steps:  # a thawed encoder's fresh Adam state warms up again
            nets.opt_g.param_groups[0]["lr"] *= encoder_thaw(p.step, cfg)
    losses = gan_step(
        nets.G,
        nets.D,
        nets.D_plain,
        nets.opt_g,
        nets.opt_d,
        L,
        ab,
        cfg,
        acc,
        adversarial=p.step >= cfg.l1_warmup_steps,
        hints=hints,
        color_weights=run.data.color_weights,
        generator=generator,
    )
    d_applied = losses.pop("d_applied")
    if not losses.pop("finite"):
        p.bad_in_a_row += 1
        p.counters["non_finite_steps"] += 1
        what = (
            "the generator's update was not applied (the discriminator's was)"
            if d_applied
            else ("the update was not applied")
        )
        logger.warning("step %d: non-finite loss (%s); %s", p.step + 1, _fmt(losses), what)
        if p.bad_in_a_row >= cfg.max_bad_steps:
            raise NonFiniteLossError(
                f"{p.bad_in_a_row} consecutive non-finite losses ending at step {p.step + 1}; stopping. "
                f"The last good checkpoint is in {run.out / 'checkpoints'}: lower --lr or check the data, then --resume"
            )
        return
    p.bad_in_a_row = 0
    if nets.ema is not None:
        nets.ema.update_parameters(nets.G_plain)
    p.step += 1
    run.bar.update(1)
    run.meter.add(losses, images=L.shape[0] * acc.num_processes)
    if p.step % cfg.log_every == 0 or p.step == run.data.total_steps:
        log_interval(run, lr)
    if p.step % cfg.checkpoint_every == 0:
        checkpoint(run)
    if p.step % cfg.validate_every == 0 and p.step < run.data.total_steps:
        validate(run)


def log_interval(run: Run, lr: float) -> None:
    """The losses averaged over the interval and over processes, with training images per second."""
    meter = run.meter
    means = mean_over_processes({k: v / meter.steps for k, v in meter.sums.items()}, run.accelerator)
    seconds = max(time.monotonic() - meter.since, 1e-9)
    scalars = {f"train/{k}": v for k, v in means.items()}
    scalars.update({"train/lr": lr, "train/images_per_second": meter.images / seconds})
    scalars.update({f"data/skipped_{k}": v for k, v in run.progress.counters.items()})
    run.accelerator.log(scalars, step=run.progress.step)
    postfix = {k.split("/")[1]: f"{v:.3f}" for k, v in scalars.items() if k.startswith("train/loss")}
    run.bar.set_postfix({**postfix, "img/s": f"{scalars['train/images_per_second']:.1f}"})
    run.meter = LossMeter()


# --- checkpoints, validation, the end ----------------------------------------------------------------


def checkpoint(run: Run) -> None:
    """Save a resumable checkpoint whose pretrained_model/ is a loadable, publishable model."""
    nets, p = run.nets, run.progress
    paused = time.monotonic()
    rng = all_rng_states()  # every process's random state, in rank order (a collective call)
    if run.accelerator.is_main_process:
        state = {
            "step": p.step,
            "epoch": p.epoch,
            "batches_in_epoch": p.batches_in_epoch,
            "config": run.cfg.to_dict(),
            "counters": dict(p.counters),
            "elapsed": p.elapsed + time.monotonic() - run.started,
            "D": nets.D_plain.state_dict(),
            "opt_g": nets.opt_g.state_dict(),
            "opt_d": nets.opt_d.state_dict(),
            "rng": rng,
        }
        if nets.ema is not None:  # pretrained_model/ holds the EMA copy; the raw G goes with the state
            state["G"] = nets.G_plain.state_dict()
            state["ema_n_averaged"] = nets.ema.n_averaged

        def card(folder: Path) -> None:
            record = run_record(
                run.out,
                cfg=run.cfg,
                step=p.step,
                wall_seconds=state["elapsed"],
                hardware=hardware_description(run.accelerator),
                counters=p.counters,
            )
            write_card(
                folder, record, repo_id=None, weights_dtype="float32", n_parameters=count_parameters(nets.G_eval)
            )

        save_checkpoint(state, run.out, model=nets.G_eval, write_card=card, keep=run.cfg.keep_checkpoints)
    run.accelerator.wait_for_everyone()
    run.meter.exclude(paused)


def validate(run: Run) -> None:
    """Metrics (with 10 hints too for a hint model) and the sample grid, on the main process."""
    cfg, step, acc = run.cfg, run.progress.step, run.accelerator
    paused = time.monotonic()
    if acc.is_main_process:
        record = {"step": step}
        for n_hints in (0, 10) if cfg.hints else (0,):
            photos = run.data.validation()
            summary = run_validation(run.nets.G_eval, photos, working_size=cfg.image_size, hints=n_hints)
            prefix = f"val/hints{n_hints}/" if n_hints else "val/"
            acc.log(
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
            if n_hints:
                record[f"hints{n_hints}"] = results
            else:
                record.update(results)
        grid = sample_grid(run.nets.G_eval, run.data.samples, working_size=cfg.image_size)
        (run.out / "samples").mkdir(exist_ok=True)
        grid.save(run.out / "samples" / f"step-{step:08d}.png")
        grid.save(run.out / "samples.png")
        run.tracker.add_image("samples", np.asarray(grid), step, dataformats="HWC")
        (run.out / "metrics.json").write_text(json.dumps(record, indent=2))
    acc.wait_for_everyone()
    run.meter.exclude(paused)


def finish(run: Run) -> Path:
    """Write run.json and the exported model (then publish it if asked); returns the export folder."""
    export_dir, p, acc = run.out / "model", run.progress, run.accelerator
    wall = p.elapsed + time.monotonic() - run.started
    if acc.is_main_process:
        record = write_run_record(
            run.out,
            cfg=run.cfg,
            step=p.step,
            wall_seconds=wall,
            hardware=hardware_description(acc),
            counters=p.counters,
            timings=run.data.timings,
        )
        # A discriminator is exported only if adversarial steps trained it: else `--init-from` would
        # load random weights as if they were a trained critic.
        trained = adversarial_steps(run.cfg.to_dict(), p.step) > 0
        export_model(
            run.nets.G_eval, export_dir, cfg=run.cfg, record=record, discriminator=run.nets.D_plain if trained else None
        )
        logger.info("exported %s (wall time %.1f min, skipped: %s)", export_dir, wall / 60, p.counters)
        if run.cfg.push_to_hub:
            publish_or_explain(run.out, run.cfg.push_to_hub)
    acc.end_training()
    if torch.distributed.is_initialized():
        # An explicit goodbye: gloo's threads torn down at interpreter exit can abort the process.
        torch.distributed.destroy_process_group()
    return export_dir


# --- helpers ------------------------------------------------------------------------------------


def learning_rate(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """pix2pix's schedule: constant, then linear decay to 0 over the last `lr_decay_steps` steps; with
    `lr_warmup_steps`, the first steps rise linearly to it (step 0 already takes a small step)."""
    warmup = min(1.0, (step + 1) / cfg.lr_warmup_steps) if cfg.lr_warmup_steps > 0 else 1.0
    decay_start = total_steps - cfg.lr_decay_steps
    if cfg.lr_decay_steps <= 0 or step < decay_start:
        return cfg.lr * warmup
    return cfg.lr * warmup * max(0.0, 1.0 - (step - decay_start) / cfg.lr_decay_steps)


def encoder_thaw(step: int, cfg: TrainConfig) -> float:
    """Factor on the encoder's learning rate: 0 while frozen, then a linear rise over
    `lr_warmup_steps` (at least 100): Adam's first updates are about lr in size for every weight,
    however small its gradient, which would jolt the pretrained weights all at once."""
    thawed = step - cfg.freeze_encoder_steps + 1
    return min(1.0, max(0.0, thawed / max(cfg.lr_warmup_steps, 100)))


def pick_mixed_precision(cfg: TrainConfig) -> str:
    """ "bf16" or "no". For "auto" on a CPU: time generator steps both ways and take the faster.

    Whether bf16 autocast pays on a CPU depends on the chip (with AVX-512 BF16 or AMX it can be
    1.6x faster; without, many times slower), so it is measured rather than assumed, by the main
    process alone (`decided_on_main`).
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


def hardware_description(accelerator: Accelerator) -> str:
    precision = "bf16 autocast" if accelerator.mixed_precision == "bf16" else "fp32"
    if accelerator.device.type == "cuda":
        name = torch.cuda.get_device_name(accelerator.device)
        return f"{accelerator.num_processes} x {name}, {precision}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    processes = f"{accelerator.num_processes} processes, " if accelerator.num_processes > 1 else ""
    return f"CPU ({cpu}), {os.cpu_count()} cores, {processes}{precision}, torch threads {torch.get_num_threads()}"


def _total_steps(cfg: TrainConfig, splits: data.Splits, cache: data.PhotoCache | None, world_size: int) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    global_batch = cfg.batch_size * world_size
    if cache is not None:  # whole global batches only (data.cached_batches)
        per_epoch = max(1, len(cache.epoch_indices(cfg)) // global_batch)
    else:
        per_epoch = max(1, math.ceil(data.count_examples(splits.train, cfg) / global_batch))
    return max(1, math.ceil(cfg.epochs * per_epoch))


def _step_generator(cfg: TrainConfig, step: int, rank: int) -> torch.Generator:
    # A step's own random choices (hints, scored pixels) depend on (seed, step, process) only, so a
    # resumed run makes exactly the choices the uninterrupted one would have.
    return torch.Generator().manual_seed((cfg.seed * 1_000_003 + step) * 1_009 + rank)


def _fmt(losses: dict[str, Tensor]) -> str:
    return ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())


def _flat(config: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in config.items()}


def _setup_logging(out: Path, main: bool) -> None:
    """Log to stderr and (main process) RUN/train.log. Only the handlers this function added before
    are replaced: a caller's own logging setup (a notebook, an application) stays as it was."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "pix2pix_train", False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.FileHandler(out / "train.log")] if main else []
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in root.handlers):
        handlers.append(logging.StreamHandler(sys.stderr))
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.pix2pix_train = True
        handler.setFormatter(formatter)
        root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
