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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="model folder (alpha 0)")
    parser.add_argument("b", help="model folder (alpha 1)")
    parser.add_argument("out", help="folder to write the soup to")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--run", help="a run folder (finished or running): its config names the photos to calibrate on")
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--target-gap", type=float, default=-14.0, help="colorfulness gap, percent")
    args = parser.parse_args()
    with torch.no_grad():
        G = soup(UNetGenerator.from_pretrained(args.a), UNetGenerator.from_pretrained(args.b), args.alpha)
    if args.run:
        cfg = run_config(Path(args.run))
        photos = list(data.usable_photos(data.load_splits(cfg).train, args.photos))
        t, curve = fit_temperature(G, photos, args.target_gap)
        print(f"temperature {t:.2f}: colorfulness gap {curve[t]:+.1f}% on {len(photos)} training photos")
        G = G.with_decoding(temperature=t)
    G.save_pretrained(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
