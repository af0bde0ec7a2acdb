"""The fade estimator: a small network that reads a thumbnail of a color photo and says which
per-channel curves undo its fading, and for a photo that did not fade, the identity.

Why a network: the statistics of one photo cannot tell a cast from the scene's own light (an orange
sunset, a blue lake), or a faded print from a misty morning; the rules `restore` used before (the
blacks' lift, each channel's range brought towards the widest one's) moved well-kept photos and made
mild fadings worse (experiments/results/restore_harm_*.json). Trained on thousands of real photos,
each aged at random (`pix2pix_color.synthetic.fading.random_ageing`, a fifth of them not at all),
with the loss the colour error of the corrected photo against the real one, it learns how far the
evidence goes: where it cannot tell, the smallest correction is the one that costs least.

The curves, per channel c (`apply_curves`), first in linear light as the dyes fade, then in display
values as a print's contrast and a scan's levels go:

    y = exp(offset_c + gain_c * log((x - black_c) / (1 - black_c)))   then   v' = lift_c + slope_c * v

Shapes: (B,3,H,W) float sRGB in [0,1], any H, W of at least 16, with the statistical curves (B,3,5)
and their evidence (B,2) -> (B,3,5) curve parameters (black, gain, offset, slope, lift).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from pix2pix_color.core.color import srgb_decode, srgb_encode

MODEL_DIR = Path(__file__).with_name("fade_model")  # the shipped weights (train/fade_estimator.py)

# The quantiles of each channel the network reads beside its image features: a histogram's shape
# (the blacks, the mid-tones, the white point) is what fading changes most.
QUANTILES = (0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.995)
PARAMETERS = 5
# The gates start at sigmoid(4) = 0.98: an untrained estimator is the statistics.
GATE_START = 4.0


def apply_curves(srgb: Tensor, params: Tensor) -> Tensor:
    """(B,3,...) float sRGB in [0,1] and (B,3,5) parameters -> (B,3,...) corrected float sRGB."""
    shape = params.shape[:2] + (1,) * (srgb.dim() - 2)
    black, gain, offset, slope, lift = (params[..., i].reshape(shape) for i in range(PARAMETERS))
    x = ((srgb_decode(srgb) - black) / (1.0 - black)).clamp(1e-4, 1.0)
    y = torch.exp(offset + gain * torch.log(x)).clamp(0.0, 1.0)
    return (lift + slope * srgb_encode(y)).clamp(0.0, 1.0)


def channel_quantiles(srgb: Tensor) -> Tensor:
    """(B,3,H,W) float sRGB -> (B,3*len(QUANTILES)+3) each channel's quantiles and mean."""
    flat = srgb.flatten(2)
    q = torch.quantile(flat, torch.tensor(QUANTILES, dtype=flat.dtype, device=flat.device), dim=2)
    return torch.cat([q.permute(1, 2, 0).flatten(1), flat.mean(2)], dim=1)


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def to_raw(params: Tensor) -> Tensor:
    """(B,3,5) curve parameters -> (B,3,5) in the space where the identity is 0 and steps add:
    black, log gain, offset, log slope, lift."""
    black, gain, offset, slope, lift = params.unbind(-1)
    return torch.stack([black, gain.clamp_min(1e-3).log(), offset, slope.clamp_min(1e-3).log(), lift], dim=-1)


def from_raw(raw: Tensor) -> Tensor:
    """`to_raw`'s inverse, the black kept in [-0.2, 0.6] (a lift, or lost density of at most 60%)."""
    black, log_gain, offset, log_slope, lift = raw.unbind(-1)
    return torch.stack([black.clamp(-0.2, 0.6), log_gain.exp(), offset, log_slope.exp(), lift], dim=-1)


class FadeEstimator(nn.Module, PyTorchModelHubMixin, library_name="pix2pix-color", tags=["image-restoration"]):
    """Four stride-2 convolutions (what the scene is: sky, foliage, skin, a lamp's light), global
    average and max pooling, each channel's quantiles, the statistical curves and their evidence, and
    a two-layer head -> how far to trust each kind of the statistical curves' parameters: a gate in
    [0,1] per kind (the lifted black, the gains, the white points), 0 leaving the photo as it is.

    Gates on the statistics, not curves of its own: a network that found the curves alone (tried
    first, 1,750 steps) and one that corrected the statistics freely (1,000 steps) were both further
    from the real photos than the statistics on photos-hq, and moved well-kept photos more (1.6-1.8
    CIEDE2000 against 0.9). What the statistics cannot tell is whether to believe them."""

    def __init__(self, width: int = 24, hidden: int = 128, side: int = 96):
        super().__init__()
        self.side = int(side)  # the thumbnail's long side the network reads (`thumbnail_tensor`)
        w = int(width)
        self.features = nn.Sequential(_conv(3, w), _conv(w, 2 * w), _conv(2 * w, 4 * w), _conv(4 * w, 4 * w))
        stats = 3 * len(QUANTILES) + 3 + 3 * PARAMETERS + 2
        self.head = nn.Sequential(
            nn.Linear(8 * w + stats, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, PARAMETERS)
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.constant_(self.head[-1].bias, GATE_START)

    def forward(self, srgb: Tensor, base: Tensor, evidence: Tensor) -> Tensor:
        """Thumbnails (B,3,H,W) float sRGB in [0,1], their statistical curves (B,3,5) and evidence
        (B,2) -> (B,3,5) curve parameters (black, gain, offset, slope, lift)."""
        f = self.features(srgb - 0.5)
        base_raw = to_raw(base)
        pooled = torch.cat([f.mean((2, 3)), f.amax((2, 3)), channel_quantiles(srgb), base_raw.flatten(1), evidence], 1)
        gate = torch.sigmoid(self.head(pooled))[:, None, :]  # (B,1,5)
        return from_raw(gate * base_raw)


def thumbnail_tensor(rgb: Tensor, side: int) -> Tensor:
    """(3,H,W) uint8 sRGB -> (1,3,h,w) float sRGB with the long side `side` (area-averaged, as the
    training crops were made), at least 16 px a side."""
    h, w = rgb.shape[-2:]
    scale = side / max(h, w)
    size = (max(16, round(h * scale)), max(16, round(w * scale)))
    return F.interpolate(rgb[None].float() / 255.0, size=size, mode="area" if scale < 1 else "bilinear")


@cache
def default_fade_estimator() -> FadeEstimator:
    """The shipped estimator, loaded once per process, in eval mode."""
    from safetensors.torch import load_model

    # Loaded by hand, not `from_pretrained`: strictly (a mismatched file must fail, not keep the
    # identity's zero head) and without huggingface_hub's "Loading weights" line on every CLI run.
    model = FadeEstimator(**json.loads((MODEL_DIR / "config.json").read_text()))
    load_model(model, MODEL_DIR / "model.safetensors", strict=True)
    return model.eval()


def estimator_input(rgb: np.ndarray, base: np.ndarray, evidence: np.ndarray, side: int) -> tuple[Tensor, ...]:
    """A photo (H,W,3) uint8, its statistical curves (3,5) and evidence (2,) -> the network's inputs,
    a batch of one."""
    small = thumbnail_tensor(torch.from_numpy(np.array(rgb, np.uint8)).permute(2, 0, 1), side)
    return (
        small,
        torch.from_numpy(np.asarray(base, np.float32))[None],
        torch.from_numpy(np.asarray(evidence, np.float32))[None],
    )


@torch.inference_mode()
def to_parameters(model: FadeEstimator, small: Tensor, base: Tensor, evidence: Tensor) -> np.ndarray:
    """`estimator_input`'s batch of one -> its (3,5) curve parameters, float64."""
    return model(small, base, evidence)[0].double().numpy()
