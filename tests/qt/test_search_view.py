"""Searching and sorting as a user sees it: an empty result says so and clears the detail
pane, the search words are marked in the detail pane, a sort shows the top of the list."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from guiapp.qt.table_model import COLUMN_INDEX


def search(qtbot, window, text):
    window.filter_bar.search.setText(text)
    window.filter_bar._emit()
    qtbot.waitUntil(
        lambda: window._spec.text == text and not window._search_pending, timeout=10_000
    )


def test_no_match_says_so_and_clears_the_detail_pane(qtbot, window):
    window.table.go_to_view_row(3)
    shown = window.detail.text.toPlainText()
    assert shown
    search(qtbot, window, "zzqx-nothing-like-this")
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10_000)
    assert window.table.empty_text.startswith("No messages match")
    assert window.detail.text.toPlainText() == "" and window.detail.store_row == -1
    image = window.table.viewport().grab().toImage()
    assert any(
        image.pixelColor(x, y).red() < 200
        for x in range(0, image.width(), 3)
        for y in range(0, min(image.height(), 80), 2)
    ), "the message is painted"
    search(qtbot, window, "")
    qtbot.waitUntil(lambda: window.model.rowCount() == 300, timeout=10_000)
    assert window.table.empty_text == ""


def test_search_words_are_marked_in_the_detail_pane(qtbot, window):
    search(qtbot, window, "free WIN")
    qtbot.waitUntil(lambda: 0 < window.model.rowCount() < 300, timeout=10_000)
    window.table.go_to_view_row(0)
    pane = window.detail
    text = pane.text.toPlainText().lower()
    marks = pane.text.extraSelections()
    marked = sorted({m.cursor.selectedText().lower() for m in marks})
    assert marked == ["free", "win"]
    assert len(marks) == text.count("free") + text.count("win")
    search(qtbot, window, "")
    assert pane.text.extraSelections() == []


def test_a_sort_shows_the_top_of_the_list(qtbot, window):
    table = window.table
    table.go_to_view_row(250)
    qtbot.waitUntil(lambda: table.verticalScrollBar().value() > 0, timeout=5000)
    header = table.horizontalHeader()
    column = COLUMN_INDEX["spam_score"]
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    qtbot.waitUntil(lambda: window.model.sort_state is not None, timeout=5000)
    assert table.verticalScrollBar().value() == 0
    assert len(table.selected_store_rows()) == 1  # the selection is kept


def test_the_detail_pane_names_the_source_without_its_folder(qtbot, window):
    window.table.go_to_view_row(0)
    header = window.detail.header.text()
    assert "sms.csv" in header and "fixtures" not in header
