"""One request in, one result out: what a caller asks of a photo (`ColorizeRequest`) and everything
that comes back (`ColorizeOutput`), as frozen dataclasses (the way diffusers' pipelines return an
output object). Every front end (the library's `Colorizer.run`, the CLI, the app and its API, MCP,
ComfyUI) builds a request; the steps it turns on (repair, restore, a reference, hints, variations,
the confidence map) run in `pipeline.run`, in one order, for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from pix2pix_color.core.hints import Hints
from pix2pix_color.limits import check_strength, check_variations, check_working_size
from pix2pix_color.pipeline.steps import ImageInput
from pix2pix_color.pipeline.variations import check_hue_sector

if TYPE_CHECKING:  # pragma: no cover
    from pix2pix_color.pipeline.assessment import Assessment
    from pix2pix_color.pipeline.confidence import Confidence
    from pix2pix_color.pipeline.engine import Prediction
    from pix2pix_color.pipeline.reference import ReferenceCells


@dataclass(frozen=True)
class ColorizeRequest:
    """What to do with one photo. Only `image` is required; every other field turns a step on.

    `hints`: points `(x, y, color)` in the photo's pixels (color "#rrggbb" or (r, g, b)) or an RGBA
    scribble of its size, for a hint model. `reference`: a color photo (or `Engine.prepare_reference`'s
    result) whose colors to take where its regions match. `working_size`, `color_strength`: this
    call's, instead of the colorizer's (None). `hue_sector`: a variation picked from an earlier
    output's `hue_sectors` (None: the plain coloring). `variations`: how many colorings to return in
    `ColorizeOutput.variations` (1: none besides the image). `confidence`: also the confidence map.
    `repair`: find and fill cracks, scratches and dust first, so no crack is colored. `restore`:
    treat the photo as an old print: a faded color one keeps its surviving colors, a toned or gray
    one is colorized (`keep_tone` keeps a toning on top); restore takes no hints, reference or
    variations (its own evidence decides).
    """

    image: ImageInput
    hints: Hints = None
    reference: ImageInput | ReferenceCells | None = None
    working_size: int | None = None
    color_strength: float | None = None
    hue_sector: int | None = None
    variations: int = 1
    confidence: bool = False
    repair: bool = False
    restore: bool = False
    keep_tone: bool = False

    def __post_init__(self) -> None:
        check_working_size(self.working_size)
        if self.color_strength is not None:
            check_strength(self.color_strength)
        check_hue_sector(self.hue_sector)
        check_variations(self.variations)
        if self.keep_tone and not self.restore:
            raise ValueError("keep_tone is a restore option: ask for restore=True as well")
        if self.restore and (self.hints is not None or self.reference is not None):
            raise ValueError("restore takes no hints or reference photo: colorize the restored photo with them")
        if self.restore and (self.variations > 1 or self.hue_sector is not None):
            raise ValueError("restore offers no variations: colorize the restored photo for them")


@dataclass(frozen=True)
class ColorizeOutput:
    """What a `ColorizeRequest` gave. `image`: the result, RGB (RGBA if the input had alpha), the
    input's displayed size. `prediction`: the network's part, kept, so that `Engine.render` shows it
    at another color strength without running the network (None after restore: its colors are not
    the network's alone). `confidence`: when asked for. `variations`, `hue_sectors`: when more
    than one was asked for, the colorings (the first is `image`) and each one's hue sector (None for
    the first): pass one back as `ColorizeRequest.hue_sector` to pick it. `restoration`: restore's
    finding (`.kind` is "color", "toned" or "gray"). `damage_mask`: with `repair`, mode "L", white
    where it filled; `repaired_share` the share of the photo filled."""

    image: Image.Image
    prediction: Prediction | None = None
    confidence: Confidence | None = None
    variations: tuple[Image.Image, ...] = ()
    hue_sectors: tuple[int | None, ...] = ()
    restoration: Assessment | None = None
    damage_mask: Image.Image | None = None
    repaired_share: float | None = None
