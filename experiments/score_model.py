"""Score models the way the ship rule reads them: the landscape validation split, `photos-hq` at each
working size the app could offer, and the four non-landscape photos of scikit-image, against the
grayscale baseline; PSNR, hue hit rate and colorfulness gap, one JSON record per model and set.

    PYTHONPATH=. python experiments/score_model.py MODEL [MODEL ...] [--names shipped gen6] \
        [--validation-photos 500] [--sizes 192 256 512] [--out experiments/results/score_gen6.json]

MODEL: a model folder or "bundled". Working sizes are snapped to each network's multiple, as the
app snaps them; "auto" is the model's own training size.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine, table  # noqa: E402

from pix2pix_color import Colorizer  # noqa: E402
from pix2pix_color.evaluation.metrics import evaluate  # noqa: E402
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder  # noqa: E402
from pix2pix_color.pipeline.steps import (  # noqa: E402
    WORKING_SIZE_HUE_MARGIN,
    WORKING_SIZE_PSNR_MARGIN,
    WORKING_SIZES_FILE,
    sizes_no_worse,
)

SHARED = ROOT.parent / "shared" / "data"
GENERAL = ("astronaut", "chelsea", "coffee", "rocket")  # skimage.data: public domain or CC0 (their docstrings)


def general_photos() -> list:
    from PIL import Image
    from skimage import data

    return [Image.fromarray(getattr(data, name)()) for name in GENERAL]


def row(summary: dict) -> dict:
    m, g = summary["model"], summary["gray"]
    return {
        "n": m.n_images,
        "psnr": round(m.psnr, 3),
        "gray_psnr": round(g.psnr, 3),
        "vs_gray": round(m.psnr - g.psnr, 3),
        "color_hit": round(m.color_hit, 4),  # the strict one first (issue 40)
        "chroma_ratio": round(m.chroma_ratio, 4),
        "color_hit_warm": round(m.color_hit_warm, 4),
        "chroma_ratio_warm": round(m.chroma_ratio_warm, 4),
        "color_hit_cool": round(m.color_hit_cool, 4),
        "chroma_ratio_cool": round(m.chroma_ratio_cool, 4),
        "hue_hit": round(m.hue_hit, 4),
        "colorfulness_gap": round(m.colorfulness_gap, 2),
        "ssim": round(m.ssim, 4),
    }


def write_working_sizes(folder: Path, own: int, scores: dict) -> None:
    """The model's working_sizes.json: photos-hq PSNR and hue hit rate per working size, and the sizes
    that `pipeline.sizes_no_worse` offers from them (the app and the library apply the rule again)."""
    measured = {}
    for key, record in scores.items():
        if key.startswith("photos-hq@"):
            size = int(key.split("@")[1].split()[0])
            measured[size] = {"psnr": record["psnr"], "hue_hit": record["hue_hit"], "n": record["n"]}
    document = {
        "photos_hq": {str(k): v for k, v in sorted(measured.items())},
        "auto": own,
        "offered": sizes_no_worse(measured, own),
        "rule": f"PSNR within {WORKING_SIZE_PSNR_MARGIN} dB and hue hit rate within {WORKING_SIZE_HUE_MARGIN} "
        f"of the model's own size ({own} px) on photos-hq",
        "measured": f"{time.strftime('%Y-%m-%d')}, experiments/score_model.py, {machine()}",
    }
    (folder / WORKING_SIZES_FILE).write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {folder / WORKING_SIZES_FILE}: offered {document['offered']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--names", nargs="*")
    parser.add_argument("--validation-photos", type=int, default=500)
    parser.add_argument("--sizes", nargs="*", default=["auto", "256", "512"])
    parser.add_argument("--hints", type=int, default=0, help="also score with N sampled hints per photo")
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results" / "scores.json"))
    parser.add_argument(
        "--write-working-sizes",
        action="store_true",
        help="write each model folder's working_sizes.json from its photos-hq scores (what the app offers)",
    )
    args = parser.parse_args()
    if not (SHARED / "photos-hq").is_dir():
        raise SystemExit(f"no photo sets under {SHARED}: scoring needs ../shared")
    names = args.names or [Path(m).name for m in args.models]
    sets = {
        "validation": list(photos_from_dataset(str(SHARED / "landscapes"), "validation", args.validation_photos)),
        "photos-hq": list(photos_from_folder(SHARED / "photos-hq" / "validation")),
        "general": general_photos(),
    }
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    rows = []
    for name, model in zip(names, args.models):
        base = Colorizer.from_pretrained(None if model == "bundled" else model, backend="torch")
        multiple = base.generator.multiple
        for size_name in args.sizes:
            size = None if size_name == "auto" else max(multiple, round(int(size_name) / multiple) * multiple)
            colorizer = Colorizer(base.generator, working_size=size, model_id=base.model_id)
            label = f"{size or base.working_size}" + (" (auto)" if size is None else "")
            for set_name, photos in sets.items():
                if set_name != "photos-hq" and size is not None:
                    continue  # the working-size question is asked of the large photos
                start = time.perf_counter()
                record = row(evaluate(colorizer.colorize_batch, photos, batch_size=8))
                if args.hints and size is None:  # hints at the model's own size only (the card's rows)
                    hinted = evaluate(colorizer.colorize_batch, photos, batch_size=8, hints_per_photo=args.hints)
                    record[f"hints{args.hints}"] = row(hinted)
                record["seconds"] = round(time.perf_counter() - start, 1)
                results.setdefault(name, {})[f"{set_name}@{label}"] = record
                cells = [name, set_name, label, record["n"], f"{record['psnr']:.2f}", f"{record['vs_gray']:+.2f}",
                         f"{record['hue_hit']:.3f}", f"{record['colorfulness_gap']:+.1f}%"]  # fmt: skip
                if args.hints:
                    hinted = record.get(f"hints{args.hints}")
                    cells.append(f"{hinted['psnr']:.2f} / {hinted['hue_hit']:.3f}" if hinted else "")
                rows.append(cells)
                print(rows[-1], flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results, indent=2))
        if args.write_working_sizes and model != "bundled" and Path(model).is_dir():
            write_working_sizes(Path(model), base.generator.image_size, results[name])
    print(f"\n{machine()}\n")
    headers = ["model", "set", "working size", "n", "PSNR", "vs gray", "hue hit", "colorfulness vs real"]
    print(table(headers + ([f"{args.hints} hints: PSNR / hue"] if args.hints else []), rows))


if __name__ == "__main__":
    main()
