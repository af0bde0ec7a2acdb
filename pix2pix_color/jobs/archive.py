"""Colorizing a whole archive: a `datasets` dataset or a folder tree, on one process or many.

The input is cut into *shards* of consecutive rows (at most `rows_per_shard`, within one input
file), numbered the same way by every process, and each process takes its own: by input file when
there are at least as many files as processes (so that no process reads another's data), else every
n-th shard. A shard is written under a temporary name and renamed, then its completion record is
written; a rerun skips every shard that has a record. So a killed worker or a killed job resumes
where it stopped, and every input row ends up in exactly one output shard. A row that cannot be
colorized (no image, a corrupt file) is written with its reason and never stops the shard.

The processes are what `accelerate launch` (or torchrun) starts: `accelerate.PartialState` says
which one this is and how many there are, on one machine or several. Why by hand, and not Ray Data:
the split above is ten lines, Accelerate is already what training uses, and a Ray cluster is a
second distributed system to install and run for the same job (see the README's section).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from pix2pix_color._version import __version__ as VERSION
from pix2pix_color.io.images import IMAGE_SUFFIXES, ImageError, find_images, save_png
from pix2pix_color.io.photo_sets import dataset_image_data
from pix2pix_color.pipeline.engine import Engine

logger = logging.getLogger(__name__)

DATA_DIR = "data"
RECORDS_DIR = "_progress"  # one completion record per shard (JSON); not part of the dataset's files
LAYOUTS = ("parquet", "folder")


class ArchiveError(ValueError):
    """An input that cannot be opened (no such dataset or split, no image column), with the reason."""


@dataclass(frozen=True)
class ArchiveSettings:
    """What every output row was made with (written into each row and the card)."""

    model: str
    working_size: int | None = None
    color_strength: float = 1.0
    backend: str = "torch"
    rows_per_shard: int = 256


@dataclass
class _Row:
    source: str  # the row's id: the file's path in the folder, or "<input file>[<row>]"
    data: bytes | str | ImageError | None  # image bytes, a photo's path, why it cannot be read, or None: no image
    output: str  # where the folder layout writes it, relative to the output folder


@dataclass(frozen=True)
class _Shard:
    name: str  # "00003-00001": input file 3, its second block of rows
    rows: list[_Row]


def _owned(file_index: int, global_index: int, n_files: int, rank: int, world: int) -> bool:
    if n_files >= world:
        return file_index % world == rank
    return global_index % world == rank


def _mirrored_names(relative: list[Path]) -> list[str]:
    """Each input's place in the mirrored tree: its path with .png for a suffix, or with .png added to
    its whole name when another input of that folder has the same stem (barn.jpg and barn.tif ->
    barn.jpg.png, barn.tif.png): the same on every process, and never two inputs in one file, also
    on the case-insensitive file systems of macOS and Windows (Barn.jpg and barn.jpg ->
    Barn.jpg.png, barn.jpg-2.png; A/x.jpg and a/x.jpg -> A/x.jpg.png, a/x.jpg-2.png)."""
    plain = [p.with_suffix(".png") for p in relative]
    counts: dict[str, int] = {}
    for q in plain:
        counts[q.as_posix().lower()] = counts.get(q.as_posix().lower(), 0) + 1
    names = [q if counts[q.as_posix().lower()] == 1 else p.with_name(p.name + ".png") for p, q in zip(relative, plain)]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        key = name.as_posix().lower()
        seen[key] = seen.get(key, 0) + 1
        out.append(name.as_posix() if seen[key] == 1 else f"{name.with_suffix('').as_posix()}-{seen[key]}.png")
    return out


def _folder_shards(folder: Path, rows_per_shard: int, rank: int, world: int) -> Iterator[_Shard]:
    paths = list(find_images([folder]))
    relative = [p.relative_to(folder) for p in paths]
    names = _mirrored_names(relative)
    for k, start in enumerate(range(0, len(paths), rows_per_shard)):
        if k % world == rank:
            rows = [
                _Row(relative[i].as_posix(), str(paths[i]), names[i])
                for i in range(start, min(start + rows_per_shard, len(paths)))
            ]
            yield _Shard(f"00000-{k:05d}", rows)


def _dataset_shards(
    source: str, split: str, image_column: str | None, rows_per_shard: int, rank: int, world: int
) -> Iterator[_Shard]:
    from datasets import Image as ImageFeature
    from datasets import load_dataset

    try:
        stream = load_dataset(source, split=split, streaming=True)
    except (FileNotFoundError, ValueError) as e:
        raise ArchiveError(f"cannot open {source} [{split}]: {e}") from None
    features = stream.features or {}
    column = image_column or next((k for k, f in features.items() if isinstance(f, ImageFeature)), None)
    if column is None or column not in features:
        raise ArchiveError(f"{source} [{split}] has no image column" + (f" {column!r}" if column else ""))
    # Undecoded: the bytes go to the engine, which reports a corrupt one as that row's error.
    stream = stream.cast_column(column, ImageFeature(decode=False))
    n_files = stream.num_shards
    global_index = 0
    for f in range(n_files):
        if n_files >= world and f % world != rank:
            continue  # another process's file: never read here
        part = stream.shard(num_shards=n_files, index=f, contiguous=True)
        rows: list[_Row] = []
        k = 0
        for i, example in enumerate(part):
            field = example.get(column) or {}
            data = dataset_image_data(field, source)
            source_id = str(field.get("path") or f"{split}-{f:05d}[{i}]")
            # Row numbers make the names unique whatever the dataset's paths are; the stem keeps them readable.
            stem = Path(str(field.get("path") or "")).stem
            rows.append(_Row(source_id, data, f"{split}/{f:05d}/{i:06d}" + (f"-{stem}" if stem else "") + ".png"))
            if len(rows) == rows_per_shard:
                if _owned(f, global_index, n_files, rank, world):
                    yield _Shard(f"{f:05d}-{k:05d}", rows)
                rows, k, global_index = [], k + 1, global_index + 1
        if rows:
            if _owned(f, global_index, n_files, rank, world):
                yield _Shard(f"{f:05d}-{k:05d}", rows)
            global_index += 1


def _png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    save_png(image, buffer)
    return buffer.getvalue()


def _colorized(engine: Engine, shard: _Shard, settings: ArchiveSettings, batch_size: int) -> list:
    """One result per row of the shard: the colorized image, or the exception that says why not."""
    present = [row for row in shard.rows if isinstance(row.data, (bytes, str))]
    results = iter(
        engine.colorize_iter(
            [row.data for row in present],
            working_size=settings.working_size,
            color_strength=settings.color_strength,
            batch_size=batch_size,
        )
    )
    return [
        next(results) if isinstance(row.data, (bytes, str))
        else row.data if isinstance(row.data, Exception)
        else ImageError(f"{row.source}: the row has no image")
        for row in shard.rows
    ]  # fmt: skip


def _write_parquet(shard: _Shard, results: list, settings: ArchiveSettings, out: Path) -> None:
    """data/shard-<name>.parquet, under a temporary name, then renamed."""
    from datasets import Dataset, Features, Value
    from datasets import Image as ImageFeature

    images, errors = [], []
    for row, result in zip(shard.rows, results):
        if isinstance(result, Exception):
            images.append(None)
            errors.append(str(result))
        else:
            images.append({"bytes": _png_bytes(result), "path": Path(row.source).with_suffix(".png").name})
            errors.append(None)
    n = len(shard.rows)
    features = Features(
        {
            "image": ImageFeature(),
            "source": Value("string"),
            "error": Value("string"),
            "model": Value("string"),
            "version": Value("string"),
            "settings": Value("string"),
        }
    )
    table = Dataset.from_dict(
        {
            "image": images,
            "source": [row.source for row in shard.rows],
            "error": errors,
            "model": [settings.model] * n,
            "version": [VERSION] * n,
            "settings": [json.dumps(asdict(settings), sort_keys=True)] * n,
        },
        features=features,
    )
    target = out / DATA_DIR / f"shard-{shard.name}.parquet"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    table.to_parquet(str(tmp))
    os.replace(tmp, target)


def _write_files(shard: _Shard, results: list, out: Path) -> None:
    """Each colorized row as a PNG at its place in the mirrored tree (each written under a temporary
    name and renamed: a shard that a kill interrupted is redone over the same names)."""
    for row, result in zip(shard.rows, results):
        if not isinstance(result, Exception):
            target = out / row.output
            target.parent.mkdir(parents=True, exist_ok=True)
            save_png(result, target)


def _write_shard(engine: Engine, shard: _Shard, settings: ArchiveSettings, out: Path, batch_size: int, layout: str):
    """Colorize one shard's rows, write them in the layout, then the shard's completion record."""
    started = time.perf_counter()
    results = _colorized(engine, shard, settings, batch_size)
    if layout == "folder":
        _write_files(shard, results, out)
    else:
        _write_parquet(shard, results, settings, out)
    seconds = time.perf_counter() - started
    errors = [str(r) if isinstance(r, Exception) else None for r in results]
    record = {
        "shard": shard.name,
        "rows": len(shard.rows),
        "failed": sum(e is not None for e in errors),
        "seconds": round(seconds, 3),
    }
    if layout == "folder":  # the Parquet layout keeps these in its rows; a folder of PNGs needs an index
        record["files"] = [
            {"source": row.source, "output": None if e else row.output, "error": e}
            for row, e in zip(shard.rows, errors)
        ]
    record_path = out / RECORDS_DIR / f"{shard.name}.json"
    record_tmp = record_path.with_name(f".{record_path.name}.tmp")
    record_tmp.write_text(json.dumps(record))
    os.replace(record_tmp, record_path)
    return record


def _shards(source, split: str, image_column: str | None, rows_per_shard: int, rank: int, world: int):
    """This process's shards of a folder tree of photos or of a dataset (Hub id or Hub-layout folder)."""
    folder = Path(source)
    if folder.is_dir() and not _looks_like_dataset(folder):
        return _folder_shards(folder, rows_per_shard, rank, world)
    return _dataset_shards(str(source), split, image_column, rows_per_shard, rank, world)


def colorize_archive(
    engine: Engine,
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    settings: ArchiveSettings,
    split: str = "train",
    image_column: str | None = None,
    batch_size: int = 8,
    process_index: int = 0,
    num_processes: int = 1,
    progress: bool = True,
    layout: str = "parquet",
) -> dict:
    """Colorize every image of `source` (a `datasets` Hub id or Hub-layout folder, streamed; or a
    folder tree of image files) into `output`, a Hub-layout dataset: `data/shard-*.parquet` with the
    colorized image (PNG), the source row's id, the error (None, or why the row was not colorized),
    the model, the library's version and the settings; a card (README.md) once every shard is done.

    `layout="folder"` writes a mirrored folder tree instead: each photo of a folder tree as a PNG at
    its own relative path (`a/barn.jpg` -> `a/barn.png`), each dataset row as
    `<split>/<input file>/<row>-<name>.png`, and (from `write_card`) `index.csv` with every input's
    output file or error; the PNGs carry the model and version in their text chunks.

    This process does its share (`process_index` of `num_processes`) and skips shards already
    recorded as done. Returns this process's counts: shards written and skipped, rows, failed rows,
    photos per second.
    """
    import datasets

    datasets.disable_progress_bars()  # one bar per Parquet file written; ours counts photos instead
    if layout not in LAYOUTS:
        raise ArchiveError(f"unknown output layout {layout!r}: {' or '.join(LAYOUTS)}")
    out = Path(output)
    if layout == "parquet":
        (out / DATA_DIR).mkdir(parents=True, exist_ok=True)
    (out / RECORDS_DIR).mkdir(parents=True, exist_ok=True)
    shards = _shards(source, split, image_column, settings.rows_per_shard, process_index, num_processes)
    manifest = job_manifest(source, settings, split=split, image_column=image_column, layout=layout)
    check_or_write_manifest(out, manifest)
    done = {p.stem for p in (out / RECORDS_DIR).glob("*.json") if p.name != MANIFEST}
    counts = {"written": 0, "skipped": 0, "rows": 0, "failed": 0, "seconds": 0.0}
    with tqdm(desc=f"colorize archive (process {process_index})", unit="photo", disable=not progress) as bar:
        for shard in shards:
            if shard.name in done:
                counts["skipped"] += 1
                continue
            record = _write_shard(engine, shard, settings, out, batch_size, layout)
            _count(counts, shard, record)
            bar.update(record["rows"])
    counts["photos_per_second"] = counts["rows"] / counts["seconds"] if counts["seconds"] else 0.0
    return counts


def _count(counts: dict, shard: _Shard, record: dict) -> None:
    """A written shard's record added to the job's counts, and logged."""
    counts["written"] += 1
    for key in ("rows", "failed", "seconds"):
        counts[key] += record[key]
    rate = record["rows"] / max(record["seconds"], 1e-9)
    logger.info(
        "shard %s: %d photos (%d failed) in %.1f s, %.2f photos/s",
        shard.name, record["rows"], record["failed"], record["seconds"], rate,
    )  # fmt: skip


MANIFEST = "job.json"  # in RECORDS_DIR: what the job is, so that a rerun continues only the same job


def job_manifest(source, settings: ArchiveSettings, *, split: str, image_column: str | None, layout: str) -> dict:
    """What decides every output row: the inputs (a fingerprint of their listing: each file's path and
    size, as `datasets` fingerprints a cache), the model, every setting, the layout. Shards are named
    by position, so a rerun may only continue a job whose manifest is the same."""
    import hashlib

    folder = Path(source)
    listing: list[str] = []
    if folder.is_dir():
        if _looks_like_dataset(folder):
            files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            files = list(find_images([folder]))
        listing = [f"{p.relative_to(folder).as_posix()}\t{p.stat().st_size}" for p in files]
    return {
        "source": str(source),
        "inputs": {"files": len(listing), "sha256": hashlib.sha256("\n".join(listing).encode()).hexdigest()}
        if folder.is_dir() else {"hub_id": str(source)},
        "split": split,
        "image_column": image_column,
        "layout": layout,
        "settings": asdict(settings),
        "version": VERSION,
    }  # fmt: skip


def check_or_write_manifest(out: Path, manifest: dict) -> None:
    """A new job writes its manifest; a rerun must match it, or is refused in one line that says what
    changed and how to start afresh (never rows lost or made twice)."""
    path = out / RECORDS_DIR / MANIFEST
    if path.is_file():
        before = json.loads(path.read_text())
        changed = _changes(before, manifest)
        if changed:
            raise ArchiveError(
                f"{out} holds another job ({'; '.join(changed)}): to start afresh, give a new -o folder or "
                f"delete {out}; to continue it, run it with the same inputs and settings"
            )
        return
    if any(p.name != MANIFEST for p in (out / RECORDS_DIR).glob("*.json")):
        raise ArchiveError(
            f"{out} holds shards of a job with no {MANIFEST} (an older version): start afresh in a new -o folder"
        )
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _changes(before: dict, now: dict) -> list[str]:
    changed = []
    if before.get("inputs") != now["inputs"]:
        was, is_ = before.get("inputs", {}), now["inputs"]
        if "files" in was and "files" in is_:
            counted = f"{is_['files']} files, was {was['files']}" if was["files"] != is_["files"] else "files changed"
            changed.append(f"the inputs changed: {counted}")
        else:
            changed.append("the inputs changed")
    for key in ("source", "split", "image_column", "layout"):
        if before.get(key) != now[key]:
            changed.append(f"{key} {before.get(key)!r}, now {now[key]!r}")
    for key, value in now["settings"].items():
        if before.get("settings", {}).get(key) != value:
            changed.append(f"{key.replace('_', '-')} {before.get('settings', {}).get(key)!r}, now {value!r}")
    return changed


def _looks_like_dataset(folder: Path) -> bool:
    """A Hub-layout dataset folder, not a folder of photos: Parquet or Arrow files, or CSV/JSON files
    with no photos beside them (a photo folder with a notes.csv or an album.json is still photos)."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    if any(p.suffix in (".parquet", ".arrow") for p in files):
        return True
    tables = any(p.suffix in (".csv", ".json", ".jsonl") for p in files)
    return tables and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in files)


def write_card(output: str | os.PathLike, source: str, settings: ArchiveSettings, layout: str = "parquet") -> dict:
    """The output's README.md (for Parquet: a dataset card with its files as the default config; for
    a folder: `index.csv` besides), from the completion records; returns the totals. Run once, after
    every process has finished."""
    out = Path(output)
    for stale in out.rglob(".*.tmp"):
        stale.unlink(missing_ok=True)  # writes a kill interrupted; their shards were redone under their names
    records = [json.loads(p.read_text()) for p in sorted((out / RECORDS_DIR).glob("*.json")) if p.name != MANIFEST]
    totals = {
        "shards": len(records),
        "rows": sum(r["rows"] for r in records),
        "failed": sum(r["failed"] for r in records),
    }
    if layout == "folder":
        _write_index(out, source, settings, records, totals)
        return totals
    settings_text = "\n".join(f"- {k}: {v}" for k, v in asdict(settings).items())
    (out / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
        f"    path: {DATA_DIR}/shard-*.parquet\ntags:\n- colorization\n- pix2pix-color\n---\n"
        f"# {source}, colorized\n\nColorized by pix2pix-color {VERSION} (`pix2pix-color colorize-dataset`) from "
        f"`{source}`: {totals['rows']:,} rows in {totals['shards']} shards, {totals['failed']:,} not colorized "
        "(their `error` column says why).\n\nThe colors are a model's guesses, not a record of the real colors.\n\n"
        f"Settings:\n{settings_text}\n\nEach row: `image` (PNG, the input's size), `source` (the input row's path or "
        "index), `error`, `model`, `version`, `settings` (JSON). The source's own terms apply to these images.\n"
    )
    return totals


def _write_index(out: Path, source: str, settings: ArchiveSettings, records: list[dict], totals: dict) -> None:
    import csv

    files = sorted((f for r in records for f in r["files"]), key=lambda f: f["source"])
    tmp = out / ".index.csv.tmp"
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["source", "output", "error"])
        writer.writeheader()
        writer.writerows(files)
    os.replace(tmp, out / "index.csv")
    settings_text = "\n".join(f"- {k}: {v}" for k, v in asdict(settings).items())
    (out / "README.md").write_text(
        f"# {source}, colorized\n\nColorized by pix2pix-color {VERSION} (`pix2pix-color colorize-dataset "
        f"--layout folder`) from `{source}`: {totals['rows']:,} inputs, {totals['failed']:,} not colorized. "
        "`index.csv` names each input's output file, or why there is none. Each PNG's text chunks name the "
        "program and the model.\n\nThe colors are a model's guesses, not a record of the real colors.\n\n"
        f"Settings:\n{settings_text}\n\nThe source's own terms apply to these images.\n"
    )


__all__ = ["ArchiveError", "ArchiveSettings", "colorize_archive", "write_card"]
