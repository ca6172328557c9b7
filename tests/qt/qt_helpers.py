"""Helpers shared by the window tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

from pathlib import Path

from guiapp.qt.main_window import MainWindow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qt"
SMS = FIXTURES / "sms.csv"
WAIT = 120_000


def make_window(qtbot, settings) -> MainWindow:
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_file(qtbot, window, path=SMS, **kwargs) -> None:
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_paths([str(path)], **kwargs)
