"""Any picture of one digit -> an MNIST-style 28 x 28 image, as MNIST itself was made.

LeCun et al. size-normalised each digit to fit a 20 x 20 box keeping its aspect ratio,
then centred it in 28 x 28 by its centre of mass. We do the same to pictures from disk
and to the drawing pad, so both are encoded exactly as `vaedesk encode` encodes them.
Ink is 1 and paper 0; pictures with dark ink on light paper are detected and inverted.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vaedesk.core.atomic import atomic_write, read_regular

if TYPE_CHECKING:  # Pillow is imported when a picture is read or written: not at start-up
    from PIL import Image

INK_THRESHOLD = 0.1  # of the picture's darkest-to-brightest range: fainter than this is paper


class PictureError(ValueError):
    """A picture that cannot be encoded; the message names it and says why."""


MAX_PIXELS = 64_000_000  # larger pictures are refused: no digit needs them
MAX_FILE_BYTES = 128 * 2**20  # and larger files: a phone's photo is a few MB
WORK_SIDE = 1024  # pictures are shrunk to fit this square on load


def load_picture(path: str | Path) -> np.ndarray:
    """Read a PNG / JPEG (any size, either polarity, turned as its EXIF orientation says)
    as float32 ink in [0, 1], paper = 0. Only a regular file of at most MAX_FILE_BYTES is
    read: a FIFO would hang, /dev/urandom never end."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise PictureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PictureError(f"{path}: is a folder, not a picture") from None
    except OSError as e:
        raise PictureError(f"{path}: not a picture vaedesk can read ({e.strerror or e})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise PictureError(
                        f"{path}: too large ({width} x {height} pixels;"
                        f" at most {MAX_PIXELS // 10**6} megapixels)"
                    )
                # Shrink while decoding (JPEG) or right after, before any float copy: a
                # 28 x 28 digit needs no more, and memory stays small whatever the file.
                img.draft("L", (WORK_SIDE, WORK_SIDE))
                img.thumbnail((WORK_SIDE, WORK_SIDE))
                # A phone stores its picture as the sensor saw it and says in EXIF how to
                # turn it: read unturned, a "1" taken sideways is a line across. (Turned
                # after shrinking: the same picture, at a thousandth of the work.)
                return ink_from_image(ImageOps.exif_transpose(img))
    except FileNotFoundError:
        raise PictureError(f"{path}: no such file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureError(f"{path}: too large (at most {MAX_PIXELS // 10**6} megapixels)") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise PictureError(f"{path}: not a readable picture ({e.__class__.__name__})") from None


def ink_from_image(img: Image.Image) -> np.ndarray:
    """A PIL image -> float32 ink in [0, 1] with paper = 0, whatever its polarity."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        # Transparent pixels are paper: lay the picture on paper of the opposite
        # brightness to its ink so that polarity detection below still works.
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
        gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255
        ink_is_dark = alpha.sum() == 0 or (gray * alpha).sum() < alpha.sum() / 2
        gray = gray * alpha + (1.0 if ink_is_dark else 0.0) * (1 - alpha)
    elif img.mode.startswith("I;16") or img.mode == "I":
        # 16-bit grey (scanners, image tools): Pillow's convert("L") clips at 255, which
        # turns every grey above 255 / 65,535 white. Scale the levels instead ("I" is how
        # Pillow may open the same file; 8-bit levels stay 8-bit).
        levels = np.asarray(img, dtype=np.float32)
        gray = levels / (65535 if img.mode != "I" or levels.max(initial=0) > 255 else 255)
        gray = np.clip(gray, 0, 1)
    else:
        gray = np.asarray(img.convert("L"), dtype=np.float32) / 255
    if gray.size == 0:
        raise PictureError("the picture has no pixels")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 1.0 - gray if np.median(border) > 0.5 else gray


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """Ink (H, W) in [0, 1], paper = 0 -> float32 (28, 28): cropped to the ink, longer side
    scaled to 20 px with the aspect kept, centred by centre of mass. Raises `PictureError`
    for a picture with no ink."""
    from PIL import Image

    ink = np.asarray(ink, dtype=np.float32)
    ink = ink - np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))
    span = float(ink.max()) if ink.size else 0.0
    if span < 0.05:
        raise PictureError("the picture is empty: no ink found")
    ink = np.clip(ink / span, 0.0, 1.0)
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = Image.fromarray(crop, mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    if digit.max() > 0:
        digit /= digit.max()
    # Centre of mass to (14, 14), the way MNIST was centred; keep the digit inside the frame.
    ys, xs = np.indices(digit.shape)
    mass = digit.sum()
    cy, cx = (ys * digit).sum() / mass, (xs * digit).sum() / mass
    top = int(np.clip(round(14 - cy), 0, 28 - new_h))
    left = int(np.clip(round(14 - cx), 0, 28 - new_w))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = digit
    return out


def picture_to_mnist(path: str | Path) -> np.ndarray:
    """A picture file -> MNIST-style (28, 28); every `PictureError` names the file."""
    ink = load_picture(path)
    try:
        return to_mnist(ink)
    except PictureError as e:
        raise PictureError(f"{path}: {e}") from None


def to_png_bytes(image: np.ndarray, size: int = 280) -> bytes:
    """A [0, 1] image (white ink on black, as MNIST) upscaled smoothly so that its longer
    side is `size` pixels."""
    from PIL import Image

    gray = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8), mode="L")
    scale = size / max(gray.size)
    target = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    if gray.size != target:
        gray = gray.resize(target, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    gray.save(buf, format="PNG")
    return buf.getvalue()


def save_png(image: np.ndarray, path: str | Path, size: int = 280) -> None:
    atomic_write(path, to_png_bytes(image, size))
