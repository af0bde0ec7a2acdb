"""What repair costs: `repair_photo` on a damaged gray scan at 1, 4 and 12 MP, beside the naive way
(the detector at full resolution in one piece, contiguous memory) and the simple baseline (5x5
median difference + Telea), each split into finding and filling. Goal (issue 42): 12 MP <= 3 s.

    python benchmarks/bench_repair.py
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import torch

from pix2pix_color.repair.repair import THRESHOLD, default_detector, fill, find_damage, lightness
from pix2pix_color.synthetic.damage import DamageStyle, damage


def best_of(fn, runs: int = 2) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def naive_find(gray: np.ndarray) -> np.ndarray:
    model = default_detector().to(memory_format=torch.contiguous_format)
    with torch.inference_mode():
        p = torch.sigmoid(model(torch.from_numpy(lightness(gray))[None, None]))[0, 0].numpy()
    default_detector().to(memory_format=torch.channels_last)
    return p > THRESHOLD


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| size | repair: find | repair: fill | repair total | naive find (one piece, contiguous) | median + Telea |")
    print("|---|---|---|---|---|---|")
    for mp, (w, h) in ((1, (1152, 864)), (4, (2304, 1728)), (12, (4000, 3000))):
        base = cv2.GaussianBlur(rng.integers(0, 255, (h // 8, w // 8), np.uint8), (0, 0), 2)
        clean = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
        damaged, _ = damage(clean, rng, DamageStyle(cracks=3, scratches=3, dust=80, blotches=2, width=2.0))
        mask = find_damage(damaged)
        t_find = best_of(lambda: find_damage(damaged))
        t_fill = best_of(lambda: fill(damaged, mask))
        t_naive = best_of(lambda: naive_find(damaged), runs=1)
        median = np.abs(damaged.astype(np.int16) - cv2.medianBlur(damaged, 5)) > 20
        t_median = best_of(lambda: fill(damaged, np.abs(damaged.astype(np.int16) - cv2.medianBlur(damaged, 5)) > 20))
        print(
            f"| {mp} MP | {t_find:.2f} s | {t_fill:.2f} s | **{t_find + t_fill:.2f} s** | {t_naive:.2f} s "
            f"({t_naive / t_find:.1f}x) | {t_median:.2f} s ({median.mean():.1%} flagged) |"
        )


if __name__ == "__main__":
    main()
