"""The main window end to end: open, sort and filter, label with keys, bulk label, undo and
redo, export and re-import, reopen the project. Real SMS messages (tests/fixtures/qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from qt_helpers import FIXTURES, SMS, WAIT, make_window, open_file  # noqa: E402

from guiapp.core.io import load_collection
from guiapp.qt.dialogs import ColumnMappingDialog
from guiapp.qt.settings import Settings
from guiapp.qt.table_model import COLUMN_INDEX, ScoreRole


def wait_idle(qtbot, window):
    qtbot.waitUntil(lambda: window.runner.active_count() == 0, timeout=WAIT)


def test_open_file_builds_a_project_in_the_background(window):
    project = window.project
    assert project is not None and project.path.exists()
    assert project.path.parent.name == "projects"
    assert window.model.rowCount() == 300
    assert "sms" in window.windowTitle()
    text = window.model.index(0, COLUMN_INDEX["text"]).data()
    assert text.startswith("URGENT! You have won")
    assert str(project.path) in window.settings.recent_files
    assert window.collection.clustering is not None
    assert window.clusters.tree.topLevelItemCount() == window.collection.clustering.k


def test_ambiguous_text_column_asks_which_column(qtbot, settings):
    window = make_window(qtbot, settings)
    window.open_paths([str(FIXTURES / "two_text_columns.csv")])
    qtbot.waitUntil(
        lambda: isinstance(getattr(window, "last_dialog", None), ColumnMappingDialog), timeout=WAIT
    )
    dialog = window.last_dialog
    assert dialog.isVisible()
    candidates = [dialog.text_combo.itemData(i) for i in range(dialog.text_combo.count())]
    assert candidates[:2] == ["original", "reply"]
    dialog.text_combo.setCurrentIndex(dialog.text_combo.findData("reply"))
    assert dialog.grab().width() > 300
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        dialog.accept()
    assert len(window.collection) == 40
    first_reply = window.collection.messages["text"].iat[0]
    assert first_reply.startswith("U say leh")
    assert "original" in window.collection.extra.columns
    window.close()


def test_drop_files_onto_the_window(qtbot, settings):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    window = make_window(qtbot, settings)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(SMS))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.dropEvent(event)
    assert len(window.collection) == 300
    window.close()


def test_sort_by_score_and_search_filter(qtbot, window):
    model = window.model
    column = COLUMN_INDEX["text"]
    window.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    texts = [model.index(r, column).data() for r in range(model.rowCount())]
    assert texts == sorted(texts, key=str.lower)
    window.filter_bar.search.setText("prize")
    qtbot.waitUntil(lambda: model.rowCount() < 300, timeout=WAIT)
    shown = window.collection.messages["text"].iloc[model.order]
    assert len(shown) and all("prize" in t.lower() for t in shown)
    expected = window.collection.messages["text"].str.lower().str.contains("prize", regex=False)
    assert len(shown) == int(expected.sum())
    # sorting keeps the filter
    window.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    assert model.rowCount() == len(shown)
    window.filter_bar.search.clear()
    qtbot.waitUntil(lambda: model.rowCount() == 300, timeout=WAIT)


def test_typing_in_the_search_box_does_not_label(qtbot, window):
    window.table.go_to_view_row(0)
    window.filter_bar.search.setFocus()
    qtbot.keyClicks(window.filter_bar.search, "sh")
    assert not window.collection.labelled_by_user().any()
    assert window.filter_bar.search.text() == "sh"


def test_label_with_keys_advances_and_undo_redo(qtbot, window):
    table = window.table
    table.setFocus()
    table.go_to_view_row(0)
    first = table.current_store_row()
    qtbot.keyClick(table, Qt.Key.Key_S)
    c = window.collection
    assert c.user["spam"][first] == 1
    # A correction where the model said ham, else a confirmation (never both).
    model_said_spam = bool(c.predicted("spam")[first] == 1)
    assert c.confirmed["spam"][first] == model_said_spam != c.corrected["spam"][first]
    second = table.current_store_row()
    assert second != first and window.model.view_row(second) == 1
    qtbot.keyClick(table, Qt.Key.Key_H)
    third = table.current_store_row()
    qtbot.keyClick(table, Qt.Key.Key_3)
    assert c.user["spam"][second] == 0
    assert c.user["sentiment"][third] == 2
    assert window.model.view_row(table.current_store_row()) == 3
    assert window.act_undo.text() == "Undo: mark 1 message as positive"
    mark = "✎" if c.corrected["spam"][second] or c.corrected["sentiment"][second] else "✓"
    assert window.model.index(1, COLUMN_INDEX["corrected"]).data() == mark
    # multi-row selection: one command, no advance
    table.select_view_rows(np.arange(5, 10), current=5)
    qtbot.keyClick(table, Qt.Key.Key_1)
    rows = window.model.order[5:10]
    assert (c.user["sentiment"][rows] == 0).all()
    assert window.act_undo.text() == "Undo: mark 5 messages as negative"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (c.user["sentiment"][rows] == -1).all()
    assert window.act_redo.text() == "Redo: mark 5 messages as negative"
    qtbot.keyClick(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert (c.user["sentiment"][rows] == 0).all()
    # the edits are on disk: a second connection sees them
    from guiapp.core.project import Project

    again = Project.open(window.project.path, read_only=True)
    try:
        assert again.collection.user["spam"][first] == 1
        assert (again.collection.user["sentiment"][rows] == 0).all()
    finally:
        again.close()


def test_edit_in_table_with_combo_delegate(qtbot, window):
    table = window.table
    index = window.model.index(2, COLUMN_INDEX["spam"])
    table.setCurrentIndex(index)
    table.edit(index)
    editor = QApplication.focusWidget()
    qtbot.waitUntil(lambda: table.indexWidget(index) is not None or editor is not None)
    from PySide6.QtWidgets import QComboBox

    combo = table.findChild(QComboBox)
    assert combo is not None
    combo.setCurrentIndex(combo.findData(1))
    combo.activated.emit(combo.currentIndex())
    store = window.model.store_row(2)
    assert window.collection.user["spam"][store] == 1


def test_bulk_label_cluster_and_filter_result_are_single_steps(qtbot, window):
    c = window.collection
    theme = int(np.bincount(c.cluster[c.cluster >= 0]).argmax())
    members = np.flatnonzero(c.cluster == theme)
    window.label_cluster(theme, "spam", 1)
    assert (c.user["spam"][members] == 1).all()
    assert window.act_undo.text() == f"Undo: mark {len(members):,} messages as spam"
    assert window.editor.stack.count() == 1
    window.editor.stack.undo()
    assert (c.user["spam"][members] == -1).all()
    # the whole filter result
    window.filter_bar.show_cluster(theme)
    assert window.model.rowCount() == len(members)
    window.label_shown("sentiment", 1)
    assert (c.user["sentiment"][members] == 1).all()
    assert c.user["sentiment"][c.cluster != theme].max() == -1
    # the cluster panel filters too
    window.filter_bar.show_cluster(None)
    assert window.model.rowCount() == 300


def test_facets_and_score_range(qtbot, window):
    c = window.collection
    window.label_rows("spam", [3, 4], 1)
    window.filter_bar.corrected.set_selected({True})
    window.filter_bar._emit()
    assert sorted(window.model.order.tolist()) == [3, 4]
    window.filter_bar.clear()
    assert window.model.rowCount() == 300
    if c.has_predictions("spam"):
        window.filter_bar.score.setValue((0.4, 0.6))
        qtbot.waitUntil(lambda: window.model.rowCount() < 300, timeout=5000)
        scores = [
            window.model.index(r, COLUMN_INDEX["spam_score"]).data(ScoreRole)
            for r in range(window.model.rowCount())
        ]
        assert all(0.4 <= s <= 0.6 for s in scores)


def test_export_from_the_window_and_reimport(qtbot, window, tmp_path):
    c = window.collection
    window.label_rows("spam", [0, 7], 1)
    window.label_rows("sentiment", [7, 9], 2)
    everything = tmp_path / "all.csv"
    with qtbot.waitSignal(window.export_finished, timeout=WAIT) as signal:
        window.export(str(everything), "all")
    assert signal.args == [str(everything), 300]
    assert window.notifier.shown[-1].text().startswith("300 messages were written")
    # re-imported into a new project in the window
    open_file(qtbot, window, everything)
    again = window.collection
    assert len(again) == 300
    assert again.messages["text"].tolist() == c.messages["text"].tolist()
    assert again.user["spam"][[0, 7]].tolist() == [1, 1]
    assert again.user["sentiment"][[7, 9]].tolist() == [2, 2]
    assert int(again.labelled_by_user().sum()) == 3


def test_export_scopes(qtbot, window, tmp_path):
    window.label_rows("spam", [0, 7], 1)
    window.label_rows("sentiment", [7, 9], 2)
    window.filter_bar.show_rows(np.arange(20, 60), "some rows")
    window.table.select_view_rows(np.arange(0, 5))
    for scope, expected in (("labelled", 3), ("filter", 40), ("selection", 5)):
        target = tmp_path / f"{scope}.csv"
        with qtbot.waitSignal(window.export_finished, timeout=WAIT) as signal:
            window.export(str(target), scope)
        assert signal.args[1] == expected
        with open(target, encoding="utf-8") as fh:
            assert sum(1 for _ in fh) >= expected + 1


def test_reimport_a_small_export(qtbot, window, tmp_path):
    window.label_rows("spam", [0, 7], 1)
    window.label_rows("sentiment", [7, 9], 2)
    target = tmp_path / "out.csv"
    with qtbot.waitSignal(window.export_finished, timeout=WAIT):
        window.export(str(target), "labelled")
    back = load_collection([str(target)]).messages
    assert back["user_spam"].tolist() == [1, 1, -1]
    assert back["user_sentiment"].tolist() == [-1, 2, 2]


def test_project_saved_and_reopened(qtbot, settings):
    window = make_window(qtbot, settings)
    open_file(qtbot, window)
    window.label_rows("spam", [1, 2, 3], 0)
    window.label_rows("sentiment", [5], 0)
    path = window.project.path
    versions = dict(window.collection.model_versions)
    window.table.setColumnWidth(COLUMN_INDEX["text"], 333)
    window.close()
    again = make_window(qtbot, Settings(settings.store))
    with qtbot.waitSignal(again.project_opened, timeout=WAIT):
        again.open_initial([])
    c = again.collection
    assert again.project.path == path
    assert c.user["spam"][[1, 2, 3]].tolist() == [0, 0, 0]
    # Each label is a correction or a confirmation of the model, and reopens as it was.
    for task, rows in (("spam", [1, 2, 3]), ("sentiment", [5])):
        assert (c.corrected[task][rows] ^ c.confirmed[task][rows]).all()
        assert (
            c.confirmed[task][rows].tolist()
            == (c.predicted(task)[rows] == c.user[task][rows]).tolist()
        )
    assert c.model_versions == versions
    assert c.clustering is not None
    assert again.table.columnWidth(COLUMN_INDEX["text"]) == 333
    again.close()


def test_settings_round_trip_in_a_temporary_store(tmp_path, settings):
    settings.add_recent(tmp_path / "a.triage")
    settings.add_recent(tmp_path / "b.triage")
    settings.add_recent(tmp_path / "a.triage")
    assert [Path(p).name for p in settings.recent_files] == ["a.triage", "b.triage"]
    settings.sync()
    reread = Settings.at(settings.path)
    assert [Path(p).name for p in reread.recent_files] == ["a.triage", "b.triage"]
    assert reread.store.value("meta/schema") is not None
    assert str(tmp_path) in settings.path


def test_settings_migrate_from_version_1(tmp_path):
    from PySide6.QtCore import QSettings

    path = tmp_path / "old.ini"
    old = QSettings(str(path), QSettings.Format.IniFormat)
    old.setValue("last_file", "/data/x.csv")
    old.sync()
    settings = Settings.at(path)
    assert settings.recent_files == ["/data/x.csv"]
    assert settings.store.value("last_file") is None
