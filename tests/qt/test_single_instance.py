"""``triage FILE`` while a window is open hands FILE to that window (two real processes,
offscreen); with no window answering (none, or one that was killed) it opens its own.

Which project a window has open is read from outside through its project lock: the lock
names the process that holds it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from qt_helpers import WAIT
from store_helpers import labelled_project

from guiapp.core.project_lock import holder

ROOT = Path(__file__).resolve().parents[2]

# The window process imports the model code before its window starts: two threads first
# importing scikit-learn at once is the start-up race of issue 14 item 3, fixed on its own;
# these tests are about the hand-over.
WINDOW = (
    "import sys; import guiapp.core.models; from guiapp.app import run_app; "
    "sys.exit(run_app(sys.argv[1:]))"
)


def environment(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QT_QPA_PLATFORM": "offscreen",
        "TRIAGE_DATA_DIR": str(data),
    }


def start_window(env, *paths) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WINDOW, *map(str, paths)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def triage(env, *args) -> subprocess.CompletedProcess:
    """The ``triage`` command itself, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "guiapp", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT / 1000,
    )


def held_by(path: Path) -> int | None:
    info = holder(path)
    return None if info is None else info.get("pid")


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=WAIT / 1000)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_triage_file_hands_the_file_to_the_open_window(qtbot, tmp_path):
    env = environment(tmp_path / "data")
    first, second, third = (
        labelled_project(tmp_path / f"{name}.triage") for name in ("first", "second", "third")
    )
    window = start_window(env, first)
    try:
        qtbot.waitUntil(lambda: held_by(first) == window.pid, timeout=WAIT)

        handed = triage(env, second)
        assert handed.returncode == 0, handed.stderr
        assert "handed over to the Triage window already open" in handed.stderr
        # The running window opened it (and closed the one it had): no second window.
        qtbot.waitUntil(lambda: held_by(second) == window.pid, timeout=WAIT)
        qtbot.waitUntil(lambda: held_by(first) is None, timeout=WAIT)
        assert window.poll() is None

        # Plain `triage` brings the window forward and opens nothing else.
        again = triage(env)
        assert again.returncode == 0 and "handed over" in again.stderr
        assert held_by(second) == window.pid

        # A window killed outright leaves its socket behind: the next one takes it over.
        stop(window, signal.SIGKILL)
        assert held_by(second) is None
        window = start_window(env, third)
        qtbot.waitUntil(lambda: held_by(third) == window.pid, timeout=WAIT)
        handed = triage(env, first)
        assert handed.returncode == 0, handed.stderr
        qtbot.waitUntil(lambda: held_by(first) == window.pid, timeout=WAIT)
    finally:
        stop(window)


def test_another_users_window_is_not_reached(qtbot, tmp_path):
    """The socket is per data directory: another one gets its own window."""
    mine, theirs = environment(tmp_path / "mine"), environment(tmp_path / "theirs")
    first = labelled_project(tmp_path / "first.triage")
    second = labelled_project(tmp_path / "second.triage")
    window = start_window(mine, first)
    other = None
    try:
        qtbot.waitUntil(lambda: held_by(first) == window.pid, timeout=WAIT)
        other = start_window(theirs, second)
        qtbot.waitUntil(lambda: held_by(second) == other.pid, timeout=WAIT)
        assert held_by(first) == window.pid
    finally:
        stop(window)
        if other is not None:
            stop(other)
