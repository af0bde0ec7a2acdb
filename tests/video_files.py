"""Small videos made on the fly for the tests: well-formed ones of every awkward kind, and broken ones."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

# A fixed CENC key: FFmpeg's MP4 muxer encrypts with it (what a DRM-protected file looks like).
CENC = {
    "encryption_scheme": "cenc-aes-ctr",
    "encryption_key": "76a6c65c5ea762046bd749a2e632ccbb",
    "encryption_kid": "a7e61c373e219033c21091fa607bf3b8",
}


def pattern(width: int, height: int, i: int) -> np.ndarray:
    """(H,W,3) uint8 gray frame i: a diagonal ramp moving 3 px a frame."""
    yy, xx = np.mgrid[0:height, 0:width]
    g = ((xx * 2 + yy + i * 3) % 256).astype(np.uint8)
    return np.stack([g, g, g], -1)


def make_clip(
    path: Path,
    *,
    size: tuple[int, int] = (96, 64),
    frames: int = 12,
    fps: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    rotation: int = 0,
    audio: str | None = None,
    pts: list[int] | None = None,
    frame_source=pattern,
    container_options: dict | None = None,
) -> Path:
    """Write a clip of `frames` frames (`frame_source(w, h, i)`), optionally with a mono audio track."""
    with av.open(str(path), "w", options=container_options or {}) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], pix_fmt
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream(audio, rate=44100)
            sound.layout = "mono"
        out.start_encoding()
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_source(*size, i), format="rgb24")
            frame.pts = pts[i] if pts else i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            write_tone(out, sound, 44100 * max(frames, 1) // fps)
    return path


def write_tone(out, stream, samples: int) -> None:
    """`samples` of a mono tone into an audio stream, in the encoder's own sample format."""
    fmt = stream.codec_context.format.name  # fltp for AAC, s16 for PCM
    for start in range(0, samples, 1024):
        tone = 0.3 * np.sin(np.arange(start, min(start + 1024, samples)) / 10.0)
        data = tone.astype(np.float32) if fmt.startswith("flt") else (tone * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data[None], format=fmt, layout="mono")
        frame.sample_rate, frame.pts = 44100, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def broken_videos(folder: Path) -> dict[str, str]:
    """Files that must be refused, each with the words its one-line error must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {}
    make_clip(folder / "audio_only.m4a", frames=0, audio="aac")
    cases["audio_only.m4a"] = "audio-only"
    make_clip(folder / "encrypted.mp4", container_options=CENC)
    cases["encrypted.mp4"] = "encrypted"
    whole = make_clip(folder / "whole.mp4", frames=30).read_bytes()
    (folder / "whole.mp4").unlink()
    (folder / "truncated.mp4").write_bytes(whole[: len(whole) // 2])  # moov (at the end) is lost
    cases["truncated.mp4"] = "moov"
    faststart = make_clip(folder / "faststart.mp4", frames=30, container_options={"movflags": "faststart"})
    data = faststart.read_bytes()
    faststart.unlink()
    (folder / "moov_past_end.mp4").write_bytes(data[: len(data) * 2 // 3])  # the index points past the end
    cases["moov_past_end.mp4"] = "truncated or corrupt"
    corrupt = bytearray(data)
    rng = np.random.default_rng(0)
    for k in rng.integers(len(corrupt) // 2, len(corrupt), 200):
        corrupt[k] = int(rng.integers(0, 256))
    (folder / "corrupt.mp4").write_bytes(bytes(corrupt))
    cases["corrupt.mp4"] = "corrupt"
    make_clip(folder / "zero_frames.mp4", frames=0)
    cases["zero_frames.mp4"] = "no video"
    (folder / "notes.mp4").write_text("not a video at all")
    cases["notes.mp4"] = "not a video"
    (folder / "empty.mp4").write_bytes(b"")
    cases["empty.mp4"] = "empty"
    from PIL import Image

    Image.fromarray(pattern(40, 30, 0)).save(folder / "photo.mp4", format="JPEG")
    cases["photo.mp4"] = "still image"
    return cases
