"""Retraining from the window: in a worker, with Cancel, while the user keeps labelling;
the report, the flipped rows, versions and rollback. Real models and training data."""

from __future__ import annotations

import hashlib
import sqlite3
import time

import numpy as np
from PySide6.QtCore import QTimer
from qt_helpers import WAIT

from guiapp.core import models
from guiapp.core.paths import shipped_models_dir
from guiapp.qt.model_dialogs import ModelVersionsDialog, RetrainReportDialog

RETRAIN_WAIT = 600_000


def shipped_hashes() -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(shipped_models_dir().iterdir())
        if p.is_file()
    }


def correct_some(window) -> tuple[np.ndarray, np.ndarray]:
    """Correct the model where it is most sure: flip ten confident predictions each way."""
    c = window.collection
    order = np.argsort(c.spam_prob)
    to_spam, to_ham = order[:10], order[-10:]
    window.label_rows("spam", to_spam, 1)
    window.label_rows("spam", to_ham, 0)
    return to_spam, to_ham


def test_retrain_in_a_worker_while_labelling(qtbot, window):
    before = shipped_hashes()
    c = window.collection
    assert c.has_predictions("spam")
    old_version = c.model_versions["spam"]
    old_prob = c.spam_prob.copy()
    to_spam, to_ham = correct_some(window)

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.retrain(["spam"])
    assert window.runner.is_running("retrain") and not window.act_retrain.isEnabled()
    # keep labelling while it runs: the edits must survive the result
    free = np.setdiff1d(np.arange(100, 120), np.concatenate([to_spam, to_ham]))
    window.label_rows("sentiment", free, 2)
    revision_during = c.revision
    with qtbot.waitSignal(window.retrain_finished, timeout=RETRAIN_WAIT) as finished:
        pass
    timer.stop()
    outcome = finished.args[0]
    gaps = np.diff(ticks)
    assert len(ticks) > 20 and gaps.max() < 0.5, f"the GUI thread stalled {gaps.max():.2f} s"

    report = outcome.reports["spam"]
    assert outcome.revision < revision_during  # trained on the labels before the late edits
    assert report.n_user_labels == 20 and report.n_corrected == 20
    assert report.version != old_version and c.model_versions["spam"] == report.version
    assert set(report.new["per_class"]) == {"ham", "spam"}
    assert np.asarray(report.new["confusion"]).sum() == 20  # cross-validated: every label
    assert report.start["n"] == 20 and report.start_version == "shipped"
    # the table shows the new model's predictions, and the user's labels where given
    assert not np.allclose(c.spam_prob, old_prob)
    assert (c.label("spam")[to_spam] == 1).all() and (c.label("spam")[to_ham] == 0).all()
    moved = c.spam_prob[to_spam].mean() - old_prob[to_spam].mean()
    assert moved > 0  # the model learnt from the corrections
    flipped = np.flatnonzero((old_prob >= 0.5) != (c.spam_prob >= 0.5))
    assert outcome.flipped.tolist() == flipped.tolist()
    # the edits made during the run are kept, in memory and on disk
    assert (c.user["sentiment"][free] == 2).all()
    on_disk = sqlite3.connect(window.project.path)
    saved = dict(on_disk.execute("SELECT row, value FROM labels WHERE task='sentiment'"))
    on_disk.close()
    assert all(saved[int(r)] == 2 for r in free)
    assert window.project.load_json("model_versions")["spam"] == report.version
    # the report, and the filter to exactly the flipped rows
    dialog = window.last_dialog
    assert isinstance(dialog, RetrainReportDialog) and dialog.isVisible()
    # it says which labels it learnt from (the two edits before it started) and that the
    # edit made while it ran is not in the model
    assert "your labels as they were when the retrain started" in dialog.summary.text()
    assert dialog.summary.toolTip() == "The labels after the project's edit 2"
    assert "1 label change you made while it ran is not in these models" in dialog.summary.text()
    dialog.flipped_button.click()
    assert sorted(window.model.order.tolist()) == flipped.tolist()
    assert window.filter_bar.rows_chip.isVisible()
    # a version of this project; the shipped files untouched
    versions = window.project.model_versions("spam")
    assert versions[0].version == report.version and not versions[0].shipped
    assert window.project.active_models()["spam"] == report.version
    assert shipped_hashes() == before

    # roll back to the shipped model from the versions dialog
    window.versions_dialog()
    versions_dialog = window.last_dialog
    assert isinstance(versions_dialog, ModelVersionsDialog)
    shipped_item = None
    parent = versions_dialog.tree.topLevelItem(0)
    for i in range(parent.childCount()):
        if parent.child(i).data(0, 256)[1] == old_version:
            shipped_item = parent.child(i)
    assert shipped_item is not None
    versions_dialog.tree.setCurrentItem(shipped_item)
    with qtbot.waitSignal(window.predictions_applied, timeout=WAIT):
        versions_dialog.use_button.click()
    assert c.model_versions["spam"] == old_version
    np.testing.assert_allclose(c.spam_prob, old_prob, atol=1e-6)
    assert window.project.active_models()["spam"] == models.SHIPPED


def test_cancel_a_retrain(qtbot, window):
    c = window.collection
    old_version = dict(c.model_versions)
    old_prob = c.spam_prob.copy()
    correct_some(window)
    cancelled = []
    window.retrain(["spam", "sentiment"])
    task = window.runner.current("retrain")
    task.on_cancelled = lambda: cancelled.append(True)
    row = window.progress.row("retrain")
    assert row is not None
    qtbot.waitUntil(lambda: row.bar.maximum() > 0 and row.bar.value() > 0, timeout=RETRAIN_WAIT)
    row.cancel.click()
    qtbot.waitUntil(lambda: cancelled == [True], timeout=RETRAIN_WAIT)
    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=RETRAIN_WAIT)
    assert c.model_versions == old_version
    np.testing.assert_array_equal(c.spam_prob, old_prob)
    assert window.last_retrain is None and window.act_retrain.isEnabled()
    assert window.project.active_models()["spam"] == models.SHIPPED


def test_corrected_messages_come_out_corrected_after_retraining(qtbot, window):
    c = window.collection
    to_spam, to_ham = correct_some(window)
    with qtbot.waitSignal(window.retrain_finished, timeout=RETRAIN_WAIT) as finished:
        window.retrain(["spam"])
    report = finished.args[0].reports["spam"]
    # each corrected message comes out corrected, or the report names it and why
    unfitted = set(report.unfitted_rows.tolist())
    for rows, code in ((to_spam, 1), (to_ham, 0)):
        for row in rows:
            assert c.predicted("spam")[row] == code or row in unfitted
    if unfitted:
        assert any("your labels are kept for them" in n for n in report.notes)
    assert len(unfitted) < 10
