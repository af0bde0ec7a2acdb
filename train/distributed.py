"""Decisions that several training processes must make together, and what they share.

With several processes (torchrun / `accelerate launch`), anything that changes a step (skip it, end
the epoch, train in bf16 or not) must be decided once and applied by all: gradients are averaged
across processes, so a step taken by one and skipped by another would leave the copies of the model
different, and every collective call after it out of line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import broadcast_object_list, gather_object
from torch import Tensor

T = TypeVar("T")


def everyone(flag: bool, accelerator: Accelerator) -> bool:
    """True only if `flag` holds on every process."""
    if accelerator.num_processes == 1:
        return flag
    missing = torch.tensor([0.0 if flag else 1.0], device=accelerator.device)
    return bool(accelerator.reduce(missing, reduction="sum").item() == 0)


def decided_on_main(decide: Callable[[], T], state: PartialState) -> T:
    """`decide()` run on the main process only, its answer given to every process.

    For measurements (which precision is faster here?): processes timing the same thing at once on
    the same cores would measure each other, and could answer differently.
    """
    answer = [decide() if state.is_main_process else None]
    if state.num_processes > 1:
        broadcast_object_list(answer, from_process=0)
    return answer[0]


def mean_over_processes(values: dict[str, Tensor], accelerator: Accelerator) -> dict[str, float]:
    """Scalars (each this process's mean) -> their mean over all processes, as floats."""
    if not values:
        return {}
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()]).to(accelerator.device)
    if accelerator.num_processes > 1:
        stacked = accelerator.reduce(stacked, reduction="mean")
    return dict(zip(values, stacked.tolist()))


def sum_over_processes(counts: dict[str, int], accelerator: Accelerator) -> dict[str, int]:
    """Integer counts of each process -> their totals, on every process."""
    if accelerator.num_processes == 1 or not counts:
        return dict(counts)
    totals = accelerator.reduce(torch.tensor(list(counts.values()), device=accelerator.device), reduction="sum")
    return dict(zip(counts, (int(v) for v in totals.tolist())))


def rng_state() -> dict[str, Tensor]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state.update({f"cuda/{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return state


def set_rng_state(state: dict[str, Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    cuda = [state[k] for k in sorted(state) if k.startswith("cuda/")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def all_rng_states() -> list[dict[str, Tensor]]:
    """Every process's random state, in rank order (collective: every process must call it)."""
    return gather_object([rng_state()])
