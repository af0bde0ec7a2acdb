"""Resumable training checkpoints: one file holding everything, written atomically.

A checkpoint is `{"step", "epoch", "batches_in_epoch", "config", "G", "D", "opt_g", "opt_d", "rng",
"counters", "elapsed"}`, saved with unwrapped models (no `module.`/`_orig_mod.` prefixes). It is
written to a temporary file, flushed to disk and renamed, so a run killed at any moment leaves the
previous checkpoints intact and never a half-written one under a checkpoint's name. It is read back
with `torch.load(weights_only=True)`, which only rebuilds tensors and plain Python values.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^checkpoint-(\d{8})\.pt$")


def checkpoint_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(state: dict, output_dir: str | Path, *, keep: int = 2) -> Path:
    folder = checkpoint_dir(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"checkpoint-{state['step']:08d}.pt"
    tmp = folder / f".{final.name}.tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    _fsync_dir(folder)
    for old in list_checkpoints(output_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return final


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary files of interrupted writes are ignored)."""
    folder = checkpoint_dir(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def load_latest_checkpoint(output_dir: str | Path) -> dict | None:
    """The newest checkpoint that loads; an unreadable one (disk trouble) is reported and skipped."""
    for stale in checkpoint_dir(output_dir).glob(".checkpoint-*.tmp"):
        stale.unlink(missing_ok=True)  # left by a run killed while writing
    for path in reversed(list_checkpoints(output_dir)):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file: fall back to the previous one
            logger.warning("checkpoint %s cannot be read (%s); trying an older one", path.name, e)
            continue
        state["path"] = str(path)
        return state
    return None
