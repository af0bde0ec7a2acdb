"""What an old print is, before anything is done to it: a faded color photo, a toned (sepia)
monochrome one, a toned one with a little hand-tinting, or plain gray (`assess`), from the photo's
own Lab statistics on a thumbnail. Restore acts on the answer; a reference photo is checked with it
(a black-and-white reference has no colors to give).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from pix2pix_color.core.color import rgb_to_lab

# Estimate and assess on a thumbnail of at most this many pixels: the curves have nine numbers.
ESTIMATE_PIXELS = 160_000
# Chroma below which a photo is black and white (the 90th percentile of its C*ab).
GRAY_CHROMA = 4.0
# A photo whose a*b* depart from one function of L* by less than this (90th percentile, a*b* units)
# is toned: sepia, gold, a yellowed paper, a single color cast of a monochrome print.
TONED_RESIDUAL = 4.0
# ... and whose tone keeps one hue (within this many degrees) wherever it has chroma: a toning is
# one dye or one stain. A color photo whose colors happen to follow lightness (a dusk: dark blue sky,
# orange lamps) has a small residual too, but its hue turns with L*.
TONED_HUE_SPREAD = 20.0
L_BINS = 20
# Hand-tinting on a toned print (a painted ribbon, cheeks, a flag): pixels whose a*b* leave the tone
# by more than TINT_RESIDUAL, together at least TINT_MIN_SHARE of the photo and at most
# TINT_MAX_SHARE (a print mostly painted is a color photo), while the rest holds to the tone tightly
# (75th percentile under TINT_TONE_TIGHT: a toning is one dye; a faded color print is spread wide).
# Measured: toned prints (fading.sepia_tone, with or without paint) 0.37-0.43; color prints faded
# until their last colors look like paint (lifted blacks or dye loss at full severity) 2.37-2.49.
TINT_RESIDUAL = 8.0
TINT_MIN_SHARE, TINT_MAX_SHARE = 0.003, 0.25
TINT_TONE_TIGHT = 1.2


@dataclass
class Assessment:
    """What `assess` found. `kind`: "color", "toned" or "gray". `tone`: (L_BINS, 2) the toning's a*b*
    at each lightness bin (L* 0-100) for a toned photo, else None. `residual`: how far the photo's
    a*b* depart from one tone (90th percentile); `chroma`: the 90th percentile of its C*ab."""

    kind: str
    tone: np.ndarray | None
    residual: float
    chroma: float
    tinted: float = 0.0  # a toned print's hand-tinted share (`tint_mask`): its painted colors are kept


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def lab_of(rgb: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 or float sRGB in [0,1] -> (H,W,3) float32 L*a*b*."""
    tensor = torch.from_numpy(np.require(rgb, requirements=["C", "W"])).permute(2, 0, 1)
    return rgb_to_lab(tensor).permute(1, 2, 0).numpy()


def thumbnail(image: Image.Image, pixels: int = ESTIMATE_PIXELS) -> Image.Image:
    scale = min(1.0, (pixels / (image.width * image.height)) ** 0.5)
    if scale == 1.0:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BOX)


def _tone_curve(lab: np.ndarray) -> np.ndarray:
    """(N,3) L*a*b* -> (L_BINS, 2): the median a*b* at each lightness bin, empty bins interpolated."""
    bins = np.clip((lab[:, 0] / 100.0 * L_BINS).astype(int), 0, L_BINS - 1)
    tone = np.full((L_BINS, 2), np.nan)
    for i in range(L_BINS):
        inside = bins == i
        if inside.sum() >= 10:
            tone[i] = np.median(lab[inside, 1:], axis=0)
    known = ~np.isnan(tone[:, 0])
    if not known.any():
        return np.zeros((L_BINS, 2))
    centers = (np.arange(L_BINS) + 0.5) / L_BINS * 100
    return np.stack([np.interp(centers, centers[known], tone[known, k]) for k in range(2)], axis=1)


def tone_at(tone: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Tone curve (L_BINS, 2) and L* (...) -> the toning's a*b* there (..., 2), linear between bins."""
    centers = (np.arange(L_BINS) + 0.5) / L_BINS * 100
    return np.stack([np.interp(L, centers, tone[:, k]) for k in range(2)], axis=-1).astype(np.float32)


def hue_spread(tone: np.ndarray, min_chroma: float = 3.0) -> float:
    """Tone curve (L_BINS, 2) -> the largest angle (degrees) between a bin's hue and the mean hue,
    over the bins with chroma; 0 when fewer than two have any."""
    chroma = np.hypot(tone[:, 0], tone[:, 1])
    colored = tone[chroma > min_chroma]
    if len(colored) < 2:
        return 0.0
    unit = colored / np.hypot(colored[:, 0], colored[:, 1])[:, None]
    mean = unit.mean(axis=0)
    cos = np.clip(unit @ (mean / max(np.linalg.norm(mean), 1e-6)), -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)).max())


def assess(rgb: np.ndarray) -> Assessment:
    """A photo (H,W,3) uint8 -> whether it is a faded color photo, a toned monochrome one or gray."""
    lab = lab_of(rgb).reshape(-1, 3)
    chroma = float(np.percentile(np.hypot(lab[:, 1], lab[:, 2]), 90))
    tone = _tone_curve(lab)
    residual = float(np.percentile(np.linalg.norm(lab[:, 1:] - tone_at(tone, lab[:, 0]), axis=1), 90))
    if chroma < GRAY_CHROMA:
        return Assessment("gray", None, residual, chroma)
    tinted, under_paint = _tinted_share(lab)  # a few painted colors move the 90th percentile, or not
    if tinted:
        return Assessment("toned", under_paint, residual, chroma, tinted)
    if residual < TONED_RESIDUAL and hue_spread(tone) < TONED_HUE_SPREAD:
        return Assessment("toned", tone, residual, chroma)
    return Assessment("color", None, residual, chroma)


def _off_tone(lab: np.ndarray, tone: np.ndarray) -> np.ndarray:
    """(N,3) L*a*b* and a tone curve -> (N,) how far each pixel's a*b* leave the tone, where more than
    TINT_RESIDUAL (0 elsewhere)."""
    off = np.linalg.norm(lab[:, 1:] - tone_at(tone, lab[:, 0]), axis=1)
    return np.where(off > TINT_RESIDUAL, off, 0.0)


def _tinted_share(lab: np.ndarray) -> tuple[float, np.ndarray | None]:
    """(N,3) L*a*b* -> (the share of hand-tinted pixels, the tone under the paint) if the photo is a
    toned print with a few painted colors, else (0, None). The tone is re-fitted on the pixels that
    hold to it, so the paint does not pull the curve."""
    tone = _tone_curve(lab)
    for _ in range(2):
        on = _off_tone(lab, tone) == 0
        if on.sum() < 100:
            return 0.0, None
        tone = _tone_curve(lab[on])
    off = _off_tone(lab, tone)
    share = float((off > 0).mean())
    if not TINT_MIN_SHARE <= share <= TINT_MAX_SHARE or hue_spread(tone) >= TONED_HUE_SPREAD:
        return 0.0, None
    rest = np.linalg.norm(lab[off == 0, 1:] - tone_at(tone, lab[off == 0, 0]), axis=1)
    return (share, tone) if float(np.percentile(rest, 75)) < TINT_TONE_TIGHT else (0.0, None)


def tint_mask(rgb: np.ndarray, tone: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 of a tinted toned print and its tone -> (H,W) bool: where it was painted, as
    regions (an opening removes lone pixels: grain and JPEG noise are not paint)."""
    import cv2

    lab = lab_of(rgb)
    off = np.linalg.norm(lab[..., 1:] - tone_at(tone, lab[..., 0]), axis=-1) > TINT_RESIDUAL
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return cv2.morphologyEx(off.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)
