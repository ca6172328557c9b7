"""Models ▸ Export Model…, Import Model…, and models that cannot be used (a one-click
retrain). Real models, real child processes; dialogs driven without blocking (they open
with ``open()``; the file dialogs' getters are replaced)."""

from __future__ import annotations

import json
import shutil

import numpy as np
from model_helpers import damaged_version
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog
from qt_helpers import WAIT, make_window, open_file

from guiapp.core import models
from guiapp.qt.model_dialogs import ExportModelDialog, ImportModelDialog, ModelProblemsDialog

RETRAIN_WAIT = 600_000


def ok(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def choose_file(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def last_box(window):
    return window.notifier.shown[-1] if window.notifier.shown else None


def next_box(qtbot, window, click):
    """Click, then wait for the next message box the window shows (and return it)."""
    count = len(window.notifier.shown)
    click()
    qtbot.waitUntil(lambda: len(window.notifier.shown) > count, timeout=WAIT)
    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=WAIT)
    return window.notifier.shown[-1]


def user_versions(window, task: str) -> list[str]:
    return [v.version for v in window.project.model_versions(task) if not v.shipped]


def export_from_window(qtbot, window, task: str, target) -> tuple[str, str]:
    window.export_model_dialog()
    dialog = window.last_dialog
    assert isinstance(dialog, ExportModelDialog) and dialog.isVisible()
    dialog.select(task)
    dialog.path_edit.setText(str(target))
    with qtbot.waitSignal(window.model_exported, timeout=WAIT) as exported:
        ok(dialog).click()
    return exported.args


# ------------------------------------------------------------------------- the menu
def test_the_menu_items_need_a_project(qtbot, settings):
    window = make_window(qtbot, settings)
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Models")
    texts = [a.text() for a in menu.actions()]
    assert "&Import Model…" in texts and "E&xport Model…" in texts
    # their mnemonics are not taken by another item of the menu
    letters = [t[t.index("&") + 1].lower() for t in texts if "&" in t]
    assert letters.count("i") == 1 and letters.count("x") == 1
    assert window.act_import_model.shortcut().toString() == "Ctrl+Shift+I"
    assert window.act_export_model.shortcut().toString() == "Ctrl+Shift+E"
    assert not window.act_import_model.isEnabled() and not window.act_export_model.isEnabled()
    window.export_model_dialog()
    window.import_model_dialog()
    assert getattr(window, "last_dialog", None) is None
    open_file(qtbot, window)
    assert window.act_import_model.isEnabled() and window.act_export_model.isEnabled()
    window.close()


# ------------------------------------------------------------------------- round trip
def test_export_then_import_round_trip(qtbot, window, tmp_path, monkeypatch):
    c = window.collection
    shipped = c.model_versions["spam"]
    old_prob = c.spam_prob.copy()

    # the dialog offers every version, the one in use first chosen
    window.export_model_dialog()
    dialog = window.last_dialog
    assert dialog.task() == "spam" and dialog.version() == shipped
    assert dialog.version_combo.currentText().endswith("in use")
    assert dialog.path().endswith(f"{shipped}.skops")
    dialog.select("sentiment")
    assert dialog.version() == c.model_versions["sentiment"]
    assert dialog.path().endswith(f"{c.model_versions['sentiment']}.skops")
    dialog.reject()

    skops, card = export_from_window(qtbot, window, "spam", tmp_path / "for-a-colleague")
    assert skops == str(tmp_path / "for-a-colleague.skops")
    assert card == str(tmp_path / "for-a-colleague.card.json")
    assert (tmp_path / "for-a-colleague.skops").stat().st_size > 100_000
    assert json.loads((tmp_path / "for-a-colleague.card.json").read_text())["task"] == "spam"
    done = last_box(window)
    assert done.windowTitle() == "Model exported" and str(tmp_path) in done.text()
    assert "for-a-colleague.skops" in done.text() and "for-a-colleague.card.json" in done.text()
    done.accept()
    assert user_versions(window, "spam") == []  # exporting adds nothing

    # import it: the card is shown, then checked, added, made current, predicted with
    choose_file(monkeypatch, skops)
    window.import_model_dialog()
    dialog = window.last_dialog
    assert isinstance(dialog, ImportModelDialog) and dialog.isVisible()
    assert dialog.fields["Model"].text() == "Spam model"
    assert dialog.fields["Classes"].text() == "ham, spam"
    assert dialog.fields["Version"].text() == shipped
    assert "accuracy" in dialog.fields["Quality"].text()
    assert dialog.use_now()
    with qtbot.waitSignal(window.model_imported, timeout=WAIT) as imported:
        with qtbot.waitSignal(window.predictions_applied, timeout=WAIT):
            ok(dialog).click()
    version = imported.args[0]
    assert user_versions(window, "spam") == [version.version]
    assert window.project.active_models()["spam"] == version.version
    assert version.origin["kind"] == "imported"
    assert c.model_versions["spam"] == version.version
    assert window.project.load_json("model_versions")["spam"] == version.version
    # the same model: the same predictions
    np.testing.assert_allclose(c.spam_prob, old_prob, atol=1e-6)
    assert not window.model_problems

    # imported without "use it now": added, not made current
    skops2, _ = export_from_window(qtbot, window, "sentiment", tmp_path / "sentiment-model")
    last_box(window).accept()
    choose_file(monkeypatch, skops2)
    window.import_model_dialog()
    dialog = window.last_dialog
    dialog.use_box.setChecked(False)
    sentiment_before = c.model_versions["sentiment"]
    with qtbot.waitSignal(window.model_imported, timeout=WAIT) as imported:
        ok(dialog).click()
    assert user_versions(window, "sentiment") == [imported.args[0].version]
    assert window.project.active_models()["sentiment"] == models.SHIPPED
    assert c.model_versions["sentiment"] == sentiment_before
    assert last_box(window).windowTitle() == "Model imported"


def test_an_export_that_cannot_be_written_says_where_and_why(qtbot, window, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "plain").write_text("a file, not a folder")
    target = out / "plain" / "model"
    window.export_model_dialog()
    dialog = window.last_dialog
    dialog.path_edit.setText(str(target))
    ok(dialog).click()
    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=WAIT)
    box = last_box(window)
    assert box is not None and box.windowTitle() == "Export failed"
    assert str(target) + ".skops" in box.text()
    assert list(out.iterdir()) == [out / "plain"]


# ------------------------------------------------------------------------- refusals
def state(window) -> tuple:
    c = window.collection
    return (
        {t: user_versions(window, t) for t in ("spam", "sentiment")},
        window.project.active_models(),
        dict(c.model_versions),
        c.spam_prob.copy(),
    )


def assert_same(before, after) -> None:
    assert before[:3] == after[:3]
    np.testing.assert_array_equal(before[3], after[3])


def test_refused_imports_say_which_file_and_why_and_change_nothing(
    qtbot, window, tmp_path, monkeypatch
):
    skops, card = export_from_window(qtbot, window, "spam", tmp_path / "good")
    last_box(window).accept()
    before = state(window)

    # a text file renamed .skops: no card, refused before anything is shown
    notes = tmp_path / "notes.skops"
    notes.write_text("remember to buy milk\n")
    choose_file(monkeypatch, notes)
    window.import_model_dialog()
    box = last_box(window)
    assert box.windowTitle() == "Model not imported" and box.isVisible()
    assert str(notes) in box.text() and "card of the shared model is missing" in box.text()
    assert not isinstance(window.__dict__.get("last_dialog"), ImportModelDialog)
    box.accept()

    # the same text file under a real card's file name: the card is shown, the file is
    # then refused (it is not the file the card describes)
    fake = tmp_path / "fake"
    fake.mkdir()
    shutil.copy(notes, fake / "good.skops")
    shutil.copy(card, fake / "good.card.json")
    window.import_model_file(fake / "good.skops")
    dialog = window.last_dialog
    assert isinstance(dialog, ImportModelDialog)
    box = next_box(qtbot, window, ok(dialog).click)
    assert box.windowTitle() == "Model not imported"
    assert "SHA-256" in box.text() and str(fake / "good.skops") in box.text()
    box.accept()

    # a tampered card: a spam model passed off as a sentiment model
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    shutil.copy(skops, tampered / "good.skops")
    data = json.loads(open(card).read())
    data["task"], data["classes"] = "sentiment", ["negative", "neutral", "positive"]
    (tampered / "good.card.json").write_text(json.dumps(data))
    window.import_model_file(tampered / "good.skops")
    dialog = window.last_dialog
    assert dialog.fields["Model"].text() == "Sentiment model"  # what the card claims
    box = next_box(qtbot, window, ok(dialog).click)
    assert box.windowTitle() == "Model not imported"
    assert "does not fit a sentiment model" in box.text()
    box.accept()

    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=WAIT)
    assert_same(before, state(window))


# ------------------------------------------------------------------------- unusable models
def test_a_damaged_model_offers_a_retrain_that_fixes_it(qtbot, window):
    c = window.collection
    damaged = damaged_version(window.project, "spam")
    with qtbot.waitSignal(window.predictions_applied, timeout=WAIT):
        window.predict_all()  # the spam model in use cannot be loaded
    dialog = window.model_problems_dialog
    assert isinstance(dialog, ModelProblemsDialog) and dialog.isVisible()
    assert list(dialog.errors) == ["spam"] and dialog.retrain_tasks == ["spam"]
    assert "SHA-256" in dialog.text.text() and damaged in dialog.text.text()
    assert dialog.retrain_button is not None
    window._update_counts()
    assert "the model in use cannot be loaded" in window.counts_label.text()
    assert "SHA-256" in window.counts_label.toolTip()

    with qtbot.waitSignal(window.retrain_finished, timeout=RETRAIN_WAIT) as finished:
        dialog.retrain_button.click()
    outcome = finished.args[0]
    assert list(outcome.reports) == ["spam"]  # exactly the task that could not be used
    assert any("could not be loaded" in n for n in outcome.reports["spam"].notes)
    assert window.project.active_models()["spam"] == "shipped"
    assert c.model_versions["spam"] == "shipped"
    assert c.has_predictions("spam") and not window.model_problems
    window._update_counts()
    assert "cannot be loaded" not in window.counts_label.text()
    shipped = models.predict_proba(models.load_shipped("spam"), c.messages)
    np.testing.assert_allclose(c.spam_prob, shipped, atol=1e-5)


def test_not_now_keeps_working_without_those_models(qtbot, window):
    c = window.collection
    old = dict(c.model_versions)
    old_prob = c.spam_prob.copy()
    damaged_version(window.project, "spam")
    damaged_version(window.project, "sentiment")
    shown = []
    window.model_problems_shown.connect(shown.append)
    with qtbot.waitSignal(window.predictions_applied, timeout=WAIT):
        window.predict_all()
    assert len(shown) == 1  # one dialog for the occasion, both models in it
    dialog = shown[0]
    assert list(dialog.errors) == ["spam", "sentiment"]
    assert dialog.retrain_tasks == ["spam", "sentiment"]
    assert dialog.text.text().count("SHA-256") == 2
    dialog.later_button.click()
    assert not dialog.isVisible() and not window.runner.is_running("retrain")
    # the predictions shown are still those of the models that made them
    assert c.model_versions == old
    np.testing.assert_array_equal(c.spam_prob, old_prob)
    window._update_counts()
    assert "the model in use cannot be loaded" in window.counts_label.text()
    # the status bar's link shows the dialog again
    window.counts_label.linkActivated.emit("model-problems")
    assert window.model_problems_dialog is not dialog
    assert window.model_problems_dialog.isVisible()
    window.model_problems_dialog.reject()
