"""Video colorization: decode -> colorize -> encode, streaming, with colors carried along the motion.

Frames flow through a bounded window: decoded frames wait for a batch of the generator, then for
the backward pass of `pix2pix_color.video.temporal` (at most EMIT + LOOKAHEAD frames of a shot are held),
and are encoded as soon as they are final, so memory does not grow with the video's length. The
output is an H.264 (yuv420p) MP4 with the input's frame count, timestamps, rotation and display
aspect, and the input's audio streams copied packet for packet (re-encoded to AAC only where MP4
cannot hold the codec).

Shot detection is our own (`temporal.is_cut`) rather than PySceneDetect's: its detectors score
HSV differences of full-resolution BGR frames, so a black-and-white film's exposure flicker reads
as content change, and it would decode the file a second time; ours runs on the flicker-normalised
L* thumbnails and the flow this pipeline computes anyway, in one pass.

I/O is PyAV (FFmpeg's libraries in the wheel): it reads whatever FFmpeg reads and muxes audio as is;
OpenCV's writer has no audio and a subprocess would need an ffmpeg binary.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from pix2pix_color._version import __version__ as VERSION
from pix2pix_color.core.color import gray_to_l, is_grayscale, rgb_to_l
from pix2pix_color.core.hints import HintError, hint_channels, hint_points
from pix2pix_color.core.image_processor import guided_coefficients, resize
from pix2pix_color.io.images import source_name
from pix2pix_color.pipeline.engine import Engine
from pix2pix_color.pipeline.reference import ReferenceCells, reference_guides
from pix2pix_color.pipeline.restore import FilmRestoration, assess_frames, colors_of
from pix2pix_color.pipeline.steps import PredictOptions, finish, predict, working_grid
from pix2pix_color.video import temporal
from pix2pix_color.video.film_repair import FilmRepair
from pix2pix_color.video.request import VideoRequest

# Audio codecs the MP4 muxer takes as they are; anything else (PCM, Vorbis...) is re-encoded to AAC.
MP4_AUDIO_COPY = {"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"}
# Demuxers that FFmpeg also uses for still images: a photo is not a video.
_TEXT_DEMUXERS = ("tty", "bin", "xbin", "idf", "adf")
_TEXT_CODECS = ("ansi", "bintext", "xbin", "idf")
_IMAGE_DEMUXERS = ("image2", "_pipe", "gif", "apng", "webp", "tiff", "png", "bmp", "jpeg")
ENCODER = "libx264"
ENCODER_OPTIONS = {"preset": "veryfast", "crf": "18"}  # visually lossless at the speed of decoding
EMIT = 16  # frames made final at once by a backward pass ...
LOOKAHEAD = 16  # ... which starts this many frames further on (a shot's end: at the end itself)
# restore_video decides how a film faded from this many frames spread over it, at most SAMPLE_SIDE px.
SAMPLE_FRAMES, SAMPLE_SIDE = 24, 256


class VideoError(ValueError):
    """A video that cannot be colorized; the message names the file and the reason, in one line."""


@dataclass
class VideoInfo:
    """What `probe_video` reads from the header: display size (rotation applied), frames, timing, audio."""

    width: int
    height: int
    frames: int  # from the header; 0 when the container does not say
    fps: float
    duration: float  # seconds; 0 when unknown
    rotation: int  # degrees counter-clockwise that the player turns the coded frames
    audio_streams: int
    codec: str


@dataclass
class VideoResult:
    """What `colorize_video` wrote."""

    path: Path
    frames: int
    shots: int
    info: VideoInfo
    audio: list[str] = field(default_factory=list)  # per audio stream: "copied aac" or "re-encoded pcm_s16le to aac"
    restoration: str | None = None  # restore_video: "color" (a faded color film), "toned" or "gray"
    repaired: float | None = None  # with repair: the mean share of a frame that was filled
    damage_mask: Path | None = None  # with repair and `VideoRequest.damage_mask`: the mask film written


def open_video(src: str | os.PathLike) -> av.container.InputContainer:
    """The file opened for demuxing; `VideoError` with one line for a missing, empty or unreadable one."""
    name = source_name(src)
    path = Path(src)
    if not path.is_file():
        raise VideoError(f"{name}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{name}: the file is empty (0 bytes)")
    try:
        return av.open(os.fspath(path), metadata_errors="ignore")
    except av.error.FFmpegError:
        boxes = _mp4_boxes(path)
        if boxes and boxes[0][0] == b"ftyp" and not any(kind == b"moov" and whole for kind, whole, _ in boxes):
            raise VideoError(f"{name}: the MP4's index (moov atom) is missing: truncated or unfinished") from None
        raise VideoError(f"{name}: not a video file, or truncated or corrupt") from None


def _mp4_boxes(path: Path) -> list[tuple[bytes, bool, int]]:
    """The top-level boxes of an MP4/MOV file: (type, complete, offset); [] for other files.

    FFmpeg reports a missing index or a protected track only as "invalid data"; the box layout says
    which it is, and costs a few reads.
    """
    boxes = []
    size_of_file = path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size_of_file and len(boxes) < 1000:
            f.seek(offset)
            header = f.read(16)
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if not kind.isascii() or not kind.isalnum() and kind not in (b"free", b"skip", b"wide"):
                break
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:
                size = size_of_file - offset
            if size < 8:
                break
            boxes.append((kind, offset + size <= size_of_file, offset))
            offset += size
    return boxes


def _encrypted(path: Path) -> bool:
    """Whether an MP4/MOV declares protected (CENC/DRM) tracks: 'sinf'/'encv'/'enca' inside 'moov'."""
    for kind, whole, offset in _mp4_boxes(path):
        if kind == b"moov" and whole:
            with open(path, "rb") as f:
                f.seek(offset)
                index = f.read(64 << 20)
            return any(tag in index for tag in (b"sinf", b"encv", b"enca"))
    return False


def video_stream(container: av.container.InputContainer, name: str) -> av.video.stream.VideoStream:
    """The container's moving-picture stream (not cover art); `VideoError` for a still image or audio."""
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kind = "an audio-only file" if container.streams.audio else "a file with no video stream"
        raise VideoError(f"{name}: {kind}, nothing to colorize")
    # FFmpeg renders plain text files as ANSI-art "video" (its tty demuxer: a README becomes 640x400 at
    # 25 fps); text is not a film, whatever the demuxer makes of it.
    if container.format.name in _TEXT_DEMUXERS or streams[0].codec_context.name in _TEXT_CODECS:
        raise VideoError(f"{name}: a text file, not a video")
    if any(container.format.name == d or container.format.name.endswith(d) for d in _IMAGE_DEMUXERS):
        raise VideoError(_image_not_video(container.name, name))
    return streams[0]


def _image_not_video(path: str, name: str) -> str:
    """What a file that FFmpeg reads with an image demuxer is: an animated image, a still one, or
    (a text file renamed .jpg, which FFmpeg's image2 takes by its name) neither."""
    try:
        with Image.open(path) as image:
            frames, kind = getattr(image, "n_frames", 1), image.format
            if frames == 1:
                image.verify()
    except (OSError, ValueError, SyntaxError):
        return f"{name}: neither a video nor an image (its content is not one)"
    if frames > 1:
        return (
            f"{name}: an animated {kind} ({frames} frames), not a video: pix2pix-color colorize makes every "
            "frame of it, the photo tab its first"
        )
    return f"{name}: a still image, not a video"


def _fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(src: str | os.PathLike) -> VideoInfo:
    """Read a video's header (and its first frame, for the rotation); raises `VideoError`."""
    name = source_name(src)
    with open_video(src) as container:
        stream = video_stream(container, name)
        if container.format.name.startswith("mov") and _encrypted(Path(src)):
            raise VideoError(f"{name}: the video is encrypted (CENC/DRM); only unprotected files can be read")
        first = _first_frame(container, stream, name)
        rotation = quarter_turns(first.rotation) * 90
        width, height = (first.height, first.width) if rotation % 180 else (first.width, first.height)
        duration = 0.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        return VideoInfo(
            width=width,
            height=height,
            frames=int(stream.frames or 0),
            fps=_fps(stream),
            duration=duration,
            rotation=rotation,
            audio_streams=len(container.streams.audio),
            codec=stream.codec_context.name,
        )


def _first_frame(container, stream, name: str) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError:
        raise VideoError(f"{name}: the video data cannot be decoded (truncated or corrupt)") from None
    raise VideoError(f"{name}: the video has no frames")


def quarter_turns(rotation: float | None) -> int:
    """A stream's display rotation (degrees) as counter-clockwise quarter turns for np.rot90."""
    return int(round((rotation or 0) / 90)) % 4


def is_video(path: str | os.PathLike) -> bool:
    """Whether a file is a video by its content (any extension): FFmpeg finds a moving-picture stream."""
    try:
        with av.open(os.fspath(path), metadata_errors="ignore") as container:
            video_stream(container, "")
            return True
    except (av.error.FFmpegError, VideoError, OSError, UnicodeDecodeError):
        return False


@dataclass
class _Frame:
    """One frame on its way through the window. Shapes: H,W full (upright), h,w carry grid."""

    index: int
    timing: tuple[int | None, int | None]  # the decoded frame's (pts, duration): they go on the output frame
    L_full: Tensor  # (1,1,H,W) float16 L* in [0,100]
    L_carry: np.ndarray  # (h,w) float32
    flow_input: np.ndarray  # (h,w) uint8, flicker-normalised
    thumb: np.ndarray
    hints: np.ndarray | None  # (N,4) points active on this frame
    cut: bool = False  # the first frame of a shot
    flow_to_prev: np.ndarray | None = None  # (h,w,2)
    mask_to_prev: np.ndarray | None = None  # (h,w)
    flow_to_next: np.ndarray | None = None
    mask_to_next: np.ndarray | None = None
    carried: np.ndarray | None = None  # (h,w,2) a*b* after the forward pass
    prepared: np.ndarray | None = None  # restore_video: the frame with its fading undone, (H,W,3) uint8


class _Pipeline:
    """The streaming core: `push` decoded upright RGB frames, get back finished ones in order.

    Holds at most batch_size + EMIT + LOOKAHEAD frames, whatever the video's length.
    """

    def __init__(
        self,
        engine: Engine,
        size: tuple[int, int],
        *,
        hints: dict[int, np.ndarray],
        options: PredictOptions,
        smoothing: float,
        batch_size: int,
        reference: ReferenceCells | None = None,
        film: FilmRestoration | None = None,
    ):
        self.engine = engine
        self.H, self.W = size
        self.options = options
        self.work = working_grid(engine.generator, size, options)
        self.carry = temporal.carry_shape(self.H, self.W)
        self.scale = (self.carry[1] / self.W, self.carry[0] / self.H)
        self.hints, self.smoothing, self.batch_size = hints, smoothing, batch_size
        self.reference, self.film = reference, film
        self.flow = temporal.FlowEstimator()
        self.pending: list[_Frame] = []  # decoded, waiting for the generator
        self.shot: list[_Frame] = []  # carried forward, waiting for the backward pass
        self.previous: _Frame | None = None
        self.active_hints: np.ndarray | None = None
        self.shots = 0

    def push(self, index: int, pixels: np.ndarray, timing: tuple) -> Iterator[tuple[_Frame, np.ndarray]]:
        """(H,W) gray or (H,W,3) RGB uint8 upright frame -> the frames now final, as (frame, (H,W,3) uint8),
        made one at a time as the caller iterates (so one full-resolution result exists at a time)."""
        prepared = None
        if self.film is not None:
            pixels = prepared = self.film.prepare(pixels)
        if pixels.ndim == 2:
            L = gray_to_l(torch.from_numpy(pixels))[None, None]  # (1,1,H,W), a lookup table
        else:
            L = rgb_to_l(torch.from_numpy(pixels).permute(2, 0, 1))[None]
        L_carry = resize(L, self.carry)[0, 0].numpy()
        frame = _Frame(
            index, timing, L.half(), L_carry, temporal.flow_input(L_carry), temporal.thumbnail(L_carry), None
        )
        frame.prepared = prepared
        prev = self.previous
        if prev is None:
            frame.cut = True
        else:
            frame.flow_to_prev = self.flow(frame.flow_input, prev.flow_input)
            prev.flow_to_next = self.flow(prev.flow_input, frame.flow_input)
            frame.mask_to_prev = temporal.reliable(frame.flow_to_prev, prev.flow_to_next)
            prev.mask_to_next = temporal.reliable(prev.flow_to_next, frame.flow_to_prev)
            frame.cut = temporal.is_cut(prev.thumb, frame.thumb, float(frame.mask_to_prev.mean()))
        if frame.cut:
            self.active_hints = None
        elif self.active_hints is not None:
            self.active_hints = temporal.track_points(
                self.active_hints, prev.flow_to_next, prev.mask_to_next, self.scale
            )
        if index in self.hints:
            self.active_hints = self.hints[index]
        frame.hints = self.active_hints
        self.previous = frame
        self.pending.append(frame)
        return self._generate() if len(self.pending) >= self.batch_size else iter(())

    def finish(self) -> Iterator[tuple[_Frame, np.ndarray]]:
        yield from self._generate()
        yield from self._backward(final=True)

    def _generate(self) -> Iterator[tuple[_Frame, np.ndarray]]:
        """The generator on the pending batch, then the forward pass; yields the frames made final."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        L_work = torch.cat([resize(f.L_full.float(), self.work) for f in batch])
        hint_maps = None
        if any(f.hints is not None and len(f.hints) for f in batch):
            hint_maps = torch.stack([hint_channels(f.hints, (self.H, self.W), self.work) for f in batch])
        with torch.inference_mode():
            device, generator = self.engine.device, self.engine.generator
            L_work = L_work.to(device)
            guides = None if self.reference is None else reference_guides(generator, L_work, self.reference)
            ab = predict(
                generator,
                L_work,
                None if hint_maps is None else hint_maps.to(device),
                [(self.H, self.W)] * len(batch),
                self.options,
                backend=self.engine.backend,
                guides=guides,
            )
            guesses = resize(ab.float().cpu(), self.carry).permute(0, 2, 3, 1).numpy()
        for frame, guess in zip(batch, guesses):
            if frame.cut:
                yield from self._backward(final=True)
                self.shots += 1
                frame.carried = np.ascontiguousarray(guess)
            else:
                previous = self.shot[-1].carried
                frame.carried = temporal.carry_forward(
                    previous, guess, frame.flow_to_prev, frame.mask_to_prev, self.smoothing
                )
            self.shot.append(frame)
            if len(self.shot) >= EMIT + LOOKAHEAD:
                yield from self._backward(final=False)

    def _backward(self, final: bool) -> Iterator[tuple[_Frame, np.ndarray]]:
        """The backward pass over the held frames of the shot; the first EMIT (all, if final) are done."""
        if not self.shot:
            return
        smoothed = [None] * len(self.shot)
        smoothed[-1] = self.shot[-1].carried
        for t in range(len(self.shot) - 2, -1, -1):
            f = self.shot[t]
            smoothed[t] = temporal.carry_forward(
                smoothed[t + 1], f.carried, f.flow_to_next, f.mask_to_next, self.smoothing
            )
        count = len(self.shot) if final else EMIT
        done, self.shot = self.shot[:count], self.shot[count:]
        yield from self._compose(done, smoothed[:count])

    def _compose(self, frames: list[_Frame], ab_carry: list[np.ndarray]) -> Iterator[tuple[_Frame, np.ndarray]]:
        """Full-resolution output: the photo path's guided upsampling, its small half batched."""

        L_low = torch.stack([torch.from_numpy(f.L_carry) for f in frames])[:, None]
        ab_low = torch.from_numpy(np.ascontiguousarray(np.stack(ab_carry))).permute(0, 3, 1, 2)
        coefficients, limit = guided_coefficients(L_low, ab_low)
        for k, frame in enumerate(frames):
            rgb = finish(frame.L_full, coefficients[k], limit[k])
            if self.film is not None:
                rgb = self.film.finish(frame.prepared, rgb)
                frame.prepared = None
            frame.L_full = frame.L_carry = None  # type: ignore[assignment]  # free the frame's memory now
            yield frame, rgb


def _hints_by_frame(hints, width: int, height: int, takes_hints: bool, max_hints: int) -> dict[int, np.ndarray]:
    """`hints` for frame 0 (a list of points or an RGBA scribble) or {frame: hints} -> {frame: (N,4)},
    at most `max_hints` points in all the frames together (a scribble counts as one)."""
    if hints is None:
        return {}
    per_frame = hints if isinstance(hints, Mapping) else {0: hints}
    given = sum(len(h) if isinstance(h, (list, tuple)) else 1 for h in per_frame.values())
    if given > max_hints:
        raise HintError(f"{given:,} hint points in all the frames together: at most {max_hints:,} are accepted here")
    out = {}
    for index, frame_hints in per_frame.items():
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise HintError(f"hints are keyed by frame number (0, 1, ...), got {index!r}")
        points = hint_points(frame_hints, width, height)
        if points is not None:
            out[index] = points
    if out and not takes_hints:
        raise HintError('this model takes no color hints (its config.json has no "hints": true)')
    return out


class _Writer:
    """The MP4 being written: H.264 video with the input's timing and rotation, audio as it was."""

    def __init__(self, path: Path, audio_streams, stream, first: av.VideoFrame, comment: str):
        self.container = av.open(os.fspath(path), "w", format="mp4")
        self.container.metadata["comment"] = comment
        self.container.metadata["encoder"] = f"pix2pix-color {VERSION}"
        self.rotation = quarter_turns(first.rotation)
        # yuv420p needs even sides: an odd side gets one repeated edge pixel, and the sample aspect
        # ratio is adjusted so that the player shows the input's exact display aspect.
        w, h = first.width, first.height
        self.width, self.height = w + w % 2, h + h % 2
        self.time_base = stream.time_base or Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        video = self.container.add_stream(ENCODER, rate=rate, options=dict(ENCODER_OPTIONS))
        video.width, video.height, video.pix_fmt = self.width, self.height, "yuv420p"
        video.time_base = self.time_base
        video.codec_context.time_base = self.time_base
        sar = stream.sample_aspect_ratio or Fraction(1)
        sar = Fraction(sar) * Fraction(w * self.height, self.width * h)
        if sar != 1:
            video.codec_context.sample_aspect_ratio = sar
        self.hd = self.height >= 720
        video.codec_context.colorspace = 1 if self.hd else 5  # BT.709 / BT.601, as players assume by size
        video.codec_context.color_range = 1
        if first.rotation:
            video.set_display_rotation(self.rotation * 90)
        self.video = video
        self.audio: dict[int, tuple[object, bool]] = {}
        self.audio_notes: list[str] = []
        for a in audio_streams:
            name = a.codec_context.name
            if name in MP4_AUDIO_COPY:
                self.audio[a.index] = (self.container.add_stream_from_template(a), True)
                self.audio_notes.append(f"copied {name}")
            else:
                out = self.container.add_stream("aac", rate=a.codec_context.sample_rate or 48000)
                if a.codec_context.layout:
                    out.layout = a.codec_context.layout
                self.audio[a.index] = (out, False)
                self.audio_notes.append(f"re-encoded {name} to aac")
        self.last_pts: int | None = None

    def audio_packet(self, packet: av.Packet) -> None:
        out, copy = self.audio[packet.stream.index]
        if copy:
            if packet.dts is None:  # a demuxer's flush packet
                return
            packet.stream = out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder's own sample clock: the resampler re-times the frames
            self.container.mux(out.encode(frame))

    def video_frame(self, rgb: np.ndarray, timing: tuple[int | None, int | None]) -> None:
        """A colorized (H,W,3) uint8 upright frame, with its source frame's (pts, duration)."""
        rgb = np.rot90(rgb, -self.rotation) if self.rotation else rgb  # back to the coded orientation
        pad_y, pad_x = self.height - rgb.shape[0], self.width - rgb.shape[1]
        if pad_y or pad_x:
            rgb = np.pad(rgb, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace=1 if self.hd else 5, dst_color_range=1)
        pts, duration = timing
        if pts is None:
            pts = (
                0 if self.last_pts is None else self.last_pts + max(1, round(1 / (_rate(self.video) * self.time_base)))
            )
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # the encoder needs strictly increasing timestamps
        frame.pts, frame.time_base = pts, self.time_base
        if duration:
            frame.duration = duration
        self.last_pts = pts
        self.container.mux(self.video.encode(frame))

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        for out, copy in self.audio.values():
            if not copy:
                self.container.mux(out.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is deleted next; its header does not matter
            pass


def _rate(stream) -> Fraction:
    return Fraction(stream.average_rate or 25)


def colorize_video(engine: Engine, request: VideoRequest) -> VideoResult:
    """A `VideoRequest` -> its H.264 MP4, written under a temporary name and renamed when complete
    (nothing is left at `dst` on failure); see `Colorizer.colorize_video`. Everything that can be
    checked is checked before the first frame is decoded (`_plan`)."""
    plan = _plan(engine, request)
    dst = Path(request.dst)
    tmp = dst.with_name(f".{dst.stem}.tmp{os.getpid()}.mp4")
    report, close = _reporter(request.progress, plan)
    try:
        count, shots, audio, repaired = _transcode(engine, request, plan, tmp, report)
        os.replace(tmp, dst)
        restoration = None if plan.film is None else plan.film.assessment.kind
        mask = None if request.damage_mask is None else Path(request.damage_mask)
        return VideoResult(dst, count, shots, plan.info, audio, restoration, repaired, mask)
    finally:
        tmp.unlink(missing_ok=True)
        close()


@dataclass
class _Plan:
    """What `_plan` checked and prepared: the file's name and header, the options, hints by frame,
    the reference's cells, the film's restoration, the length limit and the frames expected."""

    name: str
    info: VideoInfo
    options: PredictOptions
    hints: dict[int, np.ndarray]
    reference: ReferenceCells | None
    film: FilmRestoration | None
    max_seconds: float | None
    expected: int


def _plan(engine: Engine, request: VideoRequest) -> _Plan:
    """The checks and preparations before decoding: options, the frame size and length limits (the
    engine's `limits`, or the request's where stricter), hints, the reference, restore's first pass."""
    name = source_name(request.src)
    options = engine.options(request.working_size, request.color_strength)  # bad values fail first
    info = probe_video(request.src)
    limits = engine.limits
    limit = min(limits.max_frame_pixels, request.max_pixels or limits.max_frame_pixels)
    if info.width * info.height > limit:
        raise VideoError(f"{name}: frames of {info.width}x{info.height} are over the limit of {limit / 1e6:.1f} MP")
    given = [s for s in (request.max_seconds, limits.max_seconds) if s is not None]
    max_seconds = min(given) if given else None
    if max_seconds is not None and info.duration > max_seconds:  # the header's word; the frames are counted too
        raise VideoError(f"{name}: {info.duration:.0f} s long; the limit is {max_seconds:.0f} s")
    hints = _hints_by_frame(request.hints, info.width, info.height, engine.takes_hints, limits.max_hints)
    cells = request.reference  # checked and prepared once, before any frame is decoded
    if cells is not None and not isinstance(cells, ReferenceCells):
        cells = engine.prepare_reference(cells, working_size=request.working_size)
    film = None
    if request.restore:  # a first pass over the film: what it is and how it faded, from frames spread over it
        film = assess_frames(
            _sample_frames(request.src, info, max_seconds=max_seconds), colors_of(engine), request.keep_tone
        )
    # Frames the header announces, or duration x rate where it does not say (Matroska): the ETA's base.
    expected = info.frames or round(info.duration * info.fps)
    return _Plan(name, info, options, hints, cells, film, max_seconds, expected)


def _reporter(progress, plan: _Plan) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """The request's progress (True: a tqdm bar in frames; a callable; False: nothing) -> (report, close)."""
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=plan.expected or None, desc=f"colorize {plan.name}", unit="frame")
        return (lambda done, total: bar.update(done - bar.n)), bar.close
    return (progress or (lambda done, total: None)), (lambda: None)


def _transcode(engine: Engine, request: VideoRequest, plan: _Plan, tmp: Path, report) -> tuple:
    """Decode, colorize and encode into `tmp`, streaming -> (frames written, shots, audio notes,
    the repaired share or None)."""
    writer = output = pipeline = masks = None
    repair = FilmRepair() if request.repair else None
    early_audio: list[av.Packet] = []  # audio before the first frame: the writer opens on that frame
    count = 0
    try:
        with open_video(request.src) as inp:
            stream = video_stream(inp, plan.name)
            stream.thread_type = "AUTO"
            frames = _demux(inp, stream, plan.name, plan.info, plan.max_seconds)
            if repair is not None:  # first, on the reader's thread: no speck is restored or colored
                if request.damage_mask is not None:
                    masks = _MaskFilm(Path(request.damage_mask), stream, f"damage filled by pix2pix-color {VERSION}")
                frames = _repaired(frames, repair, masks)
            for kind, index, item, pixels in _in_background(frames, QUEUE_FRAMES):
                if kind == "audio":
                    if output is None:
                        early_audio.append(item)
                    else:
                        output.put(("audio", item))
                    continue
                if output is None:
                    writer = _Writer(tmp, inp.streams.audio, stream, item, _comment(engine, request))
                    output = _BackgroundWriter(writer, QUEUE_FRAMES)
                    unchanged = not request.colorize or (plan.film is not None and not plan.film.needs_model)
                    pipeline = _Unchanged(plan.film) if unchanged else _Pipeline(
                        engine, (plan.info.height, plan.info.width), hints=plan.hints, options=plan.options,
                        smoothing=request.smoothing, batch_size=request.batch_size, reference=plan.reference,
                        film=plan.film,
                    )  # fmt: skip
                    for early in early_audio:
                        output.put(("audio", early))
                for done, out in pipeline.push(index, pixels, (item.pts, item.duration)):
                    output.put(("video", out, done.timing))
                    count += 1
                    report(count, plan.expected)
                    if count % EMIT == 0:
                        _release_freed_memory()
            if output is None:
                raise VideoError(f"{plan.name}: the video has no frames")
            for done, out in pipeline.finish():
                output.put(("video", out, done.timing))
                count += 1
                report(count, plan.expected)
            output.close()
            if masks is not None:
                masks.close()
        repaired = None if repair is None else repair.damaged_share
        return count, pipeline.shots, writer.audio_notes, repaired
    except BaseException:
        if output is not None:
            output.abort()
        if masks is not None:
            masks.abort()
        raise


def _comment(engine: Engine, request: VideoRequest) -> str:
    """The output's `comment` tag: what was done to the film, by what."""
    if not request.colorize:
        return f"repaired (dust and scratches) by pix2pix-color {VERSION}"
    return f"colorized by pix2pix-color {VERSION}, model {engine.model_id}"


class _Unchanged:
    """`_Pipeline`'s place when no frame needs the model: a film only repaired, each frame out as it
    came in, as RGB; or a restored color film with nothing to fill in (`FilmRestoration.needs_model`),
    each frame with its fading undone (or as decoded). No shots are told apart: `shots` stays 0."""

    shots = 0

    def __init__(self, film: FilmRestoration | None = None):
        self.film = film

    @dataclass
    class _Done:
        timing: tuple

    def push(self, index: int, pixels: np.ndarray, timing: tuple) -> Iterator[tuple[_Done, np.ndarray]]:
        if self.film is not None:
            pixels = self.film.prepare(pixels)
        rgb = np.ascontiguousarray(np.dstack([pixels] * 3)) if pixels.ndim == 2 else pixels
        yield self._Done(timing), rgb

    def finish(self) -> Iterator[tuple[_Done, np.ndarray]]:
        return iter(())


def _repaired(items, repair: FilmRepair, masks: _MaskFilm | None = None):
    """The demuxer's items with each video frame's pixels repaired; a frame comes out once the one
    after it is read (the repair judges a frame by its neighbours), the audio as it comes. Each
    frame's mask goes to `masks` where given."""
    held = None  # (index, decoded frame) of the frame the repair holds
    for kind, index, item, pixels in items:
        if kind != "video":
            yield kind, index, item, pixels
            continue
        for fixed, mask in repair.push(pixels):
            if masks is not None:
                masks.put(held[1], mask)
            yield ("video", *held, fixed)
        held = (index, item)
    for fixed, mask in repair.finish():
        if masks is not None:
            masks.put(held[1], mask)
        yield ("video", *held, fixed)


class _MaskFilm:
    """What a film's repair filled, as a film of its own (`VideoRequest.damage_mask`): white where a
    frame's damage was filled, black elsewhere, the input's timing and rotation, no audio. Written
    under a temporary name and renamed when the whole film is done, as the film itself."""

    def __init__(self, path: Path, stream, comment: str):
        self.path, self.stream, self.comment = path, stream, comment
        self.tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.mp4")
        self.writer: _Writer | None = None

    def put(self, item: av.VideoFrame, mask: np.ndarray) -> None:
        """A decoded frame (its timing) and its mask, (H,W) bool, upright."""
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = _Writer(self.tmp, (), self.stream, item, self.comment)
        white = np.where(mask, np.uint8(255), np.uint8(0))
        self.writer.video_frame(np.repeat(white[..., None], 3, axis=2), (item.pts, item.duration))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
        self.tmp.unlink(missing_ok=True)


def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return None


_MALLOC_TRIM = _malloc_trim()


def _release_freed_memory() -> None:
    """Hand freed frame buffers back to the OS. Three threads (decode, colorize, encode) allocate and
    free frames of several MB; glibc keeps such memory in per-thread arenas, and without this the
    peak RSS crept up with the video's length (+232 MB from a 10 s to a 60 s 1080p clip)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


# Decoding and encoding run in threads of their own beside the colorizing one: FFmpeg's codecs
# release the GIL, so the next frames decode and the last ones encode while the model runs
# (measured in benchmarks/bench_video.py). The queues are bounded, so memory stays bounded too.
QUEUE_FRAMES = 8
_END = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def _in_background(items, maxsize: int):
    """Iterate `items` in a thread, `maxsize` ahead of the consumer; its exceptions re-raise here."""
    q: queue.Queue = queue.Queue(maxsize)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(_Failure(e))

    thread = threading.Thread(target=run, name="pix2pix-color-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class _BackgroundWriter:
    """Feeds a `_Writer` from a thread: ("video", rgb, source frame) and ("audio", packet) items."""

    def __init__(self, writer: _Writer, maxsize: int):
        self.writer = writer
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="pix2pix-color-encode", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain: the producer learns of the error at its next put
            try:
                if item[0] == "audio":
                    self.writer.audio_packet(item[1])
                else:
                    self.writer.video_frame(item[1], item[2])
            except BaseException as e:  # noqa: BLE001 - re-raised in the producer's thread
                self.error = e

    def put(self, item) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        self.writer.close()

    def abort(self) -> None:
        if self.thread.is_alive():
            self.error = self.error or RuntimeError("aborted")
            self.queue.put(None)
            self.thread.join()
        self.writer.abort()


def _demux(inp, stream, name: str, info: VideoInfo, max_seconds: float | None = None):
    """("audio", None, packet, None) and ("video", index, frame, upright pixels) in file order.

    `max_seconds` is counted on the frames as they are decoded (their timestamps from the first, or
    the frame count over the rate where the stream has none), never trusted from the header: a raw
    H.264 stream says 0 s whatever it holds."""
    index, start = 0, None
    rate = info.fps if info.fps and info.fps > 0 else 25.0
    for packet in inp.demux([stream, *inp.streams.audio]):
        if packet.stream.type == "audio":
            yield "audio", None, packet, None
            continue
        for frame in _decode(packet, name, index):
            if max_seconds is not None:
                if frame.time is not None and start is None:
                    start = frame.time
                at = max(index / rate, frame.time - start if frame.time is not None and start is not None else 0.0)
                if at > max_seconds:
                    limit = f"{max_seconds:g} s"
                    raise VideoError(f"{name}: more than {limit} long (counted while decoding); the limit is {limit}")
            yield "video", index, frame, _upright_pixels(frame, info)
            index += 1


def _sample_frames(
    src, info: VideoInfo, count: int = SAMPLE_FRAMES, max_seconds: float | None = None
) -> list[np.ndarray]:
    """About `count` frames spread over the video, as thumbnails of at most SAMPLE_SIDE px: (h,w,3)
    RGB, or (h,w) for black-and-white frames. Decodes the whole video once (no seeking: a seek
    lands on keyframes only, and not every container can)."""
    name = source_name(src)
    every = max(1, (info.frames or round(info.duration * info.fps)) // count)
    out = []
    with open_video(src) as inp:
        stream = video_stream(inp, name)
        stream.thread_type = "AUTO"
        for kind, index, _, pixels in _demux(inp, stream, name, info, max_seconds):
            if kind == "video" and index % every == 0:
                picture = Image.fromarray(pixels)
                picture.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE), Image.BOX)
                out.append(np.asarray(picture))
    return out


def _decode(packet: av.Packet, name: str, decoded: int):
    try:
        return packet.decode()
    except av.error.FFmpegError:
        raise VideoError(
            f"{name}: the video data is corrupt or truncated (decoding failed after frame {decoded})"
        ) from None


def _upright_pixels(frame: av.VideoFrame, info: VideoInfo) -> np.ndarray:
    """A decoded frame -> uint8 pixels as the player shows them (rotation applied): (H,W) for a
    black-and-white frame (its luma, 4x cheaper to turn into L* than RGB), (H,W,3) RGB otherwise."""
    turns = quarter_turns(frame.rotation)
    coded_w, coded_h = (info.height, info.width) if info.rotation % 180 else (info.width, info.height)
    if (frame.width, frame.height) != (coded_w, coded_h):  # a mid-stream size change: keep the first size
        frame = frame.reformat(width=coded_w, height=coded_h)
    pixels = frame.to_ndarray(format="gray" if _is_gray(frame) else "rgb24")
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _is_gray(frame: av.VideoFrame) -> bool:
    """Whether a frame is black and white, by the library's one definition (`color.is_grayscale`)."""
    if frame.format.name.startswith("gray"):
        return True
    return is_grayscale(frame.reformat(width=64, height=64, format="rgb24").to_image())


def read_frames(src: str | os.PathLike):
    """Yield each frame of a video as (H,W,3) uint8 RGB, upright (rotation applied)."""
    name = source_name(src)
    with open_video(src) as container:
        stream = video_stream(container, name)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                turns = quarter_turns(frame.rotation)
                yield np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
        except av.error.FFmpegError:
            raise VideoError(f"{name}: the video data is corrupt or truncated") from None
