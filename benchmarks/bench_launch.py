"""Start the real app N times on a saved project under load; count the launches that fail.

    python -m benchmarks.bench_launch                  # 50 launches, a busy loop per core
    python -m benchmarks.bench_launch --launches 20 --busy 4 --warm

Each launch is ``triage PROJECT`` through :mod:`guiapp.qt.launch_probe` (offscreen), by
default ``--cold`` (scikit-learn and SciPy dropped from the page cache first, as on a busy
machine), while ``--busy`` processes spin on the CPU. A launch fails when the project is not
shown, the window reports an error, or stderr holds a traceback. The project is 2,000 real
messages of the bundled demo collection, with predictions and themes, built once into a
temporary folder. Prints one line per failure and ``failures/launches``; the exit status is
1 if any failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _spin() -> None:
    while True:
        pass


def launch(project: Path, data_dir: Path, *, cold: bool) -> tuple[bool, str, float]:
    env = dict(os.environ, TRIAGE_DATA_DIR=str(data_dir), QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "guiapp.qt.launch_probe", str(project)]
    start = time.perf_counter()
    try:
        run = subprocess.run(
            argv + (["--cold"] if cold else []),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return False, "no answer in 300 s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    ok = run.returncode == 0 and run.stdout.startswith("OPENED") and "Traceback" not in run.stderr
    errors = [ln for ln in run.stderr.splitlines() if "Error" in ln]
    why = f"exit {run.returncode}, {run.stdout.strip()!r}" + (f", {errors[-1]}" if errors else "")
    return ok, why, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_launch")
    parser.add_argument("--launches", type=int, default=50)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="spinning processes")
    parser.add_argument("--warm", action="store_true", help="leave the page cache alone")
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args(argv)

    from guiapp.qt.crash_trials import build_base_project

    with tempfile.TemporaryDirectory(prefix="triage-launch-") as folder:
        data = Path(folder) / "data"
        os.environ["TRIAGE_DATA_DIR"] = str(data)
        project = build_base_project(Path(folder) / "launch.triage", args.rows)
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
        for s in spinners:
            s.start()
        failures, times = 0, []
        try:
            for i in range(args.launches):
                ok, why, seconds = launch(project, data, cold=not args.warm)
                times.append(seconds)
                if not ok:
                    failures += 1
                    print(f"launch {i + 1}: {why}", flush=True)
        finally:
            for s in spinners:
                s.terminate()
                s.join()
        times.sort()
        print(
            f"{failures}/{args.launches} launches failed ({'warm' if args.warm else 'cold'} "
            f"page cache, {args.busy} busy processes on {os.cpu_count()} cores; launch to "
            f"project shown and closed: median {times[len(times) // 2]:.1f} s, "
            f"max {times[-1]:.1f} s)"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
