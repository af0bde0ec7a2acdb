"""Regenerate docs/video_frames.jpg: consecutive frames of an old-film-like clip colorized frame by frame
and with colors carried along the motion, the real colors, and how much each frame's colors changed.

    python docs/make_video_figure.py

The clip is the benchmark's (benchmarks/bench_video.py): a pan across a real photo from
../shared/data/photos-hq, made black and white with grain and exposure flicker. Rows: the input,
per-frame colorization (smoothing 0), pix2pix-color's video path, the real frames; then, for the two
colorizations, the color change from the previous frame along the motion (|a*b* - warped previous
a*b*|, the quantity E_warp averages; black = steady, white = 8 or more). Columns: every second frame.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_video import make_color_clip  # noqa: E402

from pix2pix_color import Colorizer  # noqa: E402
from pix2pix_color.evaluation.video_metrics import write_black_and_white  # noqa: E402
from pix2pix_color.video.frames import read_frames  # noqa: E402

OUT = Path(__file__).resolve().parent / "video_frames.jpg"
COLUMNS = range(4, 16, 2)
TILE = (240, 135)


def color_change(frames: list[np.ndarray], real: list[np.ndarray], index: int) -> Image.Image:
    """|a*b* of frame `index` - a*b* of the previous frame warped onto it| as a gray picture."""
    from pix2pix_color.core.color import rgb_to_lab
    from pix2pix_color.video.temporal import FlowEstimator, flow_input, reliable, warp

    def lab(x: np.ndarray) -> np.ndarray:
        return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)).permute(1, 2, 0).numpy()

    now, before = lab(real[index])[..., 0], lab(real[index - 1])[..., 0]
    estimate = FlowEstimator()
    flow = estimate(flow_input(now), flow_input(before))
    mask = reliable(flow, estimate(flow_input(before), flow_input(now)))  # occluded: not scored, black
    ab, previous = lab(frames[index])[..., 1:], lab(frames[index - 1])[..., 1:]
    change = np.linalg.norm(ab - warp(np.ascontiguousarray(previous), flow), axis=-1) * mask
    return Image.fromarray(np.clip(change * 255 / 8, 0, 255).astype(np.uint8), "L").convert("RGB")


def main() -> None:
    colorizer = Colorizer.from_pretrained()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        real = make_color_clip(folder / "real.mp4", (854, 480), 24, photos=["lake_sherburne.jpg"])
        film = folder / "film.mp4"
        write_black_and_white(real, film, film_look=True)
        colorizer.colorize_video(film, folder / "per_frame.mp4", smoothing=0.0)
        colorizer.colorize_video(film, folder / "ours.mp4")
        videos = {
            "black-and-white film (grain, flicker)": list(read_frames(film)),
            "per frame": list(read_frames(folder / "per_frame.mp4")),
            "pix2pix-color video": list(read_frames(folder / "ours.mp4")),
            "real colors": list(read_frames(real)),
        }
        real_frames = videos["real colors"]
        rows = {name: [Image.fromarray(f[i]) for i in COLUMNS] for name, f in videos.items()}
        for name in ("per frame", "pix2pix-color video"):
            rows[f"{name}: color change"] = [color_change(videos[name], real_frames, i) for i in COLUMNS]
        label_w = 230
        sheet = Image.new("RGB", (label_w + TILE[0] * len(COLUMNS), TILE[1] * len(rows)), "white")
        draw = ImageDraw.Draw(sheet)
        for r, (label, tiles) in enumerate(rows.items()):
            for c, tile in enumerate(tiles):
                sheet.paste(tile.resize(TILE, Image.LANCZOS), (label_w + c * TILE[0], r * TILE[1]))
            draw.text((8, r * TILE[1] + TILE[1] // 2 - 6), label, fill="black")
        sheet.save(OUT, quality=88, optimize=True)
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
