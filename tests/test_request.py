"""One request in, one result out (`ColorizeRequest` -> `Colorizer.run` -> `ColorizeOutput`), and the
library's limits (`Limits`), enforced by the library whatever the front end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix_color import ColorizeOutput, Colorizer, ColorizeRequest, HintError, ImageError
from pix2pix_color.limits import MAX_HINT_POINTS, Limits
from pix2pix_color.synthetic.damage import damage

from .conftest import landscape, tiny_generator
from .test_repair import CRACKED

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(backend="torch")


@pytest.fixture(scope="module")
def gray() -> Image.Image:
    return Image.open(DATA / "summer_1am_color.jpg").convert("L")


def test_one_request_gives_everything_it_asked_for_and_the_shortcuts_agree(colorizer, gray):
    out = colorizer.run(ColorizeRequest(gray, confidence=True, variations=3))
    assert isinstance(out, ColorizeOutput) and out.image.size == gray.size
    assert np.array_equal(np.asarray(out.image), np.asarray(colorizer.colorize(gray)))
    assert out.confidence.map.shape == (gray.height, gray.width)
    assert len(out.variations) == 3 and out.variations[0] is out.image and out.hue_sectors[0] is None
    assert [v.info.get("hue_sector") for v in out.variations[1:]] == list(out.hue_sectors[1:])
    assert out.restoration is None and out.damage_mask is None
    # the kept prediction shows the image again, at another strength, without the network
    again = colorizer.engine.render(out.prediction, 1.0)
    assert np.array_equal(np.asarray(again), np.asarray(out.image))
    faint = np.asarray(colorizer.engine.render(out.prediction, 0.3).convert("RGB")).astype(int)
    assert np.ptp(faint, axis=-1).mean() < np.ptp(np.asarray(out.image.convert("RGB")).astype(int), axis=-1).mean()
    # a picked variation comes first; the plain coloring is among the others
    sector = out.hue_sectors[1]
    picked = colorizer.run(ColorizeRequest(gray, hue_sector=sector, variations=3))
    assert np.array_equal(np.asarray(picked.image), np.asarray(out.variations[1]))
    assert picked.hue_sectors[0] == sector and None in picked.hue_sectors[1:]


def test_repair_then_restore_in_one_request(colorizer):
    clean = np.asarray(Image.open(DATA / "summer_1am_color.jpg").convert("L").resize((320, 240)))
    damaged, truth = damage(clean, np.random.default_rng(5), CRACKED)
    out = colorizer.run(ColorizeRequest(Image.fromarray(damaged), repair=True, restore=True, confidence=True))
    assert out.restoration.kind == "gray" and out.image.info["restoration"] == "gray"
    mask = np.asarray(out.damage_mask) > 0
    assert mask.shape == damaged.shape and (mask & truth).sum() > 0.4 * truth.sum()
    assert 0 < out.repaired_share < 0.3 and out.image.info["repaired"] == f"{out.repaired_share:.4f}"
    assert out.prediction is None and out.confidence.map.shape == damaged.shape
    # the shortcut gives the same image
    assert np.array_equal(np.asarray(colorizer.restore(Image.fromarray(damaged), repair=True)), np.asarray(out.image))


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(variations=0), "variations must be a whole number from 1 to 9"),
        (dict(variations=True), "variations must be a whole number"),
        (dict(hue_sector=8), "hue_sector must be from 0 to 7"),
        (dict(keep_tone=True), "keep_tone is a restore option"),
        (dict(restore=True, hints=[(1, 1, "#ff0000")]), "restore takes no hints"),
        (dict(restore=True, variations=2), "restore offers no variations"),
        (dict(working_size=8), "working_size must be a whole number of pixels from 16 to 1024"),
        (dict(color_strength=3.0), "color_strength must be a number from 0 to 2"),
    ],
)
def test_a_bad_request_is_refused_in_one_line_before_anything_runs(fields, message):
    with pytest.raises(ValueError, match=message) as caught:
        ColorizeRequest("never-read.jpg", **fields)
    assert "\n" not in str(caught.value)


def test_limits_are_checked_and_only_ever_narrowed():
    limits = Limits()
    assert limits.max_pixels == 50_000_000 and limits.max_seconds is None and limits.max_hints == MAX_HINT_POINTS
    narrowed = limits.stricter(max_seconds=60, max_pixels=1_000_000)
    assert narrowed.max_seconds == 60 and narrowed.max_pixels == 1_000_000 and limits.max_seconds is None
    with pytest.raises(ValueError, match="would loosen"):
        narrowed.stricter(max_seconds=120)
    with pytest.raises(ValueError, match="would loosen"):
        narrowed.stricter(max_seconds=None)
    with pytest.raises(ValueError, match="positive"):
        Limits(max_pixels=0)
    with pytest.raises(ValueError, match="max_hints must be at most"):
        Limits(max_hints=MAX_HINT_POINTS + 1)


def test_the_library_enforces_its_limits_for_every_front_end(colorizer):
    base = Colorizer(tiny_generator())
    strict = base.with_limits(max_pixels=2000, max_hints=2, max_working_size=32)
    assert base.limits == Limits() and strict.generator is base.generator  # the caller's is untouched
    photo = landscape(40, 30)  # 1200 px: under the photo limit
    assert strict.colorize(photo).size == (40, 30)
    with pytest.raises(ImageError, match="2,000|2000|limit"):
        strict.colorize(landscape(64, 48))  # 3072 px
    with pytest.raises(ValueError, match="working_size must be at most 32 here"):
        strict.run(ColorizeRequest(photo, working_size=64))
    with pytest.raises(ValueError, match="working_size must be at most 32 here"):
        Colorizer(tiny_generator(), working_size=64, limits=Limits(max_working_size=32))
    hinted = Colorizer(tiny_generator(hints=True)).with_limits(max_hints=2)
    with pytest.raises(HintError, match="3 hint points: at most 2 are accepted"):
        hinted.colorize(photo, hints=[(1, 1, "#ff0000")] * 3)
    assert hinted.colorize(photo, hints=[(1, 1, "#ff0000")] * 2).size == photo.size
    with pytest.raises(ImageError, match="limit"):  # 1200 px > the reference limit of 500
        colorizer.with_limits(max_reference_pixels=500).colorize(photo, reference=landscape(40, 30))
    with pytest.raises(ValueError, match="would loosen"):
        strict.with_limits(max_pixels=10_000)


def test_an_animation_over_its_pixel_limit_is_refused_before_it_is_colorized(tmp_path):
    from pix2pix_color.jobs.animation import colorize_animation, read_animation

    frames = [landscape(32, 32, seed=i) for i in range(12)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    assert len(read_animation(tmp_path / "loop.gif")[0]) == 12
    with pytest.raises(ImageError, match=r"loop.gif: 12 frames of 32x32 are more than 10,240 pixels together"):
        read_animation(tmp_path / "loop.gif", max_pixels=32 * 32 * 10)
    engine = Colorizer(tiny_generator()).with_limits(max_animation_pixels=32 * 32 * 10).engine
    with pytest.raises(ImageError, match="frames of 32x32 are more than"):
        colorize_animation(engine, tmp_path / "loop.gif", tmp_path / "out.gif")
    assert not (tmp_path / "out.gif").exists()
