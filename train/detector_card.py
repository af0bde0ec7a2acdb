"""Ship a trained damage detector: its model card (README.md, huggingface_hub's `ModelCard`) and
its ONNX graph, written into the detector's folder beside config.json and model.safetensors.

    python -m train.detector_card pix2pix_color/repair/detector_model

The card is built from what the folder holds (scores.json: held-out crops; TRAINING.txt: the
commands) and the photos-hq repair measurement in experiments/results/repair_photos-hq.json, so it
says what was measured, not what was hoped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

from pix2pix_color.repair.detector import DamageDetector
from pix2pix_color.repair.onnx_graph import ONNX_FILE, export_detector_onnx
from pix2pix_color.repair.repair import GROW, THRESHOLD

ROOT = Path(__file__).resolve().parents[1]
REPAIR_RESULTS = ROOT / "experiments" / "results" / "repair_photos-hq.json"


def _repair_table(results: dict | None) -> str:
    if not results:
        return "(not measured: run experiments/repair_study.py)"
    rows = ["| method | damage left (share of the damaged input's \\|dL*\\|) | undamaged pixels moved (L*) | "
            "undamaged photo changed (L*) |", "|---|---|---|---|"]  # fmt: skip
    for name, r in results["summary"].items():
        rows.append(f"| {name} | {r['damage']:.2f} | {r['undamaged']:.2f} | {r['clean']:.2f} |")
    return (
        f"{results['photos']} photos-hq photos at {results['side']} px, damaged by the package's own model:\n\n"
        + "\n".join(rows)
    )


def detector_card(folder: Path, detector: DamageDetector) -> ModelCard:
    """The card of the detector in `folder`."""
    scores = json.loads((folder / "scores.json").read_text())
    training = (
        (folder / "TRAINING.txt").read_text().strip() if (folder / "TRAINING.txt").is_file() else "(not recorded)"
    )
    repair = json.loads(REPAIR_RESULTS.read_text()) if REPAIR_RESULTS.is_file() else None
    params = sum(p.numel() for p in detector.parameters())
    widths = ", ".join(map(str, detector.widths))
    data = ModelCardData(license="apache-2.0", library_name="pix2pix-color", pipeline_tag="image-segmentation",
                         tags=["image-restoration", "damage-detection", "old-photos", "onnx"])  # fmt: skip
    body = f"""# pix2pix-color damage detector

Finds cracks, scratches, dust, specks and small blotches on scanned old prints, light (where the
paper shows through) and dark (dirt), so that `pix2pix-color repair` can fill them from the photo
around them and leave every other pixel as it was.

- **Architecture**: a U-Net over the pixel-unshuffled lightness, widths {widths}, {params:,} parameters
  (`pix2pix_color.repair.detector.DamageDetector`). Input L*/100 (B,1,H,W); output logits per pixel.
- **Use**: damage where sigmoid(logits) >= {THRESHOLD}, the mask grown by {GROW} px, filled with OpenCV's Telea
  inpainting (`pix2pix_color.repair.repair_photo`). `{ONNX_FILE}`: the same network for other runtimes
  (H and W multiples of 32; pad with the edge's values).
- **Training data**: gray crops of photos-varied and the landscape training split (every tenth photo
  held out), damaged on the fly by `pix2pix_color.synthetic.damage` (branching cracks, long scratches,
  dust and fibres, emulsion loss; 15% of crops left clean). No real damaged scans were used.
- **Training**: {training}

## Measured

Held-out crops (threshold 0.5): precision {scores["precision"]:.3f}, recall {scores["recall"]:.3f},
F1 {scores["f1"]:.3f}; {scores["clean_flagged"]:.2%} of a clean crop's pixels flagged (step {scores["step"]}).

{_repair_table(repair)}

## Limits

Long straight wires and cables look like scratches to it (they are filled); real damage from other
processes than the synthetic model (mould, silvering, torn corners) was not measured.
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    try:
        detector = DamageDetector.from_pretrained(str(args.folder))
    except (OSError, ValueError) as e:
        print(f"cannot load a detector from {args.folder}: {e}", file=sys.stderr)
        return 2
    detector_card(args.folder, detector).save(args.folder / "README.md")
    export_detector_onnx(detector.eval(), args.folder)
    print(f"wrote {args.folder / 'README.md'} and {args.folder / ONNX_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
