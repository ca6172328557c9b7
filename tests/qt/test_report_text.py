"""The retrain report shows its notes as written (no HTML entities leaking into a label)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from guiapp.core.session import TaskReport
from guiapp.qt.model_dialogs import _TaskPage


def test_the_cross_validation_note_is_shown_as_written(qtbot):
    note = "'after' is the new model's accuracy on folds it did not see; <5 labels & more"
    report = TaskReport(
        task="spam",
        version="v2",
        previous="",
        n_user_labels=12,
        n_corrected=3,
        cv={"before": {}, "after": {}, "method": "5-fold", "note": note},
        classes=["ham", "spam"],
        per_class={},
        confusion=[[0, 0], [0, 0]],
        flipped=0,
    )
    page = _TaskPage(report)
    qtbot.addWidget(page)
    labels = [w for w in page.findChildren(QLabel) if w.text() == note]
    assert len(labels) == 1
    assert "&#x27;" not in labels[0].text() and labels[0].grab().width() > 0


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
    assert any("the whole body is kept as the text" in r for r in reasons), reasons
