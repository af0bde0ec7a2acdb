"""Variations (issue 40): n coherent colorings of one photo, the first exactly `colorize`'s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from pix2pix_color import Colorizer
from pix2pix_color.cli import main as cli_main
from pix2pix_color.core.color import rgb_to_lab
from pix2pix_color.limits import VARIATIONS_MAX
from pix2pix_color.pipeline import variations
from pix2pix_color.pipeline.steps import PredictOptions
from tests.conftest import tiny_generator

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained()


@pytest.fixture(scope="module")
def gray() -> Image.Image:
    return Image.open(DATA / "summer_1am_color.jpg").convert("L")


def _ab(image: Image.Image) -> np.ndarray:
    rgb = torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1).float() / 255
    return rgb_to_lab(rgb)[1:].numpy()


def test_first_is_colorize_and_the_others_are_other_colorings(colorizer, gray):
    images = colorizer.colorize_variations(gray, 4)
    assert len(images) == 4 and all(image.size == gray.size for image in images)
    assert np.array_equal(np.asarray(images[0]), np.asarray(colorizer.colorize(gray)))
    sectors = [image.info.get("hue_sector") for image in images]
    assert sectors[0] is None and len(set(sectors[1:])) == 3 and all(0 <= s < variations.SECTORS for s in sectors[1:])
    L = np.asarray(images[0].convert("L")).astype(int)
    for image in images[1:]:
        assert np.abs(np.asarray(image.convert("L")).astype(int) - L).mean() < 1.5  # the photo's own lightness
    changes = [np.hypot(*(_ab(image) - _ab(images[0]))).mean() for image in images[1:]]
    assert max(changes) > 2.0  # at least one is visibly another coloring, not the same photo again


def test_a_variation_is_a_coherent_photo_not_per_pixel_noise(colorizer, gray):
    first = colorizer.engine.prediction(gray)
    moved = 0
    for sector in colorizer.engine.variation_sectors(first, 4)[1:]:
        change = (colorizer.engine.vary(first, sector).colors - first.colors)[0].numpy()  # (2,h,w) a*b*, working grid
        size = np.hypot(*change).mean()
        moved += size > 1.0
        fine = change - np.stack([gaussian_filter(c, 2) for c in change])
        # Regions change together: what a 2-cell blur removes is a small part of the change.
        assert np.hypot(*fine).mean() < 0.25 * max(size, 1e-6)
    assert moved >= 1


def test_favouring_a_sector_moves_hesitant_pixels_towards_it_and_leaves_sure_ones():
    logits = torch.full((1, variations.ab_bins.num_bins(), 2, 1), -10.0)
    sectors = variations._sector_of_bins(torch.device("cpu"))
    green, blue = int(torch.nonzero(sectors == 3)[0]), int(torch.nonzero(sectors == 5)[0])
    logits[0, green, 0, 0], logits[0, blue, 0, 0] = 1.0, 0.9  # hesitant: green or blue
    logits[0, green, 1, 0], logits[0, blue, 1, 0] = 3.0, 0.0  # sure: green
    plain = variations.decode_with_sector(logits, 0.2, None)
    bluer = variations.decode_with_sector(logits, 0.2, 5)
    centers = variations.ab_bins.bin_centers("cpu")
    near = lambda ab, q: float((ab - centers[q]).norm())  # noqa: E731
    assert near(plain[0, :, 0, 0], green) < near(plain[0, :, 0, 0], blue)  # shown: mostly green
    assert near(bluer[0, :, 0, 0], blue) < 0.5 * near(bluer[0, :, 0, 0], green)  # the hesitant pixel goes over
    assert torch.allclose(bluer[0, :, 1, 0], centers[green], atol=1)  # the sure one stays
    assert variations.alternative_sectors(logits, 0.2, 2)[0] == 5  # blue is where the mass is left


def test_bad_requests_get_one_line(colorizer, gray, tmp_path):
    with pytest.raises(ValueError, match="from 1 to"):
        colorizer.colorize_variations(gray, VARIATIONS_MAX + 1)
    with pytest.raises(ValueError, match="hue_sector"):
        PredictOptions(hue_sector=8)
    regression = Colorizer(tiny_generator(head="regression"))
    with pytest.raises(ValueError, match="regression"):
        regression.colorize_variations(gray.resize((64, 48)), 2)


def test_cli_writes_the_variations_beside_the_photo(tmp_path, capsys):
    source = tmp_path / "summer.jpg"
    Image.open(DATA / "summer_1am_color.jpg").convert("L").save(source)
    assert cli_main(["colorize", str(source), "-o", str(tmp_path / "out"), "--variations", "3", "-q"]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["summer.png", "summer.v1.png", "summer.v2.png"]
    first, v1 = (np.asarray(Image.open(tmp_path / "out" / n)) for n in written[:2])
    assert first.shape == v1.shape and not np.array_equal(first, v1)
    with pytest.raises(SystemExit):
        cli_main(["colorize", str(source), "-o", str(tmp_path / "x"), "--variations", "0"])
    assert "--variations: must be a whole number from 1 to 9" in capsys.readouterr().err


def test_the_bundled_graph_makes_the_same_variations_as_pytorch(gray):
    """The ONNX path (issue 40, item 3): the exported graph's `sector_boost` input gives each
    variation's a*b* and its `sector_scores` output ranks the sectors as the library does, so ONNX
    Runtime and the browser page offer the same colorings."""
    pytest.importorskip("onnxruntime")
    ort = Colorizer.from_pretrained(backend="onnxruntime")
    torch_colorizer = Colorizer.from_pretrained(backend="torch")
    assert ort.backend is not None and ort.backend.varies
    on_ort, on_torch = ort.colorize_variations(gray, 4), torch_colorizer.colorize_variations(gray, 4)
    assert [i.info.get("hue_sector") for i in on_ort] == [i.info.get("hue_sector") for i in on_torch]
    for a, b in zip(on_ort, on_torch):
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 2
    # The graph's own ranking, read on the plain coloring, is the library's.
    prediction = torch_colorizer.engine.prediction(gray)
    L = prediction.L_work / 50 - 1
    feed = {
        "L": L.numpy(),
        "hints": np.zeros((1, 3, *L.shape[-2:]), np.float32),
        "sector_boost": np.zeros(8, np.float32),
    }
    scores = ort.backend.session.run(["sector_scores"], feed)[0][0]
    assert variations.ranked_sectors(scores.tolist(), 3) == torch_colorizer.engine.variation_sectors(prediction, 4)[1:]
