"""End-to-end training on tiny data the tests write: Hub layout (Parquet shards) and loose images."""

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import HfApi
from PIL import Image
from safetensors.torch import load_file

from pix2pix_color import Colorizer, UNetGenerator
from pix2pix_color.pipeline.onnx_export import export_onnx
from train import with_preset
from train.__main__ import main as train_main
from train.checkpoint import load_latest_checkpoint
from train.data import load_splits, read_bytes, training_loader, usable_photos
from train.loop import train
from train.publish import PublishError, commit_operations, publish

from .conftest import TINY_TRAINING, landscape


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("loose")
    for i in range(24):
        landscape(40 + i, 36, seed=200 + i).save(root / f"photo_{i:02d}.jpg", quality=90)
    return root


def tiny_config(dataset: Path, out: Path, **overrides):
    return with_preset(dataset=str(dataset), output_dir=str(out), **{**TINY_TRAINING, **overrides})


def test_train_publishable_run_on_hub_layout(hub_dataset, tmp_path):
    run = tmp_path / "run"
    export = train(tiny_config(hub_dataset, run, max_steps=3))

    record = json.loads((run / "run.json").read_text())
    assert record["steps"] == 3
    assert record["skipped"]["corrupt"] == 1 and record["skipped"]["grayscale"] == 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["step"] == 3 and metrics["model"]["n_images"] == 4
    assert metrics["gray"]["colorfulness"] < 1 < metrics["gray"]["colorfulness_real"]
    # Checkpoints are models (lerobot's layout): pretrained_model/ loads and colorizes on its own.
    last = (run / "checkpoints" / "last").resolve()
    assert last.name == "00000003" and sorted(p.name for p in last.iterdir()) == ["pretrained_model", "training_state"]
    assert sorted(p.name for p in (last / "pretrained_model").iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    assert Colorizer.from_pretrained(last / "pretrained_model").colorize(landscape(50, 40).convert("L")).size == (
        50,
        40,
    )
    position = json.loads((last / "training_state" / "training_step.json").read_text())
    assert position["step"] == 3 and position["epoch"] == 1 and position["config"]["max_steps"] == 3
    assert list((run / "logs").rglob("events.out.tfevents.*")), "TensorBoard logs"
    grid = Image.open(run / "samples.png")
    assert grid.size == (2 * 128, 3 * 128)  # 2 photos x (gray, generated, real)

    # The export is a Hub model repo that loads strictly and colorizes.
    assert sorted(p.name for p in export.iterdir()) == [
        "README.md",
        "config.json",
        "discriminator.safetensors",
        "model.safetensors",
        "samples.png",
    ]
    colorizer = Colorizer.from_pretrained(export)
    assert colorizer.working_size == 32
    assert colorizer.colorize(landscape(70, 45).convert("L")).size == (70, 45)

    # The card: YAML front matter with the metrics in model-index, and the promised sections.
    card = (export / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "pix2pix-color" and front["pipeline_tag"] == "image-to-image"
    assert front["license"] == "apache-2.0"
    results = {m["type"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}
    assert results["psnr"] == pytest.approx(metrics["model"]["psnr"], abs=1e-3)
    assert set(results) == {"psnr", "ssim", "auc", "hue_hit", "colorfulness"}
    for needle in (
        "from_pretrained",
        "grayscale baseline",
        "samples.png",
        "Provenance and terms",
        "Limitations",
        "isola2017image",
        "python -m train",
    ):
        assert needle in card
    # Published cards name no folder of the training machine.
    assert str(tmp_path) not in card and str(hub_dataset.parent) not in card
    assert f"--dataset ./{hub_dataset.name} --output-dir runs/run" in card
    ops = commit_operations(export)
    assert sorted(op.path_in_repo for op in ops) == [
        "README.md",
        "config.json",
        "discriminator.safetensors",
        "model.safetensors",
        "samples.png",
    ]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_latest_checkpoint(run)
    return {**{f"G.{k}": v for k, v in state["G"].items()}, **{f"D.{k}": v for k, v in state["D"].items()}}


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(hub_dataset, tmp_path):
    # 11 usable photos in batches of 4: 4 steps cross an epoch boundary, and the GAN phase starts at step 2.
    straight = tmp_path / "straight"
    train(tiny_config(hub_dataset, straight, max_steps=4))
    interrupted = tmp_path / "interrupted"
    train(tiny_config(hub_dataset, interrupted, max_steps=2))
    train(tiny_config(hub_dataset, interrupted, max_steps=4, resume=True))
    a, b = _weights(straight), _weights(interrupted)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_loose_images_get_a_deterministic_carved_validation_split(image_folder, tmp_path):
    cfg = tiny_config(image_folder, tmp_path / "run", max_steps=2, validation_fraction=0.25)

    def digest(ex):
        return hashlib.sha256(read_bytes(ex["image"])).hexdigest()

    first, second = load_splits(cfg), load_splits(cfg)
    validation = [digest(ex) for ex in first.validation]
    assert first.carved and validation == [digest(ex) for ex in second.validation]
    training = {digest(ex) for ex in first.train}
    assert validation and not training & set(validation)
    assert len(training) + len(validation) == 24
    export = train(cfg)
    assert UNetGenerator.from_pretrained(export).image_size == 32


@pytest.mark.parametrize("world_size, workers", [(1, 2), (2, 0)])
def test_an_epoch_sees_every_photo_exactly_once(hub_dataset, tmp_path, world_size, workers):
    cfg = tiny_config(hub_dataset, tmp_path, max_steps=1, flip=False, load_size=None, num_workers=workers)
    splits = load_splits(cfg)
    seen: Counter = Counter()
    skipped = 0
    for rank in range(world_size):
        for batch in training_loader(splits, cfg, epoch=0, rank=rank, world_size=world_size):
            skipped += batch["corrupt"] + batch["grayscale"]
            seen.update(hashlib.sha256(img.numpy().tobytes()).hexdigest() for img in batch["rgb"])
    assert skipped == 2
    assert len(seen) == 10 and set(seen.values()) == {1}


def test_publish_failure_keeps_the_export_and_says_how_to_retry(hub_dataset, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2))

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(run / "model")): p.read_bytes() for p in (run / "model").rglob("*") if p.is_file()}

    before = files()
    unreachable = HfApi(endpoint="http://127.0.0.1:9", token="hf_not_a_real_token")
    with pytest.raises(PublishError, match=r"could not publish to me/model.*python -m train\.publish .*run me/model"):
        publish(run, "me/model", api=unreachable)
    after = files()
    assert after.pop("onnx/model.onnx")  # publishing adds the ONNX graph the export lacked
    assert before == after  # and leaves everything else exactly as it was, card included


def test_a_checkpoint_is_publishable_and_evaluable_as_a_model(hub_dataset, tmp_path):
    from pix2pix_color.cli import main as cli_main
    from train.publish import prepare_upload

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2))
    model = run / "checkpoints" / "last" / "pretrained_model"
    sent = sorted(op.path_in_repo for op in prepare_upload(model, "me/checkpoint"))
    assert sent == ["README.md", "config.json", "model.safetensors", "onnx/model.onnx"]
    report = tmp_path / "report.json"
    status = cli_main(["evaluate", "--model", str(model), "--dataset", str(hub_dataset), "-q", "--output", str(report)])
    assert status == 0 and json.loads(report.read_text())["model"]["n_images"] == 4


def test_command_line_reports_bad_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--dataset", "x", "--output-dir", "y"])
    assert exit_info.value.code == 2
    assert "give --max-steps or --epochs" in capsys.readouterr().err


def test_export_to_writes_exactly_what_would_be_uploaded(hub_dataset, tmp_path):
    from pix2pix_color.cli import main as cli_main
    from pix2pix_color.inference import default_model_path
    from train.publish import UPLOADED_FILES
    from train.publish import main as publish_main

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2))
    report = tmp_path / "elsewhere.json"
    assert (
        cli_main(["evaluate", "--dataset", str(hub_dataset), "--split", "validation", "-q", "--output", str(report)])
        == 0
    )
    upload = ["--export-to", str(tmp_path / "upload"), "--evaluation", f"other photos={report}"]
    assert publish_main([str(run), "me/model", *upload]) == 0
    sent = {str(p.relative_to(tmp_path / "upload")) for p in (tmp_path / "upload").rglob("*") if p.is_file()}
    assert sent == set(UPLOADED_FILES) - {"onnx/model_fp16.onnx", "working_sizes.json"}  # float32: its graph
    card = (tmp_path / "upload" / "README.md").read_text()
    assert 'Colorizer.from_pretrained("me/model")' in card and "model_name" not in card
    assert "`onnx/model.onnx`: the generator with its decoding inside" in card  # the card lists the graph
    assert "| other photos | 4 |" in card  # the extra evaluation, in the card's results
    assert UNetGenerator.from_pretrained(tmp_path / "upload").image_size == 32

    # The bundled model goes to the Hub as it is (the Space sync workflow runs exactly this).
    bundled = default_model_path()
    target = tmp_path / "bundled-upload"
    assert publish_main([str(bundled), "pix2pix-color/pix2pix-color-landscapes", "--export-to", str(target)]) == 0
    sent = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    for name in sent:
        assert name in UPLOADED_FILES and (target / name).read_bytes() == (bundled / name).read_bytes()
    assert {"config.json", "model.safetensors", "README.md", "onnx/model_fp16.onnx"} <= sent


def test_learning_rate_schedule_and_epochs_become_steps(hub_dataset, tmp_path):
    from train.loop import learning_rate

    cfg = tiny_config(hub_dataset, tmp_path / "unused", max_steps=100, lr=1e-3, lr_decay_steps=40)
    assert [learning_rate(s, 100, cfg) for s in (0, 59, 60, 80, 99)] == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4, 2.5e-5])
    assert learning_rate(99, 100, tiny_config(hub_dataset, tmp_path, max_steps=100, lr=1e-3)) == 1e-3  # no decay
    warm = tiny_config(hub_dataset, tmp_path / "unused", max_steps=100, lr=1e-3, lr_warmup_steps=10, lr_decay_steps=40)
    assert [learning_rate(s, 100, warm) for s in (0, 4, 9, 30, 80)] == pytest.approx([1e-4, 5e-4, 1e-3, 1e-3, 5e-4])

    run = tmp_path / "epochs"
    train(tiny_config(hub_dataset, run, max_steps=None, epochs=2, lr_decay_steps=2))
    record = json.loads((run / "run.json").read_text())
    # 10 usable training photos, batches of 4, whole batches only: 2 per epoch.
    assert record["steps"] == 4
    assert "epoch 1 done at step 2" in (run / "train.log").read_text()


def test_calibration_sets_the_chroma_gain_and_rewrites_the_card(hub_dataset, tmp_path):
    from train.calibrate import main as calibrate_main

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2))
    # One adversarial step trained the discriminator: calibrating must keep it (it re-exports the model).
    trained_d = load_file(run / "model" / "discriminator.safetensors")
    assert calibrate_main([str(run), "--photos", "4", "--target-gap", "-50"]) == 0
    kept_d = load_file(run / "model" / "discriminator.safetensors")
    assert kept_d.keys() == trained_d.keys() and all(torch.equal(kept_d[k], trained_d[k]) for k in trained_d)
    gain = json.loads((run / "model" / "config.json").read_text())["chroma_gain"]
    assert 1.0 <= gain <= 3.0
    record = json.loads((run / "run.json").read_text())
    assert record["calibration"]["chroma_gain"] == gain and record["calibration"]["photos"] == 4
    assert record["calibration"]["split"] == "train"  # never calibrated on validation
    assert "Color calibration" in (run / "model" / "README.md").read_text()
    assert UNetGenerator.from_pretrained(run / "model").chroma_gain == gain


def test_calibration_of_a_classification_model_sets_its_temperature(hub_dataset, tmp_path):
    from train.calibrate import main as calibrate_main

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2, head="classification", l1_warmup_steps=10))
    assert calibrate_main([str(run), "--photos", "4", "--target-gap", "0"]) == 0
    config = json.loads((run / "model" / "config.json").read_text())
    assert 0.2 <= config["temperature"] <= 1.0 and config["chroma_gain"] == 1.0
    record = json.loads((run / "run.json").read_text())
    assert record["calibration"]["knob"] == "temperature"
    assert "annealed mean at temperature" in (run / "model" / "README.md").read_text()


def test_calibration_by_psnr_picks_the_temperature_with_the_best_psnr_on_every_set(hub_dataset, tmp_path):
    """--criterion psnr: the temperature whose outputs score best, averaged over the run's training
    photos and another set (--also), each weighing the same; the card says how it was chosen."""
    from train.calibrate import main as calibrate_main
    from train.calibrate import psnr_by_temperature

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2, head="classification", l1_warmup_steps=10))
    G = UNetGenerator.from_pretrained(run / "model")
    assert calibrate_main([str(run), "--photos", "4", "--criterion", "psnr", "--also", str(hub_dataset)]) == 0
    config = json.loads((run / "model" / "config.json").read_text())
    chosen = config["temperature"]
    calibration = json.loads((run / "run.json").read_text())["calibration"]
    assert calibration["criterion"] == "psnr" and calibration["sets"] == {"train": 4, str(hub_dataset): 4}
    # Measured again, independently: no other temperature on the grid beats the chosen one.
    photos = list(usable_photos(load_splits(tiny_config(hub_dataset, tmp_path / "x", max_steps=1)).train, 4))
    curve = psnr_by_temperature(G, photos, [1.0, 0.6, 0.2, chosen])
    assert curve[chosen] >= max(curve.values()) - 1e-9
    card = (run / "model" / "README.md").read_text()
    assert f"temperature {chosen:.2f}" in card and "--criterion psnr --also ./" in card


def test_calibration_by_color_weighs_color_hit_and_chroma_within_the_psnr_tolerance(hub_dataset, tmp_path):
    """--criterion color: of the temperatures within 0.3 dB of the best PSNR, the one with the best
    strict color hit + chroma ratio; the photos stream (a generator is read once, never listed)."""
    from train.calibrate import COLOR_GRID, COLOR_PSNR_TOLERANCE, fit_temperature_by_color
    from train.calibrate import main as calibrate_main

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2, head="classification", l1_warmup_steps=10))
    G = UNetGenerator.from_pretrained(run / "model")
    splits = load_splits(tiny_config(hub_dataset, tmp_path / "x", max_steps=1))
    reads = []

    def streamed():
        for photo in usable_photos(splits.train, 4):
            reads.append(photo.size)
            yield photo

    chosen, curve = fit_temperature_by_color(G, [streamed()])
    assert len(reads) == 4 and set(curve) == set(COLOR_GRID)  # one pass over the photos for every temperature
    best_psnr = max(c[0] for c in curve.values())
    assert curve[chosen][0] >= best_psnr - COLOR_PSNR_TOLERANCE
    score = lambda t: curve[t][1] + min(curve[t][2], 1.0)  # noqa: E731
    assert all(score(chosen) >= score(t) for t in COLOR_GRID if curve[t][0] >= best_psnr - COLOR_PSNR_TOLERANCE)
    assert calibrate_main([str(run), "--photos", "4", "--criterion", "color"]) == 0
    calibration = json.loads((run / "run.json").read_text())["calibration"]
    assert calibration["criterion"] == "color" and calibration["temperature"] == chosen
    assert calibration["sets"] == {"train": 4} and len(calibration["curve"]["1.00"]) == 3
    card = (run / "model" / "README.md").read_text()
    assert f"temperature {chosen:.2f}" in card and "strict color hit plus chroma ratio" in card


def test_calibration_by_psnr_refuses_a_regression_head(hub_dataset, tmp_path, capsys):
    from train.calibrate import main as calibrate_main

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=1))
    before = (run / "model" / "config.json").read_text()
    assert calibrate_main([str(run), "--photos", "2", "--criterion", "psnr"]) == 2
    assert "temperature" in capsys.readouterr().err
    assert (run / "model" / "config.json").read_text() == before


def test_a_calibrated_model_is_never_published_with_a_stale_onnx_graph(hub_dataset, tmp_path):
    """The temperature is folded into the ONNX graph's weights; calibration changes config.json. So
    calibration drops the graph, and publishing checks any graph it finds against the weights."""
    from train.calibrate import main as calibrate_main
    from train.export import PARITY_TOLERANCE, onnx_parity
    from train.publish import main as publish_main

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2, head="classification", l1_warmup_steps=10))
    G = UNetGenerator.from_pretrained(run / "model")
    stale = export_onnx(G, run / "model")  # T = 1.0 inside
    assert calibrate_main([str(run), "--photos", "4", "--target-gap", "0"]) == 0
    calibrated = UNetGenerator.from_pretrained(run / "model")
    assert calibrated.temperature < 1.0
    assert not stale.exists()  # the graph of the old decoding is gone

    # A graph that does not match the weights (an older calibration, a hand copy) is caught at publishing.
    other = UNetGenerator.from_pretrained(run / "model")
    with torch.no_grad():
        other.classifier.bias[0] += 20.0  # one bin dominates: a clearly different a*b*
    export_onnx(other, run / "model")
    assert onnx_parity(calibrated, stale) > PARITY_TOLERANCE
    record_before = (run / "run.json").read_bytes()
    target = tmp_path / "upload"
    assert publish_main([str(run), "me/model", "--export-to", str(target)]) == 0
    assert onnx_parity(calibrated, target / "onnx" / "model.onnx") <= PARITY_TOLERANCE
    # --export-to leaves the run as it was: no new graph in it, run.json untouched.
    assert onnx_parity(calibrated, stale) > PARITY_TOLERANCE
    assert (run / "run.json").read_bytes() == record_before
    assert not any(p.name.startswith(".staging") for p in target.iterdir())


def test_publishing_at_the_end_of_training_never_raises(tmp_path, monkeypatch, caplog):
    from train import publish as publish_module

    def broken(*args, **kwargs):
        raise RuntimeError("the ONNX exporter crashed")

    monkeypatch.setattr(publish_module, "prepare_upload", broken)
    assert publish_module.publish_or_explain(tmp_path, "me/model") is False
    assert "the ONNX exporter crashed" in caplog.text and "python -m train.publish" in caplog.text


def test_a_discriminator_ships_only_when_adversarial_steps_trained_it(hub_dataset, tmp_path):
    no_gan = train(tiny_config(hub_dataset, tmp_path / "l1", max_steps=2, l1_warmup_steps=5))
    assert not (no_gan / "discriminator.safetensors").exists()
    card = (no_gan / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert "gan" not in front["tags"] and "regression" in front["tags"]
    assert "discriminator: none trained (all 2 steps were the L1 loss alone, no adversarial step)" in card
    gan = train(tiny_config(hub_dataset, tmp_path / "gan", max_steps=3, l1_warmup_steps=1))
    assert (gan / "discriminator.safetensors").is_file()
    card = (gan / "README.md").read_text()
    assert "gan" in yaml.safe_load(card.split("---")[1])["tags"] and "2 adversarial steps" in card


def test_a_weight_average_is_named_on_its_card(hub_dataset, tmp_path):
    """A soup (experiments/weight_soup.py --export-run) ships a card that says it is an average, of
    what, and lists every stage's command, not 'the run, then its resumes'."""
    import json

    from train.card import render_card

    run = tmp_path / "run"
    train(tiny_config(hub_dataset, run, max_steps=2))
    record = json.loads((run / "run.json").read_text())
    record["commands"] = ["2026-12-07 10:00:00  python -m train --a", "2026-12-07 11:00:00  python -m train --b"]
    record["soup"] = {"parts": [{"name": "old", "weight": 0.6, "what": "the first"}, {"name": "new", "weight": 0.4,
                      "what": "its continuation"}], "why": "Measured."}  # fmt: skip
    card = render_card(run / "model", record, repo_id=None, weights_dtype="float32", n_parameters=1)
    assert "**The weights are an average of two models**" in card
    assert "0.6 x old (the first); 0.4 x new (its continuation). Measured." in card
    assert "Commands (each training stage, then the average)" in card and "its resumes" not in card
