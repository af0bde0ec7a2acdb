import pytest
import torch

from pix2pix_color.models.losses import gan_loss
from pix2pix_color.models.networks import PatchDiscriminator, UNetGenerator, count_parameters, init_weights


def test_default_generator_is_unet_256():
    G = UNetGenerator()
    assert count_parameters(G) == 54_409_858
    dropouts = [m for m in G.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.5 for d in dropouts)
    G.eval()
    with torch.no_grad():
        ab = G(torch.rand(1, 1, 256, 256) * 2 - 1)
    assert ab.shape == (1, 2, 256, 256)
    assert ab.abs().max() <= 1  # tanh output


def test_patch_discriminator_is_70x70_patchgan():
    D = PatchDiscriminator()
    assert count_parameters(D) == 2_765_633
    logits = D(torch.randn(2, 1, 256, 256), torch.randn(2, 2, 256, 256))
    assert logits.shape == (2, 1, 30, 30)


@pytest.mark.parametrize(
    "kwargs, size",
    [
        (dict(depth=7), 128),
        (dict(base_channels=32), 256),
        (dict(depth=7, base_channels=32, max_channels=256), 128),
        (dict(depth=5, base_channels=8), 96),
    ],
)
def test_generator_variants(kwargs, size):
    G = UNetGenerator(**kwargs)
    out = G(torch.randn(2, 1, size, size + 2**G.depth))
    assert out.shape == (2, 2, size, size + 2**G.depth)


def test_generator_rejects_sizes_that_are_not_multiples():
    G = UNetGenerator(depth=5, base_channels=8)
    with pytest.raises(ValueError, match="multiples of 32"):
        G(torch.randn(1, 1, 48, 64))


@pytest.mark.parametrize(
    "bad", [dict(depth=100), dict(depth="8"), dict(base_channels=10**9), dict(dropout=1.5), dict(depth=True)]
)
def test_generator_validates_arguments_before_allocating(bad):
    with pytest.raises(ValueError):
        UNetGenerator(**bad)


def test_init_weights_follows_the_paper():
    torch.manual_seed(0)
    G = init_weights(UNetGenerator(depth=5, base_channels=32))
    convs = [m.weight for m in G.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    weights = torch.cat([w.flatten() for w in convs])
    assert abs(weights.mean()) < 1e-3 and abs(weights.std() - 0.02) < 1e-3
    norms = torch.cat([m.weight for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(norms.mean() - 1) < 5e-3


def test_gan_losses():
    logits = torch.tensor([[10.0, -10.0]])
    assert gan_loss(torch.full((2, 2), 20.0), True) < 1e-6
    assert gan_loss(torch.full((2, 2), 20.0), False) > 19
    assert gan_loss(torch.ones(3), True, "lsgan") == 0
    assert gan_loss(torch.ones(3), False, "lsgan") == 1
    with pytest.raises(ValueError, match="unknown GAN mode"):
        gan_loss(logits, True, "wgan")
