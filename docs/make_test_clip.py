"""Make tests/data/pan_two_shots.mp4: a small color clip with real camera motion, a cut and audio.

Two shots, each a slow pan and zoom across one of the committed test photos (tests/data, see its
LICENSES.md), 192x108 at 25 fps, 16 frames each, with a 440 Hz stereo AAC tone. The tests colorize
its black-and-white version and compare with these real colors.

python docs/make_test_clip.py
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ["bridge_color.jpg", "seeding_color.jpg"]
SIZE = (192, 108)
FRAMES_PER_SHOT = 16
FPS = 25
SAMPLE_RATE = 44100


def pan(photo: Image.Image, t: float) -> Image.Image:
    """The view at time t in [0,1]: a window of 70-80% of the photo moving left to right."""
    width, height = photo.size
    crop_w = width * (0.8 - 0.1 * t)
    crop_h = crop_w * SIZE[1] / SIZE[0]
    left = (width - crop_w) * t
    top = (height - crop_h) / 2
    return photo.resize(SIZE, Image.BICUBIC, box=(left, top, left + crop_w, top + crop_h))


def main(target: Path = ROOT / "tests" / "data" / "pan_two_shots.mp4") -> None:
    with av.open(str(target), "w") as out:
        video = out.add_stream("libx264", rate=FPS, options={"crf": "20", "preset": "slow"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        audio = out.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "stereo"
        index = 0
        for name in PHOTOS:
            photo = Image.open(ROOT / "tests" / "data" / name).convert("RGB")
            for k in range(FRAMES_PER_SHOT):
                frame = av.VideoFrame.from_ndarray(np.asarray(pan(photo, k / (FRAMES_PER_SHOT - 1))), format="rgb24")
                frame.pts = index
                index += 1
                out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = SAMPLE_RATE * index // FPS
        for start in range(0, samples, 1024):
            t = np.arange(start, min(start + 1024, samples)) / SAMPLE_RATE
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    print(f"written {target} ({target.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
