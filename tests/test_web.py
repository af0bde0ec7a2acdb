"""The browser-only colorizer (web/): a real Chromium colorizes a committed photo with onnxruntime-web
from node_modules and the bundled model's ONNX graph, both from a local static server."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.core.color import gray_version
from pix2pix_color.io.images import srgb_profile

from .conftest import ROOT

WEB = ROOT / "web"
MODEL = "/pix2pix_color/default_model/onnx/model_fp16.onnx"
pytestmark = pytest.mark.skipif(
    not (WEB / "node_modules" / "onnxruntime-web").is_dir(), reason="run `npm ci` in web/ first (.ci/run does)"
)


class _IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with the headers that make a page cross-origin isolated (WebAssembly threads)."""

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def static_server():
    handler = functools.partial(_IsolatedHandler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    return page, requests


def _wait(page, state: str, timeout: float = 120_000) -> None:
    page.wait_for_function(f"document.body.dataset.state === '{state}'", timeout=timeout)


def _colorized_in_page(browser, static_server, tmp_path, name: str):
    """A committed photo's black-and-white version colorized in a fresh page -> (page, the photo's path)."""
    real = np.asarray(Image.open(ROOT / "tests" / "data" / name).convert("RGB"))
    photo = tmp_path / f"{Path(name).stem}-bw.png"
    Image.fromarray(gray_version(real), "L").save(photo)
    page, _ = _open_page(browser, f"{static_server}/web/index.html?ort=local&model={MODEL}")
    _wait(page, "ready")
    page.set_input_files("#file", str(photo))
    page.wait_for_function(
        "document.body.dataset.png === 'ready' && document.body.dataset.state === 'ready'", timeout=120_000
    )
    return page, photo


def test_a_photo_is_colorized_in_the_browser_like_the_library_and_nothing_leaves_the_page(
    browser, static_server, tmp_path
):
    source = Image.open(ROOT / "examples" / "bridge.jpg").convert("RGB").resize((1155, 866), Image.BICUBIC)
    photo = tmp_path / "bridge-bw.png"
    Image.fromarray(gray_version(np.asarray(source)), "L").save(photo)  # 1 MP, black and white
    page, requests = _open_page(browser, f"{static_server}/web/index.html?ort=local&model={MODEL}")
    _wait(page, "ready")
    page.set_input_files("#file", str(photo))
    page.wait_for_function("document.body.dataset.png === 'ready'", timeout=120_000)
    seconds = float(page.evaluate("document.body.dataset.seconds"))
    assert "1155x866 pixels" in page.inner_text("#status")
    assert page.evaluate("self.crossOriginIsolated") and "2 threads" in page.inner_text("#about")
    with page.expect_download() as info:
        page.click("#download")
    png = Path(info.value.path()).read_bytes()
    page.screenshot(path=str(tmp_path / "web.png"), full_page=True)

    ours = Image.open(io.BytesIO(png))
    library = Colorizer.from_pretrained(backend="torch").colorize(photo)
    assert ours.size == library.size == (1155, 866)
    # The same kind of file as the library's: RGB (no alpha the photo never had), with its sRGB profile.
    assert ours.mode == "RGB" and ours.info.get("icc_profile") == srgb_profile()
    a, b = (np.asarray(i.convert("RGB"), dtype=np.float64) for i in (ours, library))
    psnr = 10 * np.log10(255**2 / np.mean((a - b) ** 2))
    assert psnr >= 35, psnr
    chunks = ours.text  # PIL reads the iTXt chunks (and checks every chunk's CRC)
    assert chunks["Software"].startswith("pix2pix-color web") and MODEL in chunks["Description"]
    # The photo went nowhere: only the page's own files and the model (and its config) were requested;
    # blob: URLs are the page's in-memory copies of the photo and the PNG, which never leave the browser.
    allowed = ("/web/", "/pix2pix_color/default_model/")
    local = [u for u in requests if not u.startswith("blob:")]
    others = [u for u in local if not (u.startswith(static_server) and u[len(static_server) :].startswith(allowed))]
    assert others == [], others
    print(f"1 MP in the browser: {seconds:.2f} s, PSNR against the library {psnr:.1f} dB")

    # The color strength slider redraws without the network, and 0 gives the black-and-white photo;
    # moved quickly, the Download link holds its last position (each redraw encodes a PNG, and an
    # older encoding that finishes later must not replace the newer one).
    page.evaluate(
        """() => { const s = document.getElementById('strength');
        for (const v of ['0', '2', '0.5', '0']) { s.value = v; s.dispatchEvent(new Event('input')); } }"""
    )
    page.wait_for_function("document.body.dataset.png === 'ready'")
    gray = page.evaluate(
        "Array.from(document.getElementById('after').getContext('2d').getImageData(500, 400, 1, 1).data)"
    )
    assert abs(gray[0] - gray[1]) <= 1 and abs(gray[1] - gray[2]) <= 1
    with page.expect_download() as info:
        page.click("#download")
    saved = np.asarray(Image.open(info.value.path()).convert("RGB"), dtype=int)
    assert np.abs(np.diff(saved, axis=2)).max() <= 1  # the gray photo, not an earlier strength's colors
    # A second visit takes the model from the browser's cache: config.json is asked afresh (it says
    # the revision) and the model only by a HEAD request, never downloaded again.
    methods: list[tuple[str, str]] = []
    page.on("request", lambda r: methods.append((r.method, urlparse(r.url).path)))
    page.reload()
    _wait(page, "ready")
    model_path = urlparse(MODEL).path
    assert ("GET", "/pix2pix_color/default_model/config.json") in methods
    assert ("GET", model_path) not in methods, methods
    # Re-published (the file's Last-Modified moves): the next visit downloads the model again, and
    # the older copy leaves the cache, so the model and its config are always of one revision.
    graph = ROOT / model_path.lstrip("/")
    stat = graph.stat()
    try:
        os.utime(graph, (stat.st_atime, stat.st_mtime + 3600))
        methods.clear()
        page.reload()
        _wait(page, "ready")
        assert ("GET", model_path) in methods, methods
        cached = page.evaluate("async () => (await (await caches.open('pix2pix-color-models')).keys()).map(r => r.url)")
        assert sum("pix2pix-color-revision" in u for u in cached) == 1, cached
    finally:
        os.utime(graph, (stat.st_atime, stat.st_mtime))
    page.close()


def test_bad_input_and_a_missing_model_get_a_clear_message(browser, static_server, tmp_path):
    page, _ = _open_page(browser, f"{static_server}/web/index.html?ort=local&model={MODEL}")
    _wait(page, "ready")
    letter = tmp_path / "letter.jpg"
    letter.write_text("Dear archivist, this is a letter, not a photo.\n")
    page.set_input_files("#file", str(letter))
    _wait(page, "error")
    assert "letter.jpg: not an image file" in page.inner_text("#status")
    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 7000), 128).save(huge)  # 56 MP, a few kB
    page.set_input_files("#file", str(huge))
    page.wait_for_function("document.getElementById('status').textContent.includes('limit')", timeout=60_000)
    assert "8000x7000 is 56 megapixels; the limit is 50 MP" in page.inner_text("#status")
    page.close()

    page, _ = _open_page(browser, f"{static_server}/web/index.html?ort=local&model=/nowhere/onnx/model.onnx")
    _wait(page, "error", timeout=60_000)
    # Which address answered what, not "check your connection".
    status = page.inner_text("#status")
    assert (
        "The model could not be loaded" in status and f"{static_server}/nowhere/config.json answered HTTP 404" in status
    )
    page.close()


def test_an_error_clears_the_previous_result(browser, static_server, tmp_path):
    page, _ = _open_page(browser, f"{static_server}/web/index.html?ort=local&model={MODEL}")
    _wait(page, "ready")
    photo = tmp_path / "valley.png"
    Image.fromarray(
        gray_version(np.asarray(Image.open(ROOT / "examples" / "bridge.jpg").convert("RGB"))[:200, :300]), "L"
    ).save(photo)
    page.set_input_files("#file", str(photo))
    page.wait_for_function("document.body.dataset.png === 'ready'", timeout=120_000)
    assert page.is_visible("#download")
    letter = tmp_path / "letter.jpg"
    letter.write_text("Dear archivist, this is a letter, not a photo.\n")
    page.set_input_files("#file", str(letter))
    _wait(page, "error")
    assert not page.is_visible("#download") and not page.is_visible("#compare")
    page.close()


def test_the_pages_srgb_profile_is_the_librarys():
    assert (ROOT / "web" / "srgb.icc").read_bytes() == srgb_profile()


COLOR_PHOTOS = ["bridge_color.jpg", "seeding_color.jpg", "summer_1am_color.jpg"]


def _delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000 between two (H,W,3) uint8 sRGB images."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    return deltaE_ciede2000(rgb2lab(a), rgb2lab(b))


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
@pytest.mark.parametrize("name", COLOR_PHOTOS)
def test_the_pages_hint_propagation_solves_the_librarys_system(name, tmp_path):
    """web/colorize.js's conjugate-gradient solve against the library's sparse LU, on the committed
    photos' working grids with 10 hints sampled from the real colors: the same blend of hints and
    network colors (the network's part is tested through the page below)."""
    from pix2pix_color.core.color import denormalize_ab, gray_to_l
    from pix2pix_color.core.hints import hint_channels, hint_points, sample_hints
    from pix2pix_color.core.image_processor import resize
    from pix2pix_color.core.propagation import propagate_hints

    real = np.asarray(Image.open(ROOT / "tests" / "data" / name).convert("RGB"))
    H, W = real.shape[:2]
    hints = sample_hints(real, 10, np.random.default_rng(3))
    h, w = 128, 128  # a working grid of another aspect than the solve grid's
    L = resize(gray_to_l(torch.from_numpy(gray_version(real)))[None, None], (h, w))[0]
    channels = hint_channels(hint_points(hints, W, H), (H, W), (h, w))
    user = torch.cat([denormalize_ab(channels[:2]), channels[2:3]])
    network = torch.from_numpy(np.random.default_rng(4).normal(0, 15, (2, h, w)).astype(np.float32))
    library = propagate_hints(L, network, user, photo_shape=(H, W)).numpy()

    script = tmp_path / "propagate.mjs"
    inputs = {
        "L": L.ravel().tolist(),
        "ab": network.ravel().tolist(),
        "points": [dict(x=x, y=y, color=c) for x, y, c in hints],
    }
    (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    script.write_text(
        f"""import {{ readFileSync }} from "node:fs";
import {{ blendHints, hintChannels, hintField }} from {json.dumps((WEB / "colorize.js").as_uri())};
const {{ L, ab, points }} = JSON.parse(readFileSync({json.dumps(str(tmp_path / "inputs.json"))}, "utf8"));
const channels = hintChannels(points, {H}, {W}, {h}, {w});
const field = hintField(Float32Array.from(L), channels, {h}, {w}, [{H}, {W}]);
console.log(JSON.stringify(Array.from(blendHints(Float32Array.from(ab), field, {h * w}))));
"""
    )
    run = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=120, check=True)
    page = np.array(json.loads(run.stdout), dtype=np.float32).reshape(2, h, w)
    assert np.abs(page - library).max() < 0.05  # a*b* units: far below one 8-bit step
    moved = np.abs(library - network.numpy()).max(axis=0)
    assert (moved > 5).mean() > 0.05  # the hints did recolor part of the photo: not a vacuous match


def test_click_hints_in_the_page_color_the_photo_like_the_library(browser, static_server, tmp_path):
    page, photo = _colorized_in_page(browser, static_server, tmp_path, "bridge_color.jpg")
    assert page.is_visible("#hint-color") and page.is_disabled("#clear-hints")
    # Two clicks, each with its color: the sky made a strong blue, the river bank a green.
    for count, ((x, y), color) in enumerate((((60, 25), "#2060e0"), ((300, 190), "#30a030")), start=1):
        page.fill("#hint-color", color)
        page.click("#compare", position={"x": x, "y": y})
        page.wait_for_function(f"document.body.dataset.hints === '{count}'")
        page.wait_for_function("document.body.dataset.png === 'ready' && document.body.dataset.state === 'ready'")
    titles = [m.get_attribute("title") for m in page.query_selector_all(".marker")]
    assert len(titles) == 2 and "#2060e0" in titles[0] and "#30a030" in titles[1]
    hints = []
    for title in titles:  # "hint at (x, y), #rrggbb": the pixel the page put the hint on
        xy, color = title.removeprefix("hint at (").split("), ")
        hints.append((*map(int, xy.split(", ")), color))
    with page.expect_download() as info:
        page.click("#download")
    ours = np.asarray(Image.open(info.value.path()).convert("RGB"))
    colorizer = Colorizer.from_pretrained(backend="torch")
    library = np.asarray(colorizer.colorize(photo, hints=hints))
    unhinted = np.asarray(colorizer.colorize(photo))
    difference = _delta_e(ours, library)
    assert difference.mean() < 2.0 and np.percentile(difference, 99) < 6.0, (difference.mean(), difference.max())
    # The hints did what a user asked: the sky around the first click is blue, more than without it.
    x, y = hints[0][:2]
    patch = (slice(max(0, y - 5), y + 6), slice(max(0, x - 5), x + 6))
    blue = lambda img: float(img[patch][..., 2].astype(int).mean() - img[patch][..., 0].astype(int).mean())  # noqa: E731
    assert blue(ours) > blue(unhinted) + 10
    print(f"hinted page vs library: mean dE2000 {difference.mean():.2f}, 99th pct {np.percentile(difference, 99):.2f}")

    page.click("#clear-hints")
    page.wait_for_function("document.body.dataset.hints === '0' && document.body.dataset.png === 'ready'")
    assert page.query_selector_all(".marker") == []
    page.close()


def test_the_pages_version_is_the_packages():
    """web/app.js writes its version into every PNG it makes: it must be the package's (one release)."""
    import re

    import pix2pix_color

    (version,) = re.findall(r'^const VERSION = "([^"]+)";', (WEB / "app.js").read_text(), flags=re.M)
    assert version == pix2pix_color.__version__


def test_other_colorings_in_the_page_are_the_librarys_variations(browser, static_server, tmp_path):
    """The "Show other colorings" button (issue 40, item 3, the browser path): the page offers the library's
    variations (the same sectors, ranked by the graph's `sector_scores`), previews them, and a click
    makes one the result, its full-resolution PNG the library's variation."""
    from pix2pix_color import ColorizeRequest
    from pix2pix_color.pipeline import variations

    page, photo = _colorized_in_page(browser, static_server, tmp_path, "summer_1am_color.jpg")
    page.click("#variations")
    page.wait_for_function(
        "document.querySelectorAll('.variation').length === 4 && document.body.dataset.state === 'ready'"
    )
    shown = [b.get_attribute("data-sector") for b in page.query_selector_all(".variation")]
    colorizer = Colorizer.from_pretrained(backend="onnxruntime")
    library = colorizer.run(ColorizeRequest(photo, variations=4))
    assert shown == ["", *(str(s) for s in library.hue_sectors[1:])]
    captions = [b.inner_text() for b in page.query_selector_all(".variation")]
    assert captions[0] == "as colorized" and captions[1] == f"more {variations.sector_name(library.hue_sectors[1])}"
    page.click(".variation >> nth=1")
    page.wait_for_function("document.body.dataset.png === 'ready'")
    page.screenshot(path=str(tmp_path / "web-variations.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#download")
    ours = Image.open(info.value.path())
    assert ours.size == library.variations[1].size
    a, b = (np.asarray(i.convert("RGB"), dtype=np.float64) for i in (ours, library.variations[1]))
    assert 10 * np.log10(255**2 / np.mean((a - b) ** 2)) >= 35  # the library's variation, not the first coloring
    first = np.asarray(library.variations[0].convert("RGB"), dtype=np.float64)
    assert np.abs(a - first).mean() > 0.5
    page.close()
