"""`python -m train` under `accelerate launch`, with one fault injected; used by tests/test_distributed.py.

    ACCELERATE_USE_CPU=true torchrun --standalone --nproc_per_node 2 tests/distributed_run.py FAULT TRAIN_FLAGS...

FAULT is "none", "nan-on-rank-1-at-call-N" (the Nth reconstruction loss of process 1 only is NaN),
"disagreeing-probes" (see below) or "kill-after-checkpoint-N" (once the checkpoint of step N is on disk,
every process is SIGKILLed, as a crash or a preempted machine would stop them).
"""

from __future__ import annotations

import os
import signal
import sys

import train.data
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

elif fault == "disagreeing-probes":
    # Each process's mixed-precision probe answers differently (as two probes timing each other on the
    # same cores can), and every decode of the validation split is recorded: each process writes
    # down the precision it trained in and how many validation photos it decoded.
    out = flags[flags.index("--output-dir") + 1]
    train.loop.pick_mixed_precision = lambda cfg: "bf16" if rank == 0 else "no"
    real_validation_photos, decoded = train.data.validation_photos, {"n": 0}

    def counting_validation_photos(*args, **kwargs):
        for photo in real_validation_photos(*args, **kwargs):
            decoded["n"] += 1
            yield photo

    train.data.validation_photos = counting_validation_photos
    real_gan_step = train.loop.gan_step

    def recording_gan_step(*args, **kwargs):
        accelerator = args[8]
        with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
            f.write(f'{{"precision": "{accelerator.mixed_precision}", "validation_decoded": {decoded["n"]}}}')
        return real_gan_step(*args, **kwargs)

    train.loop.gan_step = recording_gan_step

elif fault != "none":
    raise SystemExit(f"unknown fault {fault!r}")

sys.exit(main(flags))
