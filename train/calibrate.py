"""Calibrate an exported model's chroma gain on training photos, then re-validate and rewrite its card.

    python -m train.calibrate RUN_DIR [--photos 500] [--target-gap -14]
    python -m train.calibrate RUN_DIR --criterion psnr [--also ../shared/data/photos-varied]

Why: the L1 term of pix2pix makes the generator predict the conditional median of a*b*, which pulls
every uncertain color towards gray, so outputs come out less colorful than real photos (washed out).
One global factor on the predicted a*b* restores the scale. It is chosen on photos of the *training*
split (never on validation): the smallest gain at which the outputs' mean colorfulness is within
`--target-gap` percent of the same photos' real colorfulness. Smallest, because every step of gain
costs fidelity (PSNR falls); -14% keeps a small margin inside the project's 15% tolerance. The gain
goes into config.json (`chroma_gain`, or `temperature` for a classification head), so
`from_pretrained` applies it; users scale it further with `color_strength` (`Colorizer(...,
color_strength=1.2)`, the app's slider).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import Tensor

from pix2pix_color import UNetGenerator
from pix2pix_color.color import denormalize_ab, gray_to_l, gray_version, normalize_l
from pix2pix_color.image_processor import resize
from pix2pix_color.metrics import colorfulness, psnr
from pix2pix_color.onnx_export import ONNX_DIR
from pix2pix_color.pipeline import PredictOptions, finish_batch, predict, working_grid

from . import data
from .config import TrainConfig
from .export import export_model
from .validate import run_validation, sample_grid

logger = logging.getLogger(__name__)


def _gray_inputs(photos: list[Image.Image]) -> list[Tensor]:
    """Each photo's black-and-white version as the colorizer gets it: L* (1,1,H,W)."""
    return [gray_to_l(torch.from_numpy(gray_version(np.asarray(p))))[None, None] for p in photos]


def _gap_percent(photos: list[Image.Image], total_colorfulness: float) -> float:
    """The outputs' mean colorfulness (from their sum) against the photos' own, in percent."""
    real = float(np.mean([colorfulness(np.asarray(p)) for p in photos]))
    return 100.0 * (total_colorfulness / len(photos) - real) / real


def colorfulness_gap(G: UNetGenerator, photos: list[Image.Image], gains: list[float]) -> dict[float, float]:
    """Percent gap between outputs' and real mean colorfulness, for each gain (one model pass per photo).

    The pipeline's own steps with the raw network (chroma gain 1, whatever config.json says): the
    a*b* are linear in the gain, so one prediction per photo serves every gain."""
    raw = PredictOptions(chroma_gain=1.0)
    totals = dict.fromkeys(gains, 0.0)  # sums, not images: 200 photos x 201 gains would not fit in memory
    for L in _gray_inputs(photos):
        L_low = resize(L, working_grid(G, tuple(L.shape[-2:]), raw))
        with torch.inference_mode():
            ab = predict(G, L_low, options=raw)
            for g in gains:
                totals[g] += sum(colorfulness(rgb) for rgb in finish_batch([L], L_low, ab * g))
    return {g: _gap_percent(photos, totals[g]) for g in gains}


def fit_gain(G: UNetGenerator, photos: list[Image.Image], target_gap: float) -> tuple[float, dict[float, float]]:
    """Smallest gain on a 0.01 grid in [1, 3] whose colorfulness gap reaches `target_gap` percent."""
    grid = [round(1.0 + 0.01 * i, 2) for i in range(201)]
    curve = colorfulness_gap(G, photos, grid)
    for gain in grid:
        if curve[gain] >= target_gap:
            return gain, curve
    return grid[-1], curve


def colorfulness_gap_by_temperature(
    G: UNetGenerator, photos: list[Image.Image], temperatures: list[float]
) -> dict[float, float]:
    """Like `colorfulness_gap`, for a classification head's decoding temperature: one network pass
    per photo, its bins decoded at every temperature by the model's own `decode`."""
    G = G.eval()
    options = PredictOptions()
    totals = dict.fromkeys(temperatures, 0.0)
    for L in _gray_inputs(photos):
        L_low = resize(L, working_grid(G, tuple(L.shape[-2:]), options))
        with torch.inference_mode():
            logits = G(normalize_l(L_low))
            for t in temperatures:
                ab = denormalize_ab(G.decode(logits, L_low.shape[-2:], temperature=t)) * G.chroma_gain
                totals[t] += sum(colorfulness(rgb) for rgb in finish_batch([L], L_low, ab))
    return {t: _gap_percent(photos, totals[t]) for t in temperatures}


def fit_temperature(G: UNetGenerator, photos: list[Image.Image], target_gap: float) -> tuple[float, dict]:
    """Highest temperature on a 0.02 grid from 1 down to 0.2 whose colorfulness gap reaches `target_gap`.

    Highest, because T = 1 is the distribution's mean (the best PSNR); lower T moves each pixel
    towards its most likely color (more vivid, and more often the wrong one). Not above 1: flattening
    a rebalanced distribution further spreads it over rare, colorful bins rather than towards gray
    (measured on the pretrained-encoder model: T 1.26 reached -14% on training photos and lost
    0.25 dB on validation against T 1).
    """
    grid = [round(1.0 - 0.02 * i, 2) for i in range(41)]
    curve = colorfulness_gap_by_temperature(G, photos, grid)
    for t in grid:
        if curve[t] >= target_gap:
            return t, curve
    return grid[-1], curve


def psnr_by_temperature(G: UNetGenerator, photos: list[Image.Image], temperatures: list[float]) -> dict[float, float]:
    """Mean PSNR (dB, full resolution) of the outputs against the photos at each decoding
    temperature: one network pass per photo, its bins decoded at every temperature."""
    G = G.eval()
    options = PredictOptions()
    totals = dict.fromkeys(temperatures, 0.0)
    for photo, L in zip(photos, _gray_inputs(photos)):
        real = np.asarray(photo.convert("RGB"))
        L_low = resize(L, working_grid(G, tuple(L.shape[-2:]), options))
        with torch.inference_mode():
            logits = G(normalize_l(L_low))
            for t in temperatures:
                ab = denormalize_ab(G.decode(logits, L_low.shape[-2:], temperature=t)) * G.chroma_gain
                totals[t] += psnr(next(finish_batch([L], L_low, ab)), real)
    return {t: totals[t] / len(photos) for t in temperatures}


def fit_temperature_by_psnr(G: UNetGenerator, photo_sets: list[list[Image.Image]]) -> tuple[float, dict]:
    """The temperature on a 0.02 grid from 1 down to 0.2 with the best PSNR, averaged over the
    photo sets (each set weighs the same, so a few large photos count as much as many thumbnails).

    Why not the colorfulness rule: a class-rebalanced head inflates the probability of rare, warm,
    saturated bins, so the mean of its distribution (T = 1) is pulled towards a warm, muddy cast
    wherever the model hesitates. Lower temperatures move each pixel towards its most likely color,
    which measured better in PSNR *and* hue hit rate for the pretrained-encoder model
    (experiments/temperature_study.py); the colorfulness rule stopped at T 1. Not below 0.2: there the
    decoding is the single most likely bin, which shows the bins' 10-unit steps as color bands.
    """
    grid = [round(1.0 - 0.02 * i, 2) for i in range(41)]
    curves = [psnr_by_temperature(G, photos, grid) for photos in photo_sets]
    curve = {t: float(np.mean([c[t] for c in curves])) for t in grid}
    return max(grid, key=lambda t: curve[t]), curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--photos", type=int, default=500, help="training photos to calibrate on")
    parser.add_argument("--target-gap", type=float, default=-14.0, help="colorfulness gap to reach, percent")
    parser.add_argument(
        "--criterion",
        choices=("colorfulness", "psnr"),
        default="colorfulness",
        help="colorfulness: the highest temperature (or smallest gain) reaching --target-gap; "
        "psnr (classification head): the temperature with the best PSNR",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="DATASET",
        help="with --criterion psnr: also calibrate on --photos photos of this dataset's train split "
        "(e.g. large photos the model never trained on); each set weighs the same (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = Path(args.run_dir)
    record_path, export = run / "run.json", run / "model"
    if not record_path.is_file() or not (export / "config.json").is_file():
        print(f"error: {run} holds no finished run (run.json and model/)", file=sys.stderr)
        return 2
    record = json.loads(record_path.read_text())
    cfg = TrainConfig.from_dict(record["config"])
    splits = data.load_splits(cfg)
    photos = list(data.usable_photos(splits.train, args.photos))

    G = UNetGenerator.from_pretrained(str(export))
    # The knob: a regression head's a*b* are scaled (chroma_gain); a classification head's
    # distribution is decoded at a lower temperature, which sharpens colors without exaggerating them.
    knob = "temperature" if G.head == "classification" else "chroma_gain"
    sets = {cfg.train_split: photos}
    if args.criterion == "psnr":
        if knob != "temperature":
            print("error: --criterion psnr chooses a classification head's temperature", file=sys.stderr)
            return 2
        for dataset in args.also:
            extra = data.load_splits(TrainConfig.from_dict({**cfg.to_dict(), "dataset": dataset, "mix_with": []}))
            sets[dataset] = list(data.usable_photos(extra.train, args.photos))
        value, curve = fit_temperature_by_psnr(G, list(sets.values()))
        logger.info("temperature %.2f: mean PSNR %.2f dB (1.00: %.2f dB)", value, curve[value], curve[1.0])
    else:
        value, curve = (fit_temperature if knob == "temperature" else fit_gain)(G, photos, args.target_gap)
        logger.info(
            "%s %.2f: colorfulness gap %+.1f%% on %d training photos (1.00: %+.1f%%)",
            knob,
            value,
            curve[value],
            len(photos),
            curve[1.0],
        )
    G = G.with_decoding(**{knob: value})

    # Re-validate the calibrated model on the validation split, as training did, and redo the card.
    validation = list(data.validation_photos(splits, cfg.validation_images))
    summary = run_validation(G, validation, working_size=cfg.image_size)
    metrics = {"step": record["steps"], **{k: s.as_dict() for k, s in summary.items()}}
    if G.hints:
        hinted = run_validation(G, validation, working_size=cfg.image_size, hints=10)
        metrics["hints10"] = {k: s.as_dict() for k, s in hinted.items()}
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2))
    grid = sample_grid(G, validation[: cfg.sample_images], working_size=cfg.image_size)
    grid.save(run / "samples.png")  # export_model copies it into the model folder
    record["calibration"] = {
        "knob": knob,
        knob: value,
        "criterion": args.criterion,
        "target_gap_percent": args.target_gap,
        "photos": len(photos),
        "split": cfg.train_split,
        "sets": {name: len(p) for name, p in sets.items()},
        "curve": {f"{g:.2f}": round(v, 2) for g, v in curve.items() if round(g * 100) % 10 == 0},
        "uncalibrated_metrics": record.get("metrics"),
    }
    record["metrics"] = metrics
    record_path.write_text(json.dumps(record, indent=2, default=str))
    # The trained discriminator goes back in as it was (the export replaces the folder's files), and
    # an ONNX graph goes: it holds the old decoding (a classification head's temperature is folded
    # into its weights). Publishing writes a new one and checks it against PyTorch.
    disc_path = export / "discriminator.safetensors"
    discriminator = load_file(disc_path) if disc_path.is_file() else None
    stale = sorted((export / ONNX_DIR).glob("*.onnx"))
    for graph in stale:
        graph.unlink()
        logger.info("removed %s: it decodes as before calibration (publishing writes a new one)", graph)
    export_model(G, export, cfg=cfg, record=record, discriminator=discriminator)  # config, weights, card
    model, gray = summary["model"], summary["gray"]
    print(
        f"{knob} {value:.2f}; validation ({model.n_images} photos): "
        f"PSNR {model.psnr:.2f} dB (gray {gray.psnr:.2f}), "
        f"AuC {model.auc:.4f} (gray {gray.auc:.4f}), colorfulness {model.colorfulness_gap:+.1f}% vs real"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
