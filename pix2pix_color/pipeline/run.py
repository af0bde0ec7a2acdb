"""The one pipeline a `ColorizeRequest` runs through, in this order:

    repair     cracks, scratches and dust found and filled (`pix2pix_color.repair`), so none is colored
    restore    an old print assessed and its fading undone (`pipeline.restore`), or else
    predict    the network's colors, with the hints and the reference photo's guides (`Engine.prediction`)
    render     the full-resolution image at the request's color strength
    confidence where the colors are guesses (`pipeline.confidence`)
    variations the other colorings worth showing (`pipeline.variations`)

Each step is a function of the engine and the step before; the front ends only build the request
and read the output.
"""

from __future__ import annotations

from PIL import Image

from pix2pix_color.io.images import open_image
from pix2pix_color.limits import VARIATIONS_MAX
from pix2pix_color.pipeline.engine import Engine, Prediction
from pix2pix_color.pipeline.request import ColorizeOutput, ColorizeRequest
from pix2pix_color.pipeline.restore import restore_photo


def run(engine: Engine, request: ColorizeRequest) -> ColorizeOutput:
    """One photo through the steps the request turns on (see the module). Raises `ImageError`,
    `HintError` or ValueError with a one-line reason, before any network runs where it can."""
    image, repaired = request.image, {}
    if request.repair:
        # OpenCV (the video extra) only when a repair is asked for: the plain wheel colorizes without it.
        from pix2pix_color.repair import repair_photo

        fixed = repair_photo(open_image(image, max_pixels=engine.max_pixels))
        image = fixed.image
        repaired = dict(damage_mask=fixed.mask_image(), repaired_share=fixed.damaged_share)
    output = (
        _restored(engine, image, request, repaired) if request.restore else _colorized(engine, image, request, repaired)
    )
    if request.repair:
        output.image.info["repaired"] = f"{output.repaired_share:.4f}"
    return output


def _colorized(engine: Engine, image, request: ColorizeRequest, repaired: dict) -> ColorizeOutput:
    prediction = engine.prediction(
        image,
        hints=request.hints,
        working_size=request.working_size,
        reference=request.reference,
        hue_sector=request.hue_sector,
    )
    shown = engine.render(prediction, request.color_strength)
    confidence = engine.confidence(prediction, request.color_strength) if request.confidence else None
    images, sectors = (), ()
    if request.variations > 1:
        images, sectors = _variations(engine, prediction, shown, request)
    return ColorizeOutput(shown, prediction, confidence, images, sectors, **repaired)


def _restored(engine: Engine, image, request: ColorizeRequest, repaired: dict) -> ColorizeOutput:
    restored = restore_photo(
        engine, image, keep_tone=request.keep_tone, working_size=request.working_size, confidence=request.confidence
    )
    info = restored.image.info
    info["restoration"] = restored.assessment.kind
    if restored.assessment.kind == "color":
        info["Description"] = info["Description"].replace("colorized by", "restored by")
    return ColorizeOutput(restored.image, None, restored.confidence, restoration=restored.assessment, **repaired)


def _variations(
    engine: Engine, prediction: Prediction, first: Image.Image, request: ColorizeRequest
) -> tuple[tuple[Image.Image, ...], tuple[int | None, ...]]:
    """`request.variations` colorings: the first as shown, then one per hue sector the network
    hesitated towards most, each favoured photo-wide (`Engine.variation_sectors`)."""
    if request.hue_sector is None:
        sectors = engine.variation_sectors(prediction, request.variations)
    else:  # a picked variation first, then the others counted from the plain decoding (None among them)
        others = engine.variation_sectors(engine.vary(prediction, None), min(request.variations + 1, VARIATIONS_MAX))
        sectors = [request.hue_sector, *[s for s in others if s != request.hue_sector]][: request.variations]
    images = [first]
    for sector in sectors[1:]:
        varied = engine.render(engine.vary(prediction, sector), request.color_strength)
        varied.info["hue_sector"] = sector
        images.append(varied)
    return tuple(images), tuple(sectors)
