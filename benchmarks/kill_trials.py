"""SIGKILL the real window many times (default 300) and check every project afterwards.

The same trials as ``tests/qt/test_kill_trials.py`` (see :mod:`guiapp.qt.crash_trials` for
what a trial does and what is checked), run longer; the figures go to
``benchmarks/kill_trials.txt`` for the README. Offscreen, no pytest::

    python -m benchmarks.kill_trials                      # 300 trials, 2 at a time
    python -m benchmarks.kill_trials --trials 100 --workers 1 --fresh-every 10

``--fresh-every N`` runs every Nth trial as a fresh ``python -m guiapp.qt.driver run``
process instead of a fork of the warm driver server, and the report gives both start-up
times. Failed trials keep their folder (project, transcript, driver stderr) under
``--keep-dir``; the exit status is 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kill_trials")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh-every", type=int, default=25)
    parser.add_argument("--out", default=str(HERE / "kill_trials.txt"))
    parser.add_argument("--keep-dir", help="where failed trials stay (default: a temp dir)")
    args = parser.parse_args(argv)

    from guiapp.qt.crash_trials import run_trials

    folder = Path(args.keep_dir or tempfile.mkdtemp(prefix="kill-trials-"))
    os.environ.setdefault("TRIAGE_DATA_DIR", str(folder / "user-data"))
    done = [0]

    def progress(result) -> None:
        done[0] += 1
        status = "ok" if result.ok else "FAILED"
        print(
            f"[{done[0]:>3}/{args.trials}] trial {result.spec.number:>3} {result.spec.phase:<13} "
            f"delay {result.spec.delay:6.3f} s  acked {result.acked:>4}  "
            f"{result.pending or '-':<11} {result.seconds:6.1f} s  {status}",
            flush=True,
        )

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    summary = run_trials(
        args.trials,
        folder,
        seed=args.seed,
        workers=args.workers,
        fresh_every=args.fresh_every,
        progress=progress,
    )
    report = summary.report()
    print(report)
    for result in summary.failed:
        print(f"trial {result.spec.number} ({result.spec.phase}): " + "; ".join(result.failures))
    header = [
        f"# python -m benchmarks.kill_trials --trials {args.trials} --workers {args.workers} "
        f"--seed {args.seed} --fresh-every {args.fresh_every}",
        f"# {time.strftime('%Y-%m-%d %H:%M')}, {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average before "
        f"{'/'.join(f'{x:.1f}' for x in load_before) if load_before else '?'}",
    ]
    figures = summary.figures()
    Path(args.out).write_text(
        "\n".join([*header, "", report, "", "figures: " + json.dumps(figures)]) + "\n",
        encoding="utf-8",
    )
    print(f"written to {args.out}")
    if not summary.failed and not args.keep_dir:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
