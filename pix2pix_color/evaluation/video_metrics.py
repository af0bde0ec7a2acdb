"""Scoring colorized video, and the test footage it is scored on: temporal consistency (E_warp, Lai
et al. 2018; CDC, Liu et al. 2021 "TCVC"), per-frame quality, and black-and-white versions of real
color videos, optionally with the grain and exposure flicker of old film. Kept apart from the video
pipeline (`video.frames`) and from the photo metrics (`evaluation.metrics`), which neither needs.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import av
import numpy as np
import torch

from pix2pix_color.core.color import gray_version
from pix2pix_color.evaluation.metrics import ab_of, hue_hit_rate, psnr
from pix2pix_color.io.images import source_name
from pix2pix_color.video.frames import ENCODER, VideoError, open_video, quarter_turns, read_frames, video_stream

CDC_GAPS = (1, 2, 4)  # frame distances that TCVC's color distribution consistency averages over


def warping_error(ab: np.ndarray, ab_previous: np.ndarray, flow_to_previous: np.ndarray, mask: np.ndarray) -> float:
    """E_warp of one frame pair (Lai et al. 2018), in squared a*b* units; NaN if no pixel is tracked.

    ab, ab_previous (h,w,2) a*b* of frames t and t-1; flow_to_previous (h,w,2) from t to t-1 (estimated
    on the true footage's lightness); mask (h,w) 1 where frame t's pixel is visible in t-1. The mean
    over those pixels of |ab_t - warp(ab_t-1)|^2.
    """
    from pix2pix_color.video.temporal import warp

    error = np.square(ab - warp(np.ascontiguousarray(ab_previous), flow_to_previous)).sum(-1)
    total = float(mask.sum())
    return float((error * mask).sum() / total) if total > 0 else float("nan")


def color_histograms(rgb: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 frame -> (3,256) per-channel histograms, each summing to 1."""
    counts = np.stack([np.bincount(rgb[..., c].ravel(), minlength=256) for c in range(3)]).astype(np.float64)
    return counts / max(1, rgb.shape[0] * rgb.shape[1])


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) of two histograms (..., bins), averaged over leading axes."""
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        safe = a > 0
        return np.where(safe, a * np.log(np.where(safe, a, 1) / np.where(safe, b, 1)), 0.0).sum(-1)

    return float(np.mean(0.5 * kl(p, m) + 0.5 * kl(q, m)))


@dataclass
class VideoSummary:
    """One colorization of a video against its real colors: temporal steadiness and per-frame quality."""

    frames: int
    warping_error: float  # E_warp, mean squared a*b* difference along the motion (non-occluded pixels)
    cdc: float  # color distribution consistency (JS divergence; lower is steadier)
    psnr: float  # per-frame mean, dB
    hue_hit: float  # per-frame mean over frames with colorful pixels

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class VideoScorer:
    """Scores one colorization of a video frame by frame (`add`), in constant memory.

    The motion (flow, occlusion, cuts) is estimated once per frame pair on the real footage by the
    caller (`evaluate_video`) and shared by every scorer, so all methods are judged on the same
    pixels.
    """

    def __init__(self):
        self.previous_ab: np.ndarray | None = None
        self.recent: list[tuple[np.ndarray, int]] = []  # (histograms, shot) of the last frames, for CDC
        self.cdc_sums = {gap: [0.0, 0] for gap in CDC_GAPS}
        self.errors: list[float] = []
        self.psnr: list[float] = []
        self.hue: list[float] = []
        self.frames = 0

    def add(
        self, output: np.ndarray, real: np.ndarray, shot: int, to_previous: np.ndarray | None, mask: np.ndarray | None
    ) -> None:
        """output, real (h,w,3) uint8; `shot` this frame's shot number; flow (h,w,2) from this frame to the
        previous one and its reliability (h,w), None at a shot's first frame."""
        ab_out, ab_real = ab_of(output), ab_of(real)
        ab = ab_out.permute(1, 2, 0).numpy()
        self.frames += 1
        self.psnr.append(psnr(output, real))
        hit = hue_hit_rate(ab_out, ab_real)
        if not np.isnan(hit):
            self.hue.append(hit)
        if to_previous is not None and self.previous_ab is not None:
            error = warping_error(ab, self.previous_ab, to_previous, mask)
            if not np.isnan(error):
                self.errors.append(error)
        self.previous_ab = ab
        self.recent.append((color_histograms(output), shot))
        if len(self.recent) > max(CDC_GAPS):
            self._score_oldest()

    def _score_oldest(self) -> None:
        """CDC pairs frames up to 4 apart: score the oldest held frame's pairs, then forget it."""
        (first, shot), rest = self.recent[0], self.recent[1:]
        for gap in CDC_GAPS:
            if gap <= len(rest) and rest[gap - 1][1] == shot:
                self.cdc_sums[gap][0] += js_divergence(first, rest[gap - 1][0])
                self.cdc_sums[gap][1] += 1
        self.recent.pop(0)

    def summary(self) -> VideoSummary:
        while self.recent:
            self._score_oldest()
        per_gap = [total / n for total, n in self.cdc_sums.values() if n]
        return VideoSummary(
            frames=self.frames,
            warping_error=float(np.mean(self.errors)) if self.errors else float("nan"),
            cdc=float(np.mean(per_gap)) if per_gap else float("nan"),
            psnr=float(np.mean(self.psnr)) if self.psnr else float("nan"),
            hue_hit=float(np.mean(self.hue)) if self.hue else float("nan"),
        )


def evaluate_video(
    colorizer,
    video,
    *,
    film_look: bool = False,
    smoothing: float | None = None,
    working_size: int | None = None,
    side: int = 480,
    seed: int = 0,
    workdir=None,
) -> dict[str, VideoSummary]:
    """Colorize the black-and-white version of a real color video two ways and score both against it.

    "temporal": `colorize_video` as it ships; "per_frame": the same pipeline with smoothing 0, every
    frame colorized on its own; "gray": the black-and-white input itself; "real": the real footage
    scored against itself (its own E_warp and CDC: the floor that textured, moving footage sets).
    `film_look` adds grain and exposure flicker to the input, as old film has. Frames are compared at
    `side` px on the long side; flow is estimated on the real footage's L* (DIS, `temporal`).
    """
    import tempfile
    from pathlib import Path

    import cv2

    from pix2pix_color.core.color import rgb_to_l
    from pix2pix_color.video.temporal import DEFAULT_SMOOTHING, FlowEstimator, flow_input, is_cut, reliable, thumbnail

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        gray_path, ours, per_frame = (Path(tmp) / n for n in ("gray.mp4", "temporal.mp4", "per_frame.mp4"))
        write_black_and_white(video, gray_path, film_look=film_look, seed=seed)
        smoothing = DEFAULT_SMOOTHING if smoothing is None else smoothing
        colorizer.colorize_video(gray_path, ours, working_size=working_size, smoothing=smoothing)
        colorizer.colorize_video(gray_path, per_frame, working_size=working_size, smoothing=0.0)
        scorers = {k: VideoScorer() for k in ("temporal", "per_frame", "gray", "real")}
        flow = FlowEstimator()
        previous = None  # (flow input, thumbnail) of the previous real frame
        shot = 0
        streams = [read_frames(p) for p in (video, ours, per_frame, gray_path)]
        for real, *outputs in zip(*streams):
            h, w = real.shape[:2]
            scale = min(1.0, side / max(h, w))
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            real, *outputs = (cv2.resize(x[:h, :w], size, interpolation=cv2.INTER_AREA) for x in (real, *outputs))
            L = rgb_to_l(torch.from_numpy(real).permute(2, 0, 1))[0].numpy()
            current = (flow_input(L), thumbnail(L))
            to_previous = mask = None
            if previous is not None:
                to_previous, to_current = flow(current[0], previous[0]), flow(previous[0], current[0])
                mask = reliable(to_previous, to_current)
                if is_cut(previous[1], current[1], float(mask.mean())):
                    shot, to_previous, mask = shot + 1, None, None
            previous = current
            for key, output in zip(("temporal", "per_frame", "gray", "real"), (*outputs, real)):
                scorers[key].add(output, real, shot, to_previous, mask)
    return {k: s.summary() for k, s in scorers.items()}


FILM_GRAIN = 12.0  # standard deviation of the simulated grain, in 8-bit levels
FILM_FLICKER = 0.08  # frame-to-frame exposure change: gain within 1 +- this, offset within +- 40x this levels


def write_black_and_white(
    src: str | os.PathLike, dst: str | os.PathLike, *, film_look: bool = False, seed: int = 0, crf: int = 4
) -> int:
    """Write the black-and-white version of a color video (each frame's own L*, as `gray_version`) as a
    MP4 with the same timestamps (H.264 at `crf`: 4 is near-lossless, for scoring; 18 is what a typical
    good file has); `film_look` adds grain and exposure flicker, as old film has (seeded). Returns the
    frame count. Used to score colorizations against the real colors, and by the benchmarks."""
    rng = np.random.default_rng(seed)
    name = source_name(src)
    count = 0
    with open_video(src) as inp, av.open(os.fspath(dst), "w", format="mp4") as out:
        stream = video_stream(inp, name)
        video = None
        for frame in inp.decode(stream):
            turns = quarter_turns(frame.rotation)
            rgb = frame.to_ndarray(format="rgb24")
            gray = gray_version(np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb).astype(np.float32)
            if film_look:
                gain, offset = 1 + rng.uniform(-FILM_FLICKER, FILM_FLICKER), rng.uniform(-40, 40) * FILM_FLICKER
                gray = gray * gain + offset + rng.normal(0, FILM_GRAIN, gray.shape).astype(np.float32)
            gray = np.clip(gray, 0, 255).astype(np.uint8)
            if video is None:
                video = out.add_stream(
                    ENCODER, rate=stream.average_rate or 25, options={"crf": str(crf), "preset": "veryfast"}
                )
                video.width, video.height, video.pix_fmt = (
                    gray.shape[1] + gray.shape[1] % 2,
                    gray.shape[0] + gray.shape[0] % 2,
                    "yuv420p",
                )
                video.time_base = video.codec_context.time_base = stream.time_base
            gray = np.pad(gray, ((0, video.height - gray.shape[0]), (0, video.width - gray.shape[1])), mode="edge")
            new = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
            new.pts, new.time_base = frame.pts if frame.pts is not None else count, stream.time_base
            out.mux(video.encode(new))
            count += 1
        if video is None:
            raise VideoError(f"{name}: the video has no frames")
        out.mux(video.encode(None))
    return count
