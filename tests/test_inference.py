import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from pix2pix_color import Colorizer, ImageError
from pix2pix_color.core.color import gray_to_l, rgb_to_l
from pix2pix_color.core.image_processor import working_shape

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


def test_working_size_changes_the_prediction_resolution():
    colorizer = Colorizer(tiny_generator(), working_size=64)
    L = torch.rand(1, 1, 96, 128) * 100
    ab = colorizer.engine.predict_ab(L)
    assert ab.shape == (1, 2, 96, 128)
    assert not torch.equal(ab, colorizer.engine.predict_ab(L, working_size=128))


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


def test_pixel_cap():
    colorizer = Colorizer(tiny_generator(), max_pixels=10_000)
    with pytest.raises(ImageError, match="megapixels"):
        colorizer.colorize(Image.new("L", (200, 100)))


def test_guided_upsampling_never_adds_chroma_on_a_noisy_photo():
    """Grain in L* at full resolution must not be turned into stronger color than was predicted."""
    from pix2pix_color.core.image_processor import guided_upsample

    torch.manual_seed(0)
    L_full = (50 + 25 * torch.randn(1, 1, 256, 256)).clamp(0, 100)  # per-pixel noise
    L_low = torch.nn.functional.interpolate(L_full, size=(64, 64), mode="area")
    ab_low = torch.zeros(1, 2, 64, 64)
    ab_low[:, 0, :, :32], ab_low[:, 1, :, :32] = -30.0, 25.0  # a green half...
    ab_low[:, :, :, 32:] = 3.0  # ...and a nearly gray half
    ab_low += torch.randn_like(ab_low)
    ab = guided_upsample(L_low, ab_low, L_full)
    assert ab.shape == (1, 2, 256, 256)
    chroma = torch.linalg.vector_norm(ab, dim=1)
    assert float(chroma.max()) <= float(torch.linalg.vector_norm(ab_low, dim=1).max()) + 1e-3
    assert float(chroma[..., 140:].mean()) < 8  # the gray half stays gray under the grain
    # Edges still follow L*: a clean step in L* with a color step at the same place stays sharp.
    step = torch.zeros(1, 1, 256, 256)
    step[..., 128:] = 80.0
    ab_step = torch.zeros(1, 2, 64, 64)
    ab_step[:, 1, :, 32:] = 40.0
    sharp = guided_upsample(torch.nn.functional.interpolate(step, size=(64, 64), mode="area"), ab_step, step)
    assert float(sharp[0, 1, :, 120].mean()) < 5 and float(sharp[0, 1, :, 136].mean()) > 35


def test_png_keeps_exif_states_srgb_and_names_program_and_model(tmp_path):
    from pix2pix_color.io.images import save_png

    exif = Image.Exif()
    exif[0x0132] = "1952:07:14 10:30:00"  # DateTime
    exif[0x010F] = "Leica"  # Make
    exif[0x0112] = 6  # Orientation: rotated, applied on the way in
    source = tmp_path / "scan.jpg"
    landscape(90, 60).convert("L").save(source, exif=exif.tobytes())
    colorizer = Colorizer(tiny_generator(), model_id="org/model")
    out = colorizer.colorize(source)
    assert out.size == (60, 90)  # the orientation was applied
    save_png(out, tmp_path / "scan.png")
    written = Image.open(tmp_path / "scan.png")
    kept = written.getexif()
    assert kept[0x0132] == "1952:07:14 10:30:00" and kept[0x010F] == "Leica"
    assert kept.get(0x0112, 1) == 1  # pixels are upright: no orientation left to apply twice
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(written.info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    assert written.info["Description"].startswith("colorized by pix2pix-color ")
    assert written.info["Description"].endswith(", model org/model")


def test_a_batch_holds_at_most_batch_size_decoded_photos_however_many_are_given(colorizer, monkeypatch):
    """20 photos, batch 4: never more than 4 full-resolution L* alive at once (they are weak-referenced)."""
    import gc
    import weakref

    from pix2pix_color.pipeline.engine import Engine

    alive: list[weakref.ref] = []
    peak = {"n": 0}
    real_prepare = Engine._prepare

    def counting_prepare(self, image, hints):
        gc.collect()
        prepared = real_prepare(self, image, hints)
        alive.append(weakref.ref(prepared.L))
        peak["n"] = max(peak["n"], sum(ref() is not None for ref in alive))
        return prepared

    monkeypatch.setattr(Engine, "_prepare", counting_prepare)
    photos = [landscape(64, 48, seed=i) for i in range(20)]
    results = colorizer.colorize_batch(photos, batch_size=4)
    assert [r.size for r in results] == [(64, 48)] * 20
    assert peak["n"] <= 4
    streamed = colorizer.colorize_iter(photos[:3], batch_size=2)
    assert [r.size for r in streamed] == [(64, 48)] * 3


def test_mirror_average_colors_a_mirrored_photo_as_the_mirror_of_its_colors():
    torch.manual_seed(3)
    G = tiny_generator()
    with torch.no_grad():  # an untrained net is nearly gray: give it strong, lopsided colors
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    colorizer = Colorizer(G)
    photo = landscape(100, 72, seed=5).convert("L")
    plain = np.asarray(colorizer.colorize(photo), dtype=np.int16)
    mirrored_plain = np.asarray(colorizer.colorize(ImageOps.mirror(photo)), dtype=np.int16)[:, ::-1]
    assert np.abs(plain - mirrored_plain).max() > 3  # the network alone is not mirror-symmetric...
    averaged = Colorizer(G, mirror_average=True)
    tta = np.asarray(averaged.colorize(photo), dtype=np.int16)
    tta_of_mirror = np.asarray(averaged.colorize(ImageOps.mirror(photo)), dtype=np.int16)[:, ::-1]
    assert np.abs(tta - tta_of_mirror).max() <= 1  # ...the average is (up to rounding)
    # It is the mean of the two guesses: between them wherever they differ.
    a, b = np.minimum(plain, mirrored_plain), np.maximum(plain, mirrored_plain)
    assert ((tta >= a - 2) & (tta <= b + 2)).mean() > 0.99
    assert np.abs(luminance(Image.fromarray(tta.astype(np.uint8))) - luminance(photo)).mean() < 0.5


def test_colorize_iter_reads_a_generator_a_batch_at_a_time():
    """Streams, not lists (review M7): a generator of inputs is read batch_size at a time, so the
    first results come back before the later inputs are even made."""
    from pix2pix_color import Colorizer

    from .conftest import landscape, tiny_generator

    made = []

    def photos():
        for i in range(7):
            made.append(i)
            yield landscape(48, 32, seed=i).convert("L")

    results = Colorizer(tiny_generator()).colorize_iter(photos(), batch_size=3)
    first = next(results)
    assert first.size == (48, 32) and made == [0, 1, 2]
    assert len([first, *results]) == 7 and made == list(range(7))


def test_a_kept_prediction_renders_any_strength_as_colorize_does():
    """The app's live strength slider: one network run, then any strength gives exactly the image
    colorize gives at that strength (hints kept as given)."""
    import numpy as np

    from pix2pix_color import Colorizer

    from .conftest import landscape, tiny_generator

    colorizer = Colorizer(tiny_generator(hints=True))
    photo = landscape(96, 64).convert("L")
    hints = [(20, 30, "#c0392b")]
    kept = colorizer.engine.prediction(photo, hints=hints)
    for strength in (0.0, 0.6, 1.0, 1.7):
        expected = colorizer.colorize(photo, hints=hints, color_strength=strength)
        assert np.array_equal(np.asarray(colorizer.engine.render(kept, strength)), np.asarray(expected))


def test_a_colorizer_leaves_the_callers_model_as_it_was():
    """A training loop's generator stays in training mode (and on its device) when a Colorizer wraps it."""
    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    generator = tiny_generator().train()
    colorizer = Colorizer(generator)
    assert generator.training and not colorizer.generator.training
