"""guiapp.app.run_app: files given, else the last project, else the demo collection."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from qt_helpers import SMS

from guiapp.app import run_app
from guiapp.qt.main_window import MainWindow


def run_until_opened(qapp, settings, paths) -> dict:
    seen = {}

    def poll():
        windows = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        ]
        window = windows[-1] if windows else None
        if window is None or window.project is None or window.runner.active_count():
            QTimer.singleShot(50, poll)
            return
        seen["rows"] = len(window.collection)
        seen["path"] = window.project.path
        seen["title"] = window.windowTitle()
        window.close()  # the last window: run_app's event loop returns

    QTimer.singleShot(50, poll)
    seen["code"] = run_app(paths, settings=settings)
    return seen


def test_run_app_opens_files_then_the_last_project_then_the_demo(qapp, settings, tmp_path):
    first = run_until_opened(qapp, settings, [str(SMS)])
    assert first["code"] == 0 and first["rows"] == 300 and "sms" in first["title"]
    again = run_until_opened(qapp, settings, [])
    assert again["path"] == first["path"] and again["rows"] == 300
    fresh = settings.__class__.at(tmp_path / "fresh.ini")
    demo = run_until_opened(qapp, fresh, [])
    assert demo["rows"] == 400 and demo["path"].name == "Demo collection.triage"
