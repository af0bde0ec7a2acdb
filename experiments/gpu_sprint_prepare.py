"""Pack what `experiments/gpu_sprint.sh` needs on a GPU machine that reaches no network.

    python experiments/gpu_sprint_prepare.py            # writes .gpu_sprint/ (git-ignored)
    # then, with the device tool: run(command="bash experiments/gpu_sprint.sh", carry=[".gpu_sprint"])

The device machine has PyTorch, accelerate, huggingface_hub, safetensors, scipy and pyarrow, but not
`datasets` or `tyro`, and `../shared` does not travel: everything else must fit in the 64 MiB that
travel with the working tree (the tracked repository is ~47 MB of it, the bundled model most). So
this writes Python 3.12 wheels of the missing packages and Hub-layout subsets of the two training
sets: the landscapes (the first training photos in the split's order and validation photos) and
photos-varied (every third row, in its own order), recompressed at the sizes training keeps them
at (a thumbnail at the training size, a large photo at 2x it, so it stays "large" for the
multi-scale crops). The encoder's ImageNet weights do not travel: the sprint warm-starts from the
shipped model (pix2pix_color/default_model), which carries them.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".gpu_sprint"
TRAVEL_LIMIT = 64 * 2**20
WHEELS = ["datasets==5.2.0", "dill==0.4.1", "multiprocess==0.70.19", "tyro==1.0.17", "docstring-parser==0.17.0"]
WHEELS += ["typeguard==4.4.4"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
  - split: validation
    path: data/validation-*.parquet
---
A subset of the landscape dataset (see its card in ../shared/data/landscapes) for a GPU sprint.
"""
VARIED_CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
A subset of photos-varied (see its card in ../shared/data/photos-varied: its terms apply) for a GPU sprint.
"""
TRAINING_SIZE = 192  # the cpu-pretrained preset's


def tracked_bytes() -> int:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / f.decode()).stat().st_size for f in files if f and (ROOT / f.decode()).is_file())


def download_wheels(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
         "3.12", "--implementation", "cp", *platforms, "-d", str(folder), *WHEELS],
        check=True,
    )  # fmt: skip
    return sum(p.stat().st_size for p in folder.glob("*.whl"))


def recompressed(data: bytes, short_side: int, quality: int) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    scale = short_side / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def rows(split: str, source: Path) -> list[dict]:
    table = pa.concat_tables([pq.read_table(f) for f in sorted((source / "data").glob(f"{split}-*.parquet"))])
    return table.to_pylist()


def write_split(folder: Path, split: str, images: list[bytes]) -> int:
    """One Parquet shard as `datasets` writes it: the column typed as an Image feature."""
    from datasets import Dataset, Features
    from datasets import Image as ImageFeature

    path = folder / "data" / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = {"image": [{"bytes": b, "path": None} for b in images]}
    Dataset.from_dict(rows, features=Features({"image": ImageFeature()})).to_parquet(str(path))
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "data" / "landscapes")
    parser.add_argument("--varied", type=Path, default=ROOT.parent / "shared" / "data" / "photos-varied")
    parser.add_argument("--varied-share", type=float, default=0.3, help="of the photo budget")
    parser.add_argument("--validation-photos", type=int, default=300)
    parser.add_argument("--margin-mb", type=float, default=2.0, help="left free of the 64 MiB")
    parser.add_argument("--quality", type=int, default=75)
    args = parser.parse_args()

    wheels = download_wheels(OUT / "wheels")
    budget = TRAVEL_LIMIT - tracked_bytes() - wheels - int(args.margin_mb * 2**20)
    data = OUT / "landscapes"
    (data / "README.md").parent.mkdir(parents=True, exist_ok=True)
    (data / "README.md").write_text(CARD)
    validation = [
        recompressed(r["image"]["bytes"], TRAINING_SIZE, args.quality) for r in rows("validation", args.dataset)
    ]
    validation = validation[: args.validation_photos]
    validation_size = write_split(data, "validation", validation)
    budget -= validation_size
    # The split's own (shuffled) order, as many photos as fit. So the large photos keep their natural
    # share (3%: weighting them up cost photos-hq PSNR in the CPU runs, experiments/README.md), and the
    # first 200 are the photos train.calibrate fitted the shipped model's temperature on (with the
    # large photos first it fitted 0.40 on them alone: +5% colorfulness on validation, -0.2 dB).
    varied, varied_used = [], 0
    for r in rows("train", args.varied)[::3]:
        encoded = recompressed(
            r["image"]["bytes"], 2 * TRAINING_SIZE if r["kind"] == "wallpaper" else TRAINING_SIZE, args.quality
        )
        if varied_used + len(encoded) > 0.98 * args.varied_share * budget:
            break
        varied.append(encoded)
        varied_used += len(encoded)
    varied_folder = OUT / "photos-varied"
    varied_folder.mkdir(parents=True, exist_ok=True)
    (varied_folder / "README.md").write_text(VARIED_CARD)
    varied_size = write_split(varied_folder, "train", varied)
    budget -= varied_size
    images, n_large, used = [], 0, 0
    for r in rows("train", args.dataset):
        large = r.get("label") == "bsds"
        # A large photo at 2x the training size: still "large" for --multiscale-crops.
        encoded = recompressed(r["image"]["bytes"], 2 * TRAINING_SIZE if large else TRAINING_SIZE, args.quality)
        if used + len(encoded) > 0.98 * budget:  # Parquet adds a little
            break
        images.append(encoded)
        n_large += large
        used += len(encoded)
    size = write_split(data, "train", images)
    print(
        f"{OUT}: wheels {wheels / 2**20:.1f} MB, training photos {len(images)} ({n_large} large; "
        f"{size / 2**20:.1f} MB), photos-varied {len(varied)} ({varied_size / 2**20:.1f} MB), validation "
        f"{len(validation)}; with the repository "
        f"{(tracked_bytes() + wheels + size + varied_size + validation_size) / 2**20:.1f} MB of the 64 MiB that travel"
    )


if __name__ == "__main__":
    main()
