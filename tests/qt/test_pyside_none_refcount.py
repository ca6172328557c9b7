"""PySide6 6.12 on CPython 3.11 drops a reference to None on every void call; importing
guiapp.qt must make that harmless (see guiapp.qt._keep_none_alive)."""

import subprocess
import sys

CODE = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
{setup}
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
for i in range(300_000):  # more than None's references in a fresh interpreter
    label.setText("x")
print("survived")
"""


def run(setup: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CODE.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_many_void_calls_do_not_abort_the_interpreter():
    """Without the work-around this aborts with "none_dealloc" (exit code -6) on 3.11."""
    result = run("import guiapp.qt")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout
