"""The Train panel's options: the fields the user sets, and what they mean for a run (the
model's configuration and the training options); and the panel's layout, with its
buttons, progress bar, status line and curves."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vaedesk.core.config import ARCHS, WINDOW_EVAL_K, VAEConfig
from vaedesk.ui.loss_curves import LossCurves
from vaedesk.ui.training_layout import OptionsAndCurves
from vaedesk.ui.widgets import StatusLine

if TYPE_CHECKING:
    from vaedesk.core.api import Model
    from vaedesk.core.train import TrainOptions


IDLE = "Set the options and press Start. Training uses one core; the window stays live."


class TrainingForm:
    """The option fields of `TrainingPanel`, mixed into it so that each field stays an
    attribute of the panel (`panel.epochs`, `panel.from_current`)."""

    def _build_body(self) -> QWidget:
        """The fields, with the buttons, the progress bar and the result under them,
        beside the curves; or, where the panel is too narrow for both, the fields and the
        curves as two tabs, the buttons beside the tabs (`OptionsAndCurves`); under all,
        across the panel, the line that says what the run does. Beside the curves it had
        124 px at 800 x 600, and its longest lines (a run cancelled while it found the
        neighbours) were cut."""
        body = QWidget()
        column = QVBoxLayout(body)
        options = QWidget()
        fields = self._build_fields()
        fields.setContentsMargins(0, 0, 0, 0)
        options.setLayout(fields)
        buttons = QWidget()
        self.progress = QProgressBar()
        buttons.setLayout(self._build_buttons())
        buttons.layout().setContentsMargins(0, 0, 0, 0)
        self.curves = LossCurves()
        self.curves.setMinimumHeight(130)
        self.arrangement = OptionsAndCurves(options, buttons, self.result_label, self.curves)
        column.addWidget(self.arrangement, 1)
        column.setSpacing(2)  # the status line is the row's last line, not a section of its own
        self.status = StatusLine(IDLE)
        column.addWidget(self.status)
        return body

    def _build_buttons(self) -> QHBoxLayout:
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        # Keep / Save / Discard share the row of Start and Cancel, the result under them:
        # beside the curves they widened the panel, and the window, to 1,000 px at 800.
        self.keep_button = QPushButton("Keep")
        self.save_button = QPushButton("Save\u2026")
        self.discard_button = QPushButton("Discard")
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        for b in (self.keep_button, self.save_button, self.discard_button):
            buttons.addWidget(b)
        # the bar in the buttons' row: over the curves it took a line of their height
        buttons.addWidget(self.progress, 1)
        return buttons

    def _build_fields(self) -> QFormLayout:
        """Create the option fields and lay them out in three columns, the checkbox for
        starting from the current weights under them."""
        self._build_model_fields()
        self._build_run_fields()
        self.from_current = QCheckBox("start from the current weights")
        self.from_current.toggled.connect(lambda _: self._enable_model_fields())
        self.prior.currentIndexChanged.connect(lambda _: self._enable_model_fields())
        # Three columns of fields, so that the panel stays short enough for a 1000-pixel screen.
        fields = [
            ("architecture", self.arch),
            ("prior", self.prior),
            ("components", self.components),
            ("epochs", self.epochs),
            ("batch size", self.batch_size),
            ("learning rate", self.lr),
            ("\u03b2 (KL weight)", self.beta),
            ("free bits (nats)", self.free_bits),
            ("seed", self.seed),
            ("training images", self.limit),
            ("IWAE samples", self.eval_k),
            ("neighbours (weight)", self.neighbours),
        ]
        form = QFormLayout()
        form.setVerticalSpacing(3)  # as tight as before the fields had a widget of their own
        columns = QHBoxLayout()
        for third in (fields[:4], fields[4:8], fields[8:]):
            column = QFormLayout()
            column.setVerticalSpacing(3)
            for label, w in third:
                column.addRow(label, w)
            columns.addLayout(column)
        form.addRow(columns)
        form.addRow(self.from_current)
        return form

    def _build_model_fields(self) -> None:
        """The model's own settings: architecture, prior and its components, β."""
        self.arch = QComboBox()
        self.arch.addItems(ARCHS)
        self.prior = QComboBox()
        for text, name in (("mixture of Gaussians", "mog"), ("standard normal", "normal")):
            self.prior.addItem(text, name)
        self.prior.setToolTip(
            "The latent prior. A learned mixture lets each digit take a region of its own and\n"
            "keeps short runs from collapsing onto the prior; the bundled model uses one."
        )
        self.components = QSpinBox(minimum=1, maximum=256, value=16)
        self.components.setToolTip(
            "Gaussians in the mixture prior. The bundled model has 64, trained for an hour;\n"
            "in a run of a few epochs 64 collapsed onto the prior where 16 did not (README)."
        )
        self.beta = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=100.0, singleStep=0.1, value=1.0)

    def _build_run_fields(self) -> None:
        """The run's settings: epochs, batches, learning rate, the extra terms, the data."""
        # 3 epochs at 2e-3 on all the images: a map whose digits mostly separate in about
        # 3.5 min of one core (README, "Retraining in the window", gives what it reaches).
        self.epochs = QSpinBox(minimum=1, maximum=500, value=3)
        self.batch_size = QSpinBox(minimum=8, maximum=4096, value=128)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, singleStep=1e-4, value=2e-3)
        self.free_bits = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=50.0, singleStep=0.5, value=2.0)
        self.free_bits.setToolTip(
            "No KL gradient while a batch's KL is below this many nats per image, so that a\n"
            "short run cannot collapse onto the prior (0: the plain ELBO). A trained 2-D model\n"
            "has 5 to 7 nats, above it; the curves and the card show the true ELBO."
        )
        # 30: the default run's 5-NN from 59 % to 79 % at a better -ELBO (README)
        self.neighbours = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=1000.0, singleStep=5.0, value=30.0)
        self.neighbours.setToolTip(
            "Weight of the neighbour-embedding term: each image's point is pulled towards one\n"
            "of its 15 nearest training images in pixel space and pushed from the others, so\n"
            "that digits that look alike land together on the map (no labels are used).\n"
            "0: the ELBO alone. Finding the neighbours takes about half a minute first."
        )
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.limit = QSpinBox(minimum=200, maximum=60000, value=60000, singleStep=1000)
        self.eval_k = QSpinBox(minimum=0, maximum=64, value=WINDOW_EVAL_K)
        self.eval_k.setToolTip(
            "Importance samples for the IWAE bound on the card (0: none). On one core the\n"
            "default conv model takes about 3 s per sample on the 10,000 test images."
        )

    def _enable_model_fields(self) -> None:
        """A run from the current weights keeps their architecture and prior; the number of
        components means something for a mixture only."""
        fresh = not self.from_current.isChecked()
        self.arch.setEnabled(fresh)
        self.prior.setEnabled(fresh)
        self.components.setEnabled(fresh and self.prior.currentData() == "mog")

    def options(self, n_images: int) -> TrainOptions:
        from vaedesk.core.train import TrainOptions

        return TrainOptions(
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            lr=self.lr.value(),
            # half an epoch, at most 200 batches, of rising learning rate: at 2e-3 without it
            # one seed in three lost its posterior in the first epoch (README)
            lr_warmup=min(200, math.ceil(n_images * 0.9 / self.batch_size.value() / 2)),
            free_bits=self.free_bits.value(),
            neighbours=self.neighbours.value(),
            seed=self.seed.value(),
            val_size=min(5000, max(1, n_images // 10)),
            log_every=max(1, math.ceil(n_images * 0.9 / self.batch_size.value() / 20)),
        )

    def model_config(self, model: Model) -> tuple[VAEConfig, dict | None, str | None]:
        """The run's model configuration, the weights it starts from (None: fresh ones) and
        how the card names them: the current model's, or the fields'."""
        if self.from_current.isChecked():
            config = VAEConfig(**{**model.config.to_dict(), "beta": self.beta.value()})
            init = str(model.path) if model.path is not None else "the current model"
            return config, model.state(), init
        config = VAEConfig(
            arch=self.arch.currentText(),
            beta=self.beta.value(),
            prior=self.prior.currentData(),
            components=self.components.value(),
        )
        return config, None, None
