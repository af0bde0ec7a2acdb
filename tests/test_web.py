"""The browser-only colorizer (web/): a real Chromium colorizes a committed photo with onnxruntime-web
from node_modules and the bundled model's ONNX graph, both from a local static server."""

from __future__ import annotations

import functools
import http.server
import io
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.color import gray_version
from pix2pix_color.images import srgb_profile

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

    # The color strength slider redraws without the network, and 0 gives the black-and-white photo.
    page.fill("#strength", "0")
    page.dispatch_event("#strength", "input")
    page.wait_for_function("document.body.dataset.png === 'ready'")
    gray = page.evaluate(
        "Array.from(document.getElementById('after').getContext('2d').getImageData(500, 400, 1, 1).data)"
    )
    assert abs(gray[0] - gray[1]) <= 1 and abs(gray[1] - gray[2]) <= 1
    # A second visit takes the model from the browser's cache: no request for it at all.
    requests.clear()
    page.reload()
    _wait(page, "ready")
    model_requests = [u for u in requests if urlparse(u).path.startswith("/pix2pix_color/default_model/")]
    assert requests and model_requests == [], model_requests
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
