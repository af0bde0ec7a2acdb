"""Temporal consistency for video: optical flow, occlusion, shot cuts, and color carried along motion.

A colorizer that looks at one frame at a time guesses a slightly different color for the same wall in
every frame (grain and exposure flicker change its input), so colors shimmer. Here the a*b* of each
frame are tied to their neighbours' along the motion:

    forward:   F_t = P_t + alpha * m_t * (warp(F_t-1) - P_t)
    backward:  S_t = F_t + alpha * m'_t * (warp(S_t+1) - F_t)

P_t is the model's own guess, `warp` moves the neighbour's a*b* onto frame t with optical flow, and
m_t is 1 where the flow is reliable (forward-backward consistent, inside the frame) and 0 where the
content is new or occluded, so new content takes the model's guess at once. The forward pass alone is
a recursive (exponential) average: colors would lag behind the motion's history. Running it once
more backwards over its own output (as `scipy.signal.filtfilt` does for signals) gives a nearly
symmetric average along each motion trajectory: the video pipeline runs the backward pass over a
window of 16-31 frames (memory stays bounded), so a frame's weight on colors beyond 16 frames ahead
is at most 0.9^16 ~ 0.19 of what a whole-shot pass would give. Everything here works at the "carry grid", a small
aspect-preserving resolution: a*b* are smooth, and the full-resolution detail comes afterwards from
the frame's own L* (guided upsampling), as for photos.

Why by hand: OpenCV gives the flow (DIS) and the warp (remap); the recursion, the occlusion test of
Lai et al. 2018 and the cut detector are a few lines each, and working on the L* thumbnails the
pipeline already has keeps them at a fraction of a millisecond a frame.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from pix2pix_color.limits import DEFAULT_SMOOTHING, check_smoothing  # noqa: F401  (re-exported)

CARRY_SIDE = 256  # long side of the grid on which flow is estimated and colors are carried
MIN_CARRY_SIDE = 16  # short side at least this (DIS needs a few 8x8 patches)
# A cut: consecutive frames whose flicker-normalised thumbnails correlate less than this, or whose
# flow is reliable on less than CUT_MIN_RELIABLE of the frame.
CUT_MAX_CORRELATION = 0.5
CUT_MIN_RELIABLE = 0.2
_THUMB = (24, 24)


def carry_shape(height: int, width: int, side: int = CARRY_SIDE) -> tuple[int, int]:
    """Aspect-preserving (h, w) with the long side `side` and the short side at least MIN_CARRY_SIDE."""
    if height >= width:
        return side, max(MIN_CARRY_SIDE, round(side * width / height))
    return max(MIN_CARRY_SIDE, round(side * height / width)), side


def flow_input(L: np.ndarray) -> np.ndarray:
    """L* (h,w) float in [0,100] -> uint8 (h,w) with its mean and contrast normalised.

    Old film flickers: the whole frame brightens and darkens from one frame to the next. Optical
    flow assumes brightness constancy, so each frame is standardised first (gain and offset removed).
    """
    mean, std = float(L.mean()), float(L.std())
    return np.clip((L - mean) * (40.0 / max(std, 1.0)) + 128.0, 0, 255).astype(np.uint8)


class FlowEstimator:
    """DIS optical flow (Kroeger et al. 2016, OpenCV): two uint8 (h,w) frames -> flow (h,w,2) float32.

    `flow(a, b)[y, x]` is the displacement (dx, dy) from pixel (x, y) of `a` to its match in `b`.
    """

    def __init__(self):
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._dis.calc(a, b, None)


@functools.cache
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of an h x w grid, each (h,w) float32; made once per frame size."""
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Image (h,w[,c]) of frame B and flow (h,w,2) from frame A to B -> B seen from A (h,w[,c]).

    Samples B at x + flow(x), bilinear, replicating the border (those pixels are masked anyway).
    """
    grid_x, grid_y = _grid(*flow.shape[:2])
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)


def reliable(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """(h,w) float32 in {0,1}: where the flow A->B is trustworthy, seen from A.

    Lai et al. 2018 (after Sundaram et al. 2010 and Ruder et al. 2016): a pixel is occluded when
    following the flow to B and the flow back does not return it near its start,
    |w + w^|^2 > 0.01 (|w|^2 + |w^|^2) + 0.5, or when its match lies outside frame B.
    """
    h, w = flow_ab.shape[:2]
    back = warp(flow_ba, flow_ab)
    error = np.square(flow_ab + back).sum(-1)
    bound = 0.01 * (np.square(flow_ab).sum(-1) + np.square(back).sum(-1)) + 0.5
    grid_x, grid_y = _grid(h, w)
    x, y = grid_x + flow_ab[..., 0], grid_y + flow_ab[..., 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return ((error <= bound) & inside).astype(np.float32)


def thumbnail(L: np.ndarray) -> np.ndarray:
    """L* (h,w) -> small standardised (zero mean, unit variance) thumbnail for cut detection."""
    small = cv2.resize(L, _THUMB[::-1], interpolation=cv2.INTER_AREA).astype(np.float64)
    return (small - small.mean()) / max(float(small.std()), 1e-3)


def is_cut(thumb_a: np.ndarray, thumb_b: np.ndarray, reliable_share: float) -> bool:
    """Whether two consecutive frames belong to different shots.

    Correlation of standardised thumbnails is blind to exposure flicker (a gain and an offset) and to
    grain (averaged away), and drops to about 0 between unrelated pictures; a flow that is
    reliable almost nowhere catches cuts between similar-looking shots.
    """
    correlation = float((thumb_a * thumb_b).mean())
    return correlation < CUT_MAX_CORRELATION or reliable_share < CUT_MIN_RELIABLE


def carry_forward(
    previous: np.ndarray | None,
    guess: np.ndarray,
    flow_to_previous: np.ndarray | None,
    mask: np.ndarray | None,
    smoothing: float,
) -> np.ndarray:
    """One step of either pass: a*b* (h,w,2) of the neighbour frame (None at a shot's first frame),
    this frame's a*b* (h,w,2), flow from this frame to the neighbour (h,w,2) and its reliability
    (h,w) -> this frame's carried a*b* (h,w,2)."""
    if previous is None:
        return guess
    weight = (smoothing * mask)[..., None]
    carried = warp(previous, flow_to_previous)
    blend = guess + weight * (carried - guess)
    # Averaging a*b* vectors whose hues disagree shortens them: a wall the model calls green in one
    # frame and yellow in the next would fade toward gray. Hue follows the vector average, chroma
    # the average of the chromas, so the carried color is as vivid as the frames it averages.
    chroma = np.hypot(guess[..., :1], guess[..., 1:])
    chroma = chroma + weight * (np.hypot(carried[..., :1], carried[..., 1:]) - chroma)
    length = np.hypot(blend[..., :1], blend[..., 1:])
    return blend * (chroma / np.maximum(length, 1e-6))


def track_points(points: np.ndarray, flow: np.ndarray, mask: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Hint points (N,4: x, y, a*, b*) in full-resolution pixels of frame A -> their places in frame B.

    `flow` (h,w,2) and `mask` (h,w) go from A to B on the carry grid; `scale` is (grid px per full px)
    for x and y. A point whose flow is unreliable (occluded) or that leaves the frame is dropped.
    """
    if len(points) == 0:
        return points
    sx, sy = scale
    h, w = flow.shape[:2]
    col = np.clip((points[:, 0] * sx).astype(int), 0, w - 1)
    row = np.clip((points[:, 1] * sy).astype(int), 0, h - 1)
    moved = points.copy()
    moved[:, 0] += flow[row, col, 0] / sx
    moved[:, 1] += flow[row, col, 1] / sy
    keep = (mask[row, col] > 0) & (moved[:, 0] >= 0) & (moved[:, 0] < w / sx) & (moved[:, 1] >= 0)
    keep &= moved[:, 1] < h / sy
    return moved[keep]
