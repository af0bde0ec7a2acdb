"""The one training config: a frozen dataclass, its presets, and the command line generated from it."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from typing import Literal

import tyro

from pix2pix_color.models.networks import GENERATOR_SIZES


def generator_flags(size: str) -> dict:
    """A generator size of `pix2pix_color.models.networks.GENERATOR_SIZES` as this config's gen_* fields."""
    names = {"depth": "gen_depth", "base_channels": "gen_base_channels", "max_channels": "gen_max_channels",
             "encoder": "gen_encoder"}  # fmt: skip
    return {names[k]: v for k, v in GENERATOR_SIZES[size].items()}


class TrainError(ValueError):
    """Training cannot start or go on with this data, model or config; the message says why in one
    line. The library raises it (a notebook's kernel survives); `python -m train` prints it and
    exits with 2, like a bad flag."""


@dataclass(frozen=True)
class TrainConfig:
    # --- where from, where to, how long

    dataset: str  # Hub dataset id, local folder in Hub layout (Parquet shards), or folder of images
    output_dir: str  # checkpoints, logs, samples and the exported model go here
    # more training photos: the train split of each of these sources is added to --dataset's (whole:
    # validation always comes from --dataset alone)
    mix_with: tuple[str, ...] = ()
    max_steps: int | None = None  # optimizer steps; or give --epochs
    epochs: float | None = None  # passes over the training split (an estimate is turned into steps)
    resume: bool = False  # continue from the newest checkpoint in output_dir
    push_to_hub: str | None = None  # Hub repo id to publish the final model to
    # start from this published model (Hub id or folder): fine-tuning, or a run continued from shipped weights
    init_from: str | None = None
    # "paper", "cpu-small" or "cpu-pretrained": defaults that explicit flags override
    preset: Literal["paper", "cpu-small", "cpu-pretrained"] | None = None

    # --- data

    train_split: str = "train"
    validation_split: str = "validation"  # carved from train (seed 42) if the source has none
    validation_fraction: float = 0.05  # share of train carved out when there is no validation split
    image_size: int = 256  # training resolution (square)
    load_size: int | None = None  # resize to this, then random-crop image_size (None: no crop)
    flip: bool = True  # random horizontal flip
    shuffle_buffer: int = 1000
    num_workers: int = 2  # DataLoader processes decoding images (each reads its own shards)
    cache_limit_gb: float = 4.0  # decode the training split once into memory if it fits in this; 0: always stream
    # a photo whose short side is at least 2x image_size is "large": draw it this many times per epoch
    large_photo_repeat: int = 1
    # keep large photos at up to 4x image_size and crop them at a random scale (from image_size to the
    # whole short side, resized to image_size): close-ups and wide views of the same photo
    multiscale_crops: bool = False

    # --- networks

    gen_depth: int = 8  # 8 = unet_256, 7 = unet_128; 5 with an encoder (its stride of 32)
    # "none" (pix2pix's U-Net, from scratch) or "efficientnet-lite0" (an ImageNet-pretrained encoder)
    gen_encoder: Literal["none", "efficientnet-lite0"] = "none"
    # train the decoder alone for this many steps, the pretrained encoder frozen (no backward through it)
    freeze_encoder_steps: int = 0
    encoder_lr_scale: float = 0.1  # the pretrained encoder's learning rate, as a share of --lr
    gen_base_channels: int = 64
    gen_max_channels: int = 512
    gen_dropout: float = 0.5
    disc_base_channels: int = 64
    disc_layers: int = 3  # 3 = the 70x70 PatchGAN
    # "regression" (a*b* with L1) or "classification" (a*b* bins with cross-entropy, Zhang et al. 2016)
    head: Literal["regression", "classification"] = "regression"
    hints: bool = False  # train with simulated user color hints as extra inputs (Zhang et al. 2017)

    # --- objective and optimisation

    batch_size: int = 32  # per process
    gan_mode: Literal["vanilla", "lsgan"] = "vanilla"  # "vanilla" (BCE) or "lsgan"
    lambda_l1: float = 100.0  # pix2pix's weight of L1 (or cross-entropy) against the adversarial term
    color_rebalance: float | None = None  # weigh rare colors up: Zhang et al.'s lambda (0.5 in the paper; 1 = off)
    ema_decay: float | None = None  # keep an exponential moving average of G (e.g. 0.999); it is validated and exported
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    l1_warmup_steps: int = 0  # train G with L1 alone for this many steps before the GAN phase
    lr_decay_steps: int = 0  # paper schedule: constant, then linear to 0 over the last N steps
    # linear warm-up from 0 over the first N steps: a warm start (--init-from) begins with a fresh Adam
    # state, whose first updates are about lr in size for every weight, however small its gradient
    lr_warmup_steps: int = 0
    # "auto" (bf16 on GPU; on CPU whichever a 2-step probe measures faster), "bf16" or "no"
    mixed_precision: Literal["auto", "bf16", "no"] = "auto"
    channels_last: bool | None = None  # None: on GPU only
    seed: int = 42
    max_bad_steps: int = 5  # consecutive non-finite losses before the run stops

    # --- bookkeeping

    checkpoint_every: int = 500  # a killed run loses at most this many steps
    keep_checkpoints: int = 2
    validate_every: int = 1000
    validation_images: int | None = None  # cap on validation photos (None or 0: the whole split)
    sample_images: int = 8  # columns of the gray / generated / real grid
    export_dtype: Literal["float32", "float16"] = (
        "float32"  # weights dtype in the exported model.safetensors: float32 or float16
    )
    dataset_hub_id: str | None = None  # the dataset's Hub id for the model card (default: --dataset if it is one)
    log_every: int = 20

    def __post_init__(self) -> None:
        problems = []
        if self.max_steps is None and self.epochs is None:
            problems.append("give --max-steps or --epochs")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("--max-steps must be at least 1")
        if self.epochs is not None and self.epochs <= 0:
            problems.append("--epochs must be positive")
        if self.gen_encoder not in ("none", "efficientnet-lite0"):
            problems.append("--gen-encoder must be none or efficientnet-lite0")
        elif self.gen_encoder != "none" and self.gen_depth != 5:
            problems.append(f"--gen-depth must be 5 with --gen-encoder {self.gen_encoder} (its stride is 32)")
        if self.freeze_encoder_steps < 0:
            problems.append("--freeze-encoder-steps must be 0 or more")
        if self.freeze_encoder_steps and self.gen_encoder == "none":
            problems.append("--freeze-encoder-steps needs a pretrained encoder (--gen-encoder)")
        if not 0 < self.encoder_lr_scale <= 1:
            problems.append("--encoder-lr-scale must be in (0, 1]")
        if self.image_size % 2**self.gen_depth:
            problems.append(f"--image-size {self.image_size} must be a multiple of 2**gen_depth = {2**self.gen_depth}")
        if self.load_size is not None and self.load_size < self.image_size:
            problems.append("--load-size must be at least --image-size")
        if self.head not in ("regression", "classification"):
            problems.append("--head must be regression or classification")
        if self.color_rebalance is not None and not 0 <= self.color_rebalance <= 1:
            problems.append("--color-rebalance must be in [0, 1]")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            problems.append("--ema-decay must be in (0, 1)")
        if self.large_photo_repeat < 1:
            problems.append("--large-photo-repeat must be at least 1")
        if self.cache_limit_gb < 0:
            problems.append("--cache-limit-gb must be 0 or more")
        if self.gan_mode not in ("vanilla", "lsgan"):
            problems.append("--gan-mode must be vanilla or lsgan")
        if self.mixed_precision not in ("auto", "bf16", "no"):
            problems.append("--mixed-precision must be auto, bf16 or no")
        if self.batch_size < 2:
            problems.append("--batch-size must be at least 2 (BatchNorm needs 2 samples)")
        if not 0 < self.validation_fraction < 1:
            problems.append("--validation-fraction must be in (0, 1)")
        if self.export_dtype not in ("float32", "float16"):
            problems.append("--export-dtype must be float32 or float16")
        if self.preset is not None and self.preset not in PRESETS:
            problems.append(f"--preset must be one of {sorted(PRESETS)}")
        if self.lr_warmup_steps < 0:
            problems.append("--lr-warmup-steps must be 0 or more")
        for name in ("checkpoint_every", "validate_every", "log_every", "keep_checkpoints", "max_bad_steps"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be at least 1")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> TrainConfig:
        """The inverse of `to_dict` (as run.json and checkpoints store it: JSON has no tuples)."""
        return cls(**{**saved, "betas": tuple(saved["betas"]), "mix_with": tuple(saved.get("mix_with", ()))})


# What may change when a run is resumed: how long it runs (steps, the learning-rate schedule, how
# long the objective stays L1 alone before the GAN phase), how it is bookkept and published, and
# how fast it computes. Everything else (data, networks, objective, seed) shapes the weights and
# optimizer state in the checkpoint, so a resume must keep it (lerobot's resume guard does the same).
CHANGEABLE_ON_RESUME = frozenset(
    {
        "max_steps", "epochs", "resume", "push_to_hub", "init_from", "preset", "num_workers", "cache_limit_gb",
        "lr", "lr_decay_steps", "lr_warmup_steps", "l1_warmup_steps", "mixed_precision", "channels_last",
        "freeze_encoder_steps", "encoder_lr_scale",
        "max_bad_steps",
        "checkpoint_every", "keep_checkpoints", "validate_every", "validation_images", "sample_images", "export_dtype",
        "dataset_hub_id", "log_every", "output_dir",
    }
)  # fmt: skip


def resume_conflicts(saved: dict, cfg: TrainConfig) -> list[str]:
    """The options that differ between a checkpoint's config and `cfg` and may not change on resume,
    each as "--flag: X in the checkpoint, Y now"."""
    now = cfg.to_dict()
    # An option newer than the checkpoint had its default then.
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    conflicts = []
    for name, value in now.items():
        before = saved.get(name, defaults.get(name))
        before = tuple(before) if isinstance(before, list) else before
        if name not in CHANGEABLE_ON_RESUME and before != value:
            conflicts.append(f"--{name.replace('_', '-')}: {before!r} in the checkpoint, {value!r} now")
    return conflicts


# The seed's settings, and a size that trains on a 2-core CPU in about two hours.
PRESETS: dict[str, dict] = {
    "paper": dict(image_size=256, batch_size=32, **generator_flags("unet_256")),
    # EfficientNet-Lite0 under a light decoder, bf16 where it pays: 43 img/s with the encoder frozen,
    # 18 img/s with it training, for 16 crops of 192 px on the 2-core AMD EPYC (experiments/README.md).
    "cpu-pretrained": dict(
        image_size=192,
        batch_size=16,
        **generator_flags("lite0_unet"),
        disc_base_channels=32,
        num_workers=1,
        channels_last=True,
        checkpoint_every=250,
        validate_every=1000,
        validation_images=300,
    ),
    "cpu-small": dict(
        image_size=128,
        load_size=144,
        batch_size=16,
        **generator_flags("unet_small"),
        disc_base_channels=32,
        l1_warmup_steps=1000,
        num_workers=1,
        channels_last=True,
        checkpoint_every=200,
        validate_every=1000,
        validation_images=500,
    ),
}


def _template(preset: str | None) -> TrainConfig:
    """The defaults tyro shows and fills in: the dataclass's, then the preset's.

    Why not TrainConfig(...): a template has no dataset yet, and validating it would fail. The
    config that tyro builds from the command line goes through TrainConfig(...) and is validated.
    """
    values = {"preset": preset, **PRESETS.get(preset or "", {})}
    template = object.__new__(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        default = f.default if f.default is not dataclasses.MISSING else tyro.MISSING
        object.__setattr__(template, f.name, values.get(f.name, default))
    return template


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """Command line -> TrainConfig: dataclass defaults, then the preset's, then explicit flags.

    tyro makes the command line from the dataclass (flags, types, choices, and help texts from the
    field comments), so a new field is a new flag with nothing else to keep in step.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    preset_parser = argparse.ArgumentParser(add_help=False)
    preset_parser.add_argument("--preset")
    preset = preset_parser.parse_known_args(argv)[0].preset
    # TrainConfig's own checks (across flags) raise ValueError, which tyro reports with exit code 2.
    return tyro.cli(
        TrainConfig,
        args=argv,
        default=_template(preset if preset in PRESETS else None),
        prog="python -m train",
        description="Train pix2pix colorization (L -> ab) on a streamed image dataset.",
    )


def command_line(cfg: TrainConfig) -> str:
    """The `python -m train` command that gives `cfg`: the preset, then only the flags that differ."""
    baseline = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    baseline.update(PRESETS.get(cfg.preset or "", {}))
    parts = ["python -m train"]
    for f in dataclasses.fields(TrainConfig):
        value = getattr(cfg, f.name)
        if f.default is not dataclasses.MISSING and (value == baseline[f.name] or value is None):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool) and f.type in ("bool", bool):  # --flag / --no-flag
            parts.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            parts.append(f"{flag} {' '.join(str(v) for v in value)}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def with_preset(**values) -> TrainConfig:
    """TrainConfig from Python, with the same precedence as the command line."""
    merged = dict(PRESETS.get(values.get("preset") or "", {}))
    merged.update(values)
    return TrainConfig(**merged)
