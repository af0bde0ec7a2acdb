"""The model outside PyTorch: the ONNX graph (decoding inside), the ONNX Runtime backend, and what ships."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color import Colorizer, ModelLoadError, UNetGenerator
from pix2pix_color.core.color import gray_version
from pix2pix_color.inference import default_model_path
from pix2pix_color.pipeline.onnx_export import export_onnx
from train.export import PARITY_TOLERANCE, onnx_parity
from train.export import main as export_main

from .conftest import ROOT, landscape, tiny_generator

pytest.importorskip("onnxruntime")
EXAMPLES = sorted((ROOT / "examples").glob("*.jpg"))


def _psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = (np.asarray(i.convert("RGB"), dtype=np.float64) for i in (a, b))
    return float(10 * np.log10(255**2 / max(np.mean((x - y) ** 2), 1e-12)))


@pytest.mark.parametrize(
    "config",
    [dict(), dict(head="classification", temperature=0.5), dict(head="classification", hints=True, temperature=0.7)],
    ids=["regression", "classification", "classification+hints"],
)
def test_the_graph_gives_pytorchs_ab_at_any_size_batch_and_hints(tmp_path, config):
    torch.manual_seed(0)
    G = UNetGenerator(depth=5, base_channels=8, max_channels=32, image_size=64, **config).eval()  # default init
    path = export_onnx(G, tmp_path)
    assert path == tmp_path / "onnx" / "model.onnx" and not list(path.parent.glob("*.data"))  # one file
    assert onnx_parity(G, path, sides=(1, 2, 5)) < 1e-5


def test_colorizer_backends_agree_on_photos_with_and_without_hints(tmp_path):
    torch.manual_seed(1)
    G = UNetGenerator(depth=5, base_channels=8, max_channels=32, image_size=64, head="classification", hints=True)
    G.eval().save_pretrained(tmp_path)
    export_onnx(G, tmp_path)
    ort = Colorizer.from_pretrained(tmp_path, backend="onnxruntime")
    pt = Colorizer.from_pretrained(tmp_path, backend="torch")
    assert ort.backend is not None and ort.backend.name == "onnxruntime" and pt.backend is None
    photo = landscape(150, 100, seed=3).convert("L")
    hints = [(30, 40, "#c0392b"), (120, 20, "#2e86c1")]
    for kwargs in (dict(), dict(hints=hints), dict(working_size=128, color_strength=1.5)):
        a, b = ort.colorize(photo, **kwargs), pt.colorize(photo, **kwargs)
        assert a.size == (150, 100) and _psnr(a, b) > 45, kwargs


def test_the_bundled_model_ships_a_graph_that_matches_it_on_the_example_photos():
    folder = default_model_path()
    graphs = sorted(p.name for p in (folder / "onnx").glob("*.onnx"))
    assert graphs == ["model_fp16.onnx"]  # float16 weights, as model.safetensors: the same numbers
    G = UNetGenerator.from_pretrained(folder)
    assert onnx_parity(G, folder / "onnx" / "model_fp16.onnx") < PARITY_TOLERANCE
    ort = Colorizer.from_pretrained(backend="onnxruntime")
    pt = Colorizer.from_pretrained(backend="torch")
    for path in EXAMPLES[:2]:
        gray = Image.fromarray(gray_version(np.asarray(Image.open(path).convert("RGB"))), "L")
        for working_size in (None, 256):
            L_pt = pt.engine.predict_ab(_L(gray), working_size=working_size)
            L_ort = ort.engine.predict_ab(_L(gray), working_size=working_size)
            assert float((L_pt - L_ort).abs().max()) / 110 < PARITY_TOLERANCE  # in the -1..1 units


def _L(gray: Image.Image) -> torch.Tensor:
    from pix2pix_color.core.color import gray_to_l

    return gray_to_l(torch.from_numpy(np.asarray(gray).copy()))[None, None]


def test_the_installed_package_stays_under_50_mb():
    package = ROOT / "pix2pix_color"
    files = [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert sum(p.stat().st_size for p in files) < 50e6
    assert not (package / "default_model" / "discriminator.safetensors").exists()  # never trained: not shipped


def test_backend_choices_and_their_errors(tmp_path, tiny_model_dir, monkeypatch):
    with pytest.raises(ModelLoadError, match=r"has no onnx/model\.onnx .*python -m train\.export"):
        Colorizer.from_pretrained(tiny_model_dir, backend="onnxruntime")
    assert Colorizer.from_pretrained(tiny_model_dir, backend="auto").backend is None  # no graph: PyTorch
    with pytest.raises(ValueError, match="backend must be one of auto, torch, onnxruntime"):
        Colorizer.from_pretrained(tiny_model_dir, backend="tensorflow")
    export_onnx(UNetGenerator.from_pretrained(tiny_model_dir), tiny_model_dir)
    auto = Colorizer.from_pretrained(tiny_model_dir, backend="auto")  # whichever measured faster here
    assert auto.colorize(landscape(70, 50).convert("L")).size == (70, 50)
    # The environment fixes what "auto" takes (a Space whose CPU makes the timing a coin toss).
    monkeypatch.setenv("PIX2PIX_COLOR_BACKEND", "onnxruntime")
    assert Colorizer.from_pretrained(tiny_model_dir, backend="auto").backend.name == "onnxruntime"
    monkeypatch.setenv("PIX2PIX_COLOR_BACKEND", "torch")
    assert Colorizer.from_pretrained(tiny_model_dir, backend="auto").backend is None
    assert Colorizer.from_pretrained(tiny_model_dir, backend="onnxruntime").backend is not None  # explicit wins
    monkeypatch.setenv("PIX2PIX_COLOR_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="PIX2PIX_COLOR_BACKEND must be torch or onnxruntime"):
        Colorizer.from_pretrained(tiny_model_dir, backend="auto")
    monkeypatch.delenv("PIX2PIX_COLOR_BACKEND")
    (tiny_model_dir / "onnx" / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelLoadError, match="ONNX Runtime cannot load it"):
        Colorizer.from_pretrained(tiny_model_dir, backend="onnxruntime")


def test_export_command_writes_the_graph_and_checks_it(tmp_path, capsys):
    tiny_generator().save_pretrained(tmp_path)
    assert export_main([str(tmp_path), "--onnx"]) == 0
    assert "ONNX Runtime within" in capsys.readouterr().out
    assert (tmp_path / "onnx" / "model.onnx").stat().st_size > 10_000
    assert Path(tmp_path / "onnx" / "model.onnx").is_file()


def test_a_graph_under_the_other_name_is_removed_not_left_stale(tmp_path):
    """Exported as float16 after an older float32 export: only the new graph is left, so the loader
    cannot pick the stale one (review 41)."""
    from pix2pix_color.pipeline.onnx_export import ONNX_DIR

    old, new = tiny_generator(seed=1), tiny_generator(seed=2)
    export_onnx(old, tmp_path)
    assert (tmp_path / ONNX_DIR / "model.onnx").is_file()
    export_onnx(new, tmp_path, fp16=True)
    assert sorted(p.name for p in (tmp_path / ONNX_DIR).iterdir()) == ["model_fp16.onnx"]
