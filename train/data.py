"""Training data: a `datasets` stream of photos -> batches of uint8 RGB, Lab on the training device.

Workers only decode, resize, crop and flip (cheap, in PIL); the costly Lab conversion runs batched on
the training device with `pix2pix_color.color`. Sharding across processes happens in exactly one
place, `split_dataset_by_node` here; the DataLoader is deliberately not passed through Accelerate,
which would split the stream a second time and silently drop data.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import fsspec
import numpy as np
import torch
from datasets import Image as HFImage
from datasets import IterableDataset, load_dataset
from datasets.distributed import split_dataset_by_node
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader

from pix2pix_color.color import normalize_ab, normalize_l, rgb_to_lab
from pix2pix_color.images import ImageError, open_image

from .config import TrainConfig

logger = logging.getLogger(__name__)

OK, CORRUPT, GRAYSCALE = "ok", "corrupt", "grayscale"
# Mean |R-G| + |G-B| + |B-R| (0..255 scale) below which a photo counts as black and white; JPEG
# noise on a gray photo stays well under it, a muted color photo is well above it.
GRAY_CHROMA_THRESHOLD = 3.0


@dataclass
class Splits:
    train: IterableDataset
    validation: IterableDataset
    image_column: str
    carved: bool  # validation was carved out of train


def _image_column(ds: IterableDataset) -> str:
    for name, feature in (ds.features or {}).items():
        if isinstance(feature, HFImage):
            return name
    raise ValueError(f"the dataset has no image column (columns: {list(ds.features or {})})")


def read_bytes(field: dict) -> bytes:
    """The encoded bytes of a `datasets` Image field stored with decode=False."""
    if field.get("bytes"):
        return field["bytes"]
    with fsspec.open(field["path"], "rb") as f:
        return f.read()


def _in_validation(example: dict, *, column: str, fraction: float, seed: int) -> bool:
    # By content, not position: the carve is the same whatever the shard order, worker count or
    # number of processes, so a validation photo can never leak into training.
    digest = hashlib.sha256(seed.to_bytes(8, "little") + read_bytes(example[column])).digest()
    return int.from_bytes(digest[:8], "little") / 2**64 < fraction


def load_splits(cfg: TrainConfig) -> Splits:
    """Open the train and validation streams (images left encoded: decoding is ours, to skip bad ones)."""
    try:
        streams = load_dataset(cfg.dataset, streaming=True)
    except FileNotFoundError as e:
        raise SystemExit(f"dataset {cfg.dataset!r} not found: {e}") from None
    if cfg.train_split not in streams:
        raise SystemExit(f"dataset {cfg.dataset!r} has no split {cfg.train_split!r} (it has {list(streams)})")
    train = streams[cfg.train_split]
    column = _image_column(train)
    train = train.cast_column(column, HFImage(decode=False))
    if cfg.validation_split in streams:
        validation = streams[cfg.validation_split].cast_column(column, HFImage(decode=False))
        return Splits(train, validation, column, carved=False)
    # Carve a deterministic validation split (seed 42, whatever the training seed) out of train.
    pick = partial(_in_validation, column=column, fraction=cfg.validation_fraction, seed=42)
    validation = train.filter(pick)
    train = train.filter(lambda example: not pick(example))
    logger.info("no %r split: carved %.0f%% of train as validation", cfg.validation_split, 100 * cfg.validation_fraction)
    return Splits(train, validation, column, carved=True)


def is_grayscale(image: Image.Image) -> bool:
    small = np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.int16)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    chroma = np.abs(r - g) + np.abs(g - b) + np.abs(b - r)
    return float(chroma.mean()) < GRAY_CHROMA_THRESHOLD


def decode_photo(data: bytes) -> tuple[Image.Image | None, str]:
    """Encoded photo -> (RGB image, OK) or (None, CORRUPT / GRAYSCALE)."""
    try:
        image = open_image(data).convert("RGB")
    except (ImageError, OSError):
        return None, CORRUPT
    if is_grayscale(image):
        return None, GRAYSCALE
    return image, OK


def to_training_pair(example: dict, *, column: str, cfg: TrainConfig, epoch: int) -> dict:
    """Encoded photo -> {"rgb": uint8 (3,S,S) or None, "status"}: resize, optional random crop, flip.

    The random choices come from a generator seeded by (seed, epoch, photo content), so they do not
    depend on which worker or process handles the photo: runs and resumed runs see the same pairs.
    """
    try:
        data = read_bytes(example[column])
    except OSError:
        return {"rgb": None, "status": CORRUPT}
    image, status = decode_photo(data)
    if image is None:
        return {"rgb": None, "status": status}
    digest = hashlib.sha256(f"{cfg.seed}/{epoch}/".encode() + data).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    load = cfg.load_size or cfg.image_size
    image = image.resize((load, load), Image.BICUBIC)
    if load > cfg.image_size:
        x, y = rng.integers(0, load - cfg.image_size + 1, size=2)
        image = image.crop((x, y, x + cfg.image_size, y + cfg.image_size))
    if cfg.flip and rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return {"rgb": np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy(), "status": OK}


def collate_pairs(examples: list[dict]) -> dict:
    """Stack the good pairs; count the skipped ones so the loop can log them."""
    good = [torch.from_numpy(np.asarray(e["rgb"], dtype=np.uint8)) for e in examples if e["status"] == OK]
    return {
        "rgb": torch.stack(good) if good else torch.empty(0, 3, 0, 0, dtype=torch.uint8),
        "corrupt": sum(e["status"] == CORRUPT for e in examples),
        "grayscale": sum(e["status"] == GRAYSCALE for e in examples),
    }


def training_loader(
    splits: Splits, cfg: TrainConfig, *, epoch: int, rank: int = 0, world_size: int = 1
) -> DataLoader:
    """Batches of one epoch for this process: shuffled (seed, epoch), this process's share only."""
    ds = splits.train.shuffle(seed=cfg.seed, buffer_size=cfg.shuffle_buffer)
    if world_size > 1:
        ds = split_dataset_by_node(ds, rank=rank, world_size=world_size)
    ds.set_epoch(epoch)
    columns = list(splits.train.features or {})
    ds = ds.map(partial(to_training_pair, column=splits.image_column, cfg=cfg, epoch=epoch), remove_columns=columns)
    workers = min(cfg.num_workers, max(ds.num_shards, 1))  # a worker without a shard would idle
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        collate_fn=collate_pairs,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        # Its own generator: creating a loader must not consume the global RNG (dropout's), or a
        # resumed run would drift from an uninterrupted one.
        generator=torch.Generator().manual_seed(cfg.seed + epoch),
    )


def to_model_space(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """uint8 RGB (B,3,H,W) on the training device -> (L (B,1,H,W), ab (B,2,H,W)) in model space."""
    lab = rgb_to_lab(rgb)
    return normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])


def validation_photos(splits: Splits, limit: int | None) -> Iterator[Image.Image]:
    """The validation split in its stored order, at full resolution; bad photos are skipped."""
    seen = 0
    for example in splits.validation:
        if limit is not None and seen >= limit:
            return
        try:
            image, _ = decode_photo(read_bytes(example[splits.image_column]))
        except OSError:
            continue
        if image is not None:
            seen += 1
            yield image


def count_examples(ds: IterableDataset) -> int:
    """Rows in a split, for turning --epochs into steps: from the metadata, or by one cheap pass."""
    info = ds.info.splits.get(ds.split) if ds.info and ds.info.splits and ds.split else None
    if info is not None and info.num_examples:
        return info.num_examples
    return sum(1 for _ in ds)

