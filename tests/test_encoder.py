"""The pretrained encoder: its ImageNet weights land where they belong, and the generator built on it
keeps the pretrained network's features until training changes them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pix2pix_color.models.efficientnet import BN_EPS, EfficientNetLite0, imagenet_input
from pix2pix_color.models.networks import UNetGenerator

pretrained = pytest.importorskip("train.pretrained")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SUSPENSION_BRIDGE, PIER = 839, 718  # ImageNet class indices (sorted WordNet ids n04366367, n03933933)


def encoder_generator(**overrides) -> UNetGenerator:
    settings = dict(depth=5, base_channels=8, max_channels=32, image_size=64, head="classification", hints=True)
    return UNetGenerator(encoder="efficientnet-lite0", **{**settings, **overrides})


def test_remap_puts_every_package_tensor_on_its_own_name():
    package = pretrained.package_state_dict()
    ours = pretrained.remap(package)
    model = EfficientNetLite0(classifier=True)
    expected = model.state_dict()
    assert set(ours) == set(expected)
    assert all(ours[k].shape == expected[k].shape for k in expected)
    assert len(ours) == len(package)  # nothing dropped, nothing duplicated
    assert torch.equal(ours["blocks.3.depthwise.0.weight"], package["_blocks.3._depthwise_conv.weight"])
    assert torch.equal(ours["blocks.15.project.1.running_var"], package["_blocks.15._bn2.running_var"])
    assert torch.equal(ours["head.1.weight"], package["_bn1.weight"])  # the head's BN, not block 0's
    model.load_state_dict(ours, strict=True)


def test_stem_pads_like_tensorflow_with_the_package_weights():
    """Our stem on a synthetic input equals the package's raw tensors applied by hand with TF's "SAME"
    padding for a stride-2 3x3 convolution (nothing before, one pixel after) and BN epsilon 1e-3."""
    package = pretrained.package_state_dict()
    encoder = pretrained.imagenet_encoder().eval()
    x = torch.randn(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    conv = F.conv2d(F.pad(x, (0, 1, 0, 1)), package["_conv_stem.weight"], stride=2)
    bn = F.batch_norm(
        conv, package["_bn0.running_mean"], package["_bn0.running_var"], package["_bn0.weight"], package["_bn0.bias"],
        eps=BN_EPS,
    )  # fmt: skip
    with torch.no_grad():
        assert torch.allclose(encoder.stem(x), bn.clamp(0, 6), atol=1e-5)


def test_the_pretrained_classifier_recognises_a_committed_photo():
    """examples/bridge.jpg (a suspension bridge over water): the ImageNet classifier puts the
    bridge and its pier among its top 3 classes, from the photo and from its gray version alike."""
    model = pretrained.imagenet_encoder(classifier=True).eval()
    image = Image.open(EXAMPLES / "bridge.jpg").convert("RGB")
    w, h = image.size
    image = image.resize((round(w * 224 / h), 224), Image.BICUBIC)
    left = (image.width - 224) // 2
    rgb = torch.from_numpy(np.asarray(image.crop((left, 0, left + 224, 224)), dtype=np.float32) / 255)
    rgb = rgb.permute(2, 0, 1)[None]
    from pix2pix_color.core.color import normalize_l, rgb_to_l

    with torch.no_grad():
        top_colour = model(rgb * 2 - 1).topk(3).indices[0].tolist()
        top_gray = model(imagenet_input(normalize_l(rgb_to_l(rgb)))).topk(3).indices[0].tolist()
    assert SUSPENSION_BRIDGE in top_colour and PIER in top_colour
    assert SUSPENSION_BRIDGE in top_gray or PIER in top_gray


def test_encoder_generator_shapes_and_head():
    G = encoder_generator()
    L = torch.rand(2, 1, 64, 96) * 2 - 1
    assert G(L).shape == (2, 253, 32, 48)
    assert G.predict_ab(L).shape == (2, 2, 64, 96)
    assert G.multiple == 32
    R = encoder_generator(head="regression", hints=False)
    ab = R(L)
    assert ab.shape == (2, 2, 64, 96) and ab.abs().max() <= 1
    with pytest.raises(ValueError, match="depth must be 5"):
        UNetGenerator(encoder="efficientnet-lite0", depth=7)
    with pytest.raises(ValueError, match="encoder must be one of"):
        UNetGenerator(encoder="resnet18")


def test_hints_leave_the_pretrained_features_untouched_at_the_start():
    """The hint branch starts at zero: with the ImageNet weights loaded, the encoder's features for a
    photo with hints are exactly those without, so training starts from what ImageNet taught."""
    G = encoder_generator()
    pretrained.load_imagenet_encoder(G)
    G.eval()
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    hints = torch.zeros(1, 3, 64, 64)
    hints[:, 0, 10:14, 10:14], hints[:, 2, 10:14, 10:14] = 0.5, 1.0
    with torch.no_grad():
        plain = G.net.encoder.features(imagenet_input(L))
        hinted = G.net.encoder.features(imagenet_input(L), G.net.hint_stem(hints))
    assert all(torch.equal(a, b) for a, b in zip(plain, hinted))
    with torch.no_grad():
        assert not torch.equal(G(L), G(L, hints))  # the decoder sees them at once


def test_a_frozen_encoder_takes_no_gradient_and_keeps_its_statistics():
    G = encoder_generator().train()
    G.net.freeze_encoder(True)
    G.train()  # the loop's G.train() must not thaw the BatchNorm statistics
    before = G.net.encoder.stem[1].running_mean.clone()
    loss = G(torch.rand(2, 1, 64, 64) * 2 - 1).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is None for p in G.net.encoder.parameters())
    assert all(p.grad is None for p in G.net.hint_stem.parameters())
    assert G.net.up2[0].weight.grad is not None
    assert torch.equal(G.net.encoder.stem[1].running_mean, before)
    G.net.freeze_encoder(False)
    G(torch.rand(2, 1, 64, 64) * 2 - 1).logsumexp(1).mean().backward()
    assert G.net.encoder.stem[0].weight.grad is not None


def test_encoder_generator_round_trips_through_save_pretrained(tmp_path):
    G = encoder_generator().eval()
    G.save_pretrained(tmp_path)
    loaded = UNetGenerator.from_pretrained(tmp_path)
    assert loaded.encoder == "efficientnet-lite0"
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(G.predict_ab(L), loaded.predict_ab(L))


def test_pretrained_recipe_trains_the_decoder_first_then_everything_on_mixed_data(hub_dataset, mixed_sizes, tmp_path):
    """Two steps with the encoder frozen, two with it training, on --dataset plus a --mix-with set: the
    frozen steps leave every ImageNet weight as it was, the thawed ones move it, the export says so."""
    from safetensors.torch import load_file

    from train.__main__ import main as train_main

    from .conftest import tiny_flags

    out = tmp_path / "pretrained"
    flags = tiny_flags(
        image_size=64, load_size=64, gen_depth=5, checkpoint_every=2, l1_warmup_steps=100, validation_images=2
    )
    status = train_main(
        ["--dataset", str(hub_dataset), "--mix-with", str(mixed_sizes), "--output-dir", str(out), "--max-steps", "4",
         *flags, "--gen-encoder", "efficientnet-lite0", "--freeze-encoder-steps", "2", "--head", "classification",
         "--hints", "--lr-warmup-steps", "1"]
    )  # fmt: skip
    assert status == 0
    imagenet = pretrained.imagenet_encoder().state_dict()
    frozen = load_file(out / "checkpoints" / "00000002" / "pretrained_model" / "model.safetensors")
    final = UNetGenerator.from_pretrained(out / "model")
    name = "blocks.5.depthwise.0.weight"
    assert torch.equal(frozen[f"net.encoder.{name}"], imagenet[name])
    assert not torch.allclose(final.net.encoder.state_dict()[name].float(), imagenet[name])
    assert json.loads((out / "model" / "config.json").read_text())["encoder"] == "efficientnet-lite0"
    card = (out / "model" / "README.md").read_text()
    assert "EfficientNet-Lite0" in card and "frozen for the first 2 steps" in card
    assert "Mixed into the training photos" in card and "./" + mixed_sizes.name in card
    log = (out / "train.log").read_text()
    assert "ImageNet tensors of EfficientNet-Lite0 loaded" in log
