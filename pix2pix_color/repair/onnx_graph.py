"""The damage detector as an ONNX graph, for runtimes other than PyTorch (a browser, a mobile app):

    L*/100 (B,1,H,W) in [0,1], H and W multiples of 32 (pad with the edge's values)  ->  logits (B,1,H,W)

`DamageDetector.aligned`, so the caller pads and crops (as `DamageDetector.forward` does); damage is
where sigmoid(logits) >= `repair.THRESHOLD`, grown by `repair.GROW` pixels. Batch, height and width
are dynamic, up to 4096 a side (the detector runs tile by tile; a tile is 1024 rows + overlap).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from pix2pix_color.repair.detector import MULTIPLE, DamageDetector

ONNX_FILE = "detector.onnx"
OPSET = 20
MAX_SIDE = 4096


class _Aligned(nn.Module):
    def __init__(self, detector: DamageDetector):
        super().__init__()
        self.detector = detector

    def forward(self, L: Tensor) -> Tensor:
        return self.detector.aligned(L)


def export_detector_onnx(detector: DamageDetector, folder: str | Path) -> Path:
    """Write `folder/detector.onnx` (float32, one file, written atomically); returns its path."""
    import onnx

    target = Path(folder) / ONNX_FILE
    model = DamageDetector(widths=detector.widths)
    model.load_state_dict({k: v.float() for k, v in detector.state_dict().items()})
    graph = _Aligned(model.eval()).eval()
    example = torch.zeros(2, 1, 2 * MULTIPLE, 3 * MULTIPLE)  # torch.export fixes dimensions whose example is 1
    rows = torch.export.Dim("rows", max=MAX_SIDE // MULTIPLE)
    cols = torch.export.Dim("cols", max=MAX_SIDE // MULTIPLE)
    shapes = {"L": {0: torch.export.Dim("batch", max=64), 2: MULTIPLE * rows, 3: MULTIPLE * cols}}
    with torch.no_grad():
        program = torch.onnx.export(
            graph, (example,), input_names=["L"], output_names=["logits"], dynamic_shapes=shapes,
            dynamo=True, opset_version=OPSET, verbose=False,
        )  # fmt: skip
    program.optimize()
    tmp = target.with_name(f".{target.name}.tmp")
    onnx.save_model(program.model_proto, str(tmp))
    tmp.replace(target)
    return target
