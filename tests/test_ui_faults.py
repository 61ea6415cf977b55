"""Faults from issue 12 that a user meets in the window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.test_faults import BAD_FILES, crafted_weights
from tests.ui_helpers import dialogs, key, model, window


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_5_model_open_with_a_bad_file_leaves_the_window_whole(qtbot, window, dialogs, tmp_path, case):
    import torch

    kwargs = dict(BAD_FILES[case])
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(torch, kwargs["dtype"])
    before = (window.session.model, window.windowTitle(), window.model_label.text(), window.map.mu.copy())
    from vaedesk.core.api import Model

    dialogs.open_file = str(
        crafted_weights(tmp_path / "bad.safetensors", Model(window.session.model.vae), **kwargs)
    )
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "bad.safetensors" in dialogs.messages[-1] and "unchanged" in dialogs.messages[-1]
    after = (window.session.model, window.windowTitle(), window.model_label.text())
    assert after == before[:3] and (window.map.mu == before[3]).all()
