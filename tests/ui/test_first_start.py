"""The window on a user's first start: the map from the shipped test set, a damaged copy
refused with the banner's two ways out, one remembered data folder, the icon."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

from tests.ui.helpers import click, close_without_asking, press
from vaedesk.cli import main
from vaedesk.core import paths
from vaedesk.core.session import Session
from vaedesk.ui.main_window import MainWindow


def open_window(qtbot, model) -> MainWindow:
    """The window as `vaedesk` opens it with no --data: the search finds the data."""
    w = MainWindow(Session(model, None))
    qtbot.addWidget(w, before_close_func=close_without_asking)
    w.resize(1400, 850)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_the_map_shows_the_shipped_test_set_with_no_data_folder(qtbot, model):
    w = open_window(qtbot, model)
    assert len(w.map.mu) == 10000 and w.map.has_points() and not w.banner.isVisible()


def test_a_damaged_shipped_test_set_is_refused_and_the_banner_offers_download_or_folder(
    qtbot,
    model,
    dialogs,
    damaged_package_data,
    request,
    capsys,
):
    w = open_window(qtbot, model)
    assert not w.map.has_points() and w.banner.isVisible()
    text = w.banner.message.text()
    assert "shipped with vaedesk is damaged" in text and damaged_package_data.name in text
    for button in (w.banner.download, w.banner.choose):
        assert button.isVisible() and button.isEnabled()
    assert "Download" in w.banner.download.text() and "folder" in w.banner.choose.text().lower()

    mnist_dir = request.getfixturevalue("mnist_dir")  # a folder of (synthetic) MNIST
    dialogs.folder = str(mnist_dir)
    click(qtbot, w.banner.choose)
    assert not w.banner.isVisible() and len(w.map.mu) == 300
    # The command line now uses the folder chosen in the window.
    assert main(["data", "check"]) == 0
    assert f"train: 1200 images in {mnist_dir}" in capsys.readouterr().out
    assert paths.stored_data_dir() == mnist_dir


def test_the_window_carries_the_vaedesk_icon(qtbot, model):
    from vaedesk.ui.app import set_icon

    app = QApplication.instance()
    set_icon(app)  # as run_app does before the window opens
    w = open_window(qtbot, model)
    sizes = w.windowIcon().availableSizes()
    for side in (16, 24, 32, 48, 64, 128, 256):
        assert QSize(side, side) in sizes
        image = w.windowIcon().pixmap(side, side).toImage()
        assert image.width() == side and image.pixelColor(side // 2, side // 8).alpha() == 255  # drawn
    assert app.desktopFileName() == "vaedesk"  # Wayland matches the entry, and its icon, by it


def test_help_about_shows_the_version_licence_and_the_mnist_credit(window, dialogs):
    from vaedesk import __version__

    press(window, "help.about")
    text = dialogs.messages[-1]
    assert f"vaedesk {__version__}" in text and "MIT" in text
    for credit in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0", "Kingma"):
        assert credit in text
