"""A kill right after the window accepted an edit loses nothing (SIGKILL, no clean-up)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from qt_helpers import SMS

from guiapp.core.project import Project

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from guiapp.qt.main_window import MainWindow
    from guiapp.qt.settings import Settings
    window = MainWindow(Settings.at(sys.argv[2]))
    window.show()
    window.open_paths([sys.argv[1]])
    end = time.monotonic() + 120
    while (window.project is None or window.runner.active_count()) and time.monotonic() < end:
        app.processEvents()
    table = window.table
    table.setFocus()
    table.go_to_view_row(0)
    for key in (Qt.Key.Key_S, Qt.Key.Key_H, Qt.Key.Key_3, Qt.Key.Key_1):
        QTest.keyClick(table, key)
    window.label_rows("sentiment", list(range(10, 20)), 1)
    print(window.project.path, flush=True)
    print("ACCEPTED", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_right_after_labelling_loses_nothing(tmp_path):
    env = dict(os.environ, TRIAGE_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(SMS), str(tmp_path / "settings.ini")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        path = child.stdout.readline().strip()
        assert child.stdout.readline().strip() == "ACCEPTED"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    project = Project.open(path, backup=False)
    try:
        c = project.collection
        assert c.user["spam"][[0, 1]].tolist() == [1, 0]
        assert c.user["sentiment"][[2, 3]].tolist() == [2, 0]
        assert (c.user["sentiment"][10:20] == 1).all()
        # Each is a correction or a confirmation of the model's answer, as saved.
        given = c.corrected["spam"][[0, 1]] | c.confirmed["spam"][[0, 1]]
        assert given.all() and not (c.corrected["spam"] & c.confirmed["spam"]).any()
        agrees = c.predicted("spam")[[0, 1]] == c.user["spam"][[0, 1]]
        assert c.confirmed["spam"][[0, 1]].tolist() == agrees.tolist()
        assert int(c.labelled_by_user().sum()) == 14
        assert np.isfinite(c.spam_prob).all() or not c.has_predictions("spam")
    finally:
        project.close()
