"""Validation during training: real metrics at full resolution and the gray / generated / real grid."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

from pix2pix_color.core.color import gray_version
from pix2pix_color.evaluation.metrics import Summary, evaluate
from pix2pix_color.inference import Colorizer
from pix2pix_color.models.networks import UNetGenerator


def run_validation(
    G: UNetGenerator, photos: Iterable[Image.Image], *, working_size: int, hints: int = 0
) -> dict[str, Summary]:
    """Metrics of G and of the grayscale baseline on the validation photos; G's mode is restored.

    `hints` > 0 gives each photo that many color hints sampled from it (the same ones at every
    validation), as a user who knows the real colors would.
    """
    was_training = G.training
    try:
        colorizer = Colorizer(G, working_size=working_size)
        return evaluate(colorizer.colorize_batch, photos, batch_size=32, hints_per_photo=hints)
    finally:
        G.train(was_training)


def sample_grid(G: UNetGenerator, photos: list[Image.Image], *, working_size: int, cell: int = 128) -> Image.Image:
    """Three rows, one column per photo: the gray input, G's colorization, the real photo."""
    was_training = G.training
    try:
        colorizer = Colorizer(G, working_size=working_size)
        real = [np.asarray(p.convert("RGB")) for p in photos]
        gray = [Image.fromarray(gray_version(r), "L") for r in real]
        generated = colorizer.colorize_batch(gray)
    finally:
        G.train(was_training)
    grid = Image.new("RGB", (cell * len(photos), cell * 3), "white")
    for col, (g, out, r) in enumerate(zip(gray, generated, real)):
        for row, image in enumerate((g.convert("RGB"), out, Image.fromarray(r))):
            grid.paste(image.resize((cell, cell), Image.BICUBIC), (col * cell, row * cell))
    return grid
