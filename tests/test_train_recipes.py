"""The second-generation training recipe: a*b* bins, class rebalancing, simulated hints, the photo
cache, EMA, and --init-from warm starts."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pix2pix_color.core import ab_bins
from pix2pix_color.models.losses import bin_cross_entropy
from pix2pix_color.models.networks import PatchDiscriminator, UNetGenerator
from train import TrainError, data, with_preset
from train.__main__ import main as train_main
from train.config import resume_conflicts
from train.hints import simulate_hints
from train.warm_start import load_initial_weights

from .conftest import TINY_TRAINING, tiny_flags, tiny_generator


def test_cross_entropy_gradient_is_softmax_minus_soft_target():
    torch.manual_seed(0)
    logits = torch.randn(50, ab_bins.num_bins(), requires_grad=True)
    ab = torch.rand(50, 2) * 120 - 60
    bin_cross_entropy(logits, ab).backward()
    index, weight = ab_bins.encode(ab)
    target = torch.zeros(50, ab_bins.num_bins()).scatter_add_(1, index, weight)
    reference = logits.detach().clone().requires_grad_(True)
    (-(target * torch.log_softmax(reference, dim=1)).sum(1).mean()).backward()
    assert torch.allclose(logits.grad, reference.grad, atol=1e-6)
    assert torch.allclose(target.sum(1), torch.ones(50))
    # The soft target's heaviest bin is the one nearest to the true color (up to the table's
    # rounding of a*, b* to integers: at most 0.71 units).
    distance = torch.cdist(ab, ab_bins.bin_centers())
    heaviest = index.gather(1, weight.argmax(1, keepdim=True))
    assert (distance.gather(1, heaviest)[:, 0] <= distance.min(1).values + 1.42).all()


def test_annealed_mean_of_a_confident_prediction_is_its_bin():
    centers = ab_bins.bin_centers()
    k = int(torch.cdist(torch.tensor([[-40.0, 30.0]]), centers).argmin())  # a meadow green
    logits = torch.full((1, len(centers), 2, 2), -20.0)
    logits[:, k] = 20.0
    assert torch.allclose(ab_bins.annealed_mean(logits, 1.0)[0, :, 0, 0], centers[k], atol=1e-3)
    # A lower temperature sharpens a hesitant prediction towards its mode.
    logits = torch.zeros(1, len(centers), 1, 1)
    logits[:, k] = 3.0
    near = torch.linalg.vector_norm(ab_bins.annealed_mean(logits, 0.38)[0, :, 0, 0] - centers[k])
    far = torch.linalg.vector_norm(ab_bins.annealed_mean(logits, 1.0)[0, :, 0, 0] - centers[k])
    assert near < far


def test_rebalancing_weighs_rare_colors_up_and_keeps_the_mean_weight_at_one():
    counts = torch.ones(ab_bins.num_bins())
    common = int(ab_bins.nearest_bin(torch.tensor([0.0, -5.0])))  # the cold, low-chroma mass
    counts[common] = 10_000
    w = ab_bins.rebalancing_weights(counts, mix=0.5)
    assert w[common] < 0.2 * w.median()
    assert float((ab_bins.rebalancing_weights(counts, mix=1.0) - 1).abs().max()) < 1e-5  # mix 1: off
    # Normalised so that the expected weight under the smoothed distribution (Gaussian, sigma half a
    # bin, as in the paper) is exactly 1: the loss keeps its scale, only its balance changes.
    centers = ab_bins.bin_centers().double()
    kernel = torch.exp(-torch.cdist(centers, centers).square() / (2 * (0.5 * ab_bins.GRID_STEP) ** 2))
    smoothed = kernel @ (counts.double() / counts.sum())
    smoothed /= smoothed.sum()
    assert abs(float((smoothed * w.double()).sum()) - 1.0) < 1e-5


def test_color_histogram_counts_each_pixels_bin():
    red = torch.zeros(3, 16, 16, dtype=torch.uint8)
    red[0] = 200
    counts = data.color_histogram([red], stride=4)
    assert counts.sum() == 16 and counts.max() == 16


def test_simulated_hints_reveal_patch_means_and_leave_half_the_photos_without():
    torch.manual_seed(0)
    ab = torch.rand(64, 2, 32, 32) * 0.6 - 0.3
    hints = simulate_hints(ab, torch.Generator().manual_seed(3))
    again = simulate_hints(ab, torch.Generator().manual_seed(3))
    assert torch.equal(hints, again)  # seeded: a resumed run draws the same hints
    with_hints = hints[:, 2].flatten(1).amax(1) > 0
    assert 20 <= int(with_hints.sum()) <= 44
    mask = hints[:, 2:3] > 0
    assert set(hints[:, 2].unique().tolist()) <= {0.0, 1.0}
    assert (hints[:, :2] * ~mask).abs().sum() == 0
    # Each hinted value is a mean of real values, so it lies within the photo's own range.
    assert (hints[:, :2][mask.expand(-1, 2, -1, -1)].abs() <= 0.3).all()


def _cache(n: int = 23) -> data.PhotoCache:
    photos = [torch.full((3, 40, 50), i, dtype=torch.uint8) for i in range(n)]
    return data.PhotoCache(photos, {}, sum(p.numel() for p in photos))


def test_cached_epochs_split_evenly_across_processes_and_resume_exactly():
    cfg = with_preset(dataset="x", output_dir="y", max_steps=1, **{**TINY_TRAINING, "batch_size": 4})
    cache = _cache()
    shares = [list(data.cached_batches(cache, cfg, epoch=1, rank=r, world_size=2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 23 // 8  # whole global batches only: no process waits
    seen = [int(b["rgb"][i, 0, 0, 0]) for share in shares for b in share for i in range(4)]
    assert len(seen) == len(set(seen)) == 8 * (23 // 8)  # no photo twice in an epoch
    whole = list(data.cached_batches(cache, cfg, epoch=1))
    resumed = list(data.cached_batches(cache, cfg, epoch=1, start_batch=3))
    assert all(torch.equal(a["rgb"], b["rgb"]) for a, b in zip(whole[3:], resumed, strict=True))
    other_epoch = list(data.cached_batches(cache, cfg, epoch=2))
    assert not all(torch.equal(a["rgb"], b["rgb"]) for a, b in zip(whole, other_epoch))


def _published(tmp_path, **kwargs):
    folder = tmp_path / "published"
    G = tiny_generator(**kwargs)
    G.save_pretrained(folder)
    torch.manual_seed(1)
    D = PatchDiscriminator(base_channels=8, n_layers=3)
    save_file({k: v.half() for k, v in D.state_dict().items()}, folder / "discriminator.safetensors")
    return folder, G, D


def test_init_from_adds_zero_hint_channels_so_the_network_starts_as_published(tmp_path):
    folder, published, published_D = _published(tmp_path)
    G, D = tiny_generator(seed=5, hints=True), PatchDiscriminator(base_channels=8, n_layers=3)
    G, notes = load_initial_weights(G, D, str(folder))
    assert "hint input channels added with zero weights" in notes
    assert "discriminator loaded from discriminator.safetensors" in notes
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    hints = torch.zeros(2, 3, 64, 64)
    hints[:, :2, 10:14, 10:14], hints[:, 2, 10:14, 10:14] = 0.4, 1.0
    G.eval()
    assert torch.allclose(G(L, hints), published(L), atol=1e-6)
    for k, v in D.state_dict().items():
        assert torch.allclose(v.float(), published_D.state_dict()[k].half().float())


def test_init_from_another_head_keeps_the_body_and_refuses_another_size(tmp_path):
    folder, published, _ = _published(tmp_path)
    G = tiny_generator(seed=5, head="classification")
    G, notes = load_initial_weights(G, PatchDiscriminator(base_channels=8, n_layers=3), str(folder))
    assert any("started fresh" in n and "classifier.weight" in n for n in notes)
    assert torch.equal(G.state_dict()["net.model.0.weight"], published.state_dict()["net.model.0.weight"])
    with pytest.raises(TrainError, match="does not match this run's flags"):
        load_initial_weights(tiny_generator(depth=4), PatchDiscriminator(base_channels=8, n_layers=3), str(folder))
    with pytest.raises(TrainError, match="--init-from"):
        load_initial_weights(tiny_generator(), PatchDiscriminator(), str(tmp_path / "nowhere"))


def test_init_from_decodes_as_the_published_model_when_the_head_is_the_same(tmp_path):
    folder, published, _ = _published(tmp_path, head="classification", temperature=0.7)
    D = PatchDiscriminator(base_channels=8, n_layers=3)
    G, notes = load_initial_weights(tiny_generator(seed=5, head="classification", hints=True), D, str(folder))
    assert G.temperature == 0.7 and G.hints and "decoding as published: temperature 0.7, chroma gain 1.0" in notes
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    assert torch.allclose(G.eval().predict_ab(L), published.predict_ab(L), atol=1e-6)  # the colors, not only logits
    G.save_pretrained(tmp_path / "continued")  # what its checkpoints and export will say
    assert json.loads((tmp_path / "continued" / "config.json").read_text())["temperature"] == 0.7
    # A new head has no calibrated decoding yet: it keeps the defaults.
    G, notes = load_initial_weights(tiny_generator(seed=5), D, str(folder))
    assert G.temperature == 1.0 and not any("decoding as published" in n for n in notes)


def test_classification_run_with_hints_rebalancing_and_ema_then_fine_tuned_with_init_from(hub_dataset, tmp_path):
    first = tmp_path / "cls"
    flags = tiny_flags(l1_warmup_steps=100)
    status = train_main(
        [
            "--dataset",
            str(hub_dataset),
            "--output-dir",
            str(first),
            "--max-steps",
            "4",
            *flags,
            "--head",
            "classification",
            "--hints",
            "--color-rebalance",
            "0.5",
            "--ema-decay",
            "0.9",
        ]
    )
    assert status == 0
    config = json.loads((first / "model" / "config.json").read_text())
    assert config["head"] == "classification" and config["hints"] is True
    metrics = json.loads((first / "metrics.json").read_text())
    assert metrics["hints10"]["model"]["n_images"] == metrics["model"]["n_images"] == 4
    assert 0 <= metrics["model"]["hue_hit"] <= 1
    card = (first / "model" / "README.md").read_text()
    assert "10 color hints" in card and "class-rebalanced (lambda 0.5)" in card and "EMA 0.9" in card
    log = (first / "train.log").read_text()
    assert "color rebalancing (lambda 0.5)" in log and "validation with 10 hints" in log

    second = tmp_path / "fine-tuned"
    status = train_main(
        [
            "--dataset",
            str(hub_dataset),
            "--output-dir",
            str(second),
            "--max-steps",
            "2",
            *flags,
            "--head",
            "classification",
            "--hints",
            "--init-from",
            str(first / "model"),
        ]
    )
    assert status == 0
    log = (second / "train.log").read_text()
    # The first run never took an adversarial step (warm-up 100 > its steps): it exported no discriminator,
    # so the fine-tuning one starts fresh instead of loading random weights as if trained.
    assert not (first / "model" / "discriminator.safetensors").exists()
    assert "generator: " in log and "no discriminator.safetensors: the discriminator starts fresh" in log
    assert "; started from `" in (second / "model" / "README.md").read_text()
    model = UNetGenerator.from_pretrained(second / "model")
    assert model.head == "classification" and model.hints


def _sources(batches) -> list[int]:
    """The red value (rounded to the photos' step of 10) of every crop in the batches."""
    return [10 * round(float(crop[0].float().mean()) / 10) for b in batches for crop in b["rgb"]]


def test_large_photos_are_drawn_repeat_times_per_epoch_cached_and_streaming(mixed_sizes, tmp_path):
    cfg = with_preset(
        dataset=str(mixed_sizes),
        output_dir=str(tmp_path),
        max_steps=1,
        **{**TINY_TRAINING, "batch_size": 2, "load_size": 36, "large_photo_repeat": 3},
    )
    splits = data.load_splits(cfg)
    cache = data.build_cache(splits, cfg, limit_bytes=2**30)
    assert cache.large == [False] * 6 + [True, True]
    # Without --multiscale-crops every photo is kept at the load size, large ones too.
    assert all(min(p.shape[-2:]) == 36 for p in cache.photos)
    assert len(cache.epoch_indices(cfg)) == 6 + 2 * 3
    cached = Counter(_sources(data.cached_batches(cache, cfg, epoch=0)))
    streamed = Counter(_sources(data.training_loader(splits, cfg, epoch=0)))
    for seen in (cached, streamed):
        assert seen == {**{20 + 10 * i: 1 for i in range(6)}, 200: 3, 240: 3}
    # --epochs counts the same draws either way (it counted rows when streaming: review M3).
    assert data.count_examples(splits.train, cfg) == len(cache.epoch_indices(cfg)) == 12


def test_multiscale_crops_see_a_large_photo_from_close_up_to_whole():
    cfg = with_preset(dataset="x", output_dir="y", max_steps=1, **{**TINY_TRAINING, "multiscale_crops": True})
    assert data.kept_short_side(100, cfg) == 100  # large: its own size...
    assert data.kept_short_side(400, cfg) == data.MULTISCALE_LIMIT * 32  # ...up to 4x the training size
    assert data.kept_short_side(50, cfg) == cfg.load_size == 40  # a thumbnail: the load size
    # A horizontal ramp, one gray level per pixel: a crop's spread of values is the width it covers.
    ramp = torch.arange(120, dtype=torch.uint8).expand(3, 100, 120).contiguous()
    rng = np.random.default_rng(0)
    spreads = []
    for _ in range(200):
        crop = data.random_crop_flip(ramp, 32, False, rng, multiscale=True)
        assert crop.shape == (3, 32, 32) and crop.dtype == torch.uint8
        spreads.append(int(crop[0, 0, -1]) - int(crop[0, 0, 0]))
    assert min(spreads) <= 40 and max(spreads) >= 85  # close-ups (about 32 px) to nearly all 100 px
    assert len(set(spreads)) > 20
    single = [data.random_crop_flip(ramp, 32, False, rng) for _ in range(20)]
    assert {int(c[0, 0, -1]) - int(c[0, 0, 0]) for c in single} == {31}  # without: always 32 px wide


def test_resuming_a_checkpoint_from_before_an_option_existed_takes_its_default():
    cfg = with_preset(dataset="x", output_dir="y", max_steps=1, **TINY_TRAINING)
    saved = {k: v for k, v in cfg.to_dict().items() if k not in ("large_photo_repeat", "multiscale_crops")}
    assert resume_conflicts(saved, cfg) == []
    changed = with_preset(dataset="x", output_dir="y", max_steps=1, **{**TINY_TRAINING, "large_photo_repeat": 2})
    assert resume_conflicts(saved, changed) == ["--large-photo-repeat: 1 in the checkpoint, 2 now"]


def test_a_resumed_continuation_keeps_the_published_decoding(hub_dataset, tmp_path):
    """--init-from may change on resume; the decoding it brought (temperature 0.7) is the run's and
    comes back from the checkpoint, so a resume without --init-from validates and exports at 0.7."""
    folder, _, _ = _published(tmp_path, head="classification", temperature=0.7)
    out = tmp_path / "continued"
    common = ["--dataset", str(hub_dataset), "--output-dir", str(out), *tiny_flags(l1_warmup_steps=100)]
    common += ["--head", "classification", "--image-size", "64", "--load-size", "64"]
    assert train_main([*common, "--max-steps", "2", "--init-from", str(folder)]) == 0
    assert train_main([*common, "--max-steps", "4", "--resume"]) == 0
    assert json.loads((out / "model" / "config.json").read_text())["temperature"] == 0.7
    assert "resumed from" in (out / "train.log").read_text()
