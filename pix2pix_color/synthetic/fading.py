"""How old color photographs fade, as a function: faded versions of real color photos to measure
`restore` against (their real colors are known), and to test it.

The physics, in the terms of the sources:

- A color print or slide forms its image with three dyes, each absorbing one band: cyan absorbs
  red, magenta absorbs green, yellow absorbs blue. What a channel shows is the transmittance (or
  reflectance) of its dye layer, x_c = 10^(-D_c), with D_c the layer's optical density.
- Dyes fade in proportion to how much dye is there: a layer keeps a fraction r_c of its density,
  D_c' = r_c D_c, so x_c' = x_c ** r_c, a per-channel power law in linear light. The three dyes fade
  at different rates, and in dark storage the cyan dye of most chromogenic papers and motion-picture
  films of 1950-1985 fades first (Wilhelm & Brower 1993, ch. 2 and 5; Reilly 1998, IPI Storage
  Guide for Color Photographic Materials, fig. 1): red passes through, and the photo drifts red or
  magenta. Slides of some processes lose yellow or magenta first, which this function allows.
- Yellow stain: the paper base and residual couplers yellow with age, a density added to the blue
  channel everywhere (the d-min stain of Wilhelm & Brower, ch. 2): D_blue' = D_blue + s.
- Contrast loss: a faded print's blacks are no longer black (lost density in the shadows and, when
  rephotographed or scanned, veiling flare): x' = f + (1 - f) x, a lift of the blacks.
- Sepia toning converts the silver image of a black-and-white print to silver sulfide: a warm brown
  whose chroma follows the image's density, strongest in the mid-tones (Reilly 1986, Care and
  Identification of 19th-Century Photographic Prints, ch. 5); the tone has one hue everywhere.

All of it is computed per pixel on (H,W,3) uint8 sRGB arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import color as skcolor

# Hue of sepia-toned silver sulfide in CIE L*a*b* (a warm brown-yellow), degrees from +a*.
SEPIA_HUE_DEG = 68.0


@dataclass(frozen=True)
class Fading:
    """How much of each dye is left and what age added; `Fading()` is no change.

    `cyan`, `magenta`, `yellow`: fraction r of each dye's density kept (1: intact; 0.5: half gone).
    `stain`: optical density of yellow stain added to the blue channel (0.1 is visibly yellowed).
    `flare`: lift of the blacks, 0-1 (0.08: the darkest black reflects 8% of the light).
    `sepia`: 0 for a color photo; >0 makes it a sepia-toned print of that chroma at mid-tones.
    """

    cyan: float = 1.0
    magenta: float = 1.0
    yellow: float = 1.0
    stain: float = 0.0
    flare: float = 0.0
    sepia: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cyan", "magenta", "yellow"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a fraction of the dye kept, in (0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.flare < 1.0 or self.stain < 0.0 or self.sepia < 0.0:
            raise ValueError("flare must be in [0, 1) and stain and sepia at least 0")


# The sRGB curve again, in float64, on purpose: the simulation that scores `restore` shares no code
# with it (restore.srgb_to_linear is float32), so a mistake in one cannot hide in the other.
def _to_linear(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float64) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_srgb_bytes(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    x = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.round(x * 255.0).astype(np.uint8)


def fade(rgb: np.ndarray, fading: Fading) -> np.ndarray:
    """A color photo (H,W,3) uint8 -> how it looks after `fading` (H,W,3) uint8."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H,W,3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    if fading.sepia > 0:
        return sepia_tone(rgb, fading.sepia, flare=fading.flare, stain=fading.stain)
    # A channel's linear value is its dye layer's transmittance 10^-D; 1e-4 keeps log(0) away
    # (a density of 4, darker than any print).
    x = np.maximum(_to_linear(rgb), 1e-4)
    kept = np.array([fading.cyan, fading.magenta, fading.yellow])
    x = x**kept
    x[..., 2] *= 10.0 ** (-fading.stain)
    x = fading.flare + (1.0 - fading.flare) * x
    return _to_srgb_bytes(x)


def sepia_tone(rgb: np.ndarray, chroma: float = 18.0, *, flare: float = 0.0, stain: float = 0.0) -> np.ndarray:
    """A photo (H,W,3) uint8 -> a sepia-toned print of it (H,W,3) uint8: its lightness, one warm hue
    with chroma `chroma` at mid-tones falling to 0 at black and white; `flare` lifts the blacks and
    `stain` yellows the paper as in `fade`."""
    gray = np.repeat(skcolor.rgb2gray(rgb)[..., None], 3, axis=2)  # luminance, linear-light weights
    x = np.maximum(gray, 1e-4)
    x = flare + (1.0 - flare) * x
    lab = skcolor.rgb2lab(np.clip(x, 0, 1))
    L = lab[..., 0]
    c = chroma * np.sin(np.pi * np.clip(L, 0, 100) / 100.0)
    hue = np.radians(SEPIA_HUE_DEG)
    lab[..., 1], lab[..., 2] = c * np.cos(hue), c * np.sin(hue) + 40.0 * stain
    return np.round(np.clip(skcolor.lab2rgb(lab), 0, 1) * 255.0).astype(np.uint8)


def random_fading(rng: np.random.Generator, sepia_share: float = 0.2) -> Fading:
    """A plausible fading for a test photo: most often a print whose cyan went first (kept 35-75%,
    magenta 60-95%, yellow 75-100%), sometimes a slide whose yellow or magenta went first; yellow
    stain up to 0.15, flare up to 0.12; a `sepia_share` of them sepia-toned prints instead."""
    flare, stain = rng.uniform(0.0, 0.12), rng.uniform(0.0, 0.15)
    if rng.random() < sepia_share:
        return Fading(sepia=rng.uniform(10.0, 25.0), flare=flare, stain=stain * 0.5)
    first, second, third = rng.uniform(0.35, 0.75), rng.uniform(0.6, 0.95), rng.uniform(0.75, 1.0)
    if rng.random() < 0.7:  # a print: cyan first
        return Fading(cyan=first, magenta=second, yellow=third, stain=stain, flare=flare)
    if rng.random() < 0.5:  # a slide losing yellow first
        return Fading(cyan=third, magenta=second, yellow=first, stain=0.0, flare=flare)
    return Fading(cyan=second, magenta=first, yellow=third, stain=0.0, flare=flare)


# Other ways prints age, each a function (rgb uint8 (H,W,3), severity in [0,1]) -> faded uint8: what
# `restore` is measured on beside `fade`, from barely visible (0.1) to severe (1). They differ from
# `fade` on purpose: a restorer tuned to one physical model must not be the only one it handles.
def dye_loss(rgb: np.ndarray, severity: float) -> np.ndarray:
    """Chromogenic dark fading, cyan first: at severity 1 the cyan dye keeps 40%, magenta 70%,
    yellow 85%, with a little flare."""
    s = float(severity)
    return fade(rgb, Fading(cyan=1 - 0.6 * s, magenta=1 - 0.3 * s, yellow=1 - 0.15 * s, flare=0.03 * s))


def contrast_loss(rgb: np.ndarray, severity: float) -> np.ndarray:
    """A print that lost contrast unevenly in display (gamma-encoded) values: each channel's contrast
    around its mean falls by 5-55% (red most), the blacks lift, a small warm cast."""
    s = float(severity)
    x = rgb.astype(np.float64) / 255.0
    loss = np.array([0.55, 0.35, 0.2]) * s + 0.05 * (s > 0)
    mean = x.reshape(-1, 3).mean(axis=0)
    x = mean + (x - mean) * (1.0 - loss)
    x = 0.12 * s + (1.0 - 0.12 * s) * x
    x = x * np.array([1.0, 1.0 - 0.02 * s, 1.0 - 0.06 * s])
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


def color_cast(rgb: np.ndarray, severity: float) -> np.ndarray:
    """A color shift with no loss of contrast (a print made through the wrong filter, a scan's white
    balance): linear gains red +25%, blue -30% at severity 1."""
    s = float(severity)
    x = _to_linear(rgb) * np.array([1.0 + 0.25 * s, 1.0, 1.0 - 0.3 * s])
    return _to_srgb_bytes(x / max(1.0, x.max()))


def lifted_blacks(rgb: np.ndarray, severity: float) -> np.ndarray:
    """Flare and lost shadow density only: the darkest black reflects 15% of the light at 1."""
    return fade(rgb, Fading(flare=0.15 * float(severity)))


def yellowing(rgb: np.ndarray, severity: float) -> np.ndarray:
    """The paper and couplers yellowed: blue stain of optical density 0.3 at 1, a slight lift."""
    s = float(severity)
    return fade(rgb, Fading(stain=0.3 * s, flare=0.04 * s, yellow=1 - 0.1 * s))


def sepia_print(rgb: np.ndarray, severity: float) -> np.ndarray:
    """Not a fading of color but a toned black-and-white print of the scene (chroma 8-26)."""
    return sepia_tone(rgb, chroma=8.0 + 18.0 * float(severity), flare=0.04 * float(severity))


AGEING = {
    "dye loss": dye_loss,
    "contrast loss": contrast_loss,
    "color cast": color_cast,
    "lifted blacks": lifted_blacks,
    "yellowing": yellowing,
    "sepia": sepia_print,
}
