"""What each `pix2pix-color` subcommand does once its arguments are parsed (`parser`): imported
only then, since it loads PyTorch and the model. The commands are listed in the package's docstring."""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from pix2pix_color.core.hints import HintError, parse_hints_json, parse_video_hints_json
from pix2pix_color.inference import ColorizeOutput, Colorizer, ColorizeRequest
from pix2pix_color.io.images import IMAGE_SUFFIXES, ImageError, open_image, save_png, write_atomically
from pix2pix_color.io.provenance import ProvenanceError, SigningCredentials, manifest_for, sign, sign_file
from pix2pix_color.jobs.animation import ANIMATED_FORMATS, animated_format
from pix2pix_color.limits import VIDEO_SUFFIXES
from pix2pix_color.models.hub import ModelLoadError

try:  # the [video] extra: PyAV and OpenCV
    from pix2pix_color.video.frames import VideoError, is_video
except ImportError:  # pragma: no cover - depends on the installation
    is_video = None

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


def _manifest(colorizer: Colorizer, args: argparse.Namespace, target: Path, hints) -> dict:
    settings = {"working_size": colorizer.working_size, "color_strength": args.color_strength}
    if hints:
        settings["hints"] = "given by the user"
    return manifest_for(colorizer.model_id, target.name, settings)


def _output_paths(
    inputs: list[Path], out_dir: Path, videos: set[Path], relative: dict[Path, Path], suffixes: dict | None = None
) -> list[tuple[Path, str | None]]:
    """Where each result goes: the input's place under OUT_DIR (a folder's tree is mirrored, a file
    given by itself goes to the top), as <stem>.png (<stem>.mp4 for a video); made unique with -2,
    -3... only when two inputs would meet (photo.jpg and photo.tif) or the name is an input itself
    (never overwritten). Each path comes with the reason it was renamed, or None."""
    taken: dict[Path, Path] = {}
    sources = {p.resolve() for p in inputs}
    paths = []
    for p in inputs:
        suffix = ".mp4" if p in videos else (suffixes or {}).get(p, ".png")
        place = out_dir / relative.get(p, Path(p.name)).parent
        candidate, n, reason = place / f"{p.stem}{suffix}", 1, None
        while candidate in taken or candidate.resolve() in sources:
            if reason is None:
                if candidate in taken:
                    reason = f"{taken[candidate].name} is written as {candidate.name} too"
                else:
                    reason = f"{candidate.name} is an input, not overwritten"
            n += 1
            candidate = place / f"{p.stem}-{n}{suffix}"
        taken[candidate] = p
        paths.append((candidate, reason))
    return paths


def output_folder_problem(path: Path) -> str | None:
    """Why `path` cannot be the folder of results (it is a file, or in one), or None."""
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                what = "is a file" if folder == path else f"is inside {folder}, which is a file"
                return f"-o {path} {what}: give a folder for the results"
            return None
    return None


def _summary(counts: dict[str, int]) -> str:
    """{"restored": 4, "colorized": 1} -> "4 restored, 1 colorized" (zero counts left out)."""
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n)


def _skipped(source: Path, error: Exception) -> None:
    """One line per input that could not be done, above the progress bar."""
    tqdm.write(f"skipped {source}: {str(error).split(': ', 1)[-1]}", file=sys.stderr)


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


def _colorize_animations(colorizer: Colorizer, jobs: list[tuple[Path, Path]], hints, args) -> int:
    """Animated GIFs, WebPs and PNGs: every frame colorized into the same format; returns the failures."""
    from pix2pix_color.jobs.animation import colorize_animation

    failed = 0
    for source, target in jobs:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            frames = colorize_animation(colorizer.engine, source, target, hints=hints[0] if hints else None,
                                        batch_size=args.batch_size)  # fmt: skip
        except (ImageError, HintError) as e:
            failed += 1
            _skipped(source, e)
            continue
        if not args.quiet:
            tqdm.write(f"{source} -> {target} (animated: {frames} frames, their timing kept)", file=sys.stderr)
    return failed


def _note_large_working_size(working_size: int | None, photos: list[Path]) -> None:
    """A note for each photo smaller than --working-size: the model then sees it enlarged, and its
    colors get less reliable (a 451x300 cat at 512 px got a green forehead)."""
    if working_size is None:
        return
    from PIL import Image

    for photo in photos:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(photo) as image:
                    size = image.size
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue  # reported when it is colorized
        if max(size) < working_size:
            tqdm.write(
                f"note: {photo} is {size[0]}x{size[1]}, smaller than --working-size {working_size}: the model sees it "
                f"enlarged and its colors are less reliable (leave --working-size out, or give at most {max(size)})",
                file=sys.stderr,
            )


class Refused(Exception):
    """Why a command stops before (or, for hints, instead of) its work: one line, exit status 2."""


def refusals(command):
    """A command whose `Refused` is printed as "error: ..." with exit status 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except Refused as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    return run


def _inputs_and_model(args: argparse.Namespace, verb: str) -> tuple[list[Path], set[Path], dict[Path, Path], Colorizer]:
    """The photos and videos given, and the model: what colorize and restore ("colorizing",
    "restoring") both start from."""
    inputs, videos, relative = find_inputs(args.inputs)
    if not inputs:
        raise Refused("no images or videos found in the given inputs")
    if videos and is_video is None:
        raise Refused(f"{verb} videos needs PyAV and OpenCV: pip install 'pix2pix-color[video]'")
    try:
        colorizer = _load(args)
    except ModelLoadError as e:
        raise Refused(str(e)) from None
    if args.confidence_map and colorizer.generator.head != "classification":
        raise Refused("--confidence-map needs a model with a classification head (this one predicts one color "
                      "per pixel, with no spread to read)")  # fmt: skip
    if args.confidence_map and videos:
        print("note: --confidence-map is written for photos only, not for videos", file=sys.stderr)
    return inputs, videos, relative, colorizer


def _output_folder(args: argparse.Namespace) -> Path:
    out_dir = Path(args.output)
    problem = output_folder_problem(out_dir)
    if problem:
        raise Refused(problem)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _hints_option(args: argparse.Namespace, inputs: list[Path], videos: set[Path]):
    """--hints as colorize_batch takes them (one entry for the one input), or None."""
    if not args.hints:
        return None
    if len(inputs) != 1:
        raise Refused(f"--hints applies to a single photo or video, and {len(inputs)} were given")
    try:
        return [_read_hints(args.hints, for_video=bool(videos))]
    except OSError as e:
        raise Refused(f"cannot read --hints {args.hints}: {e.strerror}") from None
    except (HintError, UnicodeDecodeError) as e:
        raise Refused(f"--hints {args.hints}: {e}") from None


def _credentials_option(args: argparse.Namespace) -> SigningCredentials | None:
    """--c2pa-cert and --c2pa-key (and the key's password from the environment), tried at once."""
    if not (args.c2pa_cert or args.c2pa_key):
        return None
    if not (args.c2pa_cert and args.c2pa_key):
        raise Refused("--c2pa-cert and --c2pa-key go together")
    password = os.environ.get("PIX2PIX_COLOR_C2PA_KEY_PASSWORD")
    try:
        return SigningCredentials.from_files(
            args.c2pa_cert, args.c2pa_key, password=password.encode() if password else None, tsa_url=args.c2pa_tsa
        )
    except ProvenanceError as e:
        raise Refused(str(e)) from None


@dataclass
class _ColorizeRun:
    """What every output of one `colorize` run is made with, and where the renamed ones are said."""

    colorizer: Colorizer
    args: argparse.Namespace
    hints: list | None
    reference: object
    credentials: SigningCredentials | None
    renamed: dict[Path, str]

    def say_if_renamed(self, source: Path, target: Path) -> None:
        # Said once the file is written, so that nobody has to guess which file became which (a
        # file that fails is named once, by its reason, and was never renamed to anything).
        if target in self.renamed:
            tqdm.write(f"{source} -> {target} ({self.renamed[target]})", file=sys.stderr)

    def manifest(self, target: Path) -> dict:
        return _manifest(self.colorizer, self.args, target, self.hints)


@refusals
def colorize_command(args: argparse.Namespace) -> int:
    inputs, videos, relative, colorizer = _inputs_and_model(args, "colorizing")
    hints = _hints_option(args, inputs, videos)
    reference = None
    if args.reference:
        try:
            reference = colorizer.engine.prepare_reference(args.reference)
        except (ImageError, ValueError) as e:
            raise Refused(f"--reference {args.reference}: {e}") from None
    credentials = _credentials_option(args)
    if args.variations > 1 and colorizer.generator.head != "classification":
        raise Refused("--variations needs a model with a classification head: a regression model predicts one color")
    out_dir = _output_folder(args)
    animated = {p: fmt for p in inputs if p not in videos and (fmt := animated_format(p))}
    placed = _output_paths(inputs, out_dir, videos, relative, {p: ANIMATED_FORMATS[f] for p, f in animated.items()})
    jobs = [(source, target) for source, (target, _) in zip(inputs, placed)]
    run = _ColorizeRun(colorizer, args, hints, reference, credentials, {t: why for t, why in placed if why})
    _note_large_working_size(args.working_size, [source for source in inputs if source not in videos])
    failed = _colorize_animations(colorizer, [job for job in jobs if job[0] in animated], hints, args)
    failed += _colorize_videos(run, [job for job in jobs if job[0] in videos])
    failed += _colorize_photos(run, [job for job in jobs if job[0] not in videos and job[0] not in animated])
    if not args.quiet:
        done = len(inputs) - failed
        print(f"{done} colorized into {out_dir}" + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def _colorize_videos(run: _ColorizeRun, jobs: list[tuple[Path, Path]]) -> int:
    """Each video into its MP4 (signed before it gets its name); returns the failures."""
    failed, args = 0, run.args
    for source, target in jobs:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Signed before it gets its name: no unsigned video is left under it by a failed signature.
        written = target if run.credentials is None else target.with_name(f".{target.stem}.unsigned.mp4")
        try:
            run.colorizer.colorize_video(
                source, written, hints=run.hints[0] if run.hints else None, reference=run.reference,
                smoothing=args.smoothing, progress=not args.quiet, batch_size=args.batch_size, repair=args.repair,
            )  # fmt: skip
            if run.credentials is not None:
                sign_file(written, run.credentials, run.manifest(target), target=target)
            run.say_if_renamed(source, target)
        except HintError as e:
            raise Refused(f"--hints {args.hints}: {e}") from None
        except (VideoError, ImageError, ProvenanceError) as e:
            failed += 1
            _skipped(source, e)
        finally:
            if written != target:
                written.unlink(missing_ok=True)
    return failed


def _colorize_photos(run: _ColorizeRun, jobs: list[tuple[Path, Path]]) -> int:
    """The photos, `--batch-size` at a time, each into its PNG (and confidence map, variations);
    returns the failures."""
    failed, args = 0, run.args
    with tqdm(total=len(jobs), desc="colorize", unit="image", disable=args.quiet or not jobs) as bar:
        for start in range(0, len(jobs), args.batch_size):
            chunk = jobs[start : start + args.batch_size]
            for output, (source, target) in zip(_outputs(run, [source for source, _ in chunk]), chunk):
                bar.update(1)
                if isinstance(output, HintError):
                    raise Refused(f"--hints {args.hints}: {output}")
                if isinstance(output, ImageError):
                    failed += 1
                    _skipped(source, output)
                    continue
                _write_photo(run, output.image, target)
                for number, image in enumerate(output.variations[1:], start=1):
                    _write_photo(run, image, target.with_name(f"{target.stem}.v{number}.png"))
                if output.confidence is not None:
                    save_png(output.confidence.image(), target.with_name(f"{target.stem}.confidence.png"))
                run.say_if_renamed(source, target)
    return failed


def _outputs(run: _ColorizeRun, sources: list[Path]) -> list[ColorizeOutput | ImageError | HintError]:
    """One `ColorizeOutput` (or the error) per photo: through the network together when nothing but
    the image is asked for, else one request each (its prediction is kept for the rest)."""
    args, hints = run.args, run.hints[0] if run.hints else None
    if not (args.confidence_map or run.reference is not None or args.variations > 1 or args.repair):
        results = run.colorizer.colorize_batch(sources, hints=run.hints)
        return [r if isinstance(r, Exception) else ColorizeOutput(r) for r in results]
    outputs = []
    for source in sources:
        request = ColorizeRequest(
            source, hints=hints, reference=run.reference, confidence=args.confidence_map, variations=args.variations,
            repair=args.repair,
        )  # fmt: skip
        try:
            outputs.append(run.colorizer.run(request))
        except (ImageError, HintError) as e:
            outputs.append(e)
    return outputs


def _write_photo(run: _ColorizeRun, result, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if run.credentials is None:
        save_png(result, target)
        return
    buffer = io.BytesIO()  # signed before it gets its name, so that no unsigned file is left by a crash
    save_png(result, buffer)
    write_atomically(target, sign(buffer.getvalue(), "image/png", run.credentials, run.manifest(target)))


RESTORED_AS = {
    "color": "faded color (restored)",
    "toned": "toned (colorized)",
    "gray": "black and white (colorized)",
}


@refusals
def restore_command(args: argparse.Namespace) -> int:
    inputs, videos, relative, colorizer = _inputs_and_model(args, "restoring")
    out_dir = _output_folder(args)
    failed, found = 0, {kind: 0 for kind in RESTORED_AS}
    jobs = [(source, target) for source, (target, _) in zip(inputs, _output_paths(inputs, out_dir, videos, relative))]
    for source, target in tqdm(jobs, desc="restore", unit="file", disable=args.quiet):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if source in videos:
                film = colorizer.restore_video(
                    source, target, keep_tone=args.keep_tone, repair=args.repair, progress=not args.quiet
                )
                kind = film.restoration
            else:
                request = ColorizeRequest(
                    source, restore=True, keep_tone=args.keep_tone, confidence=args.confidence_map, repair=args.repair
                )
                output = colorizer.run(request)
                image, confidence = output.image, output.confidence
                kind = image.info["restoration"]
                save_png(image, target)
                if confidence is not None:
                    save_png(confidence.image(), target.with_name(f"{target.stem}.confidence.png"))
        except (ImageError, VideoError) as e:
            failed += 1
            _skipped(source, e)
            continue
        found[kind] += 1
        if not args.quiet:
            tqdm.write(f"{source} -> {target} ({RESTORED_AS[kind]})", file=sys.stderr)
    if not args.quiet:
        kinds = _summary({RESTORED_AS[kind]: n for kind, n in found.items()})
        failures = f"; {failed} failed" if failed else ""
        print(f"{len(inputs) - failed} restored into {out_dir}" + (f": {kinds}" if kinds else "") + failures,
              file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


@refusals
def repair_command(args: argparse.Namespace) -> int:
    """Repair photos and films. For photos no model is loaded (the detector is small and ships
    inside the package); a film goes through the video pipeline, repaired, nothing colored."""
    from pix2pix_color.repair import repair_photo

    inputs, videos, relative = find_inputs(args.inputs)
    photos = [p for p in inputs if p not in videos]
    if not inputs:
        raise Refused("no images or videos found in the given inputs")
    if videos and is_video is None:
        raise Refused("repairing videos needs PyAV and OpenCV: pip install 'pix2pix-color[video]'")
    out_dir = _output_folder(args)
    failed, filled = _repair_videos(args, [p for p in inputs if p in videos], out_dir, relative), []
    jobs = [(source, target) for source, (target, _) in zip(photos, _output_paths(photos, out_dir, set(), relative))]
    for source, target in tqdm(jobs, desc="repair", unit="photo", disable=args.quiet):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fixed = repair_photo(open_image(source))
        except ImageError as e:
            failed += 1
            _skipped(source, e)
            continue
        save_png(fixed.image, target)
        if args.damage_mask:
            save_png(fixed.mask_image(), target.with_name(f"{target.stem}.damage.png"))
        filled.append(fixed.damaged_share)
        if not args.quiet:
            tqdm.write(f"{source} -> {target} ({fixed.damaged_share:.1%} filled)", file=sys.stderr)
    if not args.quiet:
        failures = f"; {failed} failed" if failed else ""
        print(f"{len(inputs) - failed} repaired into {out_dir}{failures}", file=sys.stderr)
    return 1 if failed else 0


def _repair_videos(args: argparse.Namespace, videos: list[Path], out_dir: Path, relative: dict) -> int:
    """Each film's dust and scratches filled into <stem>.mp4 (the bundled model is loaded only for
    the video pipeline's checks; nothing is colored), with --damage-mask the film of what was filled
    into <stem>.damage.mp4; returns the failures."""
    if not videos:
        return 0
    colorizer, failed = Colorizer.from_pretrained(), 0
    for source, (target, _) in zip(videos, _output_paths(videos, out_dir, set(videos), relative)):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mask = target.with_name(f"{target.stem}.damage.mp4") if args.damage_mask else None
            film = colorizer.repair_video(source, target, damage_mask=mask, progress=not args.quiet)
        except VideoError as e:
            failed += 1
            _skipped(source, e)
            continue
        if not args.quiet:
            tqdm.write(f"{source} -> {target} ({film.repaired:.1%} of a frame filled on average)", file=sys.stderr)
    return failed


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def dataset_source_problem(source: str) -> str | None:
    """Why `source` (a local folder, or a Hub dataset id) cannot be read, said at once: offline,
    `datasets` retries a Hub id for half a minute and ends in a traceback."""
    from pix2pix_color.models.hub import hub_reachable

    path = Path(source)
    if path.exists():
        return None if path.is_dir() else f"{source} is a file: give a folder, or a Hub dataset id (org/name)"
    if source.count("/") != 1 or source.startswith((".", "/", "~")):
        return f"{source}: no such folder"
    if not hub_reachable():
        from huggingface_hub import constants

        return (
            f"{source}: not a local folder, and the Hub ({constants.ENDPOINT}) cannot be reached (offline?): "
            "give a local folder in Hub layout"
        )
    return None


def _process_state():
    """This process's Accelerate state (None without accelerate, as one process), its rank and count."""
    try:
        from accelerate import PartialState
    except ImportError:  # accelerate comes with the train extra; without it, one process
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise Refused("several processes need accelerate: pip install accelerate") from None
        return None, 0, 1
    # cpu=True on a machine without a GPU: else Accelerate leaves each process alone, doing everything.
    state = PartialState(cpu=not torch.cuda.is_available())
    return state, state.process_index, state.num_processes


@refusals
def colorize_dataset_command(args: argparse.Namespace) -> int:
    """One process's share of the archive; under `accelerate launch` (or torchrun) every process runs
    this, and the main one writes the card once all are done."""
    from pix2pix_color.jobs.archive import ArchiveError, ArchiveSettings, colorize_archive, write_card

    problem = dataset_source_problem(args.source) or output_folder_problem(Path(args.output))
    if problem:  # before anything is loaded or any folder made
        raise Refused(problem)
    state, rank, world = _process_state()
    device = args.device or (state.device if state is not None and state.device.type == "cuda" else None)
    try:
        # Under accelerate launch on a GPU node: this process's own GPU; one backend for every process.
        colorizer = _load(args, device=device, backend=args.backend)
    except ModelLoadError as e:
        raise Refused(str(e)) from None
    settings = ArchiveSettings(
        model=colorizer.model_id,
        working_size=args.working_size,
        color_strength=args.color_strength,
        backend=args.backend,
        rows_per_shard=args.rows_per_shard,
    )
    try:
        counts = colorize_archive(
            colorizer.engine,
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
        raise Refused(str(e)) from None
    print(
        f"process {rank} of {world}: {_plural(counts['written'], 'shard')} written "
        f"({_plural(counts['rows'], 'photo')}, "
        f"{counts['failed']} failed, {counts['photos_per_second']:.2f} photos/s), {counts['skipped']} already done",
        file=sys.stderr,
    )
    if state is not None:
        state.wait_for_everyone()
    if rank == 0:
        totals = write_card(args.output, str(args.source), settings, layout=args.layout)
        where = "index.csv" if args.layout == "folder" else "their error column"
        failed = f", {totals['failed']} not colorized (see {where})" if totals["failed"] else ""
        print(
            f"{_plural(totals['rows'], 'row')} in {_plural(totals['shards'], 'shard')} in {args.output}{failed}",
            file=sys.stderr,
        )
    return 0


@refusals
def evaluate_command(args: argparse.Namespace) -> int:
    from pix2pix_color.evaluation.metrics import METHODS, NoPhotosError, evaluate
    from pix2pix_color.io.photo_sets import PhotoSetError, photos_from_dataset, photos_from_folder

    problem = dataset_source_problem(args.dataset) if args.dataset else None
    if problem:
        raise Refused(problem)
    try:
        colorizer = _load(args)
    except ModelLoadError as e:
        raise Refused(str(e)) from None
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
        raise Refused(str(e)) from None
    model, gray = results["model"], results["gray"]
    rows = _metric_rows(model, gray)
    hinted = f", {args.hints_per_photo} color hints per photo (from the real photo)" if args.hints_per_photo else ""
    print(f"{source}: {model.n_images} photos, model {args.model or '(bundled default)'}{hinted}")
    print(f"{'metric':<34}{'model':>10}{'gray':>10}")
    for name, m, g in rows:
        print(f"{name:<34}{m:>10}{g:>10}")
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


def _metric_rows(model, gray) -> list[tuple[str, str, str]]:
    """`evaluate`'s table: (metric, model, gray baseline), the strict color numbers before the lenient hue hit."""
    return [
        ("PSNR (dB)", f"{model.psnr:.2f}", f"{gray.psnr:.2f}"),
        ("SSIM", f"{model.ssim:.4f}", f"{gray.ssim:.4f}"),
        ("AuC (ab error 0-150)", f"{model.auc:.4f}", f"{gray.auc:.4f}"),
        ("color hit rate (strict)", f"{model.color_hit:.3f}", f"{gray.color_hit:.3f}"),
        ("chroma ratio (1 = as real)", f"{model.chroma_ratio:.3f}", f"{gray.chroma_ratio:.3f}"),
        (f"color hit, warm ({model.n_warm_photos} ph.)", f"{model.color_hit_warm:.3f}", f"{gray.color_hit_warm:.3f}"),
        ("chroma ratio, warm", f"{model.chroma_ratio_warm:.3f}", f"{gray.chroma_ratio_warm:.3f}"),
        (f"color hit, cool ({model.n_cool_photos} ph.)", f"{model.color_hit_cool:.3f}", f"{gray.color_hit_cool:.3f}"),
        ("chroma ratio, cool", f"{model.chroma_ratio_cool:.3f}", f"{gray.chroma_ratio_cool:.3f}"),
        ("hue hit rate (lenient)", f"{model.hue_hit:.3f}", f"{gray.hue_hit:.3f}"),
        (f"colorfulness (real {model.colorfulness_real:.1f})", f"{model.colorfulness:.1f}", f"{gray.colorfulness:.1f}"),
        ("colorfulness vs real", f"{model.colorfulness_gap:+.1f}%", f"{gray.colorfulness_gap:+.1f}%"),
    ]


VIDEO_METRICS_EXPLAINED = """\
E_warp: how much a pixel's color changes from one frame to the next along the motion (optical flow of
  the real footage, occluded pixels left out); it sees flicker of small regions. CDC: how much a
  frame's overall color distribution (RGB histograms) changes over 1, 2 and 4 frames; it sees whole-
  frame shifts and is blind to which pixel has which color. They can disagree: colors that swap places
  between regions raise E_warp but not CDC, a global tint that drifts slowly raises CDC more than E_warp.
  The "real" column is the footage itself: the floor that moving, textured content sets for both."""


def _evaluate_video(args: argparse.Namespace, colorizer: Colorizer) -> int:
    """evaluate --video: the shipped (temporally consistent) path against per-frame colorization."""
    from pix2pix_color.evaluation.video_metrics import evaluate_video

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
