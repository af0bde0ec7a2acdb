"""Photo sets for evaluation and benchmarks: a folder of images or a `datasets` split, as a stream
of RGB photos. A photo that cannot be read is skipped with a note; a set that cannot be opened
raises `PhotoSetError` with a one-line reason."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from pix2pix_color.io.images import ImageError, find_images, open_image


class PhotoSetError(ValueError):
    """A photo set cannot be opened (no such dataset or split, no image column, `datasets` missing)."""


def photos_from_folder(folder: str | Path, limit: int | None = None) -> Iterator[Image.Image]:
    """The images under `folder` (recursively, in name order) as RGB, at most `limit`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PhotoSetError(f"{folder} is not a folder")
    count = 0
    for path in find_images([folder]):
        if limit is not None and count >= limit:
            return
        try:
            image = open_image(path).convert("RGB")
        except ImageError as e:
            tqdm.write(f"skipped {e}", file=sys.stderr)
            continue
        image.info["source"] = str(path.relative_to(folder))  # its name in evaluation reports
        yield image
        count += 1


def dataset_image_data(field: dict, source: str | os.PathLike) -> bytes | ImageError | None:
    """A dataset row's image as the colorizer may read it: its bytes, or a file of the dataset itself
    (an image-folder dataset stores paths into its own folder). A path anywhere else is never opened:
    a row of an untrusted dataset could otherwise have a private file colorized (and pushed to the
    Hub); that row gets an error instead. None: the row has no image."""
    if field.get("bytes"):
        return field["bytes"]
    path = field.get("path")
    if not path:
        return None
    folder = Path(source)
    try:
        inside = folder.is_dir() and Path(path).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        inside = False
    if inside and Path(path).is_file():
        return Path(path).read_bytes()
    return ImageError(f"{path}: the row has a path but no image bytes; only the dataset's own data is read")


def photos_from_dataset(dataset: str, split: str = "validation", limit: int | None = None) -> Iterator[Image.Image]:
    """A `datasets` split (Hub id or Hub-layout folder), streamed, as RGB photos, at most `limit`."""
    try:
        from datasets import Image as ImageFeature
        from datasets import load_dataset
    except ImportError:
        raise PhotoSetError("--dataset needs the `datasets` package (pip install datasets)") from None
    try:
        stream = load_dataset(dataset, split=split, streaming=True)
    except (FileNotFoundError, ValueError) as e:
        raise PhotoSetError(f"cannot open {dataset} [{split}]: {e}") from None
    column = next((k for k, f in (stream.features or {}).items() if isinstance(f, ImageFeature)), None)
    if column is None:
        raise PhotoSetError(f"{dataset} has no image column")
    count = 0
    # Decoded here rather than by `datasets`, so that one corrupt photo is skipped, not fatal.
    for example in stream.cast_column(column, ImageFeature(decode=False)):
        if limit is not None and count >= limit:
            return
        field = example[column] or {}
        data = dataset_image_data(field, dataset)
        try:
            if data is None or isinstance(data, ImageError):
                raise data or ImageError(f"{split}[{count}]: the row has no image")
            image = open_image(data)
        except ImageError as e:
            tqdm.write(f"skipped {e}", file=sys.stderr)
            continue
        image = image.convert("RGB")
        image.info["source"] = f"{split}[{count}]" if not field.get("path") else str(field["path"])
        yield image
        count += 1
