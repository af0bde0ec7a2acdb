"""Training data: a `datasets` stream of photos -> batches of uint8 RGB, Lab on the training device.

Workers only decode, resize, crop and flip (cheap, in PIL); the costly Lab conversion runs batched on
the training device with `pix2pix_color.color`. Sharding across processes happens in exactly one
place, `split_dataset_by_node` here; the DataLoader is deliberately not passed through Accelerate,
which would split the stream a second time and silently drop data.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import fsspec
import numpy as np
import pyarrow.parquet as pq
import torch
from datasets import Features, IterableDataset, Value, load_dataset_builder
from datasets import Image as HFImage
from datasets.distributed import split_dataset_by_node
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader

from pix2pix_color.color import normalize_ab, normalize_l, rgb_to_lab
from pix2pix_color.images import ImageError, open_image

from .config import TrainConfig

logger = logging.getLogger(__name__)

OK, CORRUPT, GRAYSCALE, SHARD_FAILED = "ok", "corrupt", "grayscale", "shard_failed"
# Mean |R-G| + |G-B| + |B-R| (0..255 scale) below which a photo counts as black and white; JPEG
# noise on a gray photo stays well under it, a muted color photo is well above it.
GRAY_CHROMA_THRESHOLD = 3.0


@dataclass
class Splits:
    train: IterableDataset
    validation: IterableDataset
    carved: bool  # validation was carved out of train


# Rows of our streams: the encoded image, or a marker saying that a shard could not be read.
STREAM_FEATURES = Features({"image": HFImage(decode=False), "shard_error": Value("string")})
READ_RETRIES = 3
IMAGEFOLDER_FILES_PER_SHARD = 256


def _image_column(features: Features | None) -> str:
    for name, feature in (features or {}).items():
        if isinstance(feature, HFImage):
            return name
    raise SystemExit(f"the dataset has no image column (columns: {list(features or {})})")


def read_bytes(field: dict) -> bytes:
    """The encoded bytes of a `datasets` Image field stored with decode=False."""
    if field.get("bytes"):
        return field["bytes"]
    with fsspec.open(field["path"], "rb") as f:
        return f.read()


def _in_validation(example: dict, *, fraction: float, seed: int) -> bool:
    # By content, not position: the carve is the same whatever the shard order, worker count or
    # number of processes, so a validation photo can never leak into training.
    if example["image"] is None:
        return False  # a shard-error marker: it goes (and is counted) with train
    digest = hashlib.sha256(seed.to_bytes(8, "little") + read_bytes(example["image"])).digest()
    return int.from_bytes(digest[:8], "little") / 2**64 < fraction


def _rows_of(files: list[str], builder: str) -> Iterator[dict]:
    """Encoded images of one shard: rows of a Parquet file, or the files of an image folder."""
    if builder == "imagefolder":
        for path in files:
            yield {"bytes": None, "path": path}
        return
    with fsspec.open(files[0], "rb") as f:
        parquet = pq.ParquetFile(f)
        column = _image_column(Features.from_arrow_schema(parquet.schema_arrow))
        for batch in parquet.iter_batches(batch_size=64, columns=[column]):
            yield from batch.column(0).to_pylist()


def read_shards(shards: list[list[str]], *, builder: str, retries: int = READ_RETRIES) -> Iterator[dict]:
    """Rows of the given shards (each a list of data files), one shard at a time.

    A shard that fails (unreadable file, network error) is re-opened up to `retries` times, resuming
    after the rows already given; then it is skipped and one marker row names it, so the run goes on
    and the loop can count and log it. `datasets` has no such option (a failing shard ends the
    stream), and its own per-file readers cannot be nested here: inside a DataLoader worker they
    would split each shard across the workers a second time. So the shards are read directly, with
    pyarrow for Parquet as `datasets` itself does, and `datasets` handles shuffling and sharding.
    """
    for files in shards:
        done, attempt = 0, 0
        while True:
            try:
                for i, image in enumerate(_rows_of(files, builder)):
                    if i >= done:
                        yield {"image": image, "shard_error": None}
                        done += 1
                break
            except Exception as e:  # noqa: BLE001 - any reading failure is retried, then skipped
                attempt += 1
                name = os.path.basename(files[0]) + (f" (+{len(files) - 1} files)" if len(files) > 1 else "")
                if attempt > retries:
                    logger.warning("skipping the rest of shard %s after %d failures: %s", name, attempt, e)
                    yield {"image": None, "shard_error": f"{name}: {type(e).__name__}: {e}"[:500]}
                    break
                logger.warning("shard %s failed (%s: %s); retry %d of %d", name, type(e).__name__, e, attempt, retries)
                time.sleep(0.2 * 2**attempt)


def _shard_stream(builder: str, files: list[str]) -> IterableDataset:
    per_shard = IMAGEFOLDER_FILES_PER_SHARD if builder == "imagefolder" else 1
    shards = [list(files[i : i + per_shard]) for i in range(0, len(files), per_shard)]
    # from_generator splits the list-valued `shards` across DataLoader workers and processes.
    return IterableDataset.from_generator(read_shards, gen_kwargs={"shards": shards, "builder": builder}, features=STREAM_FEATURES)


def load_splits(cfg: TrainConfig) -> Splits:
    """Open the train and validation streams (images left encoded: decoding is ours, to skip bad ones)."""
    try:
        source = load_dataset_builder(cfg.dataset)
        data_files = {str(split): list(files) for split, files in (source.config.data_files or {}).items()}
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"dataset {cfg.dataset!r} cannot be opened: {e}") from None
    if source.name not in ("parquet", "imagefolder"):
        raise SystemExit(f"dataset {cfg.dataset!r} is stored as {source.name!r}; Parquet shards or a folder of images are supported")
    if cfg.train_split not in data_files:
        raise SystemExit(f"dataset {cfg.dataset!r} has no split {cfg.train_split!r} (it has {sorted(data_files)})")
    train = _shard_stream(source.name, data_files[cfg.train_split])
    if cfg.validation_split in data_files:
        validation = _shard_stream(source.name, data_files[cfg.validation_split])
        return Splits(train, validation, carved=False)
    # Carve a deterministic validation split (seed 42, whatever the training seed) out of train.
    pick = partial(_in_validation, fraction=cfg.validation_fraction, seed=42)
    validation = train.filter(pick)
    train = train.filter(lambda example: not pick(example))
    logger.info("no %r split: carved %.0f%% of train as validation", cfg.validation_split, 100 * cfg.validation_fraction)
    return Splits(train, validation, carved=True)


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


def to_training_pair(example: dict, *, cfg: TrainConfig, epoch: int) -> dict:
    """Encoded photo -> {"rgb": uint8 (3,S,S) or None, "status"}: resize, optional random crop, flip.

    The random choices come from a generator seeded by (seed, epoch, photo content), so they do not
    depend on which worker or process handles the photo: runs and resumed runs see the same pairs.
    """
    if example.get("shard_error"):
        return {"rgb": None, "status": SHARD_FAILED, "detail": example["shard_error"]}
    try:
        data = read_bytes(example["image"])
    except OSError:
        return {"rgb": None, "status": CORRUPT, "detail": None}
    image, status = decode_photo(data)
    if image is None:
        return {"rgb": None, "status": status, "detail": None}
    digest = hashlib.sha256(f"{cfg.seed}/{epoch}/".encode() + data).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    load = cfg.load_size or cfg.image_size
    image = image.resize((load, load), Image.BICUBIC)
    if load > cfg.image_size:
        x, y = rng.integers(0, load - cfg.image_size + 1, size=2)
        image = image.crop((x, y, x + cfg.image_size, y + cfg.image_size))
    if cfg.flip and rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return {"rgb": np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy(), "status": OK, "detail": None}


def collate_pairs(examples: list[dict]) -> dict:
    """Stack the good pairs; count the skipped ones so the loop can log them."""
    good = [torch.from_numpy(np.asarray(e["rgb"], dtype=np.uint8)) for e in examples if e["status"] == OK]
    return {
        "rgb": torch.stack(good) if good else torch.empty(0, 3, 0, 0, dtype=torch.uint8),
        "corrupt": sum(e["status"] == CORRUPT for e in examples),
        "grayscale": sum(e["status"] == GRAYSCALE for e in examples),
        "shards_failed": [e["detail"] for e in examples if e["status"] == SHARD_FAILED],
    }


def training_loader(
    splits: Splits, cfg: TrainConfig, *, epoch: int, rank: int = 0, world_size: int = 1
) -> DataLoader:
    """Batches of one epoch for this process: shuffled (seed, epoch), this process's share only."""
    ds = splits.train.shuffle(seed=cfg.seed, buffer_size=cfg.shuffle_buffer)
    if world_size > 1:
        ds = split_dataset_by_node(ds, rank=rank, world_size=world_size)
    ds.set_epoch(epoch)
    ds = ds.map(partial(to_training_pair, cfg=cfg, epoch=epoch), remove_columns=list(STREAM_FEATURES))
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
        if limit and seen >= limit:
            return
        if example["image"] is None:
            continue  # a shard that could not be read (already logged)
        try:
            image, _ = decode_photo(read_bytes(example["image"]))
        except OSError:
            continue
        if image is not None:
            seen += 1
            yield image


def count_examples(ds: IterableDataset) -> int:
    """Rows in a split, for turning --epochs into steps (one pass over the encoded rows)."""
    return sum(1 for example in ds if example["image"] is not None)

