"""Is the encoder's ImageNet load right? EfficientNet-Lite0 with its ImageNet classifier on the ImageNet
sample photos of ../shared/data/photos-varied (kind "sample", label "n02346627_..."), top-1 and top-5
over those whose WordNet id is one of the 1,000 ImageNet classes, in colour and in gray (what the
colorizer's encoder sees), with the two input normalisations a converted TF checkpoint may expect.

    python experiments/encoder_imagenet.py [--limit N]
"""

from __future__ import annotations

import argparse
import glob
import io
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # their table() and machine()
from common import machine, table  # noqa: E402

from pix2pix_color.core.color import l_to_gray, rgb_to_l
from train.pretrained import imagenet_encoder

VARIED = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos-varied"
WNIDS = Path(__file__).resolve().parent / "data" / "imagenet_wnids.txt"  # sorted: line i is class i
NORMALISATIONS = {
    "ImageNet mean/std": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "TF (x-0.5)/0.5": ((0.5,) * 3, (0.5,) * 3),
}
SIZE = 224


def sample_photos(limit: int | None) -> list[tuple[Image.Image, int]]:
    files = sorted(glob.glob(str(VARIED / "data" / "*.parquet")))
    if not files:
        raise SystemExit(f"no photos-varied Parquet shards under {VARIED}: this benchmark needs ../shared")
    index = {wnid: i for i, wnid in enumerate(WNIDS.read_text().split())}
    out = []
    for path in files:
        table_ = pq.read_table(path, columns=["image", "label", "kind"]).to_pylist()
        for row in table_:
            wnid = row["label"].split("_", 1)[0]
            if row["kind"] == "sample" and wnid in index:
                out.append((Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB"), index[wnid]))
                if limit and len(out) >= limit:
                    return out
    return out


def center_crop(image: Image.Image) -> torch.Tensor:
    """Short side to SIZE (bicubic), centre crop SIZE x SIZE -> float (3,SIZE,SIZE) in [0,1]."""
    w, h = image.size
    s = SIZE / min(w, h)
    image = image.resize((max(SIZE, round(w * s)), max(SIZE, round(h * s))), Image.BICUBIC)
    w, h = image.size
    left, top = (w - SIZE) // 2, (h - SIZE) // 2
    array = np.asarray(image.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    photos = sample_photos(args.limit)
    model = imagenet_encoder(classifier=True).eval()
    rgb = torch.stack([center_crop(image) for image, _ in photos])
    # The gray photo exactly as the colorizer's encoder gets it: L* -> sRGB gray on all channels.
    gray = l_to_gray(rgb_to_l(rgb)).expand(-1, 3, -1, -1)
    labels = torch.tensor([label for _, label in photos])
    rows = []
    for name, (mean, std) in NORMALISATIONS.items():
        m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        for kind, x in (("colour", rgb), ("gray", gray)):
            start = time.perf_counter()
            with torch.inference_mode():
                logits = torch.cat([model((batch - m) / s) for batch in x.split(64)])
            top5 = logits.topk(5, dim=1).indices
            top1 = (top5[:, 0] == labels).float().mean().item()
            top5_hit = (top5 == labels[:, None]).any(dim=1).float().mean().item()
            rows.append([name, kind, f"{top1:.3f}", f"{top5_hit:.3f}", f"{time.perf_counter() - start:.1f} s"])
    print(f"EfficientNet-Lite0 ({len(photos)} ImageNet photos of photos-varied, {SIZE} px centre crops); {machine()}")
    print(table(["normalisation", "input", "top-1", "top-5", "time"], rows))


if __name__ == "__main__":
    main()
