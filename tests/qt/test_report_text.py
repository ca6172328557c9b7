"""The retrain report shows its notes as written (no HTML entities leaking into a label)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from guiapp.core.session import TaskReport
from guiapp.qt.model_dialogs import _TaskPage


def test_the_cross_validation_note_is_shown_as_written(qtbot):
    note = "'after' is the new model's accuracy on folds it did not see; <5 labels & more"
    figures = {"n": 12, "accuracy": None, "macro_recall": None, "per_class": {}}
    report = TaskReport(
        task="spam",
        version="spam-2",
        previous="shipped",
        start_version="shipped",
        kept=False,
        n_user_labels=12,
        n_corrected=3,
        method="stratified 5-fold cross-validation <of> 'your' labels",
        new=figures,
        previous_figures=None,
        n_added=0,
        start=figures,
        classes=["ham", "spam"],
        changed_unlabelled=2,
        flipped=2,
        notes=[note],
    )
    page = _TaskPage(report)
    qtbot.addWidget(page)
    texts = [w.text() for w in page.findChildren(QLabel)]
    assert note in texts
    assert "New model measured by stratified 5-fold cross-validation <of> 'your' labels." in texts
    assert not any("&#x27;" in t or "&lt;" in t for t in texts)


def test_the_import_problems_dialog_says_what_happened(qtbot):
    from pathlib import Path

    from guiapp.core.io import load_collection
    from guiapp.qt.dialogs import ProblemsDialog

    bad = Path(__file__).resolve().parents[1] / "fixtures" / "bad" / "mail_broken_boundary.eml"
    result = load_collection([str(bad)])
    dialog = ProblemsDialog(result.problems, len(result.messages), None)
    qtbot.addWidget(dialog)
    head = dialog.findChildren(QLabel)[0].text()
    assert "left out or read only in part" in head and "could not be read" not in head
    reasons = [p.reason for p in result.problems]
    assert any("its text parts were read from the body" in r for r in reasons), reasons
