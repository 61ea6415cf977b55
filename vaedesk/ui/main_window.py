"""The explorer window: it assembles the panels around a `Session` and wires their
signals. What a click does lives in the session; what is shown lives in the panels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from vaedesk.core import data, paths, preprocess
from vaedesk.core.api import Model
from vaedesk.core.digits import EncodedTestSet
from vaedesk.core.session import DrawingEncoding, Selection, Session
from vaedesk.ui import files, menus
from vaedesk.ui.data_banner import DataBanner
from vaedesk.ui.decoder_panel import NEIGHBOURS, NEIGHBOURS_DELAY_MS, DecoderPanel
from vaedesk.ui.drawing_panel import DrawingPanel, PictureDrops
from vaedesk.ui.latent_map import LatentMap
from vaedesk.ui.selection_panel import SelectionPanel
from vaedesk.ui.settings import Settings
from vaedesk.ui.trace import Trace
from vaedesk.ui.training import TrainingPanel
from vaedesk.ui.widgets import numbers, scrolling

HELP = (
    "Hover over the map: the decoder draws the digit at that latent point.\n"
    "Click: the nearest test image and its reconstruction. \u2190 / \u2192 step through them.\n"
    "Shift-click two points: an animation morphs one into the other.\n"
    "Draw on the pad, or drop a picture on it: your digit is encoded (mean and 1, 2 \u03c3\n"
    "ellipses) as you draw.\n"
    "Click a digit in the legend to hide or show it. Drag to pan, wheel to zoom."
)


class MainWindow(PictureDrops, QMainWindow):
    hover_decoded = Signal()  # the decoder view shows the latest hovered point

    def __init__(
        self, session: Session, settings: Settings | None = None, trace: Trace | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.trace = trace or Trace()
        self.settings = settings or Settings()
        self.hover_z = np.zeros(2, np.float32)
        self.drawing, self.banner, self.map = DrawingPanel(), DataBanner(), LatentMap()
        self.decoder, self.selection = DecoderPanel(), SelectionPanel()
        self._training: TrainingPanel | None = None  # built on first use
        self.map.field_decoder = lambda xy: self.session.model.decode(self.session.plane.lift(xy))
        self.map.region_reader = self._read_regions
        self.map.regions_failed.connect(
            lambda message: self.statusBar().showMessage(f"Classifier regions failed: {message}", 10000)
        )
        self._neighbours_of = np.zeros(session.model.config.latent_dim, np.float32)
        self._neighbour_timer = QTimer(self, singleShot=True, interval=NEIGHBOURS_DELAY_MS)
        self._neighbour_timer.timeout.connect(self._show_neighbours)
        central = QWidget()
        row = QHBoxLayout(central)
        middle, right_column = QVBoxLayout(), QWidget()
        middle.addWidget(self.banner)
        middle.addWidget(self.map, 1)
        right = QVBoxLayout(right_column)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.decoder)
        right.addWidget(self.selection)
        right.addStretch(1)
        row.addWidget(scrolling(self.drawing))
        row.addLayout(middle, 1)
        row.addWidget(scrolling(right_column))
        self.setCentralWidget(central)
        self.setAcceptDrops(True)
        self.model_label = QLabel()
        self.statusBar().addPermanentWidget(self.model_label)
        self.menu_items = menus.build(self)
        self.field_action = self.menu_items["Decoded-digit field"]
        self.follow_prior_action = self.menu_items["Morph through the prior’s mass"]
        self.plane_action = self.menu_items["Plane through the selected image"]
        self.export_strip_action = self.menu_items["Export morph strip as PNG\u2026"]
        self.export_strip_action.setEnabled(False)
        self.recent_menu = self.menu_items["Recent models"]
        self._wire()
        self._load_test_set()
        self._show_model_name()
        self.map.fit()
        self.trace.watch_window(self)

    # -- assembly ----------------------------------------------------------------------------

    def _wire(self) -> None:
        self.map.hovered.connect(self._on_hover)
        self.map.clicked.connect(self._on_click)
        self.map.digit_toggled.connect(lambda d, shown: self.session.set_digit_hidden(d, not shown))
        self.decoder.shown.connect(self.hover_decoded)
        self.decoder.go_requested.connect(self.go_to)
        self.selection.step_requested.connect(lambda k: self._show_selection(self.session.step(k)))
        self.selection.index_requested.connect(lambda i: self._show_selection(self.session.select(i)))
        self.drawing.ink_changed.connect(self._on_ink)
        self.drawing.open_requested.connect(self.open_image)
        self.drawing.picture_dropped.connect(self.load_picture)
        self.banner.downloaded.connect(self._use_data_dir)
        self.banner.choose_requested.connect(self.choose_data_folder)

    @property
    def training_panel(self) -> TrainingPanel:
        if self._training is None:
            p = self._training = TrainingPanel(self.session, self)
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, p)
            # a third of the window, not the panel's own size hint (its curves would take
            # what the map needs): the columns beside the map scroll when that leaves them
            # too little room
            self.resizeDocks(
                [p], [max(p.minimumSizeHint().height(), self.height() // 3)], Qt.Orientation.Vertical
            )
            p.model_offered.connect(self.set_model)
            p.model_saved.connect(self._remember_model)
            p.download_requested.connect(self.download_data)
            p.choose_data_requested.connect(self.choose_data_folder)
            self.trace.watch_training(p)
        return self._training

    def show_training(self) -> None:
        self.training_panel.show()
        self.training_panel.raise_()

    def is_training(self) -> bool:
        return self._training is not None and self._training.is_running()

    # -- showing the session ---------------------------------------------------------------------

    def _show_model_name(self, label: str | None = None) -> None:
        model = self.session.model
        score = f"test \u2212ELBO {model.test_neg_elbo:.1f} nats" if model.test_neg_elbo else "not evaluated"
        name = label or model.name
        self.model_label.setText(f"model: {name} ({model.config.arch}, {score}) \u00b7 {model.runtime}")
        if model.runtime == "torch" and model.path is not None:  # a file from an older vaedesk
            self.model_label.setToolTip(
                "This file has no ONNX export, so it runs on torch; `vaedesk upgrade FILE` adds one."
            )
        else:
            self.model_label.setToolTip("")
        self.trace("model", label=name)
        self.setWindowTitle(f"vaedesk \u2014 {name} ({score})")

    def _load_test_set(self) -> None:
        if self.session.test is None:
            try:
                self.session.load_test_set()
            except data.DataError as e:
                self.banner.show_missing(str(e), self._download_target())
        self._show_test_set()

    def _show_test_set(self) -> None:
        test, plane = self.session.test, self.session.plane
        self.map.set_plane(plane.labels, self.session.model.prior if plane.is_whole_space else None)
        self.plane_action.setEnabled(not plane.is_whole_space)
        self.plane_action.setChecked(False)
        self.map.set_points(self.session.points, test.labels if test is not None else np.zeros(0, np.uint8))
        self.selection.set_count(0 if test is None else len(test.labels))
        self._show_selection(self.session.selection())
        if test is not None:
            self.banner.setVisible(self.banner.is_downloading())

    def _show_selection(self, s: Selection | None) -> None:
        self.trace("selected", index=None if s is None else s.index)
        self.selection.show_selection(s)
        self.map.select(s.index if s is not None else None)
        if self.plane_action.isChecked():
            self.move_plane(True)

    def move_plane(self, through_selection: bool) -> None:
        """Explore > Plane through the selected image (models of more than 2 dimensions)."""
        self.session.move_plane_through_selection(through_selection)
        self.map.update_field()
        self.map.update_regions()
        self._on_hover(*map(float, self.hover_z))

    def _on_hover(self, x: float, y: float) -> None:
        self.hover_z = np.array((x, y), np.float32)
        where = "z" if self.session.plane.is_whole_space else "(PC 1, PC 2)"
        self.statusBar().showMessage(f"{where} = ({x:+.3f}, {y:+.3f})")
        self._show_decoded(self.session.latent_at(x, y), f"decoded at {where} = ({x:+.2f}, {y:+.2f})")
        self.trace("hover", z=[x, y])

    def _show_decoded(self, z: np.ndarray, caption: str) -> None:
        """The digit at latent point z and what the classifier reads in it, at once; its
        nearest test digits once the cursor rests (the search costs more than a decode)."""
        image = self.session.decode(z)
        self.decoder.show_digit(image, caption, self.session.reading(image))
        self._neighbours_of = z
        self._neighbour_timer.start()

    def _show_neighbours(self) -> None:
        self.decoder.show_neighbours(self.session.neighbours(self._neighbours_of, NEIGHBOURS))

    def go_to(self, text: str) -> None:
        """The "go to z" field: decode the typed point and put the crosshair there."""
        try:
            z = self.session.parse_point(text)
        except ValueError as e:
            self.statusBar().showMessage(f"Go to: {e}", 6000)
            return
        x, y = map(float, self.session.on_map(z))
        self.hover_z = np.array((x, y), np.float32)
        self.map.set_crosshair(x, y)
        self.decoder.stop()
        self._show_decoded(z, f"decoded at z = {numbers(z)}")
        self.trace("go", z=z.tolist())

    def _read_regions(self) -> Callable[[np.ndarray], np.ndarray]:
        """The map's regions layer: map points (M, 2) -> class probabilities (M, 10) of the
        digits decoded there, run in a worker thread. Uniform where there is no classifier
        (the layer is then grey)."""
        classifier, model, plane = self.session.classifier, self.session.model, self.session.plane
        if classifier is None:
            self.statusBar().showMessage(
                "No digit classifier: weights/classifier.safetensors is missing", 6000
            )
            return lambda xy: np.full((len(xy), 10), 0.1, np.float32)
        return lambda xy: classifier.probabilities(model.decode(plane.lift(xy)))

    def _on_click(self, x: float, y: float, shift: bool) -> None:
        if shift:
            morph = self.session.morph_click(x, y, self.follow_prior_action.isChecked())
            if morph is None:
                self.map.show_morph_start(self.session.on_map(self.session.morph_start))
                self.statusBar().showMessage("Morph: shift-click a second point", 4000)
            else:
                self._play_morph()
        elif self.session.test is None:
            self.statusBar().showMessage("No test set loaded: download MNIST or choose its folder", 5000)
        else:
            index = self.session.nearest(x, y)
            self._show_selection(self.session.select(index) if index is not None else None)

    def _play_morph(self) -> None:
        morph = self.session.morph
        self.map.show_morph(self.session.on_map(morph.path))
        self.export_strip_action.setEnabled(True)
        self.statusBar().showMessage(f"Morph of {len(morph.frames)} frames", 4000)
        self.decoder.play(morph.frames)

    def _on_ink(self, ink: np.ndarray | None, stroke_done: bool) -> None:
        self._show_drawing(self.session.encode_drawing(ink, stroke_done))

    def _show_drawing(self, enc: DrawingEncoding | None) -> None:
        self.trace("drawing", mu=None if enc is None else enc.mu.tolist())
        self.drawing.show_encoding(enc)
        if enc is None:
            self.map.show_encoding(None, None, np.zeros((0, 2)))
        else:
            s = self.session
            self.map.show_encoding(s.on_map(enc.mu), s.plane.spread(enc.sigma), s.on_map(enc.trail))

    def set_model(
        self, model: Model, encoded: EncodedTestSet | None = None, label: str | None = None
    ) -> None:
        """Switch every view to another model (the session re-encodes what it holds)."""
        self.session.set_model(model, encoded)
        self._show_test_set()
        if not self.map.view_moved_by_user:  # the new map may lie elsewhere, or be smaller
            self.map.fit()
        self._show_model_name(label)
        self.map.update_field()
        self.map.update_regions()
        self.clear_overlays()
        self._on_hover(*map(float, self.hover_z))
        self._show_drawing(self.session.drawing)  # the session has re-encoded it

    # -- user actions ------------------------------------------------------------------------------

    def sample_prior(self) -> None:
        self.decoder.stop()
        image = self.session.sample_prior()
        self.map.show_samples(self.session.on_map(self.session.samples))
        self.decoder.show_digit(
            image, f"16 samples from the prior, {self.session.model.prior.describe()}; stars on the map"
        )

    def clear_overlays(self) -> None:
        self.decoder.stop()
        self.session.clear_overlays()
        self.map.show_morph(np.zeros((0, 2)))
        self.map.show_samples(np.zeros((0, 2)))

    def open_weights(self, path: str | None = None) -> bool:
        if self.is_training():
            files.warn(self, "A training run is in progress: cancel it before opening other weights.")
            return False
        path = path or files.ask_open(self, "Open weights", "Weights (*.safetensors)")
        model = files.load_model_or_warn(self, path) if path else None
        if model is None:
            return False
        self.set_model(model)
        self._remember_model(str(model.path))
        return True

    def fill_recent(self) -> None:
        self.recent_menu.clear()
        for name in self.settings.recent_models():
            self.recent_menu.addAction(name, lambda name=name: self.open_weights(name))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _remember_model(self, path: str) -> None:
        self.settings.last_model = path
        self.settings.add_recent(path)
        self._show_model_name()

    def save_model(self, path: str | None = None) -> bool:
        target = files.save_model_or_warn(self, self.session.model, path)
        if target is not None:
            self._remember_model(str(target))
            self.statusBar().showMessage(f"Saved {target}", 5000)
        return target is not None

    def _download_target(self) -> Path:
        return Path(self.session.data_dir) if self.session.data_dir else paths.default_mnist_dir()

    def choose_data_folder(self) -> None:
        folder = files.ask_folder(self, "Folder with the MNIST .gz files")
        if folder:
            self._use_data_dir(folder)

    def _use_data_dir(self, folder: str) -> None:
        try:
            self.session.set_data_dir(folder)
        except data.DataError as e:
            files.warn(self, f"{folder} cannot be used: {e}")
            return
        self.settings.data_dir = folder
        self._show_test_set()
        self.map.fit()

    def open_image(self) -> None:
        name = files.ask_open(self, "Open a picture of a digit", files.PICTURES)
        if name:
            self.load_picture(name)

    def load_picture(self, name: str) -> bool:
        """Put a picture on the pad; an unusable one is refused and the drawing stays."""
        try:
            preprocess.picture_to_mnist(name)  # refuse an empty picture before it replaces the drawing
            ink = preprocess.load_picture(name)
        except preprocess.PictureError as e:
            files.warn(self, str(e))
            return False
        self.session.clear_drawing()
        self.drawing.set_picture(ink)
        return True

    def copy_digit(self) -> None:
        if self.decoder.view.pixmap().isNull():
            self.statusBar().showMessage("Nothing decoded yet: hover over the map first", 4000)
        else:
            files.copy_image(self.decoder.view.pixmap().toImage())
            self.statusBar().showMessage("Copied the decoded digit", 3000)

    def export_digit(self, path: str | None = None) -> None:
        image = self.decoder.image
        if image is None:
            self.statusBar().showMessage("Nothing decoded yet: hover over the map first", 4000)
        elif path := path or files.ask_save(self, "Export decoded digit", "digit.png"):
            self._saved(path, files.write_or_warn(self, path, files.digit_png(image)))

    def export_map(self, path: str | None = None) -> None:
        if path := path or files.ask_save(self, "Export map", "latent-map.png"):
            self._saved(path, files.write_or_warn(self, path, files.widget_png(self.map)))

    def export_morph_strip(self, path: str | None = None) -> None:
        strip = self.session.morph_strip()
        if strip is not None and (path := path or files.ask_save(self, "Export morph strip", "morph.png")):
            self._saved(
                path, files.write_or_warn(self, path, preprocess.to_png_bytes(strip, 3 * strip.shape[1]))
            )

    def _saved(self, path: str, ok: bool) -> None:
        if ok:
            self.statusBar().showMessage(f"Saved {path}", 4000)

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", menus.shortcuts(self))

    def show_help(self) -> None:
        QMessageBox.information(self, "vaedesk", HELP)

    def next_image(self) -> None:
        self._show_selection(self.session.step(1))

    def previous_image(self) -> None:
        self._show_selection(self.session.step(-1))

    def download_data(self) -> None:
        self.banner.start_download(self._download_target())

    def reset_model(self) -> None:
        self.set_model(Model.load(None))

    def copy_map(self) -> None:
        files.copy_image(self.map.grab().toImage())

    # -- Qt events ---------------------------------------------------------------------------------

    def picture_dropped_here(self, path: str) -> None:  # a picture dropped on the window
        self.load_picture(path)

    def closeEvent(self, event) -> None:  # noqa: N802
        """Stop background work first: a training run ends within one batch, a download
        within one block; neither leaves a half-written file."""
        self.decoder.stop()
        self.map.stop_and_wait()
        if self._training is not None:
            self._training.stop_and_wait()
        self.banner.stop_and_wait()
        self.settings.save_window(self)
        super().closeEvent(event)
