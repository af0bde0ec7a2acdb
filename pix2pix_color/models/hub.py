"""Loading weights from a Hub repo or a local folder: safetensors only, strictly, with clear errors.

`PyTorchModelHubMixin` does the config handling and the download; what it does not do is refuse:
its default load is non-strict (a mismatched checkpoint silently keeps random weights) and it falls
back to pickled `pytorch_model.bin`. These helpers replace that part, around safetensors' own
`load_model`.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

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
from safetensors import SafetensorError
from safetensors.torch import load_model
from torch import nn

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says which model and why, in one line."""


PROBE_TIMEOUT_S = 3.0


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the Hub endpoint (HF_ENDPOINT) accepts a connection, and offline mode is off.

    Asked before a download: without a network huggingface_hub retries each request with backoff
    (11 warnings over 25 s before one error); one refused or timed-out connection says the same."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlsplit(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def offline_kwargs(model_id: str, hub_kwargs: dict) -> dict:
    """`hub_kwargs` with local_files_only=True when `model_id` is a Hub id and the Hub cannot be
    reached: the local cache answers at once, and a model that is not in it fails at once."""
    if os.path.isdir(model_id) or hub_kwargs.get("local_files_only") or hub_reachable():
        return hub_kwargs
    return {**hub_kwargs, "local_files_only": True}


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
        from huggingface_hub import constants

        raise ModelLoadError(
            f"{model_id}: cannot download {filename}: {constants.ENDPOINT} cannot be reached (offline?) "
            "and the model is not in the local cache"
        ) from None
    except EntryNotFoundError:
        raise ModelLoadError(f"{model_id}: the repo has no {filename}") from None
    except OSError as e:  # HTTP errors and connection failures are OSErrors in huggingface_hub
        raise ModelLoadError(f"{model_id}: download of {filename} failed: {e}") from None


def load_safetensors_strict(model: nn.Module, path: Path, device: str | torch.device = "cpu") -> None:
    """Load `path` into `model` with safetensors' own `load_model`, refusing missing, unexpected,
    mis-shaped or non-finite tensors with one line saying which. Floating tensors are cast to the
    model's dtype on copy, so weights stored in float16 load into a float32 model."""
    try:
        missing, unexpected = load_model(model, str(path), strict=False, device=str(device))
    except SafetensorError as e:
        raise ModelLoadError(f"{path}: not a valid safetensors file ({e})") from None
    except RuntimeError as e:  # load_state_dict's size mismatch: "...copying a param with shape..."
        detail = next((line.strip() for line in str(e).splitlines() if "shape" in line), str(e).splitlines()[0])
        raise ModelLoadError(f"{path}: a tensor's shape does not match config.json ({detail})") from None
    if missing or unexpected:
        raise ModelLoadError(
            f"{path}: weights do not match the architecture in config.json "
            f"({len(missing)} missing, e.g. {sorted(missing)[:3]}; {len(unexpected)} unexpected, "
            f"e.g. {sorted(unexpected)[:3]})"
        )
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelLoadError(f"{path}: tensor {name} holds NaN or infinite values")
