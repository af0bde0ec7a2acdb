"""Variations, measured (issue 40, item 3): does one of `Colorizer.colorize_variations`' n
colorings get a photo's colors right where the first does not, and does every one stay a
believable photo?

    PYTHONPATH=. python experiments/variations_study.py --set photos-hq --limit 40
    PYTHONPATH=. python experiments/variations_study.py --set validation --limit 200

Per photo: the color hit (`metrics.color_hits`: within 30 degrees of hue and at least half the
real chroma, on the real photo's colorful pixels) and PSNR of each variation, and of the gray
version. Reported: the first's mean hit, the best-of-n's (an oracle pick, what a person choosing
from the gallery can reach), the gain; each variation's mean PSNR beside gray's, and the share of
photos where a variation is below gray. `--boost` tries another sector boost than the shipped one.
Photos are scored at a long side of `--side`. Results: experiments/results/variations_<set>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from experiments.restore_harm import photos
from pix2pix_color import Colorizer
from pix2pix_color.core.color import gray_version
from pix2pix_color.evaluation.metrics import color_hits, psnr
from pix2pix_color.pipeline import variations


def scores(colorizer: Colorizer, image: np.ndarray, n: int) -> dict:
    outputs = colorizer.colorize_variations(Image.fromarray(image).convert("L"), n)
    arrays = [np.asarray(o.convert("RGB")) for o in outputs]
    hits = [color_hits(a, image).color_hit for a in arrays]
    return {
        "hit": hits,
        "psnr": [psnr(a, image) for a in arrays],
        "gray_psnr": psnr(gray_version(image), image),
        "sectors": [o.info.get("hue_sector") for o in outputs],
    }


def summary(rows: list[dict]) -> dict:
    rated = [r for r in rows if not np.isnan(r["hit"][0])]
    first = float(np.mean([r["hit"][0] for r in rated]))
    best = float(np.mean([np.nanmax(r["hit"]) for r in rated]))
    n = len(rows[0]["psnr"])
    return {
        "photos": len(rows),
        "photos with colorful pixels": len(rated),
        "first color hit": round(first, 4),
        "best-of-n color hit": round(best, 4),
        "gain": round(best - first, 4),
        "psnr by variation": [round(float(np.mean([r["psnr"][i] for r in rows])), 3) for i in range(n)],
        "gray psnr": round(float(np.mean([r["gray_psnr"] for r in rows])), 3),
        "share of photos with a variation below gray": round(
            float(np.mean([min(r["psnr"]) < r["gray_psnr"] for r in rows])), 4
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="validation", choices=["photos-hq", "validation", "design"])
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("--boost", type=float, default=variations.BOOST)
    args = parser.parse_args()
    variations.BOOST = args.boost  # the study's knob; the library reads it at each decode
    colorizer = Colorizer.from_pretrained()
    rows = []
    for pil in tqdm(photos(args.set, args.limit), total=args.limit, desc=args.set):
        pil = pil.convert("RGB")
        pil.thumbnail((args.side, args.side))
        rows.append(scores(colorizer, np.asarray(pil), args.n))
    result = {"set": args.set, "n": args.n, "boost": args.boost, "side": args.side, **summary(rows)}
    out = Path(__file__).parent / "results" / f"variations_{args.set}.json"
    out.write_text(json.dumps({**result, "per_photo": rows}, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
