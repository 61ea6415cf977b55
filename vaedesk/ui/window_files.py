"""The window's file commands: open and save weights, the recent list, pictures for the
pad, exports and copies, the MNIST folder, and the question before an unsaved trained
model is replaced. Mixed into `MainWindow`, whose methods they stay (the action table
calls them on the window)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMenu, QMessageBox

from vaedesk.core import data, paths, preprocess
from vaedesk.core.api import Model
from vaedesk.ui import files


class FileCommands:
    """File, export and data commands of `MainWindow` (a QMainWindow)."""

    def open_weights(self, path: str | None = None) -> bool:
        if self.is_training():
            files.warn(self, "A training run is in progress: cancel it before opening other weights.")
            return False
        if not self._unsaved_model_settled("opening other weights"):
            return False
        path = path or files.ask_open(self, "Open weights", "Weights (*.safetensors)")
        model = files.load_model_or_warn(self, path) if path else None
        if model is None:
            return False
        self.set_model(model)
        self._remember_model(str(model.path))
        return True

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        for name in self.settings.recent_models():
            menu.addAction(name, lambda name=name: self.open_weights(name))
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)

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

    def choose_training_folder(self) -> None:
        """Train found no training set and the user chose to pick its folder: the run
        starts once the folder chosen has it; any other folder gets one line, no run."""
        folder = files.ask_folder(self, "Folder with the MNIST .gz files")
        if not folder:
            return
        if not data.has_split(Path(folder), "train"):
            wrong = data.what_is_wrong(Path(folder), "train")
            files.warn(self, f"{folder} has no MNIST training set: {wrong}.")
        elif self._use_data_dir(folder):
            self.training_panel.start()

    def _use_data_dir(self, folder: str) -> bool:
        try:
            self.session.set_data_dir(folder)
        except data.DataError as e:
            files.warn(self, f"{folder} cannot be used: {e}")
            return False
        self.settings.data_dir = folder
        self.map.fit()
        return True

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
        self.show_drawing_pad()
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

    def download_data(self) -> None:
        self.banner.start_download(self._download_target())

    def reset_model(self) -> None:
        if self.is_training():
            files.warn(self, "A training run is in progress: cancel it before resetting the model.")
        elif self._unsaved_model_settled("resetting to the bundled model"):
            self.set_model(Model.load(None))

    def has_unsaved_model(self) -> bool:
        """The model shown came from a run in this window (kept, or not yet) and is in no
        file, or a run replaced such a model with its previews or its result."""
        return bool(self._unsaved_models())

    def _unsaved_models(self) -> list[Model]:
        """The trained models in no file that replacing the one shown (or quitting) loses,
        the one shown first: the one shown, kept or a run's result not kept yet; and, while
        a run shows its previews or its result, the kept model shown when it started (its
        Cancel or Discard brings that back)."""
        shown, training = self.session.model, self._training
        found = []
        result_shown = training is not None and training.result is not None and shown.path is None
        if self.session.unsaved or result_shown:
            found.append(shown)
        if training is not None and (training.is_running() or training.result is not None):
            before = training.model_before
            if before is not None and before.path is None and before is not shown:
                found.append(before)
        return found

    def _unsaved_model_settled(self, doing: str, lost: Callable[[Model], bool] = lambda model: True) -> bool:
        """Before the model is replaced: each unsaved trained model that `doing` loses (all
        of them, unless `lost` says which) is saved or discarded, as the user chooses
        (Save / Discard / Cancel, asked for each in turn). True: go on."""
        save, discard = "&Save\u2026", "&Discard"
        asked: list[Model] = []
        # looked for again after each answer: a run can end while a question waits, and
        # its result, shown then, is in no file either
        while left := [m for m in self._unsaved_models() if lost(m) and all(m is not a for a in asked)]:
            model = left[0]
            asked.append(model)
            answer = files.ask(
                self,
                f"The model trained in this window has not been saved. Save it before {doing}?"
                if model is self.session.model
                else "The model kept from an earlier run (shown before this run started) has not "
                f"been saved. Save it before {doing}?",
                {save: QMessageBox.ButtonRole.AcceptRole, discard: QMessageBox.ButtonRole.DestructiveRole},
                QMessageBox.Icon.Warning,
            )
            if answer is None:
                return False
            if answer == discard:
                continue
            if model is self.session.model:
                if not self.save_model():
                    return False
                continue
            target = files.save_model_or_warn(self, model)  # the model shown stays shown
            if target is None:
                return False
            self._remember_model(str(target))
            self.statusBar().showMessage(f"Saved {target}", 5000)
        return True

    def copy_map(self) -> None:
        files.copy_image(self.map.grab().toImage())
