"""The window on a laptop screen (1280x720) and the filter bar's score range."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit
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
