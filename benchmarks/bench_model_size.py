"""What the generator's size and the working resolution cost on this machine.

    python benchmarks/bench_model_size.py

For a few U-Net sizes: parameters, size on disk (float16 / float32), one cpu-small training step
(batch 16 at 128x128, GAN phase), and the generator's inference time at several working resolutions
(the rest of `colorize` does not depend on the model). What they buy in quality is measured with
`pix2pix-color evaluate --working-size N` (see benchmarks/README.md).
"""

from __future__ import annotations

import time

import torch
from accelerate import Accelerator
from common import machine, table, timeit

from pix2pix_color.models.networks import count_parameters
from train import with_preset
from train.loop import build_models, gan_step

SIZES = [
    ("cpu-small (shipped)", dict(gen_depth=7, gen_base_channels=32, gen_max_channels=256)),
    ("depth 7, 32 -> 512", dict(gen_depth=7, gen_base_channels=32, gen_max_channels=512)),
    ("unet_128 (depth 7, 64 -> 512)", dict(gen_depth=7, gen_base_channels=64, gen_max_channels=512)),
    ("unet_256 (paper)", dict(gen_depth=8, gen_base_channels=64, gen_max_channels=512, image_size=256, load_size=None)),
]


def main() -> None:
    accelerator = Accelerator(mixed_precision="no")
    rows = []
    for name, sizes in SIZES:
        cfg = with_preset(dataset="x", output_dir="/tmp/bench", max_steps=1, preset="cpu-small", **sizes)
        torch.manual_seed(0)
        G, D = build_models(cfg)
        params = count_parameters(G)
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
        step = cfg.image_size  # the smallest side this generator takes: 128 (depth 7) or 256 (depth 8)
        L = (torch.rand(16, 1, step, step) * 2 - 1).contiguous(memory_format=torch.channels_last)
        ab = (torch.randn(16, 2, step, step) * 0.2).contiguous(memory_format=torch.channels_last)
        step_s = timeit(lambda: gan_step(G, D, D, opt_g, opt_d, L, ab, cfg, accelerator, adversarial=True), repeat=2)
        G.eval()
        infer = []
        with torch.inference_mode():
            for working in (128, 256, 512):
                side = max(step, working)
                x = torch.rand(1, 1, side, side)
                infer.append(f"{timeit(lambda: G(x), repeat=3) * 1e3:.0f}" if side == working else "n/a")
        rows.append(
            [
                name,
                f"{params / 1e6:.1f}M",
                f"{params * 2 / 1e6:.0f} / {params * 4 / 1e6:.0f}",
                f"{step_s:.2f}" + ("" if step == 128 else " (at 256)"),
                *infer,
            ]
        )
        time.sleep(1)
    print(f"generator sizes ({machine()})\n")
    print(
        table(
            ["generator", "params", "MB fp16 / fp32", "train step s (16 x 128px)", "infer ms @128", "@256", "@512"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
