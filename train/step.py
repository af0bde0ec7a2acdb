"""One training step, as plain functions: the generator's reconstruction loss and the pix2pix GAN step."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import Tensor, nn

from pix2pix_color.core import ab_bins
from pix2pix_color.core.color import denormalize_ab
from pix2pix_color.models.losses import bin_cross_entropy, gan_loss, l1_loss

from .config import TrainConfig
from .distributed import everyone

# Share of the half-resolution pixels whose bin logits a classification step scores. The logits
# (B x 253 x H/2 x W/2) are the step's largest tensor; a quarter of them gave the same step time as
# the regression head on a 2-core CPU (0.20 vs 0.23 s, all pixels 0.46 s), and neighbouring pixels
# carry nearly the same information.
CLASSIFIER_PIXEL_SHARE = 0.25


def reconstruction_loss(
    G: nn.Module,
    L: Tensor,
    ab: Tensor,
    hints: Tensor | None,
    cfg: TrainConfig,
    *,
    color_weights: Tensor | None,
    generator: torch.Generator,
    need_fake: bool,
) -> tuple[Tensor, Tensor | None]:
    """G's loss against the true ab (B,2,H,W, model scale), and G's ab (B,2,H,W) when `need_fake`.

    Regression: mean L1. Classification: soft-target cross-entropy over the a*b* bins on a random
    share of pixels. `color_weights` (Q,), if given, weighs each pixel by the rarity of its true
    color's bin (class rebalancing).
    """
    if cfg.head == "regression":
        fake = G(L, hints)
        weights = None
        if color_weights is not None:
            weights = color_weights[ab_bins.nearest_bin(denormalize_ab(ab.float()).movedim(1, -1))]
        return l1_loss(fake, ab, weights), fake
    true_ab = F.avg_pool2d(denormalize_ab(ab.float()), 2).movedim(1, -1).reshape(-1, 2)  # (B*h*w, 2)
    if need_fake:  # the discriminator needs whole images: score every pixel
        logits = G(L, hints)
        rows = logits.movedim(1, -1).reshape(-1, logits.shape[1])
        fake = _unwrapped(G).decode(logits, L.shape[-2:], temperature=1.0)
    else:
        pixels = torch.randperm(len(true_ab), generator=generator)[: int(len(true_ab) * CLASSIFIER_PIXEL_SHARE)]
        pixels = pixels.to(L.device)
        rows, true_ab, fake = G.logits_at(L, hints, pixels), true_ab[pixels], None
    weights = color_weights[ab_bins.nearest_bin(true_ab)] if color_weights is not None else None
    return bin_cross_entropy(rows, true_ab, weights), fake


def _unwrapped(G: nn.Module) -> nn.Module:
    return G.module if hasattr(G, "module") else G  # DDP wraps the generator; decode is its own method


def _all_finite(loss: Tensor, accelerator: Accelerator) -> bool:
    return everyone(bool(torch.isfinite(loss.detach()).all()), accelerator)


def gan_step(
    G: nn.Module,
    D: nn.Module,
    D_plain: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    L: Tensor,
    ab: Tensor,
    cfg: TrainConfig,
    accelerator: Accelerator,
    *,
    adversarial: bool,
    hints: Tensor | None = None,
    color_weights: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor | bool]:
    """One pix2pix step on a batch: L (B,1,H,W), ab (B,2,H,W), both in model space; hints (B,3,H,W).

    D learns to tell (L, real ab) from (L, G(L)) (BCE or LSGAN, the two halves averaged); then G,
    against the updated D as in pix2pix, minimises the adversarial loss plus lambda_l1 x its
    reconstruction loss. With `adversarial=False` (warm-up) G trains on the reconstruction loss
    alone and D is left untouched. A non-finite loss on any process is applied by none, network by
    network: a bad D loss skips both steps; a bad G loss (found only after D's step, which needs
    D's update) skips G's. The result says what moved: `d_applied` and `finite` (G's step).
    `D_plain` is D without its DDP wrapper: G's step goes through it so that D's frozen parameters
    take no part in gradient synchronisation.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    loss_rec, fake = reconstruction_loss(
        G, L, ab, hints, cfg, color_weights=color_weights, generator=generator, need_fake=adversarial
    )
    losses: dict[str, Tensor | bool] = {"d_applied": False}
    if adversarial:
        D.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        loss_d = 0.5 * (gan_loss(D(L, ab), True, cfg.gan_mode) + gan_loss(D(L, fake.detach()), False, cfg.gan_mode))
        accelerator.backward(loss_d)
        finite = _all_finite(loss_d, accelerator)
        losses["loss_d"] = loss_d.detach()
        D.requires_grad_(False)
        if not finite:  # neither network moves on a bad batch
            losses["loss_g_l1" if cfg.head == "regression" else "loss_g_ce"] = loss_rec.detach()
            losses["finite"] = False
            return losses
        opt_d.step()
        losses["d_applied"] = True
    opt_g.zero_grad(set_to_none=True)
    loss_g = cfg.lambda_l1 * loss_rec
    if adversarial:
        loss_g_gan = gan_loss(D_plain(L, fake), True, cfg.gan_mode)
        loss_g = loss_g + loss_g_gan
        losses["loss_g_gan"] = loss_g_gan.detach()
    accelerator.backward(loss_g)
    finite_g = _all_finite(loss_g, accelerator)
    if finite_g:
        opt_g.step()
    losses["loss_g_l1" if cfg.head == "regression" else "loss_g_ce"] = loss_rec.detach()
    losses["finite"] = finite_g
    return losses
