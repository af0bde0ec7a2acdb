import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

from pix2pix_color.core import color
from pix2pix_color.core.color import gray_to_l, lab_to_rgb, rgb_to_l, rgb_to_lab


def rgb_grid(step: int = 5) -> torch.Tensor:
    """Every sRGB color on a grid with `step` (52^3 = 140,608 colors for step 5), as (3, 1, N) uint8."""
    v = torch.arange(0, 256, step, dtype=torch.uint8)
    r, g, b = torch.meshgrid(v, v, v, indexing="ij")
    return torch.stack([r, g, b]).reshape(3, 1, -1)


@pytest.mark.parametrize("as_float", [False, True])
def test_rgb_to_lab_matches_scikit_image(as_float):
    grid = rgb_grid()
    reference = rgb2lab(grid.permute(1, 2, 0).numpy())
    x = grid.float() / 255 if as_float else grid
    lab = rgb_to_lab(x).permute(1, 2, 0).double().numpy()
    assert np.abs(lab - reference).max(axis=(0, 1)).max() < 0.01
    L = rgb_to_l(x)[0].double().numpy()
    assert np.abs(L - reference[..., 0]).max() < 0.01


def test_lab_to_rgb_matches_scikit_image_including_out_of_gamut():
    L, a, b = torch.meshgrid(
        torch.linspace(0, 100, 41), torch.linspace(-128, 127, 52), torch.linspace(-128, 127, 52), indexing="ij"
    )
    lab = torch.stack([L, a, b]).reshape(3, 1, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image warns about the negative Z it clips
        reference = lab2rgb(lab.permute(1, 2, 0).double().numpy())
    rgb = lab_to_rgb(lab)
    assert np.abs(rgb.permute(1, 2, 0).double().numpy() - reference).max() < 0.01 / 100
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_round_trip_of_every_byte_color_is_exact():
    grid = rgb_grid(3)
    assert torch.equal(lab_to_rgb(rgb_to_lab(grid), dtype=torch.uint8), grid)


def test_lab_to_rgb_is_gamut_safe():
    hostile = torch.tensor([float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 500.0, -40.0, 140.0, 0.0])
    L, a, b = torch.meshgrid(hostile, hostile, hostile, indexing="ij")
    rgb = lab_to_rgb(torch.stack([L, a, b]).reshape(3, 9, 81))
    assert torch.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1
    # Saturated but valid L: clipped to the nearest edge of the gamut, no wrap-around to dark colors.
    red = lab_to_rgb(torch.tensor([60.0, 200.0, 100.0]).view(3, 1, 1)).flatten()
    assert red[0] > 0.999 and red[1] < 0.2 and red[2] < 0.2


def test_batched_and_chunked_paths_agree(monkeypatch):
    torch.manual_seed(0)
    images = (torch.rand(2, 3, 300, 500) * 255).to(torch.uint8)
    monkeypatch.setattr(color, "_CHUNK_PIXELS", 1 << 12)  # force many chunks over 2 threads
    chunked = rgb_to_lab(images)
    per_image = torch.stack([color._rgb_to_lab_pixels(img.reshape(3, -1)).reshape(3, 300, 500) for img in images])
    assert torch.equal(chunked, per_image)
    assert torch.equal(lab_to_rgb(chunked, dtype=torch.uint8), images)


def test_gray_to_l_is_the_l_of_a_gray_color():
    levels = torch.arange(256, dtype=torch.uint8)
    gray_rgb = levels.view(1, 1, 256).expand(3, 1, 256)
    assert torch.allclose(gray_to_l(levels), rgb_to_l(gray_rgb)[0, 0], atol=1e-3)
    assert torch.allclose(gray_to_l(levels.float() / 255), gray_to_l(levels), atol=1e-3)
    assert abs(gray_to_l(torch.tensor([128], dtype=torch.uint8)).item() - 53.585) < 0.01


def test_normalisation_round_trip():
    L = torch.tensor([0.0, 50.0, 100.0])
    assert torch.allclose(color.normalize_l(L), torch.tensor([-1.0, 0.0, 1.0]))
    ab = torch.tensor([-110.0, 55.0])
    assert torch.allclose(color.denormalize_ab(color.normalize_ab(ab)), ab)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        rgb_to_lab(torch.zeros(4, 8, 8))


def test_is_grayscale_tells_black_and_white_from_muted_color():
    rng = np.random.default_rng(0)
    gray = (rng.random((80, 120)) * 255).astype(np.uint8)
    # A scan of a black-and-white print: gray plus a faint sepia tone and JPEG-like noise.
    scan = np.stack([gray + 3, gray + 1, gray], axis=-1).clip(0, 255).astype(np.uint8)
    assert color.is_grayscale(Image.fromarray(gray, "L"))
    assert color.is_grayscale(Image.fromarray(scan, "RGB"))
    # A hazy, muted landscape: pale blue sky over dull green (C*ab around 8-12).
    muted = np.zeros((80, 120, 3), dtype=np.uint8)
    muted[:40] = (150, 165, 180)
    muted[40:] = (105, 120, 95)
    assert not color.is_grayscale(Image.fromarray(muted, "RGB"))


def test_gray_version_keeps_lightness_and_drops_color():
    photo = np.zeros((4, 4, 3), dtype=np.uint8)
    photo[:2] = (200, 30, 30)
    photo[2:] = (30, 30, 200)
    gray = color.gray_version(photo)
    assert gray.shape == (4, 4) and gray.dtype == np.uint8
    L_photo = rgb_to_lab(torch.from_numpy(photo).permute(2, 0, 1))[0]
    L_gray = gray_to_l(torch.from_numpy(gray))
    assert torch.allclose(L_photo, L_gray, atol=0.5)


def test_gray_version_is_the_lab_round_trip_with_a_and_b_zeroed_for_every_srgb_color():
    from pix2pix_color.core.color import gray_version, lab_to_rgb, rgb_to_lab

    every = np.stack(np.meshgrid(*[np.arange(256)] * 3, indexing="ij"), -1).reshape(4096, 4096, 3).astype(np.uint8)
    lab = rgb_to_lab(torch.from_numpy(every).permute(2, 0, 1))
    lab[1:] = 0
    assert np.array_equal(gray_version(every), lab_to_rgb(lab, dtype=torch.uint8)[1].numpy())
