"""The public pipeline seam (pix2pix_color/pipeline/steps.py) and the layout rules it made possible."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from pix2pix_color import Colorizer
from pix2pix_color.core import ab_bins
from pix2pix_color.core.color import rgb_to_lab
from pix2pix_color.pipeline.steps import PredictOptions, finish_batch, predict, prepare, working_grid

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
    options = colorizer.engine.options()
    grid = working_grid(G, prepared.shape, options)
    from pix2pix_color.core.hints import hint_channels
    from pix2pix_color.core.image_processor import resize

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


# The library's layers, lowest first: a module may import its own subpackage and any lower layer,
# never a higher one or a sibling of its own rank (tests/test_pipeline.py is the rule's one home).
LAYERS = {
    "_version": 0, "limits": 0,
    "core": 1,
    "models": 2, "io": 2, "synthetic": 2, "repair": 2,
    "pipeline": 3,
    "video": 4,
    "evaluation": 5, "jobs": 5,
    "inference": 6,
    "cli": 7,
}  # fmt: skip


def _library_imports() -> dict[str, set[str]]:
    """Every library module (dotted, under pix2pix_color) -> the library modules it imports,
    function-level imports included (a lazy import is still a dependency)."""
    package = ROOT / "pix2pix_color"
    modules = {".".join(p.relative_to(package).with_suffix("").parts): p for p in package.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            assert node.level == 0 or name == "__init__", f"{path}:{node.lineno}: use absolute imports"
            if (node.module or "").startswith("pix2pix_color."):
                edges[name].add(node.module.removeprefix("pix2pix_color."))
    return edges


def test_the_library_imports_downwards_only_and_has_no_cycle():
    edges = _library_imports()
    layer = lambda module: module.split(".")[0]  # noqa: E731
    upwards = [
        f"{src} -> {dst}"
        for src, targets in edges.items()
        for dst in targets
        if layer(src) != "__init__" and layer(dst) != layer(src) and LAYERS[layer(dst)] >= LAYERS[layer(src)]
    ]
    assert upwards == []
    assert set(map(layer, edges)) - {"__init__"} == set(LAYERS)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    assert [m for m in edges if m in reachable(m)] == []
    # the named fixes of the third review: no hue constants from the metrics, no reference -> restore
    assert "evaluation.metrics" not in edges["pipeline.confidence"]
    assert "pipeline.restore" not in edges["pipeline.reference"]


def test_at_most_ten_modules_side_by_side_at_the_top():
    top = sorted(p.name for p in (ROOT / "pix2pix_color").glob("*.py"))
    assert len(top) <= 10, top


def test_no_function_over_sixty_lines_in_the_library_the_training_and_the_app():
    long = []
    for path in _python_files("pix2pix_color", "train", "integrations"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} {node.end_lineno - node.lineno + 1}")
    assert long == []
