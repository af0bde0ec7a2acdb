"""Odd and hostile images through the library, the CLI and the app's API: colorized or one clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pix2pix_color import Colorizer, ImageError
from pix2pix_color.cli import main as cli_main
from pix2pix_color.core.color import gray_to_l, rgb_to_l

from .conftest import displayed, hostile_corpus, run_python, tiny_generator


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str | None]]:
    folder = tmp_path_factory.mktemp("hostile")
    return folder, hostile_corpus(folder)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(tiny_generator())


def luminance(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I"):
        return gray_to_l(torch.from_numpy(np.asarray(image, dtype=np.float32) / 65535)).numpy()
    if image.mode in ("L", "LA"):
        return gray_to_l(torch.from_numpy(np.array(image.convert("L")))).numpy()
    return rgb_to_l(torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1))[0].numpy()


def test_library_colorizes_or_explains_every_file(corpus, colorizer):
    folder, expected = corpus
    for name, message in expected.items():
        path = folder / name
        if message is None:
            out = colorizer.colorize(path)
            shown = displayed(path)
            assert out.size == shown.size, name
            reference = luminance(shown.convert("RGB") if shown.mode in ("P", "CMYK", "RGBA") else shown)
            assert np.abs(luminance(out.convert("RGB")) - reference).mean() < 0.6, name
        else:
            with pytest.raises(ImageError, match=message) as error:
                colorizer.colorize(path)
            assert str(error.value).startswith(name), "the message names the file"


def test_exif_rotation_and_palette_alpha_are_honoured(corpus, colorizer):
    folder, _ = corpus
    assert colorizer.colorize(folder / "exif_rotated.jpg").size == (160, 240)
    out = colorizer.colorize(folder / "palette_transparent.png")
    assert out.mode == "RGBA"
    assert np.array_equal(
        np.asarray(out.getchannel("A")),
        np.asarray(Image.open(folder / "palette_transparent.png").convert("RGBA").getchannel("A")),
    )
    assert colorizer.colorize(folder / "animated.gif").size == (120, 80)


def test_corpus_in_a_fresh_process_stays_small_and_quick(corpus, tmp_path):
    """No hang (the subprocess has a time limit) and bounded memory (peak RSS), bomb included."""
    folder, expected = corpus
    model = tmp_path / "m"
    tiny_generator().save_pretrained(model)
    code = f"""
import json, re
from pathlib import Path
from pix2pix_color import Colorizer, ImageError
c = Colorizer.from_pretrained({str(model)!r})
results = {{}}
for name in {sorted(expected)!r}:
    try:
        results[name] = list(c.colorize(Path({str(folder)!r}) / name).size)
    except ImageError as e:
        results[name] = str(e)
# VmHWM, not ru_maxrss: after fork+exec Linux carries the parent's peak into ru_maxrss (the test
# process's own, a gigabyte after the training tests), VmHWM is this process's own address space.
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024
print(json.dumps({{"results": results, "peak_rss_mb": peak}}))
"""
    result = run_python(code, {}, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["peak_rss_mb"] < 1500, report["peak_rss_mb"]
    for name, message in expected.items():
        assert isinstance(report["results"][name], list) == (message is None), (name, report["results"][name])


def test_cli_reports_each_bad_file_and_writes_the_others(corpus, tmp_path, capsys):
    folder, expected = corpus
    model = tmp_path / "m"
    tiny_generator().save_pretrained(model)
    status = cli_main(["colorize", str(folder), "-o", str(tmp_path / "out"), "--model", str(model), "-q"])
    assert status == 1
    err = capsys.readouterr().err
    written = {p.stem for p in (tmp_path / "out").iterdir()}
    for name, message in expected.items():
        if message is None:
            assert Path(name).stem in written, name
            # An animated GIF comes out animated, as a GIF; everything else as a PNG.
            suffix = ".gif" if name == "animated.gif" else ".png"
            result = Image.open(tmp_path / "out" / f"{Path(name).stem}{suffix}")
            assert result.size == displayed(folder / name).size
            assert getattr(result, "n_frames", 1) == (3 if name == "animated.gif" else 1)
        else:
            lines = [line for line in err.splitlines() if name in line]
            assert len(lines) == 1 and message in lines[0], (name, lines)


def test_app_api_answers_every_file(corpus, app_client):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    folder, expected = corpus
    for name, message in expected.items():
        if message is None:
            out = Image.open(app_client.predict(handle_file(str(folder / name)), api_name="/colorize"))
            assert out.size == displayed(folder / name).size, name
        else:
            with pytest.raises(AppError, match=message):
                app_client.predict(handle_file(str(folder / name)), api_name="/colorize")


MODES = ["RGB", "L", "LA", "RGBA", "P", "CMYK", "I;16", "1"]


@st.composite
def images(draw) -> Image.Image:
    width, height = draw(st.integers(1, 160)), draw(st.integers(1, 160))
    mode = draw(st.sampled_from(MODES))
    kind = draw(st.sampled_from(["noise", "flat", "gradient"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "noise":
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    elif kind == "flat":
        rgb = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (height, width, 3)).copy()
    else:
        ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None] * rng.random(3)
        rgb = np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8).copy()
    image = Image.fromarray(rgb, "RGB")
    if mode == "I;16":
        return Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
    if mode in ("LA", "RGBA"):
        image = image.convert(mode)
        image.putalpha(Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8)))
        return image
    return image.convert(mode)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=images())
def test_colorize_property(image):
    colorizer = Colorizer(tiny_generator())
    out = colorizer.colorize(image)
    assert out.size == image.size
    assert out.mode == ("RGBA" if image.mode in ("LA", "RGBA") else "RGB")
    arr = np.asarray(out)
    assert arr.dtype == np.uint8
    if image.mode in ("LA", "RGBA"):  # transparency comes back exactly as it was
        assert np.array_equal(arr[..., 3], np.asarray(image.getchannel("A")))
    source = image if image.mode in ("L", "LA", "I;16") else image.convert("RGB")
    difference = np.abs(luminance(out.convert("RGB")) - luminance(source))
    assert difference.mean() < 0.75
