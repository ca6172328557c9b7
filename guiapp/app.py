"""The desktop app entry: ``triage`` and ``triage FILE...`` open the window here."""

from __future__ import annotations

import sys


def run_app(paths: list[str], *, settings=None) -> int:
    """Open the window on ``paths`` (else the last project, else the demo); run until quit.

    Returns the process exit code.
    """
    from PySide6.QtWidgets import QApplication

    from guiapp import __version__
    from guiapp.qt.main_window import MainWindow
    from guiapp.qt.settings import Settings
    from guiapp.qt.single_instance import InstanceServer, hand_over

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Triage")
    app.setOrganizationName("Triage")
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    if hand_over([str(p) for p in paths]):  # a window is open already: it takes them
        print("triage: handed over to the Triage window already open", file=sys.stderr)
        return 0
    window = MainWindow(settings or Settings.default())
    server = InstanceServer(window)
    server.paths_received.connect(window.open_handed_over)
    server.listen()
    window.show()
    window.open_initial([str(p) for p in paths])
    try:
        return int(app.exec())
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1:]))
