"""GAN objectives of pix2pix: vanilla (BCE with logits) and least squares (LSGAN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

GAN_MODES = ("vanilla", "lsgan")


def gan_loss(logits: Tensor, target_is_real: bool, mode: str = "vanilla") -> Tensor:
    """Mean loss of discriminator logits (any shape) against an all-real or all-fake target."""
    target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"unknown GAN mode {mode!r}; expected one of {GAN_MODES}")
