import json

import pytest
import torch
from safetensors.torch import save_file

from pix2pix_color import Colorizer, ModelLoadError, UNetGenerator

from .conftest import run_python, tiny_generator


def _outputs(G: UNetGenerator) -> torch.Tensor:
    torch.manual_seed(1)
    with torch.no_grad():
        return G.eval()(torch.rand(2, 1, 64, 96) * 2 - 1)


def test_save_and_load_round_trip(tmp_path):
    G = tiny_generator()
    G.save_pretrained(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert "config.json" in files and "model.safetensors" in files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config == {
        "depth": 5,
        "base_channels": 8,
        "max_channels": 32,
        "dropout": 0.5,
        "image_size": 64,
        "chroma_gain": 1.0,
        "head": "regression",
        "temperature": 1.0,
        "hints": False,
        "encoder": "none",  # the architecture, stated: a model folder says what it needs
    }
    loaded = UNetGenerator.from_pretrained(tmp_path / "m")
    assert not loaded.training
    assert torch.equal(_outputs(G), _outputs(loaded))


def test_half_precision_weights_load_into_float32(tmp_path):
    G = tiny_generator()
    G.half().save_pretrained(tmp_path / "m")
    loaded = UNetGenerator.from_pretrained(tmp_path / "m")
    assert next(loaded.parameters()).dtype == torch.float32
    assert torch.allclose(_outputs(G.float()), _outputs(loaded), atol=1e-6)


def test_loading_is_strict(tmp_path):
    G = tiny_generator()
    G.save_pretrained(tmp_path / "m")
    state = {k: v.contiguous() for k, v in G.state_dict().items()}
    # Weights of another architecture under the same config: refused, not partially loaded.
    del state["net.model.0.weight"]
    state["extra.weight"] = torch.zeros(3)
    save_file(state, tmp_path / "m" / "model.safetensors")
    with pytest.raises(ModelLoadError, match=r"1 missing.*net\.model\.0\.weight.*1 unexpected.*extra\.weight"):
        UNetGenerator.from_pretrained(tmp_path / "m")


def test_mismatched_config_is_refused(tmp_path):
    tiny_generator().save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "base_channels": 16}))
    with pytest.raises(ModelLoadError, match="shape"):
        UNetGenerator.from_pretrained(tmp_path / "m")


def test_pickled_weights_are_never_loaded(tmp_path):
    G = tiny_generator()
    G.save_pretrained(tmp_path / "m")
    torch.save(G.state_dict(), tmp_path / "m" / "pytorch_model.bin")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="no model.safetensors"):
        UNetGenerator.from_pretrained(tmp_path / "m")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"depth": 1000}, "depth must be between"),
        ({"base_channels": 10**9}, "base_channels must be between"),
        ({"depth": "eight"}, "depth must be an integer"),
        ([1, 2, 3], "JSON object|not a valid model config"),
    ],
)
def test_hostile_config_is_refused_before_allocation(tmp_path, config, message):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=message):
        UNetGenerator.from_pretrained(folder)


def test_missing_things_give_one_clear_line(tmp_path):
    with pytest.raises(ModelLoadError, match="neither a model folder nor a Hub repo id"):
        Colorizer.from_pretrained(tmp_path / "does-not-exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        Colorizer.from_pretrained(tmp_path / "empty")


def test_from_pretrained_over_http_from_a_local_hub(hub_server, tiny_model_dir, tmp_path):
    hub_server["publish"](tiny_model_dir, "acme/tiny-colorizer")
    code = """
import json, torch
from PIL import Image
from pix2pix_color import Colorizer, ModelLoadError
colorizer = Colorizer.from_pretrained("acme/tiny-colorizer")
out = colorizer.colorize(Image.new("L", (101, 67), 120))
try:
    Colorizer.from_pretrained("acme/no-such-model")
    missing = "loaded?!"
except ModelLoadError as e:
    missing = str(e)
print(json.dumps({"size": out.size, "depth": colorizer.generator.depth, "missing": missing}))
"""
    env = {"HF_ENDPOINT": hub_server["endpoint"], "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["size"] == [101, 67] and report["depth"] == 5
    assert "no such model repo" in report["missing"]
    # It really came over HTTP into the cache, not from the folder.
    cached = list((tmp_path / "hf-home").rglob("model.safetensors"))
    assert cached and "models--acme--tiny-colorizer" in str(cached[0])


def test_non_finite_weights_are_refused(tmp_path):
    G = tiny_generator()
    G.save_pretrained(tmp_path / "m")
    state = {k: v.contiguous() for k, v in G.state_dict().items()}
    state["net.model.0.weight"][0, 0, 0, 0] = float("nan")
    save_file(state, tmp_path / "m" / "model.safetensors")
    with pytest.raises(ModelLoadError, match=r"tensor net\.model\.0\.weight holds NaN or infinite values"):
        UNetGenerator.from_pretrained(tmp_path / "m")
