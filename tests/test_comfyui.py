"""The ComfyUI node pack (integrations/comfyui), loaded as ComfyUI loads a custom node folder, run on
tensors in ComfyUI's IMAGE layout (B, H, W, C float 0-1), without ComfyUI installed."""

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch
from PIL import Image

import pix2pix_color
from pix2pix_color.core.color import rgb_to_lab

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "integrations" / "comfyui"
PHOTO = Path(__file__).parent / "data" / "bridge_color.jpg"


@pytest.fixture(scope="module")
def pack():
    # What ComfyUI's load_custom_node does: the folder's __init__.py as a package named for the folder.
    spec = importlib.util.spec_from_file_location(
        "pix2pix_color_nodes", PACK / "__init__.py", submodule_search_locations=[str(PACK)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)
    sys.modules.pop(f"{spec.name}.nodes", None)


@pytest.fixture(scope="module")
def colorizer(pack):
    (loaded,) = pack.NODE_CLASS_MAPPINGS["Pix2PixColorLoad"]().load("", "torch")
    return loaded


def _comfy_image(*pictures: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.asarray(p.convert("RGB")) for p in pictures])).float() / 255


def _lab(images: torch.Tensor) -> torch.Tensor:
    return rgb_to_lab(images.permute(0, 3, 1, 2))


def test_the_mappings_describe_nodes_comfyui_can_build(pack):
    assert set(pack.NODE_CLASS_MAPPINGS) == set(pack.NODE_DISPLAY_NAME_MAPPINGS)
    for node in pack.NODE_CLASS_MAPPINGS.values():
        spec = node.INPUT_TYPES()
        function = getattr(node(), node.FUNCTION)
        names = function.__code__.co_varnames[1 : function.__code__.co_argcount]
        inputs = {**spec["required"], **spec.get("optional", {})}
        assert set(names) == set(inputs), node  # ComfyUI calls FUNCTION with the inputs as keywords
        for kind, *options in inputs.values():
            assert isinstance(kind, list) or kind in {
                "IMAGE",
                "INT",
                "FLOAT",
                "STRING",
                "BOOLEAN",
                pack.nodes.MODEL_TYPE,
            }
            if kind in ("INT", "FLOAT"):
                o = options[0]
                assert o["min"] <= o["default"] <= o["max"]
        assert isinstance(node.RETURN_TYPES, tuple) and node.CATEGORY


def test_a_batch_is_colorized_at_its_size_with_its_own_lightness(pack, colorizer):
    gray = Image.open(PHOTO).convert("L")
    batch = _comfy_image(gray, gray.transpose(Image.Transpose.FLIP_LEFT_RIGHT))

    out, made_by = pack.NODE_CLASS_MAPPINGS["Pix2PixColorColorize"]().colorize(colorizer, batch, 1.0, 0)

    assert out.shape == (2, gray.height, gray.width, 3) and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    lab_in, lab_out = _lab(batch), _lab(out)
    assert (lab_out[:, 0] - lab_in[:, 0]).abs().mean() < 0.5  # the lightness is the photo's own
    assert lab_out[:, 1:].norm(dim=1).mean() > 5  # and it has colors
    # The same pixels the library gives for that photo.
    expected = np.asarray(colorizer.colorize(gray)).astype(np.float32) / 255
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1 / 255 + 1e-6)
    assert (
        made_by.splitlines()
        == [f"colorized by pix2pix-color {pix2pix_color.__version__}, model {colorizer.model_id}"] * 2
    )


def test_an_images_alpha_is_kept_and_the_save_node_writes_provenance(pack, colorizer, tmp_path, monkeypatch):
    """A 4-channel IMAGE comes back with its own alpha; the Save node writes PNGs that carry the
    library's provenance (PNG text, sRGB profile) into ComfyUI's output folder."""
    rgba = Image.open(PHOTO).convert("L").convert("RGBA").resize((96, 64))
    alpha = np.zeros((64, 96), np.uint8)
    alpha[:, 48:] = 255
    rgba.putalpha(Image.fromarray(alpha))
    batch = torch.from_numpy(np.array(rgba)[None]).float() / 255
    out, made_by = pack.NODE_CLASS_MAPPINGS["Pix2PixColorColorize"]().colorize(colorizer, batch, 1.0, 0)
    assert out.shape == (1, 64, 96, 4) and torch.equal(out[..., 3], batch[..., 3])
    fake = type(sys)("folder_paths")
    fake.get_output_directory = lambda: str(tmp_path / "output")
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    saver = pack.NODE_CLASS_MAPPINGS["Pix2PixColorSavePNG"]()
    shown = saver.save(out, "barn", made_by)
    assert shown == {"ui": {"images": [{"filename": "barn_00000.png", "subfolder": "", "type": "output"}]}}
    assert saver.save(out, "barn", made_by)["ui"]["images"][0]["filename"] == "barn_00001.png"  # never overwritten
    saved = Image.open(tmp_path / "output" / "barn_00000.png")
    assert saved.mode == "RGBA" and saved.size == (96, 64) and saved.info["Description"] == made_by
    assert saved.info["Software"] == f"pix2pix-color {pix2pix_color.__version__}" and saved.info.get("icc_profile")
    assert np.array_equal(np.asarray(saved)[..., 3], alpha)


def test_strength_zero_is_gray_and_working_size_is_used(pack, colorizer):
    node = pack.NODE_CLASS_MAPPINGS["Pix2PixColorColorize"]()
    batch = _comfy_image(Image.open(PHOTO))
    gray, _ = node.colorize(colorizer, batch, 0.0, 0)
    assert _lab(gray)[:, 1:].abs().max() < 1.5
    small, _ = node.colorize(colorizer, batch, 1.0, 64)
    expected = np.asarray(colorizer.colorize(Image.open(PHOTO), working_size=64)).astype(np.float32) / 255
    np.testing.assert_allclose(small[0].numpy(), expected, atol=1 / 255 + 1e-6)


def test_a_hint_point_colors_its_place(pack, colorizer):
    node = pack.NODE_CLASS_MAPPINGS["Pix2PixColorColorize"]()
    batch = _comfy_image(Image.open(PHOTO).convert("L"))
    h, w = batch.shape[1:3]
    plain, _ = node.colorize(colorizer, batch, 1.0, 0)
    hinted, _ = node.colorize(colorizer, batch, 1.0, 0, hints=f'[[{w // 2}, {h // 2}, "#d02020"]]')
    a_plain, a_hinted = _lab(plain)[0, 1, h // 2, w // 2], _lab(hinted)[0, 1, h // 2, w // 2]
    assert a_hinted > a_plain + 10  # redder where the hint was given


def test_a_faded_print_is_restored_with_a_mask_of_the_guesses(pack, colorizer):
    from pix2pix_color.synthetic.fading import Fading, fade, sepia_tone

    real = np.asarray(Image.open(PHOTO).convert("RGB").resize((192, 128)))
    faded = fade(real, Fading(cyan=0.5, magenta=0.8, yellow=0.95, stain=0.08, flare=0.06))
    sepia = sepia_tone(real, 18.0)
    node = pack.NODE_CLASS_MAPPINGS["Pix2PixColorRestore"]()
    images, guesses, found, _ = node.restore(
        colorizer, _comfy_image(Image.fromarray(faded), Image.fromarray(sepia)), False
    )
    assert images.shape == (2, 128, 192, 3) and guesses.shape == (2, 128, 192)
    assert 0.0 <= float(guesses.min()) and float(guesses.max()) <= 1.0
    assert found.splitlines() == ["a faded color photo: restored", "a toned (sepia) photo: colorized"]
    truth = _lab(_comfy_image(Image.fromarray(real)))[0]
    error = lambda lab: float((lab - truth).norm(dim=0).mean())  # noqa: E731
    assert error(_lab(images[:1])[0]) < 0.9 * error(_lab(_comfy_image(Image.fromarray(faded)))[0])


def test_restore_node_repairs_first_when_asked(pack, colorizer):
    from pix2pix_color.synthetic.damage import DamageStyle, damage
    from pix2pix_color.synthetic.fading import sepia_tone

    real = np.asarray(Image.open(PHOTO).convert("RGB").resize((256, 160)))
    style = DamageStyle(cracks=4, scratches=2, dust=80, blotches=2, width=1.8)
    cracked, truth = damage(sepia_tone(real, 18.0), np.random.default_rng(0), style)
    node = pack.NODE_CLASS_MAPPINGS["Pix2PixColorRestore"]()
    plain, _, _, _ = node.restore(colorizer, _comfy_image(Image.fromarray(cracked)), False)
    fixed, _, found, _ = node.restore(colorizer, _comfy_image(Image.fromarray(cracked)), False, repair=True)
    assert fixed.shape == plain.shape and found == "a toned (sepia) photo: colorized"
    L_real = _lab(_comfy_image(Image.fromarray(sepia_tone(real, 18.0))))[0, 0]
    on_damage = lambda images: float((_lab(images)[0, 0] - L_real).abs()[torch.from_numpy(truth)].mean())  # noqa: E731
    assert on_damage(fixed) < 0.7 * on_damage(plain)


def test_bad_inputs_are_one_line_errors(pack, colorizer):
    node = pack.NODE_CLASS_MAPPINGS["Pix2PixColorColorize"]()
    batch = _comfy_image(Image.open(PHOTO))
    with pytest.raises(ValueError, match="pix2pix-color: hints are not valid JSON"):
        node.colorize(colorizer, batch, 1.0, 0, hints="[[1, 2, ")
    with pytest.raises(ValueError, match=r"expected an IMAGE of shape \(batch, height, width"):
        node.colorize(colorizer, batch[0], 1.0, 0)
    with pytest.raises(ValueError, match="working_size 8 is below 16"):
        node.colorize(colorizer, batch, 1.0, 8)
    with pytest.raises(ValueError, match=r"working_size 100 is not a multiple of 16 \(96 or 112"):
        node.colorize(colorizer, batch, 1.0, 100)
    with pytest.raises(ValueError, match="pix2pix-color: .*no-such-folder"):
        pack.NODE_CLASS_MAPPINGS["Pix2PixColorLoad"]().load(str(ROOT / "no-such-folder"), "torch")


def test_the_pack_is_described_as_the_comfy_registry_expects():
    meta = tomllib.loads((PACK / "pyproject.toml").read_text())
    project, comfy = meta["project"], meta["tool"]["comfy"]
    # Registry rules: under 100 characters, letters/digits/-_. without repeats, not starting with a
    # digit or one of those, and without "ComfyUI" in it; a three-part semantic version.
    assert re.fullmatch(r"[A-Za-z](?:[A-Za-z0-9]|[-_.](?![-_.]))*", project["name"]) and len(project["name"]) < 100
    assert "comfyui" not in project["name"].lower()
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert project["urls"]["Repository"].startswith("https://github.com/")
    assert comfy["PublisherId"] and comfy["DisplayName"]
    # The library as pip can install it today: from its repository (it is not on PyPI before its first
    # release, where "pix2pix-color>=0.1.0" failed: ComfyUI logged IMPORT FAILED), the same in both files.
    from packaging.requirements import Requirement

    lines = (PACK / "requirements.txt").read_text().splitlines()
    wanted = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    library = [r for r in wanted if r.name == "pix2pix-color"]
    assert len(library) == 1 and library[0].url.startswith("git+https://github.com/pix2pix-color/pix2pix-color")
    assert [str(r) for r in map(Requirement, project["dependencies"]) if r.name == "pix2pix-color"] == [str(library[0])]
