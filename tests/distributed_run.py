"""`python -m train` under `accelerate launch`, with one fault injected; used by tests/test_distributed.py.

    ACCELERATE_USE_CPU=true torchrun --standalone --nproc_per_node 2 tests/distributed_run.py FAULT TRAIN_FLAGS...

FAULT is "none", "nan-on-rank-1-at-call-N" (the Nth reconstruction loss of process 1 only is NaN)
or "kill-after-checkpoint-N" (once the checkpoint of step N is on disk, every process is SIGKILLed,
as a crash or a preempted machine would stop them).
"""

from __future__ import annotations

import os
import signal
import sys

import train.loop
import train.step
from train.__main__ import main

fault, flags = sys.argv[1], sys.argv[2:]
rank = int(os.environ.get("RANK", "0"))  # set by torchrun

if fault.startswith("nan-on-rank-1-at-call-"):
    at = int(fault.rsplit("-", 1)[1])
    real_loss, calls = train.step.reconstruction_loss, {"n": 0}

    def poisoned(*args, **kwargs):
        loss, fake = real_loss(*args, **kwargs)
        calls["n"] += 1
        return (loss * float("nan"), fake) if rank == 1 and calls["n"] == at else (loss, fake)

    train.step.reconstruction_loss = poisoned

elif fault.startswith("kill-after-checkpoint-"):
    at = int(fault.rsplit("-", 1)[1])
    real_save = train.loop.save_checkpoint

    def save_then_die(state, *args, **kwargs):
        real_save(state, *args, **kwargs)
        if state["step"] == at:
            os.killpg(os.getpgid(0), signal.SIGKILL)  # the launcher and both processes, at once

    train.loop.save_checkpoint = save_then_die

elif fault != "none":
    raise SystemExit(f"unknown fault {fault!r}")

sys.exit(main(flags))
