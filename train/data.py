"""Training data: a `datasets` stream of photos -> batches of uint8 RGB, Lab on the training device.

Two paths give the same batches' kind:
- streaming (any size of dataset): DataLoader workers decode, resize, crop and flip in PIL;
  sharding across processes happens in exactly one place, `split_dataset_by_node` here (the
  DataLoader is deliberately not passed through Accelerate, which would split the stream a second
  time and silently drop data);
- cached (a dataset that fits in `--cache-limit-gb`): every photo is decoded and resized once into
  a uint8 tensor in memory; an epoch is then a seeded permutation, cropped and flipped by slicing in
  the training process. On a 2-core CPU the decoding workers otherwise take a core's share from
  the model every step (measured in benchmarks/bench_train.py).
The costly Lab conversion runs batched on the training device with `pix2pix_color.core.color`.
"""

from __future__ import annotations

import hashlib
import io
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
from datasets import Features, IterableDataset, Value, concatenate_datasets, load_dataset_builder
from datasets import Image as HFImage
from datasets.distributed import split_dataset_by_node
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from pix2pix_color.core import ab_bins
from pix2pix_color.core.color import is_grayscale, normalize_ab, normalize_l, rgb_to_lab
from pix2pix_color.core.image_processor import resize
from pix2pix_color.io.images import ImageError, open_image

from .config import TrainConfig, TrainError

logger = logging.getLogger(__name__)

OK, CORRUPT, GRAYSCALE, SHARD_FAILED = "ok", "corrupt", "grayscale", "shard_failed"


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
    raise TrainError(f"the dataset has no image column (columns: {list(features or {})})")


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
    return IterableDataset.from_generator(
        read_shards, gen_kwargs={"shards": shards, "builder": builder}, features=STREAM_FEATURES
    )


def _open_source(dataset: str, split: str) -> tuple[str, dict[str, list[str]]]:
    """A dataset's builder ("parquet" or "imagefolder") and data files per split, checked up front."""
    try:
        source = load_dataset_builder(dataset)
        data_files = {str(name): list(files) for name, files in (source.config.data_files or {}).items()}
    except (FileNotFoundError, ValueError) as e:
        raise TrainError(f"dataset {dataset!r} cannot be opened: {e}") from None
    if source.name not in ("parquet", "imagefolder"):
        raise TrainError(
            f"dataset {dataset!r} is stored as {source.name!r}; Parquet shards or a folder of images are supported"
        )
    if split not in data_files:
        raise TrainError(f"dataset {dataset!r} has no split {split!r} (it has {sorted(data_files)})")
    if source.name == "parquet" and data_files[split]:
        # Checked here, once: inside a DataLoader worker the same check would end in a traceback.
        with fsspec.open(data_files[split][0], "rb") as f:
            schema = pq.ParquetFile(f).schema_arrow
        try:
            _image_column(Features.from_arrow_schema(schema))
        except TrainError as e:
            raise TrainError(f"dataset {dataset!r}: {e} - write it with datasets' Image feature") from None
    return source.name, data_files


def load_splits(cfg: TrainConfig) -> Splits:
    """Open the train and validation streams (images left encoded: decoding is ours, to skip bad ones).

    `--mix-with` sources add their train split to the training stream (`datasets`' own
    `concatenate_datasets`, so shuffling and sharding see one stream); validation is --dataset's."""
    builder, data_files = _open_source(cfg.dataset, cfg.train_split)
    train = _shard_stream(builder, data_files[cfg.train_split])
    extras = []
    for other in cfg.mix_with:
        other_builder, other_files = _open_source(other, cfg.train_split)
        extras.append(_shard_stream(other_builder, other_files[cfg.train_split]))
    if cfg.validation_split in data_files:
        validation = _shard_stream(builder, data_files[cfg.validation_split])
        return Splits(concatenate_datasets([train, *extras]) if extras else train, validation, carved=False)
    # Carve a deterministic validation split (seed 42, whatever the training seed) out of train.
    pick = partial(_in_validation, fraction=cfg.validation_fraction, seed=42)
    validation = train.filter(pick)
    train = train.filter(lambda example: not pick(example))
    logger.info(
        "no %r split: carved %.0f%% of train as validation", cfg.validation_split, 100 * cfg.validation_fraction
    )
    return Splits(concatenate_datasets([train, *extras]) if extras else train, validation, carved=True)


def decode_photo(data: bytes) -> tuple[Image.Image | None, str]:
    """Encoded photo -> (RGB image, OK) or (None, CORRUPT / GRAYSCALE)."""
    try:
        image = open_image(data).convert("RGB")
    except (ImageError, OSError):
        return None, CORRUPT
    if is_grayscale(image):
        return None, GRAYSCALE
    return image, OK


def resize_short_side(image: Image.Image, short: int) -> Image.Image:
    """Aspect kept, the short side `short` px: a 481x321 photo is cropped from, never squashed."""
    w, h = image.size
    scale = short / min(w, h)
    return image.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.BICUBIC)


# A photo is "large" when its short side is at least LARGE x the training size: in this dataset the
# 300 varied 481x321 photos among 9,212 thumbnails of 150 px, which carry most of the warm hues.
LARGE = 2
# With --multiscale-crops a large photo is kept at up to this many times the training size.
MULTISCALE_LIMIT = 4


def is_large(short_side: int, cfg: TrainConfig) -> bool:
    return short_side >= LARGE * cfg.image_size


def kept_short_side(short_side: int, cfg: TrainConfig) -> int:
    """The short side a training photo is resized to before cropping: the load size, or with
    --multiscale-crops a large photo's own (up to MULTISCALE_LIMIT x the training size)."""
    if cfg.multiscale_crops and is_large(short_side, cfg):
        return min(short_side, MULTISCALE_LIMIT * cfg.image_size)
    return cfg.load_size or cfg.image_size


def random_crop_flip(
    rgb: np.ndarray | Tensor, size: int, flip: bool, rng: np.random.Generator, *, multiscale: bool = False
) -> Tensor | np.ndarray:
    """uint8 (3,h,w) -> a random uint8 (3,size,size) crop, mirrored with probability 1/2 when `flip`.

    `multiscale`: the crop's side is drawn log-uniformly from `size` to the short side and resized to
    `size` (antialiased), so one photo gives close-ups (grass, leaves) as well as wide views.
    """
    h, w = rgb.shape[-2:]
    side = size
    if multiscale and min(h, w) > size:
        side = int(round(size * (min(h, w) / size) ** rng.random()))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = rgb[:, y : y + side, x : x + side]
    if side != size:
        crop = resize(torch.as_tensor(np.ascontiguousarray(crop)).float()[None], (size, size))
        crop = crop[0].round_().clamp_(0, 255).to(torch.uint8)
        crop = crop.numpy() if isinstance(rgb, np.ndarray) else crop
    if flip and rng.random() < 0.5:
        crop = crop[:, :, ::-1] if isinstance(crop, np.ndarray) else crop.flip(-1)
    return crop


def _decoded(example: dict, cfg: TrainConfig) -> tuple[np.ndarray | None, str, str | None, bytes | None, bool]:
    """Stream row -> (uint8 (3,h,w) at `kept_short_side`, status, shard error, encoded bytes, large)."""
    if example.get("shard_error"):
        return None, SHARD_FAILED, example["shard_error"], None, False
    try:
        data = read_bytes(example["image"])
    except OSError:
        return None, CORRUPT, None, None, False
    image, status = decode_photo(data)
    if image is None:
        return None, status, None, data, False
    short = min(image.size)
    rgb = np.asarray(resize_short_side(image, kept_short_side(short, cfg)), dtype=np.uint8).transpose(2, 0, 1)
    return np.ascontiguousarray(rgb), OK, None, data, is_large(short, cfg)


def to_training_pairs(batch: dict, *, cfg: TrainConfig, epoch: int) -> dict:
    """A batch of stream rows -> columns "rgb" (uint8 (3,S,S) or None), "status", "detail": one
    random crop per photo, `large_photo_repeat` different ones per large photo.

    The random choices come from a generator seeded by (seed, epoch, photo content), so they do not
    depend on which worker or process handles the photo: runs and resumed runs see the same pairs.
    """
    out: dict[str, list] = {"rgb": [], "status": [], "detail": []}
    for values in zip(*batch.values()):
        rgb, status, detail, data, large = _decoded(dict(zip(batch, values)), cfg)
        if rgb is None:
            for column, value in (("rgb", None), ("status", status), ("detail", detail)):
                out[column].append(value)
            continue
        digest = hashlib.sha256(f"{cfg.seed}/{epoch}/".encode() + data).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        for _ in range(cfg.large_photo_repeat if large else 1):
            crop = random_crop_flip(rgb, cfg.image_size, cfg.flip, rng, multiscale=cfg.multiscale_crops and large)
            for column, value in (("rgb", np.ascontiguousarray(crop)), ("status", OK), ("detail", None)):
                out[column].append(value)
    return out


def _as_cache_row(example: dict, *, cfg: TrainConfig) -> dict:
    rgb, status, detail, _, large = _decoded(example, cfg)
    return {"rgb": rgb, "status": status, "detail": detail, "large": large}


@dataclass
class PhotoCache:
    """A split decoded once: uint8 (3,h,w) tensors with the short side at `kept_short_side`."""

    photos: list[Tensor]
    skipped: dict[str, int]  # corrupt / grayscale / shards_failed met while building
    nbytes: int
    large: list[bool] | None = None  # per photo: is it large (see `is_large`); None: none is

    def epoch_indices(self, cfg: TrainConfig) -> Tensor:
        """The photos one epoch draws: every photo once, a large one `large_photo_repeat` times."""
        every = torch.arange(len(self.photos))
        large = torch.tensor([i for i, big in enumerate(self.large or []) if big], dtype=torch.long)
        return torch.cat([every, large.repeat(cfg.large_photo_repeat - 1)])


def build_cache(splits: Splits, cfg: TrainConfig, *, limit_bytes: int) -> PhotoCache | None:
    """Decode and resize the whole training split into memory; None once it outgrows `limit_bytes`.

    Every process builds the same cache (the whole split) and takes its share per epoch in
    `cached_batches`, so all processes run the same number of steps.
    """
    ds = splits.train.map(partial(_as_cache_row, cfg=cfg), remove_columns=list(STREAM_FEATURES))
    workers = min(cfg.num_workers, max(ds.num_shards, 1))
    loader = DataLoader(ds, batch_size=None, num_workers=workers, prefetch_factor=16 if workers else None)
    photos, large, nbytes = [], [], 0
    skipped = {CORRUPT: 0, GRAYSCALE: 0, "shards_failed": 0}
    for row in tqdm(loader, desc="caching photos", unit="photo", dynamic_ncols=True, mininterval=2):
        if row["status"] == SHARD_FAILED:
            skipped["shards_failed"] += 1
            logger.warning("skipped an unreadable shard: %s", row["detail"])
        elif row["status"] != OK:
            skipped[row["status"]] += 1
        else:
            photo = torch.as_tensor(np.asarray(row["rgb"], dtype=np.uint8))
            nbytes += photo.numel()
            if nbytes > limit_bytes:
                logger.info(
                    "the training split outgrows --cache-limit-gb %.1f: streaming it instead", limit_bytes / 2**30
                )
                return None
            photos.append(photo)
            large.append(bool(row["large"]))
    return PhotoCache(photos, skipped, nbytes, large)


def cached_batches(
    cache: PhotoCache, cfg: TrainConfig, *, epoch: int, rank: int = 0, world_size: int = 1, start_batch: int = 0
) -> Iterator[dict]:
    """One epoch of batches from the cache for this process, from batch `start_batch` on.

    The order is a permutation (seeded by (seed, epoch), the same on every process) of the epoch's
    draws (`PhotoCache.epoch_indices`); process `rank` takes every `world_size`-th batch of it, and
    the epoch is cut to a whole number of batches per process so that no process waits at a step
    the others never take.
    """
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
    draws = cache.epoch_indices(cfg)
    order = draws[torch.randperm(len(draws), generator=g)]
    per_process = len(order) // (cfg.batch_size * world_size)
    if per_process == 0:  # fewer photos than one global batch: one smaller batch each
        per_process, batch_size = 1, max(2, len(order) // world_size)
    else:
        batch_size = cfg.batch_size
    rng = np.random.default_rng([cfg.seed, epoch, rank])
    large = cache.large or [False] * len(cache.photos)
    for b in range(per_process):
        global_batch = b * world_size + rank
        picks = order[global_batch * batch_size : (global_batch + 1) * batch_size]
        # Drawn for every batch, used or skipped, so a resumed epoch crops exactly as the first run.
        crops = [
            random_crop_flip(
                cache.photos[i], cfg.image_size, cfg.flip, rng, multiscale=cfg.multiscale_crops and large[i]
            )
            for i in picks.tolist()
        ]
        if b < start_batch:
            continue
        yield {"rgb": torch.stack(crops), "corrupt": 0, "grayscale": 0, "shards_failed": []}


def collate_pairs(examples: list[dict]) -> dict:
    """Stack the good pairs; count the skipped ones so the loop can log them."""
    good = [torch.from_numpy(np.asarray(e["rgb"], dtype=np.uint8)) for e in examples if e["status"] == OK]
    return {
        "rgb": torch.stack(good) if good else torch.empty(0, 3, 0, 0, dtype=torch.uint8),
        "corrupt": sum(e["status"] == CORRUPT for e in examples),
        "grayscale": sum(e["status"] == GRAYSCALE for e in examples),
        "shards_failed": [e["detail"] for e in examples if e["status"] == SHARD_FAILED],
    }


def training_loader(splits: Splits, cfg: TrainConfig, *, epoch: int, rank: int = 0, world_size: int = 1) -> DataLoader:
    """Batches of one epoch for this process: shuffled (seed, epoch), this process's share only."""
    ds = splits.train.shuffle(seed=cfg.seed, buffer_size=cfg.shuffle_buffer)
    if world_size > 1:
        ds = split_dataset_by_node(ds, rank=rank, world_size=world_size)
    ds.set_epoch(epoch)
    pairs = partial(to_training_pairs, cfg=cfg, epoch=epoch)
    ds = ds.map(pairs, batched=True, batch_size=8, remove_columns=list(STREAM_FEATURES))
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


def usable_photos(split: IterableDataset, limit: int | None = None) -> Iterator[Image.Image]:
    """A split's decodable color photos in stored order, at full resolution, up to `limit` (None or 0:
    all). Unreadable rows, black-and-white photos and failed shards (already logged) are skipped."""
    seen = 0
    for example in split:
        if limit and seen >= limit:
            return
        if example["image"] is None:
            continue
        try:
            image, _ = decode_photo(read_bytes(example["image"]))
        except OSError:
            continue
        if image is not None:
            seen += 1
            yield image


def training_photos(splits: Splits, limit: int = 2000, short_side: int = 64) -> list[Tensor]:
    """Up to `limit` training photos as small uint8 (3,h,w) tensors: enough for color statistics."""
    return [
        torch.from_numpy(np.asarray(resize_short_side(image, short_side)).transpose(2, 0, 1).copy())
        for image in usable_photos(splits.train, limit)
    ]


def color_histogram(photos: list[Tensor], stride: int = 4) -> Tensor:
    """How often each a*b* bin of `pix2pix_color.core.ab_bins` occurs in the photos, (Q,) counts.

    Every `stride`-th pixel in each direction is enough: neighbouring pixels share their color.
    """
    counts = torch.zeros(ab_bins.num_bins(), dtype=torch.float64)
    for photo in photos:
        ab = rgb_to_lab(photo[:, ::stride, ::stride].contiguous())[1:]
        counts += torch.bincount(ab_bins.nearest_bin(ab.movedim(0, -1).reshape(-1, 2)), minlength=len(counts))
    return counts


def validation_photos(splits: Splits, limit: int | None) -> Iterator[Image.Image]:
    """The validation split in its stored order, at full resolution; bad photos are skipped."""
    return usable_photos(splits.validation, limit)


def count_examples(ds: IterableDataset, cfg: TrainConfig | None = None) -> int:
    """Training pairs one epoch of a split gives, for turning --epochs into steps (one pass over the
    encoded rows): a row each, and with `cfg.large_photo_repeat` that many for a large photo, as
    `to_training_pairs` draws them and `PhotoCache.epoch_indices` counts them, so --epochs means
    the same streamed or cached. Only the header of a photo is read for its size."""
    repeat = cfg.large_photo_repeat if cfg is not None else 1
    total = 0
    for example in ds:
        if example["image"] is None:
            continue
        total += 1
        if repeat > 1:
            try:
                with Image.open(io.BytesIO(read_bytes(example["image"]))) as image:
                    total += (repeat - 1) * is_large(min(image.size), cfg)
            except (OSError, Image.DecompressionBombError):
                pass  # undecodable: skipped in training as well
    return total
