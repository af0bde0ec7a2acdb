"""Load on the app over loopback: concurrent gradio_client clients against `python app.py`.

    python benchmarks/bench_app_load.py burst   # 16 clients x 10 requests of a 1 MP photo
    python benchmarks/bench_app_load.py soak    # 32 clients for 60 s, 1 MP photos mixed with bad inputs

Reports errors, latency percentiles, completions over time (a stalled queue shows as a gap), and
the server's RSS: at start (after one warm-up request), peak, and 15 s after the load ends.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from common import machine, photo, table
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    # The server's output goes to a file: an undrained pipe would fill up and block the server.
    log = tempfile.NamedTemporaryFile("w+b", prefix="app-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(Path(log.name).read_text()[-2000:]) from None
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the app did not start within 180 s")


def rss_mb(process: subprocess.Popen) -> float:
    return psutil.Process(process.pid).memory_info().rss / 2**20


def make_inputs(folder: Path) -> dict[str, tuple[Path, str | None]]:
    good = folder / "one_megapixel.jpg"
    photo(1155, 866).convert("L").save(good, quality=92)
    text = folder / "letter.jpg"
    text.write_text("not a photo\n" * 50)
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:20_000])
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    return {
        "good": (good, None),
        "text": (text, "not an image"),
        "truncated": (truncated, "truncated"),
        "empty": (empty, "empty"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["burst", "soak"])
    parser.add_argument("--clients", type=int)
    parser.add_argument("--requests", type=int, default=10, help="per client (burst)")
    parser.add_argument("--seconds", type=float, default=60, help="duration (soak)")
    args = parser.parse_args()
    clients = args.clients or (16 if args.mode == "burst" else 32)
    port = free_port()
    server = start_app(port)
    url = f"http://127.0.0.1:{port}/"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inputs = make_inputs(Path(tmp))
            warm = Client(url, verbose=False)
            warm.predict(handle_file(str(inputs["good"][0])), api_name="/colorize")
            rss_start = rss_mb(server)
            results: list[tuple[str, bool, float, float]] = []  # kind, ok, latency, finished at
            lock = threading.Lock()
            peak = [rss_start]
            stop_sampling = threading.Event()

            def sample() -> None:
                while not stop_sampling.wait(0.2):
                    peak[0] = max(peak[0], rss_mb(server))

            def worker(index: int) -> None:
                client = Client(url, verbose=False)
                rng = random.Random(index)
                end = time.monotonic() + args.seconds
                done = 0
                while (done < args.requests) if args.mode == "burst" else (time.monotonic() < end):
                    kind = (
                        "good"
                        if args.mode == "burst" or rng.random() < 0.7
                        else rng.choice(["text", "truncated", "empty"])
                    )
                    path, message = inputs[kind]
                    start = time.monotonic()
                    try:
                        client.predict(handle_file(str(path)), api_name="/colorize")
                        ok = message is None
                    except AppError as e:
                        ok = message is not None and message in str(e)
                    except Exception:  # noqa: BLE001 - any other failure is an error of the app
                        ok = False
                    now = time.monotonic()
                    with lock:
                        results.append((kind, ok, now - start, now))
                    done += 1

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            began = time.monotonic()
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - began
            stop_sampling.set()
            time.sleep(15)
            rss_end = rss_mb(server)
    finally:
        server.terminate()
        server.wait(timeout=30)

    finished = sorted(r[3] for r in results)
    # Measured from the first completion: before it, 32 clients are still fetching the app's config.
    first = finished[0] - began
    longest_gap = max((b - a for a, b in zip(finished, finished[1:])), default=0.0)
    rows = []
    for kind in sorted({r[0] for r in results}):
        rs = [r for r in results if r[0] == kind]
        lat = sorted(r[2] for r in rs)

        def p(q):
            return lat[min(len(lat) - 1, int(q * len(lat)))]

        rows.append(
            [
                kind,
                len(rs),
                sum(not r[1] for r in rs),
                f"{statistics.median(lat):.2f}",
                f"{p(0.95):.2f}",
                f"{lat[-1]:.2f}",
            ]
        )
    print(f"{args.mode}: {clients} clients, {len(results)} requests in {wall:.0f} s ({machine()})\n")
    print(table(["input", "requests", "errors", "p50 s", "p95 s", "max s"], rows))
    print(
        f"\nthroughput {len(results) / wall:.2f} req/s; first answer after {first:.1f} s, "
        f"then the longest time without a completion {longest_gap:.1f} s"
    )
    print(
        f"server RSS: {rss_start:.0f} MB at start (after warm-up), {peak[0]:.0f} MB peak, "
        f"{rss_end:.0f} MB 15 s after the load ({rss_end - rss_start:+.0f} MB)"
    )


if __name__ == "__main__":
    main()
