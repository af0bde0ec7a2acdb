"""Regenerate docs/reference.jpg: a black-and-white photo colorized automatically and with a reference
photo, beside the reference and the real photo, and where the model's own colors are guesses.

Top row: the reference is the real photo mirrored and cropped to its central 75% (a stand-in for
another photo of the same place: matches must be found by content, not position). Bottom row: the
reference is an unrelated sunset over a beach for a street at sunrise: its regions match little, so
the result stays near the automatic one (what the unrelated-reference measurement asks: no harm).

    python docs/make_reference_figure.py

The photos are CC0 photos of `photos-hq` (BuddiesOfBudgie/budgie-backgrounds), never trained on.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from pix2pix_color import Colorizer, ColorizeRequest
from pix2pix_color.io.images import open_image

OUT = Path(__file__).resolve().parent / "reference.jpg"
HQ = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos-hq" / "validation"
ROWS = (("lake_sherburne.jpg", None), ("beacon_street_sunset.jpg", "sunset_beach.jpg"))
HEIGHT = 220


def mirrored_and_cropped(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.transpose(Image.FLIP_LEFT_RIGHT).crop((w // 8, h // 8, w - w // 8, h - h // 8))


def fit(image: Image.Image, height: int = HEIGHT) -> Image.Image:
    return image.convert("RGB").resize((round(image.width * height / image.height), height), Image.LANCZOS)


def main() -> None:
    colorizer = Colorizer.from_pretrained()
    rows = []
    for name, other in ROWS:
        real = open_image(HQ / name).convert("RGB")
        real.thumbnail((1600, 1600), Image.LANCZOS)
        reference = mirrored_and_cropped(real) if other is None else open_image(HQ / other).convert("RGB")
        gray = real.convert("L")
        out = colorizer.run(ColorizeRequest(gray, confidence=True))
        automatic, confidence = out.image, out.confidence
        with_reference = colorizer.colorize(gray, reference=reference)
        rows.append(
            [
                fit(gray),
                fit(reference),
                fit(automatic),
                fit(confidence.overlay(automatic)),
                fit(with_reference),
                fit(real),
            ]
        )
    labels = ["black and white", "reference", "automatic", "its guesses (hatched)", "with the reference", "real"]
    gap, top = 4, 22
    width = max(sum(p.width for p in r) + gap * (len(r) - 1) for r in rows)
    figure = Image.new("RGB", (width, top + len(rows) * (HEIGHT + gap) - gap), "white")
    draw = ImageDraw.Draw(figure)
    x = 0
    for label, panel in zip(labels, rows[0]):
        draw.text((x + 4, 5), label, fill="black")
        x += panel.width + gap
    for i, panels in enumerate(rows):
        x = 0
        for p in panels:
            figure.paste(p, (x, top + i * (HEIGHT + gap)))
            x += p.width + gap
    figure.save(OUT, quality=88, optimize=True)
    print(f"{OUT}: {figure.size[0]}x{figure.size[1]}")


if __name__ == "__main__":
    main()
