"""Resumable checkpoints that are models too (lerobot's layout), written atomically.

    checkpoints/
      00000400/
        pretrained_model/   config.json, model.safetensors, README.md: the generator that is validated
                            and exported (the EMA copy when --ema-decay is on). `Colorizer.from_pretrained`,
                            `pix2pix-color evaluate --model` and `python -m train.publish` take this folder.
        training_state/     state.safetensors: the rest of what a resume needs (D, both optimizers, the raw
                            generator G when it differs from the exported one, the EMA's count, every
                            process's RNG, counters, elapsed time); training_step.json: the data
                            position (step, epoch, batch in epoch) and the config, readable by a person.
      last -> 00000400     (a symlink to the newest complete checkpoint)

A checkpoint is written under a temporary name, every file flushed to disk, then renamed: a run
killed at any moment leaves the previous checkpoints intact and never a half-written one under a
checkpoint's name. Every file is safetensors or JSON, so resuming from a checkpoint of unknown origin
can never run code.

Why not Accelerate's `save_state` / `load_state` (with `ProjectConfiguration(total_limit=...)`),
which would be fewer lines: it pickles the optimizers and RNG states (`torch.load(weights_only=False)`
on resume), writes straight into its `checkpoint_N` folder (a kill mid-write leaves a partial folder
that the next `load_state` picks up), and writes no loadable model (config.json + card).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from pix2pix_color.models.hub import CONFIG_NAME, WEIGHTS_NAME
from pix2pix_color.models.networks import UNetGenerator

logger = logging.getLogger(__name__)

MODEL_DIR, STATE_DIR, LAST = "pretrained_model", "training_state", "last"
STATE_FILE, STEP_FILE = "state.safetensors", "training_step.json"
_NAME = re.compile(r"^\d{8}$")
_TENSOR, _DICT, _LIST = "__tensor__", "__dict__", "__list__"
# Plain values of the state, kept in training_step.json; everything else goes to state.safetensors.
POSITION_KEYS = ("step", "epoch", "batches_in_epoch", "elapsed", "counters", "config")


def checkpoint_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def _fsync(path: Path) -> None:
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


def save_checkpoint(
    state: dict,
    output_dir: str | Path,
    *,
    model: UNetGenerator,
    write_card: Callable[[Path], None] | None = None,
    keep: int = 2,
) -> Path:
    """Write checkpoint `state["step"]`: `model` as pretrained_model/ (with `write_card(folder)`'s card),
    the rest of `state` as training_state/; then point `last` at it and keep the newest `keep`."""
    folder = checkpoint_dir(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{state['step']:08d}"
    tmp = folder / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    # A copy in the contiguous layout: safetensors stores no channels_last tensors.
    copy.deepcopy(model).to(memory_format=torch.contiguous_format).save_pretrained(tmp / MODEL_DIR)
    if write_card is not None:
        write_card(tmp / MODEL_DIR)
    (tmp / STATE_DIR).mkdir()
    tensors: dict[str, torch.Tensor] = {}
    tree = _split({k: v for k, v in state.items() if k not in POSITION_KEYS}, "", tensors)
    save_file(tensors, tmp / STATE_DIR / STATE_FILE, metadata={"state": json.dumps(tree)})
    position = {k: state[k] for k in POSITION_KEYS if k in state}
    (tmp / STATE_DIR / STEP_FILE).write_text(json.dumps(position, indent=2))
    for path in [p for p in tmp.rglob("*") if p.is_file()] + [tmp / MODEL_DIR, tmp / STATE_DIR, tmp]:
        _fsync(path)
    if final.exists():  # the same step saved again (a resumed run's last checkpoint)
        shutil.rmtree(final)
    os.replace(tmp, final)
    link = folder / f".{LAST}.tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(final.name)
    os.replace(link, folder / LAST)
    _fsync(folder)
    for old in list_checkpoints(output_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders of interrupted writes are ignored)."""
    folder = checkpoint_dir(output_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name) and p.is_dir() and not p.is_symlink())


def load_checkpoint(path: Path) -> dict:
    """A checkpoint folder -> the state given to `save_checkpoint`, plus "G" (the raw generator's
    weights), "G_ema" (the EMA's state dict, when it was on), "decoding" (the model's temperature
    and chroma gain) and "path"."""
    model_weights = load_file(path / MODEL_DIR / WEIGHTS_NAME)
    model_config = json.loads((path / MODEL_DIR / CONFIG_NAME).read_text())  # readable, or this one is unusable
    tensors = load_file(path / STATE_DIR / STATE_FILE)
    with safe_open(path / STATE_DIR / STATE_FILE, framework="pt") as f:
        state = _join(json.loads(f.metadata()["state"]), tensors)
    state.update(json.loads((path / STATE_DIR / STEP_FILE).read_text()))
    if "ema_n_averaged" in state:  # the exported model is the EMA; the raw G is in the training state
        state["G_ema"] = {f"module.{k}": v for k, v in model_weights.items()}
        state["G_ema"]["n_averaged"] = state.pop("ema_n_averaged")
    else:
        state["G"] = model_weights
    # The decoding is config, not a weight: a run that took a published model's temperature
    # (--init-from) must resume with it, whatever the resuming command says.
    state["decoding"] = {k: model_config[k] for k in ("temperature", "chroma_gain") if k in model_config}
    state["path"] = str(path)
    return state


def load_latest_checkpoint(output_dir: str | Path) -> dict | None:
    """The newest checkpoint that loads; an unreadable one (disk trouble) is reported and skipped."""
    folder = checkpoint_dir(output_dir)
    for stale in folder.glob(".*.tmp"):  # left by a run killed while writing
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    for path in reversed(list_checkpoints(output_dir)):
        try:
            return load_checkpoint(path)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint: fall back to the previous one
            logger.warning("checkpoint %s cannot be read (%s); trying an older one", path.name, e)
    return None
