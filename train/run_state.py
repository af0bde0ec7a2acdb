"""The resume state of the small trainings (the damage detector, the fade estimator): model,
optimizer, schedule, step, best score and both random states in one file, written under a
temporary name first so that a crash never leaves half of it. (The colorizer's own checkpoints are
`train.checkpoint`'s, safetensors and JSON; these runs are small and local, a pickle is enough.)
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger("train.run_state")


def save_state(last: Path, model, opt, sched, step: int, best: float, rng) -> None:
    """Everything a resume needs, written under a temporary name first (a crash never leaves half)."""
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
             "best": best, "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}  # fmt: skip
    torch.save(state, last.with_suffix(".tmp"))
    last.with_suffix(".tmp").replace(last)


def resume_state(last: Path, model, opt, sched, rng) -> tuple[int, float]:
    """-> (step, best score) from `last.pt`, or (0, -1) for a fresh run."""
    if not last.exists():
        return 0, -1.0
    state = torch.load(last, weights_only=False)
    model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    log.info("resumed at step %d (best %.4f)", state["step"], state["best"])
    return state["step"], state["best"]
