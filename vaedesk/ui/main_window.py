"""The explorer window: it assembles the panels around a `Session` and wires their
signals. What a click does lives in the session; what is shown lives in the panels."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vaedesk.core import data
from vaedesk.core.api import Model
from vaedesk.core.digits import EncodedTestSet
from vaedesk.core.session import Session
from vaedesk.ui import actions
from vaedesk.ui.data_banner import DataBanner
from vaedesk.ui.decoder_panel import NEIGHBOURS, NEIGHBOURS_DELAY_MS, DecoderPanel
from vaedesk.ui.drawing_panel import DrawingPanel, PictureDrops
from vaedesk.ui.latent_map import LatentMap
from vaedesk.ui.selection_panel import SelectionPanel
from vaedesk.ui.settings import Settings
from vaedesk.ui.trace import Trace
from vaedesk.ui.typicality_view import TypicalityReadout
from vaedesk.ui.widgets import number, numbers, scrolling
from vaedesk.ui.window_files import FileCommands

if TYPE_CHECKING:
    from vaedesk.ui.training import TrainingPanel

HELP = (
    "Hover over the map: the decoder draws the digit at that latent point, and the classifier "
    "says what it reads in it.",
    "Click: the nearest test image and its reconstruction. {view_previous_image} / {view_next_image} "
    "step through them.",
    "Shift-click two points: an animation morphs one into the other. {explore_clear} clears it.",
    "Draw on the pad, or drop a picture on it: your digit is encoded as you draw, its mean and its "
    "1 and 2 \u03c3 ellipses shown on the map.",
    "Click a digit in the legend to hide or show it. Drag to pan, wheel to zoom, {view_fit} to fit.",
)


def help_text() -> str:
    """One paragraph a line (the dialog wraps them; no sentence is broken by hand), with
    the keys from the action table, then every shortcut."""
    keys = {a.id.replace(".", "_"): actions.shortcut_text(a) for a in actions.ACTIONS if a.shortcut}
    return "\n\n".join(p.format(**keys) for p in HELP) + "\n\nKeys:\n" + actions.shortcuts()


class MainWindow(FileCommands, PictureDrops, QMainWindow):
    hover_decoded = Signal()  # the decoder view shows the latest hovered point

    def __init__(
        self, session: Session, settings: Settings | None = None, trace: Trace | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.trace = trace or Trace()
        self.settings = settings or Settings()
        self.drawing, self.banner, self.map = DrawingPanel(), DataBanner(), LatentMap()
        self.decoder, self.selection = DecoderPanel(), SelectionPanel()
        self._training: TrainingPanel | None = None  # built on first use
        self.map.field_decoder = lambda xy: self.session.model.decode(self.session.plane.lift(xy))
        self.map.region_reader = self._read_regions
        self.map.regions_failed.connect(
            lambda message: self.statusBar().showMessage(f"Classifier regions failed: {message}", 10000)
        )
        self._neighbours_of: np.ndarray | None = None
        self._neighbour_timer = QTimer(self, singleShot=True, interval=NEIGHBOURS_DELAY_MS)
        self._neighbour_timer.timeout.connect(self._show_neighbours)
        central = QWidget()
        self._row = QHBoxLayout(central)
        middle, right_column = QVBoxLayout(), QWidget()
        middle.addWidget(self.banner)
        middle.addWidget(self.map, 1)
        right = QVBoxLayout(right_column)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.decoder)
        right.addWidget(self.selection)
        right.addStretch(1)
        self._drawing_area, self._decoder_area = scrolling(self.drawing), scrolling(right_column)
        self.side_tabs = QTabWidget()  # the two columns as tabs, when the window is too small
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.hide()
        self._row.addWidget(self._drawing_area)
        self._row.addLayout(middle, 1)
        self._row.addWidget(self._decoder_area)
        self._row.addWidget(self.side_tabs)
        self._columns = True
        self.setCentralWidget(central)
        self.setAcceptDrops(True)
        self.model_label = QLabel()
        self.statusBar().addPermanentWidget(self.model_label)
        self.menu_actions = actions.build(self)
        self.typicality = TypicalityReadout(self.session, self, self.drawing.pad.side)
        self.drawing.layout().insertWidget(self.drawing.layout().count() - 1, self.typicality)
        self._wire()
        self._subscribe()
        self._load_test_set()
        self._show_everything()
        self.map.fit()
        self.trace.watch_window(self)

    def action(self, action_id: str) -> QAction:
        """The menu's QAction declared with this id in `vaedesk.ui.actions`."""
        return self.menu_actions[action_id]

    @property
    def hover_z(self) -> np.ndarray:
        """The cursor's position on the map, (2,)."""
        return self.session.cursor

    # -- assembly ----------------------------------------------------------------------------

    def _wire(self) -> None:
        """The panels' requests, to the session or the window's commands."""
        self.map.hovered.connect(self._on_hover)
        self.map.clicked.connect(self._on_click)
        self.map.digit_toggled.connect(lambda d, shown: self.session.set_digit_hidden(d, not shown))
        self.decoder.shown.connect(self.hover_decoded)
        self.decoder.go_requested.connect(self.go_to)
        self.selection.step_requested.connect(lambda k: self.session.step(k))
        self.selection.index_requested.connect(lambda i: self.session.select(i))
        self.drawing.ink_changed.connect(self._on_ink)
        self.drawing.open_requested.connect(self.open_image)
        self.drawing.picture_dropped.connect(self.load_picture)
        self.banner.downloaded.connect(self._use_data_dir)
        self.banner.choose_requested.connect(self.choose_data_folder)

    def _subscribe(self) -> None:
        """Each view follows the session's fields it shows; nothing is pushed by hand."""
        e = self.session.events
        e.model.connect(self._show_model_name)
        e.model_label.connect(self._show_model_name)
        e.model.connect(self._fit_new_model)
        e.plane.connect(self._show_points)  # a new test set always comes with a new plane
        e.test.connect(self._show_test_set)
        for event in (e.test, e.selected):
            event.connect(self._show_selection)
        e.hidden_digits.connect(self.map.show_hidden)
        e.hidden_digits.connect(self._show_neighbours)  # the strip shows only digits shown
        e.plane_through_selection.connect(lambda on: self.action("explore.plane").setChecked(on))
        e.cursor.connect(self._show_cursor)
        e.shown.connect(self._show_shown)
        e.morph.connect(self._play_morph)
        for event in (e.morph, e.morph_start, e.samples, e.plane):
            event.connect(self._show_overlays)
        for event in (e.drawing, e.plane):
            event.connect(self._show_drawing)
        e.all.connect(self._update_actions)  # every field: the actions' enabled rules

    def _show_everything(self) -> None:
        """What the session holds when the window opens."""
        self._show_model_name()
        self._show_points()
        self._show_test_set()
        self._show_selection()
        self._show_overlays()
        self._show_drawing()
        self._update_actions()

    @property
    def training_panel(self) -> TrainingPanel:
        if self._training is None:
            from vaedesk.ui.training import TrainingPanel  # on first use: not part of start-up

            p = self._training = TrainingPanel(self.session, self)
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, p)
            # a third of the window, not the panel's own size hint (its curves would take
            # what the map needs), and on a screen under 900 pixels only what its fields
            # need: the columns beside the map scroll when that leaves them too little room
            least = p.minimumSizeHint().height()
            height = max(least, self.height() // 3) if self.height() >= 900 else least
            self.resizeDocks([p], [height], Qt.Orientation.Vertical)
            p.visibilityChanged.connect(lambda _: QTimer.singleShot(0, self._arrange))
            p.model_offered.connect(self.set_model)
            p.model_saved.connect(self._remember_model)
            p.settle_unsaved = self._unsaved_model_settled  # Keep and Start ask as Quit does
            p.download_requested.connect(self.download_data)
            p.choose_data_requested.connect(self.choose_training_folder)
            self.trace.watch_training(p)
        return self._training

    def show_training(self) -> None:
        self.training_panel.show()
        self.training_panel.raise_()
        QTimer.singleShot(0, self._arrange)  # once the dock has its height

    # -- window size ------------------------------------------------------------------------

    def columns_fit(self) -> bool:
        """Whether the drawing pad and the decoder can each have a column beside the map and
        leave it most of the window: 45 % of its width and 40 % of its area. Otherwise they
        share one column, as tabs. Computed from the window's size (and the docked training
        panel's height), never from the map's, so that the choice cannot oscillate."""
        width, height = self.width(), self.height()
        dock = self._training.height() if self._training is not None and self._training.isVisible() else 0
        sides = self._drawing_area.width() + self._decoder_area.width() + 40  # margins and spacing
        map_width = width - sides
        map_height = height - self.menuBar().height() - self.statusBar().height() - dock - 90  # axes, legend
        return map_width >= 0.45 * width and map_width * map_height >= 0.4 * width * height

    def _arrange(self) -> None:
        """Two columns beside the map, or one column of tabs, as `columns_fit` says."""
        columns = self.columns_fit()
        if columns == self._columns:
            return
        self._columns = columns
        if columns:
            self.side_tabs.clear()  # hands the areas back to no parent
            self._row.insertWidget(0, self._drawing_area)
            self._row.insertWidget(2, self._decoder_area)
            self._drawing_area.show()
            self._decoder_area.show()
            self.side_tabs.hide()
        else:
            self.side_tabs.addTab(self._decoder_area, "Decoder")
            self.side_tabs.addTab(self._drawing_area, "Drawing pad")
            self.side_tabs.show()

    def show_drawing_pad(self) -> None:
        """Bring the pad into view (its tab, when the panels are tabs)."""
        if not self._columns:
            self.side_tabs.setCurrentWidget(self._drawing_area)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._arrange()

    def is_training(self) -> bool:
        return self._training is not None and self._training.is_running()

    # -- showing the session ---------------------------------------------------------------------

    def _show_model_name(self) -> None:
        model = self.session.model
        score = f"test \u2212ELBO {model.test_neg_elbo:.1f} nats" if model.test_neg_elbo else "not evaluated"
        name = self.session.model_label or model.name
        self.model_label.setText(f"model: {name} ({model.config.arch}, {score}) \u00b7 {model.runtime}")
        if model.runtime == "torch" and model.path is not None:  # a file from an older vaedesk
            self.model_label.setToolTip(
                "This file has no ONNX export, so it runs on torch; `vaedesk upgrade FILE` adds one."
            )
        else:
            self.model_label.setToolTip("")
        self.trace("model", label=name)
        self.setWindowTitle(f"vaedesk \u2014 {name} ({score})")

    def _fit_new_model(self) -> None:
        if not self.map.view_moved_by_user:  # the new map may lie elsewhere, or be smaller
            self.map.fit()

    def _load_test_set(self) -> None:
        if self.session.test is None:
            try:
                self.session.load_test_set()
            except data.DataError as e:
                self.banner.show_missing(str(e), self._download_target())

    def _show_points(self) -> None:
        """The test set on the map's plane, and the layers decoded over it."""
        test, plane = self.session.test, self.session.plane
        self.map.set_plane(plane.labels, self.session.model.prior if plane.is_whole_space else None)
        self.map.set_points(self.session.points, test.labels if test is not None else np.zeros(0, np.uint8))
        self.map.select(self.session.selected)
        self.map.update_field()
        self.map.update_regions()

    def _show_test_set(self) -> None:
        test = self.session.test
        self.selection.set_count(0 if test is None else len(test.labels))
        if test is not None:
            self.banner.setVisible(self.banner.is_downloading())

    def _show_selection(self) -> None:
        s = self.session.selection()
        self.trace("selected", index=None if s is None else s.index)
        self.selection.show_selection(s)
        self.map.select(s.index if s is not None else None)

    def _show_cursor(self) -> None:
        x, y = map(float, self.session.cursor)
        self.map.set_crosshair(x, y)
        where = "z" if self.session.plane.is_whole_space else "(PC 1, PC 2)"
        self.statusBar().showMessage(f"{where} = ({number(x, '+.3f')}, {number(y, '+.3f')})")

    def _show_shown(self) -> None:
        """The digit the decoder shows, with what the classifier reads in it, at once; its
        nearest test digits once the cursor rests (the search costs more than a decode)."""
        shown = self.session.shown
        if shown is None:
            return
        self.decoder.show_digit(shown.image, shown.caption, shown.reading)
        self._neighbours_of = shown.z
        if shown.z is not None:
            self._neighbour_timer.start()
        else:
            self._neighbour_timer.stop()
            self.decoder.show_neighbours(None)

    def _show_neighbours(self) -> None:
        if self._neighbours_of is not None:
            self.decoder.show_neighbours(self.session.neighbours(self._neighbours_of, NEIGHBOURS))

    def _play_morph(self) -> None:
        morph = self.session.morph
        if morph is None:
            self.decoder.stop()
            return
        self.statusBar().showMessage(f"Morph of {len(morph.frames)} frames", 4000)
        self.decoder.play(morph.frames, morph.readings)

    def _show_overlays(self) -> None:
        s = self.session
        if s.morph is not None:
            self.map.show_morph(s.on_map(s.morph.path))
        elif s.morph_start is not None:
            self.map.show_morph_start(s.on_map(s.morph_start))
        else:
            self.map.show_morph(np.zeros((0, 2)))
        self.map.show_samples(s.on_map(s.samples) if len(s.samples) else np.zeros((0, 2)))

    def _show_drawing(self) -> None:
        s, enc = self.session, self.session.drawing
        self.trace("drawing", mu=None if enc is None else enc.mu.tolist())
        self.drawing.show_encoding(enc)
        if enc is None:
            self.map.show_encoding(None, None, np.zeros((0, 2)))
        else:
            self.map.show_encoding(s.on_map(enc.mu), s.plane.spread(enc.sigma), s.on_map(enc.trail))

    def _update_actions(self) -> None:
        actions.update_enabled(self.menu_actions, self.session)

    # -- what the user does on the map and the panels ----------------------------------------------

    def move_plane(self, through_selection: bool) -> None:
        """Explore > Plane through the selected image (models of more than 2 dimensions)."""
        self.session.move_plane_through_selection(through_selection)

    def _on_hover(self, x: float, y: float) -> None:
        self.session.hover(x, y)
        self.trace("hover", z=[x, y])

    def go_to(self, text: str) -> None:
        """The "go to z" field: decode the typed point and put the crosshair there."""
        try:
            z = self.session.parse_point(text)
        except ValueError as e:
            self.statusBar().showMessage(f"Go to: {e}", 6000)
            return
        self.decoder.stop()
        self.session.go_to(z, f"decoded at z = {numbers(z)}")
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
            follow = self.action("explore.follow_prior").isChecked()
            if self.session.morph_click(x, y, follow) is None:
                self.statusBar().showMessage("Morph: shift-click a second point", 4000)
        elif self.session.test is None:
            self.statusBar().showMessage("No test set loaded: download MNIST or choose its folder", 5000)
        else:
            index = self.session.nearest(x, y)
            if index is not None:
                self.session.select(index)

    def _on_ink(self, ink: np.ndarray | None, stroke_done: bool) -> None:
        self.session.encode_drawing(ink, stroke_done)

    def set_model(
        self, model: Model, encoded: EncodedTestSet | None = None, label: str | None = None
    ) -> None:
        """Show another model: the session re-encodes what it holds, and every view follows."""
        self.session.set_model(model, encoded, label)

    # -- user actions (the file commands are in `window_files`) --------------------------------

    def sample_prior(self) -> None:
        self.decoder.stop()
        self.session.sample_prior()

    def clear_overlays(self) -> None:
        self.decoder.stop()
        self.session.clear_overlays()

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", actions.shortcuts())

    def show_help(self) -> None:
        QMessageBox.information(self, "vaedesk", help_text())

    def next_image(self) -> None:
        self.session.step(1)

    def previous_image(self) -> None:
        self.session.step(-1)

    # -- Qt events ---------------------------------------------------------------------------------

    def picture_dropped_here(self, path: str) -> None:  # a picture dropped on the window
        self.load_picture(path)

    def closeEvent(self, event) -> None:  # noqa: N802
        """Ask first about a trained model that is in no file (Save / Discard / Cancel, as
        before it is replaced); then stop background work: a training run ends within one
        batch, a download within one block; neither leaves a half-written file."""
        if not self._unsaved_model_settled("quitting"):
            event.ignore()
            return
        self.decoder.stop()
        self.map.stop_and_wait()
        if self._training is not None:
            self._training.stop_and_wait()
        self.banner.stop_and_wait()
        self.settings.save_window(self)
        super().closeEvent(event)
