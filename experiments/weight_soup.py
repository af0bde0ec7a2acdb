"""A weight soup of the shipped model and a continuation of it, calibrated like the shipped model.

    python experiments/weight_soup.py pix2pix_color/default_model runs/gen3b/model runs/soup --alpha 0.5 \
        --run runs/gen3b
    python experiments/learning_curve.py score --model runs/soup --images-seen 304000 --name soup

Interpolating the weights of a model and its fine-tuned continuation (WiSE-FT, Wortsman et al.
2022) often keeps the continuation's gains where the data agree and the original's robustness where
they do not. Both models must share one architecture (a warm start does). The soup's decoding
temperature is fitted as `train.calibrate` fits a finished run's: on the run's first `--photos`
training photos, to the same colorfulness gap.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pix2pix_color import UNetGenerator  # noqa: E402
from train import data  # noqa: E402
from train.calibrate import fit_temperature  # noqa: E402
from train.checkpoint import STATE_DIR, STEP_FILE, list_checkpoints  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.export import export_model  # noqa: E402
from train.validate import run_validation, sample_grid  # noqa: E402


def soup(a: UNetGenerator, b: UNetGenerator, alpha: float) -> UNetGenerator:
    """(1 - alpha) * a + alpha * b, tensor by tensor, in b's architecture and decoding; integer buffers from b."""
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise SystemExit("error: the two models do not share one architecture (same tensors, same shapes)")
    mixed = {
        k: ((1 - alpha) * sa[k].float() + alpha * sb[k].float()).to(sb[k].dtype) if sb[k].is_floating_point() else sb[k]
        for k in sb
    }
    b.load_state_dict(mixed)
    return b


def run_config(run: Path) -> TrainConfig:
    """The training config of a finished run (run.json) or of one still running (its latest checkpoint)."""
    finished = run / "run.json"
    if finished.is_file():
        return TrainConfig.from_dict(json.loads(finished.read_text())["config"])
    done = list_checkpoints(run)
    if not done:
        raise SystemExit(f"error: {run} has neither run.json nor a checkpoint to read its training config from")
    return TrainConfig.from_dict(json.loads((done[-1] / STATE_DIR / STEP_FILE).read_text())["config"])


def export_run(G: UNetGenerator, out: Path, args: argparse.Namespace) -> None:
    """The soup as a run folder (run.json, metrics.json, samples.png, model/ with its card), from
    the continuation's run record: validation measured again on the soup, the commands of every
    stage and of this average, and the average itself on the card."""
    base = json.loads((Path(args.record_from) / "run.json").read_text())
    overrides = {"output_dir": str(out), "validation_images": args.validation_images}
    cfg = TrainConfig.from_dict({**base["config"], **overrides})
    out.mkdir(parents=True, exist_ok=True)
    validation = list(data.validation_photos(data.load_splits(cfg), cfg.validation_images))
    metrics = {"step": base["steps"]}
    metrics.update({k: s.as_dict() for k, s in run_validation(G, validation, working_size=cfg.image_size).items()})
    if G.hints:
        hinted = run_validation(G, validation, working_size=cfg.image_size, hints=10)
        metrics["hints10"] = {k: s.as_dict() for k, s in hinted.items()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    sample_grid(G, validation[: cfg.sample_images], working_size=cfg.image_size).save(out / "samples.png")
    commands = [line for f in args.lineage for line in Path(f).read_text().splitlines() if line.strip()]
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    commands.append(f"{now}  python experiments/weight_soup.py {' '.join(sys.argv[1:])}")
    names = [Path(args.a).name, Path(args.b).name] if not args.names else args.names
    weights = (round(1 - args.alpha, 4), args.alpha)
    parts = [{"name": n, "weight": w, "what": what} for n, w, what in zip(names, weights, args.what)]
    record = {**base, "metrics": metrics, "commands": commands, "date": datetime.date.today().isoformat()}
    record["soup"] = {"parts": parts, "why": args.why}
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str))
    export_model(G, out / "model", cfg=cfg, record=record)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="model folder (alpha 0)")
    parser.add_argument("b", help="model folder (alpha 1)")
    parser.add_argument("out", help="folder to write the soup to")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--run", help="a run folder (finished or running): its config names the photos to calibrate on")
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--target-gap", type=float, default=-14.0, help="colorfulness gap, percent")
    parser.add_argument("--export-run", help="write the soup as a run folder here (needs --record-from)")
    parser.add_argument("--record-from", help="the continuation's run folder: its run.json is the record's base")
    parser.add_argument("--lineage", nargs="*", default=[], help="commands.txt of each training stage, in order")
    parser.add_argument("--names", nargs=2, help="the two models' names on the card")
    parser.add_argument("--what", nargs=2, default=["", ""], help="what each model is, for the card")
    parser.add_argument("--why", default="", help="why this average ships, for the card")
    parser.add_argument("--validation-images", type=int, default=300)
    args = parser.parse_args()
    with torch.no_grad():
        G = soup(UNetGenerator.from_pretrained(args.a), UNetGenerator.from_pretrained(args.b), args.alpha)
    if args.run:
        cfg = run_config(Path(args.run))
        photos = list(data.usable_photos(data.load_splits(cfg).train, args.photos))
        t, curve = fit_temperature(G, photos, args.target_gap)
        print(f"temperature {t:.2f}: colorfulness gap {curve[t]:+.1f}% on {len(photos)} training photos")
        G = G.with_decoding(temperature=t)
    if args.export_run:
        if not args.record_from:
            raise SystemExit("error: --export-run needs --record-from (the continuation's run folder)")
        export_run(G, Path(args.export_run), args)
        print(f"wrote {args.export_run}")
        return 0
    G.save_pretrained(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
