"""Where the Train panel puts its options and its curves: side by side where the panel
is wide enough for both, else as two tabs, the buttons and the progress bar beside the
tabs and the result under them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QTabWidget, QVBoxLayout, QWidget


class OptionsAndCurves(QWidget):
    """The options (`options`) with the buttons and progress bar (`buttons`) and the
    result under them, beside the curves; or, in a panel narrower than the options and
    `CURVES_WIDTH`, the options and the curves as two tabs, the buttons in the tabs' row
    and the result under them. Beside the options at 800 x 600 the curves had 150 px,
    their tick labels ran into one another and their axis title was cut."""

    # the curves' least width beside the options: a 300-px plot between its two axes
    CURVES_WIDTH = 440

    def __init__(self, options: QWidget, buttons: QWidget, result: QWidget, curves: QWidget) -> None:
        super().__init__()
        self.options, self.buttons, self.result, self.curves = options, buttons, result, curves
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)  # no frame: the panel's edge is the pages' edge
        self.beside = QWidget()
        self.row = QHBoxLayout(self.beside)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.column = QVBoxLayout()  # the options over the buttons and the result
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(3)
        self.column.addStretch(1)  # under the result, where the curves are the taller
        self.row.addLayout(self.column)
        self.under = QVBoxLayout(self)  # the tabs (or the row), then the result
        self.under.setContentsMargins(0, 0, 0, 0)
        self.under.setSpacing(2)
        self.under.addWidget(self.tabs, 1)
        self.under.addWidget(self.beside, 1)
        self.side_by_side: bool | None = None
        self._arrange(False)

    def show_curves(self) -> None:
        """Bring the curves into view (a run has started)."""
        if not self.side_by_side:
            self.tabs.setCurrentWidget(self.curves)

    def fit(self, width: int) -> None:
        """Arrange the options and the curves for a panel `width` wide, and let the panel
        know its new least size at once: the window sizes the panel to it before it is
        first shown."""
        self._arrange(self._wide(width))

    def _wide(self, width: int) -> bool:
        return width - self.options.sizeHint().width() >= self.CURVES_WIDTH

    def resizeEvent(self, event) -> None:  # noqa: N802
        wide = self._wide(event.size().width())
        if wide != self.side_by_side:
            self._arrange(wide)
        super().resizeEvent(event)

    def _arrange(self, side_by_side: bool) -> None:
        """Move the options, the buttons, the result and the curves to the row, or to the
        tabs, their corner and under them."""
        showing_curves = self.tabs.currentWidget() is self.curves
        moved = (self.options, self.buttons, self.result, self.curves)
        for w in moved:
            for layout in (self.column, self.row, self.under):
                layout.removeWidget(w)
        while self.tabs.count():
            self.tabs.removeTab(0)
        if self.tabs.cornerWidget(Qt.Corner.TopRightCorner) is not None:
            self.tabs.setCornerWidget(None, Qt.Corner.TopRightCorner)
        if side_by_side:
            for i, w in enumerate(moved[:3]):
                self.column.insertWidget(i, w)
            self.row.addWidget(self.curves, 1)
        else:
            self.tabs.addTab(self.options, "Options")
            self.tabs.addTab(self.curves, "Curves")
            self.tabs.setCornerWidget(self.buttons, Qt.Corner.TopRightCorner)
            self.under.addWidget(self.result)
            if showing_curves:
                self.tabs.setCurrentWidget(self.curves)
        self.tabs.setVisible(not side_by_side)
        self.beside.setVisible(side_by_side)
        for w in (self.options, self.buttons, self.curves) if side_by_side else (self.buttons,):
            w.show()
        self.side_by_side = side_by_side
        # the nested layouts keep the sizes they had before (a panel not shown yet would be
        # sized for the other arrangement)
        for layout in (self.column, self.row, self.under):
            layout.invalidate()
        self.beside.updateGeometry()
        self.updateGeometry()
