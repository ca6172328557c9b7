"""Crash safety of the project store, through the real window: 100+ SIGKILLs.

A driver process runs the real MainWindow offscreen on a project of 12,000 real messages and
labels through the window's own actions -- single rows, a 10,000-row "Label All Shown",
whole themes, Undo -- while a retrain and an export run; it reports every edit the window
accepted (``ACK``). Each trial kills it with SIGKILL at a seeded random moment: while
labelling, in the middle of the 10,000-row bulk edit, during a retrain (and as its result is
being saved), during an export. The project is then reopened and must hold every
acknowledged edit and exactly the logged edits (a bulk edit all or nothing), pass
``integrity_check``, and the export target must be absent or whole. See
:mod:`guiapp.qt.crash_trials` for the invariant and ``benchmarks/kill_trials.py`` for the
longer run whose figures the README quotes.
"""

from __future__ import annotations

import sys

import pytest

from guiapp.qt.crash_trials import PHASES, run_trials

TRIALS = 104


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork")
def test_kill_trials_lose_no_acknowledged_correction(tmp_path):
    summary = run_trials(TRIALS, tmp_path, seed=20241127, workers=2, fresh_every=26)
    report = summary.report()
    print("\n" + report)
    failures = [
        f"trial {r.spec.number} ({r.spec.phase}, delay {r.spec.delay:.3f} s, seed "
        f"{r.spec.seed}): " + "; ".join(r.failures)
        for r in summary.failed
    ]
    assert not failures, "\n".join(failures)
    f = summary.figures()
    assert f["trials"] == TRIALS and f["killed"] >= 100
    assert set(f["by_phase"]) == set(PHASES)
    assert f["corrections_found"] == f["corrections_made"] > 1000
    assert f["integrity_ok"] == TRIALS
    # The calibration run went to the end and closed normally; the trials saw bulk edits.
    assert summary.calibration.ok and "END" in summary.calibration.lines
    assert f["rows_acknowledged"] > 100 * 10_000 / 5
