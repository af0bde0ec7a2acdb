"""Train the fade estimator (`pix2pix_color.models.fade_estimator`) on real photos aged at random.

    python -m train.fade_estimator --out runs/fade --steps 6000

The photos are streamed once with `datasets` (any Hub id or local dataset folder, `--dataset`
repeatable) into a bank of color crops in memory; every step ages a batch of them afresh
(`pix2pix_color.synthetic.fading.random_ageing`: a fifth left as they are), the network reads each
aged crop and proposes curves, and the loss is the mean CIE76 colour difference between the corrected
crop and the real one: the estimator is scored on what a person sees, and a correction it is not sure
of costs more than none. A held-out tenth of the photos, aged from fixed seeds, scores it every
`--eval-every` steps (mean dE76: as aged, corrected; and on the unaged ones how far it moves them);
the best gain is kept. A crash resumes from `last.pt` exactly (model, optimizer, step, random state).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from datasets import load_dataset
from PIL import Image
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from pix2pix_color.core.color import rgb_to_lab_differentiable
from pix2pix_color.models.fade_estimator import FadeEstimator, apply_curves
from pix2pix_color.pipeline.fading_curves import statistical_curves
from pix2pix_color.synthetic.fading import random_ageing
from train.run_state import resume_state, save_state

log = logging.getLogger("train.fade_estimator")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", help="dataset folder or Hub id (repeatable)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--limit", type=int, default=12000, help="photos read per dataset, at most")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stop-at", type=int, help="stop after this step's checkpoint, as a crash would (tests)")
    return p.parse_args(argv)


def _crops_of(rgb: np.ndarray, crop: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A photo -> the whole of it squeezed to the crop's short side and centre-cropped (what a
    thumbnail of the photo shows), and for a large photo three random parts of it too (the photos
    people restore are scans, larger than thumbnails: the large photos weigh more)."""
    h, w = rgb.shape[:2]
    out = []
    views = [(0, 0, h, w)]
    for _ in range(3 if min(h, w) >= 3 * crop else 0):
        side = int(rng.uniform(0.35, 0.7) * min(h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        views.append((y, x, side, side))
    for y, x, vh, vw in views:
        view = rgb[y : y + vh, x : x + vw]
        s = crop / min(vh, vw)
        small = cv2.resize(view, (max(crop, round(vw * s)), max(crop, round(vh * s))), interpolation=cv2.INTER_AREA)
        oy, ox = (small.shape[0] - crop) // 2, (small.shape[1] - crop) // 2
        out.append(small[oy : oy + crop, ox : ox + crop].copy())
    return out


def build_bank(datasets: list[str], crop: int, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """-> (train crops (N,crop,crop,3) uint8, held-out crops (M,crop,crop,3) uint8): every tenth photo
    of each dataset is held out; photos with no color (gray, toned) are left out."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for name in datasets:
        stream = load_dataset(name, split="train", streaming=True)
        for i, row in enumerate(tqdm(stream, desc=f"reading {Path(name).name}", total=limit)):
            if i >= limit:
                break
            image = row["image"]
            if not isinstance(image, Image.Image):
                image = Image.open(io.BytesIO(image["bytes"]))
            rgb = np.asarray(image.convert("RGB"))
            if np.ptp(rgb.astype(np.int16), axis=2).mean() < 4:  # no color to learn from
                continue
            (held if i % 10 == 9 else train).extend(_crops_of(rgb, crop, rng))
    return np.stack(train), np.stack(held)


def make_batch(crops: np.ndarray, rng: np.random.Generator, unfaded_share: float = 0.2) -> dict:
    """Crops (B,S,S,3) uint8 -> {"aged", "real": (B,3,S,S) float sRGB in [0,1]; "base": (B,3,5) the
    aged crops' statistical curves; "evidence": (B,2) theirs}; flipped at random."""
    aged, real, base, evidence = [], [], [], []
    for crop in crops:
        crop = np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)
        old = random_ageing(crop, rng, unfaded_share)
        curves, found = statistical_curves(old)
        aged.append(old), real.append(crop), base.append(curves.parameters()), evidence.append(found)
    as_tensor = lambda arrays: torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0  # noqa: E731
    return {"aged": as_tensor(aged), "real": as_tensor(real),
            "base": torch.from_numpy(np.stack(base)), "evidence": torch.from_numpy(np.stack(evidence))}  # fmt: skip


def color_error(srgb: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) float sRGB twice -> (B,) mean CIE76 difference per photo (differentiable)."""
    a, b = rgb_to_lab_differentiable(srgb.flatten(2)), rgb_to_lab_differentiable(real.flatten(2))
    return ((a - b).pow(2).sum(1) + 1e-6).sqrt().mean(1)


# A correction that leaves a photo further from the real one than it came costs this much more per
# unit of harm: restore must first do no harm (issue 42), so where it cannot tell, it learns to wait.
HARM_WEIGHT = 2.0


def harm_weighted(errors: torch.Tensor, batch: dict) -> torch.Tensor:
    """Per-photo errors (B,) of the corrections -> the loss: their mean, plus `HARM_WEIGHT` times
    how far each is worse than the aged input."""
    harm = (errors - color_error(batch["aged"], batch["real"])).clamp_min(0.0)
    return (errors + HARM_WEIGHT * harm).mean()


def corrected(model: FadeEstimator, batch: dict) -> torch.Tensor:
    """`make_batch`'s batch -> (B,3,S,S) the estimator's correction of each aged crop."""
    small = F.interpolate(batch["aged"], size=(model.side, model.side), mode="area")
    return apply_curves(batch["aged"], model(small, batch["base"], batch["evidence"]))


@torch.inference_mode()
def evaluate(model: FadeEstimator, held: dict, unaged: dict) -> dict:
    """Mean dE76 of the held-out aged crops as aged, by the statistics alone and corrected, and how
    far unaged ones move."""
    model.eval()
    before = color_error(held["aged"], held["real"]).mean().item()
    statistics = color_error(apply_curves(held["aged"], held["base"]), held["real"]).mean().item()
    after = color_error(corrected(model, held), held["real"]).mean().item()
    moved = color_error(corrected(model, unaged), unaged["real"]).mean().item()
    model.train()
    return {"aged": before, "statistics": statistics, "corrected": after, "gain": before - after, "unaged_moved": moved}


def _bank(args) -> tuple[np.ndarray, np.ndarray]:
    """The crop bank, read once into `out/bank.npz` and reused on a resume."""
    bank_file = args.out / "bank.npz"
    if bank_file.exists():
        bank = np.load(bank_file)
        return bank["train"], bank["held"]
    datasets = args.dataset or ["../shared/data/photos-varied", "../shared/data/landscapes"]
    train, held = build_bank(datasets, args.crop, args.limit, args.seed)
    np.savez(bank_file, train=train, held=held)
    return train, held


def _held_out(held: np.ndarray) -> tuple[dict, dict]:
    """The fixed evaluation: 256 held-out crops aged from one seed (none left unaged), and 64 unaged."""
    eval_rng = np.random.default_rng(12345)
    pick = eval_rng.choice(len(held), size=min(256, len(held)), replace=False)
    return make_batch(held[pick], eval_rng, unfaded_share=0.0), make_batch(held[pick[:64]], eval_rng, 1.0)


def _validate(model, held_set, unaged, writer, out: Path, step: int, loss: float, best: float) -> float:
    """Score the held-out crops, log them, keep the best weights; -> the best gain so far."""
    scores = evaluate(model, held_set, unaged)
    for k, v in scores.items():
        writer.add_scalar(f"val/{k}", v, step)
    log.info("step %d loss %.4f %s", step, loss, json.dumps({k: round(v, 4) for k, v in scores.items()}))
    if scores["gain"] > best:
        model.save_pretrained(out / "best")
        (out / "best" / "scores.json").write_text(json.dumps({"step": step, **scores}, indent=2))
        return scores["gain"]
    return best


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    train, held = _bank(args)
    log.info("%d training crops, %d held out", len(train), len(held))
    held_set, unaged = _held_out(held)
    model = FadeEstimator()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    warmup = max(0.05, 2 / args.steps)  # OneCycleLR divides by the warm-up's length (a short smoke run)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=warmup)
    rng, last = np.random.default_rng(args.seed + 1), args.out / "last.pt"
    step, best = resume_state(last, model, opt, sched, rng)
    writer = SummaryWriter(args.out / "tb")
    model.train()
    bar = tqdm(total=args.steps, initial=step, desc="fade estimator")
    while step < args.steps:
        batch = make_batch(train[rng.integers(0, len(train), args.batch_size)], rng)
        loss = harm_weighted(color_error(corrected(model, batch), batch["real"]), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        bar.update(1)
        writer.add_scalar("train/loss", loss.item(), step)
        if step % args.eval_every == 0 or step == args.steps:
            best = _validate(model, held_set, unaged, writer, args.out, step, loss.item(), best)
            save_state(last, model, opt, sched, step, best, rng)
            if args.stop_at and step >= args.stop_at:
                break
    bar.close()


if __name__ == "__main__":
    main()
