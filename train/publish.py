"""Export a trained run as a Hub model repo (safetensors + config + model card + samples) and push it.

    python -m train.publish RUN_DIR REPO_ID [--private]
    python -m train.publish RUN_DIR REPO_ID --export-to DIR   # the same files into a folder, no upload

A run folder holds `model/` (what gets uploaded, exactly) and `run.json` (how it was trained). The
upload is one commit of the files in `model/`. If it fails (no token, no network, no permission) the
local export stays and the message says how to retry.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import yaml
from huggingface_hub import CommitOperationAdd, DatasetCard, EvalResult, HfApi, ModelCard, ModelCardData
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError
from safetensors.torch import save_file

import pix2pix_color
from pix2pix_color.models import UNetGenerator, count_parameters

from .config import TrainConfig

logger = logging.getLogger(__name__)

REPO_URL = "https://github.com/pix2pix-color/pix2pix-color"
SPACE_URL = "https://huggingface.co/spaces/pix2pix-color/pix2pix-color"
UPLOADED_FILES = ("model.safetensors", "config.json", "README.md", "samples.png", "discriminator.safetensors")
OPTIONAL_FILES = ("samples.png", "discriminator.safetensors")
METRIC_ROWS = (
    ("psnr", "PSNR (dB) ↑", "{:.2f}"),
    ("ssim", "SSIM ↑", "{:.4f}"),
    ("auc", "AuC of ab error, 0-150 ↑", "{:.4f}"),
    ("hue_hit", "Hue hit rate ↑", "{:.3f}"),
    ("colorfulness", "Colorfulness (real photos: {real:.1f})", "{:.1f}"),
    ("colorfulness_gap", "Colorfulness vs real photos", "{:+.1f}%"),
)
METRIC_NAMES = {"psnr": "PSNR", "ssim": "SSIM", "auc": "AUC", "hue_hit": "Hue hit rate", "colorfulness": "Colorfulness"}
CITATION = """@inproceedings{isola2017image,
  title     = {Image-to-Image Translation with Conditional Adversarial Networks},
  author    = {Isola, Phillip and Zhu, Jun-Yan and Zhou, Tinghui and Efros, Alexei A},
  booktitle = {Computer Vision and Pattern Recognition (CVPR)},
  year      = {2017}
}"""


class PublishError(RuntimeError):
    """Publishing failed; the message says why and how to retry."""


# --------------------------------------------------------------------------------------------------
# What the run knows about itself


def dataset_card_info(dataset: str) -> dict:
    """Name, provenance and terms of the training data, from its dataset card (README.md)."""
    text = ""
    try:
        if os.path.isdir(dataset):
            readme = Path(dataset) / "README.md"
            text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
        else:
            text = str(DatasetCard.load(dataset))
    except Exception as e:  # noqa: BLE001 - the card is optional; training must not fail over it
        logger.warning("could not read the dataset card of %s: %s", dataset, e)
    meta, body = {}, text
    if text.startswith("---"):
        _, front, body = text.split("---", 2)
        meta = yaml.safe_load(front) or {}
    # The paragraph (and list) that starts with "Provenance", and the first table (what is in it).
    provenance = re.search(r"^(#+\s*)?Provenance.*?(?=\n\s*\n(?![-*\s])|\Z)", body, re.M | re.S)
    table = re.search(r"(^\|.*\|[ \t]*\n)+", body, re.M)
    return {
        "pretty_name": meta.get("pretty_name") or Path(dataset.rstrip("/")).name,
        "license": meta.get("license"),
        "provenance": provenance.group(0).strip() if provenance else "",
        "summary": table.group(0).strip() if table else "",
    }


def write_run_record(
    out: Path, *, cfg: TrainConfig, step: int, wall_seconds: float, hardware: str, counters: dict
) -> dict:
    metrics_path = out / "metrics.json"
    commands_path = out / "commands.txt"
    commands = commands_path.read_text().splitlines() if commands_path.is_file() else []
    record = {
        "config": cfg.to_dict(),
        "commands": commands,  # "date time  command", one per invocation (the first run, then resumes)
        "steps": step,
        "wall_seconds": wall_seconds,
        "hardware": hardware,
        "skipped": counters,
        "metrics": json.loads(metrics_path.read_text()) if metrics_path.is_file() else None,
        "dataset": dataset_card_info(cfg.dataset),
        "date": datetime.date.today().isoformat(),
        "versions": {"pix2pix_color": pix2pix_color.__version__, "torch": torch.__version__},
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str))
    return record


# --------------------------------------------------------------------------------------------------
# The model card


def _hub_dataset_id(cfg: dict) -> str | None:
    if cfg.get("dataset_hub_id"):
        return cfg["dataset_hub_id"]
    dataset = cfg["dataset"]
    looks_like_hub_id = re.fullmatch(r"[\w.-]+/[\w.-]+", dataset) is not None and not os.path.exists(dataset)
    return dataset if looks_like_hub_id else None


def _portable(cfg: dict) -> Callable[[str], str]:
    """Rewrites the run's own folders in card text: the card is published, while the dataset folder
    and output folder it was trained with exist only on the training machine. A local dataset
    becomes ./<its folder name>, the output folder runs/<its name>; a Hub dataset id stays."""
    swaps = {cfg["output_dir"].rstrip("/"): "runs/" + Path(cfg["output_dir"].rstrip("/")).name}
    if not _hub_dataset_id(cfg):
        swaps[cfg["dataset"].rstrip("/")] = "./" + Path(cfg["dataset"].rstrip("/")).name

    def rewrite(text: str) -> str:
        for local, shown in sorted(swaps.items(), key=lambda kv: -len(kv[0])):  # longest first
            text = text.replace(local, shown)
        return text

    return rewrite


def _result_row(name: str, results: dict) -> str:
    m, g = results["model"], results["gray"]
    return (
        f"| {name} | {m['n_images']} | {m['psnr']:.2f} ({m['psnr'] - g['psnr']:+.2f} vs gray) | {m['ssim']:.4f} | "
        f"{m['hue_hit']:.3f} | {m['colorfulness_gap']:+.1f}% |"
    )


def _more_results(record: dict, cfg: dict) -> list[str]:
    """Rows for validation with color hints and for other evaluation sets, when the run has them."""
    metrics = record.get("metrics") or {}
    rows = []
    if metrics.get("hints10"):
        rows.append(_result_row(f"{cfg['validation_split']}, 10 color hints", metrics["hints10"]))
    for name, results in (record.get("evaluations") or {}).items():
        rows.append(_result_row(name, results))
    if not rows:
        return []
    return [
        "",
        "More results (PSNR in dB; *10 color hints*: each photo gets 10 points whose colors are taken from the "
        "real photo, as a user who knows the colors would click them):",
        "",
        "| photos | n | PSNR | SSIM | hue hit rate | colorfulness vs real |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def _recipe(cfg: dict, steps: int) -> str:
    loss = (
        "L1"
        if cfg.get("head", "regression") == "regression"
        else "cross-entropy over 253 a\\*b\\* bins (annealed-mean decoding)"
    )
    if cfg.get("color_rebalance") is not None:
        loss += f", class-rebalanced (lambda {cfg['color_rebalance']:g})"
    if cfg["l1_warmup_steps"] >= steps:
        text = f"{loss} only"
    else:
        text = f"{loss} until step {cfg['l1_warmup_steps']}, then {cfg['gan_mode']} GAN + {cfg['lambda_l1']:g} x {loss.split(',')[0]}"
    if cfg.get("hints"):
        text += "; simulated color hints (half the photos none, the others a geometric number of points, mean 8)"
    if cfg.get("ema_decay"):
        text += f"; generator EMA {cfg['ema_decay']:g} (exported)"
    return text


def build_model_card(
    record: dict, *, n_parameters: int, weights_dtype: str, weights_mb: float, repo_id: str | None = None
) -> ModelCard:
    cfg = record["config"]
    data = record["dataset"]
    metrics = record.get("metrics") or {}
    model_m, gray_m = metrics.get("model"), metrics.get("gray")
    hub_dataset = _hub_dataset_id(cfg)
    portable = _portable(cfg)
    dataset_name = data["pretty_name"]
    eval_results = []
    if model_m:
        for key in ("psnr", "ssim", "auc", "hue_hit", "colorfulness"):
            if key not in model_m or model_m[key] != model_m[key]:  # older runs, or NaN
                continue
            eval_results.append(
                EvalResult(
                    task_type="image-to-image",
                    task_name="Image colorization",
                    dataset_type=hub_dataset or Path(cfg["dataset"].rstrip("/")).name,
                    dataset_name=dataset_name,
                    dataset_split=cfg["validation_split"],
                    metric_type=key,
                    metric_name=METRIC_NAMES[key],
                    metric_value=round(float(model_m[key]), 4),
                )
            )
    card_data = ModelCardData(
        library_name="pix2pix-color",
        pipeline_tag="image-to-image",
        license="apache-2.0",
        datasets=[hub_dataset] if hub_dataset else None,
        tags=["pix2pix", "colorization", "image-colorization", "gan", "lab-color-space", "pytorch_model_hub_mixin"],
        metrics=["psnr", "ssim"],
        model_name=repo_id or "pix2pix-color",
        eval_results=eval_results or None,
    )
    load_id = repo_id or "path/to/this/folder"
    hours = record["wall_seconds"] / 3600
    lines = [
        f"# pix2pix-color: a colorizer trained on {dataset_name}",
        "",
        "Turns black-and-white photos into color ones. A pix2pix U-Net generator (Isola et al. 2017) "
        "predicts the a\\*b\\* chroma of CIE L\\*a\\*b\\* from the L\\* (lightness) of a photo; "
        "[pix2pix-color](" + REPO_URL + ") keeps the photo's own full-resolution L\\* and upsamples the "
        "predicted chroma, so the output has the input's exact size and sharpness.",
        "",
        f"Try it in the browser: [the pix2pix-color Space]({SPACE_URL}).",
        "",
        "## Use",
        "",
        "```python",
        "from pix2pix_color import Colorizer",
        "",
        f'colorizer = Colorizer.from_pretrained("{load_id}")',
        'colorizer.colorize("old_photo.jpg").save("colorized.png")  # any size, any PIL mode',
        "```",
        "",
        f"or `pix2pix-color colorize photos/ -o colorized/ --model {load_id}` (`pip install pix2pix-color`).",
        "",
        "## Results",
        "",
        f"On the {cfg['validation_split']} split ({(model_m or {}).get('n_images', '?')} photos), at each photo's full resolution, "
        "against the grayscale baseline (output = input), which is what a colorizer must beat:",
        "",
    ]
    if model_m and gray_m:
        lines += ["| metric | this model | grayscale baseline |", "|---|---|---|"]
        for key, label, fmt in METRIC_ROWS:
            if key not in model_m:
                continue
            if key == "colorfulness_gap":
                lines.append(f"| {label} | {fmt.format(model_m[key])} | {fmt.format(gray_m[key])} |")
            else:
                lines.append(
                    f"| {label.format(real=model_m['colorfulness_real'])} | {fmt.format(model_m[key])} | {fmt.format(gray_m[key])} |"
                )
        lines += [
            "",
            "PSNR and SSIM on 8-bit RGB; colorfulness after Hasler & Süsstrunk (2003); AuC of the "
            "cumulative per-pixel ab-error curve over thresholds 0-150 (Zhang et al. 2016); hue hit rate: "
            "over the real photo's colorful pixels (C\\*ab >= 20), the share where the output has C\\*ab >= 10 "
            "and a hue within 45 degrees of the real one (gray output scores 0).",
        ]
        lines += _more_results(record, cfg)
    calibration = record.get("calibration")
    if calibration and (calibration.get("uncalibrated_metrics") or {}).get("model") and model_m:
        before = calibration["uncalibrated_metrics"]["model"]
        gain = calibration["chroma_gain"]
        lines += [
            "",
            f"**Chroma calibration.** The L1 term of pix2pix makes the generator predict the median color, "
            f"which pulls uncertain colors towards gray. The predicted a\\*b\\* are multiplied by {gain:.2f} "
            f"(`chroma_gain` in config.json), the smallest factor that brings the outputs' colorfulness within "
            f"{abs(calibration['target_gap_percent']):g}% of the real photos' on {calibration['photos']} photos of the "
            f"*{calibration['split']}* split (never on validation): `python -m train.calibrate RUN_DIR --target-gap "
            f"{calibration['target_gap_percent']:g}`. Set `Colorizer(..., chroma_gain=1.0)` for the raw output.",
            "",
            f"| | chroma gain 1.00 | chroma gain {gain:.2f} (shipped) |",
            "|---|---|---|",
            f"| PSNR (dB) | {before['psnr']:.2f} | {model_m['psnr']:.2f} |",
            f"| AuC | {before['auc']:.4f} | {model_m['auc']:.4f} |",
            f"| Colorfulness vs real photos | {before['colorfulness_gap']:+.1f}% | {model_m['colorfulness_gap']:+.1f}% |",
        ]
    else:
        lines.append("No validation metrics were recorded for this run.")
    lines += [
        "",
        "Validation samples (rows: gray input, this model, the real photo):",
        "",
        "![samples](samples.png)",
        "",
        "## Training",
        "",
        f"- Data: **{dataset_name}**"
        + (
            f" ([{hub_dataset}](https://huggingface.co/datasets/{hub_dataset}))"
            if hub_dataset
            else f" (a local folder, `{portable(cfg['dataset'])}` below)"
        )
        + ".",
    ]
    if data.get("summary"):
        lines += ["", "  " + data["summary"].replace("\n", "\n  ")]
    if data.get("provenance"):
        lines += ["", "  " + data["provenance"].replace("\n", "\n  ")]
    skipped = record.get("skipped") or {}
    lines += [
        "",
        "- Command" + ("s (the run, then its resumes)" if len(record.get("commands", [])) > 1 else "") + ":",
        "",
        "  ```bash",
        *[f"  {portable(line.split('  ', 1)[-1])}" for line in record.get("commands", [])],
        "  ```",
        "",
        ("- Settings of the last invocation: " if len(record.get("commands", [])) > 1 else "- Settings: ")
        + f"preset `{cfg.get('preset')}`; {record['steps']} steps in all, batch {cfg['batch_size']} at {cfg['image_size']}x{cfg['image_size']}"
        + (f" (random crops from {cfg['load_size']}x{cfg['load_size']})" if cfg.get("load_size") else "")
        + f"; {_recipe(cfg, record['steps'])}"
        + (f"; started from `{cfg['init_from']}`" if cfg.get("init_from") else "")
        + "; "
        f"Adam lr {cfg['lr']:g}, betas {tuple(cfg['betas'])}"
        + (f", linear decay over the last {cfg['lr_decay_steps']} steps" if cfg["lr_decay_steps"] else "")
        + ".",
        f"- Generator: U-Net depth {cfg['gen_depth']}, {cfg['gen_base_channels']} base filters capped at {cfg['gen_max_channels']}, "
        f"{n_parameters:,} parameters; weights stored in {weights_dtype} ({weights_mb:.1f} MB); discriminator: "
        f"{cfg['disc_layers']}-layer PatchGAN, {cfg['disc_base_channels']} base filters.",
        f"- Hardware: {record['hardware']}; wall time {hours:.2f} h; date {record['date']}.",
        f"- Skipped while streaming: {skipped.get('corrupt', 0)} undecodable, {skipped.get('grayscale', 0)} grayscale photos.",
        "",
        "<details><summary>Full training config</summary>",
        "",
        "```json",
        portable(json.dumps(cfg, indent=2)),
        "```",
        "</details>",
        "",
        "## Limitations",
        "",
        "- Colors are **plausible guesses, not the true colors** of the scene: a gray value is consistent "
        "with many colors, and the model picks likely ones. Do not use the output as a historical record.",
        f"- Trained on {dataset_name}: outdoor landscapes (forest, glacier, mountain, sea). People, "
        "interiors, vehicles and artificial objects are outside its domain and come out muted or wrong.",
        f"- Chroma is predicted at {cfg['image_size']}px on the long side and upsampled; fine colored detail "
        "smaller than that (a red flower in a meadow) is not recovered.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
    ]
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------
# Export and upload


def export_model(
    G: UNetGenerator,
    export_dir: Path,
    *,
    cfg: TrainConfig,
    record: dict,
    repo_id: str | None = None,
    discriminator: torch.nn.Module | None = None,
) -> Path:
    """Write config.json, model.safetensors (in cfg.export_dtype), README.md, samples.png and, given
    one, discriminator.safetensors (so that `--init-from` can continue GAN training from it)."""
    export_dir.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if cfg.export_dtype == "float16" else torch.float32
    exported = copy.deepcopy(G).to(memory_format=torch.contiguous_format).to(dtype).eval()
    (export_dir / "README.md").unlink(missing_ok=True)  # save_pretrained would keep a stale card
    exported.save_pretrained(export_dir)
    if discriminator is not None:
        state = {k: v.detach().to(dtype).contiguous() for k, v in discriminator.state_dict().items()}
        save_file(state, export_dir / "discriminator.safetensors")
    samples = Path(cfg.output_dir) / "samples.png"
    if samples.is_file():
        shutil.copyfile(samples, export_dir / "samples.png")
    write_card(export_dir, record, repo_id=repo_id, weights_dtype=cfg.export_dtype, n_parameters=count_parameters(G))
    return export_dir


def write_card(export_dir: Path, record: dict, *, repo_id: str | None, weights_dtype: str, n_parameters: int) -> None:
    weights_mb = (export_dir / "model.safetensors").stat().st_size / 1e6
    card = build_model_card(
        record, n_parameters=n_parameters, weights_dtype=weights_dtype, weights_mb=weights_mb, repo_id=repo_id
    )
    card.save(export_dir / "README.md")


def commit_operations(export_dir: Path) -> list[CommitOperationAdd]:
    """The one commit that publishing makes: exactly these files from the export folder."""
    missing = [name for name in UPLOADED_FILES if not (export_dir / name).is_file() and name not in OPTIONAL_FILES]
    if missing:
        raise PublishError(f"{export_dir} is not a complete export: missing {', '.join(missing)}")
    return [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(export_dir / name))
        for name in UPLOADED_FILES
        if (export_dir / name).is_file()
    ]


def prepare_upload(run_dir: Path, repo_id: str) -> list[CommitOperationAdd]:
    """Re-check the export and write a card naming the repo; returns the commit's operations."""
    export_dir = run_dir / "model"
    record_path = run_dir / "run.json"
    if not (export_dir / "config.json").is_file():
        raise PublishError(f"{run_dir} has no exported model (expected {export_dir}/config.json); did training finish?")
    G = UNetGenerator.from_pretrained(str(export_dir))  # proves the export loads strictly before it is sent
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        weights_dtype = record["config"].get("export_dtype", "float32")
        write_card(export_dir, record, repo_id=repo_id, weights_dtype=weights_dtype, n_parameters=count_parameters(G))
    return commit_operations(export_dir)


def publish(run_dir: str | Path, repo_id: str, *, private: bool = False, api: HfApi | None = None) -> str:
    """Create the repo if needed and push the export in one commit; returns the commit URL."""
    run_dir = Path(run_dir)
    operations = prepare_upload(run_dir, repo_id)
    api = api or HfApi()
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.create_commit(
            repo_id,
            operations=operations,
            commit_message="Upload pix2pix-color model (safetensors, config, card, samples)",
            repo_type="model",
        )
    except LocalTokenNotFoundError:
        raise PublishError(
            _retry(run_dir, repo_id, "no Hugging Face token (run `hf auth login` or set HF_TOKEN)")
        ) from None
    except HfHubHTTPError as e:
        status = getattr(e.response, "status_code", None)
        reason = {401: "the token was rejected", 403: f"the token may not write to {repo_id}"}.get(
            status, f"the Hub answered: {e}"
        )
        raise PublishError(_retry(run_dir, repo_id, reason)) from None
    except Exception as e:  # noqa: BLE001 - connection errors (httpx's own classes), offline mode, bad id...
        # ...whatever it is, the user needs the same thing: the reason, and how to retry later.
        raise PublishError(_retry(run_dir, repo_id, f"{type(e).__name__}: {e}")) from None
    return str(getattr(info, "commit_url", info))


def _retry(run_dir: Path, repo_id: str, reason: str) -> str:
    return (
        f"could not publish to {repo_id}: {reason}. The model is saved in {run_dir / 'model'}; "
        f"publish it later with: python -m train.publish {run_dir} {repo_id}"
    )


def publish_or_explain(run_dir: Path, repo_id: str) -> bool:
    """publish() for the end of training: a failure is logged, never raised (the export is kept)."""
    try:
        url = publish(run_dir, repo_id)
    except PublishError as e:
        logger.error("%s", e)
        return False
    logger.info("published %s", url)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="the training run's --output-dir")
    parser.add_argument("repo_id", help="Hub model repo, e.g. your-name/pix2pix-color-landscapes")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--export-to", help="copy exactly what would be uploaded into this folder instead of uploading")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.export_to:
            target = Path(args.export_to)
            target.mkdir(parents=True, exist_ok=True)
            for op in prepare_upload(Path(args.run_dir), args.repo_id):
                shutil.copyfile(op.path_or_fileobj, target / op.path_in_repo)
            print(target)
        else:
            print(publish(args.run_dir, args.repo_id, private=args.private))
    except (PublishError, pix2pix_color.ModelLoadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
