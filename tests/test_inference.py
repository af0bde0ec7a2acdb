import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from pix2pix_color import Colorizer, ImageError
from pix2pix_color.color import gray_to_l, rgb_to_l
from pix2pix_color.inference import working_shape

from .conftest import landscape, tiny_generator


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(tiny_generator())


def luminance(image: Image.Image) -> np.ndarray:
    """L* of what the image shows (alpha ignored), from its own pixels."""
    if image.mode in ("L", "LA"):
        return gray_to_l(torch.from_numpy(np.array(image.convert("L")))).numpy()
    if image.mode == "I;16":
        return gray_to_l(torch.from_numpy(np.array(image).astype(np.float32) / 65535)).numpy()
    rgb = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
    return rgb_to_l(rgb)[0].numpy()


def as_mode(photo: Image.Image, mode: str) -> Image.Image:
    if mode == "I;16":
        gray = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
        return Image.fromarray(gray)  # uint16 -> mode I;16
    if mode == "P":
        return photo.convert("P", palette=Image.ADAPTIVE, colors=64)
    if mode in ("LA", "RGBA"):
        image = photo.convert(mode)
        alpha = Image.linear_gradient("L").resize(photo.size)
        image.putalpha(alpha)
        return image
    return photo.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "L", "LA", "RGBA", "P", "CMYK", "I;16", "1"])
@pytest.mark.parametrize("size", [(97, 61), (64, 64), (3, 250), (1, 1)])
def test_colorize_keeps_size_alpha_and_luminance(colorizer, mode, size):
    source = as_mode(landscape(*size), mode)
    out = colorizer.colorize(source)
    assert out.size == source.size
    assert out.mode == ("RGBA" if mode in ("LA", "RGBA") else "RGB")
    if out.mode == "RGBA":
        assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(source.getchannel("A")))
    reference = luminance(source.convert("RGB") if mode in ("P", "CMYK", "1") else source)
    difference = np.abs(luminance(out.convert("RGB")) - reference)
    assert difference.mean() < 0.6 and np.percentile(difference, 99) < 2.0  # 8-bit rounding, rare gamut clips


def test_exif_orientation_is_applied(colorizer, tmp_path):
    photo = landscape(60, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    photo.save(path, exif=exif, quality=95)
    shown = ImageOps.exif_transpose(Image.open(path))
    assert shown.size == (40, 60)
    out = colorizer.colorize(path)
    assert out.size == (40, 60)
    assert np.abs(luminance(out) - luminance(shown)).mean() < 0.6


def test_colorize_is_deterministic_and_batch_equals_single(colorizer, photos):
    mixed = photos[:3] + [landscape(50, 120, seed=9), photos[3].convert("L")]
    singles = [np.asarray(colorizer.colorize(p)) for p in mixed]
    batched = [np.asarray(o) for o in colorizer.colorize_batch(mixed, batch_size=2)]
    again = [np.asarray(o) for o in colorizer.colorize_batch(mixed)]
    for a, b, c in zip(singles, batched, again):
        assert np.array_equal(b, c)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # batched convolutions may round differently


def test_working_resolution():
    assert working_shape(3000, 4000, 256, 32) == (192, 256)
    assert working_shape(4000, 3000, 256, 32) == (256, 192)
    assert working_shape(1, 10000, 256, 256) == (256, 256)
    assert working_shape(150, 150, 128, 128) == (128, 128)
    assert working_shape(100, 100, 200, 64) == (192, 192)


def test_working_size_changes_the_prediction_resolution(photos):
    colorizer = Colorizer(tiny_generator(), working_size=64)
    L = torch.rand(1, 1, 96, 128) * 100
    ab = colorizer.predict_ab(L)
    assert ab.shape == (1, 2, 96, 128)
    assert not torch.equal(ab, colorizer.predict_ab(L, working_size=128))


@pytest.mark.parametrize(
    "payload, message",
    [(b"", "empty"), (b"definitely not an image", "not an image"), (None, "truncated")],
)
def test_bad_inputs_raise_image_error(colorizer, payload, message):
    if payload is None:
        buffer = io.BytesIO()
        landscape(200, 200).save(buffer, format="PNG")
        payload = buffer.getvalue()[:3000]
    with pytest.raises(ImageError, match=message):
        colorizer.colorize(payload)


def test_pixel_cap(tmp_path):
    colorizer = Colorizer(tiny_generator(), max_pixels=10_000)
    with pytest.raises(ImageError, match="megapixels"):
        colorizer.colorize(Image.new("L", (200, 100)))
