"""The ship rule (issue 40): when a candidate model replaces the shipped one, read from
`experiments/score_model.py`'s JSON (one record per model and set).

A candidate ships when, on every set that decides (the landscape validation split and photos-hq,
at the model's own working size):
- its color hit (strict: right hue and at least half the chroma) and its chroma ratio are not
  lower than the shipped model's, and at least one of them is higher somewhere;
- its PSNR is within `PSNR_MARGIN` dB of the shipped model's;
- its PSNR is above the gray version's on every set scored (the "general" photos too).
Differences under `RATE_TIE` in a rate or `PSNR_TIE` dB are ties, not losses or wins: the sets are
a few hundred photos, and a 0.004 change in a rate is noise there.

    python -m train.ship_rule experiments/results/score_gan10.json --candidate gan10 --shipped gen7
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

PSNR_MARGIN = 0.3  # dB the candidate may give up for better colors
RATE_TIE = 0.005
PSNR_TIE = 0.02
DECIDING_SETS = ("validation", "photos-hq")
RATES = ("color_hit", "chroma_ratio")


@dataclass(frozen=True)
class Decision:
    """Whether the candidate ships, and each reason, one line each (wins and losses)."""

    ships: bool
    losses: list[str] = field(default_factory=list)
    wins: list[str] = field(default_factory=list)


def _own_size(records: dict[str, dict], set_name: str) -> dict | None:
    """The record of `set_name` at the model's own working size ("validation@192 (auto)")."""
    return next((r for key, r in records.items() if key.startswith(f"{set_name}@") and "(auto)" in key), None)


def decide(candidate: dict[str, dict], shipped: dict[str, dict]) -> Decision:
    """`score_model` records of the candidate and the shipped model ({"validation@192 (auto)": {...}}) -> Decision."""
    losses, wins = [], []
    for set_name in DECIDING_SETS:
        new, old = _own_size(candidate, set_name), _own_size(shipped, set_name)
        if new is None or old is None:
            losses.append(f"{set_name}: not scored for both models")
            continue
        for rate in RATES:
            if rate not in new or rate not in old:
                losses.append(f"{set_name}: {rate} not scored for both models (rescore with score_model.py)")
                continue
            change = new[rate] - old[rate]
            if change <= -RATE_TIE:
                losses.append(f"{set_name}: {rate} {new[rate]:.3f} < {old[rate]:.3f}")
            elif change >= RATE_TIE:
                wins.append(f"{set_name}: {rate} {new[rate]:.3f} > {old[rate]:.3f}")
        if old["psnr"] - new["psnr"] > PSNR_MARGIN + PSNR_TIE:
            losses.append(f"{set_name}: PSNR {new['psnr']:.2f} more than {PSNR_MARGIN} dB below {old['psnr']:.2f}")
    for key, record in candidate.items():
        if record["gray_psnr"] - record["psnr"] > PSNR_TIE:
            losses.append(f"{key}: PSNR {record['psnr']:.2f} below gray's {record['gray_psnr']:.2f}")
    if not wins and not losses:
        losses.append("no color number is higher than the shipped model's: nothing to ship for")
    return Decision(not losses, losses, wins)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, help="experiments/score_model.py's JSON")
    parser.add_argument("--candidate", required=True)
    parser.add_argument("--shipped", required=True)
    args = parser.parse_args(argv)
    try:
        scores = json.loads(args.scores.read_text())
        decision = decide(scores[args.candidate], scores[args.shipped])
    except (OSError, ValueError) as e:
        print(f"cannot read {args.scores}: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"{args.scores} has no scores for {e.args[0]!r} (it has {', '.join(scores)})", file=sys.stderr)
        return 2
    for line in decision.wins:
        print(f"better: {line}")
    for line in decision.losses:
        print(f"worse:  {line}")
    print(f"{args.candidate} {'ships' if decision.ships else 'does not ship'} (against {args.shipped})")
    return 0 if decision.ships else 1


if __name__ == "__main__":
    sys.exit(main())
