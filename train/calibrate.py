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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import Tensor

from pix2pix_color import UNetGenerator
from pix2pix_color.core.color import denormalize_ab, gray_to_l, gray_version, normalize_l
from pix2pix_color.core.image_processor import resize
from pix2pix_color.evaluation.metrics import color_hits, colorfulness, psnr
from pix2pix_color.pipeline.onnx_export import ONNX_DIR
from pix2pix_color.pipeline.steps import PredictOptions, finish_batch, predict, working_grid

from . import data
from .config import TrainConfig
from .export import export_model
from .validate import run_validation, sample_grid

logger = logging.getLogger(__name__)


def _gray_input(photo: Image.Image) -> Tensor:
    """A photo's black-and-white version as the colorizer gets it: L* (1,1,H,W)."""
    return gray_to_l(torch.from_numpy(gray_version(np.asarray(photo))))[None, None]


class _Gap:
    """Colorfulness summed over the outputs at each setting and over the real photos, as the photos
    stream past (each is read once, never all held: 500 full-resolution photos would be gigabytes)."""

    def __init__(self, settings: list[float]):
        self.totals, self.real, self.n = dict.fromkeys(settings, 0.0), 0.0, 0

    def add_real(self, photo: Image.Image) -> None:
        self.real += colorfulness(np.asarray(photo))
        self.n += 1

    def percent(self) -> dict[float, float]:
        """The outputs' mean colorfulness against the photos' own, in percent, at each setting."""
        if not self.n:
            raise ValueError("no usable photos to calibrate on")
        real = self.real / self.n
        return {g: 100.0 * (total / self.n - real) / real for g, total in self.totals.items()}


def colorfulness_gap(G: UNetGenerator, photos: Iterable[Image.Image], gains: list[float]) -> dict[float, float]:
    """Percent gap between outputs' and real mean colorfulness, for each gain (one model pass per photo).

    The pipeline's own steps with the raw network (chroma gain 1, whatever config.json says): the
    a*b* are linear in the gain, so one prediction per photo serves every gain."""
    raw = PredictOptions(chroma_gain=1.0)
    gap = _Gap(gains)  # sums, not images: 200 photos x 201 gains would not fit in memory
    for photo in photos:
        gap.add_real(photo)
        L = _gray_input(photo)
        L_low = resize(L, working_grid(G, tuple(L.shape[-2:]), raw))
        with torch.inference_mode():
            ab = predict(G, L_low, options=raw)
            for g in gains:
                gap.totals[g] += sum(colorfulness(rgb) for rgb in finish_batch([L], L_low, ab * g))
    return gap.percent()


def fit_gain(G: UNetGenerator, photos: Iterable[Image.Image], target_gap: float) -> tuple[float, dict[float, float]]:
    """Smallest gain on a 0.01 grid in [1, 3] whose colorfulness gap reaches `target_gap` percent."""
    grid = [round(1.0 + 0.01 * i, 2) for i in range(201)]
    curve = colorfulness_gap(G, photos, grid)
    for gain in grid:
        if curve[gain] >= target_gap:
            return gain, curve
    return grid[-1], curve


def _decoded(G: UNetGenerator, photos: Iterable[Image.Image], temperatures: list[float]):
    """For each photo: (the photo, {temperature: its output (H,W,3) uint8}), one network pass per
    photo, its bins decoded at every temperature by the model's own `decode`; one photo at a time."""
    G = G.eval()
    options = PredictOptions()
    for photo in photos:
        L = _gray_input(photo)
        L_low = resize(L, working_grid(G, tuple(L.shape[-2:]), options))
        with torch.inference_mode():
            logits = G(normalize_l(L_low))
            outputs = {}
            for t in temperatures:
                ab = denormalize_ab(G.decode(logits, L_low.shape[-2:], temperature=t)) * G.chroma_gain
                outputs[t] = next(finish_batch([L], L_low, ab))
        yield photo, outputs


def colorfulness_gap_by_temperature(
    G: UNetGenerator, photos: Iterable[Image.Image], temperatures: list[float]
) -> dict[float, float]:
    """Like `colorfulness_gap`, for a classification head's decoding temperature."""
    gap = _Gap(temperatures)
    for photo, outputs in _decoded(G, photos, temperatures):
        gap.add_real(photo)
        for t, rgb in outputs.items():
            gap.totals[t] += colorfulness(rgb)
    return gap.percent()


def fit_temperature(G: UNetGenerator, photos: Iterable[Image.Image], target_gap: float) -> tuple[float, dict]:
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


def psnr_by_temperature(
    G: UNetGenerator, photos: Iterable[Image.Image], temperatures: list[float]
) -> dict[float, float]:
    """Mean PSNR (dB, full resolution) of the outputs against the photos at each decoding temperature."""
    scores = scores_by_temperature(G, photos, temperatures, colors=False)
    return {t: psnr_and_colors[0] for t, psnr_and_colors in scores.items()}


def scores_by_temperature(
    G: UNetGenerator, photos: Iterable[Image.Image], temperatures: list[float], *, colors: bool = True
) -> dict[float, tuple[float, float, float]]:
    """At each decoding temperature: (mean PSNR in dB, mean strict color hit, mean chroma ratio) of
    the outputs against the photos (`evaluation.metrics.color_hits`; the color numbers NaN-skipped
    per photo, as `evaluate` averages them; with `colors=False` only the PSNR, the others NaN)."""
    sums = {t: [0.0, [], []] for t in temperatures}
    n = 0
    for photo, outputs in _decoded(G, photos, temperatures):
        real = np.asarray(photo.convert("RGB"))
        n += 1
        for t, rgb in outputs.items():
            sums[t][0] += psnr(rgb, real)
            if colors:
                hits = color_hits(rgb, real)
                sums[t][1].append(hits.color_hit)
                sums[t][2].append(hits.chroma_ratio)
    if not n:
        raise ValueError("no usable photos to calibrate on")
    return {t: (total / n, _nanmean(hit), _nanmean(ratio)) for t, (total, hit, ratio) in sums.items()}


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


def fit_temperature_by_psnr(G: UNetGenerator, photo_sets: list[Iterable[Image.Image]]) -> tuple[float, dict]:
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


# --criterion color: temperatures within this much PSNR of the best compete on color (the ship
# rule's own tolerance, train/ship_rule.py), on a coarser grid (each point scores every photo's colors).
COLOR_PSNR_TOLERANCE = 0.3
COLOR_GRID = [round(1.0 - 0.05 * i, 2) for i in range(17)]


def fit_temperature_by_color(G: UNetGenerator, photo_sets: list[Iterable[Image.Image]]) -> tuple[float, dict]:
    """The temperature with the highest strict color hit plus chroma ratio (capped at 1: more vivid
    than the real photos is no gain) among those whose mean PSNR is within COLOR_PSNR_TOLERANCE of
    the best, each photo set weighing the same. Why: PSNR alone rewards the grayish mean of a
    hesitant pixel; a person sees the color hit and the chroma (issue 40's ship rule weighs both).
    Returns (temperature, {temperature: (PSNR, color hit, chroma ratio)})."""
    per_set = [scores_by_temperature(G, photos, COLOR_GRID) for photos in photo_sets]
    curve = {t: tuple(float(np.nanmean([c[t][k] for c in per_set])) for k in range(3)) for t in COLOR_GRID}
    best = max(scores[0] for scores in curve.values())
    eligible = [t for t in COLOR_GRID if curve[t][0] >= best - COLOR_PSNR_TOLERANCE]
    chosen = max(eligible, key=lambda t: curve[t][1] + min(curve[t][2], 1.0))
    return chosen, curve


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m train.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--photos", type=int, default=500, help="training photos to calibrate on")
    parser.add_argument("--target-gap", type=float, default=-14.0, help="colorfulness gap to reach, percent")
    parser.add_argument(
        "--criterion",
        choices=("colorfulness", "psnr", "color"),
        default="colorfulness",
        help="colorfulness: the highest temperature (or smallest gain) reaching --target-gap; "
        "psnr (classification head): the temperature with the best PSNR; color (classification head): "
        f"the best strict color hit + chroma ratio within {COLOR_PSNR_TOLERANCE} dB of the best PSNR",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="DATASET",
        help="with --criterion psnr or color: also calibrate on --photos photos of this dataset's train "
        "split (e.g. large photos the model never trained on); each set weighs the same (repeatable)",
    )
    return parser.parse_args(argv)


class _Counted:
    """An iterable of photos that counts them as they stream past (the record says how many)."""

    def __init__(self, photos: Iterable[Image.Image]):
        self.photos, self.n = photos, 0

    def __iter__(self):
        for photo in self.photos:
            self.n += 1
            yield photo


def _fit(G: UNetGenerator, cfg: TrainConfig, splits, args) -> tuple[str, float, dict, dict[str, int]]:
    """The knob (a regression head's chroma gain, a classification head's temperature), the value
    the criterion chose, its curve, and how many photos of each set it was chosen on."""
    knob = "temperature" if G.head == "classification" else "chroma_gain"
    sets = {cfg.train_split: _Counted(data.usable_photos(splits.train, args.photos))}
    if args.criterion == "colorfulness":
        value, curve = (fit_temperature if knob == "temperature" else fit_gain)(
            G, sets[cfg.train_split], args.target_gap
        )
        logger.info("%s %.2f: colorfulness gap %+.1f%% (1.00: %+.1f%%)", knob, value, curve[value], curve[1.0])
        return knob, value, curve, {name: s.n for name, s in sets.items()}
    for dataset in args.also:
        extra = data.load_splits(TrainConfig.from_dict({**cfg.to_dict(), "dataset": dataset, "mix_with": []}))
        sets[dataset] = _Counted(data.usable_photos(extra.train, args.photos))
    if args.criterion == "psnr":
        value, curve = fit_temperature_by_psnr(G, list(sets.values()))
        logger.info("temperature %.2f: mean PSNR %.2f dB (1.00: %.2f dB)", value, curve[value], curve[1.0])
    else:
        value, curve = fit_temperature_by_color(G, list(sets.values()))
        logger.info("temperature %.2f: PSNR %.2f dB, color hit %.3f, chroma ratio %.3f", value, *curve[value])
    return knob, value, curve, {name: s.n for name, s in sets.items()}


def _revalidate(G: UNetGenerator, cfg: TrainConfig, splits, run: Path, steps: int) -> tuple[dict, dict]:
    """The calibrated model on the validation split, as training validated: the metrics (also written
    to metrics.json) and the summary; a fresh samples.png (never the uncalibrated one's)."""
    validation = list(data.validation_photos(splits, cfg.validation_images))
    summary = run_validation(G, validation, working_size=cfg.image_size)
    metrics = {"step": steps, **{k: s.as_dict() for k, s in summary.items()}}
    if G.hints:
        hinted = run_validation(G, validation, working_size=cfg.image_size, hints=10)
        metrics["hints10"] = {k: s.as_dict() for k, s in hinted.items()}
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2))
    grid = sample_grid(G, validation[: cfg.sample_images], working_size=cfg.image_size)
    grid.save(run / "samples.png")  # export_model copies it into the model folder
    return metrics, summary


def _reexport(G: UNetGenerator, export: Path, cfg: TrainConfig, record: dict) -> None:
    """The calibrated model into its folder. The trained discriminator goes back in as it was (the
    export replaces the folder's files), and an ONNX graph goes: it holds the old decoding (a
    classification head's temperature is folded into its weights). Publishing writes a new one."""
    disc_path = export / "discriminator.safetensors"
    discriminator = load_file(disc_path) if disc_path.is_file() else None
    for graph in sorted((export / ONNX_DIR).glob("*.onnx")):
        graph.unlink()
        logger.info("removed %s: it decodes as before calibration (publishing writes a new one)", graph)
    export_model(G, export, cfg=cfg, record=record, discriminator=discriminator)  # config, weights, card


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = Path(args.run_dir)
    record_path, export = run / "run.json", run / "model"
    if not record_path.is_file() or not (export / "config.json").is_file():
        print(f"error: {run} holds no finished run (run.json and model/)", file=sys.stderr)
        return 2
    record = json.loads(record_path.read_text())
    cfg = TrainConfig.from_dict(record["config"])
    G = UNetGenerator.from_pretrained(str(export))
    if args.criterion != "colorfulness" and G.head != "classification":
        print(f"error: --criterion {args.criterion} chooses a classification head's temperature", file=sys.stderr)
        return 2
    splits = data.load_splits(cfg)
    knob, value, curve, sets = _fit(G, cfg, splits, args)
    G = G.with_decoding(**{knob: value})
    metrics, summary = _revalidate(G, cfg, splits, run, record["steps"])
    record["calibration"] = {
        "knob": knob,
        knob: value,
        "criterion": args.criterion,
        "target_gap_percent": args.target_gap,
        "photos": sets[cfg.train_split],
        "split": cfg.train_split,
        "sets": sets,
        "curve": {f"{g:.2f}": _rounded(v) for g, v in curve.items() if round(g * 100) % 10 == 0},
        "uncalibrated_metrics": record.get("metrics"),
    }
    record["metrics"] = metrics
    record_path.write_text(json.dumps(record, indent=2, default=str))
    _reexport(G, export, cfg, record)
    model, gray = summary["model"], summary["gray"]
    print(
        f"{knob} {value:.2f}; validation ({model.n_images} photos): "
        f"PSNR {model.psnr:.2f} dB (gray {gray.psnr:.2f}), "
        f"AuC {model.auc:.4f} (gray {gray.auc:.4f}), colorfulness {model.colorfulness_gap:+.1f}% vs real"
    )
    return 0


def _rounded(value):
    return [round(v, 3) for v in value] if isinstance(value, tuple) else round(value, 2)


if __name__ == "__main__":
    sys.exit(main())
