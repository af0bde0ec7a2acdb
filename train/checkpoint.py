"""Resumable training checkpoints: one file holding everything, written atomically.

A checkpoint is `{"step", "epoch", "batches_in_epoch", "config", "G", "D", "opt_g", "opt_d", "rng",
"counters", "elapsed"}`, saved with unwrapped models (no `module.`/`_orig_mod.` prefixes). It is
written to a temporary file, flushed to disk and renamed, so a run killed at any moment leaves the
previous checkpoints intact and never a half-written one under a checkpoint's name.

The file is a safetensors file: every tensor of the nested state is stored under its path
("opt_g/state/3/exp_avg"), everything else as JSON in the header. Loading it can never run code,
unlike a pickle (`torch.save`), so a checkpoint from anywhere is safe to resume from.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^checkpoint-(\d{8})\.safetensors$")
_TENSOR, _DICT, _LIST = "__tensor__", "__dict__", "__list__"


def checkpoint_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _split(value, path: str, tensors: dict[str, torch.Tensor]):
    """Nested state -> JSON-able tree, with each tensor moved to `tensors` and replaced by its path."""
    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().cpu().contiguous()
        return {_TENSOR: path}
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) for k in value):
            raise TypeError(f"checkpoint keys must be str or int at {path}")
        return {_DICT: [[k, _split(v, f"{path}/{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {
            _LIST: [_split(v, f"{path}/{i}", tensors) for i, v in enumerate(value)],
            "tuple": isinstance(value, tuple),
        }
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} at {path} in a checkpoint")


def _join(tree, tensors: dict[str, torch.Tensor]):
    if isinstance(tree, dict) and _TENSOR in tree:
        return tensors[tree[_TENSOR]]
    if isinstance(tree, dict) and _DICT in tree:
        return {k: _join(v, tensors) for k, v in tree[_DICT]}
    if isinstance(tree, dict) and _LIST in tree:
        items = [_join(v, tensors) for v in tree[_LIST]]
        return tuple(items) if tree["tuple"] else items
    return tree


def save_checkpoint(state: dict, output_dir: str | Path, *, keep: int = 2) -> Path:
    folder = checkpoint_dir(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"checkpoint-{state['step']:08d}.safetensors"
    tmp = folder / f".{final.name}.tmp"
    tensors: dict[str, torch.Tensor] = {}
    tree = _split(state, "", tensors)
    save_file(tensors, tmp, metadata={"state": json.dumps(tree)})
    with open(tmp, "rb+") as f:
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
            tensors = load_file(path)
            with safe_open(path, framework="pt") as f:
                state = _join(json.loads(f.metadata()["state"]), tensors)
        except Exception as e:  # noqa: BLE001 - any unreadable file: fall back to the previous one
            logger.warning("checkpoint %s cannot be read (%s); trying an older one", path.name, e)
            continue
        state["path"] = str(path)
        return state
    return None
