"""The `pix2pix-color` command: colorize files and folders, restore and repair old photos, evaluate a model.

pix2pix-color colorize old_photos/ scan.tif -o colorized/ [--model ORG/NAME]
pix2pix-color colorize barn.jpg -o colorized/ --hints barn-hints.json   # [[x, y, "#rrggbb"], ...]
pix2pix-color colorize old_farm.jpg -o colorized/ --reference farm_today.jpg   # colors from a color photo
pix2pix-color colorize film.mp4 -o colorized/                          # -> colorized/film.mp4, with its audio
pix2pix-color restore faded_prints/ -o restored/ [--keep-tone] [--confidence-map] [--repair]
pix2pix-color repair cracked_prints/ film.mp4 -o repaired/ [--damage-mask]    # cracks, scratches, dust
pix2pix-color evaluate --model ORG/NAME --dataset ORG/DATASET [--split validation]
pix2pix-color evaluate --images my_color_photos/
pix2pix-color evaluate --video color_footage.mp4 [--film-look]         # flicker (E_warp, CDC) and quality

The arguments are parsed first (`parser`, no PyTorch); the subcommand's code (`commands`) is
imported only then.
"""

from __future__ import annotations

import importlib
import logging
import sys

from pix2pix_color.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    # Our warnings are sentences of their own ("skipped x.jpg: ..."), printed like the command's own
    # lines; through tqdm, so that they land above a progress bar instead of inside it.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    commands = importlib.import_module(".commands", __name__)
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        return getattr(commands, args.command)(args)


if __name__ == "__main__":
    sys.exit(main())
