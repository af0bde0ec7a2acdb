"""The confidence map: where the colors are guesses, and where one hint would help most."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color import Colorizer, ColorizeRequest
from pix2pix_color.core import ab_bins
from pix2pix_color.core.color import rgb_to_lab
from pix2pix_color.evaluation.metrics import image_metrics
from pix2pix_color.pipeline.confidence import hue_confidence, suggest_points

from .conftest import landscape, tiny_generator

PHOTOS = sorted((Path(__file__).parent / "data").glob("*_color.jpg"))


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer.from_pretrained(None, backend="torch")


def _hue_misses(output: Image.Image, real: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """(the real photo's colorful pixels, which of them the output's hue misses), as the hit rate counts."""
    r = rgb_to_lab(torch.from_numpy(np.array(real)).permute(2, 0, 1))[1:]
    o = rgb_to_lab(torch.from_numpy(np.array(output)).permute(2, 0, 1))[1:]
    dot, cross = (o * r).sum(0), o[0] * r[1] - o[1] * r[0]
    hit = (o.norm(dim=0) >= 10) & (dot > 0) & (cross.abs() <= math.tan(math.radians(45)) * dot)
    return (r.norm(dim=0) >= 20).numpy(), (~hit).numpy()


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks, n_pos, n_neg = rankdata(score), positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_the_map_covers_the_photo_and_ranks_the_wrong_hues(colorizer):
    scores, misses = [], []
    for path in PHOTOS:
        real = Image.open(path).convert("RGB")
        out = colorizer.run(ColorizeRequest(real.convert("L"), confidence=True))
        image, confidence = out.image, out.confidence
        assert confidence.map.shape == (real.height, real.width) and confidence.map.dtype == np.float32
        assert 0 <= confidence.map.min() and confidence.map.max() <= 1
        assert confidence.image().size == real.size and confidence.overlay(image).size == real.size
        colorful, miss = _hue_misses(image, real)
        scores.append(-confidence.map[colorful])
        misses.append(miss[colorful])
    # Unsure pixels are where the hue is wrong: the area under the ROC curve, pooled over the photos.
    assert _auc(np.concatenate(scores), np.concatenate(misses)) > 0.85


def test_suggestions_are_inside_far_apart_and_worth_more_than_a_random_click(colorizer):
    rng = np.random.default_rng(0)
    suggested_gain, random_gain = [], []
    for path in PHOTOS:
        real = Image.open(path).convert("RGB")
        gray = real.convert("L")
        pixels = np.asarray(real)
        out = colorizer.run(ColorizeRequest(gray, confidence=True))
        automatic, confidence = out.image, out.confidence
        points = confidence.suggestions
        assert 1 <= len(points) <= 3
        assert all(0 <= x < real.width and 0 <= y < real.height for x, y in points)
        for i, (x0, y0) in enumerate(points):
            for x1, y1 in points[i + 1 :]:
                assert math.hypot(x1 - x0, y1 - y0) > max(real.size) / 4 - 2
        base = image_metrics(automatic, pixels).hue_hit

        def gain(x, y):
            color = tuple(int(v) for v in pixels[y, x])
            return image_metrics(colorizer.colorize(gray, hints=[(x, y, color)]), pixels).hue_hit - base

        suggested_gain.append(gain(*points[0]))
        random_gain.append(np.mean([gain(rng.integers(real.width), rng.integers(real.height)) for _ in range(8)]))
    assert np.mean(suggested_gain) > np.mean(random_gain)


def test_the_confidence_is_the_models_probability_of_the_hue_it_shows():
    centers = ab_bins.bin_centers()
    red = int(torch.argmin((centers - torch.tensor([40.0, 20.0])).norm(dim=1)))
    logits = torch.full((1, len(centers), 1, 1), -20.0)
    logits[0, red] = 20.0  # all mass on one reddish bin
    shown_red, shown_blue = torch.tensor([[[[40.0]], [[20.0]]]]), torch.tensor([[[[-10.0]], [[-40.0]]]])
    assert hue_confidence(logits, 1.0, shown_red).item() > 0.99
    assert hue_confidence(logits, 1.0, shown_blue).item() < 0.01
    assert hue_confidence(logits, 1.0, shown_red * 0.1).item() < 0.1  # shown nearly gray (C* 4.5): not colored


def test_strength_zero_is_never_sure_and_a_regression_model_refuses(colorizer):
    photo = Image.open(PHOTOS[0]).convert("L")
    confidence = colorizer.run(ColorizeRequest(photo, confidence=True, color_strength=0.0)).confidence
    assert confidence.map.max() < 0.01
    regression = Colorizer(tiny_generator(head="regression"))
    with pytest.raises(ValueError, match="regression head"):
        regression.run(ColorizeRequest(landscape(64, 48), confidence=True))


def test_no_suggestion_where_the_model_is_sure():
    sure = torch.ones(40, 60)
    assert suggest_points(sure, torch.full((40, 60), 50.0)) == []
    unsure_corner = sure.clone()
    unsure_corner[25:, 40:] = 0
    ((x, y),) = suggest_points(unsure_corner, torch.full((40, 60), 50.0), n=1)
    assert x > 40 and y > 25


def test_the_cli_writes_a_confidence_map_beside_each_photo(tmp_path, capsys):
    from pix2pix_color.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(PHOTOS[0]).convert("L").save(folder / "bridge.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a JPEG")
    status = main(["colorize", str(folder), "-o", str(tmp_path / "out"), "--confidence-map", "-q"])
    assert status == 1  # the broken file, skipped; the photo and its map written
    colorized = Image.open(tmp_path / "out" / "bridge.png")
    confidence = Image.open(tmp_path / "out" / "bridge.confidence.png")
    assert confidence.mode == "L" and confidence.size == colorized.size
    sky, ground = np.asarray(confidence)[:40].mean(), np.asarray(confidence)[-30:].mean()
    assert sky > ground + 50  # this model is sure of the bridge photo's sky, not of its mud flats
    assert "broken.jpg" in capsys.readouterr().err


def test_the_cli_refuses_a_confidence_map_from_a_regression_model(tmp_path, capsys):
    from pix2pix_color.cli import main

    tiny_generator(head="regression").save_pretrained(tmp_path / "model")
    landscape(40, 30).save(tmp_path / "a.png")
    argv = ["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "model")]
    assert main([*argv, "--confidence-map", "-q"]) == 2
    assert "classification head" in capsys.readouterr().err
