"""Restoring old photos (`Colorizer.restore`, `pix2pix-color restore`, the app's /restore): the fading
simulation does what the dye physics says, `assess` tells faded color from sepia and black and white,
and on a committed color photo faded as a print fades the restoration is closer to the real colors
than the faded input, a gray-world correction and colorizing its gray version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix_color import Colorizer, ColorizeRequest
from pix2pix_color.cli import main
from pix2pix_color.evaluation.metrics import hue_hit_rate
from pix2pix_color.pipeline.assessment import assess, hue_spread, lab_of, linear_to_srgb, srgb_to_linear
from pix2pix_color.pipeline.fading_curves import estimate_curves
from pix2pix_color.synthetic.fading import SEPIA_HUE_DEG, Fading, fade, random_fading, sepia_tone

DATA = Path(__file__).parent / "data"
# A print whose cyan dye kept half its density, magenta 80%, yellowed and with lifted blacks.
PRINT = Fading(cyan=0.5, magenta=0.8, yellow=0.95, stain=0.08, flare=0.06)


def real_photo(name: str = "bridge_color.jpg") -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIE76 color difference between two (H,W,3) uint8 photos."""
    return float(np.linalg.norm(lab_of(a) - lab_of(b), axis=-1).mean())


def gray_world(rgb: np.ndarray) -> np.ndarray:
    x = srgb_to_linear(rgb)
    means = x.reshape(-1, 3).mean(0)
    return np.round(linear_to_srgb(x * means.mean() / means) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained()


def test_fading_follows_the_dyes():
    gray = np.full((8, 8, 3), 128, np.uint8)
    assert np.array_equal(fade(gray, Fading()), gray)
    red, green, blue = fade(gray, Fading(cyan=0.5)).reshape(-1, 3)[0].astype(int)
    assert red > green + 30 and green == blue  # cyan absorbs red: with less of it the gray turns red
    L, a, b = lab_of(fade(gray, Fading(stain=0.1)))[0, 0]
    assert b > 5 and abs(a) < 3  # stain yellows
    black = np.zeros((8, 8, 3), np.uint8)
    assert fade(black, Fading(flare=0.1)).min() > 60  # blacks lifted to 10% of the light
    with pytest.raises(ValueError, match="cyan"):
        Fading(cyan=0.0)


def test_sepia_has_one_warm_hue_that_follows_lightness():
    toned = sepia_tone(real_photo(), 20.0)
    lab = lab_of(toned).reshape(-1, 3)
    colored = np.hypot(lab[:, 1], lab[:, 2]) > 5
    hues = np.degrees(np.arctan2(lab[colored, 2], lab[colored, 1]))
    assert colored.mean() > 0.3
    assert abs(np.median(hues) - SEPIA_HUE_DEG) < 5 and np.percentile(np.abs(hues - SEPIA_HUE_DEG), 90) < 10


def test_assess_tells_faded_color_from_sepia_and_black_and_white():
    real = real_photo()
    assert assess(real).kind == "color"
    assert assess(fade(real, PRINT)).kind == "color"
    gray = np.repeat(np.asarray(Image.fromarray(real).convert("L"))[..., None], 3, axis=2)
    assert assess(gray).kind == "gray"
    sepia = assess(sepia_tone(real, 18.0, flare=0.05, stain=0.05))
    assert sepia.kind == "toned" and sepia.tone.shape == (20, 2)
    rng = np.random.default_rng(0)
    for _ in range(5):
        fading = random_fading(rng, sepia_share=0.0)
        assert assess(fade(real, fading)).kind == "color", fading


def test_a_photo_whose_colors_follow_lightness_but_turn_in_hue_is_color():
    """A dusk: dark blue sky, bright orange lamps. One a*b* per L* explains it, as it would a sepia,
    but its hue turns with lightness, which no toning does."""
    L = np.linspace(5, 95, 256)[None, :].repeat(64, axis=0)
    hue = np.radians(np.interp(L, [5, 95], [-90, 60]))
    lab = np.stack([L, 25 * np.cos(hue), 25 * np.sin(hue)], axis=-1)
    from skimage.color import lab2rgb

    dusk = np.round(np.clip(lab2rgb(lab), 0, 1) * 255).astype(np.uint8)
    found = assess(dusk)
    assert found.residual < 4  # the residual alone would call it toned
    assert found.kind == "color"
    assert hue_spread(np.array([[10.0, 10.0], [20.0, 21.0], [0.5, 0.5]])) < 3


@pytest.mark.parametrize("name", ["bridge_color.jpg", "summer_1am_color.jpg"])
def test_curves_alone_give_back_most_of_the_cyan_dye(name):
    real = real_photo(name)
    faded = fade(real, PRINT)
    curves = estimate_curves(srgb_to_linear(faded).reshape(-1, 3))
    assert np.all(curves.black > 0.03)  # the lifted blacks (6% flare) are found and brought down
    corrected = curves.apply(srgb_to_linear(faded))
    assert np.allclose(np.percentile(corrected.reshape(-1, 3), 99.5, axis=0), 1.0, atol=0.02)
    corrected = np.round(linear_to_srgb(corrected) * 255).astype(np.uint8)
    red_error = np.abs(corrected[..., 0].astype(int) - real[..., 0]).mean()
    assert red_error < 0.5 * np.abs(faded[..., 0].astype(int) - real[..., 0]).mean()  # the channel cyan dims
    assert delta_e(corrected, real) < 0.85 * delta_e(faded, real)


def test_restore_brings_a_faded_print_closer_to_its_real_colors(colorizer):
    """Per photo it beats the faded input and a gray-world correction by a margin and gets more hues
    right than colorizing the gray version; in color difference the model alone can win on a photo
    it knows well (the bridge: sky and sand), so that comparison is over both photos."""
    errors = []
    for name in ("bridge_color.jpg", "summer_1am_color.jpg"):
        real = real_photo(name)
        faded = fade(real, PRINT)
        restored = colorizer.restore(Image.fromarray(faded))
        assert restored.size == (real.shape[1], real.shape[0]) and restored.info["restoration"] == "color"
        out = np.asarray(restored)
        recolored = np.asarray(colorizer.colorize(Image.fromarray(faded).convert("L")))
        error = {
            "faded": delta_e(faded, real),
            "gray world": delta_e(gray_world(faded), real),
            "colorize gray": delta_e(recolored, real),
            "restore": delta_e(out, real),
        }
        assert error["restore"] < 0.9 * min(error["faded"], error["gray world"]), (name, error)
        assert hue_hit_rate(out, real) > max(hue_hit_rate(faded, real), hue_hit_rate(recolored, real)), name
        errors.append(error)
    mean = {key: np.mean([e[key] for e in errors]) for key in errors[0]}
    assert mean["restore"] < 0.8 * mean["colorize gray"], mean


def test_a_sepia_print_is_colorized_and_keeps_its_tone_on_request(colorizer):
    real = real_photo()
    sepia = Image.fromarray(sepia_tone(real, 20.0))
    plain = colorizer.restore(sepia)
    assert plain.info["restoration"] == "toned"
    # Without the tone: the colorization of its lightness, as `colorize` makes it.
    expected = np.asarray(colorizer.colorize(sepia), dtype=int)
    assert np.abs(np.asarray(plain, dtype=int) - expected).mean() < 1.0
    toned = colorizer.restore(sepia, keep_tone=True)
    shift = (lab_of(np.asarray(toned)) - lab_of(np.asarray(plain)))[..., 1:].reshape(-1, 2)
    mid = np.abs(lab_of(np.asarray(sepia))[..., 0].reshape(-1) - 50) < 20
    hue = np.degrees(np.arctan2(np.median(shift[mid, 1]), np.median(shift[mid, 0])))
    assert np.hypot(*np.median(shift[mid], axis=0)) > 8 and abs(hue - SEPIA_HUE_DEG) < 15


def test_restore_keeps_transparency_and_takes_grayscale_files(colorizer):
    faded = Image.fromarray(fade(real_photo(), PRINT)).convert("RGBA")
    alpha = Image.new("L", faded.size, 255)
    alpha.paste(0, (0, 0, 40, 40))
    faded.putalpha(alpha)
    out = colorizer.run(ColorizeRequest(faded, restore=True, confidence=True))
    restored, confidence = out.image, out.confidence
    assert restored.mode == "RGBA" and restored.getchannel("A").getpixel((5, 5)) == 0
    assert confidence.map.shape == (faded.height, faded.width) and 0 <= confidence.map.min() <= 1
    gray = colorizer.restore(Image.fromarray(real_photo()).convert("L"))
    assert gray.info["restoration"] == "gray" and gray.mode == "RGB"


def test_cli_restores_a_folder_and_skips_a_broken_file(tmp_path, capsys):
    folder = tmp_path / "prints"
    folder.mkdir()
    real = real_photo()
    Image.fromarray(fade(real, PRINT)).save(folder / "faded.jpg", quality=95)
    Image.fromarray(sepia_tone(real, 18.0)).save(folder / "sepia.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "restored"
    assert main(["restore", str(folder), "-o", str(out), "--confidence-map", "-q"]) == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.jpg" in err
    written = sorted(p.name for p in out.iterdir())
    assert written == ["faded.confidence.png", "faded.png", "sepia.confidence.png", "sepia.png"]
    assert Image.open(out / "faded.png").size == (real.shape[1], real.shape[0])
    assert main(["restore", str(folder / "sepia.png"), "-o", str(out / "again")]) == 0
    assert "1 restored into" in (err := capsys.readouterr().err) and err.rstrip().endswith(": 1 toned (colorized)")
    pytest.importorskip("av")
    from .video_files import make_clip

    reel = lambda w, h, i: fade(real[:h, i : i + w], PRINT)  # noqa: E731
    make_clip(folder / "reel.mp4", size=(192, 128), frames=4, frame_source=reel)
    assert main(["restore", str(folder / "reel.mp4"), "-o", str(out / "films"), "-q"]) == 0
    assert (out / "films" / "reel.mp4").is_file()


def test_app_restore_endpoint(colorizer, tmp_path):
    pytest.importorskip("gradio")
    import gradio as gr

    import app

    h = app.Handlers(colorizer)
    upload = tmp_path / "faded.jpg"
    Image.fromarray(fade(real_photo(), PRINT)).save(upload, quality=95)
    path, info = h.restore_photo(str(upload))
    assert info == {"restoration": "color", "repaired": 0.0}
    assert Image.open(path).size == Image.open(upload).size
    shown = h.restore_ui(str(upload), False, True)
    before, after = (Image.open(p) for p in shown.pair)
    assert after.size == before.size and "faded color" in shown.note and shown.result.size == Image.open(upload).size
    assert Image.open(app.DOWNLOADS.ready(shown.png)).size == Image.open(upload).size
    bad = tmp_path / "notes.jpg"
    bad.write_text("hello")
    with pytest.raises(gr.Error):
        h.restore_photo(str(bad))


def test_a_faded_film_is_restored_frame_by_frame(colorizer, tmp_path):
    pytest.importorskip("av")
    from pix2pix_color.video.frames import read_frames

    from .video_files import make_clip

    real = real_photo("summer_1am_color.jpg")

    def real_frame(w: int, h: int, i: int) -> np.ndarray:  # a slow pan over the lake
        return np.ascontiguousarray(real[:h, 3 * i : 3 * i + w])

    faded = make_clip(tmp_path / "faded.mp4", size=(320, 240), frames=8, frame_source=lambda w, h, i: fade(
        real_frame(w, h, i), PRINT))  # fmt: skip
    result = colorizer.restore_video(faded, tmp_path / "restored.mp4")
    assert result.restoration == "color" and result.frames == 8
    colorized = colorizer.colorize_video(faded, tmp_path / "colorized.mp4").path
    truth = [real_frame(320, 240, i) for i in range(8)]
    error = {
        name: np.mean([delta_e(frame, t) for frame, t in zip(read_frames(path), truth)])
        for name, path in (("faded", faded), ("restored", result.path), ("colorized", colorized))
    }
    assert error["restored"] < 0.9 * min(error["faded"], error["colorized"]), error
    sepia = make_clip(tmp_path / "sepia.mp4", size=(320, 240), frames=4, frame_source=lambda w, h, i: sepia_tone(
        real_frame(w, h, i), 20.0))  # fmt: skip
    toned = colorizer.restore_video(sepia, tmp_path / "toned.mp4", keep_tone=True)
    assert toned.restoration == "toned"
    hues = lab_of(next(iter(read_frames(toned.path))))[..., 1:].reshape(-1, 2).mean(axis=0)
    assert hues[1] > 5  # the sepia tone kept on top: yellow-brown


def test_a_well_kept_color_film_comes_back_as_it_was(colorizer, tmp_path, monkeypatch):
    """Do no harm, for films too: a color film whose frames show no fading is not "restored" (the
    film path used to apply the statistics' curves in full and fill its gray things with the model's
    colors whatever it found: 15.9 CIE76 on this clip), and its frames do not go through the model
    only to have its colors dropped."""
    pytest.importorskip("av")
    import pix2pix_color.video.frames as frames
    from pix2pix_color.video.frames import read_frames

    from .video_files import make_clip

    real = real_photo("seeding_color.jpg")
    clip = make_clip(tmp_path / "kept.mp4", size=(320, 240), frames=6,
                     frame_source=lambda w, h, i: np.ascontiguousarray(real[:h, 3 * i : 3 * i + w]))  # fmt: skip

    def no_model(*args, **kwargs):
        raise AssertionError("the model colored every frame of a film that needs nothing filled in")

    monkeypatch.setattr(frames, "_Pipeline", no_model)
    result = colorizer.restore_video(clip, tmp_path / "restored.mp4")
    assert result.restoration == "color" and result.frames == 6
    # What re-encoding alone moves: the same film passed through with nothing done to its frames.
    passed = colorizer.repair_video(clip, tmp_path / "passed.mp4").path
    src = list(read_frames(clip))
    moved = np.mean([delta_e(a, b) for a, b in zip(read_frames(result.path), src)])
    encoding = np.mean([delta_e(a, b) for a, b in zip(read_frames(passed), src)])
    assert moved < encoding + 0.1, (moved, encoding)  # the old path: 15.9


def test_app_video_tab_restores_a_faded_film_and_takes_a_reference(colorizer, tmp_path):
    pytest.importorskip("gradio")
    pytest.importorskip("av")
    import gradio as gr

    import app
    from pix2pix_color.video.frames import read_frames

    from .video_files import make_clip

    real = real_photo("summer_1am_color.jpg")
    frames = lambda w, h, i: fade(real[:h, 2 * i : 2 * i + w], PRINT)  # noqa: E731
    film = make_clip(tmp_path / "faded.mp4", size=(320, 240), frames=4, frame_source=frames)
    h = app.Handlers(colorizer)
    quiet = lambda *args, **kwargs: None  # noqa: E731  # stands in for gr.Progress outside a request
    played, download, note = h.colorize_video_ui(str(film), 1.0, None, True, None, progress=quiet)
    assert played == download and played.endswith("-restored.mp4") and note.startswith("A faded color film")
    restored = next(iter(read_frames(played)))
    assert delta_e(restored, real[:240, :320]) < 0.9 * delta_e(frames(320, 240, 0), real[:240, :320])

    def gray(w: int, h: int, i: int) -> np.ndarray:
        return np.asarray(Image.fromarray(real[:h, i : i + w]).convert("L").convert("RGB"))

    gray_film = make_clip(tmp_path / "gray.mp4", size=(320, 240), frames=4, frame_source=gray)
    reference = tmp_path / "color.jpg"
    Image.fromarray(real).save(reference, quality=95)
    _, _, note = h.colorize_video_ui(str(gray_film), 1.0, None, False, str(reference), progress=quiet)
    assert "reference photo" in note
    gray_reference = tmp_path / "gray.png"
    Image.fromarray(real).convert("L").save(gray_reference)
    with pytest.raises(gr.Error, match="black and white"):
        h.colorize_video_ui(str(gray_film), 1.0, None, False, str(gray_reference), progress=quiet)


def test_restore_tab_in_a_real_browser(app_server, browser, tmp_path):
    import urllib.request

    real = real_photo()
    upload = tmp_path / "faded.png"
    Image.fromarray(fade(real, PRINT)).save(upload)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(app_server, wait_until="load")
    page.get_by_role("tab", name="Restore an old photo").click()
    page.locator("#restore-input input[type=file]").set_input_files(str(upload))
    page.locator("#restore-input img").first.wait_for(state="visible", timeout=60_000)
    # This photo is a bridge's cables against the sky: the damage detector takes long straight wires
    # for scratches (a known limit, README "Repairing damage"), so this test restores without repair.
    page.locator("#restore-repair input").uncheck()
    page.locator("#restore-button").click()
    page.locator("#restore-info").get_by_text("A faded color photo").wait_for(timeout=120_000)
    href = page.locator("#restore-png a").first.get_attribute("href")
    png = tmp_path / "restored.png"
    png.write_bytes(urllib.request.urlopen(href if href.startswith("http") else app_server + href, timeout=60).read())
    page.close()
    restored = np.asarray(Image.open(png).convert("RGB"))
    assert restored.shape == real.shape
    assert delta_e(restored, real) < 0.8 * delta_e(fade(real, PRINT), real)


def test_restore_with_a_regression_head_gives_guesses_not_a_crash(tmp_path):
    """N4: the app's Restore tab and the ComfyUI node ask for the confidence; a regression-head model
    has no distribution to read, so its colors are all guesses (a map of zeros), never a ValueError."""
    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    colorizer = Colorizer(tiny_generator(head="regression"))
    real = real_photo()
    for picture in (Image.fromarray(real).convert("L"), Image.fromarray(sepia_tone(real, 18.0)),
                    Image.fromarray(fade(real, PRINT))):  # fmt: skip
        out = colorizer.run(ColorizeRequest(picture, restore=True, confidence=True))
        image, confidence = out.image, out.confidence
        assert image.size == picture.size and confidence.map.shape == (picture.height, picture.width)
        if image.info["restoration"] != "color":
            assert float(confidence.map.max()) == 0.0
        else:  # the colors that survived are the photo's own; the fill-ins guesses
            assert 0.0 <= float(confidence.map.min()) and float(confidence.map.max()) <= 1.0


@pytest.mark.parametrize(("name", "most"), [("seeding_color.jpg", 0.5), ("summer_1am_color.jpg", 2.5)])
def test_restore_leaves_a_well_kept_photo_alone(name, most):
    """Do no harm: a photo with no sign of fading comes back (nearly) as it was; before the fading
    evidence, restore moved these by 6-15. Known limit: a high-key photo with no dark place at all
    (bridge_color.jpg, cables against the sky) still reads as lifted blacks (dE 11.5; 15.6 before
    the colorizer's agreement chose the dye correction's share)."""
    from pix2pix_color import Colorizer

    real = real_photo(name)
    restored = np.asarray(Colorizer.from_pretrained().restore(Image.fromarray(real)).convert("RGB"))
    assert delta_e(restored, real) < most


@pytest.mark.parametrize("ageing", ["lifted blacks", "contrast loss", "dye loss", "yellowing"])
def test_restore_beats_a_severely_aged_print(ageing):
    from pix2pix_color import Colorizer
    from pix2pix_color.synthetic.fading import AGEING

    real = real_photo("seeding_color.jpg")
    aged = AGEING[ageing](real, 1.0)
    restored = np.asarray(Colorizer.from_pretrained().restore(Image.fromarray(aged)).convert("RGB"))
    assert delta_e(restored, real) < delta_e(aged, real)


def _hand_tinted(real: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """A sepia print of `real` with one rectangle painted pink (a ribbon): the print, the paint's mask
    and its a*b*."""
    from pix2pix_color.pipeline.restore import compose

    lab = lab_of(sepia_tone(real))
    h, w = lab.shape[:2]
    paint = np.zeros((h, w), bool)
    paint[int(0.6 * h) : int(0.72 * h), int(0.35 * w) : int(0.6 * w)] = True  # about 3% of the print
    ab, pink = lab[..., 1:].copy(), (30.0, 8.0)
    ab[paint] = pink
    return compose(lab[..., 0], ab), paint, pink


def test_a_hand_tinted_sepia_print_keeps_its_paint_and_the_rest_is_colorized(colorizer):
    real = real_photo("seeding_color.jpg")
    print_, paint, pink = _hand_tinted(real)
    found = assess(print_)
    assert found.kind == "toned" and 0.02 < found.tinted < 0.05
    assert assess(sepia_tone(real)).tinted == 0.0  # a plain toned print has no paint
    out = colorizer.run(ColorizeRequest(Image.fromarray(print_), restore=True, confidence=True))
    restored, sure = out.image, out.confidence
    assert out.restoration.kind == "toned" and out.prediction is None
    assert restored.info["restoration"] == "toned" and restored.size == (real.shape[1], real.shape[0])
    lab = lab_of(np.asarray(restored.convert("RGB")))
    inner = np.zeros_like(paint)
    ys, xs = np.nonzero(paint)
    inner[ys.min() + 3 : ys.max() - 2, xs.min() + 3 : xs.max() - 2] = True
    assert np.abs(lab[inner][:, 1:].mean(0) - pink).max() < 2.0  # the paint, as painted
    assert sure.map[inner].min() == 1.0  # a given color, not a guess
    # The rest is colorized, not left in the sepia tone or turned gray.
    assert hue_hit_rate(np.where(paint[..., None], real, np.asarray(restored.convert("RGB"))), real) > 0.3
    assert (
        np.abs(np.asarray(restored.convert("L"), float) - np.asarray(Image.fromarray(print_).convert("L"))).mean() < 2
    )


def test_heavily_faded_color_prints_are_not_taken_for_hand_tinted_ones():
    from pix2pix_color.synthetic.fading import AGEING

    for name in ("seeding_color.jpg", "bridge_color.jpg", "summer_1am_color.jpg"):
        for ageing in ("lifted blacks", "dye loss", "color cast", "yellowing"):
            for severity in (0.4, 1.0):
                assert assess(AGEING[ageing](real_photo(name), severity)).tinted == 0.0, (name, ageing, severity)


def test_the_dye_correction_goes_as_far_as_the_colorizer_agrees():
    """`fading_curves` tries the dye correction in steps and takes the least one whose colors the
    colorizer's agree with (within a margin): a colorizer that sees the faded colors as right keeps
    them (share 0, the gray of the lifted black still comes off); one that sees the real colors takes
    the correction."""
    from pix2pix_color.pipeline.fading_curves import fading_curves

    real = real_photo("summer_1am_color.jpg")[::4, ::4].copy()
    faded = fade(real, PRINT)
    as_faded = lambda rgb: lab_of(faded)[..., 1:]  # noqa: E731
    as_real = lambda rgb: lab_of(real)[..., 1:]  # noqa: E731
    kept, share_kept = fading_curves(faded, as_faded)
    taken, share_taken = fading_curves(faded, as_real)
    assert share_kept == 0.0 and share_taken > 0.3
    assert np.all(kept.black > 0.03) and np.allclose(kept.gain, 1.0)  # the flare comes off either way
    # The shadows' own color (a red scene's, or a faded dye's) is a dye's matter: the least step
    # takes off only the gray all channels share; the one the real colors agree with, the rest too.
    linear = srgb_to_linear(faded).reshape(-1, 3)
    assert np.ptp(estimate_curves(linear, evidence=0.0, chromatic_black=0.0).black) < 1e-6
    assert np.ptp(taken.black) > 0.01
    assert delta_e(taken.apply_to_bytes(faded), real) < delta_e(kept.apply_to_bytes(faded), real)
    # A photo whose blacks show no fading is left alone, whatever the colorizer says.
    assert fading_curves(real_photo("seeding_color.jpg"), as_real) == (None, 0.0)


def test_a_print_with_nothing_to_fill_in_is_its_fading_undone_without_the_model(colorizer, monkeypatch):
    """Where the dye correction taken is none (a flared print: every channel's black lifted alike),
    the model's colors would be weighed by 0: restore returns the corrected pixels themselves and
    does not run the model on the full photo (12 MP: about 2 s -> 0.3-0.4 s, benchmarks/README.md)."""
    from pix2pix_color.pipeline.assessment import thumbnail
    from pix2pix_color.pipeline.fading_curves import fading_curves
    from pix2pix_color.pipeline.restore import AGREEMENT_PIXELS, colors_of
    from pix2pix_color.synthetic.fading import AGEING

    real = real_photo("summer_1am_color.jpg")
    faded = AGEING["lifted blacks"](real, 0.7)
    small = np.asarray(thumbnail(Image.fromarray(np.asarray(thumbnail(Image.fromarray(faded)))), AGREEMENT_PIXELS))
    curves, share = fading_curves(small, colors_of(colorizer.engine))
    assert curves is not None and share == 0.0
    sizes = []
    original = colorizer.engine.prediction
    monkeypatch.setattr(
        colorizer.engine, "prediction", lambda image, **kw: sizes.append(image.size) or original(image, **kw)
    )
    restored = np.asarray(colorizer.restore(Image.fromarray(faded)).convert("RGB"))
    assert (faded.shape[1], faded.shape[0]) not in sizes  # the model never saw the full photo
    assert np.array_equal(restored, curves.apply_to_bytes(faded))
    assert delta_e(restored, real) < 0.5 * delta_e(faded, real)
