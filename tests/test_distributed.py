"""Two training processes (torchrun + Accelerate on CPU, gloo) must always take the same steps.

`accelerate launch --cpu --num_processes 2` starts one process unless MPI is installed (its CPU
path is mpirun); torchrun is what `accelerate launch --multi_gpu` runs underneath, and Accelerate
picks the gloo backend from its environment (ACCELERATE_USE_CPU), so this is the same code path.

Every decision that changes a step (a non-finite loss, a short batch, the end of an epoch) is made
across processes, and a checkpoint holds every process's random state, so a killed and resumed
2-process run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import torch

from pix2pix_color import UNetGenerator
from train.checkpoint import load_latest_checkpoint

from .conftest import ROOT, tiny_flags

pytestmark = pytest.mark.skipif(shutil.which("torchrun") is None, reason="needs torchrun (part of torch)")


def launch(fault: str, dataset, out, *flags: str, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [
        "torchrun", "--standalone", "--nproc_per_node", "2",
        str(ROOT / "tests" / "distributed_run.py"), fault,
        "--dataset", str(dataset), "--output-dir", str(out), *tiny_flags(num_workers=0, checkpoint_every=2), *flags,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "ACCELERATE_USE_CPU": "true"}
    # Its own process group, so that a fault that kills "everything" kills only this run.
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, start_new_session=True
    )


def weights(run) -> dict[str, torch.Tensor]:
    return UNetGenerator.from_pretrained(run / "model").state_dict()


def test_two_processes_train_checkpoint_and_export(hub_dataset, tmp_path):
    run = tmp_path / "run"
    done = launch("none", hub_dataset, run, "--max-steps", "4")
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((run / "run.json").read_text())
    assert record["steps"] == 4 and "2 processes" in record["hardware"]
    state = load_latest_checkpoint(run)
    assert state["step"] == 4 and len(state["rng"]) == 2  # every process's random state
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])
    assert UNetGenerator.from_pretrained(run / "model").image_size == 32


def test_a_nan_on_one_process_is_skipped_by_both(hub_dataset, tmp_path):
    run = tmp_path / "run"
    done = launch("nan-on-rank-1-at-call-3", hub_dataset, run, "--max-steps", "5", timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]  # and no hang: the timeout did not fire
    record = json.loads((run / "run.json").read_text())
    assert record["steps"] == 5 and record["skipped"]["non_finite_steps"] == 1
    log = (run / "train.log").read_text()
    assert log.count("non-finite loss") == 1 and "update was not applied" in log
    assert all(torch.isfinite(t).all() for t in weights(run).values() if t.is_floating_point())


def test_a_killed_two_process_run_resumes_to_the_same_weights(hub_dataset, tmp_path):
    flags = ("--max-steps", "6", "--lr-decay-steps", "3", "--resume")
    straight = tmp_path / "straight"
    done = launch("none", hub_dataset, straight, *flags)
    assert done.returncode == 0, done.stderr[-3000:]

    crashed = tmp_path / "crashed"
    killed = launch("kill-after-checkpoint-4", hub_dataset, crashed, *flags)
    assert killed.returncode != 0 and not (crashed / "model").exists()
    assert load_latest_checkpoint(crashed)["step"] == 4
    resumed = launch("none", hub_dataset, crashed, *flags)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in (crashed / "train.log").read_text()

    a, b = weights(straight), weights(crashed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_processes_share_one_precision_decision_and_only_the_main_one_decodes_validation(hub_dataset, tmp_path):
    run = tmp_path / "run"
    done = launch("disagreeing-probes", hub_dataset, run, "--max-steps", "2", "--mixed-precision", "auto")
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["precision"] == rank1["precision"] == "bf16"  # the main process's answer, everywhere
    assert rank0["validation_decoded"] == 4 and rank1["validation_decoded"] == 0


def test_too_few_usable_photos_across_two_processes_fail_fast_with_the_total(tmp_path):
    from .conftest import jpeg_bytes, landscape, write_hub_dataset

    usable = [jpeg_bytes(landscape(40, 36, seed=i)) for i in range(3)]
    gray = [jpeg_bytes(landscape(40, 36, seed=9 + i).convert("L").convert("RGB")) for i in range(2)]
    validation = [jpeg_bytes(landscape(40, 36, seed=50))]
    dataset = write_hub_dataset(tmp_path / "ds", {"train": usable + gray, "validation": validation}, shards=1)
    done = launch("none", dataset, tmp_path / "run", "--max-steps", "3", "--cache-limit-gb", "0", timeout=240)
    assert done.returncode != 0  # and no hang: the timeout did not fire
    assert "only 3 usable training photo(s); a step needs at least 2 per process (4 in all)" in done.stderr
    assert "Skipped: 2 black and white" in done.stderr
