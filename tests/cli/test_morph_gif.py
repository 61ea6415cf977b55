"""`vaedesk morph`: an animated GIF whose frames are the digits decoded along the path."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vaedesk.cli import main
from vaedesk.core.api import Model


def gif_frames(path, scale: int = 5) -> tuple[np.ndarray, list[int]]:
    """The GIF's frames read back with Pillow (each 28 x 28 pixel is a scale x scale square)
    and each frame's duration in ms."""
    frames, durations = [], []
    with Image.open(path) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("L"))[scale // 2 :: scale, scale // 2 :: scale])
            durations.append(gif.info["duration"])
    return np.stack(frames), durations


def test_morph_writes_a_gif_of_the_digits_decoded_at_evenly_spaced_points(tmp_path, capsys):
    out = tmp_path / "morph.gif"
    assert (
        main(["morph", "-1.5", "0.5", "2", "-1", "-o", str(out), "--frames", "7", "--duration", "120"]) == 0
    )
    frames, durations = gif_frames(out)
    model = Model.load()
    t = np.linspace(0, 1, 7)[:, None]
    points = (1 - t) * np.float32([-1.5, 0.5]) + t * np.float32([2, -1])
    expected = np.round(model.decode(points.astype(np.float32)) * 255)
    assert frames.shape == (7, 28, 28)
    assert np.abs(frames.astype(int) - expected).max() <= 1
    assert durations == [120] * 7
    assert "7 frames" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [(["--frames", "1"], "frame count"), (["--duration", "0"], "duration"), (["--weights", "nope"], "nope")],
)
def test_morph_refuses_bad_options_in_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "m.gif"
    assert main(["morph", "0", "0", "1", "1", "-o", str(out), *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
