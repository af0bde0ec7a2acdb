"""Every training objective in one place: pix2pix's GAN losses, and the generator's reconstruction
losses for each head (L1 on a*b* for regression, soft cross-entropy over a*b* bins for classification).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from pix2pix_color.core import ab_bins

GAN_MODES = ("vanilla", "lsgan")


def gan_loss(logits: Tensor, target_is_real: bool, mode: str = "vanilla") -> Tensor:
    """Mean loss of discriminator logits (any shape) against an all-real or all-fake target."""
    target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"unknown GAN mode {mode!r}; expected one of {GAN_MODES}")


def l1_loss(fake: Tensor, real: Tensor, pixel_weight: Tensor | None = None) -> Tensor:
    """Mean absolute error of a*b* (B,2,H,W) against the true a*b* (B,2,H,W), each pixel optionally
    weighted (B,H,W); computed in float32 whatever the autocast dtype."""
    per_pixel = (fake.float() - real.float()).abs().mean(dim=1)
    if pixel_weight is not None:
        per_pixel = per_pixel * pixel_weight
    return per_pixel.mean()


class _SoftCrossEntropy(torch.autograd.Function):
    """Per-pixel cross-entropy of logits (N,Q) against soft targets given sparsely (N,K indices, weights).

    Why by hand: autograd through log_softmax + gather passes over the (N,Q) logits about six times
    per step (and fills a zero tensor of that size); on a 2-core CPU that doubled the training step
    of a classification generator. With targets summing to 1 the loss is logsumexp(z) - sum_k w_k z_k
    and its gradient softmax(z) - target: one pass each way.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, index: Tensor, weight: Tensor) -> Tensor:
        lse = torch.logsumexp(logits, dim=1)
        ctx.save_for_backward(logits, lse, index, weight)
        return lse - (weight * logits.gather(1, index)).sum(1)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        logits, lse, index, weight = ctx.saved_tensors
        grad = torch.sub(logits, lse[:, None]).exp_()
        grad.scatter_add_(1, index, -weight.to(grad.dtype))
        return grad.mul_(grad_out[:, None].to(grad.dtype)), None, None


def bin_cross_entropy(logits: Tensor, ab: Tensor, pixel_weight: Tensor | None = None) -> Tensor:
    """Mean soft-target cross-entropy of logits (N,Q) against the true a*b* (N,2), optionally weighted (N,)."""
    index, weight = ab_bins.encode(ab)
    per_pixel = _SoftCrossEntropy.apply(logits.float(), index, weight)
    if pixel_weight is not None:
        per_pixel = per_pixel * pixel_weight
    return per_pixel.mean()
