"""Train the damage detector (`pix2pix_color.repair.detector`) on damage drawn over real photos.

    python -m train.repair_detector --out runs/detector --steps 4000

The photos are streamed once with `datasets` (any Hub id or local dataset folder, `--dataset`
repeatable) into a bank of gray crops in memory; every step draws fresh damage over a batch of them
(`pix2pix_color.synthetic.damage`), so the detector never sees the same mark twice. 15% of the crops
stay clean: a detector must learn as much what is *not* damage (leaves, grass, branches, wires).
A held-out tenth of the photos, with damage from fixed seeds, scores it every `--eval-every` steps
(precision, recall, F1 at 0.5, and the share of a clean photo it calls damage); the best F1 is kept.
A crash resumes from `last.pt` exactly (model, optimizer, step, random state).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from datasets import load_dataset
from PIL import Image
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from pix2pix_color.repair.detector import DamageDetector
from pix2pix_color.repair.repair import lightness
from pix2pix_color.synthetic.damage import damage

log = logging.getLogger("train.repair_detector")
CLEAN_SHARE = 0.15


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", help="dataset folder or Hub id (repeatable)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--limit", type=int, default=6000, help="photos read per dataset, at most")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", type=Path, help="start from these weights (a saved detector folder)")
    return p.parse_args(argv)


def _crops_of(gray: np.ndarray, crop: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A gray photo -> crops at several scales: a large photo gives more (its textures at the
    sizes a scan shows them), a thumbnail is enlarged to the crop (a soft scan)."""
    h, w = gray.shape
    if min(h, w) < crop:
        s = crop / min(h, w)
        gray = cv2.resize(gray, (max(crop, round(w * s)), max(crop, round(h * s))), interpolation=cv2.INTER_CUBIC)
        h, w = gray.shape
    count = int(np.clip(h * w / (crop * crop * 4), 1, 6))
    out = []
    for _ in range(count):
        scale = rng.uniform(max(crop / min(h, w), 0.35), 1.0)
        small = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        y, x = rng.integers(0, small.shape[0] - crop + 1), rng.integers(0, small.shape[1] - crop + 1)
        out.append(small[y : y + crop, x : x + crop].copy())
    return out


def build_bank(datasets: list[str], crop: int, limit: int, seed: int):
    """-> (train crops (N,crop,crop) uint8, held-out crops (M,crop,crop) uint8): every tenth photo of
    each dataset is held out."""
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
            gray = np.asarray(image.convert("L"))
            (held if i % 10 == 9 else train).extend(_crops_of(gray, crop, rng))
    return np.stack(train), np.stack(held)


def make_batch(crops: np.ndarray, rng: np.random.Generator, clean_share: float = CLEAN_SHARE):
    """Crops (B,S,S) uint8 -> (L (B,1,S,S) float L*/100, mask (B,1,S,S) float): each crop softened,
    its contrast varied like an old print's, damaged (or left clean), with grain."""
    L, masks = [], []
    for crop in crops:
        x = crop.astype(np.float32)
        if rng.random() < 0.5:
            x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.2))
        lo, hi = rng.uniform(0, 40), rng.uniform(200, 255)  # faded, low-contrast prints
        x = np.clip(lo + x * (hi - lo) / 255.0, 0, 255).astype(np.uint8)
        if rng.random() < clean_share:
            damaged, mask = x, np.zeros(x.shape, bool)
        else:
            damaged, mask = damage(x, rng)
        noisy = damaged.astype(np.float32) + rng.normal(0, rng.uniform(0, 5), damaged.shape)
        if rng.random() < 0.5:
            damaged, mask = damaged[:, ::-1], mask[:, ::-1]
            noisy = noisy[:, ::-1]
        L.append(lightness(np.clip(np.round(noisy), 0, 255).astype(np.uint8)))
        masks.append(mask.astype(np.float32))
    return torch.from_numpy(np.stack(L))[:, None], torch.from_numpy(np.stack(masks))[:, None]


def loss_of(logits, mask):
    """BCE plus soft Dice: damage is a few percent of the pixels, Dice keeps thin marks weighed."""
    bce = F.binary_cross_entropy_with_logits(logits, mask)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * mask).sum() + 1) / (p.sum() + mask.sum() + 1)
    return bce + 0.5 * dice


@torch.inference_mode()
def evaluate(model, held: tuple[torch.Tensor, torch.Tensor], clean: torch.Tensor) -> dict:
    model.eval()
    found = torch.cat([model(x[None]) for x in held[0]]) > 0
    truth = held[1] > 0.5
    tp = (found & truth).sum().item()
    precision, recall = tp / max(found.sum().item(), 1), tp / max(truth.sum().item(), 1)
    false_alarm = torch.cat([model(x[None]) > 0 for x in clean]).float().mean().item()
    model.train()
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return {"precision": precision, "recall": recall, "f1": f1, "clean_flagged": false_alarm}


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


def _held_out(held: np.ndarray):
    """The fixed evaluation: 96 damaged held-out crops and 32 clean ones, from one seed."""
    eval_rng = np.random.default_rng(12345)
    pick = eval_rng.choice(len(held), size=min(96, len(held)), replace=False)
    return make_batch(held[pick], eval_rng, clean_share=0.0), make_batch(held[pick[:32]], eval_rng, clean_share=1.0)[0]


def _save_state(last: Path, model, opt, sched, step: int, best: float, rng) -> None:
    """Everything a resume needs, written under a temporary name first (a crash never leaves half)."""
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
             "best": best, "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}  # fmt: skip
    torch.save(state, last.with_suffix(".tmp"))
    last.with_suffix(".tmp").replace(last)


def _resume(last: Path, model, opt, sched, rng) -> tuple[int, float]:
    """-> (step, best F1) from `last.pt`, or (0, -1) for a fresh run."""
    if not last.exists():
        return 0, -1.0
    state = torch.load(last, weights_only=False)
    model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    log.info("resumed at step %d (best F1 %.3f)", state["step"], state["best"])
    return state["step"], state["best"]


def _validate(model, held_set, clean, writer, out: Path, step: int, loss: float, best: float) -> float:
    """Score the held-out crops, log them, keep the best weights; -> the best F1 so far."""
    scores = evaluate(model, held_set, clean)
    for k, v in scores.items():
        writer.add_scalar(f"val/{k}", v, step)
    log.info("step %d loss %.4f %s", step, loss, json.dumps({k: round(v, 4) for k, v in scores.items()}))
    if scores["f1"] > best:
        model.save_pretrained(out / "best")
        (out / "best" / "scores.json").write_text(json.dumps({"step": step, **scores}, indent=2))
        return scores["f1"]
    return best


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    train, held = _bank(args)
    log.info("%d training crops, %d held out", len(train), len(held))
    held_set, clean = _held_out(held)
    model = DamageDetector.from_pretrained(str(args.init)) if args.init else DamageDetector()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    # At least two warm-up steps: OneCycleLR divides by the warm-up's length (a 20-step smoke run).
    warmup = max(0.05, 2 / args.steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=warmup)
    rng, last = np.random.default_rng(args.seed + 1), args.out / "last.pt"
    step, best = _resume(last, model, opt, sched, rng)
    writer = SummaryWriter(args.out / "tb")
    model.train()
    bar = tqdm(total=args.steps, initial=step, desc="detector")
    while step < args.steps:
        t = time.perf_counter()
        L, mask = make_batch(train[rng.integers(0, len(train), args.batch_size)], rng)
        loss = loss_of(model(L), mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        bar.update(1)
        writer.add_scalar("train/loss", loss.item(), step)
        writer.add_scalar("train/step_s", time.perf_counter() - t, step)
        if step % args.eval_every == 0 or step == args.steps:
            best = _validate(model, held_set, clean, writer, args.out, step, loss.item(), best)
            _save_state(last, model, opt, sched, step, best, rng)
    bar.close()


if __name__ == "__main__":
    main()
