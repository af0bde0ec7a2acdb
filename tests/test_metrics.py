import math

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color.color import rgb_to_lab
from pix2pix_color.metrics import ab_error_auc, colorfulness, evaluate, gray_version, image_metrics, psnr

from .conftest import landscape


def test_psnr_known_values():
    a = np.full((8, 8, 3), 100, np.uint8)
    b = a.copy()
    assert psnr(a, b) == math.inf
    b[...] = 110  # MSE 100 -> 10 log10(255^2 / 100)
    assert psnr(a, b) == pytest.approx(28.1308, abs=1e-3)


def test_colorfulness_is_zero_for_gray_and_grows_with_saturation():
    photo = np.asarray(landscape(64, 48))
    gray = np.repeat(gray_version(photo)[..., None], 3, axis=-1)
    assert colorfulness(gray) == pytest.approx(0, abs=0.5)
    vivid = np.clip((photo.astype(float) - photo.mean(-1, keepdims=True)) * 1.5 + photo.mean(-1, keepdims=True), 0, 255).astype(np.uint8)
    assert colorfulness(vivid) > colorfulness(photo) > 10


def test_auc_is_one_for_identical_and_lower_for_gray():
    photo = np.asarray(landscape(64, 48))
    gray = np.repeat(gray_version(photo)[..., None], 3, axis=-1)
    assert ab_error_auc(photo, photo) == pytest.approx(1.0)
    auc_gray = ab_error_auc(gray, photo)
    assert 0.5 < auc_gray < 0.95
    # A uniform ab error d counts for the thresholds t >= d: AuC = (151 - ceil(d)) / 151.
    gray_px, red_px = np.full((4, 4, 3), 128, np.uint8), np.zeros((4, 4, 3), np.uint8)
    red_px[...] = (200, 60, 60)
    lab = rgb_to_lab(torch.tensor([[128, 200], [128, 60], [128, 60]], dtype=torch.uint8).view(3, 1, 2))
    d = float(torch.linalg.vector_norm(lab[1:, 0, 0] - lab[1:, 0, 1]))
    assert ab_error_auc(gray_px, red_px) == pytest.approx((151 - math.ceil(d)) / 151)


def test_evaluate_puts_model_and_gray_baseline_side_by_side(photos):
    oracle = {np.asarray(gray_version(np.asarray(p))).tobytes(): p for p in photos}
    perfect = evaluate(lambda grays: [oracle[np.asarray(g).tobytes()] for g in grays], photos, batch_size=4)
    assert perfect["model"].n_images == len(photos)
    assert perfect["model"].psnr == 100.0 and perfect["model"].auc == pytest.approx(1.0)
    assert perfect["model"].colorfulness_gap == pytest.approx(0.0)
    gray = perfect["gray"]
    assert gray.colorfulness == pytest.approx(0, abs=0.5) and gray.colorfulness_gap == pytest.approx(-100, abs=2)
    assert 10 < gray.psnr < 40 and gray.auc < 1
    as_is = evaluate(lambda grays: [g.convert("RGB") for g in grays], photos)
    assert as_is["model"].psnr == pytest.approx(gray.psnr, abs=0.05)


def test_image_metrics_checks_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        image_metrics(Image.new("RGB", (4, 4)), Image.new("RGB", (5, 4)))
