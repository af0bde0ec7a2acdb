"""The Gradio app: its API through gradio_client, and its pages in a real browser (Debian Chromium)."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import ROOT, bomb_png, landscape

gr = pytest.importorskip("gradio")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import app  # noqa: E402
from pix2pix_color.core.color import gray_to_l, rgb_to_l  # noqa: E402


def _L(image: Image.Image) -> np.ndarray:
    import torch

    if image.mode == "L":
        return gray_to_l(torch.from_numpy(np.array(image))).numpy()
    return rgb_to_l(torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1))[0].numpy()


def test_api_colorizes_at_full_resolution_keeping_luminance(app_client, tmp_path):
    client = app_client
    source = tmp_path / "valley.png"
    landscape(211, 137).convert("L").save(source)
    result = client.predict(handle_file(str(source)), api_name="/colorize")
    assert result.endswith(".png")
    out = Image.open(result)
    assert out.format == "PNG" and out.size == (211, 137) and out.mode == "RGB"
    assert np.abs(_L(out) - _L(Image.open(source))).mean() < 0.6
    smaller = Image.open(client.predict(handle_file(str(source)), "128", api_name="/colorize"))
    assert smaller.size == (211, 137)


def _chroma(image: Image.Image) -> float:
    """Mean distance of each pixel from gray, in 8-bit RGB levels."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean())


def test_api_color_strength_scales_the_colors(app_client, tmp_path):
    source = tmp_path / "valley.png"
    landscape(160, 120).convert("L").save(source)
    by_strength = {
        s: _chroma(Image.open(app_client.predict(handle_file(str(source)), "Auto", s, api_name="/colorize")))
        for s in (0.0, 1.0, 2.0)
    }
    assert by_strength[0.0] < 0.5  # no color at all: the gray photo back
    assert by_strength[1.0] > 1.0
    assert by_strength[2.0] > 1.5 * by_strength[1.0]
    with pytest.raises(AppError, match="Color strength must be a number from 0 to 2"):
        app_client.predict(handle_file(str(source)), "Auto", 7, api_name="/colorize")


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("notes.jpg", lambda p: p.write_text("this is text, not a photo"), "not an image"),
        ("empty.png", lambda p: p.write_bytes(b""), "empty"),
        ("cut.png", lambda p: p.write_bytes(_png_bytes()[:2000]), "truncated"),
        ("bomb.png", bomb_png, "megapixels"),
    ],
)
def test_api_bad_inputs_get_clear_messages(app_client, tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    with pytest.raises(AppError, match=message) as error:
        app_client.predict(handle_file(str(path)), api_name="/colorize")
    assert "Traceback" not in str(error.value) and len(str(error.value)) < 200


def _png_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    landscape(300, 200).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# In a real browser


def _colorize_in_page(page, root, photo: Path, screenshot: Path) -> list[list[int]]:
    """Upload `photo` in the app under `root` (page or web component), run it, return the result images' sizes."""
    root.locator("#photo-input input[type=file]").set_input_files(str(photo))
    root.locator("#colorize-button").click()
    images = root.locator("#result-slider img")
    images.first.wait_for(state="visible", timeout=120_000)
    page.wait_for_function(
        "els => els.length >= 2 && els.every(e => e.complete && e.naturalWidth > 0)",
        arg=images.element_handles(),
        timeout=120_000,
    )
    page.screenshot(path=str(screenshot), full_page=True)
    return [[e.evaluate("e => e.naturalWidth"), e.evaluate("e => e.naturalHeight")] for e in images.element_handles()]


def test_app_in_a_real_browser(app_server, browser, tmp_path):
    server = app_server
    photo = tmp_path / "fjord.jpg"
    landscape(333, 222).convert("L").save(photo, quality=95)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server, wait_until="load")  # not networkidle: the app keeps a heartbeat open
    page.wait_for_function("document.title.includes('pix2pix-color')", timeout=60_000)
    sizes = _colorize_in_page(page, page, photo, tmp_path / "app.png")
    assert sizes and all(size == [333, 222] for size in sizes)
    assert page.locator("#download-png a").first.get_attribute("href").endswith(".png")
    assert (tmp_path / "app.png").stat().st_size > 10_000
    page.close()


def test_embed_page_renders_the_app_through_the_web_component(app_server, browser, tmp_path):
    server = app_server
    # docs/embed.html as published, pointed at the local app and at the web component it serves.
    html = (ROOT / "docs" / "embed.html").read_text()
    entry = re.search(
        r"\./(assets/index-[\w-]+\.js)", (Path(gr.__file__).parent / "templates/frontend/gradio.js").read_text()
    ).group(1)
    html = re.sub(r'(<script id="gradio-js" type="module" src=")[^"]+', rf"\g<1>{server}/{entry}", html)
    html = re.sub(r'(<gradio-app id="colorizer" src=")[^"]+', rf"\g<1>{server}", html)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(html)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        photo = tmp_path / "lake.png"
        landscape(190, 260, seed=4).convert("L").save(photo)
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
        app_root = page.locator("gradio-app#colorizer")
        app_root.locator("#colorize-button").wait_for(timeout=60_000)
        assert page.locator("h1").first.inner_text().startswith("Bringing old landscape photos")
        sizes = _colorize_in_page(page, app_root, photo, tmp_path / "embed.png")
        assert sizes and all(size == [190, 260] for size in sizes)
        page.close()
    finally:
        httpd.shutdown()


def test_requests_write_nothing_outside_gradios_temp_dir(app_client, tmp_path):
    """Uploads and results stay in the temp folder Gradio manages; the app's own folder is untouched."""
    import tempfile

    def snapshot() -> set[Path]:
        skip = {".git", "__pycache__", ".pytest_cache", ".gradio", ".hypothesis"}
        return {p for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)}

    before = snapshot()
    good = tmp_path / "ok.jpg"
    landscape(120, 90).convert("L").save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    result = Path(app_client.predict(handle_file(str(good)), api_name="/colorize"))
    with pytest.raises(AppError):
        app_client.predict(handle_file(str(bad)), api_name="/colorize")
    assert snapshot() == before
    assert result.is_file() and result.suffix == ".png"  # the client's download copy
    gradio_temp = Path(os.environ.get("GRADIO_TEMP_DIR", Path(tempfile.gettempdir()) / "gradio"))
    assert gradio_temp.is_dir() and any(gradio_temp.rglob("ok-colorized.png"))


def test_batch_tab_returns_gallery_and_zip_of_full_resolution_pngs(app_client, tmp_path):
    import zipfile

    sources = []
    for i, size in enumerate([(90, 60), (61, 122), (90, 60)]):
        path = tmp_path / ("same.jpg" if i != 1 else "tall.png")
        if i == 2:
            path = tmp_path / "sub" / "same.jpg"
            path.parent.mkdir()
        landscape(*size, seed=i).convert("L").save(path)
        sources.append(path)
    broken = tmp_path / "broken.jpg"
    broken.write_text("nope")
    gallery, archive, summary = app_client.predict(
        [handle_file(str(p)) for p in [*sources, broken]], "Auto", 1.0, api_name="/colorize_many"
    )
    assert len(gallery) == 3 and "3 of 4 photos colorized" in summary and "broken.jpg" in summary
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
        assert names == ["same-2.png", "same.png", "tall.png"]
        sizes = sorted(Image.open(zf.open(n)).size for n in names)
    assert sizes == [(61, 122), (90, 60), (90, 60)]


def test_compare_with_real_colors_for_a_color_photo(tmp_path):
    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    h = app.Handlers(Colorizer(tiny_generator()))
    color = tmp_path / "color.png"
    landscape(80, 50).save(color)
    shown, _ = h.colorize_and_keep(str(color), "Auto", app.COMPARE_REAL, 1.0)
    left, right = (Image.open(p) for p in shown.pair)
    real = np.asarray(Image.open(color).convert("RGB"), dtype=int)
    shown_real = np.asarray(right.convert("RGB"), dtype=int)  # a JPEG preview of the real colors
    assert np.abs(shown_real.mean(axis=(0, 1)) - real.mean(axis=(0, 1))).max() < 1.5
    assert np.abs(shown_real - real).mean() < 8  # a noisy synthetic photo: JPEG's worst case
    assert left.size == (80, 50) and "real colors" in shown.note
    shown, _ = h.colorize_and_keep(str(color), "Auto", app.COMPARE_GRAY, 1.0)
    left = Image.open(shown.pair[0])
    assert np.asarray(left.convert("HSV"))[..., 1].max() <= 2  # the black-and-white version


def test_the_strength_slider_redoes_the_result_without_the_network(tmp_path, monkeypatch):
    """Strength is a post-process of the kept prediction: moving the slider runs no network and gives
    what colorizing at that strength gives."""
    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    colorizer = Colorizer(tiny_generator())
    h = app.Handlers(colorizer)
    photo = tmp_path / "photo.png"
    landscape(96, 64).convert("L").save(photo)
    first, state = h.colorize_and_keep(str(photo), "Auto", app.COMPARE_GRAY, 1.0)
    calls = []
    monkeypatch.setattr(colorizer.generator, "forward", lambda *a, **k: calls.append(1))
    stronger = h.restrength(state, 1.8)
    assert calls == [] and "color strength 1.8" in stronger.note
    monkeypatch.undo()
    expected = colorizer.colorize(Image.open(photo), color_strength=1.8)
    diff = np.abs(np.asarray(stronger.result, dtype=int) - np.asarray(expected, dtype=int))
    assert diff.max() <= 1  # L* kept in float16
    assert not np.array_equal(np.asarray(stronger.result), np.asarray(first.result))
    png = Image.open(app.DOWNLOADS.ready(stronger.png))  # the download: the same pixels, full resolution
    assert png.size == (96, 64) and np.array_equal(np.asarray(png), np.asarray(stronger.result))


def test_outputs_are_served_in_place_and_removed_by_gradios_delete_cache(tmp_path):
    """No sweep of our own: our PNGs are written into Gradio's cache, which serves them as they are,
    tracks them, and deletes them with `delete_cache` once they are OUTPUT_MAX_AGE_S old."""
    from gradio.route_utils import delete_files_created_by_app
    from gradio_client import Client

    from pix2pix_color import Colorizer

    from .conftest import _free_port, tiny_generator

    demo = app.build_demo(Colorizer(tiny_generator()))
    assert demo.delete_cache == (1800, app.OUTPUT_MAX_AGE_S)
    _, url, _ = app.serve(demo, server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        photo = tmp_path / "p.png"
        Image.new("L", (40, 30), 90).save(photo)
        Client(url, verbose=False).predict(handle_file(str(photo)), api_name="/colorize")
        ours = list(app.OUTPUT_DIR.rglob("p-colorized.png"))
        tracked = {str(Path(f).resolve()) for files in demo.temp_file_sets for f in files}
        served = [p for p in ours if str(p.resolve()) in tracked]
        assert served, "the PNG is served from where it was written, and Gradio tracks it"
        delete_files_created_by_app(demo, age=app.OUTPUT_MAX_AGE_S)
        assert all(p.exists() for p in served)  # younger than the age: kept
        delete_files_created_by_app(demo, age=None)
        assert not any(p.exists() for p in served)
    finally:
        demo.close()


def barn_scene(path: Path) -> Path:
    """A black-and-white 320x240 scene: a bright sky, a dark hill, and a flat gray barn on it."""
    y, x = np.mgrid[0:240, 0:320]
    gray = np.where(y < 100, 200 - y // 4, 70 + (x % 7))  # sky, then a dark, slightly textured hill
    barn = (60 <= x) & (x < 140) & (120 <= y) & (y < 200)
    gray = np.where(barn, 120, gray).astype(np.uint8)
    Image.fromarray(gray, "L").save(path)
    return path


def _mean_ab(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    import torch

    from pix2pix_color.core.color import rgb_to_lab

    x0, y0, x1, y1 = box
    rgb = torch.from_numpy(np.array(image.convert("RGB"))[y0:y1, x0:x1]).permute(2, 0, 1)
    return rgb_to_lab(rgb)[1:].flatten(1).mean(1).numpy()


def _is_red(ab: np.ndarray) -> bool:
    hue = np.degrees(np.arctan2(ab[1], ab[0]))
    return bool(np.hypot(*ab) >= 15 and -20 <= hue <= 60)  # red to orange-red, vivid enough


BARN_INSIDE, FAR_SKY = (75, 135, 125, 185), (220, 10, 310, 60)


def test_api_hints_turn_the_hinted_region_red(app_client, tmp_path):
    photo = barn_scene(tmp_path / "barn.png")
    plain = Image.open(app_client.predict(handle_file(str(photo)), api_name="/colorize"))
    hinted = Image.open(
        app_client.predict(handle_file(str(photo)), "Auto", 1.0, '[[100, 160, "#c0392b"]]', api_name="/colorize")
    )
    assert hinted.size == (320, 240)
    assert not _is_red(_mean_ab(plain, BARN_INSIDE)) and _is_red(_mean_ab(hinted, BARN_INSIDE))
    assert not _is_red(_mean_ab(hinted, FAR_SKY))
    # The luminance is still the photo's own.
    assert np.abs(_L(hinted) - _L(Image.open(photo))).mean() < 0.6


@pytest.mark.parametrize(
    "hints, message",
    [
        ('[[400, 10, "#c0392b"]]', "lies outside the 320x240 photo"),
        ('[[10, 10, "crimson"]]', "is not '#rrggbb'"),
        ("[[10, 10", "not valid JSON"),
    ],
)
def test_api_bad_hints_get_one_line_errors(app_client, tmp_path, hints, message):
    photo = barn_scene(tmp_path / "barn.png")
    with pytest.raises(AppError, match=re.escape(message)):
        app_client.predict(handle_file(str(photo)), "Auto", 1.0, hints, api_name="/colorize")


def test_clicked_hint_turns_the_barn_red_in_a_real_browser(app_server, browser, tmp_path):
    import urllib.request

    photo = barn_scene(tmp_path / "barn.png")
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(app_server, wait_until="load")
    page.locator("#photo-input input[type=file]").set_input_files(str(photo))
    canvas = page.locator("#hint-canvas img")
    canvas.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("e => e.complete && e.naturalWidth === 320", arg=canvas.element_handle(), timeout=60_000)
    shown = canvas.bounding_box()
    # Click the middle of the barn with the default hint color (a barn red).
    page.mouse.click(shown["x"] + 100 * shown["width"] / 320, shown["y"] + 160 * shown["height"] / 240)
    page.locator("#hint-info").get_by_text("1 hint.").wait_for(timeout=60_000)
    page.locator("#colorize-button").click()
    page.locator("#result-info").get_by_text("1 color hint applied").wait_for(timeout=120_000)
    page.locator("#hint-info").get_by_text("1 hint applied. Click to add more").wait_for(timeout=10_000)
    href = page.locator("#download-png a").first.get_attribute("href")
    url = href if href.startswith("http") else app_server + href
    png = tmp_path / "downloaded.png"
    png.write_bytes(urllib.request.urlopen(url, timeout=60).read())
    result = Image.open(png)
    page.screenshot(path=str(tmp_path / "hints.png"), full_page=True)
    page.close()
    assert result.size == (320, 240)
    assert _is_red(_mean_ab(result, BARN_INSIDE)), _mean_ab(result, BARN_INSIDE)
    assert not _is_red(_mean_ab(result, FAR_SKY)), _mean_ab(result, FAR_SKY)


def _slider_pictures(page, selector: str = "#result-slider") -> list[list[int]]:
    """Wait until the slider shows both its pictures; their natural sizes."""
    images = page.locator(f"{selector} img")
    page.wait_for_function(
        "sel => { const els = [...document.querySelectorAll(sel)];"
        " return els.length >= 2 && els.every(e => e.complete && e.naturalWidth > 0); }",
        arg=f"{selector} img",
        timeout=120_000,
    )
    return [[e.evaluate("e => e.naturalWidth"), e.evaluate("e => e.naturalHeight")] for e in images.element_handles()]


def _download(page, server: str, selector: str, target: Path) -> Image.Image:
    href = page.locator(f"{selector} a[href$='.png']").first.get_attribute("href", timeout=120_000)
    import urllib.request

    target.write_bytes(urllib.request.urlopen(href if href.startswith("http") else server + href, timeout=60).read())
    return Image.open(target)


def test_every_example_photo_colorizes_when_clicked_in_a_real_browser(app_server, browser, tmp_path):
    """The examples are what a visitor clicks first: each one shows its before/after and offers its
    full-resolution PNG, with no error anywhere on the page."""
    examples = sorted((ROOT / "examples").glob("*.jpg"))
    assert len(examples) == 4
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(app_server, wait_until="load")
    page.wait_for_function("document.title.includes('pix2pix-color')", timeout=60_000)
    items = page.locator("#photo-examples .gallery-item")
    items.first.wait_for(state="visible", timeout=60_000)
    assert items.count() == len(examples)
    for i, example in enumerate(examples):
        if i:
            page.locator("#another-photo").click()
            page.locator("#photo-input").wait_for(state="visible", timeout=30_000)
        items.nth(i).click()
        size = list(Image.open(example).size)
        assert _slider_pictures(page) == [size, size]
        page.locator("#result-info").get_by_text(f"{size[0]}x{size[1]} pixels").wait_for(timeout=60_000)
        png = _download(page, app_server, "#download-png", tmp_path / f"{example.stem}.png")
        assert png.size == tuple(size) and png.mode == "RGB"
        assert np.asarray(png).std(axis=2).mean() > 2, "colorized, not gray"
        page.screenshot(path=str(tmp_path / f"example-{i}.png"), full_page=True)
    assert page.locator(".toast-body").count() == 0
    assert page.get_by_text("Error", exact=True).count() == 0
    page.close()


def _yellow_ring_pixels(image: Image.Image) -> int:
    rgb = np.asarray(image.convert("RGB"), dtype=int)
    return int(((rgb[..., 0] > 200) & (rgb[..., 1] > 180) & (rgb[..., 2] < 60)).sum())


def test_the_guesses_toggle_in_a_real_browser(app_server, browser, tmp_path):
    """Off: the slider compares with the black-and-white input and the hint canvas has no "click
    here" rings. On: the slider shows the hatched guesses and the canvas gets its rings; the
    download is still the plain colorized PNG."""
    import urllib.request

    photo = tmp_path / "bridge.png"
    Image.open(ROOT / "tests" / "data" / "bridge_color.jpg").convert("L").save(photo)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(app_server, wait_until="load")
    page.locator("#photo-input input[type=file]").set_input_files(str(photo))
    page.locator("#hint-canvas img").wait_for(state="visible", timeout=60_000)
    page.locator("#colorize-button").click()
    _slider_pictures(page)

    def canvas() -> Image.Image:
        src = page.locator("#hint-canvas img").first.get_attribute("src")
        path = tmp_path / "canvas.png"
        path.write_bytes(urllib.request.urlopen(src if src.startswith("http") else app_server + src).read())
        return Image.open(path)

    assert _yellow_ring_pixels(canvas()) == 0
    page.get_by_text("Options", exact=True).click()  # the toggle lives in the closed Options accordion
    page.locator("#show-guesses input").check()
    page.locator("#result-info").get_by_text("hatched in magenta").wait_for(timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#hint-canvas img')].some(e => e.complete && e.naturalWidth > 0)"
    )
    page.wait_for_timeout(500)
    assert _yellow_ring_pixels(canvas()) > 20
    page.screenshot(path=str(tmp_path / "guesses.png"), full_page=True)
    page.locator("#show-guesses input").uncheck()
    page.locator("#result-info").get_by_text("the size of your photo").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    assert _yellow_ring_pixels(canvas()) == 0
    page.close()


# --------------------------------------------------------------------------------------------------
# Video

VIDEO_CLIP = Path(__file__).parent / "data" / "pan_two_shots.mp4"


def _frames_and_audio(path: str | Path) -> tuple[list[float], int]:
    import av

    with av.open(str(path)) as container:
        times = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    return times, samples


def test_api_colorizes_a_video_keeping_its_frames_and_audio(app_client):
    result = app_client.predict(handle_file(str(VIDEO_CLIP)), 1.0, "", api_name="/colorize_video")
    assert result.endswith(".mp4")
    assert _frames_and_audio(result) == _frames_and_audio(VIDEO_CLIP)
    from pix2pix_color.video.frames import read_frames

    first = Image.fromarray(next(read_frames(result)))
    assert _chroma(first) > 1.0
    repaired = app_client.predict(handle_file(str(VIDEO_CLIP)), 1.0, "", True, api_name="/colorize_video")
    assert _frames_and_audio(repaired) == _frames_and_audio(VIDEO_CLIP)  # every frame, repaired one frame later


def test_api_video_hints_and_limits(app_client, tmp_path):
    from .video_files import make_clip

    hinted = app_client.predict(handle_file(str(VIDEO_CLIP)), 1.0, '[[96, 60, "#d01010"]]', api_name="/colorize_video")
    assert hinted.endswith(".mp4")
    with pytest.raises(AppError, match="lies outside"):
        app_client.predict(handle_file(str(VIDEO_CLIP)), 1.0, '[[960, 60, "#d01010"]]', api_name="/colorize_video")
    long_clip = make_clip(tmp_path / "long.mp4", size=(32, 32), frames=62, fps=1)
    with pytest.raises(AppError, match="62 s long; this Space colorizes videos of up to 60 s"):
        app_client.predict(handle_file(str(long_clip)), api_name="/colorize_video")
    big = make_clip(tmp_path / "big.mp4", size=(2560, 1440), frames=2)
    with pytest.raises(AppError, match="2560x1440; this Space colorizes videos of up to 1920x1080"):
        app_client.predict(handle_file(str(big)), api_name="/colorize_video")
    text = tmp_path / "film.mp4"
    text.write_text("not a film")
    with pytest.raises(AppError, match="not a video file") as error:
        app_client.predict(handle_file(str(text)), api_name="/colorize_video")
    assert "Traceback" not in str(error.value) and len(str(error.value)) < 200
    # What an image sent to the video endpoint is: animated, still, or (renamed text) not an image at all.
    frames = [landscape(48, 32, seed=i) for i in range(3)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:], duration=100)
    landscape(48, 32).save(tmp_path / "still.jpg")
    (tmp_path / "notes.jpg").write_text("this is text, not a photo")
    for name, message in [
        ("loop.gif", "loop.gif: an animated GIF (3 frames), not a video: pix2pix-color colorize makes every frame"),
        ("still.jpg", "still.jpg: a still image, not a video"),
        ("notes.jpg", "notes.jpg: neither a video nor an image"),
    ]:
        with pytest.raises(AppError, match=re.escape(message)):
            app_client.predict(handle_file(str(tmp_path / name)), api_name="/colorize_video")


def test_an_animated_gif_on_the_photo_tab_says_its_first_frame_was_colorized(tmp_path):
    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    h = app.Handlers(Colorizer(tiny_generator()))
    frames = [landscape(48, 32, seed=i).convert("L") for i in range(4)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:], duration=100)
    shown, state = h.colorize_and_keep(str(tmp_path / "loop.gif"), "Auto", app.COMPARE_GRAY, 1.0)
    assert shown.result.size == (48, 32)
    assert "An animated GIF: its first frame of 4 colorized here" in shown.note
    assert "first frame of 4" in h.restrength(state, 1.5).note


def test_video_tab_in_a_real_browser(app_server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(app_server, wait_until="load")
    page.wait_for_function("document.title.includes('pix2pix-color')", timeout=60_000)
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(VIDEO_CLIP))
    # The first frame appears in the hint panel; a click there places a hint.
    canvas = page.locator("#video-hint-canvas img")
    page.get_by_text("Color hints on the first frame").click()
    canvas.wait_for(state="visible", timeout=60_000)
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] / 2, "y": box["height"] * 0.55})
    page.get_by_text("1 hint.").wait_for(timeout=30_000)
    page.locator("#video-repair input[type=checkbox]").check()
    page.locator("#video-button").click()
    video = page.locator("#video-output video")
    video.wait_for(state="attached", timeout=120_000)
    page.wait_for_function(
        "v => v.readyState >= 1 && v.duration > 1.2", arg=video.element_handle(), timeout=60_000
    )  # the browser itself plays the MP4 (H.264 yuv420p): 32 frames at 25 fps
    assert page.locator("#video-download a").first.get_attribute("href").endswith(".mp4")
    note = page.locator("#video-info").inner_text()
    assert "1 color hint on the first frame" in note and "Dust and scratches filled before coloring" in note
    page.screenshot(path=str(tmp_path / "video.png"), full_page=True)
    page.close()


def test_handlers_work_without_a_server_and_a_hint_click_never_decodes_the_upload_again(tmp_path, monkeypatch):
    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    h = app.Handlers(Colorizer(tiny_generator(hints=True)))
    photo = barn_scene(tmp_path / "barn.png")
    decodes = {"n": 0}
    real_open = app.open_image

    def counting_open(*args, **kwargs):
        decodes["n"] += 1
        return real_open(*args, **kwargs)

    monkeypatch.setattr(app, "open_image", counting_open)
    canvas, hints, base, scale, suggested, note = h.photo_hints.show(str(photo))
    assert canvas.size == (320, 240) and hints == [] and scale == 1.0 and decodes["n"] == 1
    for x in (100, 120, 140):
        click = gr.SelectData(None, {"index": [x, 160], "value": None})
        canvas, hints, note = h.photo_hints.add(base, hints, scale, suggested, "#c0392b", click)
    canvas, hints, note = h.photo_hints.undo(base, hints, scale)
    assert decodes["n"] == 1, "clicks and undo draw on the kept view"
    assert hints == [[100.0, 160.0, "#c0392b"], [120.0, 160.0, "#c0392b"]] and note.startswith("2 hints")
    assert tuple(np.asarray(canvas)[160, 100]) == (0xC0, 0x39, 0x2B)  # the dot, in the hint's color
    shown, _ = h.colorize_and_keep(str(photo), "Auto", app.COMPARE_GRAY, 1.0, hints)
    png = app.DOWNLOADS.ready(shown.png)
    assert shown.result.size == (320, 240) and Image.open(png).size == (320, 240)
    assert "2 color hints applied" in shown.note
    assert h.photo_hints.applied(hints).startswith("2 hints applied. Click to add more")
    with pytest.raises(gr.Error, match="Color strength must be a number from 0 to 2"):
        h.colorize_photo(str(photo), "Auto", 3.0)


def test_the_guesses_toggle_hatches_unsure_places_and_the_canvas_marks_where_to_click(tmp_path):
    """With "Show where the colors are guesses" the slider compares the result with its confidence
    overlay; the hint canvas gets "click here" rings at the suggested points, which a hint there removes."""
    from pix2pix_color import Colorizer

    h = app.Handlers(Colorizer.from_pretrained(None, backend="torch"))
    photo = tmp_path / "bridge.png"
    Image.open(ROOT / "tests" / "data" / "bridge_color.jpg").convert("L").save(photo)
    canvas, hints, base, scale, suggested, _ = h.photo_hints.show(str(photo))
    _, state = h.colorize_and_keep(str(photo), "Auto", app.COMPARE_GRAY, 1.0, [], False)
    assert state.confidence is None  # read only once the guesses are asked for
    shown = h.restrength(state, 1.0, True)
    result, overlay = (np.asarray(Image.open(p).convert("RGB"), dtype=int) for p in shown.pair)
    note = shown.note
    confidence = state.confidence
    unsure = confidence.map < 0.2
    assert unsure.any() and (confidence.map > 0.8).any()
    magenta = overlay - result
    assert magenta[unsure][:, 1].mean() < -20 and "guesses" in note  # hatched: green pulled down, where unsure
    assert np.abs(magenta[confidence.map > 0.98]).mean() <= 4  # and left alone where it is sure (JPEG previews)
    again = h.restrength(state, 1.0, False)  # the toggle off: colorized vs black-and-white again
    assert np.asarray(Image.open(again.pair[0]).convert("RGB")).std(axis=2).mean() < 1
    marked, suggested = h.photo_hints.suggest(base, hints, scale, confidence.suggestions)
    assert len(suggested) == len(confidence.suggestions) >= 1
    x, y = suggested[0]
    ring = np.asarray(marked, dtype=int)[
        int(y * scale) - 40 : int(y * scale) + 40, int(x * scale) - 40 : int(x * scale) + 40
    ]
    assert ((ring[..., 0] > 200) & (ring[..., 1] > 180) & (ring[..., 2] < 60)).sum() > 20  # the yellow ring
    click = gr.SelectData(None, {"index": [x * scale, y * scale], "value": None})
    after_click, _, _ = h.photo_hints.add(base, [], scale, suggested, "#c0392b", click)
    ring = np.asarray(after_click, dtype=int)[
        int(y * scale) - 40 : int(y * scale) + 40, int(x * scale) - 40 : int(x * scale) + 40
    ]
    assert ((ring[..., 0] > 200) & (ring[..., 1] > 180) & (ring[..., 2] < 60)).sum() == 0  # answered: ring gone


def test_api_returns_the_confidence_map_and_suggestions(app_client, tmp_path):
    photo = tmp_path / "bridge.png"
    Image.open(ROOT / "tests" / "data" / "bridge_color.jpg").convert("L").save(photo)
    png, confidence_png, found = app_client.predict(
        handle_file(str(photo)), "Auto", 1.0, "", api_name="/colorize_confidence"
    )
    assert isinstance(found, dict)  # what the client gets: a dict, as the README says
    colorized, confidence = Image.open(png), Image.open(confidence_png)
    assert colorized.size == confidence.size == Image.open(photo).size and confidence.mode == "L"
    assert 1 <= len(found["suggestions"]) <= 3
    assert all(0 <= x < colorized.width and 0 <= y < colorized.height for x, y in found["suggestions"])
    restored, found = app_client.predict(handle_file(str(photo)), False, api_name="/restore")
    assert found == {"restoration": "gray", "repaired": 0.0} and Image.open(restored).size == Image.open(photo).size
    wide = app_client.predict(handle_file(str(photo)), "320", 1.0, "", api_name="/colorize")  # not offered, taken
    assert Image.open(wide).size == Image.open(photo).size


def test_the_app_offers_only_working_sizes_measured_no_worse_than_the_models_own(tmp_path):
    """The dropdown reads the model's working_sizes.json and applies the rule to its numbers itself:
    a size measured worse is not offered, whatever the file's own "offered" list says."""
    import json

    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    folder = tmp_path / "model"
    tiny_generator().save_pretrained(folder)  # image_size 64
    (folder / "working_sizes.json").write_text(json.dumps({
        "photos_hq": {"64": {"psnr": 21.0, "hue_hit": 0.50}, "96": {"psnr": 20.9, "hue_hit": 0.49},
                      "128": {"psnr": 20.5, "hue_hit": 0.55}, "256": {"psnr": 21.2, "hue_hit": 0.40}},
        "offered": [64, 96, 128, 256],
    }))  # fmt: skip
    handlers = app.Handlers(Colorizer.from_pretrained(folder, backend="torch"))
    assert handlers.working_sizes == ["Auto", "96"]
    (folder / "working_sizes.json").unlink()
    assert app.Handlers(Colorizer.from_pretrained(folder, backend="torch")).working_sizes == ["Auto"]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}])
def test_colorize_and_the_result_are_in_view_without_scrolling(app_server, browser, tmp_path, viewport):
    """One image area: the upload turns into the before/after slider in its place, with Colorize right
    under it, on a laptop screen and a phone (issue 30, item 1: Colorize sat below the fold)."""
    photo = tmp_path / "valley.jpg"
    landscape(400, 267).convert("L").save(photo, quality=95)
    page = browser.new_page(viewport=viewport)
    page.goto(app_server, wait_until="load")
    page.locator("#photo-input input[type=file]").set_input_files(str(photo))
    button = page.locator("#colorize-button")
    button.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(500)  # the uploaded photo laid out

    def inside(box) -> bool:
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 1

    scroll = page.evaluate("window.scrollY")
    assert scroll == 0 and inside(button.bounding_box()), button.bounding_box()
    page.screenshot(path=str(tmp_path / f"before-{viewport['width']}.png"))
    button.click()
    result = page.locator("#result-slider")
    page.locator("#result-slider img").first.wait_for(state="visible", timeout=120_000)
    assert not page.locator("#photo-input").is_visible()  # the photo is shown once, as the slider
    page.screenshot(path=str(tmp_path / f"after-{viewport['width']}.png"))
    assert page.evaluate("window.scrollY") == 0
    assert inside(result.bounding_box()), result.bounding_box()
    assert inside(button.bounding_box())
    strength = page.locator("#strength").bounding_box()
    if viewport["width"] >= 1000:  # beside the result on a laptop; on a phone it is the next thing down
        assert inside(strength)
    else:  # a row of its own under the buttons, not a third squeezed beside them
        assert strength["width"] >= 0.8 * viewport["width"] and strength["y"] > button.bounding_box()["y"], strength
    page.close()


def test_a_session_keeps_its_confidence_at_the_previews_size(tmp_path):
    """N6: what a session holds for 30 minutes is bounded: the confidence map at the slider's preview
    size (it hatches the preview), not a full-resolution float32 map (200 MB at 50 MP)."""
    from pix2pix_color import Colorizer

    from .conftest import tiny_generator

    h = app.Handlers(Colorizer(tiny_generator(head="classification")))
    photo = tmp_path / "wide.png"
    landscape(3000, 1500).convert("L").save(photo)
    shown, state = h.colorize_and_keep(str(photo), "Auto", app.COMPARE_GRAY, 1.0, [], True)
    assert state.confidence.map.shape == (1024, 2048) and state.confidence.map.dtype == np.float32
    assert shown.result.size == (3000, 1500) and Image.open(shown.pair[1]).size == (2048, 1024)
    assert state.kept.photo.L.dtype.itemsize == 2  # L* kept in float16


# --------------------------------------------------------------------------------------------------
# Variations


def test_api_returns_the_variations_the_first_being_the_usual_result(app_client, tmp_path):
    from gradio_client import handle_file

    photo = tmp_path / "summer.png"
    Image.open(ROOT / "tests" / "data" / "summer_1am_color.jpg").convert("L").save(photo)
    paths = app_client.predict(handle_file(str(photo)), 3, "Auto", 1.0, "", api_name="/colorize_variations")
    usual = app_client.predict(handle_file(str(photo)), "Auto", 1.0, "", api_name="/colorize")
    images = [np.asarray(Image.open(p)) for p in paths]
    assert len(images) == 3 and all(i.shape[:2] == (Image.open(photo).height, Image.open(photo).width) for i in images)
    assert np.array_equal(images[0], np.asarray(Image.open(usual)))
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])
    with pytest.raises(Exception, match="from 1 to 9"):
        app_client.predict(handle_file(str(photo)), 12, "Auto", 1.0, "", api_name="/colorize_variations")


def test_picking_a_variation_in_a_real_browser(app_server, browser, tmp_path):
    """Colorize, "Show other colorings", click the second: the slider and the full-resolution download
    become that coloring; Colorize again (as after adding a hint) keeps it."""
    photo = tmp_path / "summer.png"
    Image.open(ROOT / "tests" / "data" / "summer_1am_color.jpg").convert("L").save(photo)
    size = list(Image.open(photo).size)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(app_server, wait_until="load")
    page.locator("#photo-input input[type=file]").set_input_files(str(photo))
    page.locator("#colorize-button").click()
    _slider_pictures(page)
    first = np.asarray(_download(page, app_server, "#download-png", tmp_path / "first.png"))
    page.locator("#variations-button").click()
    thumbs = page.locator("#variations-gallery img")
    page.wait_for_function(
        "() => { const els = [...document.querySelectorAll('#variations-gallery img')];"
        " return els.length === 4 && els.every(e => e.complete && e.naturalWidth > 0); }",
        timeout=120_000,
    )
    page.screenshot(path=str(tmp_path / "variations.png"), full_page=True)
    thumbs.nth(1).click()
    page.locator("#result-info").get_by_text("Showing the coloring with more").wait_for(timeout=120_000)
    picked = _download(page, app_server, "#download-png", tmp_path / "picked.png")
    assert list(picked.size) == size and all(s == size for s in _slider_pictures(page))
    assert np.abs(np.asarray(picked).astype(int) - first).mean() > 0.5  # another coloring, at full size
    page.locator("#colorize-button").click()  # a hint would be applied to the picked coloring
    page.wait_for_function(
        "() => !document.querySelector('#result-info').innerText.includes('Showing')", timeout=120_000
    )
    again = np.asarray(_download(page, app_server, "#download-png", tmp_path / "again.png")).astype(int)
    # The same coloring (the session keeps L* in float16, so a redo may differ by a level here and there).
    assert np.abs(again - np.asarray(picked)).mean() < 0.1 < np.abs(again - first).mean()
    page.close()
