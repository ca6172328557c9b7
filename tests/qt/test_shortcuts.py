"""Keyboard shortcuts pressed on the real window (QTest key events through Qt's shortcut
map): undo and redo with every key they list, and no key bound to two actions.

The platform decides what its standard keys are: offscreen, Redo is Ctrl+Y first, but on an
X server it is Ctrl+Shift+Z, which is where a key bound twice made Redo dead. So the last
test runs this file again on a real X server (Xvfb, the xcb platform) when one is installed
(`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def press(qtbot, window, key, modifiers=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(window.table, key, modifiers)
    QApplication.processEvents()


def focus_table(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    window.table.setFocus()
    qtbot.waitUntil(window.table.hasFocus, timeout=5000)


def test_no_key_is_bound_to_two_actions(window):
    actions = window.findChildren(type(window.act_redo))
    keys = Counter(s.toString() for action in actions for s in action.shortcuts())
    assert [k for k, n in keys.items() if n > 1] == []
    assert [s.toString() for s in window.act_redo.shortcuts()] == ["Ctrl+Shift+Z", "Ctrl+Y"]


def test_undo_and_redo_keys_on_the_window(qtbot, window, qtlog):
    focus_table(qtbot, window)
    user = window.collection.user["spam"]
    window.table.go_to_view_row(0)
    row = window.table.selected_store_rows()[0]
    before = int(user[row])
    press(qtbot, window, Qt.Key.Key_S)  # mark spam
    qtbot.waitUntil(lambda: int(window.collection.user["spam"][row]) == 1, timeout=5000)
    press(qtbot, window, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: int(window.collection.user["spam"][row]) == before, timeout=5000)
    press(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)
    qtbot.waitUntil(lambda: int(window.collection.user["spam"][row]) == 1, timeout=5000)
    press(qtbot, window, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: int(window.collection.user["spam"][row]) == before, timeout=5000)
    press(qtbot, window, Qt.Key.Key_Y, CTRL)
    qtbot.waitUntil(lambda: int(window.collection.user["spam"][row]) == 1, timeout=5000)
    assert not [r for r in qtlog.records if "Ambiguous shortcut" in r.message]


@pytest.mark.skipif(
    os.environ.get("QT_QPA_PLATFORM") == "xcb" or shutil.which("xvfb-run") is None,
    reason="already on X, or no Xvfb (apt-get install xvfb; .ci/run installs it)",
)
def test_the_same_keys_on_an_x_server(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    env.pop("DISPLAY", None)
    result = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path / "x"),
            f"{Path(__file__)}::test_no_key_is_bound_to_two_actions",
            f"{Path(__file__)}::test_undo_and_redo_keys_on_the_window",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


def test_the_shortcut_list_shows_every_key_whole(qtbot, window):
    from PySide6.QtGui import QFont

    from guiapp.qt.dialogs import ShortcutsDialog

    big = QFont(window.font())
    big.setPointSizeF(big.pointSizeF() * 1.4)  # a desktop's bigger default font
    for font in (window.font(), big):
        window.setFont(font)
        window.show_shortcuts()
        dialog = window.last_dialog
        assert isinstance(dialog, ShortcutsDialog)
        qtbot.waitExposed(dialog)
        table = dialog.table
        keys = [table.item(r, 1).text() for r in range(table.rowCount())]
        assert "Ctrl+Shift+Z, Ctrl+Y" in keys and "Shift+Down, Shift+click, Ctrl+click" in keys
        metrics = table.fontMetrics()
        for r in range(table.rowCount()):
            for c in (0, 1):
                text = table.item(r, c).text()
                assert table.columnWidth(c) >= metrics.horizontalAdvance(text) + 4, text
        assert table.horizontalScrollBar().maximum() == 0  # nothing off to the side
        dialog.close()


def test_pressing_h_on_a_row_the_model_calls_ham_confirms(qtbot, window):
    from guiapp.qt.table_model import COLUMN_INDEX

    focus_table(qtbot, window)
    c = window.collection
    predicted = c.predicted("spam")
    ham = int(np.flatnonzero((predicted == 0) & (c.user["spam"] < 0))[0])
    spam = int(np.flatnonzero((predicted == 1) & (c.user["spam"] < 0))[0])
    for store, corrected in ((ham, False), (spam, True)):
        view_row = int(window.model.view_positions()[store])
        window.table.go_to_view_row(view_row)
        assert window.table.selected_store_rows().tolist() == [store]
        press(qtbot, window, Qt.Key.Key_H)
        qtbot.waitUntil(lambda s=store: c.user["spam"][s] == 0, timeout=5000)
        assert bool(c.corrected["spam"][store]) is corrected
        assert bool(c.confirmed["spam"][store]) is not corrected
        mark = window.model.index(view_row, COLUMN_INDEX["corrected"]).data()
        assert mark == ("✎" if corrected else "✓")
        window.detail.show_row(c, store)
        header = window.detail.header.text()
        assert ("corrected by you" if corrected else "confirmed by you") in header
    window._update_counts()
    assert "(1 corrected, 1 confirmed)" in window.counts_label.text()
