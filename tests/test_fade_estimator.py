"""The fade estimator (`pix2pix_color.models.fade_estimator`), what restore reads a faded photo's
curves from: the curves it trains through are the ones restore applies, the shipped one undoes
fadings it never saw and leaves well-kept photos alone, and its training resumes exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color.models.fade_estimator import FadeEstimator, apply_curves
from pix2pix_color.pipeline.assessment import lab_of
from pix2pix_color.pipeline.fading_curves import Curves, estimated_parameters
from pix2pix_color.synthetic.fading import AGEING, Fading, fade, random_ageing

DATA = Path(__file__).parent / "data"
PHOTOS = ("bridge_color.jpg", "seeding_color.jpg", "summer_1am_color.jpg")


def real_photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(lab_of(a) - lab_of(b), axis=-1).mean())


def test_an_untrained_estimator_gives_the_statistical_curves():
    x = torch.rand(2, 3, 40, 56)
    identity = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0]).expand(2, 3, 5)
    params = FadeEstimator()(x, identity, torch.zeros(2, 2))
    assert params.shape == (2, 3, 5)
    assert torch.allclose(apply_curves(x, params), x, atol=2e-3)  # the clamp at linear 1e-4: a third of a level
    base = torch.tensor([[0.05, 1.3, 0.1, 0.9, 0.04]]).expand(2, 3, 5)
    gated = FadeEstimator()(x, base, torch.ones(2, 2))  # the gates start at 0.98
    assert torch.allclose(gated[..., 0], 0.982 * base[..., 0], atol=1e-3)
    assert torch.allclose(gated[..., 1].log(), 0.982 * base[..., 1].log(), atol=1e-3)


def test_restore_applies_the_curves_the_estimator_trains_through():
    """The 256-entry tables restore uses on full-size photos give the training's float curves."""
    params = np.array([[0.05, 1.3, 0.1, 0.9, 0.04], [0.02, 1.1, -0.05, 1.05, 0.0], [-0.03, 0.8, 0.0, 1.0, -0.02]])
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    by_table = Curves.from_estimate(params).apply_to_bytes(rgb).astype(int)
    srgb = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    by_torch = apply_curves(srgb, torch.from_numpy(params)[None].float())[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(by_table - by_torch).max() <= 1.0


def test_random_ageing_leaves_some_alone_and_ages_the_rest_by_a_spread_of_severities():
    real = real_photo("seeding_color.jpg")[::4, ::4].copy()
    rng = np.random.default_rng(1)
    moved = [delta_e(random_ageing(real, rng), real) for _ in range(40)]
    assert 0.05 < np.mean(np.array(moved) < 0.01) < 0.45  # the unaged share (0.2)
    aged = np.array(moved)[np.array(moved) >= 0.01]
    assert np.mean(aged < 5) > 0.2 and np.mean(aged > 12) > 0.2  # mild ones and severe ones


@pytest.mark.parametrize("name", PHOTOS)
def test_the_shipped_estimator_leaves_a_well_kept_photo_nearly_alone(name):
    real = real_photo(name)
    corrected = Curves.from_estimate(estimated_parameters(real)).apply_to_bytes(real)
    assert delta_e(corrected, real) < 2.0


@pytest.mark.parametrize("name", PHOTOS)
def test_the_shipped_estimator_undoes_fadings(name):
    """A print faded by `fade` (the dyes' physics) and two of `AGEING`'s forms: the corrected photo
    is closer to the real one than the faded input, every time."""
    real = real_photo(name)
    for faded in (fade(real, Fading(cyan=0.5, magenta=0.8, yellow=0.95, stain=0.08, flare=0.06)),
                  AGEING["contrast loss"](real, 0.7), AGEING["yellowing"](real, 0.7)):  # fmt: skip
        corrected = Curves.from_estimate(estimated_parameters(faded)).apply_to_bytes(faded)
        assert delta_e(corrected, real) < 0.8 * delta_e(faded, real), name


def _photo_folder(root: Path) -> Path:
    """A tiny image dataset folder (what `load_dataset` reads as an imagefolder): 12 colorful crops."""
    folder = root / "photos" / "train"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        real = real_photo(PHOTOS[i % 3])
        y, x = rng.integers(0, real.shape[0] - 96), rng.integers(0, real.shape[1] - 96)
        Image.fromarray(real[y : y + 96, x : x + 96]).save(folder / f"p{i}.png")
    return root / "photos"


def test_training_resumes_exactly(tmp_path):
    """Ten steps, then a resume for ten more, give the same weights as twenty in one go."""
    from train.fade_estimator import main

    data = _photo_folder(tmp_path)
    common = ["--dataset", str(data), "--batch-size", "4", "--crop", "64", "--eval-every", "10"]
    main([*common, "--out", str(tmp_path / "once"), "--steps", "20"])
    main([*common, "--out", str(tmp_path / "twice"), "--steps", "20", "--stop-at", "10"])
    main([*common, "--out", str(tmp_path / "twice"), "--steps", "20"])
    once = torch.load(tmp_path / "once" / "last.pt", weights_only=False)
    twice = torch.load(tmp_path / "twice" / "last.pt", weights_only=False)
    assert once["step"] == twice["step"] == 20
    for key, value in once["model"].items():
        assert torch.equal(value, twice["model"][key]), key
    assert (tmp_path / "once" / "best" / "model.safetensors").exists()
