"""Reading user images safely, and turning any PIL mode into tensors the colorizer understands.

Everything a user can hand us ends up here: files, bytes, PIL images of any mode, with EXIF
orientation, transparency, 16-bit depth, or hostile headers. Each failure becomes an `ImageError`
whose message names the file and the reason in one line.
"""

from __future__ import annotations

import functools
import io
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError
from torch import Tensor

from pix2pix_color.limits import IMAGE_SUFFIXES  # noqa: F401  (re-exported)

# 50 megapixels: a full-frame camera photo fits, a decompression bomb does not.
DEFAULT_MAX_PIXELS = 50_000_000
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
# zlib level for the PNGs we write. PIL's default (6) spends longer encoding a colorized photo than
# colorizing it (198 ms at 0.9 MP, 2.4 s at 10.7 MP); level 3 is 2.4-2.6x faster for files 9-13%
# larger (benchmarks/bench_colorize.py). Still lossless.
PNG_COMPRESS_LEVEL = 3
# PNG text chunks written from `image.info`: which program and model made the colors.
PNG_TEXT_KEYS = ("Software", "Description")


class ImageError(ValueError):
    """An input that is not a usable image; the message is meant for the user as is."""


@dataclass(frozen=True)
class DecodedImage:
    """An image as the colorizer needs it: shown orientation, 8-bit or 16-bit luminance source.

    Exactly one of `gray` (H,W; uint8, or float32 in [0,1] for deeper images) and `rgb` (3,H,W uint8)
    is set. `alpha` (H,W uint8) is kept to be put back on the output.
    """

    gray: Tensor | None
    rgb: Tensor | None
    alpha: Tensor | None


def source_name(source: object) -> str:
    """What to call an input in a message: a path's file name, a PIL image's filename, else "image"."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fspath(source)) or os.fspath(source)
    return getattr(source, "filename", None) or "image"


def open_image(source: str | os.PathLike | bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open a file path, raw bytes or PIL image; returns a fully loaded, upright PIL image.

    The size is checked from the header before any pixel is decoded, so a decompression bomb costs
    nothing. Animated images give their first frame.
    """
    name = source_name(source)
    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, bytes):
            if not source:
                raise ImageError(f"{name}: the file is empty")
            fp: object = io.BytesIO(source)
        else:
            path = Path(source)
            if not path.is_file():
                raise ImageError(f"{name}: no such file")
            if path.stat().st_size == 0:
                raise ImageError(f"{name}: the file is empty (0 bytes)")
            fp = path
        try:
            with warnings.catch_warnings():
                # PIL's own bomb check warns or raises at 89/179 MP; ours below is stricter and clearer.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(fp)  # type: ignore[arg-type]
        except Image.DecompressionBombError as e:
            raise ImageError(_too_large(name, e, max_pixels)) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageError(f"{name}: not an image file, or a format that cannot be read") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{name}: the image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f} MP"
        )
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as e:
        raise ImageError(_too_large(name, e, max_pixels)) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        truncated = isinstance(e, EOFError) or "truncat" in str(e).lower()
        reason = "the file is truncated or corrupt" if truncated else f"its pixels cannot be decoded ({e})"
        raise ImageError(f"{name}: {reason}") from None
    return image


def _too_large(name: str, error: Exception, max_pixels: int) -> str:
    # PIL refuses huge headers itself before we can look at the size; its message holds the count.
    match = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(match.group(1)) / 1e6:,.0f} megapixels" if match else "too many megapixels"
    return f"{name}: the image has {size}; the limit is {max_pixels / 1e6:.0f} MP"


def decode(image: Image.Image) -> DecodedImage:
    """Any PIL mode -> luminance source (gray or RGB) and optional alpha, without losing depth."""
    mode = image.mode
    alpha = None
    if mode in _ALPHA_MODES or "transparency" in image.info:
        # Premultiplied modes (La, RGBa), palette or single-color transparency: make alpha explicit.
        with_alpha = image.convert("LA" if mode in ("L", "LA", "La") else "RGBA")
        alpha = torch.from_numpy(np.asarray(with_alpha.getchannel("A"), dtype=np.uint8).copy())
        image = with_alpha.convert("L" if with_alpha.mode == "LA" else "RGB")
        mode = image.mode
    if mode == "1":
        image, mode = image.convert("L"), "L"
    if mode == "L":
        return DecodedImage(torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()), None, alpha)
    if mode.startswith("I") or mode == "F":
        # 16-bit (and 32-bit integer or float) grayscale: keep the depth as float in [0,1].
        values = np.asarray(image).astype(np.float32)
        if mode.startswith("I;16") or (values.size and 0 <= values.min() and values.max() <= 65535 and mode == "I"):
            values = values / 65535.0
        elif mode == "F" and values.size and values.max() > 1.0:
            # A float image's scale is not in the file; 0-1 is the convention, and 0-255 and 0-65535
            # the two others seen. A fixed scale per range, never the photo's own maximum (which
            # would make one photo's brightness depend on its content).
            values = values / (255.0 if values.max() <= 255.0 else 65535.0)
        return DecodedImage(torch.from_numpy(np.clip(values, 0.0, 1.0)), None, alpha)
    rgb = image.convert("RGB")  # CMYK, YCbCr, P without transparency, LAB, HSV...
    return DecodedImage(None, torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1), alpha)


def find_images(inputs: list[str | os.PathLike]) -> list[Path]:
    """Files given directly, plus image files found recursively in given folders, sorted."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(path)
    return found


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile: what our output pixels are, stated for color-managed viewers.

    LittleCMS stamps the header with the time it was made (bytes 24-35); a fixed date instead makes
    the profile the same bytes in every file and every run (web/srgb.icc is these bytes)."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = (2026).to_bytes(2, "big") + bytes([0, 1, 0, 1]) + bytes(6)  # 2026-01-01 00:00:00
    return bytes(profile)


def exif_of(image: Image.Image) -> bytes | None:
    """The EXIF of an opened photo (date, camera...; orientation already applied), or None."""
    exif = image.getexif()
    return exif.tobytes() if len(exif) else None


def save_png(
    image: Image.Image, target: str | os.PathLike | io.IOBase, compress_level: int = PNG_COMPRESS_LEVEL
) -> None:
    """Write `image` as a lossless PNG; a path is written under a temporary name, then renamed,
    so an interrupted run never leaves a truncated PNG under the final name.

    Provenance travels with the file, as archivists expect: the input's EXIF (in `image.info`,
    put there by `Colorizer`), the text chunks named in PNG_TEXT_KEYS (which program, which model)
    and an sRGB ICC profile, the space the colors were computed in. `compress_level`: zlib's 0-9
    (the app writes its downloads at 1: 12 MP in 0.61 s for 7.9 MB, against 0.87 s for 6.9 MB at 3).
    """
    options: dict = {"format": "PNG", "compress_level": compress_level}
    text = PngImagePlugin.PngInfo()
    for key in PNG_TEXT_KEYS:
        if image.info.get(key):
            text.add_itxt(key, str(image.info[key]))
    options["pnginfo"] = text
    if image.info.get("exif"):
        options["exif"] = image.info["exif"]
    if image.mode in ("RGB", "RGBA"):
        options["icc_profile"] = srgb_profile()
    deep = image.info.get("rgb16")
    if deep is not None:  # a 16-bit scan's colorization: its own 16-bit pixels, not the 8-bit view
        text = {key: str(image.info[key]) for key in PNG_TEXT_KEYS if image.info.get(key)}
        data = png16_bytes(deep, text=text, icc=srgb_profile(), exif=image.info.get("exif"), level=compress_level)
        if isinstance(target, (str, os.PathLike)):
            write_atomically(target, data)
        else:
            target.write(data)
        return
    if not isinstance(target, (str, os.PathLike)):
        image.save(target, **options)
        return
    path = Path(target)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        image.save(tmp, **options)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def png16_bytes(
    pixels: np.ndarray, *, text: dict[str, str], icc: bytes, exif: bytes | None = None, level: int = PNG_COMPRESS_LEVEL
) -> bytes:
    """(H,W,3) or (H,W,4) uint16 -> a 16-bit RGB(A) PNG with text chunks, an ICC profile and EXIF.

    Written by hand because Pillow writes 16-bit PNGs only for one gray channel, and OpenCV (an
    optional extra here) drops text, ICC and EXIF; the format is four chunk types (PNG 1.2, W3C
    2003: IHDR, iCCP, iTXt, eXIf, IDAT, IEND), each a length, a type, data and a CRC-32."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    height, width, channels = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 16, 6 if channels == 4 else 2, 0, 0, 0)
    rows = np.ascontiguousarray(pixels.reshape(height, width * channels), dtype=">u2").view(np.uint8)
    raw = np.zeros((height, 1 + rows.shape[1]), np.uint8)  # filter type 0 (none) before each row
    raw[:, 1:] = rows
    chunks = [chunk(b"IHDR", header), chunk(b"iCCP", b"sRGB\0\0" + zlib.compress(icc))]
    for key, value in text.items():
        chunks.append(chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8")))
    if exif:
        chunks.append(chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
    chunks.append(chunk(b"IDAT", zlib.compress(raw.tobytes(), level)))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + chunk(b"IEND", b"")


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` under a temporary name beside `path`, then rename: never a truncated file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
