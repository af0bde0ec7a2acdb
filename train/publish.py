"""Push an exported run to the Hub as a model repo: one commit of exactly the files in model/.

    python -m train.publish RUN_DIR REPO_ID [--private]
    python -m train.publish RUN_DIR REPO_ID --export-to DIR   # the same files into a folder, no upload
    python -m train.publish pix2pix_color/default_model pix2pix-color/pix2pix-color-landscapes  # an export folder

If the upload fails (no token, no network, no permission) the local export stays and the message
says how to retry.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError
from safetensors import safe_open

from pix2pix_color.models.hub import ModelLoadError
from pix2pix_color.models.networks import UNetGenerator, count_parameters
from pix2pix_color.pipeline.onnx_export import ONNX_DIR, ONNX_FILES

from .card import render_card

logger = logging.getLogger(__name__)

UPLOADED_FILES = (
    "model.safetensors",
    "config.json",
    "README.md",
    "samples.png",
    "discriminator.safetensors",
    "working_sizes.json",
    f"{ONNX_DIR}/{ONNX_FILES[0]}",
    f"{ONNX_DIR}/{ONNX_FILES[1]}",
)
# working_sizes.json: which working sizes measured no worse than the model's own (front ends offer those).
OPTIONAL_FILES = ("samples.png", "discriminator.safetensors", "working_sizes.json", *UPLOADED_FILES[-2:])


class PublishError(RuntimeError):
    """Publishing failed; the message says why and how to retry."""


def commit_operations(export_dir: Path, card: str | None = None, graph: Path | None = None) -> list[CommitOperationAdd]:
    """The one commit that publishing makes: exactly these files from the export folder, with
    `card` (text) as README.md in place of the folder's own when given, and with `graph` (checked
    against the weights, maybe written elsewhere) as the one ONNX graph when given."""
    missing = [name for name in UPLOADED_FILES if not (export_dir / name).is_file() and name not in OPTIONAL_FILES]
    if missing:
        raise PublishError(f"{export_dir} is not a complete export: missing {', '.join(missing)}")
    sources = {name: export_dir / name for name in UPLOADED_FILES if (export_dir / name).is_file()}
    if graph is not None:
        sources = {name: path for name, path in sources.items() if not name.startswith("onnx/")}
        sources[f"onnx/{graph.name}"] = graph
    return [
        CommitOperationAdd(
            path_in_repo=name,
            path_or_fileobj=card.encode() if name == "README.md" and card is not None else str(path),
        )
        for name, path in sources.items()
    ]


def ensure_onnx(export_dir: Path, G: UNetGenerator, target_dir: Path | None = None) -> Path:
    """Every published model carries its ONNX graph (browsers and ONNX Runtime use it), and it must
    compute what the safetensors weights do: an existing graph is checked against PyTorch every
    time (a calibration changes config.json, not the graph) and written anew when it differs, a
    missing one is written, as float16 weights when the safetensors ones are (the same numbers at
    half the size). A new graph goes to `target_dir` (default: the export itself). Returns the
    graph's path; raises PublishError when no graph within PARITY_TOLERANCE can be made."""
    from pix2pix_color.pipeline.onnx_export import export_onnx

    from .export import PARITY_TOLERANCE, onnx_parity

    target_dir = target_dir or export_dir
    existing = [export_dir / ONNX_DIR / name for name in ONNX_FILES if (export_dir / ONNX_DIR / name).is_file()]
    for path in existing:
        worst = onnx_parity(G, path)
        if worst <= PARITY_TOLERANCE:
            return path
        logger.warning("%s differs from the PyTorch weights by %.2e (a stale graph): writing it anew", path, worst)
    with safe_open(str(export_dir / "model.safetensors"), framework="pt") as f:
        half = any(f.get_slice(k).get_dtype() == "F16" for k in f.keys())
    path = export_onnx(G, target_dir, fp16=half)
    worst = onnx_parity(G, path)
    if worst > PARITY_TOLERANCE:
        path.unlink()
        raise PublishError(f"the ONNX export differs from PyTorch by {worst:.2e}; not publishing a wrong graph")
    logger.info("wrote %s (ONNX Runtime within %.1e of PyTorch)", path, worst)
    return path


def prepare_upload(
    run_dir: Path, repo_id: str, evaluations: dict[str, Path] | None = None, *, staging: Path | None = None
) -> list[CommitOperationAdd]:
    """Re-check the export and render a card naming the repo; returns the commit's operations.

    `run_dir` is a training run's folder (its model/ is sent, with a card rendered from run.json
    to name `repo_id`; the folder's own card is left as exported), an export folder, or a
    checkpoint's pretrained_model/ folder, sent as they are (the bundled default model).
    `evaluations` ({name: report}) adds `pix2pix-color evaluate --output` reports to the run's
    record and card, e.g. the model on photo sets it was not validated on. With `staging` (a
    folder of its own) nothing in `run_dir` is written: a new ONNX graph goes there and the
    evaluations stay out of run.json.
    """
    export_dir = run_dir if (run_dir / "config.json").is_file() else run_dir / "model"
    record_path = run_dir / "run.json"
    if not (export_dir / "config.json").is_file():
        raise PublishError(f"{run_dir} has no exported model (expected {export_dir}/config.json); did training finish?")
    try:
        G = UNetGenerator.from_pretrained(str(export_dir))  # proves the export loads strictly before it is sent
    except ModelLoadError as e:
        raise PublishError(f"not publishing {export_dir}: {e}") from None
    graph = ensure_onnx(export_dir, G, staging)
    if evaluations and not record_path.is_file():
        raise PublishError(f"{run_dir} has no run.json to add evaluations to")
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        for name, report in (evaluations or {}).items():
            try:
                result = json.loads(Path(report).read_text())
                record.setdefault("evaluations", {})[name] = {"model": result["model"], "gray": result["gray"]}
            except (OSError, ValueError, KeyError) as e:
                raise PublishError(f"--evaluation {name}={report}: not an evaluate report ({e})") from None
        if staging is None and evaluations:
            record_path.write_text(json.dumps(record, indent=2, default=str))
        weights_dtype = record["config"].get("export_dtype", "float32")
        card = render_card(
            export_dir,
            record,
            repo_id=repo_id,
            weights_dtype=weights_dtype,
            n_parameters=count_parameters(G),
            onnx_files=[graph.name],
        )
        return commit_operations(export_dir, card, graph)
    return commit_operations(export_dir, graph=graph)


def publish(
    run_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    api: HfApi | None = None,
    evaluations: dict[str, Path] | None = None,
) -> str:
    """Create the repo if needed and push the export in one commit; returns the commit URL."""
    run_dir = Path(run_dir)
    operations = prepare_upload(run_dir, repo_id, evaluations)
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
    except Exception as e:  # noqa: BLE001 - e.g. the ONNX exporter failing: the trained model must survive it
        logger.error("%s", _retry(run_dir, repo_id, f"{type(e).__name__}: {e}"))
        return False
    logger.info("published %s", url)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="the training run's --output-dir")
    parser.add_argument("repo_id", help="Hub model repo, e.g. your-name/pix2pix-color-landscapes")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--export-to", help="copy exactly what would be uploaded into this folder instead of uploading")
    parser.add_argument(
        "--evaluation",
        action="append",
        default=[],
        metavar="NAME=REPORT.json",
        help="add a `pix2pix-color evaluate --output` report to the card (repeatable)",
    )
    args = parser.parse_args(argv)
    evaluations = {}
    for item in args.evaluation:
        name, sep, report = item.partition("=")
        if not sep or not name or not report:
            parser.error(f"--evaluation {item!r}: expected NAME=REPORT.json")
        evaluations[name] = Path(report)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.export_to:
            target = Path(args.export_to)
            target.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target))
            try:
                operations = prepare_upload(Path(args.run_dir), args.repo_id, evaluations, staging=staging)
                for op in operations:
                    (target / op.path_in_repo).parent.mkdir(parents=True, exist_ok=True)
                    if isinstance(op.path_or_fileobj, bytes):
                        (target / op.path_in_repo).write_bytes(op.path_or_fileobj)
                    else:
                        shutil.copyfile(op.path_or_fileobj, target / op.path_in_repo)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            print(target)
        else:
            print(publish(args.run_dir, args.repo_id, private=args.private, evaluations=evaluations))
    except (PublishError, ModelLoadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
