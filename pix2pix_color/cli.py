"""The `pix2pix-color` command: colorize files and folders, evaluate a model against the gray baseline.

pix2pix-color colorize old_photos/ scan.tif -o colorized/ [--model ORG/NAME]
pix2pix-color colorize barn.jpg -o colorized/ --hints barn-hints.json   # [[x, y, "#rrggbb"], ...]
pix2pix-color colorize old_farm.jpg -o colorized/ --reference farm_today.jpg   # colors from a color photo
pix2pix-color colorize film.mp4 -o colorized/                          # -> colorized/film.mp4, with its audio
pix2pix-color restore faded_prints/ -o restored/ [--keep-tone] [--confidence-map]
pix2pix-color evaluate --model ORG/NAME --dataset ORG/DATASET [--split validation]
pix2pix-color evaluate --images my_color_photos/
pix2pix-color evaluate --video color_footage.mp4 [--film-look]         # flicker (E_warp, CDC) and quality
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .hints import MAX_HINT_POINTS, HintError, parse_hints_json, parse_video_hints_json
from .hub import ModelLoadError
from .images import IMAGE_SUFFIXES, ImageError, save_png, write_atomically
from .inference import COLOR_STRENGTH_RANGE, WORKING_SIZE_RANGE, Colorizer
from .provenance import ProvenanceError, SigningCredentials, manifest_for, sign, sign_file
from .temporal import DEFAULT_SMOOTHING, check_smoothing

try:  # the [video] extra: PyAV and OpenCV
    from .video import VIDEO_SUFFIXES, VideoError, is_video
except ImportError:  # pragma: no cover - depends on the installation
    VIDEO_SUFFIXES, is_video = frozenset(), None

    class VideoError(ValueError):
        """Never raised without the [video] extra."""


def _load(args: argparse.Namespace, device=None, backend: str = "auto") -> Colorizer:
    return Colorizer.from_pretrained(
        args.model,
        working_size=args.working_size,
        device=device or args.device,
        color_strength=args.color_strength,
        mirror_average=args.mirror_average,
        backend=backend,
    )


def _one_photo(colorizer: Colorizer, source: Path, hints, reference, confidence: bool):
    try:
        return colorizer.colorize(
            source, hints=hints[0] if hints else None, reference=reference, return_confidence=confidence
        )
    except (ImageError, HintError) as e:
        return e


def _manifest(colorizer: Colorizer, args: argparse.Namespace, target: Path, hints) -> dict:
    settings = {"working_size": colorizer.working_size, "color_strength": args.color_strength}
    if hints:
        settings["hints"] = "given by the user"
    return manifest_for(colorizer.model_id, target.name, settings)


def _output_paths(inputs: list[Path], out_dir: Path, videos: set[Path], relative: dict[Path, Path]) -> list[Path]:
    """Where each result goes: the input's place under OUT_DIR (a folder's tree is mirrored, a file
    given by itself goes to the top), as <stem>.png (<stem>.mp4 for a video); made unique with -2,
    -3... only when two inputs would meet (photo.jpg and photo.tif), never one of the inputs."""
    taken: set[Path] = set()
    sources = {p.resolve() for p in inputs}
    paths = []
    for p in inputs:
        suffix = ".mp4" if p in videos else ".png"
        place = out_dir / relative.get(p, Path(p.name)).parent
        candidate, n = place / f"{p.stem}{suffix}", 1
        while candidate in taken or candidate.resolve() in sources:
            n += 1
            candidate = place / f"{p.stem}-{n}{suffix}"
        taken.add(candidate)
        paths.append(candidate)
    return paths


def find_inputs(inputs: list[str]) -> tuple[list[Path], set[Path], dict[Path, Path]]:
    """Photos and videos among the given files and (recursively) folders; which ones are videos; and
    each one's path relative to the folder it was found in (its place in the mirrored output tree).

    Videos are recognised by content, whatever their name: a file that is not a photo by its suffix is
    asked whether FFmpeg finds a moving picture in it (a renamed `film.dat` counts, `notes.txt` does
    not); files with a video suffix count as videos either way, so that a broken one is reported.
    """
    found, videos, relative = [], set(), {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for p in sorted(q for q in path.rglob("*") if q.is_file() and not q.name.startswith(".")):
                suffix = p.suffix.lower()
                if suffix in IMAGE_SUFFIXES:
                    found.append(p)
                elif suffix in VIDEO_SUFFIXES or (is_video is not None and is_video(p)):
                    found.append(p)  # a broken .mp4 is reported as a failed video, not passed over
                    videos.add(p)
                else:
                    continue
                relative[p] = p.relative_to(path)
        else:
            found.append(path)
            suffix = path.suffix.lower()
            if suffix in VIDEO_SUFFIXES or (suffix not in IMAGE_SUFFIXES and is_video is not None and is_video(path)):
                videos.add(path)
    return found, videos, relative


def _read_hints(path: str, for_video: bool):
    """--hints FILE.json: a list of [x, y, "#rrggbb"], or for a video also {"frame": [[x, y, color], ...]}."""
    text = Path(path).read_text(encoding="utf-8")
    return parse_video_hints_json(text) if for_video else parse_hints_json(text)


def colorize_command(args: argparse.Namespace) -> int:
    inputs, videos, relative = find_inputs(args.inputs)
    if not inputs:
        print("error: no images or videos found in the given inputs", file=sys.stderr)
        return 2
    try:
        colorizer = _load(args)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    hints = None
    if args.hints:
        if len(inputs) != 1:
            print(f"error: --hints applies to a single photo or video, and {len(inputs)} were given", file=sys.stderr)
            return 2
        try:
            hints = [_read_hints(args.hints, for_video=bool(videos))]
        except OSError as e:
            print(f"error: cannot read --hints {args.hints}: {e.strerror}", file=sys.stderr)
            return 2
        except (HintError, UnicodeDecodeError) as e:
            print(f"error: --hints {args.hints}: {e}", file=sys.stderr)
            return 2
    reference = None
    if args.reference:
        try:
            reference = colorizer.prepare_reference(args.reference)
        except (ImageError, ValueError) as e:
            print(f"error: --reference {args.reference}: {e}", file=sys.stderr)
            return 2
    if args.confidence_map and colorizer.generator.head != "classification":
        print("error: --confidence-map needs a model with a classification head (this one predicts one color "
              "per pixel, with no spread to read)", file=sys.stderr)  # fmt: skip
        return 2
    if args.confidence_map and videos:
        print("note: --confidence-map is written for photos only, not for videos", file=sys.stderr)
    credentials = None
    if args.c2pa_cert or args.c2pa_key:
        if not (args.c2pa_cert and args.c2pa_key):
            print("error: --c2pa-cert and --c2pa-key go together", file=sys.stderr)
            return 2
        try:
            credentials = SigningCredentials.from_files(args.c2pa_cert, args.c2pa_key)
        except ProvenanceError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    jobs = list(zip(inputs, _output_paths(inputs, out_dir, videos, relative)))

    def say_if_renamed(source: Path, target: Path) -> None:
        # Said once the file is written, so that nobody has to guess which file became which (a
        # file that fails is named once, by its reason, and was never renamed to anything).
        if target.stem != source.stem:
            tqdm.write(f"{source} -> {target} (another input has the same name)", file=sys.stderr)

    video_jobs = [(source, target) for source, target in jobs if source in videos]
    jobs = [job for job in jobs if job[0] not in videos]
    if video_jobs and is_video is None:
        print("error: colorizing videos needs PyAV and OpenCV: pip install av opencv-python-headless", file=sys.stderr)
        return 2
    for source, target in video_jobs:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            colorizer.colorize_video(
                source,
                target,
                hints=hints[0] if hints else None,
                reference=reference,
                smoothing=args.smoothing,
                progress=not args.quiet,
                batch_size=args.batch_size,
            )
            if credentials is not None:
                sign_file(target, credentials, _manifest(colorizer, args, target, hints))
            say_if_renamed(source, target)
        except (VideoError, HintError, ImageError) as e:
            if isinstance(e, HintError):
                print(f"error: --hints {args.hints}: {e}", file=sys.stderr)
                return 2
            failed += 1
            tqdm.write(f"skipped {source}: {str(e).split(': ', 1)[-1]}", file=sys.stderr)
    with tqdm(total=len(jobs), desc="colorize", unit="image", disable=args.quiet or not jobs) as bar:
        for start in range(0, len(jobs), args.batch_size):
            chunk = jobs[start : start + args.batch_size]
            if args.confidence_map or reference is not None:  # one at a time: each photo's prediction is kept
                results = [_one_photo(colorizer, source, hints, reference, args.confidence_map) for source, _ in chunk]
            else:
                results = colorizer.colorize_batch([source for source, _ in chunk], hints=hints)
            for result, (source, target) in zip(results, chunk):
                confidence = None
                if isinstance(result, tuple):
                    result, confidence = result
                bar.update(1)
                if isinstance(result, HintError):
                    print(f"error: --hints {args.hints}: {result}", file=sys.stderr)
                    return 2
                if isinstance(result, ImageError):
                    failed += 1
                    tqdm.write(f"skipped {source}: {str(result).split(': ', 1)[-1]}", file=sys.stderr)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if credentials is None:
                    save_png(result, target)
                else:  # signed before it gets its name, so that no unsigned file is left by a crash
                    buffer = io.BytesIO()
                    save_png(result, buffer)
                    manifest = _manifest(colorizer, args, target, hints)
                    write_atomically(target, sign(buffer.getvalue(), "image/png", credentials, manifest))
                if confidence is not None:
                    save_png(confidence.image(), target.with_name(f"{target.stem}.confidence.png"))
                say_if_renamed(source, target)
    done = len(inputs) - failed
    if not args.quiet:
        print(f"{done} colorized into {out_dir}" + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


RESTORED_AS = {"color": "faded color, restored", "toned": "toned, colorized", "gray": "black and white, colorized"}


def restore_command(args: argparse.Namespace) -> int:
    inputs, videos, relative = find_inputs(args.inputs)
    if not inputs:
        print("error: no images or videos found in the given inputs", file=sys.stderr)
        return 2
    if videos and is_video is None:
        print("error: restoring videos needs PyAV and OpenCV: pip install av opencv-python-headless", file=sys.stderr)
        return 2
    try:
        colorizer = _load(args)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.confidence_map and colorizer.generator.head != "classification":
        print("error: --confidence-map needs a model with a classification head", file=sys.stderr)
        return 2
    if args.confidence_map and videos:
        print("note: --confidence-map is written for photos only, not for videos", file=sys.stderr)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed, found = 0, {kind: 0 for kind in RESTORED_AS}
    jobs = list(zip(inputs, _output_paths(inputs, out_dir, videos, relative)))
    for source, target in tqdm(jobs, desc="restore", unit="file", disable=args.quiet):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if source in videos:
                film = colorizer.restore_video(source, target, keep_tone=args.keep_tone, progress=not args.quiet)
                kind = film.restoration
            else:
                result = colorizer.restore(source, keep_tone=args.keep_tone, return_confidence=args.confidence_map)
                image, confidence = result if args.confidence_map else (result, None)
                kind = image.info["restoration"]
                save_png(image, target)
                if confidence is not None:
                    save_png(confidence.image(), target.with_name(f"{target.stem}.confidence.png"))
        except (ImageError, VideoError) as e:
            failed += 1
            tqdm.write(f"skipped {source}: {str(e).split(': ', 1)[-1]}", file=sys.stderr)
            continue
        found[kind] += 1
        if not args.quiet:
            tqdm.write(f"{source} -> {target} ({RESTORED_AS[kind]})", file=sys.stderr)
    if not args.quiet:
        kinds = ", ".join(f"{n} {RESTORED_AS[kind]}" for kind, n in found.items() if n)
        failures = f", {failed} failed" if failed else ""
        print(f"{len(inputs) - failed} restored into {out_dir} ({kinds}){failures}", file=sys.stderr)
    return 1 if failed else 0


def colorize_dataset_command(args: argparse.Namespace) -> int:
    """One process's share of the archive; under `accelerate launch` (or torchrun) every process runs
    this, and the main one writes the card once all are done."""
    from .archive import ArchiveError, ArchiveSettings, colorize_archive, write_card

    try:
        from accelerate import PartialState
    except ImportError:  # accelerate comes with the train extra; without it, one process
        PartialState = None
    if PartialState is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        print("error: several processes need accelerate: pip install accelerate", file=sys.stderr)
        return 2
    # cpu=True on a machine without a GPU: else Accelerate leaves each process alone, doing everything.
    state = PartialState(cpu=not torch.cuda.is_available()) if PartialState is not None else None
    rank, world = (state.process_index, state.num_processes) if state else (0, 1)
    device = args.device or (state.device if state is not None and state.device.type == "cuda" else None)
    try:
        # Under accelerate launch on a GPU node: this process's own GPU; one backend for every process.
        colorizer = _load(args, device=device, backend=args.backend)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    settings = ArchiveSettings(
        model=colorizer.model_id,
        working_size=args.working_size,
        color_strength=args.color_strength,
        backend=args.backend,
        rows_per_shard=args.rows_per_shard,
    )
    try:
        counts = colorize_archive(
            colorizer,
            args.source,
            args.output,
            settings=settings,
            split=args.split,
            image_column=args.image_column,
            batch_size=args.batch_size,
            process_index=rank,
            num_processes=world,
            progress=not args.quiet and rank == 0,
            layout=args.layout,
        )
    except ArchiveError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"process {rank} of {world}: {counts['written']} shards written ({counts['rows']} photos, "
        f"{counts['failed']} failed, {counts['photos_per_second']:.2f} photos/s), {counts['skipped']} already done",
        file=sys.stderr,
    )
    if state is not None:
        state.wait_for_everyone()
    if rank == 0:
        totals = write_card(args.output, str(args.source), settings, layout=args.layout)
        print(
            f"{totals['rows']} rows in {totals['shards']} shards in {args.output}, {totals['failed']} not colorized "
            "(see their error column)",
            file=sys.stderr,
        )
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from .metrics import METHODS, NoPhotosError, evaluate
    from .photo_sets import PhotoSetError, photos_from_dataset, photos_from_folder

    try:
        colorizer = _load(args)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.video:
        return _evaluate_video(args, colorizer)
    if args.images:
        photos = photos_from_folder(Path(args.images), args.limit)
        source = args.images
    else:
        photos = photos_from_dataset(args.dataset, args.split, args.limit)
        source = f"{args.dataset} [{args.split}]"
    photos = tqdm(photos, desc="evaluate", unit="image", disable=args.quiet)
    per_photo: list[dict] = []
    try:
        results = evaluate(
            colorizer.colorize_batch,
            photos,
            batch_size=args.batch_size,
            hints_per_photo=args.hints_per_photo,
            per_photo=per_photo,
        )
    except (PhotoSetError, NoPhotosError) as e:  # the user's input; any other ValueError is a bug of ours
        print(f"error: {e}", file=sys.stderr)
        return 2
    model, gray = results["model"], results["gray"]
    rows = [
        ("PSNR (dB)", f"{model.psnr:.2f}", f"{gray.psnr:.2f}"),
        ("SSIM", f"{model.ssim:.4f}", f"{gray.ssim:.4f}"),
        ("AuC (ab error 0-150)", f"{model.auc:.4f}", f"{gray.auc:.4f}"),
        ("hue hit rate", f"{model.hue_hit:.3f}", f"{gray.hue_hit:.3f}"),
        (f"colorfulness (real {model.colorfulness_real:.1f})", f"{model.colorfulness:.1f}", f"{gray.colorfulness:.1f}"),
        ("colorfulness vs real", f"{model.colorfulness_gap:+.1f}%", f"{gray.colorfulness_gap:+.1f}%"),
    ]
    hinted = f", {args.hints_per_photo} color hints per photo (from the real photo)" if args.hints_per_photo else ""
    print(f"{source}: {model.n_images} photos, model {args.model or '(bundled default)'}{hinted}")
    print(f"{'metric':<28}{'model':>10}{'gray':>10}")
    for name, m, g in rows:
        print(f"{name:<28}{m:>10}{g:>10}")
    print(f"SSIM: {METHODS['ssim']}")
    report = {
        "source": source,
        "model_id": str(args.model) if args.model else "default",
        "working_size": colorizer.working_size,
        "mirror_average": colorizer.mirror_average,
        "hints_per_photo": args.hints_per_photo,
        "model": model.as_dict(),
        "gray": gray.as_dict(),
        "methods": METHODS,
        "photos": per_photo,  # one row per photo: its scores, or why it was skipped
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written {out}")
    return 0


VIDEO_METRICS_EXPLAINED = """\
E_warp: how much a pixel's color changes from one frame to the next along the motion (optical flow of
  the real footage, occluded pixels left out); it sees flicker of small regions. CDC: how much a
  frame's overall color distribution (RGB histograms) changes over 1, 2 and 4 frames; it sees whole-
  frame shifts and is blind to which pixel has which color. They can disagree: colors that swap places
  between regions raise E_warp but not CDC, a global tint that drifts slowly raises CDC more than E_warp.
  The "real" column is the footage itself: the floor that moving, textured content sets for both."""


def _evaluate_video(args: argparse.Namespace, colorizer: Colorizer) -> int:
    """evaluate --video: the shipped (temporally consistent) path against per-frame colorization."""
    from .video_metrics import evaluate_video

    try:
        results = evaluate_video(colorizer, args.video, film_look=args.film_look, smoothing=args.smoothing)
    except VideoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    columns = ("temporal", "per_frame", "gray", "real")
    rows = [
        ("E_warp (a*b*^2, lower = steadier)", "warping_error", "{:.3f}"),
        ("CDC (x1000, lower = steadier)", "cdc", "{:.3f}"),
        ("PSNR per frame (dB)", "psnr", "{:.2f}"),
        ("hue hit rate per frame", "hue_hit", "{:.3f}"),
    ]
    look = ", film look (grain + exposure flicker) added to the input" if args.film_look else ""
    print(f"{args.video}: {results['temporal'].frames} frames, model {args.model or '(bundled default)'}{look}")
    print(f"{'metric':<36}" + "".join(f"{c:>11}" for c in columns))
    for label, key, fmt in rows:
        scale = 1000 if key == "cdc" else 1
        cells = "".join(f"{fmt.format(getattr(results[c], key) * scale):>11}" for c in columns)
        print(f"{label:<36}{cells}")
    print(VIDEO_METRICS_EXPLAINED)
    report = {
        "source": args.video,
        "model_id": str(args.model) if args.model else "default",
        "working_size": colorizer.working_size,
        "film_look": args.film_look,
        "smoothing": args.smoothing,
        **{c: results[c].as_dict() for c in columns},
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written {out}")
    return 0


def _within(kind: type, low: float, high: float | None, what: str):
    """An argparse type: `kind` between `low` and `high` (inclusive), else one line naming the range,
    which argparse prints as "error: argument --x: ..." with exit code 2 (no traceback)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or value < low or (high is not None and value > high):
            limit = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
            raise argparse.ArgumentTypeError(f"must be {what} {limit}, not {text!r}")
        return value

    return parse


def _smoothing(text: str) -> float:
    """An argparse type for --smoothing: the library's own check (temporal.check_smoothing)."""
    try:
        return check_smoothing(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number at least 0 and below 1, not {text!r}") from None


def _device(text: str) -> str:
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device (cpu, cuda, cuda:1...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has no CUDA GPU that torch can use")
    return text


def _common_options(p: argparse.ArgumentParser) -> None:
    """The options every subcommand takes: the model, how colors are predicted, device, batch, quiet."""
    p.add_argument("--model", help="Hub repo id or local model folder (default: the model bundled with the package)")
    p.add_argument(
        "--working-size",
        type=_within(int, *WORKING_SIZE_RANGE, "a whole number of pixels"),
        help="long side, in pixels, at which colors are predicted (default: the model's training size)",
    )
    p.add_argument(
        "--color-strength",
        type=_within(float, *COLOR_STRENGTH_RANGE, "a number"),
        default=1.0,
        help="factor on the model's colors: 1 = as calibrated on real photos (the default), 0 = gray, "
        f"up to {COLOR_STRENGTH_RANGE[1]:g}; the same as the app's Color strength slider",
    )
    p.add_argument(
        "--mirror-average",
        action="store_true",
        help="test-time augmentation: average the colors predicted for the photo and its mirror image "
        "(twice the network's time)",
    )
    p.add_argument("--device", type=_device, default=None, help="cpu, cuda, cuda:1... (default: cpu)")
    p.add_argument("--batch-size", type=_within(int, 1, 256, "a whole number"), default=8)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_colorize(sub) -> None:
    """`pix2pix-color colorize`."""
    c = sub.add_parser("colorize", help="colorize image files and folders (searched recursively)")
    c.add_argument("inputs", nargs="+", help="image or video files, or folders")
    c.add_argument(
        "-o",
        "--output",
        required=True,
        help="folder for the results: <stem>.png for a photo (full resolution), <stem>.mp4 for a video "
        "(H.264, the input's frames, timing and audio)",
    )
    c.add_argument(
        "--smoothing",
        type=_smoothing,
        default=DEFAULT_SMOOTHING,
        help="videos: how much of its color a tracked pixel carries from frame to frame (0 = every frame on "
        "its own; default 0.9)",
    )
    c.add_argument(
        "--c2pa-cert",
        metavar="CHAIN.pem",
        help="sign each output with a C2PA manifest (Content Credentials: made by a trained algorithm, this "
        "model, these settings) using this PEM certificate chain, the signer's certificate first; needs "
        "--c2pa-key and pip install 'pix2pix-color[c2pa]'",
    )
    c.add_argument("--c2pa-key", metavar="KEY.pem", help="the PEM private key of --c2pa-cert")
    c.add_argument(
        "--confidence-map",
        action="store_true",
        help="also write <stem>.confidence.png beside each colorized photo: white where the model is sure of "
        "the hue, black where its colors are guesses",
    )
    c.add_argument(
        "--reference",
        metavar="PHOTO",
        help="a color photo whose colors to use (the same place in color, a frame of a color film, a photo with "
        "the palette you want; any size): its regions' colors go where the photo's (or every video frame's) "
        "regions match them",
    )
    c.add_argument(
        "--hints",
        metavar="FILE.json",
        help='color hints for a single photo or video (a hint model only): a JSON list of [x, y, "#rrggbb"] '
        "in the photo's pixel coordinates; for a video the first frame's, or "
        '{"frame number": [[x, y, "#rrggbb"], ...], ...}; they follow the content until the shot ends',
    )
    _common_options(c)
    c.set_defaults(func=colorize_command)


def _add_evaluate(sub) -> None:
    """`pix2pix-color evaluate`."""
    e = sub.add_parser(
        "evaluate", help="PSNR, SSIM, hue hit rate, colorfulness and AuC of a model against the grayscale baseline"
    )
    source = e.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="Hub dataset id or local folder in Hub layout")
    source.add_argument("--images", help="folder of color photos")
    source.add_argument(
        "--video",
        help="a color video: its black-and-white version is colorized with and without temporal consistency "
        "and both are scored (E_warp, CDC, per-frame PSNR and hue hit rate)",
    )
    e.add_argument("--split", default="validation")
    e.add_argument(
        "--limit", type=_within(int, 1, None, "a whole number"), default=None, help="evaluate at most this many photos"
    )
    e.add_argument("--output", default="evaluation.json", help="where to write the JSON report")
    e.add_argument(
        "--hints-per-photo",
        type=_within(int, 0, MAX_HINT_POINTS, "a whole number"),
        default=0,
        metavar="N",
        help="give each photo N color hints taken from the real photo "
        "(a hint model only; seeded, the same for every model)",
    )
    e.add_argument("--film-look", action="store_true", help="--video: add grain and exposure flicker to the input")
    e.add_argument(
        "--smoothing",
        type=_smoothing,
        default=DEFAULT_SMOOTHING,
        help="--video: the temporal smoothing scored",
    )
    _common_options(e)
    e.set_defaults(func=evaluate_command)


def _add_restore(sub) -> None:
    """`pix2pix-color restore`."""
    r = sub.add_parser(
        "restore",
        help="restore old photos and films: a faded color print keeps the colors that survived (its fading "
        "undone), the model fills in where they are gone; a black-and-white or sepia one is colorized",
    )
    r.add_argument("inputs", nargs="+", help="image or video files, or folders")
    r.add_argument(
        "-o",
        "--output",
        required=True,
        help="folder for the results: <stem>.png for a photo (full resolution), <stem>.mp4 for a film (its audio kept)",
    )
    r.add_argument(
        "--keep-tone",
        action="store_true",
        help="a sepia or otherwise toned print keeps its tone on top of the colors (default: taken off)",
    )
    r.add_argument(
        "--confidence-map",
        action="store_true",
        help="also write <stem>.confidence.png: white where the colors are the photo's own or the model is sure, "
        "black where they are guesses",
    )
    _common_options(r)
    r.set_defaults(func=restore_command)


def _add_colorize_dataset(sub) -> None:
    """`pix2pix-color colorize-dataset`."""
    d = sub.add_parser(
        "colorize-dataset",
        help="colorize a whole dataset or folder tree into a Hub-layout dataset; resumable, one process or many "
        "(accelerate launch)",
    )
    d.add_argument("source", help="Hub dataset id, local folder in Hub layout, or a folder of images (recursively)")
    d.add_argument(
        "-o",
        "--output",
        required=True,
        help="output folder: a Hub-layout dataset (data/shard-*.parquet + README.md), or with --layout folder "
        "a mirrored tree of PNGs + index.csv",
    )
    d.add_argument(
        "--layout",
        choices=["parquet", "folder"],
        default="parquet",
        help="parquet (default): a dataset to push to the Hub; folder: each photo as a PNG at its own path "
        "(a folder tree's structure is kept)",
    )
    d.add_argument("--split", default="train", help="the dataset's split (default: train)")
    d.add_argument("--image-column", default=None, help="the image column (default: the first Image feature)")
    d.add_argument(
        "--rows-per-shard",
        type=_within(int, 1, 100_000, "a whole number"),
        default=256,
        help="rows per output shard, the unit of work and of resuming (default 256)",
    )
    d.add_argument(
        "--backend",
        choices=["torch", "onnxruntime"],
        default="torch",
        help="the same on every process, so that every row is made alike (default torch)",
    )
    _common_options(d)
    d.set_defaults(func=colorize_dataset_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pix2pix-color", description="Colorize black-and-white photos with pix2pix.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_colorize, _add_restore, _add_evaluate, _add_colorize_dataset):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
