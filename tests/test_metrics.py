import math

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color.core.color import gray_version, lab_to_rgb, rgb_to_lab
from pix2pix_color.evaluation.metrics import (
    NoPhotosError,
    ab_error_auc,
    color_hits,
    colorfulness,
    evaluate,
    hue_hit_rate,
    image_metrics,
    psnr,
    ssim,
)

from .conftest import landscape


def test_psnr_known_values():
    a = np.full((8, 8, 3), 100, np.uint8)
    b = a.copy()
    assert psnr(a, b) == 100.0  # capped, so that one identical image cannot make a mean infinite
    b[...] = 110  # MSE 100 -> 10 log10(255^2 / 100)
    assert psnr(a, b) == pytest.approx(28.1308, abs=1e-3)


def test_colorfulness_is_zero_for_gray_and_grows_with_saturation():
    photo = np.asarray(landscape(64, 48))
    gray = np.repeat(gray_version(photo)[..., None], 3, axis=-1)
    assert colorfulness(gray) == pytest.approx(0, abs=0.5)
    vivid = np.clip(
        (photo.astype(float) - photo.mean(-1, keepdims=True)) * 1.5 + photo.mean(-1, keepdims=True), 0, 255
    ).astype(np.uint8)
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


def lab_image(L: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 sRGB of constant L* and the given a*, b* planes."""
    lab = torch.stack(
        [torch.full(a.shape, L), torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)]
    )
    return lab_to_rgb(lab, dtype=torch.uint8).permute(1, 2, 0).numpy()


def test_hue_hit_rate_counts_right_hues_on_colorful_pixels_only():
    # Left half a green meadow (a* -40, b* +30), right half a pale gray sky (C* 4): only the meadow counts.
    a = np.where(np.arange(20)[None, :] < 10, -40.0, 3.0).repeat(10, 0)
    b = np.where(np.arange(20)[None, :] < 10, 30.0, -3.0).repeat(10, 0)
    real = lab_image(60, a, b)
    assert hue_hit_rate(real, real) == pytest.approx(1.0)
    gray = np.repeat(gray_version(real)[..., None], 3, axis=-1)
    assert hue_hit_rate(gray, real) == 0.0  # gray output never hits
    # Greener or yellower by 30 degrees still hits; a blue-gray meadow (the cold cast) misses.
    turn = np.deg2rad(30)
    a2, b2 = a * np.cos(turn) - b * np.sin(turn), a * np.sin(turn) + b * np.cos(turn)
    assert hue_hit_rate(lab_image(60, a2, b2), real) == pytest.approx(1.0)
    cold = lab_image(60, np.full_like(a, -8.0), np.full_like(b, -12.0))
    assert hue_hit_rate(cold, real) == 0.0
    # The right hue but too faint (C* 6 < 10) does not count as colored.
    faint = lab_image(60, a * 0.12, b * 0.12)
    assert hue_hit_rate(faint, real) == 0.0
    # Half the meadow right, half blue: 0.5.
    half = lab_image(60, np.where(np.arange(10)[:, None] < 5, a, -8.0), np.where(np.arange(10)[:, None] < 5, b, -30.0))
    assert hue_hit_rate(half, real) == pytest.approx(0.5, abs=0.02)


def test_the_strict_color_hit_counts_a_faint_beige_as_a_miss_on_an_orange():
    """Issue 40: an orange (hue 60 deg, C* 60) made a faint beige (C* 15, the right hue) is a hue hit
    (lenient) but no color hit; its chroma ratio says how much of the real colour is shown."""
    orange_a, orange_b = 60 * np.cos(np.deg2rad(60)), 60 * np.sin(np.deg2rad(60))
    sky_a, sky_b = 40 * np.cos(np.deg2rad(250)), 40 * np.sin(np.deg2rad(250))
    left = np.arange(20)[None, :] < 10
    real = lab_image(60, np.where(left, orange_a, sky_a).repeat(10, 0), np.where(left, orange_b, sky_b).repeat(10, 0))
    assert color_hits(real, real).color_hit == pytest.approx(1.0)
    beige = lab_image(
        60, np.where(left, orange_a / 4, sky_a).repeat(10, 0), np.where(left, orange_b / 4, sky_b).repeat(10, 0)
    )
    strict, lenient = color_hits(beige, real), hue_hit_rate(beige, real)
    assert lenient == pytest.approx(1.0)  # the old number calls the beige right
    assert strict.color_hit == pytest.approx(0.5, abs=0.03)  # the sky is right, the orange is not
    assert strict.color_hit_warm == pytest.approx(0.0) and strict.color_hit_cool == pytest.approx(1.0, abs=0.03)
    assert strict.chroma_ratio_warm == pytest.approx(0.25, abs=0.03)
    assert strict.warm_share == pytest.approx(0.5, abs=0.01) and strict.cool_share == pytest.approx(0.5, abs=0.01)
    # Half the chroma is enough; 40 degrees off is not (the lenient rule allowed 45).
    half = lab_image(60, np.full((10, 20), orange_a * 0.55), np.full((10, 20), orange_b * 0.55))
    only_orange = lab_image(60, np.full((10, 20), orange_a), np.full((10, 20), orange_b))
    assert color_hits(half, only_orange).color_hit == pytest.approx(1.0)
    turn = np.deg2rad(100)
    off = lab_image(60, np.full((10, 20), 60 * np.cos(turn)), np.full((10, 20), 60 * np.sin(turn)))
    assert color_hits(off, only_orange).color_hit == 0.0 and hue_hit_rate(off, only_orange) == pytest.approx(1.0)
    assert math.isnan(color_hits(only_orange, only_orange).color_hit_cool)


def test_hue_hit_rate_is_nan_without_colorful_pixels_and_skipped_in_means(photos):
    gray = np.full((16, 16, 3), 120, np.uint8)
    assert math.isnan(hue_hit_rate(gray, gray))
    # Faintly tinted: a color photo (C*ab about 8, above the black-and-white line) but no pixel
    # reaches the hue hit rate's C*ab 20, so its NaN must not drag the mean to 0.
    lab = torch.tensor([60.0, 6.0, 5.0]).view(3, 1, 1).expand(3, 16, 16)
    tinted = lab_to_rgb(lab, torch.uint8).permute(1, 2, 0).contiguous().numpy()
    assert math.isnan(hue_hit_rate(tinted, tinted))
    per_photo: list[dict] = []
    results = evaluate(
        lambda grays: [g.convert("RGB") for g in grays], [Image.fromarray(tinted), *photos[:2]], per_photo=per_photo
    )
    assert results["model"].n_images == 3
    assert results["model"].hue_hit == np.nanmean([row["hue_hit"] for row in per_photo]) == 0.0


def test_evaluate_with_hints_passes_points_sampled_from_the_real_photo(photos):
    seen = []

    def colorize_batch(grays, hints=None):
        seen.extend(hints)
        return [g.convert("RGB") for g in grays]

    evaluate(colorize_batch, photos[:3], hints_per_photo=10, seed=1)
    assert len(seen) == 3 and all(len(h) == 10 for h in seen)
    for photo, hints in zip(photos, seen):
        real = np.asarray(photo.convert("RGB"))
        for x, y, color in hints:
            assert 0 <= x < real.shape[1] and 0 <= y < real.shape[0]
            rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
            assert np.abs(rgb - real[y, x].astype(int)).max() < 60  # a 3x3 mean around the point
    again = []
    evaluate(
        lambda g, hints=None: again.extend(hints) or [x.convert("RGB") for x in g],
        photos[:3],
        hints_per_photo=10,
        seed=1,
    )
    assert again == seen  # the same points for every model


@pytest.mark.parametrize("side", [3, 7, 10])
def test_a_photo_smaller_than_the_ssim_window_is_skipped_with_a_note_not_fatal(side, photos, caplog):
    rng = np.random.default_rng(side)
    tiny = rng.integers(0, 256, (side, side + 3, 3), dtype=np.uint8)
    per_photo: list[dict] = []
    summary = evaluate(
        lambda grays: [g.convert("RGB") for g in grays], [Image.fromarray(tiny), photos[0]], per_photo=per_photo
    )
    assert summary["model"].n_images == 1 and np.isfinite(summary["model"].psnr)
    assert per_photo[0] == {
        "file": "photo 1",
        "skipped": f"{side + 3}x{side} px, smaller than 11 px: too small to score",
    }
    assert "too small to score" in caplog.text
    with pytest.raises(NoPhotosError, match="every one was skipped"):
        evaluate(lambda grays: [g.convert("RGB") for g in grays], [Image.fromarray(tiny)])
    assert ssim(tiny, tiny) == 1.0  # the metric itself still answers below its window


def test_a_photo_the_colorizer_refuses_is_skipped_with_a_note(photos, caplog):
    from pix2pix_color import ImageError

    def refuse_the_first(grays):
        return [ImageError("photo.jpg: refused") if i == 0 else g.convert("RGB") for i, g in enumerate(grays)]

    summary = evaluate(refuse_the_first, photos[:3])
    assert summary["model"].n_images == 2
    assert "photo.jpg: refused" in caplog.text


def test_the_fast_metrics_equal_scikit_images_and_the_first_implementation(photos):
    """SSIM, PSNR and colorfulness are computed by hand for speed: they must be the same numbers."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from pix2pix_color.evaluation.metrics import metrics_against

    real = np.asarray(landscape(160, 120, seed=3))
    rng = np.random.default_rng(0)
    noisy = np.clip(real.astype(int) + rng.integers(-25, 25, real.shape), 0, 255).astype(np.uint8)
    gray = gray_version(real)
    for output in (noisy, np.repeat(gray[..., None], 3, axis=-1)):
        expected = structural_similarity(
            output, real, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False,
        )  # fmt: skip
        assert ssim(output, real) == pytest.approx(expected, abs=1e-6)
        assert psnr(output, real) == pytest.approx(peak_signal_noise_ratio(real, output, data_range=255), abs=1e-9)
    r, g, b = (noisy[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert colorfulness(noisy) == pytest.approx(expected, rel=1e-9)
    # A black-and-white output given as (H,W) scores exactly as its RGB version (up to Lab's float noise).
    as_2d, as_rgb = metrics_against([gray, np.repeat(gray[..., None], 3, axis=-1)], real)
    assert as_2d.ssim == pytest.approx(as_rgb.ssim, abs=1e-6) and as_2d.psnr == pytest.approx(as_rgb.psnr)
    assert as_2d.auc == pytest.approx(as_rgb.auc, abs=2e-3) and as_2d.colorfulness == as_rgb.colorfulness == 0.0
    assert as_2d.hue_hit == as_rgb.hue_hit == 0.0
