"""What film repair costs per frame: `FilmRepair` (the detector, two DIS flows, the temporal
evidence and the fill) on a damaged panning gray clip at 480p, 720p and 1080p, beside the naive
way (the photo repair, `repair_photo`, on every frame by itself), and what it adds to a whole
`colorize_video` run at 480p. No goal in the issue: measured so that a change shows.

    python benchmarks/bench_film_repair.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.repair.repair import repair_photo
from pix2pix_color.synthetic.film_damage import FilmDamage
from pix2pix_color.video.film_repair import repair_film

FRAMES = 12


def clip(w: int, h: int, rng) -> list[np.ndarray]:
    base = cv2.GaussianBlur(rng.integers(0, 255, (h // 6, (w + 3 * FRAMES) // 6), np.uint8), (0, 0), 1.5)
    wide = cv2.resize(base, (w + 3 * FRAMES, h), interpolation=cv2.INTER_CUBIC)
    film = FilmDamage(rng, dust=4.0, scratch_rate=0.2)
    return [film.damage(np.ascontiguousarray(wide[:, 3 * t : 3 * t + w]))[1] for t in range(FRAMES)]


def per_frame(fn, frames) -> float:
    start = time.perf_counter()
    fn(frames)
    return (time.perf_counter() - start) / len(frames)


def write(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape
        stream.pix_fmt = "yuv420p"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.dstack([f] * 3), format="rgb24")))
        out.mux(stream.encode(None))


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {FRAMES} frames each")
    print("| frames | film repair | photo repair, frame by frame (naive) | ratio |")
    print("|---|---|---|---|")
    for name, (w, h) in (("480p", (854, 480)), ("720p", (1280, 720)), ("1080p", (1920, 1080))):
        frames = clip(w, h, rng)
        list(repair_film(frames[:2]))  # warm-up: the detector loaded, OpenCV's pools started
        film = per_frame(lambda fs: list(repair_film(fs)), frames)
        photo = per_frame(lambda fs: [repair_photo(Image.fromarray(f)) for f in fs], frames)
        print(f"| {name} | {film * 1000:.0f} ms | {photo * 1000:.0f} ms | {film / photo:.2f}x |")
    colorizer = Colorizer.from_pretrained()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "film.mp4"
        write(src, clip(854, 480, rng) * 2)
        times = {}
        for repair in (False, True):
            start = time.perf_counter()
            colorizer.colorize_video(src, Path(tmp) / f"out{repair}.mp4", repair=repair)
            times[repair] = time.perf_counter() - start
        plain, fixed = times[False], times[True]
        print(f"\ncolorize_video, 480p, {2 * FRAMES} frames: {plain:.2f} s plain, {fixed:.2f} s with repair")


if __name__ == "__main__":
    main()
