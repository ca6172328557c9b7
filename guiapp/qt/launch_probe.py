"""Start the real app as ``triage PROJECT`` does and say whether the project opened.

Not a user command: ``tests/qt/test_launch.py`` and ``benchmarks/bench_launch.py`` run it
as a child process, many times, to catch start-up races (the window's warm-up imports and
the task that opens the project run on different threads)::

    python -m guiapp.qt.launch_probe PROJECT [--cold] [--timeout SECONDS] [--switch-interval S]

It goes through :func:`guiapp.cli.main` -- the ``triage`` command itself -- with a timer
that watches the window. Once no task is running it prints one line and quits:

    OPENED <n messages>       the project is shown
    NOT-OPENED                the window is up but shows no project
    ERROR <type>: <message>   the window reported an error (printed as it happens)
    TIMEOUT                   nothing settled within the timeout (exit status 3)

``--cold`` first drops the files of the heavy libraries (scikit-learn, SciPy) from the
page cache, as after a reboot or on a busy machine whose memory went to other work: their
imports then wait on the disk and the threads interleave at every file read. That is the
start-up the race needs: before the imports went through :mod:`guiapp.core.imports`, 8 of 10
cold launches failed to open the project ("cannot import name 'clone' from partially
initialized module 'sklearn.base'"), 1 of 20 warm ones. ``--switch-interval`` sets
:func:`sys.setswitchinterval` (threads take turns more often at 1e-5 s).

Exit status 0 only for OPENED with no ERROR. Whatever the window logged (tracebacks of
unexpected errors) is on stderr, as for a user's ``triage``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

#: The packages whose files ``--cold`` drops from the page cache.
COLD_PACKAGES = ("sklearn", "scipy")


def drop_from_page_cache(packages=COLD_PACKAGES) -> int:
    """Ask the kernel to forget the cached pages of the packages' files (nothing is
    imported); returns how many files. A no-op where ``posix_fadvise`` is missing."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    count = 0
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            for path in Path(folder).rglob("*"):
                if path.suffix not in (".py", ".pyc", ".so") or not path.is_file():
                    continue
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    count += 1
                finally:
                    os.close(fd)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m guiapp.qt.launch_probe")
    parser.add_argument("project")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--switch-interval", type=float, default=None)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="drop the heavy libraries' files from the page cache first",
    )
    args = parser.parse_args(argv)
    if args.cold:
        drop_from_page_cache()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from guiapp import cli

    # run_app uses this application; the timers need one before the window exists.
    app = QApplication.instance() or QApplication(sys.argv[:1])
    outcome: dict[str, object] = {"errors": 0}

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def window():
        from guiapp.qt.main_window import MainWindow

        found = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        return found[0] if found else None

    def watch() -> None:
        w = window()
        if w is not None and "hooked" not in outcome:
            outcome["hooked"] = True
            show = w.notifier.error

            def error(exc, tb=""):
                outcome["errors"] = int(outcome["errors"]) + 1
                say(f"ERROR {type(exc).__name__}: {exc}".replace("\n", " "))
                return show(exc, tb)

            w.notifier.error = error
        settled = w is not None and w.isVisible() and w._warmed_up and not w.runner.active_count()
        if not settled:
            QTimer.singleShot(20, watch)
            return
        if w.project is not None:
            outcome["opened"] = True
            say(f"OPENED {len(w.collection)}")
        else:
            say("NOT-OPENED")
        w.close()  # the last window: the event loop returns

    def give_up() -> None:
        say("TIMEOUT")
        outcome["timeout"] = True
        app.exit(3)

    QTimer.singleShot(0, watch)
    QTimer.singleShot(int(args.timeout * 1000), give_up)
    code = cli.main([args.project])
    if outcome.get("timeout"):
        return 3
    return 0 if code == 0 and outcome.get("opened") and not outcome["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
