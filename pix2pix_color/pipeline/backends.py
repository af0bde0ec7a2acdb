"""Where the generator runs: PyTorch, or ONNX Runtime on the model's exported graph (`onnx_export`).

A backend maps L (B,1,h,w) in [-1,1] [+ hints (B,3,h,w)] to a*b* (B,2,h,w) in [-1,1], as
`UNetGenerator.predict_ab` does; `Colorizer` does everything around it the same way for both.
ONNX Runtime is optional (`pip install onnxruntime`, in the `onnx` and `app` extras).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pix2pix_color.core.image_processor import working_shape
from pix2pix_color.models.hub import ModelLoadError, resolve_file
from pix2pix_color.models.networks import HINT_CHANNELS, UNetGenerator
from pix2pix_color.pipeline.onnx_export import ONNX_DIR, ONNX_FILES
from pix2pix_color.pipeline.variations import SECTORS

logger = logging.getLogger(__name__)
BACKENDS = ("auto", "torch", "onnxruntime")


class OnnxRuntimeBackend:
    """One ONNX Runtime session on the CPU, set up to share the machine.

    Its threads are as many as torch's, and they do not spin-wait between runs (onnxruntime issue
    13808: by default idle ORT threads keep every core busy for a while after each run, starving
    PyTorch, the video decoder and the app's other requests).
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, *, takes_hints: bool, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelLoadError("backend='onnxruntime' needs ONNX Runtime: pip install onnxruntime") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT raises its own classes for a broken or foreign file
            raise ModelLoadError(f"{path}: ONNX Runtime cannot load it ({str(e).splitlines()[0]})") from None
        self.path = str(path)
        self.takes_hints = takes_hints
        names = [i.name for i in self.session.get_inputs()]
        expected = ["L", "hints"] if takes_hints else ["L"]
        # A classification head's graph also takes the variations' sector_boost (graphs exported
        # before it came do not: they make the plain coloring only).
        self.varies = names == [*expected, "sector_boost"]
        if names != expected and not self.varies:
            raise ModelLoadError(f"{path}: inputs {names} do not match the model's config.json")

    def predict_ab(self, L: Tensor, hints: Tensor | None = None, *, sector_boost: Tensor | None = None) -> Tensor:
        """L (B,1,h,w) [+ hints] -> a*b* (B,2,h,w) in model scale; `sector_boost` (8,): a variation
        (`variations.sector_boost`), for a graph that `varies`."""
        feed = {"L": np.ascontiguousarray(L.detach().float().cpu().numpy())}
        if self.takes_hints:
            if hints is None:
                hints = L.new_zeros(L.shape[0], HINT_CHANNELS, *L.shape[-2:])
            feed["hints"] = np.ascontiguousarray(hints.detach().float().cpu().numpy())
        if self.varies:
            boost = torch.zeros(SECTORS) if sector_boost is None else sector_boost
            feed["sector_boost"] = np.ascontiguousarray(boost.float().numpy())
        elif sector_boost is not None:
            raise ValueError(f"{self.path} was exported before variations: it makes the plain coloring only")
        return torch.from_numpy(self.session.run(["ab"], feed)[0])


def onnx_file(model: str, **hub_kwargs) -> Path | None:
    """The model's ONNX graph (onnx/model.onnx, else onnx/model_fp16.onnx), or None if it has none."""
    for name in ONNX_FILES:
        try:
            return resolve_file(model, f"{ONNX_DIR}/{name}", **hub_kwargs)
        except ModelLoadError:
            continue
    return None


# "auto" takes ONNX Runtime only when it is clearly faster: the best of AUTO_REPEATS timed runs each,
# and at least AUTO_MARGIN faster. One timing each made the choice flip between two starts of the
# same app on the same machine; where the two are within the margin, PyTorch (one runtime fewer).
AUTO_REPEATS = 3
AUTO_MARGIN = 0.10
BACKEND_ENV = "PIX2PIX_COLOR_BACKEND"  # "torch" or "onnxruntime": what "auto" takes, without timing


def choose_backend(
    choice: str, model: str, generator: UNetGenerator, device: torch.device, working_size: int, **hub_kwargs
) -> OnnxRuntimeBackend | None:
    """None for PyTorch, or an ONNX Runtime backend. "auto": ONNX Runtime when the device is the CPU,
    onnxruntime is installed, the model ships its graph, and timed runs at the working size are
    faster there than in PyTorch by AUTO_MARGIN (the winner depends on the CPU); the environment
    variable PIX2PIX_COLOR_BACKEND fixes what "auto" takes."""
    if choice not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {choice!r}")
    fixed = os.environ.get(BACKEND_ENV, "").strip().lower()
    if choice == "auto" and fixed:
        if fixed not in BACKENDS[1:]:
            raise ValueError(f"{BACKEND_ENV} must be torch or onnxruntime, got {fixed!r}")
        logger.info("backend %s (%s)", fixed, BACKEND_ENV)
        choice = fixed
    if choice == "torch":
        return None
    if device.type != "cpu":
        if choice == "onnxruntime":
            raise ModelLoadError("backend='onnxruntime' runs on the CPU; use device='cpu' or backend='torch'")
        return None
    if choice == "auto":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return None
    path = onnx_file(model, **hub_kwargs)
    if path is None:
        if choice == "onnxruntime":
            raise ModelLoadError(
                f"{model}: the model has no {ONNX_DIR}/{ONNX_FILES[0]} (export one from a checkout of the "
                "repository: python -m train.export MODEL_DIR --onnx)"
            )
        return None
    backend = OnnxRuntimeBackend(path, takes_hints=generator.hints)
    if choice == "auto":
        L = torch.zeros(1, 1, *working_shape(working_size, working_size, working_size, generator.multiple))
        seconds = {}
        for name, run in (("torch", generator.predict_ab), ("onnxruntime", backend.predict_ab)):
            with torch.inference_mode():
                run(L)  # warm-up: first runs allocate
                times = []
                for _ in range(AUTO_REPEATS):
                    start = time.perf_counter()
                    run(L)
                    times.append(time.perf_counter() - start)
                seconds[name] = min(times)
        faster = seconds["onnxruntime"] <= (1 - AUTO_MARGIN) * seconds["torch"]
        logger.info(
            "backend auto: %s (best of %d at %d px: torch %.0f ms, onnxruntime %.0f ms; %s=torch|onnxruntime fixes it)",
            "onnxruntime" if faster else "torch",
            AUTO_REPEATS,
            working_size,
            1e3 * seconds["torch"],
            1e3 * seconds["onnxruntime"],
            BACKEND_ENV,
        )
        if not faster:
            return None
    return backend
