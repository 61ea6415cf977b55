"""Any window size, any screen (issue 34, item 8): the real window is resized and what a
user sees is measured. At every size from 800 x 600 up, and at 1366 x 768 with the
training panel docked, the map keeps most of the window, the legend covers none of the
map and is whole, the plot is whole inside the map, and every panel beside the map is
reachable (a column that scrolls, or a tab)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QScrollArea

from tests.ui.helpers import click, key, open_small_run

SIZES = [(800, 600), (1024, 700), (1280, 800), (1366, 768), (1560, 300), (1600, 1000), (1920, 1080)]


def rect_in(widget, ancestor) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def assert_map_keeps_most_of_the_window(window) -> None:
    m = window.map
    share = m.width() * m.height() / (window.width() * window.height())
    print(f"{window.width()}x{window.height()}: the map has {share:.1%} of the window")
    assert share >= 0.45, f"the map has {share:.0%} of {window.width()} x {window.height()}"
    for side in (window.side_tabs, window._drawing_area, window._decoder_area):
        if side.isVisible():
            assert m.width() > side.width()  # wider than anything beside it
    # the plot (axes, view and legend) is whole inside the map widget
    plot = m.mapFromScene(m.getPlotItem().sceneBoundingRect()).boundingRect()
    assert m.viewport().rect().adjusted(-1, -1, 1, 1).contains(plot)
    # the legend is whole, above the view: it covers none of the points
    legend = m.mapFromScene(m.legend.sceneBoundingRect()).boundingRect()
    assert m.viewport().rect().contains(legend)
    assert m.legend.sceneBoundingRect().bottom() <= m.view.sceneBoundingRect().top() + 0.5
    for _sample, label in m.legend.items:
        entry = m.mapFromScene(label.sceneBoundingRect()).boundingRect()
        assert legend.adjusted(-1, -1, 1, 1).contains(entry)


def assert_panels_reachable(window) -> None:
    """The pad and the decoder are each shown, or one click away on a tab, inside an
    area that scrolls when they are taller than the window leaves them."""
    for area, panel in ((window._drawing_area, window.drawing), (window._decoder_area, window.decoder)):
        assert isinstance(area, QScrollArea) and area.widget().isAncestorOf(panel)
        if window.side_tabs.isVisible():
            assert window.side_tabs.indexOf(area) >= 0
        else:
            assert area.isVisible()
    # the decoder's caption is never cut: it wraps within the panel and has the height of
    # its lines (the prior samples' caption takes two)
    caption = window.decoder.caption
    assert caption.wordWrap() and rect_in(caption, window.decoder).right() <= window.decoder.width()
    assert caption.height() >= caption.heightForWidth(caption.width())
    below = window.decoder.reading  # and the next line starts under it
    assert rect_in(below, window.decoder).top() >= rect_in(caption, window.decoder).bottom()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_map_keeps_most_of_the_window_at_every_size(qtbot, window, size):
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=2000)
    key(window, Qt.Key.Key_S)  # the prior samples: the decoder's longest caption
    qtbot.wait(50)
    assert_map_keeps_most_of_the_window(window)
    assert_panels_reachable(window)


def test_a_laptop_screen_with_the_training_panel_open(qtbot, window):
    window.resize(1366, 768)
    qtbot.wait(20)
    key(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    p = window.training_panel
    qtbot.waitUntil(p.isVisible, timeout=2000)
    qtbot.wait(100)
    assert_map_keeps_most_of_the_window(window)
    assert_panels_reachable(window)
    start = rect_in(p.start_button, p)
    assert QRect(0, 0, p.width(), p.height()).contains(start)  # Start is on screen, whole
    # the pad is one click away, on its tab, and drawing there still works
    if window.side_tabs.isVisible():
        click(qtbot, window.side_tabs.tabBar(), window.side_tabs.tabBar().tabRect(1).center())
        assert window.drawing.pad.isVisible()
    p.close()  # closing the panel gives the room back: the columns return if they fit
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: not window.side_tabs.isVisible(), timeout=2000)
    assert window.drawing.pad.isVisible() and window.decoder.isVisible()


def test_the_test_images_caption_is_never_cut(qtbot, mnist_dir, dialogs):
    """A model of more than 3 dimensions writes a two-line caption under the test image,
    after a one-line hint: it has its two lines' height, under the images and above the
    buttons."""
    from tests.ui.helpers import make_window
    from vaedesk import load_model
    from vaedesk.core import paths
    from vaedesk.ui.selftest import map_to_viewport

    window = make_window(
        qtbot, load_model(paths.bundled_weights().with_name("report.safetensors")), mnist_dir
    )
    window.resize(1600, 1000)
    qtbot.wait(50)
    m = window.map
    click(qtbot, m.viewport(), map_to_viewport(m, *m.mu[5]))
    key(window, Qt.Key.Key_P)
    panel, info = window.selection, window.selection.info
    assert "20 dimensions" in info.text()
    qtbot.wait(50)
    assert info.height() >= info.heightForWidth(info.width())
    assert rect_in(window.selection.prev_button, panel).top() >= rect_in(info, panel).bottom()
    assert rect_in(info, panel).top() >= rect_in(window.selection.image, panel).bottom()


def run_at(qtbot, window, size: tuple[int, int], **fields):
    """The window resized to `size`, a small run (no neighbour term) started with Start
    and waited for; the panel."""
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=2000)
    p = open_small_run(qtbot, window, neighbours=0, **fields)
    with qtbot.waitSignal(p.run_finished, timeout=60000):
        click(qtbot, p.start_button)
    qtbot.wait(100)
    return p


def test_a_finished_run_at_800_by_600_keeps_the_window_on_the_screen(qtbot, window):
    """After a run at 800 x 600 with the panel docked, Keep / Save / Discard appear: the
    window must not widen past the screen to make room for them, and they, the result and
    the curves stay whole inside the panel, one beside another, none over another."""
    p = run_at(qtbot, window, (800, 600), batch_size=64)
    assert p.keep_button.isVisible()
    assert window.width() <= 800, f"the window widened to {window.width()} px"
    inside = QRect(0, 0, p.width(), p.height())
    shown = [p.keep_button, p.save_button, p.discard_button, p.result_label, p.curves]
    rects = [rect_in(w, p) for w in shown]
    for w, r in zip(shown, rects, strict=True):
        assert inside.contains(r), f"{w.objectName() or type(w).__name__} is cut: {r} in {inside}"
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert not a.intersects(b), f"{a} overlaps {b}"


def test_the_status_line_is_whole_after_cancel_at_800_by_600(qtbot, window):
    """Cancel in the first epoch of a run at 800 x 600: the panel's status line says how
    far the run got and that nothing can be kept, in full: it has the height of all its
    wrapped lines, inside the panel and the window, and its tooltip holds the whole text.
    Beside the curves it had 124 px of width, and its last lines were cut."""
    from vaedesk.core.train import BatchProgress

    window.resize(800, 600)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (800, 600), timeout=2000)
    p = open_small_run(qtbot, window, epochs=50, neighbours=0)

    def cancel_at_once(event) -> None:
        if isinstance(event, BatchProgress) and p.cancel_button.isEnabled():
            click(qtbot, p.cancel_button)

    with qtbot.waitSignal(p.run_finished, timeout=60000):
        click(qtbot, p.start_button)
        p.task.worker.progress.connect(cancel_at_once)
    qtbot.wait(100)
    status, text = p.status, p.status.text()
    assert text.startswith("Cancelled in epoch 1 of 50") and text.endswith("so there is nothing to keep.")
    assert status.isVisible()
    assert status.height() >= status.heightForWidth(status.width()), "its last lines are cut"
    assert QRect(0, 0, p.width(), p.height()).contains(rect_in(status, p))
    assert window.rect().contains(rect_in(status, window))
    assert status.toolTip() == text


def test_the_loss_curves_legend_covers_no_curve_on_a_laptop_screen(qtbot, window):
    """A run at 1366 x 768: the curves' legend names all four curves, whole, in a row
    outside the plotted area, so that no point of any curve lies under it (it was a box
    inside the plot, over the curves)."""
    from PySide6.QtCore import QPointF

    p = run_at(qtbot, window, (1366, 768), epochs=2)
    c = p.curves
    plot, legend = c.getPlotItem(), c.getPlotItem().legend
    assert legend.isVisible()
    assert [label.text for _, label in legend.items] == [
        "train loss",
        "val loss",
        "val reconstruction",
        "val KL (right axis)",
    ]
    box = legend.sceneBoundingRect()
    assert not box.intersects(plot.vb.sceneBoundingRect()), "the legend lies over the plotted area"
    shown = c.mapFromScene(box).boundingRect()
    assert c.viewport().rect().contains(shown), "the legend is cut"
    for _sample, label in legend.items:
        assert box.adjusted(-1, -1, 1, 1).contains(label.sceneBoundingRect())
    area = plot.vb.sceneBoundingRect()
    for curve, view in ((c.train, plot.vb), (c.val, plot.vb), (c.recon, plot.vb), (c.kl, c.kl_view)):
        xs, ys = curve.getData()
        drawn = [view.mapViewToScene(QPointF(x, y)) for x, y in zip(xs, ys, strict=True)]
        drawn = [point for point in drawn if area.contains(point)]  # the first batches run off the top
        assert len(drawn) >= 2 and not any(box.contains(point) for point in drawn)


def tick_labels(axis) -> list:
    """The rectangles (in the axis's coordinates) and texts of the tick labels the axis
    draws, as its paint() lays them out."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _flags, text in specs[2]] if specs else []


def assert_curves_readable(p, least_width: int, least_height: int) -> None:
    """The curves after a run: shown, their plotted area at least `least_width` x
    `least_height` px, no tick label over its neighbour or past its axis, the axis titles
    no longer than their axes, and the legend whole, outside the plotted area."""
    c = p.curves
    plot = c.getPlotItem()
    assert c.isVisible(), "the curves are not shown after a run"
    area = plot.vb.sceneBoundingRect()
    print(f"the curves' plotted area: {area.width():.0f} x {area.height():.0f} px")
    assert area.width() >= least_width and area.height() >= least_height, area
    for name in ("bottom", "left", "right"):
        axis = plot.getAxis(name)
        labels = tick_labels(axis)
        assert len(labels) >= 2, f"{name}: {labels}"
        key = (lambda r: r[0].left()) if name == "bottom" else (lambda r: r[0].top())
        labels.sort(key=key)
        for (a, ta), (b, tb) in zip(labels, labels[1:], strict=False):
            assert not a.intersects(b), f"{name} axis: {ta!r} at {a} runs into {tb!r} at {b}"
        inside = axis.boundingRect().adjusted(-1, -1, 1, 1)
        for rect, text in labels:
            assert inside.contains(rect), f"{name} axis: {text!r} at {rect} is outside {inside}"
    for name in ("left", "right"):  # the titles run along the axes: whole, not cut at the top
        axis = plot.getAxis(name)
        title, along = axis.label.sceneBoundingRect(), axis.sceneBoundingRect()
        assert along.top() - 0.5 <= title.top() and title.bottom() <= along.bottom() + 0.5, (
            f"the {name} axis's title ({title.height():.0f} px) is longer than its axis"
            f" ({along.height():.0f} px)"
        )
    legend = plot.legend
    assert legend.isVisible()
    box = legend.sceneBoundingRect()
    assert not box.intersects(area), "the legend lies over the plotted area"
    assert c.viewport().rect().contains(c.mapFromScene(box).boundingRect()), "the legend is cut"


def test_the_loss_curves_are_readable_after_a_run_at_800_by_600(qtbot, window):
    """A 2-epoch run at 800 x 600 with the panel docked: the curves come into view when it
    starts, at least 300 px wide, their tick labels apart and their axis titles whole,
    while Start, the progress bar, the result and the status line stay in view and the
    options are one click away. Beside the three columns of fields the curves had 150 px:
    the x labels ran into one another ("0.5.1.0.1.5") and the loss axis's title was cut."""
    p = run_at(qtbot, window, (800, 600), epochs=2)
    assert_curves_readable(p, least_width=300, least_height=60)
    inside = QRect(0, 0, p.width(), p.height())
    for w in (p.start_button, p.keep_button, p.progress, p.result_label, p.status):
        assert w.isVisible() and inside.contains(rect_in(w, p)), type(w).__name__
        assert not rect_in(w, p).intersects(rect_in(p.curves, p)), f"{type(w).__name__} is over the curves"
    tabs = p.arrangement.tabs
    click(qtbot, tabs.tabBar(), tabs.tabBar().tabRect(tabs.indexOf(p.arrangement.options)).center())
    assert p.epochs.isVisible() and p.start_button.isVisible() and p.progress.isVisible()
    assert not p.curves.isVisible()


def test_the_loss_curves_have_room_on_a_laptop_screen(qtbot, window):
    """A 2-epoch run at 1366 x 768 with the panel docked: the curves' plotted area is at
    least 100 px high (a legend row above it left it 56 px), their labels apart and whole,
    and the map still keeps most of the window."""
    p = run_at(qtbot, window, (1366, 768), epochs=2)
    assert p.epochs.isVisible(), "the options and the curves fit side by side here"
    assert_curves_readable(p, least_width=300, least_height=100)
    assert_map_keeps_most_of_the_window(window)
    # to 800 x 600 (tabs) and back: the curves and their legend are as they were
    for size in ((800, 600), (1366, 768)):
        window.resize(*size)
        qtbot.waitUntil(lambda size=size: (window.width(), window.height()) == size, timeout=2000)
        qtbot.wait(100)
    assert_curves_readable(p, least_width=300, least_height=100)
