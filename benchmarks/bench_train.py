"""Training throughput: the data pipeline alone, and full GAN steps, for the `paper` and `cpu-small` presets.

    python benchmarks/bench_train.py [--dataset ../shared/data/landscapes] [--batches 30] [--steps 3]

Data pipeline: `train.data.training_loader` (datasets streaming, PIL decode/resize/crop/flip in
workers) + Lab on the training device, side by side with the seed's loader: a map-style Dataset
that decodes, resizes and converts each image to Lab with scikit-image inside 2 DataLoader workers.
Training: `gan_step` images/s on this machine (bf16 + channels_last on GPU when one is present).
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from accelerate import Accelerator
from common import machine, table
from PIL import Image
from skimage.color import rgb2lab
from torch.utils.data import DataLoader, Dataset

from train import with_preset
from train.data import load_splits, to_model_space, training_loader
from train.loop import build_models, gan_step

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "landscapes"


class SeedDataset(Dataset):
    """The seed blog's loader: PIL -> resize -> flip -> numpy -> skimage rgb2lab, one image at a time."""

    def __init__(self, dataset: Path, size: int):
        self.images = []
        for shard in sorted((dataset / "data").glob("train-*.parquet")):
            self.images += [row["bytes"] for row in pq.read_table(shard, columns=["image"]).column("image").to_pylist()]
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        img = Image.open(io.BytesIO(self.images[i])).convert("RGB").resize((self.size, self.size), Image.BICUBIC)
        if np.random.rand() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        lab = rgb2lab(np.array(img)).astype("float32")
        lab = torch.from_numpy(lab).permute(2, 0, 1)
        return {"L": lab[[0]] / 50.0 - 1.0, "ab": lab[[1, 2]] / 110.0}


def images_per_second(batches, n_batches: int, consume) -> float:
    it = iter(batches)
    consume(next(it))  # worker start-up is not throughput
    start, n = time.perf_counter(), 0
    for _ in range(n_batches):
        n += consume(next(it))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    accelerator = Accelerator(mixed_precision="bf16" if torch.cuda.is_available() else "no")
    device = accelerator.device
    data_rows, step_rows = [], []
    for preset in ("cpu-small", "paper"):
        cfg = with_preset(
            dataset=args.dataset, output_dir="/tmp/bench", max_steps=1, preset=preset, num_workers=args.workers
        )
        splits = load_splits(cfg)

        def ours(batch) -> int:
            L, ab = to_model_space(batch["rgb"].to(device))
            return L.shape[0]

        seed_loader = DataLoader(
            SeedDataset(Path(args.dataset), cfg.image_size),
            batch_size=cfg.batch_size,
            shuffle=True,
            num_workers=args.workers,
        )

        def seed(batch) -> int:
            return batch["L"].to(device).shape[0]

        ours_ips = images_per_second(training_loader(splits, cfg, epoch=0), args.batches, ours)
        seed_ips = images_per_second(seed_loader, args.batches, seed)
        data_rows.append(
            [
                preset,
                f"{cfg.image_size}px, batch {cfg.batch_size}",
                f"{seed_ips:.0f}",
                f"{ours_ips:.0f}",
                f"{ours_ips / seed_ips:.1f}x",
            ]
        )

        G, D = build_models(cfg)
        channels_last = device.type == "cuda" or bool(cfg.channels_last)
        if channels_last:
            G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
        G, D, opt_g, opt_d = accelerator.prepare(G, D, opt_g, opt_d)
        rgb = next(iter(training_loader(splits, cfg, epoch=0)))["rgb"].to(device)
        L, ab = to_model_space(rgb)
        if channels_last:
            L, ab = L.contiguous(memory_format=torch.channels_last), ab.contiguous(memory_format=torch.channels_last)
        for adversarial in (False, True):
            gan_step(G, D, D, opt_g, opt_d, L, ab, cfg, accelerator, adversarial=adversarial)  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(args.steps):
                gan_step(G, D, D, opt_g, opt_d, L, ab, cfg, accelerator, adversarial=adversarial)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = (time.perf_counter() - start) / args.steps
            phase = "GAN + L1" if adversarial else "L1 warm-up"
            step_rows.append([preset, phase, f"{seconds:.2f}", f"{L.shape[0] / seconds:.1f}"])
        del G, D, opt_g, opt_d
    print(f"Training data and steps ({machine()}, device {device}, {args.workers} workers)\n")
    print(table(["preset", "batches", "seed loader img/s", "ours img/s", "speedup"], data_rows))
    print()
    print(table(["preset", "phase", "s/step", "img/s"], step_rows))


if __name__ == "__main__":
    main()
