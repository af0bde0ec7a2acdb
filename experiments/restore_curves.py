"""How `restore` estimates the curves that undo a fading, chosen on training photos: real color photos
faded by `pix2pix_color.synthetic.fading` (no sepia), each estimator's curves applied and the model filling in
(`blend_evidence`) as `restore` does, scored against the real photos (CIEDE2000, hue hit rate):

- statistics, k: `estimate_curves` with `equalize=k` (0: black and white points only; 1: every
  channel's log range made the widest one's);
- model fit: per channel an affine map in log light fitted by weighted least squares from the faded
  photo to the model's colorization of its lightness, weighted by the model's confidence (the first
  design; its slope clipped to what dye fading can do);
- auto levels: each channel's 0.5th and 99.5th percentiles stretched to black and white, no model;
- the faded input.

    PYTHONPATH=. python experiments/restore_curves.py --set photos-varied   # the tuning set (training photos)
    PYTHONPATH=. python experiments/restore_curves.py --set photos-hq       # the check

`photos-varied`: its first `--limit` photos of at least 300 px; `photos-hq`: its first `--limit`.
Each at a long side of `--side`.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000
from tqdm.auto import tqdm

from pix2pix_color import Colorizer
from pix2pix_color.evaluation.metrics import hue_hit_rate
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder
from pix2pix_color.pipeline.assessment import lab_of, linear_to_srgb, srgb_to_linear, thumbnail
from pix2pix_color.pipeline.fading_curves import Curves, black_point, estimate_curves
from pix2pix_color.pipeline.restore import blend_evidence, compose
from pix2pix_color.synthetic.fading import fade, random_fading

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EQUALIZE = (0.0, 0.3, 0.5, 0.7, 1.0)


def fitted_curves(faded: np.ndarray, target: np.ndarray, weight: np.ndarray) -> Curves:
    """Faded linear RGB (N,3), the model's colorization (N,3, linear) and its confidence (N,) -> the
    per-channel log-affine map taking one to the other (weighted least squares)."""
    black = black_point(faded)
    x = np.clip((faded - black) / (1.0 - black), 1e-4, 1.0)
    gain, offset = np.ones(3, np.float32), np.zeros(3, np.float32)
    for c in range(3):
        usable = weight * ((x[:, c] > 0.01) & (x[:, c] < 0.97) & (target[:, c] > 0.005) & (target[:, c] < 0.99))
        if usable.sum() < 50:
            continue
        u, v = np.log(x[:, c]), np.log(np.clip(target[:, c], 1e-4, 1.0))
        w = usable / usable.sum()
        mu, mv = (w * u).sum(), (w * v).sum()
        var = (w * (u - mu) ** 2).sum()
        if var > 1e-6:
            gain[c] = np.clip((w * (u - mu) * (v - mv)).sum() / var, 0.8, 3.0)
            offset[c] = mv - gain[c] * mu
    return Curves(black, gain, offset)


def restored_with(colorizer: Colorizer, faded: np.ndarray, curves: Curves) -> np.ndarray:
    corrected = curves.apply_to_bytes(faded)
    prediction = colorizer.engine.prediction(Image.fromarray(corrected))
    model = lab_of(np.asarray(colorizer.engine.render(prediction, 1.0)))[..., 1:]
    lab = lab_of(corrected)
    return compose(lab[..., 0], blend_evidence(lab[..., 1:], model, colorizer.engine.confidence(prediction, 1.0).map))


def model_fit(colorizer: Colorizer, faded: np.ndarray) -> Curves:
    small = np.asarray(thumbnail(Image.fromarray(faded)))
    linear = srgb_to_linear(small).reshape(-1, 3)
    black = black_point(linear)
    leveled = np.round(linear_to_srgb((linear - black) / (1 - black)) * 255).astype(np.uint8).reshape(small.shape)
    prediction = colorizer.engine.prediction(Image.fromarray(leveled))
    target = srgb_to_linear(np.asarray(colorizer.engine.render(prediction, 1.0))).reshape(-1, 3)
    return fitted_curves(linear, target, colorizer.engine.confidence(prediction, 1.0).map.reshape(-1))


def auto_levels(faded: np.ndarray) -> np.ndarray:
    x = srgb_to_linear(faded)
    lo, hi = np.percentile(x.reshape(-1, 3), 0.5, axis=0), np.percentile(x.reshape(-1, 3), 99.5, axis=0)
    return np.round(linear_to_srgb((x - lo) / np.maximum(hi - lo, 1e-4)) * 255).astype(np.uint8)


def photos(name: str, limit: int):
    if name == "photos-hq":
        return photos_from_folder(SHARED / "photos-hq", limit)
    large = (p for p in photos_from_dataset(str(SHARED / "photos-varied"), "train", None) if min(p.size) >= 300)
    return itertools.islice(large, limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="photos-varied", choices=["photos-varied", "photos-hq"])
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--side", type=int, default=768)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    rng = np.random.default_rng(args.seed)
    rows: dict[str, list[tuple[float, float]]] = {}
    for image in tqdm(photos(args.set, args.limit), total=args.limit, desc=args.set, unit="photo"):
        scale = min(1.0, args.side / max(image.size))
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        real = np.asarray(image.convert("RGB"))
        faded = fade(real, random_fading(rng, sepia_share=0.0))
        real_lab = lab_of(real)
        small = srgb_to_linear(np.asarray(thumbnail(Image.fromarray(faded)))).reshape(-1, 3)
        outputs = {"faded input": faded, "auto levels": auto_levels(faded)}
        outputs["model fit"] = restored_with(colorizer, faded, model_fit(colorizer, faded))
        for k in EQUALIZE:
            outputs[f"statistics, k = {k}"] = restored_with(colorizer, faded, estimate_curves(small, k))
        for name, output in outputs.items():
            score = (float(deltaE_ciede2000(real_lab, lab_of(output)).mean()), hue_hit_rate(output, real))
            rows.setdefault(name, []).append(score)
    print(f"\n{args.set}: {len(rows['faded input'])} faded photos, long side {args.side}, seed {args.seed}")
    print("| curves | CIEDE2000 | hue hit |\n|---|---|---|")
    for name, scores in rows.items():
        values = np.array(scores, dtype=float)
        print(f"| {name} | {values[:, 0].mean():.2f} | {np.nanmean(values[:, 1]):.3f} |")


if __name__ == "__main__":
    main()
