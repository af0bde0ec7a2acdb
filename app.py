"""pix2pix-color: the Gradio app (a Hugging Face Space; `python app.py` locally).

The model: $PIX2PIX_COLOR_MODEL (a Hub repo id or a local folder), else the model bundled with the
package. Served at 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise.
API: `Client(url).predict(handle_file("photo.jpg"), "Auto", 1.0, '[[120, 80, "#c0392b"]]', api_name="/colorize")`
returns a PNG path; the last three arguments (working resolution, color strength, color hints as a
JSON list of [x, y, "#rrggbb"] in the photo's pixel coordinates) are optional. `/colorize_confidence`
takes the same and returns the PNG, its confidence map (PNG) and {"suggestions": [[x, y], ...]}.
Old photos: `Client(url).predict(handle_file("faded.jpg"), False, api_name="/restore")` returns the
restored PNG and {"restoration": "color" | "toned" | "gray"}; the flag keeps a sepia print's tone.
Videos: `Client(url).predict(handle_file("film.mp4"), 1.0, "", api_name="/colorize_video")` returns an MP4
path (H.264, the input's frames, timing and audio); hints are for the first frame, or
'{"frame": [[x, y, "#rrggbb"], ...]}'. Videos over $PIX2PIX_COLOR_MAX_VIDEO_SECONDS (60) seconds or
larger than $PIX2PIX_COLOR_MAX_VIDEO_LINES (1080: 1920x1080, either way up) are refused with a message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import sys
import tempfile
import threading
import uuid
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from pix2pix_color import Colorizer, ColorizeRequest, ImageError, ModelLoadError
from pix2pix_color.core.color import gray_version, is_grayscale
from pix2pix_color.core.hints import HintError, parse_color, parse_hints_json, parse_video_hints_json
from pix2pix_color.io.images import DEFAULT_MAX_PIXELS, open_image, save_png
from pix2pix_color.limits import DEFAULT_VARIATIONS
from pix2pix_color.pipeline import variations
from pix2pix_color.pipeline.confidence import Confidence
from pix2pix_color.pipeline.engine import Prediction
from pix2pix_color.pipeline.steps import COLOR_STRENGTH_RANGE, WORKING_SIZE_RANGE, check_strength, check_working_size
from pix2pix_color.video.frames import VideoError, read_frames

try:  # ZeroGPU on Spaces; a no-op decorator anywhere else
    import spaces

    gpu = spaces.GPU
    # A video holds the GPU for minutes (60 s of 1080p is 1,500 frames), ZeroGPU's default is 60 s.
    gpu_video = spaces.GPU(duration=600)
except ImportError:  # pragma: no cover - depends on the platform

    def gpu(fn):
        return fn

    gpu_video = gpu


logger = logging.getLogger("pix2pix-color.app")
ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = ROOT / "examples"
MODEL_CARD_URL = "https://huggingface.co/pix2pix-color/pix2pix-color-landscapes"
REPO_URL = "https://github.com/pix2pix-color/pix2pix-color"
SPACE_ID = "pix2pix-color/pix2pix-color"
MAX_FILE_MB = 25
# Videos: the public Space's limits, each settable by environment variable (a private copy can raise them).
MAX_VIDEO_SECONDS = float(os.environ.get("PIX2PIX_COLOR_MAX_VIDEO_SECONDS", "60"))
MAX_VIDEO_LINES = int(os.environ.get("PIX2PIX_COLOR_MAX_VIDEO_LINES", "1080"))  # 1080: up to 1920x1080
MAX_VIDEO_MB = int(os.environ.get("PIX2PIX_COLOR_MAX_VIDEO_MB", "500"))
MAX_BATCH_FILES = 20
MAX_WORKING_SIZE = WORKING_SIZE_RANGE[1]
IMAGE_AREA_PX = 420  # the photo tab's image area: upload, then before/after (fits 1280x800 with the controls)
KEPT_PREDICTION_S = 1800  # how long a session keeps its last prediction for the strength slider
BATCH_GROUP = 4  # photos decoded and colorized per call in the Batch tab: memory holds one group
COMPARE_GRAY = "the black-and-white input"
COMPARE_REAL = "its real colors (color photos)"
# Gradio owns this folder and cleans it (delete_cache below); our PNGs and zips live inside it too.
OUTPUT_DIR = Path(os.environ.get("GRADIO_TEMP_DIR", Path(tempfile.gettempdir()) / "gradio")) / "pix2pix-color"
OUTPUT_MAX_AGE_S = 3600
PREVIEW_SIDE = 2048  # the slider's pictures: sharp on a 2K screen, 36 ms to write a JPEG at 12 MP
PREVIEW_QUALITY = 90
DOWNLOAD_PNG_LEVEL = 1  # zlib level of the downloads: 12 MP 0.61 s / 7.9 MB, level 3 0.87 s / 6.9 MB

HOW_IT_WORKS = f"""
### How it works
A photo is split into **lightness** (L\\*) and **color** (a\\*, b\\*) in the CIE L\\*a\\*b\\* color space.
A black-and-white photo *is* its lightness, so only the color is missing. A **U-Net** network (the
generator of pix2pix, Isola et al. 2017, here on an ImageNet-pretrained encoder and, for now,
trained without pix2pix's discriminator) looks at the lightness and predicts the color at a modest
working resolution; the color is then smoothly enlarged
and recombined with your photo's own full-resolution lightness. The result has exactly your photo's
size and sharpness. It was trained on landscape photos (forests, glaciers, mountains, sea):
details are in the [model card]({MODEL_CARD_URL}); the code is on [GitHub]({REPO_URL}).

**Color hints** (click the photo under *Color hints*): you may know what the model can only guess,
that the barn was red or the boat blue. Pick a color, click where it belongs, and colorize again.
The network takes your hints as input (it was trained with simulated ones, as in Zhang et al.
2017), and each hint's color is carried along the photo's own edges over the region it belongs to,
fading with distance; your photo's lightness is kept. A few clicks usually do; undo or clear them
at any time.

**Working resolution** is the size at which the model looks at your photo to choose its colors
(the result always has your photo's full size and sharpness). *Auto* is the model's own; the other
sizes offered are the ones measured no worse than it on large photos. **Color strength** scales the
predicted color: 1 is calibrated so that, on average, results are about as colorful as real photos.
"""
DISCLAIMER = (
    "⚠️ **The colors are AI-generated guesses**, not a record of the real scene: a gray value fits "
    "many colors, and the model picks plausible ones."
)


def user_error(message: str, title: str = "Error") -> gr.Error:
    """An expected problem with the input: shown to the visitor, logged in one line, no traceback."""
    logger.info("refused: %s", message)
    return gr.Error(message, title=title, print_exception=False)


def _malloc_trim():
    libc = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(libc).malloc_trim if libc else None
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return None


_MALLOC_TRIM = _malloc_trim()


_in_flight = 0
_in_flight_lock = threading.Lock()


def releases_memory(handler):
    """Give the memory that requests freed back to the OS when the last one in flight returns.

    Gradio runs each request in a worker thread and glibc gives threads their own malloc arenas,
    which keep the pages of freed images: after the 60 s soak the server's RSS stayed 258 MB above
    its starting level (165 MB with MALLOC_ARENA_MAX=2) although nothing used it. malloc_trim hands
    those pages back. Trimming after every request cost ~10% of colorize throughput (the pages are
    faulted in again), so it runs only when the app goes idle. Gradio reads the signature through
    functools.wraps.
    """

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        global _in_flight
        with _in_flight_lock:
            _in_flight += 1
        try:
            return handler(*args, **kwargs)
        finally:
            with _in_flight_lock:
                _in_flight -= 1
                idle = _in_flight == 0
            if idle and _MALLOC_TRIM is not None:
                _MALLOC_TRIM(0)

    return wrapper


def load_colorizer() -> Colorizer:
    """The model named by $PIX2PIX_COLOR_MODEL, or the bundled one; exits with one line if it fails."""
    model = os.environ.get("PIX2PIX_COLOR_MODEL") or None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        # backend="auto": on a CPU, ONNX Runtime when the model ships its graph and it measures faster here.
        colorizer = Colorizer.from_pretrained(model, device=device, backend="auto")
    except ModelLoadError as e:
        raise SystemExit(f"error: cannot load the model {model or '(bundled default)'}: {e}") from None
    runtime = colorizer.backend.name if colorizer.backend else "torch"
    logger.info("model %s, generator in %s", colorizer.model_id, runtime)
    return colorizer


def _path_of(upload) -> str | None:
    """The file behind an upload: a path string, or Gradio's FileData dict (preprocess=False)."""
    if upload is None:
        return None
    if isinstance(upload, dict):
        return upload.get("path")
    return getattr(upload, "path", upload)


def _checked_path(upload, what: str = "photo", limit_mb: int = MAX_FILE_MB) -> str:
    """The upload's path once it passes the app's own limits (the colorizer checks the rest)."""
    path = _path_of(upload)
    if not path:
        raise user_error(f"Upload a {what} first.", title=f"No {what}")
    name = os.path.basename(path)
    size = os.path.getsize(path) if os.path.exists(path) else 0
    if size > limit_mb * 1024 * 1024:
        raise user_error(f"{name} is {size / 2**20:.0f} MB; the limit is {limit_mb} MB.", title="File too large")
    return path


def _without_folder(error: Exception, path: str) -> str:
    return str(error).replace(os.path.dirname(path) + os.sep, "")


def _open(upload) -> Image.Image:
    path = _checked_path(upload)
    try:
        return open_image(path, max_pixels=DEFAULT_MAX_PIXELS)
    except ImageError as e:
        raise user_error(_without_folder(e, path), title="Not a usable image") from None


def _hints(text) -> list:
    """An API call's hints (JSON text, "" for none) as points, or the one-line reason they are unusable."""
    try:
        return parse_hints_json(text)
    except HintError as e:
        raise user_error(str(e), title="Unusable color hints") from None


def _reference(upload) -> str | None:
    """An optional reference photo's upload -> its checked path (size limits as a photo's), or None."""
    if _path_of(upload) is None:
        return None
    return _checked_path(upload, "reference photo")


def _working_size(choice) -> int | None:
    """The app's "Auto" or a number of pixels -> the library's check (one range for every front end)."""
    if choice in (None, "", "Auto"):
        return None
    low, high = WORKING_SIZE_RANGE
    try:
        return check_working_size(int(choice))
    except (TypeError, ValueError):
        raise user_error(
            f"Working resolution must be Auto or a number of pixels from {low} to {high}, not {choice!r}."
        ) from None


def _strength(value) -> float:
    low, high = COLOR_STRENGTH_RANGE
    try:
        return check_strength(float(value))
    except (TypeError, ValueError):
        raise user_error(f"Color strength must be a number from {low:g} to {high:g}, not {value!r}.") from None


def _output_file(stem: str, suffix: str) -> Path:
    """A fresh path inside Gradio's cache folder. Gradio serves a returned file from there as it is
    and tracks it, so `delete_cache` (see build_demo) removes it once it is OUTPUT_MAX_AGE_S old."""
    folder = OUTPUT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder / f"{stem}{suffix}"


def preview(image: Image.Image, stem: str) -> str:
    """`image` for the before/after slider: a JPEG (a PNG if it has transparency) whose long side is at
    most PREVIEW_SIDE. The slider never shows more than a screen, and encoding two full-resolution PNGs
    for it took most of the click-to-result time (4 MP: 1.5 s of 2.6 s); the download stays the
    full-resolution PNG."""
    image = _fit(image)
    if image.mode in ("RGBA", "LA"):
        path = _output_file(stem, ".png")
        image.save(path, format="PNG", compress_level=1)
    else:
        path = _output_file(stem, ".jpg")
        # 4:4:4: no chroma subsampling, the colors are what the slider is for.
        image.convert("RGB").save(path, format="JPEG", quality=PREVIEW_QUALITY, subsampling=0)
    return str(path)


class Downloads:
    """Full-resolution PNGs written in the background while the page already shows the result.

    `start` queues the write and returns the path at once; `ready` (the event chained after the one
    that showed the slider) waits for that file and returns it for the download box, or raises the
    visitor's error if it could not be written. Two writers: one per request the queue runs at once."""

    def __init__(self, workers: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="png")
        self._pending: dict[str, Future] = {}
        self._lock = threading.Lock()

    def start(self, image: Image.Image, stem: str) -> str:
        path = str(_output_file(stem, ".png"))
        future = self._pool.submit(save_png, image, path, compress_level=DOWNLOAD_PNG_LEVEL)
        with self._lock:
            # A page closed before its download was asked for leaves a finished entry: drop those.
            for key in [k for k, f in self._pending.items() if f.done()][: max(0, len(self._pending) - 64)]:
                del self._pending[key]
            self._pending[path] = future
        return path

    def ready(self, path: str | None) -> str | None:
        if not path:
            return None
        with self._lock:
            future = self._pending.pop(path, None)
        if future is not None:
            try:
                future.result()
            except OSError as e:
                logger.warning("could not write %s: %s", path, e)
                raise user_error("the PNG could not be written; please try again", title="Download failed") from None
        return path


DOWNLOADS = Downloads()


def _animated_note(upload) -> str:
    """For an animated GIF, WebP or PNG: the note that only its first frame was colorized here."""
    from pix2pix_color.jobs.animation import animated_format

    path = _path_of(upload)
    kind = animated_format(path) if path else None
    if kind is None:
        return ""
    with Image.open(path) as image:
        frames = image.n_frames
    return f" An animated {kind}: its first frame of {frames} colorized here; pix2pix-color colorize makes them all."


def _fit(image: Image.Image) -> Image.Image:
    """`image` with its long side brought down to PREVIEW_SIDE (as it is if already smaller)."""
    scale = min(1.0, PREVIEW_SIDE / max(image.size))
    if scale == 1:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)


def _fit_confidence(confidence: Confidence, size: tuple[int, int]) -> Confidence:
    """`confidence` with its map at `size` (width, height): for hatching a preview, not the full photo."""
    if confidence.map.shape[::-1] == tuple(size):
        return confidence
    small = np.asarray(Image.fromarray(confidence.map, "F").resize(size, Image.BILINEAR))
    return Confidence(small, confidence.suggestions)


@dataclass
class KeptResult:
    """What a session keeps of its last photo so that the strength slider and the guesses toggle
    redo the result without the network: the prediction, the photo's name, the slider's picture of
    the input (and whether it is the real colors, shown on the right), the hints applied and, once
    the guesses were shown, the confidence."""

    kept: Prediction
    stem: str
    before: str
    real_right: bool
    hints: list = field(default_factory=list)
    confidence: Confidence | None = None
    extra_note: str = ""


@dataclass(frozen=True)
class Shown:
    """One result as a tab shows it: the slider's two pictures (preview files), the full-resolution
    image, the PNG being written for the download (`DOWNLOADS.ready(png)` once it is), a note."""

    pair: tuple[str, str]
    result: Image.Image
    png: str
    note: str
    damage: str | None = None  # the Restore tab's damage mask (a preview file), when it repaired


HINT_VIEW_SIDE = 768  # long side of the picture the visitor clicks hints on


def hint_base(image: Image.Image) -> tuple[Image.Image, float]:
    """The photo (or a video's first frame) in black and white, small enough to click on quickly, and
    its scale (view pixels per photo pixel). Made once per upload and kept in the session, so a click
    draws on it instead of decoding the upload again."""
    scale = min(1.0, HINT_VIEW_SIDE / max(image.size))
    view = image.convert("RGB").resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR
    )
    return Image.fromarray(gray_version(np.asarray(view)), "L").convert("RGB"), scale


def draw_hints(base: Image.Image, hints: list, scale: float, suggestions=()) -> Image.Image:
    """`hint_base`'s picture with each hint ([x, y, color] in photo pixels) drawn as a dot of its color,
    and each suggested point ((x, y) in photo pixels, where the model is least sure) that no hint is
    near yet as a "click here" ring."""
    view = base.copy()
    draw = ImageDraw.Draw(view)
    r = max(4, round(max(view.size) / 90))
    near = max(view.size) / 12  # a hint this close (in view pixels) answers the suggestion
    for sx, sy in suggestions:
        cx, cy = sx * scale, sy * scale
        if any((x * scale - cx) ** 2 + (y * scale - cy) ** 2 <= near**2 for x, y, _ in hints):
            continue
        ring = 3 * r
        draw.ellipse((cx - ring, cy - ring, cx + ring, cy + ring), outline="black", width=4)
        draw.ellipse((cx - ring, cy - ring, cx + ring, cy + ring), outline="#ffd400", width=2)
        label = "click here"
        left, top, right, bottom = draw.textbbox((0, 0), label)
        tx, ty = cx - (right - left) / 2, cy + ring + 3
        draw.rectangle((tx - 2, ty - 1, tx + right - left + 2, ty + bottom - top + 3), fill="black")
        draw.text((tx, ty), label, fill="#ffd400")
    for x, y, color in hints:
        cx, cy = x * scale, y * scale
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=parse_color(color), outline="white", width=2)
        draw.ellipse((cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2), outline="black", width=1)
    return view


def _video_path(upload) -> str:
    """The uploaded video's path once it is within the app's limits (size, duration, frame size)."""
    from pix2pix_color.video.frames import probe_video

    path = _checked_path(upload, "video", MAX_VIDEO_MB)
    try:
        info = probe_video(path)
    except VideoError as e:
        raise user_error(_without_folder(e, path), title="Not a usable video") from None
    name = os.path.basename(path)
    if info.duration > MAX_VIDEO_SECONDS:
        raise user_error(
            f"{name} is {info.duration:.0f} s long; this Space colorizes videos of up to {MAX_VIDEO_SECONDS:.0f} s.",
            title="Video too long",
        )
    short, long = sorted((info.width, info.height))
    if short > MAX_VIDEO_LINES or long > MAX_VIDEO_LINES * 16 // 9:
        raise user_error(
            f"{name} is {info.width}x{info.height}; this Space colorizes videos of up to "
            f"{MAX_VIDEO_LINES * 16 // 9}x{MAX_VIDEO_LINES} ({MAX_VIDEO_LINES}p).",
            title="Video too large",
        )
    return path


def first_frame(upload) -> Image.Image:
    """A video's first frame as the player shows it (for the hint panel)."""
    path = _video_path(upload)
    try:
        return Image.fromarray(next(read_frames(path)))
    except StopIteration:
        raise user_error(f"{os.path.basename(path)}: the video has no frames", title="Not a usable video") from None
    except VideoError as e:
        raise user_error(_without_folder(e, path), title="Not a usable video") from None


def _hints_note(hints: list, button: str = "Colorize") -> str:
    if not hints:
        return "No hints: the colors are the model's own guess."
    return f"{len(hints)} hint{'s' * (len(hints) != 1)}. Press **{button}** to apply them."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


class HintHandlers:
    """The click panel (show, add, undo) for a photo, or for a video's first frame.

    `picture(upload)` decodes the image the hints are placed on; it runs once per upload (`show`),
    and the small black-and-white view it gives is kept in the session for every click after.
    """

    def __init__(self, picture, what: str, button: str = "Colorize"):
        self.picture, self.what, self.button = picture, what, button

    def note(self, hints: list) -> str:
        return _hints_note(hints, self.button)

    def applied(self, hints: list) -> str:
        """The panel's note once the hints are in the result."""
        if not hints:
            return "No hints: the colors are the model's own guess. Click the photo to add one."
        return f"{_plural(len(hints), 'hint')} applied. Click to add more, then press **{self.button}** again."

    def show(self, upload):
        """A new upload: its view, no hints yet. Returns (canvas, hints, base view, scale, suggested points, note).

        An unusable upload is said here in the panel's note, not raised: the Colorize click that
        follows reports it once (raising here too made two identical error pop-ups)."""
        if _path_of(upload) is None:
            return None, [], None, 1.0, [], self.note([])
        try:
            base, scale = hint_base(self.picture(upload))
        except gr.Error as e:
            return None, [], None, 1.0, [], f"No hints possible: {e.message}"
        return base, [], base, scale, [], self.note([])

    def add(self, base, hints, scale, suggested, color, evt: gr.SelectData):
        if base is None:
            raise user_error(f"Upload a {self.what} first.", title=f"No {self.what}")
        try:
            color = "#{:02x}{:02x}{:02x}".format(*parse_color(color))
        except HintError as e:
            raise user_error(str(e), title="Unusable color") from None
        x, y = evt.index[0] / scale, evt.index[1] / scale
        hints = [*hints, [round(x, 1), round(y, 1), color]]
        return draw_hints(base, hints, scale, suggested or ()), hints, self.note(hints)

    def undo(self, base, hints, scale, suggested=()):
        hints = hints[:-1]
        canvas = draw_hints(base, hints, scale, suggested or ()) if base is not None else None
        return canvas, hints, self.note(hints)

    def clear(self, base, scale, suggested=()):
        return self.undo(base, [], scale, suggested)

    def suggest(self, base, hints, scale, suggestions) -> tuple:
        """After colorizing: the canvas with "click here" rings where one hint would help most."""
        if base is None or not suggestions:
            return gr.skip(), list(suggestions or [])
        suggestions = [list(p) for p in suggestions]
        return draw_hints(base, hints or [], scale, suggestions), suggestions


class Handlers:
    """Everything the app does for a visitor, around one loaded `Colorizer`: plain methods that take
    what the components hold and return what they show, so tests call them without a server. The tab
    builders below only lay out components and wire them to these."""

    def __init__(self, colorizer: Colorizer):
        # The Space's limits, stricter than the library's and enforced by it (a video's length is
        # counted on its frames while decoding, whatever its header says).
        self.colorizer = colorizer.with_limits(
            max_pixels=min(DEFAULT_MAX_PIXELS, colorizer.max_pixels),
            max_seconds=MAX_VIDEO_SECONDS,
            max_frame_pixels=min(MAX_VIDEO_LINES * (MAX_VIDEO_LINES * 16 // 9), colorizer.limits.max_frame_pixels),
        )
        # Only the sizes measured no worse than the model's own on large photos (its working_sizes.json,
        # written by experiments/score_model.py); the API still takes any size in range.
        own = colorizer.generator.image_size
        self.working_sizes = ["Auto"] + [str(s) for s in colorizer.offered_working_sizes if s != own]
        self.photo_hints = HintHandlers(_open, "photo")
        self.video_hints = HintHandlers(first_frame, "video", button="Colorize video")
        # On ZeroGPU these hold the GPU; anywhere else they are the plain methods.
        self._colorize_image = gpu(self._colorize_image)
        self._predict_image = gpu(self._predict_image)
        self._colorize_group = gpu(self._colorize_group)
        self._colorize_video_file = gpu_video(self._colorize_video_file)
        self._restore_image = gpu(self._restore_image)

    # --- photos

    def _colorize_image(self, image: Image.Image, working_size, strength: float, hints) -> Image.Image:
        try:
            return self.colorizer.colorize(
                image, hints=hints or None, working_size=working_size, color_strength=strength
            )
        except ImageError as e:
            raise user_error(str(e), title="Not a usable image") from None
        except HintError as e:
            raise user_error(str(e), title="Unusable color hints") from None

    @releases_memory
    def colorize_photo(self, upload, working_size="Auto", color_strength=1.0, hints="") -> str:
        """Colorize a black-and-white photo at its full resolution, optionally with color hints.

        The photo's own lightness is kept; its colors are predicted (plausible guesses, not a record of
        the real colors). Hints pin the color of chosen points, and the model carries each along the
        photo's edges to the region it belongs to.

        Args:
            upload: the photo, any image file (JPEG, PNG, WebP, TIFF...; up to 25 MB and 50 megapixels).
            working_size: "Auto" (the model's own size, best) or a long side in pixels from 16 to 1024.
            color_strength: how colorful, from 0 (black and white) to 2; 1 is the calibrated strength.
            hints: optional JSON list [[x, y, "#rrggbb"], ...] of points in pixels from the top left; "" for none.

        Returns:
            the colorized photo as a lossless PNG of the input's size (with its transparency, if any)
        """
        image, points = _open(upload), _hints(hints)
        result = self._colorize_image(image, _working_size(working_size), _strength(color_strength), points)
        path = _output_file(Path(_path_of(upload)).stem + "-colorized", ".png")
        save_png(result, path)
        return str(path)

    def _predict_image(self, image: Image.Image, working_size, hints, reference=None, hue_sector=None) -> Prediction:
        try:
            return self.colorizer.engine.prediction(
                image, hints=hints or None, working_size=working_size, reference=reference, hue_sector=hue_sector
            )
        except ImageError as e:
            raise user_error(str(e), title="Not a usable image") from None
        except HintError as e:
            raise user_error(str(e), title="Unusable color hints") from None
        except ValueError as e:  # a reference photo with a model that has no encoder to match it with
            raise user_error(str(e), title="No reference photos with this model") from None

    def _confidence(self, kept: Prediction, strength: float) -> Confidence | None:
        """Where the kept prediction's colors are guesses (None for a model without the distribution)."""
        if self.colorizer.generator.head != "classification":
            return None
        return self.colorizer.engine.confidence(kept, strength)

    def _kept_confidence(self, kept: Prediction, strength: float) -> Confidence | None:
        """The confidence a session keeps: its map at the slider's preview size (what it hatches), not
        the photo's: a 50 MP float32 map was 200 MB per session for 30 minutes (review N6)."""
        confidence = self._confidence(kept, strength)
        if confidence is None:
            return None
        height, width = confidence.map.shape
        scale = min(1.0, PREVIEW_SIDE / max(height, width))
        return _fit_confidence(confidence, (max(1, round(width * scale)), max(1, round(height * scale))))

    def _compare(self, image: Image.Image, compare: str, stem: str) -> tuple[str, bool]:
        """The slider's picture of the input: its preview's path, and whether it is the real colors
        (shown on the right) rather than the black-and-white input (on the left)."""
        small = _fit(image)
        in_color = not is_grayscale(small)
        if compare == COMPARE_REAL and in_color:
            return preview(small, stem + "-real"), True
        if compare == COMPARE_REAL:
            gr.Warning("This photo has no colors of its own: showing it against the black-and-white input instead.")
        rgb = small.convert("RGB")
        before = Image.fromarray(gray_version(np.asarray(rgb)), "L") if in_color else rgb
        return preview(before, stem + "-input"), False

    def _show(self, state: KeptResult, strength: float, show_guesses: bool = False) -> Shown:
        """A kept prediction at `strength` as the photo tab shows it; with `show_guesses` (and the
        state's confidence) the slider compares the result with its guesses hatched."""
        result = self.colorizer.engine.render(state.kept, strength)
        png = DOWNLOADS.start(result, state.stem + "-colorized")
        small = _fit(result)
        after = preview(small, state.stem + "-colorized")
        if show_guesses and state.confidence is not None:
            sure = float((state.confidence.map >= 0.5).mean())
            note = (
                "Left: colorized. Right: hatched in magenta where the colors are guesses (the denser, the less "
                f"sure); the model is fairly sure of the hue on {sure:.0%} of the photo. A hint at a "
                '"click here" ring in the hint panel would help most.'
            )
            hatched = _fit_confidence(state.confidence, small.size).overlay(small)
            return Shown((after, preview(hatched, state.stem + "-guesses")), result, png, note)
        if state.real_right:
            note = "Left: colorized from its lightness alone. Right: the real colors."
            return Shown((after, state.before), result, png, note)
        note = f"{result.size[0]}x{result.size[1]} pixels, the size of your photo; color strength {strength:g}."
        if state.hints:
            note += f" {_plural(len(state.hints), 'color hint')} applied."
        if state.kept.guides is not None:
            note += " Colors taken from your reference photo where its regions match this one's."
        return Shown((state.before, after), result, png, note + state.extra_note)

    @releases_memory
    def colorize_and_keep(
        self,
        upload,
        working_size,
        compare,
        strength=1.0,
        hints=None,
        show_guesses=False,
        reference=None,
        hue_sector=None,
    ) -> tuple[Shown, KeptResult]:
        """The photo tab's Colorize: what it shows, and what the strength slider and the guesses toggle
        need to redo it without the network (the prediction, its L* in float16: half the memory a
        session holds). The confidence is read only when the guesses are shown (`restrength` reads it
        later if the toggle is turned on). `reference`: an optional color photo whose colors to take.
        `hue_sector`: the variation picked in the gallery (None: the first), which hints then refine."""
        image = _open(upload)
        strength = _strength(strength)
        kept = self._predict_image(image, _working_size(working_size), hints, _reference(reference), hue_sector)
        stem = Path(_path_of(upload)).stem
        before, real_right = self._compare(image, compare, stem)
        state = KeptResult(kept, stem, before, real_right, list(hints or []), extra_note=_animated_note(upload))
        if show_guesses:
            state.confidence = self._kept_confidence(kept, strength)
        shown = self._show(state, strength, show_guesses)
        kept.photo.L = kept.photo.L.half()
        return shown, state

    @releases_memory
    def restrength(self, state: KeptResult | None, strength, show_guesses=False) -> Shown | None:
        """The strength slider moved (or the guesses toggle): the kept prediction at the new strength,
        no network run (but for the confidence, read once when the guesses are first shown)."""
        if state is None:
            return None
        kept = replace(state.kept, photo=replace(state.kept.photo, L=state.kept.photo.L.float()))
        if show_guesses and state.confidence is None:
            state.confidence = self._kept_confidence(kept, _strength(strength))
        return self._show(replace(state, kept=kept), _strength(strength), show_guesses)

    @releases_memory
    def variation_previews(self, state: KeptResult | None, strength) -> tuple[list, list]:
        """The gallery of colorings to pick from for the kept photo: (previews with captions, their hue
        sectors), the first being the coloring shown. Previews are rendered on the working grid (no
        full-resolution finish: four of those would cost seconds on a large photo)."""
        if state is None:
            raise user_error("Colorize a photo first.", title="No photo")
        if self.colorizer.generator.head != "classification":
            raise user_error("this model predicts one color per pixel, with no alternatives", title="No variations")
        kept = replace(state.kept, photo=replace(state.kept.photo, L=state.kept.photo.L.float()))
        first = replace(kept, options=replace(kept.options, hue_sector=None))
        sectors = self.colorizer.engine.variation_sectors(first, DEFAULT_VARIATIONS)
        previews = []
        for number, sector in enumerate(sectors):
            varied = self.colorizer.engine.vary(first, sector)
            small = replace(varied, photo=replace(varied.photo, L=varied.L_work, alpha=None, points=None))
            image = self.colorizer.engine.render(small, _strength(strength))
            caption = "as colorized" if sector is None else f"more {variations.sector_name(sector)}"
            previews.append((preview(image, f"{state.stem}-variation{number}"), caption))
        return previews, sectors

    @releases_memory
    def pick_variation(self, state: KeptResult | None, sectors: list, index: int, strength, show_guesses=False):
        """A gallery pick: the kept prediction becomes that variation (the strength slider, the guesses
        and the download follow it; hints given next are applied to it). -> (Shown, state, sector)."""
        if state is None or not sectors or not 0 <= index < len(sectors):
            raise user_error("Colorize a photo and show its colorings first.", title="No colorings")
        kept = replace(state.kept, photo=replace(state.kept.photo, L=state.kept.photo.L.float()))
        varied = self.colorizer.engine.vary(kept, sectors[index])
        state = replace(state, kept=varied, confidence=None)
        if show_guesses:
            state.confidence = self._kept_confidence(varied, _strength(strength))
        shown = self._show(state, _strength(strength), show_guesses)
        varied.photo.L = varied.photo.L.half()
        return shown, state, sectors[index]

    @releases_memory
    def colorize_photo_variations(self, upload, count=4, working_size="Auto", color_strength=1.0, hints="") -> list:
        """Colorize a black-and-white photo in several ways, for what its gray values cannot decide (a
        cup red or blue, a sky by day or at dusk): the first is the usual result, each other one favours
        another hue where the model hesitates, a whole coherent photo each.

        Args:
            upload: the photo, any image file (JPEG, PNG, WebP, TIFF...; up to 25 MB and 50 megapixels).
            count: how many colorings in all, from 1 to 9 (default 4).
            working_size: "Auto" (the model's own size, best) or a long side in pixels from 16 to 1024.
            color_strength: how colorful, from 0 (black and white) to 2; 1 is the calibrated strength.
            hints: optional JSON list [[x, y, "#rrggbb"], ...] of points in pixels from the top left; "" for none.

        Returns:
            the colorings as lossless PNGs of the input's size, the usual result first
        """
        image, points = _open(upload), _hints(hints)
        try:
            count = int(count)
            images = self.colorizer.colorize_variations(
                image, count, hints=points or None, working_size=_working_size(working_size),
                color_strength=_strength(color_strength),
            )  # fmt: skip
        except (TypeError, ValueError) as e:
            raise user_error(str(e), title="No variations") from None
        except HintError as e:
            raise user_error(str(e), title="Unusable color hints") from None
        stem = Path(_path_of(upload)).stem
        paths = []
        for number, result in enumerate(images):
            path = _output_file(f"{stem}-colorized" + (f".v{number}" if number else ""), ".png")
            save_png(result, path)
            paths.append(str(path))
        return paths

    @releases_memory
    def colorize_photo_confidence(self, upload, working_size="Auto", color_strength=1.0, hints="") -> tuple:
        """Colorize a photo and say where its colors are guesses: the colorized PNG, a confidence map
        and the points where one color hint would help most.

        Args:
            upload: the photo, any image file (JPEG, PNG, WebP, TIFF...; up to 25 MB and 50 megapixels).
            working_size: "Auto" (the model's own size, best) or a long side in pixels from 16 to 1024.
            color_strength: how colorful, from 0 (black and white) to 2; 1 is the calibrated strength.
            hints: optional JSON list [[x, y, "#rrggbb"], ...] of points in pixels from the top left; "" for none.

        Returns:
            the colorized photo as a lossless PNG of the input's size
            its confidence map, a grayscale PNG of the same size (white where the hue is sure, black where a guess)
            JSON {"suggestions": [[x, y], ...]} with up to three pixel points where one hint would help most
        """
        image, points = _open(upload), _hints(hints)
        strength = _strength(color_strength)
        kept = self._predict_image(image, _working_size(working_size), points)
        confidence = self._confidence(kept, strength)
        if confidence is None:
            raise user_error("this model predicts one color per pixel, with no spread to read", title="No confidence")
        stem = Path(_path_of(upload)).stem
        path, map_path = _output_file(stem + "-colorized", ".png"), _output_file(stem + "-confidence", ".png")
        save_png(self.colorizer.engine.render(kept, strength), path)
        save_png(confidence.image(), map_path)
        return str(path), str(map_path), {"suggestions": [list(p) for p in confidence.suggestions]}

    @releases_memory
    def colorize_photo_reference(self, upload, reference, working_size="Auto", color_strength=1.0) -> str:
        """Colorize a black-and-white photo with the colors of a reference photo: regions of the photo take
        the colors of the reference's regions that look like them (the same place in color, a frame of a
        color film, a photo with the wanted palette); where nothing matches, the model's own colors stay.

        Args:
            upload: the black-and-white photo, any image file (JPEG, PNG, WebP, TIFF...; up to 25 MB and 50 megapixels).
            reference: a color photo whose colors to use, any size; a black-and-white one is refused.
            working_size: "Auto" (the model's own size, best) or a long side in pixels from 16 to 1024.
            color_strength: how colorful the model's own colors are, from 0 to 2; 1 is the calibrated strength.

        Returns:
            the colorized photo as a lossless PNG of the input's size
        """
        image = _open(upload)
        if _path_of(reference) is None:
            raise user_error("Add a color photo to take the colors from.", title="No reference photo")
        kept = self._predict_image(image, _working_size(working_size), None, _reference(reference))
        path = _output_file(Path(_path_of(upload)).stem + "-colorized", ".png")
        save_png(self.colorizer.engine.render(kept, _strength(color_strength)), path)
        return str(path)

    # --- old photos that kept some color

    def _restore_image(self, image: Image.Image, keep_tone: bool, confidence: bool, repair: bool = False) -> tuple:
        """-> (restored image, its Confidence or None, the damage mask or None); `confidence` only for a
        classification head; `repair` fills cracks, scratches and dust first."""
        confidence = confidence and self.colorizer.generator.head == "classification"
        request = ColorizeRequest(
            image, restore=True, keep_tone=bool(keep_tone), confidence=confidence, repair=bool(repair)
        )
        try:
            output = self.colorizer.run(request)
        except ImageError as e:
            raise user_error(str(e), title="Not a usable image") from None
        return output.image, output.confidence, output.damage_mask

    @releases_memory
    def restore_photo(self, upload, keep_tone=False, repair=False) -> tuple:
        """Restore an old photo: a faded color print or slide gets its fading undone and keeps the colors
        that survived, with the model's colors where they are gone; a black-and-white or sepia photo is
        colorized.

        Args:
            upload: the photo, any image file (JPEG, PNG, WebP, TIFF...; up to 25 MB and 50 megapixels).
            keep_tone: for a sepia or otherwise toned print, keep its tone on top of the colors (default: off).
            repair: first find and fill cracks, scratches, dust and blotches, so that none is colored (default: off).

        Returns:
            the restored photo as a lossless PNG of the input's size
            JSON {"restoration": "color" | "toned" | "gray", "repaired": share of the photo filled, 0 without repair}
        """
        image = _open(upload)
        result, _, _ = self._restore_image(image, keep_tone, False, bool(repair))
        path = _output_file(Path(_path_of(upload)).stem + "-restored", ".png")
        save_png(result, path)
        return str(path), {"restoration": result.info["restoration"], "repaired": float(result.info.get("repaired", 0))}

    @releases_memory
    def repair_photo(self, upload) -> tuple:
        """Repair an old print: its cracks, scratches, dust and blotches filled; every other pixel kept, no color added.

        Args:
            upload: the photo, any image file (JPEG, PNG, WebP, TIFF...; up to 25 MB and 50 megapixels).

        Returns:
            the repaired photo as a lossless PNG of the input's size and mode
            the damage mask as a PNG: white where damage was found and filled
        """
        image = _open(upload)
        try:
            repaired, mask = self.colorizer.repair(image, return_mask=True)
        except ImageError as e:
            raise user_error(str(e), title="Not a usable image") from None
        stem = Path(_path_of(upload)).stem
        path, mask_path = _output_file(stem + "-repaired", ".png"), _output_file(stem + "-damage", ".png")
        save_png(repaired, path)
        save_png(mask, mask_path)
        return str(path), str(mask_path)

    @releases_memory
    def restore_ui(self, upload, keep_tone=False, show_guesses=False, repair=False) -> Shown:
        """The Restore tab: the slider's pictures (the old photo and the restored one, or with
        `show_guesses` the restored one and its guesses hatched), the PNG being written, a note and,
        with `repair`, the damage mask."""
        image = _open(upload)
        result, confidence, mask = self._restore_image(image, keep_tone, bool(show_guesses), bool(repair))
        stem = Path(_path_of(upload)).stem
        png = DOWNLOADS.start(result, stem + "-restored")
        kind = result.info["restoration"]
        note = RESTORED_NOTES[kind]
        if kind == "toned" and keep_tone:
            note += " Its tone is kept on top."
        damage = None
        if mask is not None:
            share = float(result.info["repaired"])
            note += (f" Cracks, scratches and dust repaired first: {share:.1%} of the photo filled (below, in white)."
                     if share > 0 else " No cracks, scratches or dust found.")  # fmt: skip
            damage = preview(_fit(mask.convert("RGB")), stem + "-damage")
        small = _fit(result)
        after = preview(small, stem + "-restored")
        if confidence is not None:
            note += " Right: hatched in magenta where the colors are the model's guesses."
            hatched = _fit_confidence(confidence, small.size).overlay(small)
            return Shown((after, preview(hatched, stem + "-guesses")), result, png, note, damage)
        return Shown((preview(image, stem + "-input"), after), result, png, note, damage)

    # --- many photos

    def _colorize_group(self, paths: list[str], working_size, strength: float) -> list:
        return self.colorizer.colorize_batch(paths, working_size=working_size, color_strength=strength)

    @releases_memory
    def colorize_many(self, uploads, working_size, strength=1.0):
        """The Batch tab: a gallery of PNGs, the zip of them, and what was skipped and why."""
        if not uploads:
            raise user_error("Add one or more photos first.", title="No photos")
        if len(uploads) > MAX_BATCH_FILES:
            raise user_error(f"{len(uploads)} files: at most {MAX_BATCH_FILES} at a time.", title="Too many files")
        size, strength = _working_size(working_size), _strength(strength)
        archive = _output_file("colorized", ".zip")
        gallery, problems, used, paths = [], [], set(), []
        for upload in uploads:
            try:
                paths.append(_checked_path(upload))
            except gr.Error as e:
                problems.append(f"- **{os.path.basename(_path_of(upload) or 'image')}**: {e.message}")
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:  # PNGs do not compress further
            # A few photos per call: those sharing a working shape go through the network together,
            # one that cannot be used comes back as its error, and memory holds one group at a time.
            for start in range(0, len(paths), BATCH_GROUP):
                group = paths[start : start + BATCH_GROUP]
                for path, result in zip(group, self._colorize_group(group, size, strength)):
                    name = os.path.basename(path)
                    if isinstance(result, Exception):
                        reason = _without_folder(result, path)
                        reason = reason[len(name) + 2 :] if reason.startswith(f"{name}: ") else reason  # named once
                        problems.append(f"- **{name}**: {reason}")
                        logger.info("refused in a batch: %s", _without_folder(result, path))
                        continue
                    stem, n = Path(name).stem, 1
                    while f"{stem}.png" in used:
                        n += 1
                        stem = f"{Path(name).stem}-{n}"
                    used.add(f"{stem}.png")
                    png = archive.with_name(f"{stem}.png")
                    save_png(result, png)
                    zf.write(png, arcname=png.name)
                    gallery.append((str(png), name))
        summary = f"{len(gallery)} of {_plural(len(uploads), 'photo')} colorized."
        if problems:
            summary += " Skipped:\n" + "\n".join(problems)
        return gallery, (str(archive) if gallery else None), summary

    # --- videos

    def _colorize_video_file(
        self, path: str, strength: float, hints, progress, reference=None, restore=False, repair=False
    ):
        """Colorize (or with `restore`, restore) a video file, `repair`ed first if asked -> the MP4's
        path and the `VideoResult`."""
        target = _output_file(Path(path).stem + ("-restored" if restore else "-colorized"), ".mp4")
        try:
            if restore:
                result = self.colorizer.restore_video(path, target, progress=progress, repair=repair)
            else:
                result = self.colorizer.colorize_video(
                    path,
                    target,
                    hints=hints or None,
                    color_strength=strength,
                    progress=progress,
                    reference=reference,
                    repair=repair,
                )
        except VideoError as e:
            raise user_error(_without_folder(e, path), title="Not a usable video") from None
        except HintError as e:
            raise user_error(str(e), title="Unusable color hints") from None
        except ImageError as e:  # the reference photo
            raise user_error(str(e), title="Not a usable reference photo") from None
        return target, result

    @releases_memory
    def colorize_video(self, upload, color_strength=1.0, hints="", repair=False) -> str:
        """Colorize a black-and-white video, its colors held steady along the motion within each shot.

        Each hint (a point's color, in the pixels of its frame) follows the content until its shot ends.

        Args:
            upload: the video, any file FFmpeg reads (MP4, MOV, MKV...), up to 60 s and 1080 lines by default.
            color_strength: how colorful, from 0 (black and white) to 2; 1 is the calibrated strength.
            hints: optional JSON [[x, y, "#rrggbb"], ...] for frame 0, or {"frame": [[x, y, "#rrggbb"]]}; "" for none.
            repair: first find and fill dust, specks and scratches on every frame, so none is colored (default: off).

        Returns:
            an H.264 MP4 with the input's frames, timing and audio
        """
        path = _video_path(upload)
        try:
            points = parse_video_hints_json(hints)
        except HintError as e:
            raise user_error(str(e), title="Unusable color hints") from None
        return str(self._colorize_video_file(path, _strength(color_strength), points, None, repair=bool(repair))[0])

    @releases_memory
    def colorize_video_ui(
        self, upload, strength=1.0, hints=None, restore=False, reference=None, repair=False, progress=gr.Progress()
    ):
        """The Video tab: the MP4 to play, the MP4 to download, a note. `restore`: the film is an old
        color or sepia one (its surviving colors kept); `reference`: a color photo whose colors to use;
        `repair`: dust and scratches filled on every frame first."""
        path = _video_path(upload)

        def report(done: int, total: int) -> None:
            progress((done, total or None), desc="Restoring" if restore else "Colorizing", unit="frames")

        reference = None if restore else _reference(reference)
        target, result = self._colorize_video_file(
            path, _strength(strength), None if restore else hints, report, reference, bool(restore), bool(repair)
        )
        note = "Colors carried along the motion within each shot, reset at cuts; the audio is the original's."
        if restore:
            note = f"{RESTORED_FILM_NOTES[result.restoration]} {note}"
        if hints and not restore:
            note += f" {_plural(len(hints), 'color hint')} on the first frame, followed through its shot."
        if reference is not None:
            note += " Colors taken from your reference photo where its regions match the film's."
        if result.repaired is not None:
            note += f" Dust and scratches filled before coloring: {result.repaired:.2%} of a frame on average."
        return str(target), str(target), note


# --- layout: each tab in its own function, wired to Handlers ------------------------------------------

# The page's own events: not in the API docs (the API is /colorize and /colorize_video), and given
# the uploads' file data as it is (the handlers check and open files themselves).
UI_EVENT = dict(api_visibility="undocumented", preprocess=False)


@dataclass
class HintPanel:
    """The panel's parts a tab wires further: the hints ([x, y, "#rrggbb"]), the canvas, its base view
    and scale, and the suggested points ([x, y] where the model is least sure) it marks."""

    hints: gr.State
    canvas: gr.Image
    base: gr.State
    scale: gr.State
    suggested: gr.State
    info: gr.Markdown


def hint_panel(
    upload, handlers: HintHandlers, *, title: str, canvas_label: str, ids: str, visible: bool, open: bool
) -> HintPanel:
    """The click-to-hint panel under an upload (color picker, undo, clear, the picture to click), wired
    to `handlers`."""
    hints, base, scale, suggested = gr.State([]), gr.State(None), gr.State(1.0), gr.State([])
    with gr.Accordion(title, open=open, visible=visible):
        with gr.Row():
            color = gr.ColorPicker(value="#c0392b", label="Hint color", elem_id=f"{ids}-color", scale=1)
            undo_button = gr.Button("Undo last hint", size="sm", elem_id=f"{ids}-undo", scale=1)
            clear_button = gr.Button("Clear hints", size="sm", elem_id=f"{ids}-clear", scale=1)
        canvas = gr.Image(label=canvas_label, type="pil", interactive=False, elem_id=f"{ids}-canvas", buttons=[])
        info = gr.Markdown(handlers.note([]), elem_id=f"{ids}-info")
    if visible:
        upload.change(handlers.show, [upload], [canvas, hints, base, scale, suggested, info], **UI_EVENT)
        canvas.select(handlers.add, [base, hints, scale, suggested, color], [canvas, hints, info], **UI_EVENT)
        undo_button.click(handlers.undo, [base, hints, scale, suggested], [canvas, hints, info], **UI_EVENT)
        clear_button.click(handlers.clear, [base, scale, suggested], [canvas, hints, info], **UI_EVENT)
    return HintPanel(hints, canvas, base, scale, suggested, info)


def reference_upload(label: str, elem_id: str, **kwargs) -> gr.Image:
    """An optional reference photo's upload (its path goes to the handler, which checks it)."""
    return gr.Image(
        label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"], height=170, elem_id=elem_id,
        **kwargs,
    )  # fmt: skip


def strength_slider(**kwargs) -> gr.Slider:
    low, high = COLOR_STRENGTH_RANGE
    return gr.Slider(low, high, value=1.0, step=0.05, label="Color strength", **kwargs)


@dataclass
class PhotoTab:
    """The photo tab's components that its events read and write."""

    photo: gr.Image
    slider: gr.ImageSlider
    run: gr.Button
    again: gr.Button
    strength: gr.Slider
    info: gr.Markdown
    download: gr.File
    working: gr.Dropdown
    compare: gr.Radio
    guesses: gr.Checkbox
    reference: gr.Image
    panel: HintPanel
    kept: gr.State
    png: gr.State
    show_variations: gr.Button
    gallery: gr.Gallery
    sectors: gr.State  # the gallery's hue sectors, in its order
    sector: gr.State  # the one picked (None: the first coloring); Colorize with hints keeps it


def photo_tab(h: Handlers) -> None:
    """The photo tab. One image area: the upload, which becomes the before/after slider once colorized
    ("Another photo" brings the upload back); under it Colorize and the color strength, which
    changes the result as it moves (no new network run); options and hints at the side (below on
    a phone), so that Colorize and the result fit a 1280x800 screen without scrolling. The slider
    shows previews at once; the full-resolution PNG reaches the download box in a chained event."""
    tab = photo_layout(h)
    photo_examples(tab, photo_events(h, tab))


def photo_layout(h: Handlers) -> PhotoTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            photo = gr.Image(
                label="Black-and-white (or color) photo", type="filepath", image_mode=None,
                sources=["upload", "clipboard", "webcam"], height=IMAGE_AREA_PX, elem_id="photo-input",
            )  # fmt: skip
            slider = gr.ImageSlider(
                label="Before / after", type="filepath", height=IMAGE_AREA_PX, visible=False, elem_id="result-slider"
            )
            with gr.Row():
                run = gr.Button("Colorize", variant="primary", elem_id="colorize-button", scale=1, min_width=120)
                again = gr.Button("Another photo", visible=False, elem_id="another-photo", scale=1, min_width=120)
                # min_width: on a phone the slider takes a row of its own instead of a squeezed third.
                strength = strength_slider(
                    info="1 = as calibrated on real photos; moving it redoes the result at once.",
                    elem_id="strength", scale=3, min_width=300,
                )  # fmt: skip
            info = gr.Markdown(elem_id="result-info")
            show_variations = gr.Button(
                "Show other colorings", size="sm", visible=False, elem_id="variations-button",
            )  # fmt: skip
            gallery = gr.Gallery(
                label="Other colorings, where a gray value cannot decide: click one to use it",
                columns=DEFAULT_VARIATIONS, height=200, object_fit="contain", allow_preview=False,
                visible=False, elem_id="variations-gallery",
            )  # fmt: skip
            download = gr.File(label="Download (PNG, full resolution)", elem_id="download-png")
        with gr.Column(scale=2):
            working, compare, guesses = photo_options(h)
            with gr.Accordion(
                "Colors from a reference photo", open=False, visible=h.colorizer.generator.encoder != "none"
            ):
                reference = reference_upload(
                    "A color photo whose colors to use (the same place today, a frame of a color film...)",
                    "reference-input",
                )
            panel = hint_panel(
                photo, h.photo_hints, title="Color hints: click the photo where you know the color",
                canvas_label="Click to place a hint of the chosen color", ids="hint",
                visible=h.colorizer.takes_hints, open=True,
            )  # fmt: skip
    kept = gr.State(None, time_to_live=KEPT_PREDICTION_S)
    return PhotoTab(
        photo, slider, run, again, strength, info, download, working, compare, guesses, reference, panel, kept,
        gr.State(None), show_variations, gallery, gr.State([]), gr.State(None),
    )  # fmt: skip


def photo_options(h: Handlers) -> tuple[gr.Dropdown, gr.Radio, gr.Checkbox]:
    with gr.Accordion("Options", open=False):
        auto = (
            f"The size at which the model looks at your photo to choose its colors (the result is "
            f"always full size). Auto: {h.colorizer.working_size} px, the model's own; only sizes "
            "measured no worse on large photos are offered."
        )
        working = gr.Dropdown(h.working_sizes, value="Auto", label="Working resolution (long side, px)", info=auto)
        compare = gr.Radio([COMPARE_GRAY, COMPARE_REAL], value=COMPARE_GRAY, label="Compare the result with")
        guesses = gr.Checkbox(
            False,
            label="Show where the colors are guesses",
            info="Hatches the places the model is unsure of, and marks where a hint would help most",
            visible=h.colorizer.generator.head == "classification",
            elem_id="show-guesses",
        )
    return working, compare, guesses


PHOTO_OUTPUTS = ("slider", "download", "info", "kept", "png", "photo", "again", "show_variations", "gallery")


def photo_events(h: Handlers, tab: PhotoTab):
    """Colorize, the strength slider, the guesses toggle and "Another photo", each first showing the
    slider, then (chained) handing the download box its PNG once written. Returns the Colorize
    handler (the examples run it too) and its outputs."""
    panel = tab.panel

    def canvas_for(state, show_guesses, base, points, scale) -> tuple:
        """The hint canvas: "click here" rings only while the guesses are shown."""
        if show_guesses and state is not None and state.confidence is not None:
            return h.photo_hints.suggest(base, points, scale, state.confidence.suggestions)
        if base is None:
            return gr.skip(), []
        return draw_hints(base, points or [], scale), []

    def colorized(upload, working_size, compare_with, amount, points, show_guesses, base, scale, ref=None, sector=None):
        try:
            shown, state = h.colorize_and_keep(
                upload, working_size, compare_with, amount, points, show_guesses, ref, sector
            )
        except gr.Error as e:  # one message, in the note and a pop-up; the outputs keep what they showed
            gr.Warning(e.message, title=e.title)
            return (gr.skip(),) * 2 + (f"**{e.title}:** {e.message}",) + (gr.skip(),) * 9
        canvas, suggested = canvas_for(state, show_guesses, base, points, scale)
        offer = h.colorizer.generator.head == "classification"
        return (
            gr.ImageSlider(value=shown.pair, visible=True), None, shown.note, state, shown.png,
            gr.Image(visible=False), gr.Button(visible=True), gr.Button(visible=offer), gr.Gallery(visible=False),
            canvas, suggested, h.photo_hints.applied(points or []),
        )  # fmt: skip

    def restrengthened(state, amount, show_guesses, base, points, scale):
        shown = h.restrength(state, amount, show_guesses)
        if shown is None:
            return (gr.skip(),) * 6
        canvas, suggested = canvas_for(state, show_guesses, base, points, scale)
        return gr.ImageSlider(value=shown.pair), shown.note, shown.png, state, canvas, suggested

    outputs = [getattr(tab, name) for name in PHOTO_OUTPUTS] + [panel.canvas, panel.suggested, panel.info]
    inputs = [tab.photo, tab.working, tab.compare, tab.strength, panel.hints, tab.guesses, panel.base, panel.scale,
              tab.reference, tab.sector]  # fmt: skip
    tab.run.click(colorized, inputs, outputs, **UI_EVENT).then(DOWNLOADS.ready, tab.png, tab.download, **UI_EVENT)
    again_in = [tab.kept, tab.strength, tab.guesses, panel.base, panel.hints, panel.scale]
    again_out = [tab.slider, tab.info, tab.png, tab.kept, panel.canvas, panel.suggested]
    for event in (tab.strength.release, tab.guesses.change):
        event(restrengthened, again_in, again_out, **UI_EVENT).then(DOWNLOADS.ready, tab.png, tab.download, **UI_EVENT)

    def another_photo():
        return (
            gr.Image(value=None, visible=True), gr.ImageSlider(value=None, visible=False), gr.Button(visible=False),
            gr.Button(visible=False), gr.Gallery(value=None, visible=False), None,
        )  # fmt: skip

    tab.again.click(
        another_photo, None, [tab.photo, tab.slider, tab.again, tab.show_variations, tab.gallery, tab.sector],
        **UI_EVENT,
    )  # fmt: skip
    tab.photo.change(lambda: None, None, tab.sector, **UI_EVENT)  # a new photo starts from its first coloring
    variation_events(h, tab, canvas_for)
    return colorized, outputs


def variation_events(h: Handlers, tab: PhotoTab, canvas_for) -> None:
    """ "Show other colorings" fills the gallery; a click on one makes it the result (and the coloring
    that the strength slider, the guesses and hints given next work on)."""

    def shown_gallery(state, amount):
        try:
            previews, sectors = h.variation_previews(state, amount)
        except gr.Error as e:
            gr.Warning(e.message, title=e.title)
            return gr.skip(), gr.skip()
        return gr.Gallery(value=previews, visible=True, selected_index=0), sectors

    def picked(state, sectors, amount, show_guesses, base, points, scale, evt: gr.SelectData):
        try:
            shown, state, sector = h.pick_variation(state, sectors, evt.index, amount, show_guesses)
        except gr.Error as e:
            gr.Warning(e.message, title=e.title)
            return (gr.skip(),) * 7 + (f"**{e.title}:** {e.message}",)
        canvas, suggested = canvas_for(state, show_guesses, base, points, scale)
        chosen = "the first coloring" if sector is None else f"the coloring with more {variations.sector_name(sector)}"
        note = f"{shown.note} Showing {chosen}; hints and the strength now apply to it."
        return gr.ImageSlider(value=shown.pair), shown.png, state, sector, canvas, suggested, None, note

    tab.show_variations.click(shown_gallery, [tab.kept, tab.strength], [tab.gallery, tab.sectors], **UI_EVENT)
    panel = tab.panel
    tab.gallery.select(
        picked, [tab.kept, tab.sectors, tab.strength, tab.guesses, panel.base, panel.hints, panel.scale],
        [tab.slider, tab.png, tab.kept, tab.sector, panel.canvas, panel.suggested, tab.download, tab.info],
        **UI_EVENT,
    ).then(DOWNLOADS.ready, tab.png, tab.download, **UI_EVENT)  # fmt: skip


def photo_examples(tab: PhotoTab, colorize_event) -> None:
    """The example photos: a click puts one in the upload and colorizes it with the options set (no
    hints, no reference), as Colorize would. Run on click, not cached: a cached result has no kept
    prediction for the strength slider, and Gradio 6's example cache cannot post-process an
    ImageSlider update (AttributeError: 'ImageSlider' object has no attribute 'info')."""
    if not EXAMPLES_DIR.is_dir():
        return
    examples = gr.Examples(
        examples=[[str(p)] for p in sorted(EXAMPLES_DIR.glob("*.jpg"))],
        inputs=[tab.photo],
        label="Examples: real landscapes in black and white (sources and licenses: examples/LICENSES.md)",
        cache_examples=False,
        api_visibility="undocumented",
        elem_id="photo-examples",
    )
    colorized, outputs = colorize_event

    def example(upload, working_size, compare_with, amount, show_guesses):
        return colorized(upload, working_size, compare_with, amount, [], show_guesses, None, 1.0, None, None)

    examples.load_input_event.then(
        example, [tab.photo, tab.working, tab.compare, tab.strength, tab.guesses], outputs, **UI_EVENT
    ).then(DOWNLOADS.ready, tab.png, tab.download, **UI_EVENT)


RESTORED_NOTES = {
    "color": "A faded color photo: its fading is undone and the colors that survived are kept; where they had "
    "gone, the model filled them in.",
    "toned": "A sepia or toned print: its tone carries no colors, so the photo was colorized from its lightness.",
    "gray": "A black-and-white photo: nothing of its colors survived, so it was colorized from its lightness.",
}
RESTORED_FILM_NOTES = {
    "color": "A faded color film: its fading is undone on every frame and the colors that survived are kept; "
    "where they had gone, the model filled them in.",
    "toned": "A sepia or toned film: its tone carries no colors, so the film was colorized from its lightness.",
    "gray": "A black-and-white film: nothing of its colors survived, so it was colorized from its lightness.",
}


def restore_tab(h: Handlers) -> None:
    """The Restore tab: an old photo (faded color, sepia, black and white) in, the slider out."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            photo = gr.Image(
                label="Old photo: a faded color print or slide, sepia, or black and white",
                type="filepath",
                image_mode=None,
                sources=["upload", "clipboard"],
                height=IMAGE_AREA_PX,
                elem_id="restore-input",
            )
            run = gr.Button("Restore", variant="primary", elem_id="restore-button")
        with gr.Column(scale=3):
            slider = gr.ImageSlider(
                label="Before / after", type="filepath", height=IMAGE_AREA_PX, elem_id="restore-slider"
            )
            info = gr.Markdown(elem_id="restore-info")
            download = gr.File(label="Download (PNG, full resolution)", elem_id="restore-png")
            damage = gr.Image(
                label="Damage found and filled (white)", type="filepath", interactive=False, visible=False,
                elem_id="restore-damage",
            )  # fmt: skip
    with gr.Row():
        # On by default: old prints are what this tab is for, and a photo with no damage comes back
        # unchanged by it (on photos-hq, 0.16 L* on average).
        repair = gr.Checkbox(True, label="Repair scratches and dust", elem_id="restore-repair")
        keep_tone = gr.Checkbox(False, label="Keep a sepia print's tone", elem_id="restore-keep-tone")
        guesses = gr.Checkbox(
            False,
            label="Show where the colors are guesses",
            visible=h.colorizer.generator.head == "classification",
            elem_id="restore-guesses",
        )
    png = gr.State(None)

    def restored(upload, keep, show_guesses, fix):
        shown = h.restore_ui(upload, keep, show_guesses, fix)
        return shown.pair, None, shown.note, shown.png, gr.Image(shown.damage, visible=shown.damage is not None)

    outputs = [slider, download, info, png, damage]
    run.click(restored, [photo, keep_tone, guesses, repair], outputs, **UI_EVENT).then(
        DOWNLOADS.ready, png, download, **UI_EVENT
    )


def batch_tab(h: Handlers) -> None:
    """The Batch tab: many photos in, a gallery and a zip of full-resolution PNGs out."""
    files = gr.File(label="Photos", file_count="multiple", file_types=["image"], elem_id="batch-input")
    with gr.Row():
        working = gr.Dropdown(h.working_sizes, value="Auto", label="Working resolution (long side, px)")
        strength = strength_slider()
    run = gr.Button(f"Colorize all (up to {MAX_BATCH_FILES})", variant="primary", elem_id="batch-button")
    gallery = gr.Gallery(label="Colorized", columns=4, height="auto", object_fit="contain", elem_id="batch-gallery")
    archive = gr.File(label="Download all (zip of PNGs)", elem_id="batch-zip")
    info = gr.Markdown(elem_id="batch-info")
    run.click(h.colorize_many, [files, working, strength], [gallery, archive, info], **UI_EVENT)


def video_tab(h: Handlers) -> None:
    """The Video tab: a film in, the colorized MP4 (played beside the original) out."""
    with gr.Row():
        with gr.Column():
            video = gr.Video(
                label=f"Black-and-white film (up to {MAX_VIDEO_SECONDS:.0f} s, {MAX_VIDEO_LINES}p)",
                sources=["upload"],
                elem_id="video-input",
            )
            strength = strength_slider()
            hints = hint_panel(
                video,
                h.video_hints,
                title="Color hints on the first frame: they follow the content through its shot",
                canvas_label="First frame: click to place a hint of the chosen color",
                ids="video-hint",
                visible=h.colorizer.takes_hints,
                open=False,
            ).hints
            with gr.Accordion("An old color film, or colors from a photo", open=False):
                restore = gr.Checkbox(
                    False,
                    label="Restore: a faded color or sepia film",
                    info="Keeps the colors that survived (its fading undone), the model fills in where they are "
                    "gone; hints and a reference are then not used",
                    elem_id="video-restore",
                )
                reference = reference_upload(
                    "Reference: a color photo whose colors to use (e.g. a frame of a color print)",
                    "video-reference",
                    visible=h.colorizer.generator.encoder != "none",
                )
            repair = gr.Checkbox(
                False,
                label="Repair dust and scratches",
                info="Found on every frame and filled from the frames beside it, before coloring (slower)",
                elem_id="video-repair",
            )
            run = gr.Button("Colorize video", variant="primary", elem_id="video-button")
        with gr.Column():
            played = gr.Video(label="Colorized", interactive=False, elem_id="video-output")
            download = gr.File(label="Download (MP4, H.264, original audio)", elem_id="video-download")
            info = gr.Markdown(elem_id="video-info")
    run.click(
        h.colorize_video_ui, [video, strength, hints, restore, reference, repair], [played, download, info], **UI_EVENT
    )


def api_endpoint(name: str, handler, output: str | list, *inputs: gr.components.Component) -> None:
    """A named API endpoint on hidden components: `inputs` in, one file out (what gradio_client calls),
    or the given output components; labels name the values on the app's "Use via API" page."""
    results = [gr.File(label=output, visible=False)] if isinstance(output, str) else output
    gr.Button(visible=False).click(handler, list(inputs), results, api_name=name, preprocess=False)


# What the "Use via API" page's snippets send: files the endpoints take (Gradio's own placeholder for a
# file is a PDF, which every endpoint refuses).
EXAMPLE_PHOTO_URL = f"https://huggingface.co/spaces/{SPACE_ID}/resolve/main/examples/bridge.jpg"
EXAMPLE_REFERENCE_URL = f"{REPO_URL}/raw/main/tests/data/bridge_color.jpg"
EXAMPLE_VIDEO_URL = f"{REPO_URL}/raw/main/tests/data/pan_two_shots.mp4"


def example_file(component: gr.File, url: str) -> gr.File:
    """`component` whose example on the API page (and in its code snippets) is the file at `url`."""
    from gradio_client import handle_file

    component.example_payload = lambda: handle_file(url)
    component.example_value = lambda: url
    return component


def variations_endpoint(h: Handlers, photo, working_size, strength, hints) -> None:
    """/colorize_variations: the photo and how many colorings in, their PNGs out."""
    hidden = dict(visible=False)
    api_endpoint(
        "colorize_variations", h.colorize_photo_variations,
        [gr.File(label="the colorings (PNGs, full resolution), the usual one first", file_count="multiple", **hidden)],
        photo, gr.Number(value=DEFAULT_VARIATIONS, label="count (1-9)", precision=0, **hidden), working_size,
        strength, hints,
    )  # fmt: skip


def api_endpoints(h: Handlers) -> None:
    """The public API: one photo (or video) in, the colorized PNG (MP4) out."""
    hidden = dict(visible=False)
    low, high = WORKING_SIZE_RANGE

    # The inputs several endpoints share: made anew for each (a component belongs to one place).
    def photo(label: str = "photo (any image file)", example: str = EXAMPLE_PHOTO_URL) -> gr.File:
        return example_file(gr.File(label=label, **hidden), example)

    def working_size() -> gr.Textbox:
        # A text box, not a dropdown: the API takes any size in range, the page offers only the best few.
        return gr.Textbox(value="Auto", label=f"working size (Auto, or a long side of {low}-{high} px)", **hidden)

    def strength() -> gr.Number:
        return gr.Number(value=1.0, label="color strength (0-2; 1 as calibrated)", **hidden)

    def hints(label: str = 'hints (JSON [[x, y, "#rrggbb"], ...]; empty: none)') -> gr.Textbox:
        return gr.Textbox(value="", label=label, **hidden)

    colorized = "colorized photo (PNG, full resolution)"
    api_endpoint("colorize", h.colorize_photo, colorized, photo(), working_size(), strength(), hints())
    api_endpoint(
        "colorize_confidence",
        h.colorize_photo_confidence,
        [
            photo(colorized),
            photo("confidence map (grayscale PNG: white sure, black a guess)"),
            gr.JSON(label='{"suggestions": [[x, y], ...]}: where one hint would help most', **hidden),
        ],
        photo(), working_size(), strength(), hints(),
    )  # fmt: skip
    variations_endpoint(h, photo(), working_size(), strength(), hints())
    api_endpoint(
        "colorize_reference", h.colorize_photo_reference, colorized,
        photo(), photo("reference: a color photo whose colors to use", EXAMPLE_REFERENCE_URL), working_size(),
        strength(),
    )  # fmt: skip
    api_endpoint(
        "restore",
        h.restore_photo,
        [
            photo("restored photo (PNG, full resolution)"),
            gr.JSON(label='{"restoration": "color" | "toned" | "gray"}: what the photo was taken for', **hidden),
        ],
        photo(), gr.Checkbox(False, label="keep a toned print's tone", **hidden),
        gr.Checkbox(False, label="repair cracks, scratches and dust first", **hidden),
    )  # fmt: skip
    api_endpoint(
        "repair",
        h.repair_photo,
        [photo("repaired photo (PNG, full resolution)"), photo("damage mask (PNG, white where filled)")],
        photo(),
    )  # fmt: skip
    api_endpoint(
        "colorize_video", h.colorize_video, "colorized video (MP4, H.264, audio kept)",
        photo("video (any file FFmpeg reads)", EXAMPLE_VIDEO_URL), strength(),
        hints('hints for frame 0, or {"frame": [[x, y, "#rrggbb"], ...]}'),
        gr.Checkbox(False, label="repair dust and scratches first", **hidden),
    )  # fmt: skip


def build_demo(colorizer: Colorizer) -> gr.Blocks:
    """The whole app around a loaded `Colorizer` (tests build it with a tiny model)."""
    h = Handlers(colorizer)
    title = "pix2pix-color: colorize black-and-white photos"
    # Gradio deletes the files it serves (ours are written into its cache) once they are an hour old.
    with gr.Blocks(title=title, delete_cache=(1800, OUTPUT_MAX_AGE_S)) as demo:
        gr.Markdown(
            "# pix2pix-color\nTurn black-and-white landscape photos into color, at full resolution.\n\n" + DISCLAIMER
        )
        with gr.Tab("Colorize a photo"):
            photo_tab(h)
        with gr.Tab("Restore an old photo"):
            restore_tab(h)
        with gr.Tab("Batch"):
            batch_tab(h)
        with gr.Tab("Video"):
            video_tab(h)
        with gr.Tab("How it works"):
            gr.Markdown(HOW_IT_WORKS)
            gr.Markdown(DISCLAIMER)
        api_endpoints(h)
    return demo


def serve(demo: gr.Blocks, **launch_kwargs):
    """Queue and launch with the app's limits (the tests use this too, with prevent_thread_lock)."""
    # Two at a time: each request already uses every core; the rest wait in a bounded queue.
    demo.queue(default_concurrency_limit=2, max_size=64)
    options = dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=f"{max(MAX_FILE_MB, MAX_VIDEO_MB)}mb",  # photos are held to MAX_FILE_MB by _checked_path
        show_error=True,
        footer_links=["api", "gradio"],
        # The API as an MCP server (/gradio_api/mcp/): agents get colorize_photo, restore_photo, repair_photo
        # and colorize_video as tools, described by the handlers' docstrings.
        mcp_server=True,
    )
    options.update(launch_kwargs)
    return demo.launch(**options)


def main() -> None:
    # Our own events at INFO; libraries (httpx logs every request Gradio makes) only from WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    serve(build_demo(load_colorizer()))


if __name__ == "__main__":
    sys.exit(main())
