"""The `pix2pix-color` command line's arguments: built from `pix2pix_color.limits` alone, so that
`--help` and a mistyped option answer without importing PyTorch; each subcommand names the function
in `commands` that runs it."""

from __future__ import annotations

import argparse

from pix2pix_color.limits import (
    COLOR_STRENGTH_RANGE,
    DEFAULT_COLOR_STRENGTH,
    DEFAULT_SMOOTHING,
    MAX_HINT_POINTS,
    check_smoothing,
    check_strength,
    check_variations,
    check_working_size,
)


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


def _library(kind: type, check):
    """An argparse type for a setting the library checks: `kind(text)`, then the library's own check
    (`pix2pix_color.limits`), so the command line and the library can never disagree on a range;
    its one-line message is what argparse prints ("error: argument --x: ..."), exit code 2."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = text  # not even a number: the check words the range
        try:
            return check(value)
        except ValueError as e:  # "working_size must be ..., got 5" -> "must be ..., not '5'"
            rule = str(e).split(" must ", 1)[-1].rsplit(", got ", 1)[0]
            raise argparse.ArgumentTypeError(f"must {rule}, not {text!r}") from None

    return parse


def _device(text: str) -> str:
    import torch  # only when --device is given

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
        type=_library(int, check_working_size),
        help="long side, in pixels, at which colors are predicted (default: the model's training size)",
    )
    p.add_argument(
        "--color-strength",
        type=_library(float, check_strength),
        default=DEFAULT_COLOR_STRENGTH,
        help="factor on the model's colors: 1 = as calibrated on real photos (default: %(default)s), 0 = gray, "
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


def _c2pa_options(c: argparse.ArgumentParser) -> None:
    """`colorize`'s Content Credentials options."""
    c.add_argument(
        "--c2pa-cert",
        metavar="CHAIN.pem",
        help="sign each output with a C2PA manifest (Content Credentials: made by a trained algorithm, this "
        "model, these settings) using this PEM certificate chain, the signer's certificate first; needs "
        "--c2pa-key and pip install 'pix2pix-color[c2pa]'",
    )
    c.add_argument(
        "--c2pa-key",
        metavar="KEY.pem",
        help="the PEM private key of --c2pa-cert; an encrypted one takes its password from the environment "
        "variable PIX2PIX_COLOR_C2PA_KEY_PASSWORD (never from the command line, which others can read)",
    )
    c.add_argument(
        "--c2pa-tsa",
        metavar="URL",
        help="a time-stamp authority (RFC 3161) to time-stamp each signature, so that it stays valid after the "
        "certificate expires (needs the network)",
    )


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
        type=_library(float, check_smoothing),
        default=DEFAULT_SMOOTHING,
        help="videos: how much of its color a tracked pixel carries from frame to frame (0 = every frame on "
        f"its own; default {DEFAULT_SMOOTHING:g})",
    )
    _c2pa_options(c)
    c.add_argument(
        "--confidence-map",
        action="store_true",
        help="also write <stem>.confidence.png beside each colorized photo: white where the model is sure of "
        "the hue, black where its colors are guesses",
    )
    c.add_argument(
        "--variations",
        metavar="N",
        type=_library(int, check_variations),
        default=1,
        help="photos: N colorings in all, differing where a gray value cannot decide (a cup red or blue, a sky "
        "by day or at dusk): <stem>.png as without this option, then <stem>.v1.png ... <stem>.v(N-1).png",
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
    c.add_argument("--repair", action="store_true", help=REPAIR_HELP)
    _common_options(c)
    c.set_defaults(command="colorize_command")


REPAIR_HELP = (
    "first find and fill cracks, scratches, dust and blotches (as `pix2pix-color repair`), so that no crack is "
    "colored; on a film, dust and scratches on every frame, the fill carried along the motion so it does not flicker"
)


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
        type=_library(float, check_smoothing),
        default=DEFAULT_SMOOTHING,
        help="--video: the temporal smoothing scored",
    )
    _common_options(e)
    e.set_defaults(command="evaluate_command")


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
    r.add_argument(
        "--repair",
        action="store_true",
        help=REPAIR_HELP,
    )
    _common_options(r)
    r.set_defaults(command="restore_command")


def _add_repair(sub) -> None:
    """`pix2pix-color repair`."""
    r = sub.add_parser(
        "repair",
        help="find and fill the cracks, scratches, dust and blotches of old prints; every other pixel is kept "
        "as it is (no color is added: restore or colorize after)",
    )
    r.add_argument("inputs", nargs="+", help="image or video files, or folders (searched recursively)")
    r.add_argument(
        "-o",
        "--output",
        required=True,
        help="folder for the results: <stem>.png, full resolution; <stem>.mp4 for a film (dust and scratches "
        "filled frame by frame, the fill carried along the motion; audio kept)",
    )
    r.add_argument(
        "--damage-mask",
        action="store_true",
        help="also write what was filled, white where damage was: <stem>.damage.png for each photo, "
        "<stem>.damage.mp4 (the same frames and timing) for each film",
    )
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(command="repair_command")


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
    d.set_defaults(command="colorize_dataset_command")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pix2pix-color", description="Colorize black-and-white photos with pix2pix.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_colorize, _add_restore, _add_repair, _add_evaluate, _add_colorize_dataset):
        add(sub)
    return parser
