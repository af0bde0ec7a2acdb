"""Recipe study at equal compute: which way of training gives the best default model?

    python experiments/recipe_study.py --recipes l1 cls-rebal ...   # train + evaluate, skipping finished ones
    python experiments/recipe_study.py --recipes cls-rebal+hints --steps 1250   # the same recipe at less compute
    python experiments/recipe_study.py --table                      # print the table from the results

Every recipe trains the cpu-small generator (depth 7, 32 -> 256 channels, 128 px crops) from scratch
for the same number of steps at the same batch size, so each sees the same number of images (5,000
steps unless `--steps` says otherwise: a run of fewer steps is recorded as NAME@STEPS, a point of the
learning curve from scratch with its whole schedule, its lr decaying over the second half); each
is then calibrated the same way on 200 training photos (`python -m train.calibrate`, to -14%
colorfulness: a chroma gain for regression, a decoding temperature for classification) and
`pix2pix-color evaluate` scores its exported model, at full resolution, on the whole validation split
and on `photos-hq` (large photos as people upload them). Results go to
experiments/results/recipe_study.json; the table is in experiments/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results" / "recipe_study.json"
STEPS = 5000


def common(steps: int) -> list[str]:
    """What every recipe shares: the generator, the schedule (lr decaying over the second half), precision."""
    return [
        "--preset", "cpu-small",
        "--max-steps", str(steps),
        "--lr-decay-steps", str(steps // 2),
        "--mixed-precision", "bf16",
        "--checkpoint-every", "1000",
        "--validate-every", str(steps),
        "--validation-images", "500",
        "--export-dtype", "float16",
    ]  # fmt: skip


# "warmup": the share of the steps trained without the adversarial term (1, all of them, unless said).
RECIPES: dict[str, dict] = {
    "l1": {
        "what": "L1 only (the first default model's recipe)",
        "flags": [],
    },
    "l1-gan-ema": {
        "what": "L1 warm-up for half the steps, then pix2pix GAN + 100 x L1; generator EMA 0.999",
        "flags": ["--ema-decay", "0.999"],
        "warmup": 0.5,
    },
    "cls": {
        "what": "cross-entropy over 253 a*b* bins, annealed mean T=1 (no rebalancing)",
        "flags": ["--head", "classification"],
    },
    "cls-rebal": {
        "what": "cross-entropy over a*b* bins, Zhang et al. class rebalancing lambda 0.5",
        "flags": ["--head", "classification", "--color-rebalance", "0.5"],
    },
}


def with_hints(name: str) -> dict:
    base = RECIPES[name]
    return {
        **base,
        "what": base["what"] + "; + simulated color hints",
        "flags": base["flags"] + ["--hints"],
        "hints": True,
    }


def recipe(name: str) -> dict:
    if name.endswith("+hints"):
        return with_hints(name.removesuffix("+hints"))
    return RECIPES[name]


def run(cmd: list[str]) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def evaluate(model: Path, name: str, args: argparse.Namespace, hints: int) -> dict:
    out = ROOT / "experiments" / "results" / "study" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    sets = {
        "validation": ["--dataset", args.dataset, "--split", "validation"],
        "photos-hq": ["--images", args.photos_hq],
    }
    scores = {}
    for set_name, source in sets.items():
        for n in (0, hints) if hints else (0,):
            report = out.with_suffix(f".{set_name}.hints{n}.json")
            run(
                [
                    sys.executable,
                    "-m",
                    "pix2pix_color.cli",
                    "evaluate",
                    *source,
                    "--model",
                    str(model),
                    "-q",
                    "--hints-per-photo",
                    str(n),
                    "--output",
                    str(report),
                ]
            )
            result = json.loads(report.read_text())
            scores[f"{set_name}" + (f"/hints{n}" if n else "")] = {"model": result["model"], "gray": result["gray"]}
    return scores


def study(args: argparse.Namespace) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for recipe_name in args.recipes:
        name = recipe_name if args.steps == STEPS else f"{recipe_name}@{args.steps}"
        if name in results and not args.again:
            print(f"{name}: done already (--again to redo)")
            continue
        spec = recipe(recipe_name)
        flags = [*spec["flags"], "--l1-warmup-steps", str(round(args.steps * spec.get("warmup", 1.0)))]
        run_dir = ROOT / "runs" / f"study-{name.replace('+', '-').replace('@', '-')}"
        started = time.time()
        run(
            [
                sys.executable,
                "-m",
                "train",
                "--dataset",
                args.dataset,
                "--output-dir",
                str(run_dir),
                *common(args.steps),
                *flags,
                "--resume",
            ]
        )
        run([sys.executable, "-m", "train.calibrate", str(run_dir), "--photos", "200"])
        record = json.loads((run_dir / "run.json").read_text())  # after calibration: it records the knob
        # Hint scores only at the study's full compute: the shorter runs are points of the curve without hints.
        hints = 10 if spec.get("hints") and args.steps == STEPS else 0
        results[name] = {
            "what": spec["what"],
            "flags": flags,
            "steps": record["steps"],
            "images_seen": record["steps"] * record["config"]["batch_size"],
            "train_hours": record["wall_seconds"] / 3600,
            "hardware": record["hardware"],
            "calibration": {
                k: v for k, v in record.get("calibration", {}).items() if k in ("knob", "chroma_gain", "temperature")
            },
            "scores": evaluate(run_dir / "model", name, args, hints),
            "wall_hours_with_evaluation": (time.time() - started) / 3600,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        # Re-read first: another study process may have added its recipe meanwhile.
        results = {**(json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}), name: results[name]}
        RESULTS.write_text(json.dumps(results, indent=2))
        print(table(results), flush=True)


def table(results: dict) -> str:
    lines = [
        "| recipe | images seen | train h | calibrated | set "
        "| PSNR (vs gray) | SSIM | hue hit | colorfulness vs real |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        knob = r.get("calibration", {}).get("knob", "chroma_gain")
        calibrated = f"{'T' if knob == 'temperature' else 'gain'} {r.get('calibration', r).get(knob, 1.0):.2f}"
        for set_name, s in r["scores"].items():
            m, g = s["model"], s["gray"]
            lines.append(
                f"| {name} | {r['images_seen']:,} | {r['train_hours']:.2f} | {calibrated} | {set_name} "
                f"| {m['psnr']:.2f} ({m['psnr'] - g['psnr']:+.2f}) "
                f"| {m['ssim']:.4f} | {m['hue_hit']:.3f} | {m['colorfulness_gap']:+.1f}% |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES), help=f"{list(RECIPES)}, or NAME+hints")
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "landscapes"))
    parser.add_argument("--photos-hq", default=str(ROOT.parent / "shared" / "data" / "photos-hq" / "validation"))
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps of 16 photos (default: the study's)")
    parser.add_argument("--again", action="store_true", help="redo recipes that have results")
    parser.add_argument("--table", action="store_true", help="only print the table of the results so far")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(RESULTS.read_text())))
    else:
        study(args)


if __name__ == "__main__":
    main()
