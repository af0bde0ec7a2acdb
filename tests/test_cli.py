import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.cli import main

from .conftest import landscape, tiny_generator


def test_colorize_folder_with_a_corrupt_file(tiny_model_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    (inputs / "nested").mkdir(parents=True)
    landscape(123, 77).convert("L").save(inputs / "valley.png")
    landscape(64, 90, seed=2).save(inputs / "nested" / "coast.jpg")
    landscape(40, 30, seed=3).convert("LA").save(inputs / "nested" / "valley.png")  # same stem, other folder
    (inputs / "nested" / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (inputs / "notes.txt").write_text("not an image, and not picked up by its suffix")
    out = tmp_path / "out"

    status = main(["colorize", str(inputs), "-o", str(out), "--model", str(tiny_model_dir), "--quiet"])

    assert status == 1  # one file failed
    err = capsys.readouterr().err
    assert "scan.jpg" in err and "not an image" in err
    # The input tree is mirrored: photos of one name in different folders keep their own places.
    written = {str(p.relative_to(out)): Image.open(p) for p in out.rglob("*.png")}
    assert set(written) == {"valley.png", "nested/valley.png", "nested/coast.png"}
    sizes = {name: (img.size, img.mode) for name, img in written.items()}
    assert sizes["nested/coast.png"] == ((64, 90), "RGB")
    assert sizes["valley.png"] == ((123, 77), "RGB") and sizes["nested/valley.png"] == ((40, 30), "RGBA")


def test_inputs_that_would_meet_in_the_output_are_renamed_and_the_mapping_printed(tiny_model_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    landscape(40, 30).convert("L").save(inputs / "barn.png")
    landscape(50, 30).convert("L").save(inputs / "barn.jpg")
    out = tmp_path / "out"
    assert main(["colorize", str(inputs), "-o", str(out), "--model", str(tiny_model_dir), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["barn-2.png", "barn.png"]
    err = capsys.readouterr().err
    assert f"{inputs / 'barn.png'} -> {out / 'barn-2.png'} (barn.jpg is written as barn.png too)" in err


def test_colorize_never_overwrites_an_input(tiny_model_dir, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    landscape(50, 40).convert("L").save(photo)
    before = photo.read_bytes()
    assert main(["colorize", str(photo), "-o", str(tmp_path), "--model", str(tiny_model_dir), "-q"]) == 0
    assert photo.read_bytes() == before
    assert (tmp_path / "photo-2.png").is_file()
    assert "(photo.png is an input, not overwritten)" in capsys.readouterr().err  # the real reason


def test_an_output_that_is_a_file_is_one_line_and_nothing_written(tiny_model_dir, tmp_path, capsys):
    photo, taken = tmp_path / "photo.png", tmp_path / "result.png"
    landscape(50, 40).convert("L").save(photo)
    taken.write_bytes(b"mine")
    for command in ("colorize", "restore"):
        assert main([command, str(photo), "-o", str(taken), "--model", str(tiny_model_dir), "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: -o {taken} is a file: give a folder for the results"]
    assert taken.read_bytes() == b"mine"


def test_a_working_size_larger_than_the_photo_gets_a_note(tiny_model_dir, tmp_path, capsys):
    photo = tmp_path / "cat.png"
    landscape(45, 30).convert("L").save(photo)
    out = tmp_path / "out"
    args = ["colorize", str(photo), "-o", str(out), "--model", str(tiny_model_dir), "-q"]
    assert main([*args, "--working-size", "64"]) == 0
    assert "cat.png is 45x30, smaller than --working-size 64" in capsys.readouterr().err
    assert main([*args, "--working-size", "32"]) == 0
    assert "smaller than" not in capsys.readouterr().err


def test_help_and_argument_errors_do_not_import_torch():
    """`--help` and a mistyped option answer at once: the parser is built without PyTorch."""
    code = (
        "import sys\n"
        "from pix2pix_color.cli import main\n"
        "for argv in (['--help'], ['colorize', 'x.png', '-o', 'out', '--working-size', '5']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules, 'cv2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "False False", done.stderr
    assert "--working-size: must be a whole number of pixels from 16 to 1024, not '5'" in done.stderr


@pytest.mark.parametrize("command", [["evaluate", "--dataset"], ["colorize-dataset", "-o", "OUT"]])
def test_a_hub_dataset_offline_is_one_line_at_once_and_nothing_created(tmp_path, command):
    out = tmp_path / "archive"
    argv = [a.replace("OUT", str(out)) for a in command]
    argv = [*argv, "someone/photos"] if command[0] == "evaluate" else [argv[0], "someone/photos", *argv[1:]]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pix2pix_color.cli", *argv], capture_output=True, text=True, timeout=60, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "someone/photos: not a local folder, and the Hub" in lines[0], lines
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_model_is_one_line_and_exit_2(tmp_path, capsys):
    landscape(20, 20).save(tmp_path / "a.png")
    status = main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "nope")])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_evaluate_folder_writes_model_and_gray_baseline(tiny_model_dir, tmp_path, capsys):
    for i in range(3):
        landscape(80, 60, seed=i).save(tmp_path / f"{i}.png")
    report_path = tmp_path / "report.json"
    status = main(
        ["evaluate", "--model", str(tiny_model_dir), "--images", str(tmp_path), "--output", str(report_path), "-q"]
    )
    assert status == 0
    report = json.loads(report_path.read_text())
    assert report["model"]["n_images"] == 3 and report["gray"]["n_images"] == 3
    # The strict color numbers first, the lenient hue hit beside them; gray never hits a color.
    assert report["gray"]["color_hit"] == 0.0 and 0.0 <= report["model"]["color_hit"] <= 1.0
    assert {"chroma_ratio", "color_hit_warm", "color_hit_cool", "hue_hit"} <= set(report["model"])
    assert "color_hit" in report["methods"] and all("color_hit" in row for row in report["photos"])
    assert report["gray"]["colorfulness"] < 1 and np.isfinite(report["model"]["psnr"])
    assert "Gaussian window sigma 1.5 (11 px), per RGB channel at full resolution" in report["methods"]["ssim"]
    out = capsys.readouterr().out
    assert out.index("color hit rate (strict)") < out.index("hue hit rate (lenient)")
    assert "PSNR" in out and "SSIM: Wang et al. 2004" in out


def test_save_png_is_lossless_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    import pytest

    from pix2pix_color.io.images import save_png

    image = landscape(97, 41)
    target = tmp_path / "out.png"
    save_png(image, target)
    assert np.array_equal(np.asarray(Image.open(target)), np.asarray(image))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]

    def disk_full(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_png(landscape(30, 20), target)
    monkeypatch.undo()
    assert np.array_equal(np.asarray(Image.open(target)), np.asarray(image))  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_evaluate_on_a_dataset_in_hub_layout(hub_dataset, tmp_path, capsys):
    report = tmp_path / "report.json"
    status = main(["evaluate", "--dataset", str(hub_dataset), "--split", "validation", "-q", "--output", str(report)])
    assert status == 0
    result = json.loads(report.read_text())
    assert result["model"]["n_images"] == 4 and result["gray"]["hue_hit"] == 0.0
    assert 0 <= result["model"]["hue_hit"] <= 1 and result["gray"]["colorfulness"] < 1
    assert "hue hit rate" in capsys.readouterr().out


def test_colorize_with_hints_file_needs_a_hint_model_and_one_photo(tmp_path, capsys):
    photo = tmp_path / "barn.png"
    landscape(80, 60).convert("L").save(photo)
    hints = tmp_path / "hints.json"
    hints.write_text('[[10, 10, "#b03a2e"]]')
    status = main(["colorize", str(photo), str(photo), "-o", str(tmp_path / "out"), "--hints", str(hints), "-q"])
    assert status == 2 and "--hints applies to a single photo" in capsys.readouterr().err
    hints.write_text("[[10, 10")
    status = main(["colorize", str(photo), "-o", str(tmp_path / "out"), "--hints", str(hints), "-q"])
    assert status == 2 and "not valid JSON" in capsys.readouterr().err
    hints.write_text('[[500, 10, "#b03a2e"]]')
    status = main(["colorize", str(photo), "-o", str(tmp_path / "out"), "--hints", str(hints), "-q"])
    assert status == 2 and "hint 1 at (500, 10) lies outside the 80x60 photo" in capsys.readouterr().err
    hints.write_text('[[10, 10, "#b03a2e"]]')
    plain, hinted = tmp_path / "plain", tmp_path / "hinted"
    tiny_generator().save_pretrained(plain)
    tiny_generator(hints=True).save_pretrained(hinted)
    command = ["colorize", str(photo), "--hints", str(hints), "-q"]
    status = main([*command, "--model", str(plain), "-o", str(tmp_path / "plain-out")])
    assert status == 2 and "takes no color hints" in capsys.readouterr().err
    status = main([*command, "--model", str(hinted), "-o", str(tmp_path / "hinted-out")])
    assert status == 0 and Image.open(tmp_path / "hinted-out" / "barn.png").size == (80, 60)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--color-strength", "5"], "argument --color-strength: must be a number from 0 to 2, not '5'"),
        (["--color-strength", "strong"], "argument --color-strength: must be a number from 0 to 2"),
        (["--working-size", "99999"], "argument --working-size: must be a whole number of pixels from 16 to 1024"),
        (["--working-size", "8"], "argument --working-size: must be a whole number of pixels from 16 to 1024"),
        (["--batch-size", "0"], "argument --batch-size: must be a whole number from 1 to 256"),
        (["--smoothing", "nan"], "argument --smoothing: must be a number at least 0 and below 1"),
        (["--smoothing", "1"], "argument --smoothing: must be a number at least 0 and below 1"),
        (["--device", "gpu7"], "argument --device: 'gpu7' is not a device"),
    ],
)
def test_every_option_is_checked_up_front_with_one_line(flags, message, tmp_path, capsys):
    photo = tmp_path / "a.png"
    landscape().convert("L").save(photo)
    with pytest.raises(SystemExit) as exit_info:
        main(["colorize", str(photo), "-o", str(tmp_path / "out"), *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing was started


def test_the_library_refuses_the_same_ranges():
    from pix2pix_color.inference import check_working_size

    with pytest.raises(ValueError, match="from 0 to 2"):
        Colorizer(tiny_generator(), color_strength=2.5)
    with pytest.raises(ValueError, match="from 16 to 1024"):
        check_working_size(4096)


def test_a_hub_model_without_a_network_fails_at_once_with_one_line(tmp_path):
    """Offline (here: an endpoint that refuses connections), `--model org/name` is answered by the
    local cache at once: one line naming the repo, not a minute of retry warnings (issue 30, item 10)."""
    import socket
    import subprocess
    import sys

    from .conftest import landscape

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    photo = tmp_path / "photo.png"
    landscape(40, 30).convert("L").save(photo)
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(
        [sys.executable, "-m", "pix2pix_color.cli", "colorize", str(photo), "-o", str(tmp_path / "out"),
         "--model", "someone/some-model"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "someone/some-model" in lines[0] and "cannot be reached (offline?)" in lines[0]


def test_evaluate_skips_black_and_white_and_tiny_photos_and_writes_per_photo_rows(tiny_model_dir, tmp_path, caplog):
    """A folder of "color photos" with a black-and-white one and a 3x3 image in it: both are named and
    skipped (the gray baseline jumped from 16 to 37 dB when they were scored), the others get rows."""
    folder = tmp_path / "photos"
    folder.mkdir()
    landscape(96, 64, seed=1).save(folder / "a_color.png")
    landscape(80, 60, seed=2).save(folder / "b_color.png")
    landscape(96, 64, seed=3).convert("L").convert("RGB").save(folder / "c_black_and_white.png")
    landscape(3, 3, seed=4).save(folder / "d_tiny.png")
    report = tmp_path / "report.json"
    args = ["evaluate", "--images", str(folder), "--model", str(tiny_model_dir), "-q", "--output", str(report)]
    assert main(args) == 0
    data = json.loads(report.read_text())
    assert data["model"]["n_images"] == 2
    rows = {row["file"]: row for row in data["photos"]}
    assert set(rows) == {"a_color.png", "b_color.png", "c_black_and_white.png", "d_tiny.png"}
    assert "black and white" in rows["c_black_and_white.png"]["skipped"]
    assert "too small to score" in rows["d_tiny.png"]["skipped"]
    assert {"psnr", "hue_hit", "colorfulness", "gray_psnr"} <= set(rows["a_color.png"])
    assert "skipped c_black_and_white.png: black and white" in caplog.text


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_16_bit_scan_comes_out_16_bit_with_its_lightness_at_full_depth(tiny_model_dir, tmp_path, suffix):
    """Scanners save 16-bit gray TIFFs and PNGs: the colorized PNG is 16-bit RGB and its L* is the
    scan's to within a fraction of one 8-bit level (an 8-bit output would be off by up to 0.2 L*)."""
    cv2 = pytest.importorskip("cv2")
    import torch

    from pix2pix_color.core.color import gray_to_l, rgb_to_l

    gray = np.asarray(landscape(120, 80).convert("L"), dtype=np.float64) * 257
    scan = (gray + np.linspace(0, 250, 120)[None]).clip(0, 65535).astype(np.uint16)  # between 8-bit levels
    Image.fromarray(scan).save(tmp_path / f"scan{suffix}")
    out = tmp_path / "out"
    args = ["colorize", str(tmp_path / f"scan{suffix}"), "-o", str(out), "--model", str(tiny_model_dir), "-q"]
    assert main(args) == 0
    written = cv2.imread(str(out / "scan.png"), cv2.IMREAD_UNCHANGED)[..., ::-1].copy()
    assert written.dtype == np.uint16 and written.shape == (80, 120, 3)
    L_scan = gray_to_l(torch.from_numpy(scan.astype(np.float32) / 65535))
    L_out = rgb_to_l(torch.from_numpy(written.astype(np.float32) / 65535).permute(2, 0, 1))[0]
    assert float((L_scan - L_out).abs().mean()) < 0.02
    assert len(np.unique(written[..., 1])) > 1000  # more levels than 8 bits hold
    png = Image.open(out / "scan.png")
    assert png.info["Software"].startswith("pix2pix-color") and png.info.get("icc_profile")


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_an_animated_image_is_colorized_frame_by_frame_with_its_timing(tmp_path, suffix, capsys):
    frames = [landscape(64, 48, seed=i).convert("L").convert("RGB") for i in range(3)]
    source = tmp_path / f"loop{suffix}"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=[80, 120, 200], loop=0,
                   **({"lossless": True} if suffix == ".webp" else {}))  # fmt: skip
    out = tmp_path / "out"
    assert main(["colorize", str(source), "-o", str(out)]) == 0  # the bundled model: real colors
    result = Image.open(out / f"loop{suffix}")
    assert result.format == Image.open(source).format and result.n_frames == 3 and result.size == (64, 48)
    durations = []
    for k in range(3):
        result.seek(k)
        rgb = np.asarray(result.convert("RGB"), dtype=int)
        durations.append(result.info.get("duration"))  # after the frame is loaded (Pillow's WebP sets it then)
        assert np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean() > 1, "each frame has colors"
    assert durations == [80, 120, 200] and result.info.get("loop", 0) == 0
    assert "(animated: 3 frames, their timing kept)" in capsys.readouterr().err
