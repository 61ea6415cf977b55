"""Pictures -> MNIST-style 28 x 28: crop, 20 px longer side, centre of mass."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vaedesk.core import preprocess


def seven(size=(300, 200), dark_on_light=True) -> Image.Image:
    """A thick '7' drawn off-centre in a larger picture."""
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    img = Image.new("L", size, paper)
    d = ImageDraw.Draw(img)
    d.line([(40, 40), (140, 40), (80, 200)], fill=ink, width=14)
    return img


def test_output_is_normalised_like_mnist():
    out = preprocess.to_mnist(preprocess.ink_from_image(seven()))
    assert out.shape == (28, 28) and out.dtype == np.float32 and out.max() == pytest.approx(1)
    rows = np.flatnonzero((out > 0.05).any(1))
    cols = np.flatnonzero((out > 0.05).any(0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) in (20, 21)  # longer side ~20 px
    ys, xs = np.indices(out.shape)
    com = ((ys * out).sum() / out.sum(), (xs * out).sum() / out.sum())
    assert np.allclose(com, (14, 14), atol=1.0)


def test_polarity_is_detected(tmp_path):
    a, b = tmp_path / "dark.png", tmp_path / "light.jpg"
    seven(dark_on_light=True).save(a)
    seven(dark_on_light=False).convert("RGB").save(b, quality=95)
    out_a = preprocess.to_mnist(preprocess.load_picture(a))
    out_b = preprocess.to_mnist(preprocess.load_picture(b))
    assert np.abs(out_a - out_b).mean() < 0.03


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_a_16_bit_grey_picture_reads_as_its_8_bit_copy(tmp_path, dark_on_light):
    """Scanners and image tools write 16-bit grey PNGs (Pillow mode I;16): their levels
    run to 65,535, and clipped to 255 a dark 7 on white read as an empty page."""
    eight = seven(dark_on_light=dark_on_light).resize((150, 100), Image.Resampling.LANCZOS)
    levels = np.asarray(eight, np.uint16) * 257  # 0..255 -> 0..65,535, the same greys
    eight.save(tmp_path / "eight.png")
    Image.fromarray(levels).save(tmp_path / "sixteen.png")
    with Image.open(tmp_path / "sixteen.png") as check:
        assert check.mode.startswith("I")  # really stored with 16 bits
    expected = preprocess.to_mnist(preprocess.load_picture(tmp_path / "eight.png"))
    got = preprocess.to_mnist(preprocess.load_picture(tmp_path / "sixteen.png"))
    np.testing.assert_allclose(got, expected, atol=0.02)


def test_transparent_background_is_paper(tmp_path):
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse([30, 20, 70, 80], outline=(0, 0, 0, 255), width=8)
    img.save(tmp_path / "zero.png")
    out = preprocess.to_mnist(preprocess.load_picture(tmp_path / "zero.png"))
    assert out[14, 14] < 0.2 and out.max() == pytest.approx(1)  # a ring, hollow in the middle


def test_mnist_digits_survive_preprocessing(real_mnist_test):
    images = real_mnist_test[0][:50].astype(np.float32) / 255
    corr = [np.corrcoef(preprocess.to_mnist(im).ravel(), im.ravel())[0, 1] for im in images]
    assert np.median(corr) > 0.9


def test_empty_and_unreadable_pictures(tmp_path):
    with pytest.raises(preprocess.PictureError, match="empty"):
        preprocess.to_mnist(np.zeros((50, 50)))
    Image.new("L", (60, 60), 255).save(tmp_path / "blank.png")
    with pytest.raises(preprocess.PictureError, match="empty"):
        preprocess.to_mnist(preprocess.load_picture(tmp_path / "blank.png"))
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(preprocess.PictureError, match="junk.png: not a readable picture"):
        preprocess.load_picture(tmp_path / "junk.png")
    with pytest.raises(preprocess.PictureError, match="no such file"):
        preprocess.load_picture(tmp_path / "nope.png")


def test_png_export_is_upscaled(tmp_path):
    image = np.zeros((28, 28), np.float32)
    image[10:18, 12:16] = 1
    preprocess.save_png(image, tmp_path / "d.png", size=280)
    with Image.open(tmp_path / "d.png") as im:
        assert im.size == (280, 280) and im.mode == "L"
        assert np.asarray(im)[140, 140] == 255 and np.asarray(im)[5, 5] == 0


@pytest.mark.parametrize(
    ("orientation", "as_stored"),
    [
        (6, Image.Transpose.ROTATE_90),  # the phone held upright: the sensor's picture lies on its side
        (8, Image.Transpose.ROTATE_270),
        (3, Image.Transpose.ROTATE_180),
    ],
)
def test_a_photo_is_read_the_way_up_its_exif_orientation_says(tmp_path, orientation, as_stored):
    """A phone JPEG stores the sensor's picture and an EXIF orientation; read unturned, a
    "1" was a line across and read as a 2. It is read as the viewer shows it: exactly as
    the same digit saved upright without the tag."""
    upright = seven(size=(1200, 1600))
    upright.save(tmp_path / "upright.jpg", quality=95)
    stored = upright.transpose(as_stored)
    exif = stored.getexif()
    exif[0x0112] = orientation  # Orientation
    stored.save(tmp_path / "phone.jpg", quality=95, exif=exif.tobytes())
    expected = preprocess.picture_to_mnist(tmp_path / "upright.jpg")
    unturned = preprocess.to_mnist(preprocess.ink_from_image(stored))
    assert np.abs(unturned - expected).mean() > 0.05  # the tag matters for this picture
    np.testing.assert_allclose(preprocess.picture_to_mnist(tmp_path / "phone.jpg"), expected, atol=0.08)
