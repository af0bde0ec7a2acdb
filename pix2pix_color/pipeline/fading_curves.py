"""How a faded color photo's fading is undone: per-channel `Curves` read from the photo's own
statistics, and acted on only as far as the evidence and the colorizer agree (`fading_curves`).

Dye fading is a per-channel power law in linear light and stain a per-channel gain (`fading`:
D' = r D + s in optical density), so in log-linear light it is a per-channel affine map, after the
lifted blacks are brought down. A dye that lost density shrinks its channel's log range by r: each
channel's range is brought part of the way (`SPREAD_EQUALIZE`) to the widest one's, and its white
point to white. Part of the way, because a scene's channels differ in range of their own (a blue
sky over green fields).

The statistics cannot tell a faded print from a scene that is like one: a red desert has the lifted
red blacks of a print whose cyan faded, a hazy sea the lifted blacks of flare. There the full dye
correction turned well-kept photos cyan or gray (up to 19 CIEDE2000 on photos-hq). What tells them
apart is what things look like: the correction is tried at a few strengths and the one whose colors
the colorizer, reading only the lightness, agrees with most is taken (a desert corrected to cyan
is far from the sand the model expects; a red-cast print corrected is closer to its sky and grass).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pix2pix_color.pipeline.assessment import lab_of, linear_to_srgb, srgb_to_linear

# How far each channel's log range is brought to the widest channel's (0: not at all, 1: equal).
SPREAD_EQUALIZE = 0.5
# Percentiles of a channel's log light taken as its shadows and its white point.
SHADOW_PERCENTILE, WHITE_PERCENTILE = 5.0, 99.5
# How faded a photo is, from its blacks (`fading_evidence`): an unfaded photo's darkest 0.5% reach
# linear 0.005 in its least lifted channel and 0.025 in its most lifted (the 90th percentiles over
# photos-varied); flare, lost density and dye fading all lift them. Evidence counts from these up,
# full at 0.03 (all channels) or 0.08 (one channel) more.
NATURAL_BLACK_MIN, NATURAL_BLACK_MAX = 0.006, 0.03
FULL_BLACK_MIN, FULL_BLACK_MAX = 0.03, 0.08


@dataclass
class Curves:
    """Per-channel correction in linear light: x -> exp(offset) * ((x - black) / (1 - black)) ** gain,
    each (3,) for R, G, B; gain is 1/r of the dye left (`fading`)."""

    black: np.ndarray
    gain: np.ndarray
    offset: np.ndarray

    def apply(self, linear: np.ndarray) -> np.ndarray:
        """Linear RGB (..., 3) in [0,1] -> corrected linear RGB (..., 3) in [0,1]."""
        x = np.clip((linear - self.black) / (1.0 - self.black), 1e-4, 1.0)
        return np.clip(np.exp(self.offset + self.gain * np.log(x)), 0.0, 1.0)

    def table(self) -> np.ndarray:
        """(256,3) uint8: each channel's corrected sRGB byte for every input byte."""
        levels = np.arange(256, dtype=np.uint8)[:, None].repeat(3, axis=1)
        return np.round(linear_to_srgb(self.apply(srgb_to_linear(levels))) * 255).astype(np.uint8)

    def apply_to_bytes(self, rgb: np.ndarray) -> np.ndarray:
        """sRGB (..., 3) uint8 -> corrected sRGB (..., 3) uint8, through one 256-entry table per
        channel: the same numbers as converting every pixel, 10x faster on a 12 MP photo."""
        table = self.table()
        return np.stack([table[rgb[..., c], c] for c in range(3)], axis=-1)


def black_point(linear: np.ndarray) -> np.ndarray:
    """Linear RGB (N,3) -> (3,): each channel's lifted black (its 0.5th percentile), which flare
    and lost shadow density add; a real photo's darkest places are near 0 in every channel."""
    return np.minimum(np.percentile(linear, 0.5, axis=0), 0.5).astype(np.float32)


def fading_evidence(linear: np.ndarray) -> float:
    """Linear RGB (N,3) -> how sure it is that the photo faded, 0 (its blacks are a real photo's) to 1.

    Restore acts in proportion to it: on an unfaded photo the curves and the model's fill-in only
    do harm (a mean CIEDE2000 of 6-10 on well-kept photos, measured in experiments/restore_harm.py),
    and a mildly faded one is closer to the real photo as it is than "restored" in full. The blacks
    are the one sign that every fading leaves (dye loss, contrast loss, flare, yellowing all lift
    them) and that real photos rarely show; a pure color cast leaves none and is left alone."""
    black = np.percentile(linear, 0.5, axis=0)
    # Blue is left out of the one-channel term: blue shadows are a daylit photo's own (skylight), and
    # the fadings that lift one channel most lift red (cyan dye first) or green (magenta).
    lifted = max(
        (black.min() - NATURAL_BLACK_MIN) / FULL_BLACK_MIN, (black[:2].max() - NATURAL_BLACK_MAX) / FULL_BLACK_MAX
    )
    return float(np.clip(lifted, 0.0, 1.0))


def dye_evidence(linear: np.ndarray) -> float:
    """Linear RGB (N,3) -> how sure it is that the dyes faded unevenly, 0 to 1: one channel's blacks
    lifted more than another's (a dye that lost density passes its light in the shadows too). A
    real photo's channels differ there by up to 0.015 (90th percentile); flare lifts all alike.
    Red or green above the lowest counts, as in `fading_evidence`."""
    black = np.percentile(linear, 0.5, axis=0)
    return float(np.clip((black[:2].max() - black.min() - 0.015) / 0.05, 0.0, 1.0))


def estimate_curves(
    linear: np.ndarray,
    equalize: float = SPREAD_EQUALIZE,
    evidence: float = 1.0,
    evidence_black: float = 1.0,
    chromatic_black: float = 1.0,
) -> Curves:
    """Faded linear RGB (N,3) -> the `Curves` undoing its fading: black point, then per channel a
    gain bringing its log range (shadows to white point) `equalize` of the way to the widest
    channel's, then the white point to 1.

    A gain is kept within what dye fading can do: a layer keeps at least a third of its density.
    `evidence` (`fading_evidence`) scales what only a fading explains: the range equalisation and
    the move of each white point to white; `evidence_black` the lifted black taken off. Of the
    black, the part every channel shares (flare, lost density: gray) and each channel's excess over
    the lowest (a dye that faded passes its own light in the shadows, as a red desert's shadows are
    red) are told apart: `chromatic_black` is the share of the excess taken off."""
    black = black_point(linear)
    black = (black.min() + chromatic_black * (black - black.min())) * min(1.0, evidence_black)
    log = np.log(np.clip((linear - black) / (1.0 - black), 1e-4, 1.0))
    white = np.percentile(log, WHITE_PERCENTILE, axis=0)
    spread = np.maximum(white - np.percentile(log, SHADOW_PERCENTILE, axis=0), 1e-3)
    gain = 1.0 + evidence * equalize * (np.clip(spread.max() / spread, 1.0, 3.0) - 1.0)
    return Curves(black, gain.astype(np.float32), ((1.0 - evidence) * white - gain * white).astype(np.float32))


# The dye correction (range equalisation, white points) is tried at these shares of what the
# evidence calls for; the one the colorizer agrees with most is taken.
DYE_SHARES = (0.0, 0.5, 1.0)
# The least step whose colors are within this share of the closest step's to the colorizer's is
# taken: a red dune's shadow color taken off came 3% closer (and 6.6 CIEDE2000 further from the real
# photo), a print's faded shadows 30-70% (photos-hq, experiments/restore_harm.py).
AGREEMENT_MARGIN = 0.05


def fading_curves(
    small: np.ndarray, colors_of: Callable[[np.ndarray], np.ndarray], judged: list[np.ndarray] | None = None
) -> tuple[Curves | None, float]:
    """A color photo's thumbnail (h,w,3) uint8 (or a film's frames' pixels pooled, (1,N,3)) and the
    colorizer (`colors_of`: (h,w,3) uint8 -> the a*b* (h,w,2) it gives that photo's lightness) ->
    (the curves that undo its fading, None where nothing says it faded; the share of the dye
    correction taken, 0 to 1, which also weighs the model's fill-in of colors that are gone).
    `judged`: the pictures the colorizer's agreement is read on (default: `small` itself; a film's:
    a few of its frames).

    The lifted black comes off in proportion to the fading its blacks show (`fading_evidence`); the
    dye correction, and the part of the black that differs between channels, only as far as the
    dyes faded unevenly (`dye_evidence`: flare alone leaves the colors' balance) and the colorizer
    agrees."""
    linear = srgb_to_linear(small).reshape(-1, 3)
    faded = fading_evidence(linear)
    if faded == 0.0:
        return None, 0.0
    uneven = faded * dye_evidence(linear)
    if uneven == 0.0:
        return estimate_curves(linear, evidence=0.0, evidence_black=faded), 0.0
    # The shadows' color is a dye's matter too: first only their gray lift comes off, then their
    # color too, then the dyes' ranges part of the way and all of it (from less done to more).
    steps = [(0.0, 0.0), (1.0, 0.0)] + [(1.0, s) for s in DYE_SHARES if s > 0.0]
    shares = [s for _, s in steps]
    candidates = [
        estimate_curves(linear, evidence=uneven * s, evidence_black=faded, chromatic_black=c) for c, s in steps
    ]
    disagreement = [
        sum(_disagreement(curves.apply_to_bytes(p), colors_of) for p in judged or [small]) for curves in candidates
    ]
    # Doing less is the default: more must be agreed with by a margin, not by a hair (where the
    # colorizer has no idea of a scene's colors, every step is about as far from it).
    best = next(k for k, d in enumerate(disagreement) if d <= min(disagreement) * (1.0 + AGREEMENT_MARGIN))
    return candidates[best], uneven * shares[best]


def _disagreement(corrected: np.ndarray, colors_of: Callable[[np.ndarray], np.ndarray]) -> float:
    """Mean a*b* distance between a corrected picture (h,w,3) uint8 and the colorizer's colors for it."""
    return float(np.linalg.norm(lab_of(corrected)[..., 1:] - colors_of(corrected), axis=-1).mean())
