"""The window and its dialogs draw something: right size, not blank (look at the PNGs from
``python -m guiapp.qt.screenshots docs/`` when the UI changes)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage
from qt_helpers import FIXTURES, make_window, open_file

from guiapp.core.io import inspect_table, load_collection
from guiapp.qt.dialogs import ColumnMappingDialog, ExportDialog, ProblemsDialog, RetrainDialog


def pixels(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    assert image.width() == widget.width() and image.height() == widget.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.width() * image.height())
    return data.copy()


def assert_drawn(widget, min_colours: int = 8) -> None:
    values = pixels(widget)
    assert len(np.unique(values)) >= min_colours, "the widget looks blank"


def test_main_window_and_dialogs_are_drawn(qtbot, settings):
    window = make_window(qtbot, settings)
    open_file(qtbot, window)
    window.resize(1280, 800)
    qtbot.wait(50)
    assert_drawn(window, 50)
    assert_drawn(window.table.viewport(), 10)

    preview = inspect_table(str(FIXTURES / "two_text_columns.csv"))
    dialogs = [
        ColumnMappingDialog(preview, preview.text_candidates, window),
        ProblemsDialog(
            load_collection([str(FIXTURES.parent / "bad" / "csv_ragged_rows.csv")]).problems,
            2,
            window,
        ),
        ExportDialog(
            {"all": 300, "labelled": 2, "filter": 300, "selection": 1}, "x.csv", "all", window
        ),
        RetrainDialog({"spam": (2, 2), "sentiment": (0, 0)}, {"spam": True}, window),
    ]
    for dialog in dialogs:
        dialog.show()
        qtbot.waitExposed(dialog)
        assert_drawn(dialog)
        dialog.close()
    window.close()


def test_problems_dialog_lists_what_was_skipped(qtbot, settings):
    window = make_window(qtbot, settings)
    bad = FIXTURES.parent / "bad" / "jsonl_some_bad_lines.jsonl"
    open_file(qtbot, window, bad)
    dialog = window.last_dialog
    assert isinstance(dialog, ProblemsDialog) and dialog.isVisible()
    assert dialog.table.rowCount() == 2
    assert dialog.table.item(0, 0).text() == "jsonl_some_bad_lines.jsonl, line 2"
    assert "invalid JSON" in dialog.table.item(0, 1).text()
    assert "line 4" in dialog.text()
    dialog.close()
    window.close()
