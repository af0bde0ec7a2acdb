"""What a caller asks of a film (`VideoRequest`), checked once, before any frame is decoded: the
video counterpart of `pipeline.request.ColorizeRequest`, with the settings only a film has (its
smoothing along the motion, its length limit, its progress callback)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pix2pix_color.core.hints import Hints
from pix2pix_color.limits import DEFAULT_SMOOTHING, check_smoothing, check_strength, check_working_size
from pix2pix_color.pipeline.steps import ImageInput


@dataclass(frozen=True)
class VideoRequest:
    """A video (anything FFmpeg reads) to colorize into an H.264 MP4.

    `hints`: points or a scribble for the first frame, or `{frame_number: hints}`; they follow the
    content until the shot ends. `reference`: a color photo whose colors every frame takes where its
    regions match (one for the whole video). `working_size`, `color_strength`: as a photo's.
    `smoothing` (0-1): how much of the carried color a tracked pixel keeps per frame; 0 colorizes
    every frame on its own. `restore`: a faded color film keeps its surviving colors (its fading read
    once from frames spread over it), a black-and-white or toned one is colorized (`keep_tone` keeps
    the tone). `repair`: dust, specks and scratches found on every frame and filled, the mask and
    the fill carried along the motion (`video.film_repair`), before anything is colorized or
    restored; with `colorize=False` as well, the film comes back repaired and nothing else (a gray
    film gray, a color one in its colors). `damage_mask`: with `repair`, where to write the film of
    what was filled (an MP4, white where a frame's damage was filled, the same frames and timing, no
    audio). `max_seconds`, `max_pixels`: stricter than the
    colorizer's `limits` for this call (the length is counted on the frames while decoding).
    `batch_size`: frames per network call. `progress`: True for a progress bar in frames, or a
    callable `(done, total)`."""

    src: str | os.PathLike
    dst: str | os.PathLike
    hints: Hints | Mapping[int, Hints] = None
    reference: ImageInput | None = None
    working_size: int | None = None
    color_strength: float | None = None
    smoothing: float = DEFAULT_SMOOTHING
    restore: bool = False
    keep_tone: bool = False
    repair: bool = False
    damage_mask: str | os.PathLike | None = None
    colorize: bool = True
    max_seconds: float | None = None
    max_pixels: int | None = None
    batch_size: int = 8
    progress: bool | Callable[[int, int], None] = False

    def __post_init__(self) -> None:
        check_working_size(self.working_size)
        check_smoothing(self.smoothing)
        if self.color_strength is not None:
            check_strength(self.color_strength)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a whole number from 1, got {self.batch_size!r}")
        for name in ("max_seconds", "max_pixels"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.damage_mask is not None and not self.repair:
            raise ValueError("damage_mask is the repair's mask: ask for repair=True as well")
        if not self.colorize and not self.repair:
            raise ValueError("colorize=False leaves a film as it is unless repair=True: nothing to do")
        if not self.colorize and (self.restore or self.hints is not None or self.reference is not None):
            raise ValueError("a film repaired without colorizing takes no restore, hints or reference photo")
        if self.keep_tone and not self.restore:
            raise ValueError("keep_tone is a restore option: ask for restore=True as well")
        if self.restore and (self.hints is not None or self.reference is not None):
            raise ValueError("restore takes no hints or reference photo: colorize the restored film with them")
