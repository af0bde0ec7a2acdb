"""Which spread of the classification head's distribution ranks the pixels whose hue is wrong?

For each photo: colorize it, compute candidate uncertainty maps from the bin distribution on the
working grid (upsampled to the photo), and over the real photo's colorful pixels (C*ab >= 20, the
hue hit rate's) score how well each ranks the misses (the hit rate's definition) by the area under
the ROC curve: pooled over photos (the same number of sampled pixels from each) and per photo.

    PYTHONPATH=. python experiments/confidence_study.py [--validation 300] [--hq 78]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine, table  # noqa: E402

from pix2pix_color import Colorizer, ab_bins  # noqa: E402
from pix2pix_color.core.color import normalize_l, rgb_to_lab  # noqa: E402
from pix2pix_color.core.hue import HUE_OUTPUT_CHROMA, HUE_REAL_CHROMA, HUE_TOLERANCE_DEG  # noqa: E402
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SAMPLES = 3000
# Chosen on 200 photos of the train split (all candidates): p_hue_right_smooth_Tmodel ranked best there
# (pooled 0.940, per photo 0.889); the others stay as the baselines it is compared with.
KEEP = ("p_hue_right_smooth_Tmodel", "p_hue_right_Tmodel", "entropy", "spread", "-chroma_shown")


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties half (Mann-Whitney)."""
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def candidates(logits: torch.Tensor, temperature: float, ab_shown: torch.Tensor) -> dict[str, torch.Tensor]:
    """(1,Q,h,w) logits -> uncertainty maps (1,1,h,w), larger = less sure."""
    centers = ab_bins.bin_centers()  # (Q,2)
    p1 = torch.softmax(logits.float(), dim=1)
    pT = torch.softmax(logits.float() / temperature, dim=1)
    entropy = -(p1 * p1.clamp_min(1e-12).log()).sum(1, keepdim=True)
    mean = torch.einsum("bqhw,qc->bchw", p1, centers)
    d2 = ((centers[None, :, :, None, None] - mean[:, None]) ** 2).sum(2)
    spread = (p1 * d2).sum(1, keepdim=True).sqrt()
    # The model's own probability that the real hue is within the tolerance of the hue it shows,
    # given that the real pixel is colorful (what the hit rate asks); 0 where the shown color is gray.
    chroma_q = centers.norm(dim=1)
    hue_q = torch.atan2(centers[:, 1], centers[:, 0])
    a, b = ab_shown[:, 0:1], ab_shown[:, 1:2]
    hue_shown = torch.atan2(b, a)
    diff = torch.remainder(hue_q[None, :, None, None] - hue_shown + math.pi, 2 * math.pi) - math.pi
    near = (diff.abs() <= math.radians(HUE_TOLERANCE_DEG)).float()
    colorful_q = (chroma_q >= HUE_REAL_CHROMA).float()[None, :, None, None]
    out = {}
    for name, p in (("T1", p1), ("Tmodel", pT)):
        mass = (p * colorful_q).sum(1, keepdim=True).clamp_min(1e-9)
        hit = (p * colorful_q * near).sum(1, keepdim=True) / mass
        colored = (a * a + b * b >= HUE_OUTPUT_CHROMA**2).float()
        out[f"p_hue_right_{name}"] = 1 - hit * colored
        joint = (p * colorful_q * near).sum(1, keepdim=True)
        out[f"p_hit_joint_{name}"] = 1 - joint * colored
        smooth = torch.sigmoid(((a * a + b * b).sqrt() - HUE_OUTPUT_CHROMA) / 2)
        out[f"p_hue_right_smooth_{name}"] = 1 - hit * smooth
        out[f"p_hit_joint_smooth_{name}"] = 1 - joint * smooth
    out["entropy"] = entropy
    out["spread"] = spread
    out["1-maxprob"] = 1 - p1.amax(1, keepdim=True)
    out["-chroma_shown"] = -(a * a + b * b).sqrt()
    return {k: v for k, v in out.items() if k in KEEP} if KEEP else out


def study(colorizer: Colorizer, photos, rng) -> dict:
    pooled_scores: dict[str, list] = {}
    pooled_miss: list = []
    per_photo: dict[str, list] = {}
    net = colorizer.generator
    for photo in photos:
        pred = colorizer.engine.prediction(photo)
        with torch.inference_mode():
            logits = net(normalize_l(pred.L_work))
        h, w = pred.L_work.shape[-2:]
        shown_low = F.interpolate(pred.colors, size=logits.shape[-2:], mode="area")
        maps = candidates(logits, net.temperature, shown_low)
        out = np.asarray(colorizer.engine.render(pred))
        real = torch.from_numpy(np.array(photo.convert("RGB"))).permute(2, 0, 1)
        ab_real = rgb_to_lab(real)[1:]
        ab_out = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1))[1:]
        ra, rb = ab_real
        oa, ob = ab_out
        colorful = (ra * ra + rb * rb >= HUE_REAL_CHROMA**2).flatten().numpy()
        if colorful.sum() < 50:
            continue
        dot, cross = oa * ra + ob * rb, oa * rb - ob * ra
        hit = ((oa * oa + ob * ob >= HUE_OUTPUT_CHROMA**2) & (dot > 0)
               & (cross.abs() <= math.tan(math.radians(HUE_TOLERANCE_DEG)) * dot))  # fmt: skip
        miss = (~hit).flatten().numpy()[colorful]
        idx = rng.choice(len(miss), size=min(SAMPLES, len(miss)), replace=False)
        pooled_miss.append(miss[idx])
        H, W = real.shape[-2:]
        for name, m in maps.items():
            full = F.interpolate(m, size=(H, W), mode="bilinear", align_corners=False).flatten().numpy()[colorful]
            pooled_scores.setdefault(name, []).append(full[idx])
            per_photo.setdefault(name, []).append(auc(full, miss))
    miss = np.concatenate(pooled_miss)
    return {
        name: {
            "pooled_auc": round(auc(np.concatenate(scores), miss), 4),
            "mean_photo_auc": round(float(np.nanmean(per_photo[name])), 4),
        }
        for name, scores in pooled_scores.items()
    } | {"_photos": len(pooled_miss), "_miss_rate": round(float(miss.mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--validation", type=int, default=300)
    parser.add_argument("--hq", type=int, default=78)
    parser.add_argument("--train", type=int, default=0, help="score the train split instead (to choose a measure)")
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results" / "confidence_study.json"))
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(None, backend="torch")
    rng = np.random.default_rng(0)
    if args.train:
        results = study(colorizer, photos_from_dataset(str(SHARED / "landscapes"), "train", args.train), rng)
        for k, v in results.items():
            print(k, v)
        return
    results = {
        "machine": machine(),
        "validation": study(
            colorizer, photos_from_dataset(str(SHARED / "landscapes"), "validation", args.validation), rng
        ),
        "photos-hq": study(colorizer, photos_from_folder(SHARED / "photos-hq", args.hq), rng),
    }
    Path(args.out).write_text(json.dumps(results, indent=1))
    names = [k for k in results["validation"] if not k.startswith("_")]
    print(table(
        ["measure", "validation pooled", "validation per photo", "photos-hq pooled", "photos-hq per photo"],
        [[n, results["validation"][n]["pooled_auc"], results["validation"][n]["mean_photo_auc"],
          results["photos-hq"][n]["pooled_auc"], results["photos-hq"][n]["mean_photo_auc"]] for n in names],
    ))  # fmt: skip
    for name in ("validation", "photos-hq"):
        print(name, {k: v for k, v in results[name].items() if k.startswith("_")})


if __name__ == "__main__":
    main()
