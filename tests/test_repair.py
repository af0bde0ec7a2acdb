"""Repair of old prints: the damage model, the shipped detector against the simple baseline, and
the promise that every pixel outside the damage found comes back unchanged."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.cli import main
from pix2pix_color.repair import find_damage, repair_photo
from pix2pix_color.repair.repair import LIGHTNESS
from pix2pix_color.synthetic.damage import VISIBLE_LEVELS, DamageStyle, damage
from pix2pix_color.synthetic.fading import sepia_tone

DATA = Path(__file__).parent / "data"
CRACKED = DamageStyle(cracks=4, scratches=3, dust=80, blotches=2, width=1.8, contrast=0.9)


def _gray(name: str = "bridge_color.jpg", side: int = 512) -> np.ndarray:
    image = Image.open(DATA / name).convert("L")
    image.thumbnail((side, side), Image.LANCZOS)
    return np.asarray(image)


def _L(pixels: np.ndarray) -> np.ndarray:
    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    return LIGHTNESS[gray] * 100.0


def test_damage_model_marks_only_what_it_reports():
    clean = _gray()
    damaged, mask = damage(clean, np.random.default_rng(0), CRACKED)
    assert damaged.shape == clean.shape and damaged.dtype == np.uint8
    assert 0.005 < mask.mean() < 0.3
    moved = np.abs(damaged.astype(int) - clean.astype(int))
    assert moved[~mask].max() <= VISIBLE_LEVELS  # outside the mask only a faint fringe
    assert moved[mask].mean() > 30


@pytest.mark.parametrize("toned", [False, True])
def test_repair_removes_most_damage_and_leaves_the_rest(toned):
    clean = _gray("summer_1am_color.jpg")
    if toned:
        clean = sepia_tone(np.dstack([clean] * 3), 18.0)
    damaged, truth = damage(clean, np.random.default_rng(1), CRACKED)
    fixed = repair_photo(Image.fromarray(damaged))
    out = np.asarray(fixed.image)
    assert out.shape == damaged.shape and fixed.image.mode == ("RGB" if toned else "L")
    # Every pixel the detector did not flag is the input's, byte for byte.
    assert (out[~fixed.mask] == damaged[~fixed.mask]).all()
    before = np.abs(_L(damaged) - _L(clean))[truth].mean()
    after = np.abs(_L(out) - _L(clean))[truth].mean()
    assert after < 0.5 * before  # at least half of the damage gone (photos-hq: 0.31, see the study)
    assert np.abs(_L(out) - _L(clean))[~truth].mean() < 0.8


def test_detector_beats_the_median_filter_on_texture():
    """A median-difference filter calls fine texture damage; the detector leaves a clean photo alone."""
    clean = _gray("seeding_color.jpg")
    found = find_damage(clean)
    median = np.abs(clean.astype(int) - cv2.medianBlur(clean, 5).astype(int)) > 20
    assert found.mean() < 0.02
    assert found.mean() < median.mean()
    fixed = repair_photo(Image.fromarray(clean))
    assert np.abs(_L(np.asarray(fixed.image)) - _L(clean)).mean() < 0.5


def test_repair_keeps_mode_alpha_metadata_and_16_bits():
    clean = _gray(side=256)
    damaged, _ = damage(clean, np.random.default_rng(2), CRACKED)
    rgba = Image.fromarray(np.dstack([damaged] * 3 + [np.full_like(damaged, 200)]), "RGBA")
    rgba.info["exif"] = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"
    fixed = repair_photo(rgba)
    assert fixed.image.mode == "RGBA" and fixed.image.size == rgba.size
    assert (np.asarray(fixed.image)[..., 3] == 200).all()
    assert fixed.image.info["exif"] == rgba.info["exif"]
    deep = Image.fromarray(damaged.astype(np.uint16) * 257)
    assert deep.mode == "I;16"
    fixed16 = repair_photo(deep)
    assert fixed16.image.mode == "I;16" and fixed16.mask.any()
    assert np.array_equal(np.asarray(fixed16.image)[~fixed16.mask], np.asarray(deep)[~fixed16.mask])


def test_colorizer_repair_and_restore_with_repair(tiny_model_dir):
    colorizer = Colorizer.from_pretrained(str(tiny_model_dir))
    damaged, truth = damage(_gray(side=256), np.random.default_rng(3), CRACKED)
    image, mask = colorizer.repair(Image.fromarray(damaged), return_mask=True)
    assert image.size == mask.size and mask.mode == "L" and np.asarray(mask).max() == 255
    restored = colorizer.restore(Image.fromarray(damaged), repair=True)
    assert restored.size == image.size and restored.info["restoration"] == "gray"
    # The share filled is about the damage's (the mask is grown by a pixel around each mark).
    assert 0.5 * truth.mean() < float(restored.info["repaired"]) < 2.0 * truth.mean()


def test_cli_repair_writes_photos_and_masks(tmp_path, capsys):
    damaged, _ = damage(_gray(side=256), np.random.default_rng(4), CRACKED)
    Image.fromarray(damaged).save(tmp_path / "cracked.jpg", quality=95)
    (tmp_path / "nothing").mkdir()
    out = tmp_path / "out"
    assert main(["repair", str(tmp_path / "cracked.jpg"), "-o", str(out), "--damage-mask", "-q"]) == 0
    repaired = Image.open(out / "cracked.png")
    mask = np.asarray(Image.open(out / "cracked.damage.png"))
    assert repaired.size == (damaged.shape[1], damaged.shape[0]) and mask.max() == 255
    assert main(["repair", str(tmp_path / "missing.jpg"), "-o", str(out), "-q"]) == 1
    assert "missing.jpg: no such file" in capsys.readouterr().err
    assert main(["repair", str(tmp_path / "nothing"), "-o", str(out), "-q"]) == 2
    assert "no images or videos found" in capsys.readouterr().err


def _cracked_print(tmp_path, seed: int = 5) -> tuple[Path, np.ndarray, np.ndarray]:
    clean = _gray("summer_1am_color.jpg", side=480)
    damaged, truth = damage(clean, np.random.default_rng(seed), CRACKED)
    path = tmp_path / "cracked.png"
    Image.fromarray(damaged).save(path)
    return path, clean, truth


def test_api_repair_and_restore_with_repair(app_client, tmp_path):
    from gradio_client import handle_file

    path, clean, truth = _cracked_print(tmp_path)
    repaired, mask = app_client.predict(handle_file(str(path)), api_name="/repair")
    repaired, mask = np.asarray(Image.open(repaired)), np.asarray(Image.open(mask)) > 0
    assert repaired.shape == clean.shape and mask.shape == clean.shape
    assert (mask & truth).sum() > 0.4 * truth.sum()
    restored, found = app_client.predict(handle_file(str(path)), False, True, api_name="/restore")
    assert found["restoration"] == "gray" and 0.0 < found["repaired"] < 0.3
    assert Image.open(restored).size == (clean.shape[1], clean.shape[0])


def test_restore_tab_repairs_in_a_real_browser(app_server, browser, tmp_path):
    """The Repair toggle is on by default: the note says how much was filled and the mask is shown;
    switched off, the mask goes away."""
    path, _, _ = _cracked_print(tmp_path, seed=6)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(app_server, wait_until="load")
    page.get_by_role("tab", name="Restore an old photo").click()
    page.locator("#restore-input input[type=file]").set_input_files(str(path))
    page.locator("#restore-input img").first.wait_for(state="visible", timeout=60_000)
    assert page.locator("#restore-repair input").is_checked()
    page.locator("#restore-button").click()
    page.locator("#restore-info").get_by_text("Cracks, scratches and dust repaired first").wait_for(timeout=120_000)
    shown = page.locator("#restore-damage img").first
    shown.wait_for(state="visible", timeout=30_000)
    assert shown.evaluate("img => img.naturalWidth") > 100
    page.screenshot(path=str(tmp_path / "restore-repair.png"))
    page.locator("#restore-repair input").uncheck()
    page.locator("#restore-button").click()
    page.locator("#restore-info").get_by_text("A black-and-white photo").wait_for(timeout=120_000)
    page.locator("#restore-damage").wait_for(state="hidden", timeout=30_000)
    assert "repaired first" not in page.locator("#restore-info").inner_text()
    page.close()


def test_the_shipped_onnx_graph_is_the_shipped_detector(tmp_path):
    """The detector's ONNX graph in the package gives the PyTorch detector's logits (a stale graph,
    left from other weights, fails here); any height and width that are multiples of 32."""
    import onnxruntime as ort

    from pix2pix_color.repair.detector import DamageDetector
    from pix2pix_color.repair.onnx_graph import ONNX_FILE
    from pix2pix_color.repair.repair import MODEL_DIR

    detector = DamageDetector.from_pretrained(str(MODEL_DIR)).eval()
    session = ort.InferenceSession(str(MODEL_DIR / ONNX_FILE), providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 64, 96), (2, 1, 160, 128)]:
        L = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            expected = detector(L).numpy()
        assert np.abs(session.run(None, {"L": L.numpy()})[0] - expected).max() < 1e-3
    card = (MODEL_DIR / "README.md").read_text()
    assert "231,236 parameters" in card and "precision" in card and "Long straight wires" in card
