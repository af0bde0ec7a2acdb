"""Bad luck during training: SIGKILL at any moment, NaN losses, unreadable shards, a failing upload."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

import train.data
import train.loop
import train.step
from train import TrainError, with_preset
from train.__main__ import main as train_main
from train.checkpoint import checkpoint_dir, list_checkpoints, load_latest_checkpoint

from .conftest import ROOT, TINY_TRAINING, jpeg_bytes, landscape, tiny_flags, write_hub_dataset


def _finite(state: dict) -> bool:
    return all(torch.isfinite(t).all() for part in ("G", "D") for t in state[part].values() if t.is_floating_point())


def test_sigkill_at_random_moments_then_resume(hub_dataset, tmp_path):
    out = tmp_path / "run"
    # A bigger generator than the other tests use, so that a checkpoint takes long enough to write
    # that the kill below can land in the middle of one.
    flags = tiny_flags(checkpoint_every=1, gen_base_channels=32, gen_max_channels=256, validation_images=2)
    command = [
        sys.executable,
        "-m",
        "train",
        "--dataset",
        str(hub_dataset),
        "--output-dir",
        str(out),
        "--max-steps",
        "40",
        *flags,
        "--resume",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rng = random.Random(1234)
    last_step, caught_mid_write = 0, False
    for attempt in range(4):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Even attempts wait for a checkpoint being written (first, while steps remain on a fast
        # machine); odd ones kill at a random moment once this attempt has trained (its own first
        # checkpoint is complete): a fixed time from the start killed a slow machine's runs while
        # they were still importing, before any checkpoint, every time.
        catch = attempt % 2 == 0
        deadline = time.monotonic() + (60 if catch else 180)
        latest = (list_checkpoints(out) or [None])[-1]
        while time.monotonic() < deadline and process.poll() is None:
            if catch and list(checkpoint_dir(out).glob(".0*.tmp")):
                caught_mid_write = True  # a checkpoint is being written right now
                break
            if not catch and (list_checkpoints(out) or [None])[-1] != latest:
                time.sleep(rng.uniform(0.0, 2.0))
                break
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = load_latest_checkpoint(out)
        if state is not None:
            assert state["step"] >= last_step, "a kill never rolls back past an earlier checkpoint"
            assert _finite(state)
            last_step = state["step"]
    assert last_step > 0, "the kills should leave checkpoints behind"
    assert caught_mid_write, "one kill must land while a checkpoint is being written (the case this test is for)"
    # However it was killed, --resume finishes the run.
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    record = json.loads((out / "run.json").read_text())
    assert record["steps"] == 40
    assert not list(checkpoint_dir(out).glob(".*.tmp"))
    assert "resumed from" in (out / "train.log").read_text()
    print(f"killed mid-checkpoint-write: {caught_mid_write}")


def test_a_half_written_or_damaged_checkpoint_is_never_used(hub_dataset, tmp_path):
    out = tmp_path / "run"
    train.loop.train(with_preset(dataset=str(hub_dataset), output_dir=str(out), max_steps=4, **TINY_TRAINING))
    newest = list_checkpoints(out)[-1]
    half = checkpoint_dir(out) / ".00000006.tmp"  # killed mid-write: the model written, the state not yet
    shutil.copytree(newest / "pretrained_model", half / "pretrained_model")
    damaged = checkpoint_dir(out) / "00000008"  # disk trouble: a complete-looking folder of garbage
    shutil.copytree(newest, damaged)
    (damaged / "training_state" / "state.safetensors").write_bytes(b"\0" * 4096)
    state = load_latest_checkpoint(out)
    assert state["step"] == 4 and state["path"] == str(newest)
    assert not half.exists()


def test_non_finite_losses_are_never_applied_and_stop_the_run(hub_dataset, tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    real_gan_loss = train.step.gan_loss

    def poisoned(logits, target_is_real, mode="vanilla"):
        calls["n"] += 1
        loss = real_gan_loss(logits, target_is_real, mode)
        return loss * float("nan") if calls["n"] > 9 else loss  # GAN steps use 3 calls: steps 2-4 are fine

    monkeypatch.setattr(train.step, "gan_loss", poisoned)
    out = tmp_path / "run"
    flags = tiny_flags(max_bad_steps=3, checkpoint_every=2)
    status = train_main(["--dataset", str(hub_dataset), "--output-dir", str(out), "--max-steps", "20", *flags])
    assert status == 2
    err = capsys.readouterr().err
    assert "3 consecutive non-finite losses ending at step 5" in err
    log = (out / "train.log").read_text()
    assert log.count("non-finite loss") == 3 and "the update was not applied" in log
    checkpoints = list_checkpoints(out)
    assert [p.name for p in checkpoints][-1] == "00000004", "the last good checkpoint is kept"
    assert _finite(load_latest_checkpoint(out))


def test_an_unreadable_shard_is_skipped_and_counted(tmp_path):
    shards = {
        "train": [jpeg_bytes(landscape(40, 40, seed=i)) for i in range(12)],
        "validation": [jpeg_bytes(landscape(40, 40, seed=50))],
    }
    dataset = write_hub_dataset(tmp_path / "ds", shards, shards=3)
    broken = sorted((dataset / "data").glob("train-*.parquet"))[1]
    broken.write_bytes(broken.read_bytes()[:300])  # cut off: pyarrow cannot read it
    out = tmp_path / "run"
    cfg = with_preset(dataset=str(dataset), output_dir=str(out), max_steps=3, **TINY_TRAINING)
    train.loop.train(cfg)
    record = json.loads((out / "run.json").read_text())
    assert record["skipped"]["shards_failed"] == 1
    assert "skipping the rest of shard train-00001-of-00003.parquet" in (out / "train.log").read_text()


def test_a_flaky_shard_is_retried_without_losing_or_repeating_photos(hub_dataset, tmp_path, monkeypatch):
    real_rows = train.data._rows_of
    failures = {"left": 2}

    def flaky(files, builder):
        for i, row in enumerate(real_rows(files, builder)):
            if i == 3 and failures["left"] > 0:
                failures["left"] -= 1
                raise ConnectionError("connection reset by peer")
            yield row

    monkeypatch.setattr(train.data, "_rows_of", flaky)
    monkeypatch.setattr(train.data.time, "sleep", lambda s: None)
    cfg = with_preset(
        dataset=str(hub_dataset),
        output_dir=str(tmp_path),
        max_steps=1,
        **{**TINY_TRAINING, "flip": False, "load_size": None},
    )
    splits = train.data.load_splits(cfg)
    seen, failed = [], 0
    for batch in train.data.training_loader(splits, cfg, epoch=0):
        seen += [img.numpy().tobytes() for img in batch["rgb"]]
        failed += len(batch["shards_failed"])
    assert failures["left"] == 0 and failed == 0
    assert len(seen) == 10 and len(set(seen)) == 10


def test_push_failure_keeps_the_export_and_says_how_to_publish(hub_dataset, tmp_path):
    out = tmp_path / "run"
    env = {
        **os.environ,
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_TOKEN": "hf_not_valid",
        "HF_HOME": str(tmp_path / "hf"),
    }
    command = [
        sys.executable,
        "-m",
        "train",
        "--dataset",
        str(hub_dataset),
        "--output-dir",
        str(out),
        "--max-steps",
        "2",
        *tiny_flags(),
        "--push-to-hub",
        "someone/landscapes",
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "could not publish to someone/landscapes" in result.stderr
    assert f"python -m train.publish {out} someone/landscapes" in result.stderr
    assert {p.name for p in (out / "model").iterdir()} >= {"config.json", "model.safetensors", "README.md"}


def test_parquet_shards_without_an_image_column_stop_with_one_line(tmp_path):
    """Plain pyarrow tables (a struct of bytes, no `datasets` Image feature): said once, up front."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "plain"
    (root / "data").mkdir(parents=True)
    table = pa.table({"image": [{"bytes": jpeg_bytes(landscape(40, 40, seed=i)), "path": None} for i in range(4)]})
    for split in ("train", "validation"):
        pq.write_table(table, root / "data" / f"{split}-00000-of-00001.parquet")
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*.parquet\n"
        "  - split: validation\n    path: data/validation-*.parquet\n---\n"
    )
    with pytest.raises(TrainError) as stop:
        train.data.load_splits(with_preset(dataset=str(root), output_dir=str(tmp_path / "run"), max_steps=1))
    message = str(stop.value)
    assert "no image column (columns: ['image'])" in message and "Image feature" in message
    assert "\n" not in message


def test_a_later_shard_without_an_image_column_is_skipped_like_an_unreadable_one(tmp_path):
    """Only the first shard's schema is checked up front; a later odd one goes through the shard
    retry-and-skip path (it was a SystemExit, which no `except Exception` catches: review M6)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    train_photos = [jpeg_bytes(landscape(40, 40, seed=i)) for i in range(6)]
    photos = {"train": train_photos, "validation": [jpeg_bytes(landscape())]}
    root = write_hub_dataset(tmp_path / "ds", photos, shards=1)
    odd = pa.table({"image": [{"bytes": jpeg_bytes(landscape(40, 40, seed=9)), "path": None}]})
    pq.write_table(odd, root / "data" / "train-00001-of-00001.parquet")
    shards = [[str(p)] for p in sorted((root / "data").glob("train-*"))]
    rows = list(train.data.read_shards(shards, builder="parquet", retries=0))
    assert sum(r["image"] is not None for r in rows) == 6
    assert [r["shard_error"] for r in rows if r["shard_error"]] and "no image column" in rows[-1]["shard_error"]


def test_a_bad_generator_loss_after_the_discriminator_stepped_is_reported_as_such():
    """pix2pix steps D first and G against the updated D, so a non-finite G loss is only found after D
    moved: the step must say that D's update was applied and G's was not (review M1)."""
    from accelerate import Accelerator

    from pix2pix_color.models.networks import PatchDiscriminator

    from .conftest import tiny_generator

    cfg = with_preset(dataset="x", output_dir="y", max_steps=1, **{**TINY_TRAINING, "image_size": 32})
    G, D = tiny_generator(), PatchDiscriminator(base_channels=8, n_layers=3)

    class Exploding(torch.nn.Module):  # what G's adversarial term sees: D, returning infinity
        def forward(self, L, ab):
            return D(L, ab) * float("inf")

    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    g_before = {k: v.clone() for k, v in G.state_dict().items()}
    d_before = {k: v.clone() for k, v in D.state_dict().items()}
    L, ab = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 2, 32, 32) * 0.4 - 0.2
    losses = train.step.gan_step(G, D, Exploding(), opt_g, opt_d, L, ab, cfg, Accelerator(cpu=True), adversarial=True)
    assert losses["d_applied"] is True and losses["finite"] is False
    assert any(not torch.equal(v, d_before[k]) for k, v in D.state_dict().items())
    assert all(torch.equal(v, g_before[k]) for k, v in G.state_dict().items() if v.is_floating_point())
