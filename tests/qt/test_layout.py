"""The window on a laptop screen (1280x720) and the filter bar's score range."""

from __future__ import annotations

import warnings

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit
from qt_helpers import FIXTURES, WAIT, make_window  # noqa: E402

from guiapp.qt.main_window import MainWindow
from guiapp.qt.table_model import COLUMN_INDEX


def test_a_laptop_screen_shows_every_label_score_and_theme_column(qtbot, settings):
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    assert window.minimumSizeHint().width() <= 1280 and window.minimumSizeHint().height() <= 720
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_paths([str(FIXTURES / "sms.csv")])
    table = window.table
    right = table.columnViewportPosition(COLUMN_INDEX["kind"]) + table.columnWidth(
        COLUMN_INDEX["kind"]
    )
    assert right <= table.viewport().width()
    assert table.columnWidth(COLUMN_INDEX["text"]) >= 220
    assert window.frameGeometry().width() <= 1280 + 40  # no part of the window off-screen
    window.close()


def test_the_first_window_fits_the_screen(qtbot, settings):
    window = make_window(qtbot, settings)
    screen = window.screen().availableGeometry()
    assert window.width() <= screen.width() and window.height() <= screen.height()
    window.close()


def test_the_score_range_prints_each_bound_once(qtbot, window):
    bar = window.filter_bar

    def shown():
        boxes = bar.score.findChildren(QLineEdit) + bar.score.findChildren(QLabel)
        return sorted(w.text() for w in boxes if w.isVisible() and w.text())

    assert shown() == ["0.00", "1.00"]
    bar.score.setValue((0.25, 0.75))
    assert shown() == ["0.25", "0.75"]


def test_files_dragged_over_the_window_are_highlighted(qtbot, settings):
    from PySide6.QtCore import QMimeData, QPoint, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent

    window = make_window(qtbot, settings)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(FIXTURES / "sms.csv"))])
    with warnings.catch_warnings():
        # PySide6 marks the only constructor deprecated (Qt has no other for this event).
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            QPoint(40, 40),
            Qt.DropAction.CopyAction,
            data,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    hint = window.drop_hint
    assert hint.isVisible() and hint.text() == "Drop to open sms.csv"
    assert hint.geometry().width() > window.width() // 2
    QApplication.sendEvent(window, QDragLeaveEvent())
    assert not hint.isVisible()
    window.close()


def test_the_status_bar_does_not_say_no_collection_while_the_first_opens(qtbot, settings):
    window = make_window(qtbot, settings)
    assert window.counts_label.text().startswith("No collection open")
    window.open_paths([str(FIXTURES / "sms.csv")])
    qtbot.waitUntil(lambda: window.counts_label.text() == "", timeout=5000)
    assert window.runner.is_running("open") or window.project is not None
    qtbot.waitUntil(lambda: "of 300 shown" in window.counts_label.text(), timeout=WAIT)
    window.close()


def test_model_pills_stay_readable_on_a_selected_row(qtbot, window):
    from PySide6.QtGui import QColor

    from guiapp.qt import style

    window.resize(1400, 800)
    table = window.table
    model = window.model
    column = COLUMN_INDEX["spam"]
    row = next(
        r
        for r in range(model.rowCount())
        if window.collection.user["spam"][model.store_row(r)] < 0
        and window.collection.predicted("spam")[model.store_row(r)] == 0
    )  # a ham the model guessed: an outlined green pill
    table.go_to_view_row(row)
    qtbot.wait(50)
    rect = table.visualRect(model.index(row, column))
    image = table.viewport().grab(rect).toImage()
    green = QColor(style.LABEL_COLOURS["spam"][0])
    pixels = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    white = sum(1 for p in pixels if p.lightness() > 245)
    greenish = sum(
        1
        for p in pixels
        if abs(p.red() - green.red())
        + abs(p.green() - green.green())
        + abs(p.blue() - green.blue())
        < 90
    )
    assert white > len(pixels) // 8  # the pill's opaque inside
    assert greenish > 20  # its outline and word in the label's colour


def test_the_k_curve_is_big_enough_and_has_axes(qtbot):
    from guiapp.qt.cluster_panel import SilhouetteCurve

    curve = SilhouetteCurve()
    qtbot.addWidget(curve)
    curve.resize(240, curve.sizeHint().height())
    curve.set_curve([(2, 0.021), (5, 0.034), (8, 0.048), (11, 0.040)], 8)
    curve.show()
    qtbot.waitExposed(curve)
    assert curve.height() >= 120
    plot = curve.plot_rect()
    assert plot.height() >= 50 and plot.left() > 20  # room for the score labels
    image = curve.grab().toImage()

    def inked(x0, y0, x1, y1):
        return sum(
            1
            for x in range(int(x0), int(x1))
            for y in range(int(y0), int(y1))
            if image.pixelColor(x, y).lightness() < 200
        )

    assert inked(0, plot.top() - 6, plot.left() - 2, plot.bottom() + 6) > 10  # y labels
    assert inked(plot.left(), plot.bottom() + 2, plot.right(), curve.height()) > 30  # x axis
