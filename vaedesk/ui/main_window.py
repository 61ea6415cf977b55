"""The explorer window: latent map in the middle, drawing pad on the left, decoder and the
selected test image on the right."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QEvent, QIODevice, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vaedesk.core import data, paths, preprocess, weights
from vaedesk.core.api import Model, morph_path, tile
from vaedesk.core.atomic import atomic_write
from vaedesk.core.digits import DigitGuesser, EncodedTestSet, encode_test_set
from vaedesk.ui.latent_map import LatentMap
from vaedesk.ui.training import TrainingPanel
from vaedesk.ui.widgets import DigitView, DrawingPad
from vaedesk.ui.workers import Task, Worker

MORPH_STEPS = 48
HOVER_EVENT = QEvent.Type(QEvent.registerEventType())
STRIP_FRAMES = 12


class DataBanner(QWidget):
    """Shown over the map when the MNIST test set is missing: download it or choose a folder."""

    download_requested = Signal()
    choose_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("DataBanner { background: #fff4d6; border: 1px solid #e0c070; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        layout = QHBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.download = QPushButton("Download MNIST (11 MB)")
        self.choose = QPushButton("Choose folder\u2026")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setVisible(False)
        layout.addWidget(self.message, 1)
        for w in (self.progress, self.cancel, self.download, self.choose):
            layout.addWidget(w)
        self.download.clicked.connect(self.download_requested)
        self.choose.clicked.connect(self.choose_requested)
        self.cancel.clicked.connect(self.cancel_requested)

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        self.download.setEnabled(not busy)
        self.choose.setEnabled(not busy)


class MainWindow(QMainWindow):
    hover_decoded = Signal()  # after the decoder view shows the latest hovered point

    def __init__(
        self,
        model: Model,
        data_dir: str | None = None,
        test_data: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.data_dir = data_dir
        self.test: EncodedTestSet | None = None
        self.guesser: DigitGuesser | None = None
        self.selected: int | None = None
        self.morph_start: np.ndarray | None = None
        self.morph_frames: np.ndarray | None = None
        self.trail: list[np.ndarray] = []
        self.drawing_mu: np.ndarray | None = None
        self.tasks: list[Task] = []
        self.download_task: Task | None = None
        self._pending_hover: tuple[float, float] | None = None
        self.hover_z = np.zeros(2, np.float32)

        self._train_images: np.ndarray | None = None
        self._build()
        self._training_panel: TrainingPanel | None = None  # built when first needed
        self._build_menus()
        self.show_model_status()
        self.load_test_set(test_data)
        self.map.fit()

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.setWindowTitle("vaedesk")
        central = QWidget()
        row = QHBoxLayout(central)
        self.setCentralWidget(central)

        # Left: the drawing pad.
        left = QGroupBox("Drawing pad")
        lv = QVBoxLayout(left)
        self.pad = DrawingPad()
        lv.addWidget(self.pad)
        buttons = QHBoxLayout()
        self.clear_button = QPushButton("Clear")
        self.undo_button = QPushButton("Undo stroke")
        self.open_image_button = QPushButton("Open image\u2026")
        for b in (self.clear_button, self.undo_button, self.open_image_button):
            buttons.addWidget(b)
        lv.addLayout(buttons)
        grid = QGridLayout()
        self.pad_input, self.pad_recon = digit_pair(grid, "as the model sees it (28 \u00d7 28)", 112)
        lv.addLayout(grid)
        self.pad_info = QLabel("Draw a digit: it is encoded as you draw.")
        self.pad_info.setWordWrap(True)
        lv.addWidget(self.pad_info)
        lv.addStretch(1)
        row.addWidget(left)

        # Middle: the map, with the data banner above it when MNIST is missing.
        middle = QVBoxLayout()
        self.banner = DataBanner()
        self.banner.setVisible(False)
        self.map = LatentMap()
        self.map.field_decoder = lambda z: self.model.decode(z)
        middle.addWidget(self.banner)
        middle.addWidget(self.map, 1)
        row.addLayout(middle, 1)

        # Right: the decoder at the cursor and the selected test image.
        right = QVBoxLayout()
        dec_box = QGroupBox("Decoder at the cursor")
        dv = QVBoxLayout(dec_box)
        self.decoder_view = DigitView(280)
        self.decoder_caption = QLabel("Move the mouse over the map.")
        dv.addWidget(self.decoder_view)
        dv.addWidget(self.decoder_caption)
        right.addWidget(dec_box)
        sel_box = QGroupBox("Test image")
        sv = QGridLayout(sel_box)
        self.sel_image, self.sel_recon = digit_pair(sv, "original", 130)
        self.sel_info = QLabel("Click the map to pick the nearest test image.")
        sv.addWidget(self.sel_info, 2, 0, 1, 2)
        nav = QHBoxLayout()
        self.prev_button = QPushButton("\u25c0 Previous")
        self.next_button = QPushButton("Next \u25b6")
        self.index_box = QSpinBox()
        self.index_box.setRange(0, 0)
        self.index_box.setPrefix("index ")
        self.index_box.setKeyboardTracking(False)
        for w in (self.prev_button, self.index_box, self.next_button):
            nav.addWidget(w)
        sv.addLayout(nav, 3, 0, 1, 2)
        right.addWidget(sel_box)
        right.addStretch(1)
        row.addLayout(right)

        self.coords_label = QLabel()
        self.model_label = QLabel()
        self.statusBar().addWidget(self.coords_label, 1)
        self.statusBar().addPermanentWidget(self.model_label)

        self._draw_timer = QTimer(self, singleShot=True, interval=50)
        self._draw_timer.timeout.connect(self.encode_drawing)
        self._morph_timer = QTimer(self, interval=40)
        self._morph_timer.timeout.connect(self._morph_step)
        self._morph_i = 0

        self.map.hovered.connect(self.hover_at)
        self.map.clicked.connect(self._on_map_clicked)
        self.pad.changed.connect(self._on_pad_changed)
        self.clear_button.clicked.connect(self.clear_drawing)
        self.undo_button.clicked.connect(self.pad.undo)
        self.open_image_button.clicked.connect(self.open_image)
        self.prev_button.clicked.connect(lambda: self.step_selection(-1))
        self.next_button.clicked.connect(lambda: self.step_selection(1))
        self.index_box.valueChanged.connect(self._on_index_typed)
        self.banner.download_requested.connect(self.download_data)
        self.banner.choose_requested.connect(self.choose_data_folder)
        self.banner.cancel_requested.connect(self._cancel_download)

    def _action(self, menu, text: str, slot, shortcut=None, checkable=False, checked=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if checkable:
            action.setCheckable(True)
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "Open image of a digit\u2026", self.open_image, QKeySequence.StandardKey.Open)
        f.addSeparator()
        self._action(f, "Choose MNIST folder\u2026", self.choose_data_folder)
        self._action(f, "Download MNIST", self.download_data)
        f.addSeparator()
        self._action(f, "Export decoded digit as PNG\u2026", self.export_digit, "Ctrl+E")
        self._action(f, "Export map as PNG\u2026", self.export_map, "Ctrl+Shift+E")
        self.export_strip_action = self._action(f, "Export morph strip as PNG\u2026", self.export_morph_strip)
        self.export_strip_action.setEnabled(False)
        f.addSeparator()
        self._action(f, "Quit", self.close, QKeySequence.StandardKey.Quit)

        v = bar.addMenu("&View")
        self._action(v, "Fit map to the points", self.map.fit, "Ctrl+0")
        self.field_action = self._action(
            v, "Decoded-digit field", self.map.set_field_visible, "F", checkable=True
        )
        self.circles_action = self._action(
            v, "Prior 1, 2, 3 \u03c3 circles", self.map.set_circles_visible, "C", checkable=True
        )
        v.addSeparator()
        self._action(v, "Next test image", lambda: self.step_selection(1), Qt.Key.Key_Right)
        self._action(v, "Previous test image", lambda: self.step_selection(-1), Qt.Key.Key_Left)

        e = bar.addMenu("&Explore")
        self._action(e, "Sample 16 points from the prior", self.sample_prior, "S")
        self.great_circle_action = self._action(
            e, "Morph along the great circle", lambda _: None, checkable=True
        )
        self._action(e, "Clear morph and samples", self.clear_overlays, "Escape")
        mm = bar.addMenu("&Model")
        self._action(mm, "Train\u2026", self.show_training, "Ctrl+T")
        mm.addSeparator()
        self._action(mm, "Open weights\u2026", lambda: self.open_weights(), "Ctrl+Shift+O")
        self._action(mm, "Save current model\u2026", lambda: self.save_model(), QKeySequence.StandardKey.Save)
        self._action(mm, "Reset to the bundled model", self.reset_model)

        h = bar.addMenu("&Help")
        self._action(h, "How to use vaedesk", self.show_help, QKeySequence.StandardKey.HelpContents)

    def show_help(self) -> None:
        QMessageBox.information(
            self,
            "vaedesk",
            (
                "Hover over the map: the decoder draws the digit at that latent point.\n"
                "Click: the nearest test image and its reconstruction. \u2190 / \u2192 step through them.\n"
                "Shift-click two points: an animation morphs one into the other.\n"
                "Draw on the pad: your digit is encoded (mean and 1, 2 \u03c3 ellipses) as you draw.\n"
                "Click a digit in the legend to hide or show it. Drag to pan, wheel to zoom."
            ),
        )

    # -- model and data ------------------------------------------------------------------------

    def show_model_status(self, label: str | None = None) -> None:
        neg_elbo = self.model.test_neg_elbo
        score = f"test \u2212ELBO {neg_elbo:.1f} nats" if neg_elbo is not None else "not evaluated"
        name = label or self.model.name
        self.model_label.setText(f"model: {name} ({self.model.config.arch}, {score})")
        self.setWindowTitle(f"vaedesk \u2014 {name} ({score})")

    @property
    def training_panel(self) -> TrainingPanel:
        if self._training_panel is None:
            self._training_panel = TrainingPanel(self)
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self._training_panel)
            self._training_panel.hide()
        return self._training_panel

    def is_training(self) -> bool:
        return self._training_panel is not None and self._training_panel.is_running()

    def load_test_set(self, loaded: tuple[np.ndarray, np.ndarray] | None = None) -> bool:
        """Find, verify and encode the MNIST test set (unless `loaded` already, at start-up);
        show the banner if it is missing."""
        try:
            images, labels = loaded if loaded is not None else data.load("test", self.data_dir)
        except data.DataError as e:
            self.test = None
            self.guesser = None
            self.banner.message.setText(
                f"<b>The map needs the MNIST test set.</b> {e.args[0].split(';')[0]}. "
                "Hovering and drawing work without it."
            )
            self.banner.setVisible(True)
            self.index_box.setRange(0, 0)
            return False
        self.banner.setVisible(False)
        self.set_test_set(encode_test_set(self.model, images, labels))
        return True

    def set_test_set(self, encoded: EncodedTestSet) -> None:
        self.test = encoded
        self.guesser = DigitGuesser(encoded)
        self.map.set_points(encoded.mu, encoded.labels)
        self.index_box.setRange(0, len(encoded.labels) - 1)
        if self.selected is not None:
            self.select_index(self.selected)

    def set_model(
        self, model: Model, encoded: EncodedTestSet | None = None, label: str | None = None
    ) -> None:
        """Switch the decoder, the map and every view to another model."""
        self.model = model
        self.show_model_status(label)
        if encoded is not None:
            self.set_test_set(encoded)
        elif self.test is not None:
            self.set_test_set(encode_test_set(model, self.test.images, self.test.labels))
        self.map.update_field()
        self._pending_hover = (float(self.hover_z[0]), float(self.hover_z[1]))
        self._decode_hover()
        if not self.pad.is_empty():
            self.trail.clear()
            self.encode_drawing()

    def warn(self, message: str) -> None:
        QMessageBox.warning(self, "vaedesk", message)

    def open_weights(self, path: str | None = None) -> bool:
        """Load weights from a file; a bad file leaves the current model in place."""
        if self.is_training():
            self.warn("A training run is in progress: cancel it before opening other weights.")
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open weights", "", "Weights (*.safetensors)")
            if not path:
                return False
        try:
            model = Model.load(path)
        except weights.WeightsError as e:
            self.warn(f"{e}\n\nThe current model is unchanged.")
            return False
        self.set_model(model)
        return True

    def save_model(self, path: str | None = None) -> bool:
        """Save the current model and its card, atomically; never over the bundled weights."""
        if path is None:
            default = str(paths.user_data_dir() / "models" / "vaedesk-trained.safetensors")
            path, _ = QFileDialog.getSaveFileName(self, "Save model", default, "Weights (*.safetensors)")
            if not path:
                return False
        target = Path(path)
        if target.suffix != ".safetensors":
            target = target.with_name(target.name + ".safetensors")
        if target.resolve() == paths.bundled_weights().resolve():
            self.warn("The bundled model cannot be overwritten; choose another file.")
            return False
        try:
            weights.save(target, self.model.vae, self.model.card)
        except OSError as e:
            self.warn(f"Could not save {target}: {e.strerror or e}")
            return False
        self.model.path = target
        self.show_model_status()
        self.statusBar().showMessage(f"Saved {target}", 5000)
        return True

    def reset_model(self) -> None:
        if self.is_training():
            self.warn("A training run is in progress: cancel it first.")
            return
        self.set_model(Model.load(None))

    def show_training(self) -> None:
        self.training_panel.show()
        self.training_panel.raise_()

    def training_images(self) -> np.ndarray | None:
        """The MNIST training images, or None after offering to download or locate them."""
        if self._train_images is None:
            try:
                self._train_images, _ = data.load("train", self.data_dir)
            except data.DataError as e:
                box = QMessageBox(
                    QMessageBox.Icon.Question,
                    "vaedesk",
                    f"Training needs the MNIST training set.\n\n{e}",
                    parent=self,
                )
                download = box.addButton("Download (11 MB)", QMessageBox.ButtonRole.AcceptRole)
                choose = box.addButton("Choose folder\u2026", QMessageBox.ButtonRole.ActionRole)
                box.addButton(QMessageBox.StandardButton.Cancel)
                box.exec()
                if box.clickedButton() is download:
                    self.download_data()
                    self.statusBar().showMessage("Start training again when the download has finished", 8000)
                elif box.clickedButton() is choose:
                    self.choose_data_folder()
                    return self.training_images() if data.find_data_dir("train", self.data_dir) else None
                return None
        return self._train_images

    def training_self_test(self, batches: int) -> tuple[bool, dict]:
        """For --self-test: a short run in the background thread, waited on with signals."""
        from PySide6.QtCore import QEventLoop

        try:
            images, _ = data.load("train", self.data_dir)
        except data.DataError:
            return True, {"skipped": "no MNIST training set"}
        panel = self.training_panel
        panel.epochs.setValue(1)
        panel.batch_size.setValue(64)
        panel.limit.setValue(int(64 * batches / 0.9) + 1)
        before = self.map.mu.copy()
        outcome: list[str] = []
        loop = QEventLoop()
        panel.run_finished.connect(lambda reason: (outcome.append(reason), loop.quit()))
        QTimer.singleShot(300_000, loop.quit)
        t = time.perf_counter()
        panel.start(images)
        loop.exec()
        seconds = time.perf_counter() - t
        moved = len(before) == 0 or not np.allclose(before, self.map.mu)
        samples = panel.samples_per_second()
        panel.discard()
        reason = outcome[0] if outcome else "timed out"
        return reason == "completed" and moved and not panel.is_running(), {
            "stop_reason": reason,
            "map_moved": bool(moved),
            "seconds": round(seconds, 2),
            "samples_per_s": round(samples, 1),
        }

    def choose_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the MNIST .gz files")
        if folder:
            self.data_dir = folder
            if not self.load_test_set():
                QMessageBox.warning(self, "vaedesk", self.banner.message.text())
            else:
                self.map.fit()

    def download_data(self) -> None:
        if self.download_task is not None and self.download_task.is_running():
            return
        target = Path(self.data_dir) if self.data_dir else paths.default_mnist_dir()

        def job(emit, should_stop):
            return data.download(
                target,
                mirrors=data.MIRRORS,
                should_stop=should_stop,
                progress=lambda name, done, total: emit((name, done, total)),
            )

        worker = Worker(job, expected_errors=(data.DataError,))
        worker.progress.connect(self._on_download_progress)
        worker.succeeded.connect(lambda folder: self._on_download_done(str(folder)))
        worker.failed.connect(self._on_download_failed)
        self.banner.setVisible(True)
        self.banner.set_busy(True)
        self.banner.message.setText("Downloading MNIST\u2026")
        self.download_task = self._start(worker)

    def _on_download_progress(self, info) -> None:
        name, done, total = info
        self.banner.progress.setMaximum(total or 0)
        self.banner.progress.setValue(done if total else 0)
        self.banner.message.setText(f"Downloading {name}\u2026")

    def _on_download_done(self, folder: str) -> None:
        self.banner.set_busy(False)
        self.data_dir = folder
        if self.load_test_set():
            self.map.fit()

    def _on_download_failed(self, kind: str, message: str) -> None:
        self.banner.set_busy(False)
        self.banner.message.setText(f"<b>Download failed.</b> {message}")

    def _cancel_download(self) -> None:
        if self.download_task is not None:
            self.download_task.worker.request_stop()

    def _start(self, worker: Worker) -> Task:
        task = Task(worker, self)
        self.tasks.append(task)
        task.thread.finished.connect(lambda: self.tasks.remove(task) if task in self.tasks else None)
        task.start()
        return task

    # -- hover -----------------------------------------------------------------------------

    def hover_at(self, x: float, y: float) -> None:
        """What a mouse move over the map does. Bursts are coalesced: the position is only
        recorded here, and one posted event decodes whatever is latest when its turn comes.
        A posted event, not a zero timer: it runs in order with the repaint that the move
        causes, ahead of it, so the decoded digit and the crosshair appear together."""
        if self._pending_hover is None:
            QCoreApplication.postEvent(self, QEvent(HOVER_EVENT))
        self._pending_hover = (x, y)

    def customEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == HOVER_EVENT:
            self._decode_hover()

    def _decode_hover(self) -> None:
        if self._pending_hover is None:
            return
        x, y = self._pending_hover
        self._pending_hover = None
        self.hover_z = np.array((x, y), np.float32)
        self.map.set_crosshair(x, y)
        self.coords_label.setText(f"z = ({x:+.3f}, {y:+.3f})")
        if self._morph_timer.isActive():
            return  # the morph animation owns the decoder view while it runs
        self.decoder_view.set_image(self.model.decode(self.hover_z)[0])
        self.decoder_caption.setText(f"decoded at z = ({x:+.2f}, {y:+.2f})")
        self.hover_decoded.emit()

    # -- click, selection ---------------------------------------------------------------------

    def _on_map_clicked(self, x: float, y: float, shift: bool) -> None:
        if shift:
            self.morph_click(np.array([x, y], np.float32))
            return
        index = self.map.nearest_point(x, y)
        if index is not None:
            self.select_index(index)

    def select_index(self, index: int) -> None:
        if self.test is None:
            return
        index = int(np.clip(index, 0, len(self.test.labels) - 1))
        self.selected = index
        self.map.select(index)
        image = self.test.images[index].astype(np.float32) / 255
        self.sel_image.set_image(image)
        self.sel_recon.set_image(self.model.decode(self.test.mu[index])[0])
        mu = self.test.mu[index]
        self.sel_info.setText(
            f"test image {index}: digit {self.test.labels[index]}, z = ({mu[0]:+.2f}, {mu[1]:+.2f})"
        )
        self.index_box.blockSignals(True)
        self.index_box.setValue(index)
        self.index_box.blockSignals(False)

    def step_selection(self, step: int) -> None:
        if self.test is not None:
            self.select_index(
                ((self.selected if self.selected is not None else -step) + step) % len(self.test.labels)
            )

    def _on_index_typed(self, index: int) -> None:
        self.select_index(index)

    # -- morph and samples --------------------------------------------------------------------

    def morph_click(self, z: np.ndarray) -> None:
        if self.morph_start is None:
            self.morph_start = z
            self.map.show_morph_start(z)
            self.statusBar().showMessage("Morph: shift-click a second point", 4000)
        else:
            self.start_morph(self.morph_start, z)
            self.morph_start = None

    def start_morph(self, a: np.ndarray, b: np.ndarray) -> None:
        path = morph_path(a, b, MORPH_STEPS, great_circle=self.great_circle_action.isChecked())
        self.morph_frames = self.model.decode(path)
        self.map.show_morph(path)
        self.export_strip_action.setEnabled(True)
        self._morph_i = 0
        self._morph_timer.start()

    def _morph_step(self) -> None:
        frames = self.morph_frames
        if frames is None or self._morph_i >= len(frames):
            self._morph_timer.stop()
            return
        self.decoder_view.set_image(frames[self._morph_i])
        self.decoder_caption.setText(f"morph frame {self._morph_i + 1} of {len(frames)}")
        self._morph_i += 1

    def morph_strip(self) -> np.ndarray | None:
        if self.morph_frames is None:
            return None
        picks = np.linspace(0, len(self.morph_frames) - 1, STRIP_FRAMES).round().astype(int)
        return tile(self.morph_frames[picks], STRIP_FRAMES)

    def sample_prior(self) -> None:
        z = np.random.default_rng().standard_normal((16, 2)).astype(np.float32)
        self.map.show_samples(z)
        self.decoder_view.set_image(tile(self.model.decode(z), 4))
        self.decoder_caption.setText("16 samples from the prior N(0, I) (stars on the map)")

    def clear_overlays(self) -> None:
        self._morph_timer.stop()
        self.morph_start = None
        self.map.show_morph(np.zeros((0, 2)))
        self.map.show_samples(np.zeros((0, 2)))

    # -- drawing ---------------------------------------------------------------------------------

    def _on_pad_changed(self) -> None:
        if not self._draw_timer.isActive():
            self._draw_timer.start()

    def clear_drawing(self) -> None:
        self.pad.clear()
        self.trail.clear()
        self.encode_drawing()

    def encode_drawing(self) -> None:
        """Encode the pad as `vaedesk encode` encodes a picture; show mean, sigma and trail."""
        self._draw_timer.stop()
        if self.pad.is_empty():
            self.drawing_mu = None
            self.map.show_encoding(None, None, np.zeros((0, 2)))
            self.pad_input.clear_image()
            self.pad_recon.clear_image()
            self.pad_info.setText("Draw a digit: it is encoded as you draw.")
            return
        try:
            mnist_like = preprocess.to_mnist(self.pad.ink())
        except preprocess.PictureError:
            return  # a stroke too faint to count as ink yet
        mu, logvar = self.model.encode(mnist_like)
        mu, sigma = mu[0], np.exp(0.5 * logvar[0])
        self.drawing_mu = mu
        self.trail.append(mu)
        self.map.show_encoding(mu, sigma, np.array(self.trail))
        self.pad_input.set_image(mnist_like)
        self.pad_recon.set_image(self.model.decode(mu)[0])
        guess = f", looks like a {self.guesser.guess(mu)[0]}" if self.guesser is not None else ""
        self.pad_info.setText(
            f"mean ({mu[0]:+.2f}, {mu[1]:+.2f}), \u03c3 ({sigma[0]:.3f}, {sigma[1]:.3f}){guess}"
        )

    def open_image(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Open a picture of a digit", "", "Pictures (*.png *.jpg *.jpeg *.bmp *.gif)"
        )
        if name:
            self.load_picture(name)

    def load_picture(self, name: str) -> bool:
        try:
            preprocess.picture_to_mnist(name)  # refuse an empty picture before it replaces the drawing
            ink = preprocess.load_picture(name)
        except preprocess.PictureError as e:
            self.warn(str(e))
            return False
        self.trail.clear()
        self.pad.set_picture(ink)
        self.encode_drawing()
        return True

    # -- export ----------------------------------------------------------------------------------

    def _save_name(self, title: str, default: str) -> str:
        name, _ = QFileDialog.getSaveFileName(self, title, default, "PNG images (*.png)")
        return name

    def export_digit(self, path: str | None = None) -> None:
        image = self.decoder_view.image
        if image is None:
            self.statusBar().showMessage("Nothing decoded yet: hover over the map first", 4000)
            return
        path = path or self._save_name("Export decoded digit", "digit.png")
        if path:
            self._write(lambda: preprocess.save_png(image, path, size=10 * max(image.shape)), path)

    def export_map(self, path: str | None = None) -> None:
        path = path or self._save_name("Export map", "latent-map.png")
        if path:
            self._write(lambda: atomic_write(path, widget_png(self.map)), path)

    def export_morph_strip(self, path: str | None = None) -> None:
        strip = self.morph_strip()
        if strip is None:
            return
        path = path or self._save_name("Export morph strip", "morph.png")
        if path:
            self._write(lambda: preprocess.save_png(strip, path, size=3 * strip.shape[1]), path)

    def _write(self, write, path: str) -> None:
        try:
            write()
        except OSError as e:
            QMessageBox.warning(self, "vaedesk", f"Could not write {path}: {e.strerror or e}")
        else:
            self.statusBar().showMessage(f"Saved {path}", 4000)

    # -- closing ----------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802
        """Stop background work first: a training run ends within one batch, a download
        within one block; neither leaves a half-written file."""
        self._morph_timer.stop()
        for task in list(self.tasks):
            task.stop_and_wait()
        super().closeEvent(event)


def digit_pair(grid: QGridLayout, caption: str, side: int) -> tuple[DigitView, DigitView]:
    """An image and its reconstruction side by side, captioned, in rows 0-1 of `grid`."""
    image, recon = DigitView(side), DigitView(side)
    grid.addWidget(QLabel(caption), 0, 0)
    grid.addWidget(QLabel("reconstruction"), 0, 1)
    grid.addWidget(image, 1, 0)
    grid.addWidget(recon, 1, 1)
    return image, recon


def widget_png(widget: QWidget) -> bytes:
    buf = QByteArray()
    device = QBuffer(buf)
    device.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(device, "PNG")
    device.close()
    return bytes(buf.data())
