"""Themes panel, recent projects, shortcuts and remembered layout."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from qt_helpers import FIXTURES, SMS, WAIT, make_window, open_file

from guiapp.qt.dialogs import ExportDialog, RetrainDialog
from guiapp.qt.settings import Settings


def test_clicking_a_theme_filters_the_table(qtbot, window):
    c = window.collection
    tree = window.clusters.tree
    item = tree.topLevelItem(1)
    assert item.text(0) == "2" and int(item.text(1).replace(",", "")) == int((c.cluster == 1).sum())
    tree.setCurrentItem(item)
    assert window.model.rowCount() == int((c.cluster == 1).sum())
    assert (c.cluster[window.model.order] == 1).all()
    assert window.filter_bar.cluster.selected() == frozenset({1})
    window.clusters.show_all.click()
    assert window.model.rowCount() == len(c)


def test_regroup_with_a_chosen_k_runs_in_the_background(qtbot, window):
    window.clusters.k_box.setValue(4)
    with qtbot.waitSignal(window.clustering_applied, timeout=WAIT):
        window.clusters.run_button.click()
        assert window.runner.is_running("cluster")
        assert not window.clusters.run_button.isEnabled()
    c = window.collection
    assert c.clustering.k == 4 and window.clusters.tree.topLevelItemCount() == 4
    assert set(np.unique(c.cluster)) <= {-1, 0, 1, 2, 3}
    assert window.project.load_json("cluster_k") == 4
    # saved with the project
    from guiapp.core import session

    restored = session.restore_clustering(window.project)
    assert restored.k == 4 and restored.top_terms == c.clustering.top_terms


def test_regroup_leaves_labelled_messages_out_of_the_fit(qtbot, window):
    window.label_rows("spam", np.arange(0, 150), 0)
    window.clusters.k_box.setValue(3)
    with qtbot.waitSignal(window.clustering_applied, timeout=WAIT):
        window.recluster(3)
    assert window.collection.clustering.fitted_rows <= 150


def test_open_recent_project(qtbot, window, settings):
    first = window.project.path
    window.filter_bar.clear()
    window._fill_recent_menu()
    actions = [a for a in window.recent_menu.actions() if a.toolTip() == str(first)]
    assert actions
    window.open_paths([str(SMS)])  # the same file again: asks, and imports a second project
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.last_dialog.new_button.click()
    assert window.project.path != first
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        actions[0].trigger()
    assert window.project.path == first


def test_shortcuts(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.filter_bar.search.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert isinstance(window.last_dialog, ExportDialog) and window.last_dialog.isVisible()
    window.last_dialog.reject()
    window.table.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert isinstance(window.last_dialog, RetrainDialog) and window.last_dialog.isVisible()
    window.last_dialog.reject()
    keys = {a.text(): a.shortcut().toString() for a in window.label_menu.actions() if a.text()}
    assert keys["Mark as &Spam"] == "S" and keys["Mark as &Positive"] == "3"


def test_layout_is_remembered(qtbot, settings):
    window = make_window(qtbot, settings)
    window.resize(1111, 777)
    window.splitter.setSizes([200, 700, 211])
    sizes = window.splitter.sizes()
    window.close()
    again = make_window(qtbot, Settings(settings.store))
    assert again.size().width() == 1111 and again.size().height() == 777
    assert again.splitter.sizes() == sizes
    again.close()


def test_predict_again_in_a_child_process_gives_the_same_predictions(qtbot, window):
    c = window.collection
    before = c.spam_prob.copy(), c.sentiment_prob.copy()
    c.spam_prob[:] = np.nan  # as after a model that could not be loaded
    window.filter_bar.spam.set_selected({1})
    window.filter_bar._emit()
    assert window.model.rowCount() == 0
    with qtbot.waitSignal(window.predictions_applied, timeout=WAIT):
        window.act_predict.trigger()
    np.testing.assert_allclose(c.spam_prob, before[0], atol=1e-6)
    np.testing.assert_allclose(c.sentiment_prob, before[1], atol=1e-6)
    assert window.model.rowCount() == int((c.spam_prob >= 0.5).sum()) > 0


def test_save_project_as_and_open_it(qtbot, window, tmp_path):
    window.label_rows("spam", [4, 5], 1)
    original = window.project.path
    target = tmp_path / "copy"
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.save_project_to(target)
    assert window.project.path == tmp_path / "copy.triage"
    assert window.collection.user["spam"][[4, 5]].tolist() == [1, 1]
    window.label_rows("spam", [6], 1)  # edits go to the copy now
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_paths([str(original)])
    assert window.collection.user["spam"][6] == -1
    assert window.collection.user["spam"][[4, 5]].tolist() == [1, 1]


def test_opening_another_project_clears_the_filters(qtbot, window, tmp_path):
    window.filter_bar.kind.set_selected({"text"})
    window.filter_bar.show_rows(np.arange(10), "ten rows")
    assert window.model.rowCount() == 10
    open_file(qtbot, window, FIXTURES.parent / "bad" / "csv_ragged_rows.csv")
    assert window.model.rowCount() == len(window.collection) == 2
    assert window.filter_bar.spec().is_empty()
    assert not window.filter_bar.rows_chip.isVisible()


def test_k_belongs_to_its_project(qtbot, window):
    first = window.project.path
    window.clusters.k_box.setValue(4)
    with qtbot.waitSignal(window.clustering_applied, timeout=WAIT):
        window.clusters.run_button.click()
    other = FIXTURES.parent / "sms" / "sms_labelled.csv"
    open_file(qtbot, window, other)
    assert window.clusters.k() == "auto"  # not the 4 typed for the other project
    with qtbot.waitSignal(window.project_opened, timeout=WAIT):
        window.open_project(first)
    assert window.clusters.k() == 4
