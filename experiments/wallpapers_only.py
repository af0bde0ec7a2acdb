"""The `photos-varied` wallpapers alone, as a Hub-layout folder: the data ablation of gen8w (issue 28).

    PYTHONPATH=. python experiments/wallpapers_only.py /tmp/wallpapers
    python -m train ... --mix-with /tmp/wallpapers --large-photo-repeat 7 ...

`photos-varied` holds 284 large wallpapers (leaves, grass, deserts, towns at the size people upload)
and 1,792 ImageNet samples of 192 px (animals, people, objects). To tell which half helps which
set, this writes the wallpaper rows alone, with the same columns and a copy of the card (its terms
apply unchanged), so `--mix-with` streams them by the same path as the whole set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

VARIED = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos-varied"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    shards = sorted((VARIED / "data").glob("train-*.parquet"))
    if not shards:
        raise SystemExit(f"no Parquet shards under {VARIED / 'data'}: this needs ../shared")
    table = pa.concat_tables([pq.read_table(s) for s in shards])  # the datasets features travel in its metadata
    wallpapers = table.filter(pc.equal(table["kind"], "wallpaper"))
    (args.out / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(wallpapers, args.out / "data" / "train-00000-of-00001.parquet")
    card = (VARIED / "README.md").read_text()
    title = "Varied photos (offline training set)"
    (args.out / "README.md").write_text(card.replace(title, f"{title}, wallpapers only"))
    print(f"wrote {wallpapers.num_rows} of {table.num_rows} rows to {args.out}")


if __name__ == "__main__":
    main()
