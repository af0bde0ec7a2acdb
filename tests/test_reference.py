"""Colors from a reference photo (`colorize(..., reference=)`, `--reference`, the app's
/colorize_reference): regions are matched by the encoder's features, their colors carried as weighted
hints; a mirrored and cropped copy of the real photo still gives its colors back, an unrelated one
does little harm, a black-and-white one is refused with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color import Colorizer, ImageError
from pix2pix_color.cli import main
from pix2pix_color.core.propagation import propagate_hints
from pix2pix_color.evaluation.metrics import hue_hit_rate, psnr
from pix2pix_color.pipeline.reference import match

DATA = Path(__file__).parent / "data"


def real_photo(name: str) -> Image.Image:
    return Image.open(DATA / name).convert("RGB")


def mirrored_and_cropped(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.transpose(Image.FLIP_LEFT_RIGHT).crop((w // 8, h // 8, w - w // 8, h - h // 8))


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained()


def test_a_weighted_hint_blends_by_its_weight():
    L = torch.full((1, 16, 16), 50.0)
    ab = torch.zeros(2, 16, 16)
    for weight in (1.0, 0.5):
        hints = torch.zeros(3, 16, 16)
        hints[:, 8, 8] = torch.tensor([40.0, -20.0, weight])
        out = propagate_hints(L, ab, hints)
        assert torch.allclose(out[:, 8, 8], weight * torch.tensor([40.0, -20.0]), atol=1.0)


def test_matching_trusts_what_it_finds_both_ways():
    rng = np.random.default_rng(0)
    features = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(32, 6))).float(), dim=0)
    L = torch.full((6,), 50.0)
    ab = torch.from_numpy(rng.uniform(-40, 40, size=(6, 2))).float()
    colors, weight = match(features, L, features, L, ab)  # the photo as its own reference
    assert torch.allclose(colors, ab, atol=0.5) and bool((weight > 0.99).all())
    stranger = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(32, 6))).float(), dim=0)
    _, weight = match(stranger, L, features, L, ab)  # nothing alike: random directions in 32 dimensions
    assert float(weight.max()) < 0.05


@pytest.mark.parametrize("name", ["bridge_color.jpg", "summer_1am_color.jpg"])
def test_the_real_photo_or_a_mirrored_crop_of_it_gives_its_colors_back(colorizer, name):
    real = real_photo(name)
    gray, target = real.convert("L"), np.asarray(real)
    automatic = np.asarray(colorizer.colorize(gray))
    itself = colorizer.colorize(gray, reference=real)
    assert itself.size == real.size
    cropped = np.asarray(colorizer.colorize(gray, reference=mirrored_and_cropped(real)))
    itself = np.asarray(itself)
    assert psnr(itself, target) > psnr(automatic, target) + 4.0
    assert hue_hit_rate(itself, target) > 0.95
    assert psnr(cropped, target) > psnr(automatic, target) + 2.0
    assert hue_hit_rate(cropped, target) >= hue_hit_rate(automatic, target)


def test_an_unrelated_reference_does_little_harm(colorizer):
    real, other = real_photo("bridge_color.jpg"), real_photo("summer_1am_color.jpg")
    gray, target = real.convert("L"), np.asarray(real)
    automatic = psnr(np.asarray(colorizer.colorize(gray)), target)
    assert psnr(np.asarray(colorizer.colorize(gray, reference=other)), target) > automatic - 1.5


def test_hints_win_over_the_reference_where_they_are(colorizer):
    real = real_photo("bridge_color.jpg")
    out = colorizer.colorize(real.convert("L"), reference=real, hints=[(30, 20, "#d03020")])
    r, g, b = np.asarray(out)[18:23, 28:33].reshape(-1, 3).mean(axis=0)
    assert r > g + 40 and r > b + 40  # the sky made red where the user clicked, blue in the reference


def test_a_black_and_white_reference_is_refused_with_a_reason(colorizer, tmp_path):
    real = real_photo("bridge_color.jpg")
    with pytest.raises(ImageError, match="reference photo .*black and white: it has no colors to give"):
        colorizer.colorize(real.convert("L"), reference=real.convert("L").convert("RGB"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match="reference photo"):
        colorizer.colorize(real.convert("L"), reference=broken)


def test_cli_reference(tmp_path, capsys):
    real = real_photo("summer_1am_color.jpg")
    folder = tmp_path / "old"
    folder.mkdir()
    real.convert("L").save(folder / "lake.png")
    real.convert("L").resize((200, 150)).save(folder / "lake_small.png")
    reference = tmp_path / "today.jpg"
    mirrored_and_cropped(real).save(reference, quality=95)
    out = tmp_path / "out"
    assert main(["colorize", str(folder), "-o", str(out), "--reference", str(reference), "-q"]) == 0
    assert Image.open(out / "lake_small.png").size == (200, 150)
    target = np.asarray(real)
    automatic = np.asarray(Colorizer.from_pretrained().colorize(real.convert("L")))
    assert psnr(np.asarray(Image.open(out / "lake.png").convert("RGB")), target) > psnr(automatic, target) + 2.0
    gray_reference = tmp_path / "gray.png"
    real.convert("L").save(gray_reference)
    assert main(["colorize", str(folder), "-o", str(out), "--reference", str(gray_reference)]) == 2
    assert "black and white" in capsys.readouterr().err


def test_app_api_and_photo_tab_take_a_reference(app_client, colorizer, tmp_path):
    gr = pytest.importorskip("gradio")
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    import app

    real = real_photo("summer_1am_color.jpg")
    photo, reference = tmp_path / "lake.png", tmp_path / "today.jpg"
    real.convert("L").save(photo)
    mirrored_and_cropped(real).save(reference, quality=95)
    target = np.asarray(real)
    automatic = psnr(np.asarray(colorizer.colorize(real.convert("L"))), target)
    png = app_client.predict(handle_file(str(photo)), handle_file(str(reference)), api_name="/colorize_reference")
    assert Image.open(png).size == real.size
    assert psnr(np.asarray(Image.open(png).convert("RGB")), target) > automatic + 2.0
    gray = tmp_path / "gray.png"
    real.convert("L").save(gray)
    with pytest.raises(AppError, match="black and white"):
        app_client.predict(handle_file(str(photo)), handle_file(str(gray)), api_name="/colorize_reference")
    # The photo tab: the reference's colors, and the strength slider redoes them without the network.
    h = app.Handlers(colorizer)
    shown, state = h.colorize_and_keep(str(photo), "Auto", app.COMPARE_GRAY, 1.0, [], False, str(reference))
    assert "reference photo" in shown.note and psnr(np.asarray(shown.result), target) > automatic + 2.0
    assert psnr(np.asarray(Image.open(shown.pair[1])), target) > automatic + 2.0  # the slider's picture too
    assert psnr(np.asarray(h.restrength(state, 1.0).result), target) > automatic + 2.0
    with pytest.raises(gr.Error, match="black and white"):
        h.colorize_and_keep(str(photo), "Auto", app.COMPARE_GRAY, 1.0, [], False, str(gray))


def test_reference_upload_in_a_real_browser(app_server, browser, tmp_path):
    real = real_photo("summer_1am_color.jpg")
    photo, reference = tmp_path / "lake.png", tmp_path / "today.jpg"
    real.convert("L").save(photo)
    mirrored_and_cropped(real).save(reference, quality=95)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(app_server, wait_until="load")
    page.locator("#photo-input input[type=file]").set_input_files(str(photo))
    page.get_by_text("Colors from a reference photo").click()
    page.locator("#reference-input input[type=file]").set_input_files(str(reference))
    page.locator("#reference-input img").first.wait_for(state="visible", timeout=60_000)
    page.locator("#colorize-button").click()
    page.locator("#result-info").get_by_text("Colors taken from your reference photo").wait_for(timeout=120_000)
    page.close()


def test_a_video_takes_the_colors_of_a_frame_of_its_color_film(colorizer, tmp_path, monkeypatch):
    pytest.importorskip("av")
    from pix2pix_color.video.frames import _Writer

    from .video_files import make_clip

    real = np.asarray(real_photo("summer_1am_color.jpg"))

    def color_frame(w: int, h: int, i: int) -> np.ndarray:  # a slow pan over the lake
        return np.ascontiguousarray(real[:h, 3 * i : 3 * i + w])

    def gray_frame(w: int, h: int, i: int) -> np.ndarray:
        return np.asarray(Image.fromarray(color_frame(w, h, i)).convert("L").convert("RGB"))

    clip = make_clip(tmp_path / "lake.mp4", size=(320, 240), frames=10, frame_source=gray_frame)
    encoded: list[np.ndarray] = []
    original = _Writer.video_frame
    monkeypatch.setattr(
        _Writer, "video_frame", lambda self, rgb, t: (encoded.append(rgb.copy()), original(self, rgb, t))[1]
    )
    colorizer.colorize_video(clip, tmp_path / "auto.mp4")
    automatic, encoded[:] = list(encoded), []
    reference = Image.fromarray(color_frame(320, 240, 9))  # the last frame of the color print
    colorizer.colorize_video(clip, tmp_path / "reference.mp4", reference=reference)
    truth = [color_frame(320, 240, i) for i in range(10)]
    before = np.mean([psnr(a, t) for a, t in zip(automatic, truth)])
    after = np.mean([psnr(a, t) for a, t in zip(encoded, truth)])
    assert len(encoded) == 10 and after > before + 3.0, (before, after)
    with pytest.raises(ImageError, match="black and white"):
        colorizer.colorize_video(clip, tmp_path / "gray.mp4", reference=reference.convert("L"))
    assert not (tmp_path / "gray.mp4").exists()


def test_matching_in_blocks_gives_the_whole_matrices_colors():
    """N5: the reference matching works through blocks of target cells (bounded memory at any working
    size); its colors and weights are those of the whole (N, M) matrices at once."""
    import torch.nn.functional as F

    from pix2pix_color.pipeline.reference import match

    torch.manual_seed(0)
    channels, n, m = 32, 300, 260
    anchors = F.normalize(torch.randn(channels, 40), dim=0)
    # Cells that resemble each other, as a photo's do: noisy copies of a few patterns.
    features_t = F.normalize(anchors[:, torch.randint(0, 40, (n,))] + 0.3 * torch.randn(channels, n), dim=0)
    features_r = F.normalize(anchors[:, torch.randint(0, 40, (m,))] + 0.3 * torch.randn(channels, m), dim=0)
    L_t, L_r, ab_r = torch.rand(n) * 100, torch.rand(m) * 100, torch.randn(m, 2) * 30
    whole = match(features_t, L_t, features_r, L_r, ab_r, block_elements=n * m)
    assert whole[1].max() > 0.5  # the test has confident matches to compare
    for block in (1, 7 * m, 100 * m):
        colors, weight = match(features_t, L_t, features_r, L_r, ab_r, block_elements=block)
        torch.testing.assert_close(colors, whole[0], atol=1e-3, rtol=0)
        torch.testing.assert_close(weight, whole[1], atol=1e-3, rtol=0)
