"""Paths the first training tests did not walk: streaming with a resume, EMA resumes, a changed
configuration on resume, datasets with too few usable photos, channels_last, float16 export, and
what the loss log reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

import train.loop
from pix2pix_color import Colorizer, UNetGenerator
from train import TrainError, with_preset
from train.__main__ import main as train_main
from train.checkpoint import load_latest_checkpoint

from .conftest import TINY_TRAINING, jpeg_bytes, landscape, tiny_flags, write_hub_dataset


def tiny(dataset, out, **overrides):
    return with_preset(dataset=str(dataset), output_dir=str(out), **{**TINY_TRAINING, **overrides})


def assert_same_state(a: dict, b: dict, parts=("G", "D")) -> None:
    for part in parts:
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(dict(cache_limit_gb=0), id="streaming"),
        pytest.param(dict(ema_decay=0.9), id="ema"),
    ],
)
def test_a_resumed_run_ends_bit_identical_to_an_uninterrupted_one(hub_dataset, tmp_path, options):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    train.loop.train(tiny(hub_dataset, straight, max_steps=5, **options))
    train.loop.train(tiny(hub_dataset, interrupted, max_steps=2, **options))
    train.loop.train(tiny(hub_dataset, interrupted, max_steps=5, resume=True, **options))
    a, b = load_latest_checkpoint(straight), load_latest_checkpoint(interrupted)
    assert a["step"] == b["step"] == 5 and a["epoch"] == b["epoch"]
    assert_same_state(a, b, ("G", "D", "G_ema") if "ema_decay" in options else ("G", "D"))
    if "ema_decay" in options:  # the checkpoint's model is the EMA copy, and differs from the raw G
        ema = {k.removeprefix("module."): v for k, v in b["G_ema"].items() if k != "n_averaged"}
        assert int(b["G_ema"]["n_averaged"]) == 5
        assert any(not torch.equal(ema[k], b["G"][k]) for k in ema)
        exported = UNetGenerator.from_pretrained(interrupted / "model").state_dict()
        assert all(torch.equal(exported[k], ema[k]) for k in exported)


def test_resuming_with_a_changed_option_names_it_and_what_may_change(hub_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    flags = ["--dataset", str(hub_dataset), "--output-dir", str(out), *tiny_flags()]
    assert train_main([*flags, "--max-steps", "2"]) == 0
    status = train_main([*flags, "--max-steps", "4", "--resume", "--ema-decay", "0.9", "--gen-base-channels", "16"])
    assert status == 2  # a TrainError: one line and exit code 2, like a bad flag, never a traceback
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--ema-decay: None in the checkpoint, 0.9 now" in message
    assert "--gen-base-channels: 8 in the checkpoint, 16 now" in message
    assert "only these may change on resume:" in message and "--max-steps" in message
    assert "KeyError" not in message and "other networks" not in message
    assert train_main([*flags, "--max-steps", "4", "--resume", "--validate-every", "3"]) == 0  # allowed changes
    assert json.loads((out / "run.json").read_text())["steps"] == 4


def _dataset(tmp_path, train_images: list[bytes]):
    validation = [jpeg_bytes(landscape(40, 36, seed=300))]
    return write_hub_dataset(tmp_path / "ds", {"train": train_images, "validation": validation}, shards=1)


@pytest.mark.parametrize("cache_limit_gb", [4.0, 0.0], ids=["cached", "streaming"])
def test_a_dataset_of_black_and_white_photos_fails_fast_with_one_line(tmp_path, cache_limit_gb):
    gray = [jpeg_bytes(landscape(40, 36, seed=i).convert("L").convert("RGB")) for i in range(6)]
    broken = [b"\xff\xd8\xff\xe0 not a jpeg"]
    dataset = _dataset(tmp_path, [*gray, *broken, jpeg_bytes(landscape(40, 36, seed=9))])
    with pytest.raises(TrainError) as failed:
        train.loop.train(tiny(dataset, tmp_path / "run", max_steps=3, cache_limit_gb=cache_limit_gb))
    message = str(failed.value)
    assert "only 1 usable training photo(s); a step needs at least 2 per process" in message
    assert "6 black and white" in message and "1 unreadable" in message
    assert "\n" not in message


@pytest.mark.parametrize("cache_limit_gb", [4.0, 0.0], ids=["cached", "streaming"])
def test_fewer_photos_than_one_batch_still_train(tmp_path, cache_limit_gb):
    dataset = _dataset(tmp_path, [jpeg_bytes(landscape(40, 36, seed=i)) for i in range(3)])
    train.loop.train(tiny(dataset, tmp_path / "run", max_steps=3, batch_size=8, cache_limit_gb=cache_limit_gb))
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["steps"] == 3 and record["skipped"]["short_batches"] == 0


def test_channels_last_trains_checkpoints_and_exports_the_same_network(hub_dataset, tmp_path):
    train.loop.train(tiny(hub_dataset, tmp_path / "plain", max_steps=3, channels_last=False))
    train.loop.train(tiny(hub_dataset, tmp_path / "cl", max_steps=3, channels_last=True))
    a = UNetGenerator.from_pretrained(tmp_path / "plain" / "model").state_dict()
    b = UNetGenerator.from_pretrained(tmp_path / "cl" / "checkpoints" / "last" / "pretrained_model").state_dict()
    assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) < 1e-2  # same steps, other kernels


def test_a_float16_export_loads_and_colorizes_like_float32(hub_dataset, tmp_path):
    train.loop.train(tiny(hub_dataset, tmp_path / "run", max_steps=2, export_dtype="float16"))
    export = tmp_path / "run" / "model"
    with safe_open(export / "model.safetensors", framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys() if "num_batches" not in k} == {torch.float16}
    half = Colorizer.from_pretrained(export)
    full = Colorizer.from_pretrained(tmp_path / "run" / "checkpoints" / "last" / "pretrained_model")
    photo = landscape(80, 60, seed=5).convert("L")
    a, b = (np.asarray(c.colorize(photo), dtype=np.float64) for c in (half, full))
    assert 10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-12)) > 40  # PSNR between the two, dB


def test_the_log_reports_losses_averaged_over_the_interval_and_images_per_second(hub_dataset, tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    seen: list[float] = []
    real_step = train.loop.gan_step

    def recording(*args, **kwargs):
        losses = real_step(*args, **kwargs)
        seen.append(float(losses["loss_g_l1"]))
        return losses

    monkeypatch.setattr(train.loop, "gan_step", recording)
    out = tmp_path / "run"
    train.loop.train(tiny(hub_dataset, out, max_steps=4, log_every=2))
    events = EventAccumulator(str(next((out / "logs").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    logged = {e.step: e.value for e in events.Scalars("train/loss_g_l1")}
    assert logged[2] == pytest.approx(np.mean(seen[0:2]), rel=1e-5)
    assert logged[4] == pytest.approx(np.mean(seen[2:4]), rel=1e-5)
    assert all(e.value > 0 for e in events.Scalars("train/images_per_second"))


def test_a_checkpoint_inside_a_logging_interval_leaves_its_images_per_second_true(monkeypatch):
    # 16 images in the first 2 s, a 30 s checkpoint, 16 more in 2 s: 32 images in 4 s of training.
    meter = train.loop.LossMeter(since=0.0)
    meter.add({"loss_g_l1": torch.tensor(1.0)}, images=16)
    monkeypatch.setattr(train.loop.time, "monotonic", lambda: 32.0)
    meter.exclude(2.0)
    meter.add({"loss_g_l1": torch.tensor(1.0)}, images=16)
    assert meter.images / (34.0 - meter.since) == pytest.approx(8.0)
