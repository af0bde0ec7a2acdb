"""Restore old color photos: undo the fading that can be undone, keep the color that survived, and let
the model fill in where it is gone.

A faded print is not a black-and-white photo: its colors are shifted and weakened, but they still
say which wall was red. `restore` treats them as evidence:

1. **What is it?** (`assess`) A photo whose chroma is one function of lightness everywhere (its a*b*
   follow L* alone: a sepia or gold toning, a yellowed black-and-white print) is a *toned* photo and
   carries no color evidence: it is colorized from its lightness, its tone kept on request. A photo
   with no chroma is *gray*. Anything else is a *color* photo that faded.
2. **Undo the fading** (`fading_curves`), from the photo's own statistics: per-channel curves in
   linear light that bring the lifted blacks down and each dye's range back towards the others'
   (`pipeline.fading_curves`), acted on in proportion to the fading its blacks show, and the dye
   correction only as far as the colorizer agrees: a red desert is not a print whose cyan faded.
   Fitting the curves to the model's colorization was measured worse in hue (experiments/README.md,
   "Restoring faded photos"); choosing among a few strengths by it is what keeps well-kept photos
   as they are. The photo's own color differences (the red car next to the gray one) survive; the
   cast and the lost contrast go.
3. **Fill in** (`blend_evidence`). Where the corrected photo still has chroma, its hue is the
   evidence; where it has almost none (the color faded away, or the thing is gray), the model's color
   comes in, as far as the model is confident.

Why by hand: color-restoration tools (e.g. GIMP's "color enhance", ImageMagick's -auto-level) stretch
each channel's levels to full range linearly in gamma-encoded values, which does not invert a dye's
power law and throws away the scene's own balance of ranges; auto levels is measured beside
`restore` in experiments/restore_study.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from pix2pix_color.core.color import lab_to_rgb
from pix2pix_color.core.image_processor import guided_upsample
from pix2pix_color.io.images import decode, exif_of, open_image
from pix2pix_color.pipeline.assessment import (
    Assessment,
    assess,
    lab_of,
    thumbnail,
    tint_mask,
    tone_at,
)
from pix2pix_color.pipeline.confidence import Confidence
from pix2pix_color.pipeline.engine import Engine
from pix2pix_color.pipeline.fading_curves import Curves, fading_curves

# A photo whose corrected chroma C*ab stays under this is taken as faded away at that pixel; the
# model's color comes in (weighted by its confidence) as the chroma falls below it.
EVIDENCE_CHROMA = 6.0


def blend_evidence(
    ab_photo: np.ndarray, ab_model: np.ndarray, confidence: np.ndarray, evidence_chroma: float = EVIDENCE_CHROMA
) -> np.ndarray:
    """The corrected photo's a*b* (...,2), the model's (...,2) and its confidence (...) in [0,1] ->
    the restored a*b* (...,2): the photo's where its chroma survived, the model's (as far as it is
    sure) where it did not."""
    chroma = np.hypot(ab_photo[..., 0], ab_photo[..., 1])
    survived = np.clip(chroma / evidence_chroma, 0.0, 1.0)
    model_share = ((1.0 - survived) * confidence)[..., None]
    return ab_photo + model_share * (ab_model - ab_photo)


def compose(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L* (H,W) and a*b* (H,W,2) -> (H,W,3) uint8 sRGB."""
    lab = torch.from_numpy(np.concatenate([L[..., None], ab], axis=-1).astype(np.float32)).permute(2, 0, 1)
    return lab_to_rgb(lab.contiguous(), torch.uint8).permute(1, 2, 0).numpy()


@dataclass
class Restored:
    """What `restore_photo` made: the image, what the input was (`assessment`), the estimated `curves`
    (None unless it was a faded color photo) and, when asked, where its colors are guesses."""

    image: Image.Image
    assessment: Assessment
    curves: Curves | None
    confidence: Confidence | None
    evidence: float = 1.0  # the share of the dye correction taken (`fading_curves`), which weighs the fill-in


def model_colors(prediction) -> np.ndarray:
    """A kept `Prediction` (no hints) -> the model's a*b* at the photo's full size (H,W,2) float32,
    at color strength 1: what `Engine.render` shows, before it becomes sRGB bytes."""
    return guided_upsample(prediction.L_work, prediction.colors, prediction.photo.L)[0].permute(1, 2, 0).numpy()


def restore_photo(
    engine: Engine, image, *, keep_tone: bool = False, working_size: int | None = None, confidence: bool = False
) -> Restored:
    """The restore step of `pipeline.run` (see the module): one photo, the model in `engine`."""
    opened = open_image(image, max_pixels=engine.max_pixels)
    decoded = decode(opened)
    if decoded.rgb is None:  # a grayscale file: nothing survived to restore
        assessment = Assessment("gray", None, 0.0, 0.0)
        return _colorized(engine, opened, assessment, working_size, confidence)
    rgb = decoded.rgb.permute(1, 2, 0).numpy()
    small = np.asarray(thumbnail(Image.fromarray(rgb)))
    assessment = assess(small)
    if assessment.kind != "color":
        return _colorized(engine, opened, assessment, working_size, confidence, keep_tone=keep_tone)

    # From the assessment's thumbnail, not the full photo again: a 12 MP photo is shrunk once.
    curves, evidence = fading_curves(np.asarray(thumbnail(Image.fromarray(small), AGREEMENT_PIXELS)), colors_of(engine))
    if curves is None:  # no sign of fading: the photo is returned as it is (do no harm)
        return _unchanged(engine, opened, decoded, assessment, confidence)
    # The model sees the corrected photo, so that its colors belong to the lightness the output has.
    corrected = curves.apply_to_bytes(rgb)
    if evidence == 0.0 and not confidence:  # its colors would weigh nothing: the fading undone is all
        return _unchanged(engine, opened, decoded, assessment, False, corrected, curves)
    prediction = engine.prediction(Image.fromarray(corrected), working_size=working_size)
    if engine.generator.head == "classification":
        sure = engine.confidence(prediction, 1.0).map
    else:  # a regression head has no distribution to read: its color fills in fully where the photo's faded
        sure = np.ones(corrected.shape[:2], np.float32)
    lab = lab_of(corrected)
    ab_photo = lab[..., 1:]
    # The model fills in only as far as the photo faded: a gray wall of a well-kept photo is gray.
    ab = blend_evidence(ab_photo, model_colors(prediction), sure * evidence)
    array = compose(lab[..., 0], ab)
    restored_confidence = None
    if confidence:
        survived = np.clip(np.hypot(ab_photo[..., 0], ab_photo[..., 1]) / EVIDENCE_CHROMA, 0, 1)
        # A regression head's colors are filled in fully but nothing says how sure they are: guesses.
        known = sure if engine.generator.head == "classification" else np.zeros_like(sure)
        restored_confidence = Confidence((survived + (1 - survived) * known).astype(np.float32), [])
    # The output carries the input's transparency and EXIF, as `colorize`'s does.
    photo = replace(prediction.photo, alpha=decoded.alpha, exif=exif_of(opened))
    return Restored(engine.finish_image(array, photo), assessment, curves, restored_confidence, evidence)


# The thumbnail the fading is read from and the colorizer's agreement judged on (it runs up to three times).
AGREEMENT_PIXELS = 60_000


def colors_of(engine: Engine):
    """-> (h,w,3) uint8 -> the model's a*b* (h,w,2) for that photo's lightness, at color strength 1."""
    return lambda rgb: model_colors(engine.prediction(Image.fromarray(rgb)))


def _unchanged(engine, opened, decoded, assessment, confidence, rgb=None, curves=None) -> Restored:
    """A color photo with no sign of fading, as restore returns it: its own pixels, every color its
    own (a confidence of 1 everywhere); or (`rgb`, `curves`) one whose fading was undone and has
    nothing for the model to fill in, as those pixels (the model's colors would be weighed by 0)."""
    rgb = decoded.rgb.permute(1, 2, 0).numpy() if rgb is None else rgb
    sure = Confidence(np.ones(rgb.shape[:2], np.float32), []) if confidence else None
    # finish_image reads only the alpha and the EXIF of the photo it is given.
    photo = SimpleNamespace(alpha=decoded.alpha, exif=exif_of(opened))
    return Restored(engine.finish_image(np.ascontiguousarray(rgb), photo), assessment, curves, sure, 0.0)


def _colorized(engine, opened, assessment, working_size, confidence, keep_tone=False) -> Restored:
    """A gray or toned photo: colorized from its lightness; a toned one keeps its tone on request."""
    # A regression head has no distribution to read (N4: this raised for a black-and-white photo): all
    # of its colors are then guesses, a map of zeros.
    readable = confidence and engine.generator.head == "classification"
    painted = _painted(opened, assessment)
    hints = _tint_hints(opened, painted) if painted is not None and engine.takes_hints else None
    prediction = engine.prediction(opened, hints=hints, working_size=working_size)
    colored = engine.render(prediction)
    sure = engine.confidence(prediction) if readable else None
    if confidence and sure is None:
        sure = Confidence(np.zeros((colored.height, colored.width), np.float32), [])
    if painted is not None:  # the hand-tinting is a given color: kept as painted, and sure
        colored = _with_paint(colored, opened, painted)
        if sure is not None:
            sure = Confidence(np.where(painted, 1.0, sure.map).astype(np.float32), sure.suggestions)
    if keep_tone and assessment.tone is not None:
        lab = lab_of(np.asarray(colored.convert("RGB")))
        tone = tone_at(assessment.tone, lab[..., 0])
        if painted is not None:  # paint lies on the toned paper as it is: the tone is under it already
            tone = np.where(painted[..., None], 0.0, tone)
        array = compose(lab[..., 0], lab[..., 1:] + tone)
        alpha = colored.getchannel("A") if colored.mode == "RGBA" else None
        toned = Image.fromarray(array, "RGB")
        if alpha is not None:
            toned.putalpha(alpha)
        toned.info.update(colored.info)
        colored = toned
    return Restored(colored, assessment, None, sure)


TINT_HINT_STEP = 8  # one hint point per this many pixels of paint, each way (the propagation fills between)
TINT_MAX_HINTS = 2000


def _painted(opened: Image.Image, assessment: Assessment) -> np.ndarray | None:
    """A tinted toned print's painted pixels (H,W) bool at full resolution, or None."""
    if not assessment.tinted or assessment.tone is None:
        return None
    mask = tint_mask(np.asarray(opened.convert("RGB")), assessment.tone)
    return mask if mask.any() else None


def _tint_hints(opened: Image.Image, painted: np.ndarray) -> list:
    """Hint points (x, y, (r, g, b)) on a grid over the painted pixels: the model and the hint
    propagation carry the paint's colors into the regions they belong to."""
    rgb = np.asarray(opened.convert("RGB"))
    step = TINT_HINT_STEP
    while True:
        ys, xs = np.nonzero(painted[::step, ::step])
        if len(ys) <= TINT_MAX_HINTS:
            break
        step *= 2
    return [(int(x) * step, int(y) * step, tuple(int(c) for c in rgb[y * step, x * step])) for y, x in zip(ys, xs)]


def _with_paint(colored: Image.Image, opened: Image.Image, painted: np.ndarray) -> Image.Image:
    """The colorized photo with the painted pixels' a*b* the print's own (lightness stays the output's)."""
    lab = lab_of(np.asarray(colored.convert("RGB")))
    ab = np.where(painted[..., None], lab_of(np.asarray(opened.convert("RGB")))[..., 1:], lab[..., 1:])
    result = Image.fromarray(compose(lab[..., 0], ab), "RGB")
    if colored.mode == "RGBA":
        result.putalpha(colored.getchannel("A"))
    result.info.update(colored.info)
    return result


@dataclass
class FilmRestoration:
    """How every frame of a film is restored, decided once from a sample of its frames
    (`assess_frames`): a film's fading is its stock's, the same on every frame of a reel."""

    assessment: Assessment
    curves: Curves | None
    keep_tone: bool = False
    fill: float = 1.0  # how far the model's colors fill in where a color film's are gone (`fading_curves`)

    @property
    def needs_model(self) -> bool:
        """False for a color film with nothing to fill in: its frames are finished by `prepare` alone
        (the model's colors would be computed only to be dropped by `finish`)."""
        return not (self.assessment.kind == "color" and self.fill == 0.0)

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """A decoded frame, (H,W,3) RGB or (H,W) gray uint8 -> what the model colors: the fading undone."""
        if self.curves is None or pixels.ndim == 2:
            return pixels
        return self.curves.apply_to_bytes(pixels)

    def finish(self, prepared: np.ndarray, colored: np.ndarray) -> np.ndarray:
        """A prepared frame and the model's (temporally smoothed) colors for it, (H,W,3) uint8 ->
        the restored frame: as `restore_photo` does for a photo, the model trusted as far as `fill`
        where the film's color is gone (the video path has no per-pixel confidence). A color film
        with nothing to fill in never comes here (`needs_model`): `prepare` finishes its frames."""
        if self.assessment.kind == "color" and prepared.ndim == 3:
            lab = lab_of(prepared)
            ab = blend_evidence(lab[..., 1:], lab_of(colored)[..., 1:], np.full(lab.shape[:2], self.fill, np.float32))
            return compose(lab[..., 0], ab)
        if self.keep_tone and self.assessment.tone is not None:
            lab = lab_of(colored)
            return compose(lab[..., 0], lab[..., 1:] + tone_at(self.assessment.tone, lab[..., 0]))
        return colored


# A film's colorizer agreement is read on this many of its sampled frames, spread over them.
JUDGED_FRAMES = 4


def assess_frames(
    frames: list[np.ndarray], colors: Callable[[np.ndarray], np.ndarray], keep_tone: bool = False
) -> FilmRestoration:
    """Thumbnails of a film's frames ((h,w,3) RGB or (h,w) gray uint8, spread over the film) -> how
    to restore it: its kind from all of them pooled, and for a color film the curves that undo its
    fading, from all of them pooled and acted on as `restore_photo` does (in proportion to the
    evidence, the dye correction as far as `colors` (`colors_of(engine)`) agrees on a few frames).
    A film's fading is its stock's: one for the reel."""
    color = [f for f in frames if f.ndim == 3]
    if not color:
        return FilmRestoration(Assessment("gray", None, 0.0, 0.0), None, keep_tone)
    pooled = np.concatenate([f.reshape(-1, 3) for f in color])[None]
    assessment = assess(pooled)
    if assessment.kind != "color":
        return FilmRestoration(assessment, None, keep_tone)
    judged = [color[i] for i in np.linspace(0, len(color) - 1, min(JUDGED_FRAMES, len(color))).round().astype(int)]
    curves, fill = fading_curves(pooled, colors, judged)
    return FilmRestoration(assessment, curves, keep_tone, fill)
