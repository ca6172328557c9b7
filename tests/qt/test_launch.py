"""The real app, started again and again on a saved project, opens it every time.

Each launch is a fresh ``triage PROJECT`` (:mod:`guiapp.qt.launch_probe`, offscreen) with
scikit-learn and SciPy dropped from the page cache first (``--cold``): the start-up where the
window's warm-up and the task opening the project both import them from disk. Before those
imports went through :func:`guiapp.core.imports.import_heavy` that failed 8 launches in 10
("cannot import name 'clone' from partially initialized module 'sklearn.base'", then an
empty window). ``benchmarks/bench_launch.py`` runs 50 such launches under load.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from qt_helpers import SMS

from guiapp.core import session

LAUNCHES = 5
REPO = Path(__file__).resolve().parents[2]


def launch(project: Path, data_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TRIAGE_DATA_DIR=str(data_dir), QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "guiapp.qt.launch_probe", str(project), "--cold"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="needs posix_fadvise (--cold)")
def test_the_app_opens_a_saved_project_at_every_launch(tmp_path):
    data = tmp_path / "data"
    project = session.import_to_file([SMS], project_path=tmp_path / "sms.triage").path
    rows = None
    for i in range(LAUNCHES):
        run = launch(project, data)
        where = f"launch {i + 1} of {LAUNCHES}: stdout {run.stdout!r}\nstderr:\n{run.stderr}"
        assert "ImportError" not in run.stderr and "Traceback" not in run.stderr, where
        assert run.returncode == 0 and run.stdout.startswith("OPENED "), where
        opened = int(run.stdout.split()[1])
        assert rows in (None, opened), where
        rows = opened
    assert rows and rows > 100
