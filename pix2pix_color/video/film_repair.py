"""Repair for films: dust, specks and scratches found on every frame and filled so that the fill
does not flicker.

A photo's repair (`pix2pix_color.repair`) applied frame by frame misses most of a film's damage and
shimmers: the detector, trained on prints, takes a one-frame speck for picture, finds a faint
scratch on one frame and misses it on the next, and the inpainting invents a different fill each
time. A film has what a print has not, the frames beside each one, matched by optical flow:

1. **Found in time.** Dust sits on one frame: a pixel that differs from its reliable matches in the
   previous *and* the next frame in the same direction (the spike detection index of film
   restoration, Kokaram's), and stands out from its neighbourhood or is leaned on by the detector,
   is damage; so is what the detector is sure of (p > `THRESHOLD`). A scratch that stands on the
   frame while the camera moves is a spike too: the picture under it changes.
2. **The mask is carried.** Where the previous frame had damage and the detector still leans that
   way (p > `CARRIED_THRESHOLD`), the previous mask taken both as it moves with the picture (a
   crack on a filmed print) and as it stands on the frame (a scratch runs along the film itself).
3. **The fill comes from the neighbours.** A damaged pixel whose match in the repaired previous
   frame is reliable (forward-backward consistent) takes that pixel, exposure-matched, else its
   match in the next frame: the real picture where the camera or the scene moved, and the same fill
   as before where nothing moved, so the fill is steady. Only pixels with no reliable match are
   inpainted (Telea), as on a photo.

Every pixel outside the mask is the decoded frame's, byte for byte. Shots are cut as the colorizer
cuts them (`temporal.is_cut`): nothing is taken across a cut. A frame waits for the one after it.

Why by hand: no maintained library restores film damage (OpenCV has the flow, the warp and the
inpainting; the evidence over three frames is a few lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from pix2pix_color.repair.repair import THRESHOLD, damage_probability, fill, grow_mask
from pix2pix_color.video import temporal

# Below THRESHOLD, where the previous frame had damage: enough to keep a known scratch masked on a
# frame where the detector hesitates, not so low that the carried mask spreads over clean picture.
CARRIED_THRESHOLD = 0.15
# A spike: this many levels (of 255) away from the neighbours' matches, and from its surroundings.
# The damage model's visible marks move a pixel by more than 10; grain and H.264's rounding by less.
SPIKE_LEVELS = 12
# Marks narrower than this (pixels, across) stand out of their surroundings: dust, hairs, scratches.
MARK_WIDTH = 7
_SQUARE3 = np.ones((3, 3), np.uint8)
# Long side of the grid the repair's flow is estimated on: finer than the colorizer's carry grid
# (256), since the fill copies pixels, not smooth colors; DIS at this size costs a few milliseconds.
FLOW_SIDE = 512


def _gray(pixels: np.ndarray) -> np.ndarray:
    """(H,W) or (H,W,3) uint8 -> (H,W) uint8 gray, what the detector reads."""
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


def _full_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Flow (h,w,2) on the flow grid -> (H,W,2) in full-resolution pixels."""
    H, W = size
    h, w = flow.shape[:2]
    full = cv2.resize(flow, (W, H), interpolation=cv2.INTER_LINEAR)
    full[..., 0] *= W / w
    full[..., 1] *= H / h
    return full


def _stands_out(gray: np.ndarray) -> np.ndarray:
    """(H,W) bool: pixels brighter or darker than what an opening or closing with a line of
    MARK_WIDTH pixels, across and along, leaves: a speck or a thin line of either direction stands
    out of its surroundings, a moving edge does not (morphology keeps steps)."""
    out = np.zeros(gray.shape, bool)
    for shape in ((MARK_WIDTH, 1), (1, MARK_WIDTH)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
        out |= cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, kernel) > SPIKE_LEVELS
        out |= cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel) > SPIKE_LEVELS
    return out


def _exposure_matched(moved: np.ndarray, current: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """A neighbour's pixels moved onto this frame, (H,W[,C]) uint8, with this frame's exposure: a
    gain and offset fitted on `usable` (H,W) bool pixels (old film flickers frame to frame)."""
    if usable.sum() < 64:
        return moved
    a, b = moved[usable].astype(np.float32), current[usable].astype(np.float32)
    gain = float(np.clip(b.std() / max(float(a.std()), 1.0), 0.8, 1.25))
    offset = float(b.mean() - gain * a.mean())
    return np.clip(moved.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


@dataclass
class _Seen:
    """A frame as the repair holds it: its pixels (H,W[,3]) uint8 (repaired, once it is), its gray
    (H,W), and its flow input and thumbnail on the flow grid."""

    pixels: np.ndarray
    gray: np.ndarray
    flow_in: np.ndarray
    thumb: np.ndarray
    stands_out: np.ndarray  # (H,W) bool, `_stands_out(gray)`: made once, read as frame and as neighbour
    mask: np.ndarray | None = None  # (H,W) bool, once repaired


@dataclass
class _Match:
    """A neighbour frame moved onto this one: its pixels (exposure-matched), where that is
    reliable (H,W) bool, and the full-resolution flow (H,W,2) from this frame to it."""

    pixels: np.ndarray
    trusted: np.ndarray
    flow: np.ndarray
    fills: np.ndarray  # (H,W) bool: trusted, and no mark of the neighbour's own lands there
    raw_moved: np.ndarray  # (H,W) uint8: the neighbour's decoded gray (not repaired), moved onto this frame
    raw_still: np.ndarray  # (H,W) uint8: the same, where it stands on the frame

    def moves_with_picture(self, gray: np.ndarray) -> np.ndarray:
        """(H,W) bool: pixels that the neighbour shows again where the motion takes them, and not
        where they stand on the frame: picture (a wire, a branch the camera pans over), not a mark
        on the film, which stays on the frame or is gone. A still camera cannot tell: False there."""
        cur = gray.astype(np.float32)
        moved = cv2.blur(np.abs(cur - self.raw_moved), (3, 3))
        still = cv2.blur(np.abs(cur - self.raw_still), (3, 3))
        return self.trusted & (moved <= SPIKE_LEVELS) & (moved + SPIKE_LEVELS < still)

    def spike(self, gray: np.ndarray) -> np.ndarray:
        """(H,W) int16: how far this frame's gray lies outside the neighbour's range in the 3x3 around
        the same place (a flow a pixel off is no spike), 0 where unreliable."""
        theirs = _gray(self.pixels)
        lo, hi = cv2.erode(theirs, _SQUARE3), cv2.dilate(theirs, _SQUARE3)
        outside = gray.astype(np.int16) - np.clip(gray, lo, hi).astype(np.int16)
        return np.where(self.trusted, outside, 0).astype(np.int16)


class FilmRepair:
    """Frames in their order -> the same frames repaired, one frame later (a frame is judged with
    the one after it): `push(frame)` gives the frames now final, `finish()` the last one. A frame is
    (H,W) gray or (H,W,3) RGB uint8; each result is (repaired frame of that shape and type, damage
    mask (H,W) bool). `damaged_share` is the mean share filled so far.

    The evidence, per pixel: the detector's probability; a *spike*, a value that differs from its
    reliable matches in both the previous and the next frame in the same direction by more than
    SPIKE_LEVELS (dust sits on one frame; a real change stays in the next), or in the one
    neighbour a shot's first or last frame has; and standing out from its surroundings (a top-hat
    across and along, `_stands_out`: a speck or a thin line does, a moving edge does not); what
    moves with the picture is never damage (`_Match.moves_with_picture`)."""

    def __init__(self, detector=None):
        self.detector = detector
        self.flow = temporal.FlowEstimator()
        self.previous: _Seen | None = None  # repaired
        self.pending: _Seen | None = None  # waiting for the frame after it
        self._last_flows: tuple | None = None  # (a's flow input, b's, flow a->b, flow b->a)
        self.frames, self.filled = 0, 0.0

    @property
    def damaged_share(self) -> float:
        return self.filled / max(self.frames, 1)

    def push(self, pixels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        seen = self._see(pixels)
        done = [] if self.pending is None else [self._repair(self.pending, seen)]
        self.pending = seen
        return done

    def finish(self) -> list[tuple[np.ndarray, np.ndarray]]:
        done = [] if self.pending is None else [self._repair(self.pending, None)]
        self.pending = None
        return done

    def _see(self, pixels: np.ndarray) -> _Seen:
        gray = _gray(pixels)
        grid = temporal.carry_shape(*gray.shape, FLOW_SIDE)
        # The flow is estimated on the median (MARK_WIDTH square): specks and thin scratches would pull
        # the matches around them, and the damage would read as occlusion just where its match is needed.
        median = cv2.medianBlur(gray, MARK_WIDTH)
        small = cv2.resize(median, grid[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
        return _Seen(pixels, gray, temporal.flow_input(small), temporal.thumbnail(small), _stands_out(gray))

    def _flows(self, a: _Seen, b: _Seen) -> tuple[np.ndarray, np.ndarray]:
        """(flow a->b, flow b->a) on the flow grid. The last pair is kept: frame t asks for it with
        t+1 as its next frame, and t+1 then asks for it reversed, with t as its previous one."""
        last = self._last_flows
        if last is not None and last[0] is b.flow_in and last[1] is a.flow_in:
            return last[3], last[2]
        to, back = self.flow(a.flow_in, b.flow_in), self.flow(b.flow_in, a.flow_in)
        self._last_flows = (a.flow_in, b.flow_in, to, back)
        return to, back

    def _match(self, frame: _Seen, other: _Seen | None, known: np.ndarray) -> _Match | None:
        """`other` moved onto `frame`, or None where there is no other or a cut lies between them."""
        if other is None or other.pixels.shape != frame.pixels.shape:
            return None
        to_other, back = self._flows(frame, other)
        trusted = temporal.reliable(to_other, back)
        if temporal.is_cut(frame.thumb, other.thumb, float(trusted.mean())):
            return None
        H, W = frame.gray.shape
        flow = _full_flow(to_other, (H, W))
        trusted_full = cv2.resize(trusted, (W, H), interpolation=cv2.INTER_NEAREST) > 0
        moved = _exposure_matched(temporal.warp(other.pixels, flow), frame.pixels, trusted_full & known)
        fills = trusted_full
        if other.mask is None:  # not repaired yet (the next frame): its own specks and scratches must not be copied
            fills = fills & ~(temporal.warp(other.stands_out.astype(np.uint8), flow) > 0)
        raw_moved = temporal.warp(other.gray, flow)
        return _Match(moved, trusted_full, flow, fills, raw_moved, other.gray)

    def _repair(self, frame: _Seen, following: _Seen | None) -> tuple[np.ndarray, np.ndarray]:
        probability = damage_probability(frame.gray, self.detector)
        sure, leaning = probability > THRESHOLD, probability > CARRIED_THRESHOLD
        before = self._match(frame, self.previous, ~sure)
        after = self._match(frame, following, ~sure)
        d_before = None if before is None else before.spike(frame.gray)
        d_after = None if after is None else after.spike(frame.gray)
        mask = sure | (_spikes(before, after, d_before, d_after, frame.gray.shape) & (frame.stands_out | leaning))
        if before is not None:
            # A scratch persists, so the next frame shows it too and it is no spike; but the repaired
            # frame before does not: what stands out and is new against it is damage too.
            mask |= (np.abs(d_before) > SPIKE_LEVELS) & frame.stands_out
            # The previous frame's damage, as it moves and as it stands on the frame.
            moved_mask = temporal.warp(self.previous.mask.astype(np.uint8), before.flow) > 0
            mask |= (moved_mask | self.previous.mask) & leaning
        for match in (before, after):  # what moves with the picture is picture, whatever it looks like
            if match is not None:
                mask &= ~match.moves_with_picture(frame.gray)
        mask = grow_mask(mask)
        repaired = _fill(frame.pixels, mask, before, after)
        self.previous = _Seen(repaired, frame.gray, frame.flow_in, frame.thumb, frame.stands_out, mask)
        self.frames += 1
        self.filled += float(mask.mean())
        return repaired, mask


def _spikes(before: _Match | None, after: _Match | None, d_before, d_after, shape: tuple[int, int]) -> np.ndarray:
    """(H,W) bool: pixels unlike their neighbours in time (see `FilmRepair`), from each match's
    `spike` (None where there is no such neighbour)."""
    if before is None and after is None:
        return np.zeros(shape, bool)
    if before is None or after is None:
        return np.abs(d_after if before is None else d_before) > SPIKE_LEVELS
    one_way = ((d_before > SPIKE_LEVELS) & (d_after > SPIKE_LEVELS)) | (
        (d_before < -SPIKE_LEVELS) & (d_after < -SPIKE_LEVELS)
    )
    # Where only one neighbour has a reliable match (an occlusion on the other side), that one decides.
    only_before = before.trusted & ~after.trusted & (np.abs(d_before) > SPIKE_LEVELS)
    only_after = after.trusted & ~before.trusted & (np.abs(d_after) > SPIKE_LEVELS)
    return one_way | only_before | only_after


def _fill(pixels: np.ndarray, mask: np.ndarray, before: _Match | None, after: _Match | None) -> np.ndarray:
    """Damaged pixels from the repaired previous frame where its match is reliable, else from the
    next frame's, the rest inpainted; every pixel outside `mask` unchanged."""
    out = pixels.copy()
    if not mask.any():
        return out
    rest = mask.copy()
    for match in (before, after):
        if match is not None:
            take = rest & match.fills
            out[take] = match.pixels[take]
            rest &= ~take
    # Inpainted after the copies, so the fill grows from repaired pixels, not from the damage.
    return fill(out, rest) if rest.any() else out


def repair_film(frames: Iterable[np.ndarray], detector=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frames (each (H,W) or (H,W,3) uint8) in order -> (repaired frame, damage mask), in order."""
    repair = FilmRepair(detector)
    for frame in frames:
        yield from repair.push(frame)
    yield from repair.finish()
