"""The generator as one ONNX graph with its decoding inside: what runs outside PyTorch.

    L (B,1,H,W) in [-1,1]  [+ hints (B,3,H,W): a*, b* in [-1,1] and a 0/1 mask]  ->  ab (B,2,H,W) in [-1,1]
    (a classification head's also: + sector_boost (8,)  ->  + sector_scores (B,8), for variations)

exactly `UNetGenerator.predict_ab`: for a classification head the annealed mean at the calibrated
temperature is part of the graph, so ONNX Runtime in Python, onnxruntime-web in a browser, or any
other runtime gets the same a*b* without re-implementing it. What stays outside: the calibrated
`chroma_gain` times the user's color strength (a plain factor), the hint propagation along edges,
and the full-resolution finish (guided upsampling and L*a*b* -> RGB), as in `Colorizer`.

Batch, height and width are dynamic (height and width multiples of `2**depth`, up to 1024). The
files follow the Hub layout for ONNX: `onnx/model.onnx` (float32) and `onnx/model_fp16.onnx`
(the weights float16 holds exactly, such as a float16 model's own, stored in float16 and cast to
float32 when the session loads them; the rest, such as convolutions with their BatchNorm folded in,
in float32: the very same numbers as PyTorch's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pix2pix_color.core import ab_bins
from pix2pix_color.core.color import normalize_ab
from pix2pix_color.limits import WORKING_SIZE_RANGE
from pix2pix_color.models.networks import HINT_CHANNELS, UNetGenerator
from pix2pix_color.pipeline import variations

ONNX_DIR = "onnx"
ONNX_FILES = ("model.onnx", "model_fp16.onnx")  # preferred first
OPSET = 20
MAX_SIDE = WORKING_SIZE_RANGE[1]  # the largest working grid any front end may ask for


class DecodingGraph(nn.Module):
    """`UNetGenerator.predict_ab` for export: the generator and its decoding (`UNetGenerator.decode`,
    at the model's temperature, with the kernel ONNX Runtime runs fastest: 1.7x torch's speed on the
    whole graph), so any runtime gets the same a*b* without re-implementing it.

    A classification head's graph also makes variations (`pipeline.variations`): its input
    `sector_boost` (8,) adds to each hue sector's annealed logits (zeros: the plain coloring; `BOOST`
    on one sector: that variation, as `decode_with_sector`), and its second output `sector_scores`
    (B,8) is `variations.sector_scores` of the coloring it made (read on the plain one: which
    variations have the most to offer)."""

    def __init__(self, generator: UNetGenerator):
        super().__init__()
        self.generator = generator
        self.classifies = generator.head == "classification"
        if self.classifies:
            self.register_buffer("sectors", variations.sector_matrix(torch.device("cpu")), persistent=False)

    def forward(self, L: Tensor, hints: Tensor | None = None, sector_boost: Tensor | None = None):
        logits = self.generator(L, hints)
        if not self.classifies:
            return self.generator.decode(logits, L.shape[-2:], exp_weighted=True)
        # exp(boost) on the favoured bins' probabilities is the boost added to their annealed logits.
        scale = (self.sectors @ sector_boost).exp()
        shown = ab_bins.annealed_mean(logits, self.generator.temperature, exp_weighted=True, bin_scale=scale)
        ab = F.interpolate(normalize_ab(shown), size=tuple(L.shape[-2:]), mode="bilinear", align_corners=False)
        return ab, variations.sector_scores(logits, shown, self.sectors)


class _NoHintsGraph(DecodingGraph):
    """A classification model without hint inputs: `sector_boost` is its graph's second input (the
    exporter names inputs after the forward's arguments)."""

    def forward(self, L: Tensor, sector_boost: Tensor):
        return super().forward(L, None, sector_boost)


def export_onnx(generator: UNetGenerator, model_dir: str | Path, *, fp16: bool = False) -> Path:
    """Write `model_dir/onnx/model.onnx` (or `model_fp16.onnx`, removing the other); returns its path.
    One file: no external data (the generators here are far below ONNX's 2 GB limit)."""
    target = Path(model_dir) / ONNX_DIR / ONNX_FILES[1 if fp16 else 0]
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = _float32_copy(generator)  # a float32 copy: the caller's model stays as it is
    no_hints = copy.head == "classification" and not copy.hints
    graph = (_NoHintsGraph if no_hints else DecodingGraph)(copy).eval()
    multiple = generator.multiple
    # An example of side 2 x multiple: torch.export fixes any dimension whose example is 1.
    L = torch.zeros(2, 1, 2 * multiple, 2 * multiple)
    batch = torch.export.Dim("batch", max=64)
    height = torch.export.Dim("height", max=MAX_SIDE // multiple)
    width = torch.export.Dim("width", max=MAX_SIDE // multiple)
    shapes = {"L": {0: batch, 2: multiple * height, 3: multiple * width}}
    inputs, names = (L,), ["L"]
    if generator.hints:
        inputs, names = (L, torch.zeros(2, HINT_CHANNELS, *L.shape[-2:])), ["L", "hints"]
        shapes["hints"] = shapes["L"]
    outputs = ["ab"]
    if graph.classifies:
        inputs, names = (*inputs, torch.zeros(variations.SECTORS)), [*names, "sector_boost"]
        shapes["sector_boost"] = None
        outputs = ["ab", "sector_scores"]
    with torch.no_grad():
        program = torch.onnx.export(
            graph,
            inputs,
            input_names=names,
            output_names=outputs,
            dynamic_shapes=shapes,
            dynamo=True,
            opset_version=OPSET,
            verbose=False,
        )
    program.optimize()
    model = program.model_proto
    if fp16:
        model = _weights_to_float16(model)
    tmp = target.with_name(f".{target.name}.tmp")
    import onnx

    onnx.save_model(model, str(tmp))
    tmp.replace(target)
    # One graph per model: a graph left under the other name (from older weights) would be the one
    # the loader prefers or falls back to, and disagree with the safetensors.
    for name in ONNX_FILES:
        if name != target.name:
            (target.parent / name).unlink(missing_ok=True)
    return target


def _float32_copy(generator: UNetGenerator) -> UNetGenerator:
    copy = type(generator)(**generator.config)
    copy.load_state_dict({k: v.float() for k, v in generator.state_dict().items()})
    return copy.eval()


def _weights_to_float16(model):
    """Every float32 weight that float16 holds exactly stored as float16, with a Cast back to float32
    in front of its users: the graph still computes in float32 (CPU kernels for float16 are few and
    slow), the file is smaller. Weights float16 would round stay float32: the exporter folds each
    BatchNorm into its convolution in float32, and rounding those products put the EfficientNet
    model 0.25 a*b* units off PyTorch on a photo (exporting unfolded, for ONNX Runtime to fold at
    load, was exact but 2x slower: the Casts in front of the weights stop its fusion)."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    casts = []
    for initializer in graph.initializer:
        if initializer.data_type != onnx.TensorProto.FLOAT or np.prod(initializer.dims) < 16:
            continue
        weights = numpy_helper.to_array(initializer)
        array = weights.astype(np.float16)
        if not np.array_equal(array.astype(np.float32), weights):
            continue
        name = initializer.name
        initializer.CopyFrom(numpy_helper.from_array(array, f"{name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name], to=onnx.TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return model
