"""Click to result in the app, in Debian's Chromium, beside what the library and the CLI take.

    python benchmarks/bench_app_click.py            # 1, 4 and 12 MP, 3 clicks each
    python benchmarks/bench_app_click.py --sizes 4 --repeat 5

For each photo size, in one run on one warm app (`python app.py` on the bundled model, loopback):
- library: `Colorizer.colorize` alone (decoding done, nothing written);
- library + PNG: the same and `save_png` of the full-resolution result (what the CLI does per photo);
- click to slider: from the Colorize click until both images of the before/after slider are
  decoded in the page (upload finished before the click);
- click to download: until the download box links the full-resolution PNG.
Fastest and median of `--repeat` clicks (each on a freshly loaded page).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_app_load import free_port, start_app
from common import machine, photo, table

SIDES = {1: (1152, 864), 4: (2304, 1728), 12: (4000, 3000)}


def library_times(path: Path, repeat: int) -> tuple[float, float]:
    """(colorize, colorize + save_png) fastest seconds, the photo decoded once beforehand."""
    from PIL import Image

    from pix2pix_color import Colorizer
    from pix2pix_color.io.images import save_png

    colorizer = Colorizer.from_pretrained(backend="auto")
    image = Image.open(path)
    image.load()
    colorizer.colorize(image)
    plain, written = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        result = colorizer.colorize(image)
        plain.append(time.perf_counter() - start)
        save_png(result, io.BytesIO())
        written.append(time.perf_counter() - start)
    return min(plain), min(written)


def click_times(browser, url: str, path: Path, repeat: int) -> tuple[list[float], list[float]]:
    to_slider, to_download = [], []
    for _ in range(repeat + 1):  # the first click warms the app's caches; not counted
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="load")
        page.wait_for_function("document.title.includes('pix2pix-color')", timeout=60_000)
        page.locator("#photo-input input[type=file]").set_input_files(str(path))
        page.locator("#photo-input img").first.wait_for(state="visible", timeout=120_000)
        start = page.evaluate("performance.now()")
        page.locator("#colorize-button").click()
        shown = page.wait_for_function(
            """() => { const els = [...document.querySelectorAll('#result-slider img')];
                return els.length >= 2 && els.every(e => e.complete && e.naturalWidth > 0) && performance.now(); }""",
            timeout=120_000,
            polling=10,
        ).json_value()
        linked = page.wait_for_function(
            "() => document.querySelector('#download-png a[href$=\".png\"]') && performance.now()",
            timeout=120_000,
            polling=10,
        ).json_value()
        to_slider.append((shown - start) / 1000)
        to_download.append((linked - start) / 1000)
        page.close()
    return to_slider[1:], to_download[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 12], choices=sorted(SIDES))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_app(port)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for mp in args.sizes:
                path = Path(folder) / f"photo-{mp}mp.jpg"
                photo(*SIDES[mp]).convert("L").save(path, quality=92)
                plain, written = library_times(path, args.repeat)
                slider, download = click_times(browser, url, path, args.repeat)
                rows.append([
                    f"{mp} MP", f"{plain:.2f}", f"{written:.2f}",
                    f"{min(slider):.2f} / {statistics.median(slider):.2f}",
                    f"{min(download):.2f} / {statistics.median(download):.2f}",
                    f"{min(slider) / plain:.1f}x",
                ])  # fmt: skip
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(machine())
    headers = ["photo", "library s", "library + PNG s", "click to slider s (min / median)",
               "click to download s (min / median)", "slider / library"]  # fmt: skip
    print(table(headers, rows))


if __name__ == "__main__":
    main()
