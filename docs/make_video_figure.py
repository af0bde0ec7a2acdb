"""Regenerate docs/video_frames.png: consecutive frames of an old-film-like clip colorized frame by frame
and with colors carried along the motion, above the real colors.

    python docs/make_video_figure.py

The clip is the benchmark's (benchmarks/bench_video.py): a pan across a real photo from
../shared/data/photos-hq, made black and white with grain and exposure flicker. Rows: the input,
per-frame colorization (smoothing 0), pix2pix-color's video path, the real frames. Columns: every
second frame of the shot, so flicker shows as colors changing from column to column.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_video import make_color_clip  # noqa: E402

from pix2pix_color import Colorizer  # noqa: E402
from pix2pix_color.video import read_frames, write_black_and_white  # noqa: E402

OUT = Path(__file__).resolve().parent / "video_frames.png"
COLUMNS = range(4, 16, 2)
TILE = (256, 144)


def main() -> None:
    colorizer = Colorizer.from_pretrained()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        real = make_color_clip(folder / "real.mp4", (854, 480), 24, photos=["lake_sherburne.jpg"])
        film = folder / "film.mp4"
        write_black_and_white(real, film, film_look=True)
        colorizer.colorize_video(film, folder / "per_frame.mp4", smoothing=0.0)
        colorizer.colorize_video(film, folder / "ours.mp4")
        rows = {
            "black-and-white film (grain, flicker)": film,
            "per frame": folder / "per_frame.mp4",
            "pix2pix-color video": folder / "ours.mp4",
            "real colors": real,
        }
        label_w = 190
        sheet = Image.new("RGB", (label_w + TILE[0] * len(COLUMNS), TILE[1] * len(rows)), "white")
        draw = ImageDraw.Draw(sheet)
        for r, (label, path) in enumerate(rows.items()):
            frames = list(read_frames(path))
            for c, index in enumerate(COLUMNS):
                tile = Image.fromarray(np.asarray(frames[index])).resize(TILE, Image.LANCZOS)
                sheet.paste(tile, (label_w + c * TILE[0], r * TILE[1]))
            draw.text((8, r * TILE[1] + TILE[1] // 2 - 6), label, fill="black")
        sheet.save(OUT, optimize=True)
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
