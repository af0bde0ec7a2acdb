"""Learning curve: is the default model limited by compute or by data?

    python experiments/learning_curve.py score RUN_DIR [RUN_DIR ...]   # every checkpoint of the runs
    python experiments/learning_curve.py score --model pix2pix_color/default_model --images-seen 80000 --name shipped
    python experiments/learning_curve.py score --model runs/study-cls-rebal-hints-1250/model \
        --images-seen 20000 --name scratch@1250
    python experiments/learning_curve.py table                          # table + plot from the results

Each model is scored like the card's numbers: `pix2pix_color.evaluation.metrics.evaluate` at full resolution
(the app's working size), on validation photos and on `photos-hq` (large photos as people upload
them, never trained on). Checkpoints of a run are decoded at the shipped model's temperature (0.76;
a run's own checkpoints would decode at 1, which is less colorful), so points differ only by
training. "images seen" counts from scratch: a run warm-started from the shipped model (80,000
images) starts there; the points named scratch@STEPS are the shipped recipe trained from scratch for
fewer steps with its whole schedule (`recipe_study.py --steps`, calibrated like the shipped model),
so the curve reads both ways from the shipped model: less compute from scratch, more as a
continuation. A third set, "general", is 4 photos that are not landscapes (a person, a cat, a cup of
coffee, a rocket at night: scikit-image's bundled public-domain/CC0 photos, 0.2-0.3 MP), the kind of
photo the card warns about; 4 photos say little, and they are reported as such. Results:
experiments/results/learning_curve.json; plot: experiments/results/learning_curve.png (needs matplotlib:
`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pix2pix_color import Colorizer, UNetGenerator  # noqa: E402
from pix2pix_color.evaluation.metrics import evaluate  # noqa: E402
from pix2pix_color.io.photo_sets import photos_from_dataset, photos_from_folder  # noqa: E402

RESULTS = ROOT / "experiments" / "results" / "learning_curve.json"
PLOT = ROOT / "experiments" / "results" / "learning_curve.png"
SHARED = ROOT.parent / "shared" / "data"
SHIPPED_IMAGES = 80_000
TEMPERATURE = 0.76
METRICS = ("psnr", "hue_hit", "colorfulness_gap")
GENERAL = ("astronaut", "chelsea", "coffee", "rocket")  # skimage.data: public domain or CC0 (their docstrings)


def general_photos() -> list:
    from PIL import Image
    from skimage import data

    return [Image.fromarray(getattr(data, name)()) for name in GENERAL]


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def score_model(G: UNetGenerator, sets: dict[str, list]) -> dict:
    colorizer = Colorizer(G.eval())
    scores = {}
    for name, photos in sets.items():
        result = evaluate(colorizer.colorize_batch, photos, batch_size=8)
        scores[name] = {k: v.as_dict() for k, v in result.items()}
    return scores


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    found = []
    for folder in sorted((run / "checkpoints").glob("[0-9]*")):
        found.append((int(folder.name), folder / "pretrained_model"))
    if (run / "model" / "config.json").is_file():
        step = json.loads((run / "run.json").read_text())["steps"]
        found = [(s, p) for s, p in found if s != step] + [(step, run / "model")]
    return found


def score(args: argparse.Namespace) -> None:
    results = load(RESULTS)
    todo = []
    if args.model:
        todo.append((args.name, args.images_seen, Path(args.model), None))
    for run in args.runs:
        start = SHIPPED_IMAGES if args.warm_started else 0
        for step, path in checkpoints(run):
            todo.append((f"{run.name}@{step}", start + step * args.batch_size, path, TEMPERATURE))
    todo = [t for t in todo if args.again or t[0] not in results]
    if not todo:
        return  # nothing new: the photo sets are not even decoded (a watcher calls this every few minutes)
    validation = list(photos_from_dataset(str(SHARED / "landscapes"), "validation", args.validation_photos))
    photos_hq = list(photos_from_folder(SHARED / "photos-hq", None))
    sets = {"validation": validation, "photos-hq": photos_hq, "general": general_photos()}
    for name, seen, path, temperature in todo:
        G = UNetGenerator.from_pretrained(str(path))
        if temperature is not None and G.head == "classification":
            G = G.with_decoding(temperature=temperature)
        with torch.inference_mode():
            scores = score_model(G, sets)
        results = load(RESULTS)  # read again: another scorer (a watcher on a running run) may have added to it
        results[name] = {"images_seen": seen, "model": str(path), "temperature": G.temperature, "scores": scores}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
        line = [f"{name}:"]
        for split, s in scores.items():
            m, g = s["model"], s["gray"]
            line.append(f"{split} {m['psnr']:.2f} dB (gray {g['psnr']:.2f}), hue {m['hue_hit']:.3f};")
        print(" ".join(line), flush=True)


def table(args: argparse.Namespace) -> None:
    results = sorted(load(RESULTS).items(), key=lambda kv: (kv[1]["images_seen"], kv[0]))
    columns = ["PSNR (vs gray)", "hue hit", "colorfulness"]
    header = [f"{split} {c}" for split in ("validation", "photos-hq") for c in columns] + ["general PSNR (vs gray)"]
    print("| model | images seen | " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results:
        cells = []
        for split in ("validation", "photos-hq"):
            m, g = r["scores"][split]["model"], r["scores"][split]["gray"]
            cells += [
                f"{m['psnr']:.2f} ({m['psnr'] - g['psnr']:+.2f})",
                f"{m['hue_hit']:.3f}",
                f"{m['colorfulness_gap']:+.1f}%",
            ]
        general = r["scores"].get("general")
        m, g = (general["model"], general["gray"]) if general else ({}, {})
        cells.append(f"{m['psnr']:.2f} ({m['psnr'] - g['psnr']:+.2f})" if general else "-")
        print(f"| {name} | {r['images_seen']:,} | " + " | ".join(cells) + " |")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no plot: pip install matplotlib)")
        return
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    labels = {
        "psnr": "PSNR gain over gray (dB)",
        "hue_hit": "hue hit rate",
        "colorfulness_gap": "colorfulness vs real (%)",
    }
    # One line per run and set, each through the shipped model: a warm-started run starts from it,
    # the from-scratch points ("scratch") end at it (it is the same recipe at 80,000 images).
    runs = sorted({name.split("@")[0] for name, _ in results if "@" in name})
    start = [r for name, r in results if name == "shipped"]
    for ax, metric in zip(axes, METRICS):
        for split, marker in (("validation", "o"), ("photos-hq", "s")):
            for k, run_name in enumerate(runs):
                points = start + [r for name, r in results if name.split("@")[0] == run_name]
                points.sort(key=lambda r: r["images_seen"])
                xs = [r["images_seen"] / 1000 for r in points]
                ys = []
                for r in points:
                    m, g = r["scores"][split]["model"], r["scores"][split]["gray"]
                    ys.append(m[metric] - g[metric] if metric == "psnr" else m[metric])
                style = "-" if split == "validation" else "--"
                ax.plot(xs, ys, marker + style, color=f"C{k}", label=f"{run_name}, {split}")
        ax.set_xlabel("images seen (thousands)")
        ax.set_title(labels[metric])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    print(f"written {PLOT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score")
    s.add_argument("runs", nargs="*", type=Path, help="training output folders")
    s.add_argument("--warm-started", action="store_true", help="the runs started from the shipped model")
    s.add_argument("--batch-size", type=int, default=16, help="the runs' global batch")
    s.add_argument("--model", help="one model folder to score")
    s.add_argument("--name", default="model")
    s.add_argument("--images-seen", type=int, default=SHIPPED_IMAGES)
    s.add_argument("--validation-photos", type=int, default=500)
    s.add_argument("--again", action="store_true", help="score models already in the results again")
    sub.add_parser("table")
    args = parser.parse_args()
    score(args) if args.command == "score" else table(args)


if __name__ == "__main__":
    main()
