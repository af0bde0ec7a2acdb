"""The public pipeline seam (pix2pix_color/pipeline.py) and the layout rules it made possible."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from pix2pix_color import Colorizer, ab_bins
from pix2pix_color.color import rgb_to_lab
from pix2pix_color.pipeline import PredictOptions, finish_batch, predict, prepare, working_grid

from .conftest import landscape, tiny_generator

ROOT = Path(__file__).resolve().parents[1]


def test_the_two_decoding_kernels_agree():
    logits = torch.randn(2, ab_bins.num_bins(), 6, 9, generator=torch.Generator().manual_seed(0)) * 4
    for T in (1.0, 0.76, 0.3):
        plain = ab_bins.annealed_mean(logits, T)
        exported = ab_bins.annealed_mean(logits, T, exp_weighted=True)
        assert (plain - exported).abs().max() < 2e-4


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(working_size=8), "working_size must be a whole number of pixels from 16 to 1024"),
        (dict(working_size=256.0), "working_size must be a whole number"),
        (dict(color_strength=2.5), "color_strength must be a number from 0 to 2"),
        (dict(color_strength=float("nan")), "color_strength must be a number from 0 to 2"),
        (dict(temperature=0.0), "temperature must be from 0.05 to 2"),
        (dict(hint_reach=0.0), "hint_sigma and hint_reach must be positive"),
    ],
)
def test_options_refuse_out_of_range_values_in_one_place(settings, message):
    with pytest.raises(ValueError, match=message):
        PredictOptions(**settings)
    with pytest.raises(ValueError, match=message.split(" must")[0]):  # the colorizer's own settings: the same check
        if "working_size" in settings or "color_strength" in settings:
            Colorizer(tiny_generator(), **settings)
        else:
            raise ValueError(message)


def test_the_steps_compose_to_what_colorize_gives():
    G = tiny_generator(hints=True).eval()
    colorizer = Colorizer(G)
    photo = landscape(96, 64).convert("L")
    prepared = prepare(photo, [(20, 30, "#c0392b")], takes_hints=True)
    options = colorizer.options()
    grid = working_grid(G, prepared.shape, options)
    from pix2pix_color.hints import hint_channels
    from pix2pix_color.image_processor import resize

    L_work = resize(prepared.L, grid)
    with torch.inference_mode():
        ab = predict(G, L_work, hint_channels(prepared.points, prepared.shape, grid)[None], [prepared.shape], options)
        (array,) = finish_batch([prepared.L], L_work, ab)
    expected = np.asarray(colorizer.colorize(photo, hints=[(20, 30, "#c0392b")]))
    assert array.shape == (64, 96, 3) and np.array_equal(array, expected)


def test_hint_constants_are_options_not_patches():
    """A shorter reach keeps a click's color closer to it (benchmarks set this instead of monkeypatching)."""
    G = tiny_generator(hints=True).eval()
    photo = landscape(128, 96).convert("L")
    click = [(30, 48, "#c0392b")]

    def moved(colorizer: Colorizer) -> float:
        plain, hinted = (np.asarray(colorizer.colorize(photo, hints=h)) for h in (None, click))
        ab = [rgb_to_lab(torch.from_numpy(x.copy()).permute(2, 0, 1))[1:] for x in (plain, hinted)]
        return float(((ab[0] - ab[1]).norm(dim=0) > 5).float().mean())

    assert moved(Colorizer(G, hint_reach=0.05)) < moved(Colorizer(G, hint_reach=0.5))


def test_a_decoding_override_is_the_raw_network():
    G = tiny_generator(head="classification", temperature=0.5).eval()
    L = torch.rand(1, 1, 64, 64) * 100
    with torch.inference_mode():
        at_one = predict(G, L, options=PredictOptions(temperature=1.0, chroma_gain=1.0))
        raw = G.with_decoding(temperature=1.0).predict_ab(L / 50 - 1) * 110
    assert torch.allclose(at_one, raw, atol=1e-4)


def _python_files(*folders: str) -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in folders:
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def test_no_module_reaches_into_another_ones_private_names():
    offenders = []
    for path in _python_files("pix2pix_color", "train", "benchmarks", "experiments", "docs"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                offenders += [f"{path.name}:{node.lineno} {name}" for name in private]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if isinstance(node.value, ast.Name) and node.value.id not in ("self", "cls"):
                    offenders.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert offenders == []


def test_the_library_has_no_import_cycle_and_metrics_sits_below_video():
    modules = {p.stem: p for p in (ROOT / "pix2pix_color").glob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                edges[name] |= {t for t in targets if t in modules}

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    assert [m for m in modules if m in reachable(m)] == []
    assert "video" not in reachable("metrics") and "inference" not in reachable("video")
