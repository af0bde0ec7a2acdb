"""Loading weights from a Hub repo or a local folder: safetensors only, strictly, with clear errors.

`PyTorchModelHubMixin` does the config handling and the download; what it does not do is refuse:
its default load is non-strict (a mismatched checkpoint silently keeps random weights) and it falls
back to pickled `pytorch_model.bin`. These helpers replace that part.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors import SafetensorError, safe_open
from torch import nn

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says which model and why, in one line."""


def resolve_file(model_id: str, filename: str, **download_kwargs) -> Path:
    """The local path of `filename` in a model folder or Hub repo (downloaded to the HF cache)."""
    if os.path.isdir(model_id):
        path = Path(model_id) / filename
        if not path.is_file():
            raise ModelLoadError(f"{model_id}: the folder has no {filename}")
        return path
    try:
        return Path(hf_hub_download(repo_id=model_id, filename=filename, **download_kwargs))
    except HFValidationError:
        raise ModelLoadError(f"{model_id!r} is neither a model folder nor a Hub repo id like 'org/name'") from None
    except RepositoryNotFoundError:
        raise ModelLoadError(f"{model_id}: no such model repo on the Hub (or it is private)") from None
    except RevisionNotFoundError:
        raise ModelLoadError(f"{model_id}: the requested revision does not exist") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise ModelLoadError(
            f"{model_id}: cannot download {filename} (offline, or the Hub is unreachable) and it is "
            "not in the local cache"
        ) from None
    except EntryNotFoundError:
        raise ModelLoadError(f"{model_id}: the repo has no {filename}") from None
    except OSError as e:  # HTTP errors and connection failures are OSErrors in huggingface_hub
        raise ModelLoadError(f"{model_id}: download of {filename} failed: {e}") from None


def load_safetensors_strict(model: nn.Module, path: Path, device: str | torch.device = "cpu") -> None:
    """Load `path` into `model`, refusing missing, unexpected or mis-shaped tensors.

    Tensor shapes are checked from the file header before any tensor is read, so a hostile file
    cannot make us allocate more than the model itself. Floating tensors are cast to the model's
    dtype, so weights stored in float16 load into a float32 model.
    """
    expected = model.state_dict()
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            keys = set(f.keys())
            missing = sorted(set(expected) - keys)
            unexpected = sorted(keys - set(expected))
            if missing or unexpected:
                raise ModelLoadError(
                    f"{path}: weights do not match the architecture in config.json "
                    f"({len(missing)} missing, e.g. {missing[:3]}; {len(unexpected)} unexpected, "
                    f"e.g. {unexpected[:3]})"
                )
            state = {}
            for key, target in expected.items():
                shape = tuple(f.get_slice(key).get_shape())
                if shape != tuple(target.shape):
                    raise ModelLoadError(
                        f"{path}: tensor {key} has shape {shape}, the architecture expects {tuple(target.shape)}"
                    )
                tensor = f.get_tensor(key)
                if tensor.is_floating_point() != target.is_floating_point():
                    raise ModelLoadError(f"{path}: tensor {key} has dtype {tensor.dtype}, expected {target.dtype}")
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    raise ModelLoadError(f"{path}: tensor {key} holds NaN or infinite values")
                state[key] = tensor.to(target.dtype)
    except SafetensorError as e:
        raise ModelLoadError(f"{path}: not a valid safetensors file ({e})") from None
    model.load_state_dict(state, strict=True)
