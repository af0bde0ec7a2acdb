"""Video colorization: flicker, quality, speed and memory of `colorize_video` against per-frame colorization.

    python benchmarks/bench_video.py [--quick] [--memory]

Clips are made from real photos (../shared/data/photos-hq landscapes): each shot is a slow pan and
zoom across one photo (camera motion, parallax-free), three shots with two cuts, 25 fps, a stereo AAC
track. Their black-and-white versions (each frame's own L*) are the input, clean and with a film look
(grain of 12 levels and per-frame exposure flicker of +-8%, as old film has).

1. Flicker and quality (`pix2pix_color.evaluation.metrics.evaluate_video`) at 480p: E_warp (Lai et al. 2018) and
   CDC (TCVC) of the output, per-frame PSNR and hue hit rate against the real colors; per-frame
   colorization (smoothing 0) and the real footage side by side; then a smoothing sweep.
2. Speed at 480p, 720p and 1080p, whole pipeline (decode, flow, colorize, encode with audio):
   the naive way (decode, `Colorizer.colorize` each frame as a photo, encode) against ours.
3. --memory: peak RSS of a fresh process colorizing a 1080p clip of 10 s and of 60 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from common import machine, table
from PIL import Image

from pix2pix_color import Colorizer
from pix2pix_color.evaluation.video_metrics import evaluate_video, write_black_and_white
from pix2pix_color.video.frames import ENCODER, ENCODER_OPTIONS

PHOTOS_HQ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos-hq" / "validation"
SHOTS = ["lake_sherburne.jpg", "mountains_and_forest.jpg", "morskie_oko.jpg"]
FPS = 25


def make_color_clip(path: Path, size: tuple[int, int], frames_per_shot: int, photos: list[str] = SHOTS) -> Path:
    """Pan-and-zoom shots over real photos, with a stereo tone as the audio track."""
    width, height = size
    with av.open(str(path), "w") as out:
        video = out.add_stream(ENCODER, rate=FPS, options={"crf": "16", "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        index = 0
        for name in photos:
            photo = Image.open(PHOTOS_HQ / name).convert("RGB")
            pw, ph = photo.size
            for k in range(frames_per_shot):
                t = k / max(1, frames_per_shot - 1)
                crop_w = pw * (0.75 - 0.1 * t)
                crop_h = min(crop_w * height / width, ph * 0.98)
                crop_w = crop_h * width / height
                left, top = (pw - crop_w) * (0.2 + 0.6 * t), (ph - crop_h) / 2
                view = photo.resize(size, Image.BILINEAR, box=(left, top, left + crop_w, top + crop_h))
                frame = av.VideoFrame.from_ndarray(np.asarray(view), format="rgb24")
                frame.pts = index
                index += 1
                out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = 48000 * index // FPS
        for start in range(0, samples, 1024):
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(start, min(start + 1024, samples)) / 48000)).astype(
                np.float32
            )
            frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 48000, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def naive_per_frame(colorizer: Colorizer, src: Path, dst: Path) -> int:
    """Decode, colorize each frame on its own as a photo, encode (same encoder; audio dropped)."""
    count = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        video = out.add_stream(ENCODER, rate=stream.average_rate, options=dict(ENCODER_OPTIONS))
        video.width, video.height, video.pix_fmt = stream.width, stream.height, "yuv420p"
        for frame in inp.decode(stream):
            result = colorizer.colorize(frame.to_image())
            new = av.VideoFrame.from_image(result)
            new.pts = frame.pts
            out.mux(video.encode(new))
            count += 1
        out.mux(video.encode(None))
    return count


def quality(colorizer: Colorizer, clip: Path, quick: bool) -> None:
    rows = []
    for look in (False, True):
        results = evaluate_video(colorizer, clip, film_look=look)
        for key, label in (
            ("temporal", "ours (smoothing 0.9)"),
            ("per_frame", "per frame"),
            ("gray", "gray input"),
            ("real", "real footage"),
        ):
            r = results[key]
            rows.append(
                [
                    "film look" if look else "clean",
                    label,
                    f"{r.warping_error:.3f}",
                    f"{r.cdc * 1000:.3f}",
                    f"{r.psnr:.2f}",
                    f"{r.hue_hit:.3f}",
                ]
            )
        ratio = results["temporal"].warping_error / results["per_frame"].warping_error
        rows.append(["", "ours / per frame", f"{ratio:.2f}x", "", "", ""])
    print(f"\n### Flicker and quality at 480p ({clip.name}, {results['temporal'].frames} frames, 2 cuts)\n")
    print(table(["input", "output", "E_warp", "CDC x1000", "PSNR", "hue hit"], rows))
    if quick:
        return
    rows = []
    for smoothing in (0.0, 0.5, 0.8, 0.9, 0.95):
        r = evaluate_video(colorizer, clip, film_look=True, smoothing=smoothing)["temporal"]
        rows.append(
            [f"{smoothing:.2f}", f"{r.warping_error:.3f}", f"{r.cdc * 1000:.3f}", f"{r.psnr:.2f}", f"{r.hue_hit:.3f}"]
        )
    print("\n### Smoothing sweep, film look, 480p\n")
    print(table(["smoothing", "E_warp", "CDC x1000", "PSNR", "hue hit"], rows))


def speed(colorizer: Colorizer, folder: Path, quick: bool) -> None:
    rows = []
    sizes = [(854, 480, "480p")] + ([] if quick else [(1280, 720, "720p"), (1920, 1080, "1080p")])
    for width, height, label in sizes:
        color = make_color_clip(folder / f"{label}.mp4", (width, height), 16 if quick else 40)
        for look in (False, True):
            film = folder / f"{label}-bw.mp4"
            frames = write_black_and_white(color, film, film_look=look, crf=18)  # a good file, not a lossless one
            mbps = film.stat().st_size * 8 / (frames / FPS) / 1e6
            colorizer.colorize_video(film, folder / "warmup.mp4")  # first call pays the one-time costs
            timings = {}
            start = time.perf_counter()
            naive_per_frame(colorizer, film, folder / "naive.mp4")
            timings["naive"] = time.perf_counter() - start
            for batch in (1, 8):
                start = time.perf_counter()
                colorizer.colorize_video(film, folder / "ours.mp4", batch_size=batch)
                timings[batch] = time.perf_counter() - start
            names = (("per frame, as photos (naive)", "naive"), ("ours, batch 1", 1), ("ours, batch 8 (default)", 8))
            for name, key in names:
                rows.append(
                    [
                        f"{label} {'film look' if look else 'clean'}, {mbps:.1f} Mbit/s",
                        name,
                        f"{frames / timings[key]:.1f}",
                        f"{timings[key] / frames * 1e3:.0f}",
                        f"{timings[key] / timings['naive']:.2f}x",
                    ]
                )
    print("\n### Speed: whole pipeline (decode, flow, colorize, encode)\n")
    print(table(["input", "pipeline", "frames/s", "ms/frame", "time vs naive"], rows))


# VmHWM rather than ru_maxrss, which after fork+exec starts from the parent's own peak on Linux.
MEMORY_CHILD = """
import re, sys
from pathlib import Path
from pix2pix_color import Colorizer
Colorizer.from_pretrained().colorize_video(sys.argv[1], sys.argv[2])
print(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
"""


def memory(folder: Path) -> None:
    rows = []
    for seconds in (10, 60):
        shots = max(1, seconds // 10)
        clip = make_color_clip(
            folder / f"mem{seconds}.mp4", (1920, 1080), FPS * seconds // shots, photos=(SHOTS * 20)[:shots]
        )
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(clip), str(folder / "mem-out.mp4")],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - start
        peak_mb = int(done.stdout.strip().splitlines()[-1]) / 1024
        rows.append([f"{seconds} s", FPS * seconds // shots * shots, f"{peak_mb:.0f}", f"{elapsed:.0f}"])
    print("\n### Memory: peak RSS of a fresh process, 1080p\n")
    print(table(["clip", "frames", "peak RSS (MB)", "wall s"], rows))
    print(f"\ndifference: {float(rows[1][2]) - float(rows[0][2]):+.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="480p only, short clips")
    parser.add_argument("--memory", action="store_true", help="only the 10 s / 60 s 1080p memory measurement")
    args = parser.parse_args()
    print(f"Machine: {machine()}; PyAV {av.__version__}, encoder {ENCODER} {ENCODER_OPTIONS}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.memory:
            memory(folder)
            return
        colorizer = Colorizer.from_pretrained()
        clip = make_color_clip(folder / "quality-480p.mp4", (854, 480), 16 if args.quick else 40)
        quality(colorizer, clip, args.quick)
        speed(colorizer, folder, args.quick)


if __name__ == "__main__":
    main()
