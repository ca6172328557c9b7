"""Review mode in the window: keys label and move on in queue order, skip and back, undo,
what is left, the other orders, and the automatic retrain every N labels (a real retrain
of the real spam model, on the SMS fixture of tests/qt/conftest.py)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from qt_helpers import WAIT

from guiapp.core import review
from guiapp.core.messages import NO_LABEL
from guiapp.qt.model_dialogs import RetrainReportDialog

RETRAIN_WAIT = 600_000


def start_review(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=WAIT)
    window.act_review.trigger()
    panel = window.review
    assert panel.active and panel.isVisible() and not window.splitter.isVisible()
    return panel


def expected_queue(window, panel, task="spam"):
    c = window.collection
    prob = review.class_probabilities(task, c.spam_prob if task == "spam" else c.sentiment_prob)
    return review.least_confident_queue(
        prob, c.user[task], seed=panel.seed, warm_up=panel.warm_up
    ).tolist()


def press(qtbot, panel, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(panel, key, modifier)


def test_keys_label_and_move_on_in_queue_order(qtbot, window):
    c = window.collection
    panel = start_review(qtbot, window)
    queue = expected_queue(window, panel)
    assert panel.queue.tolist() == queue and len(queue) == len(c) == 300
    assert panel.current == queue[0] and panel.left() == 300
    assert "300</b> left" in panel.left_label.text()
    assert "random warm-up: 30 to go" in panel.left_label.text()
    assert panel.text.toPlainText() == c.messages["text"].iat[queue[0]]

    press(qtbot, panel, Qt.Key.Key_S)
    given = c.corrected["spam"][queue[0]] or c.confirmed["spam"][queue[0]]
    assert c.user["spam"][queue[0]] == 1 and given
    assert window.editor.stack.count() == 1  # one undoable command per label
    assert panel.current == queue[1] and panel.left() == 299
    press(qtbot, panel, Qt.Key.Key_H)
    assert c.user["spam"][queue[1]] == 0 and panel.current == queue[2]
    assert "298</b> left" in panel.left_label.text()

    press(qtbot, panel, Qt.Key.Key_Space)  # skip: no label, next message
    assert c.user["spam"][queue[2]] == NO_LABEL and panel.current == queue[3]
    assert panel.left() == 297  # the skipped one is behind
    press(qtbot, panel, Qt.Key.Key_Backspace)  # back to the skipped one
    assert panel.current == queue[2] and panel.left() == 298
    press(qtbot, panel, Qt.Key.Key_Backspace)  # and to the one labelled ham
    assert panel.current == queue[1]
    press(qtbot, panel, Qt.Key.Key_S)  # relabel it: spam now, on to the next
    assert c.user["spam"][queue[1]] == 1 and panel.current == queue[2]

    # the other task's key labels the message on screen without moving the queue
    press(qtbot, panel, Qt.Key.Key_3)
    assert c.user["sentiment"][queue[2]] == 2 and panel.current == queue[2]
    assert c.user["spam"][queue[2]] == NO_LABEL

    # Esc leaves the mode; the table shows where the review got to
    press(qtbot, panel, Qt.Key.Key_Escape)
    assert not panel.active and window.splitter.isVisible() and not window.act_review.isChecked()
    assert window.table.current_store_row() == queue[1]
    # Ctrl+Shift+R from the table enters it again: a new queue of what is unlabelled
    qtbot.keyClick(
        window.table,
        Qt.Key.Key_R,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert panel.active and window.act_review.isChecked()
    assert panel.current == expected_queue(window, panel)[0] and panel.left() == 298


def test_undo_shows_the_message_again_and_redo_moves_on(qtbot, window):
    c = window.collection
    panel = start_review(qtbot, window)
    queue = panel.queue.tolist()
    press(qtbot, panel, Qt.Key.Key_S)
    press(qtbot, panel, Qt.Key.Key_H)
    assert panel.current == queue[2] and panel.left() == 298
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.user["spam"][queue[1]] == NO_LABEL
    assert panel.current == queue[1] and panel.left() == 299 and panel.labelled_here == 1
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.user["spam"][queue[0]] == NO_LABEL and panel.current == queue[0]
    assert panel.left() == 300
    window.act_redo.trigger()
    assert c.user["spam"][queue[0]] == 1 and panel.current == queue[1]
    assert panel.left() == 299


def test_warm_up_counts_only_the_tasks_labels(qtbot, window):
    c = window.collection
    window.label_rows("sentiment", np.arange(40), 1)  # sentiment labels: no spam warm-up
    panel = start_review(qtbot, window)
    assert "random warm-up: 30 to go" in panel.left_label.text()
    window.set_review_mode(False)
    window.label_rows("spam", np.arange(30), 0)
    panel = start_review(qtbot, window)
    assert "warm-up" not in panel.left_label.text()
    queue = panel.queue
    assert panel.queue.tolist() == expected_queue(window, panel)
    assert not np.isin(queue, np.arange(30)).any() and len(queue) == 270
    margin = np.abs(c.spam_prob[queue].astype(np.float64) - 0.5)
    assert (np.diff(margin) >= 0).all()  # least confident first from the start


def test_sentiment_random_and_likely_mislabelled_orders(qtbot, window):
    c = window.collection
    panel = start_review(qtbot, window)
    panel.task_box.setCurrentIndex(panel.task_box.findData("sentiment"))
    assert panel.queue.tolist() == expected_queue(window, panel, "sentiment")
    press(qtbot, panel, Qt.Key.Key_2)
    assert c.user["sentiment"][panel.history[-1]] == 1

    panel.order_box.setCurrentIndex(panel.order_box.findData("random"))
    assert panel.queue.tolist() == review.random_queue(c.user["sentiment"], seed=0).tolist()

    # likely mislabelled: label every message as the model sees it, four of them wrongly
    panel.task_box.setCurrentIndex(panel.task_box.findData("spam"))
    predicted = c.predicted("spam")
    rows = np.arange(len(c))
    flipped = np.concatenate(
        [np.flatnonzero(predicted == 1)[:2], np.flatnonzero(predicted == 0)[:2]]
    )
    window.label_rows("spam", np.flatnonzero(predicted == 1), 1)
    window.label_rows("spam", np.flatnonzero(predicted == 0), 0)
    window.label_rows("spam", flipped[:2], 0)
    window.label_rows("spam", flipped[2:], 1)
    with qtbot.waitSignal(panel.queue_rebuilt, timeout=WAIT):
        panel.order_box.setCurrentIndex(panel.order_box.findData("mislabelled"))
    queue = panel.queue.tolist()
    assert set(queue) <= set(rows.tolist())
    assert len(set(queue) & set(flipped.tolist())) >= 3, (queue, flipped)
    assert panel.left() == len(queue) and "cross-validated" in panel.header.text()
    first = panel.current
    press(qtbot, panel, Qt.Key.Key_S if c.user["spam"][first] == 0 else Qt.Key.Key_H)
    assert panel.left() == len(queue) - 1 and panel.current != first


def test_retrain_every_n_labels_in_the_background_and_queue_follows(qtbot, window):
    c = window.collection
    window.label_rows("spam", np.arange(30), 0)  # past the warm-up: the order is the model's
    panel = start_review(qtbot, window)
    panel.auto_retrain.setChecked(True)
    panel.retrain_every.setValue(3)
    before = c.spam_prob.copy()
    press(qtbot, panel, Qt.Key.Key_S)
    press(qtbot, panel, Qt.Key.Key_S)
    assert not window.runner.is_running("retrain")
    assert "retrain in 1" in panel.left_label.text()
    with qtbot.waitSignal(panel.queue_rebuilt, timeout=RETRAIN_WAIT):
        with qtbot.waitSignal(window.retrain_finished, timeout=RETRAIN_WAIT):
            press(qtbot, panel, Qt.Key.Key_H)
            assert window.runner.is_running("retrain") and panel.retrains == 1
            shown = panel.current
            # labelling goes on while it runs
            press(qtbot, panel, Qt.Key.Key_H)
            assert c.user["spam"][shown] == 0
    assert not np.allclose(c.spam_prob, before)  # new predictions
    assert not isinstance(getattr(window, "last_dialog", None), RetrainReportDialog)
    # the queue is the new least-confident order of what is still unlabelled, the message
    # on screen kept in front
    current = panel.current
    assert c.user["spam"][current] == NO_LABEL and panel.position == 0
    rest = [r for r in expected_queue(window, panel) if r != current]
    assert panel.queue.tolist() == [current, *rest]
    assert panel.left() == int((c.user["spam"] == NO_LABEL).sum())


def test_a_big_collection_gets_its_queue_from_a_worker(qtbot, window, monkeypatch):
    from guiapp.qt import review as review_panel

    monkeypatch.setattr(review_panel, "SYNC_ROWS", 0)  # as if the fixture had a million rows
    with qtbot.waitSignal(window.review.queue_rebuilt, timeout=WAIT):
        panel = start_review(qtbot, window)
        assert panel.current == -1 and "Ordering 300 messages" in panel.header.text()
    assert panel.queue.tolist() == expected_queue(window, panel)
    assert panel.current == panel.queue[0]
    press(qtbot, panel, Qt.Key.Key_S)
    assert window.collection.user["spam"][panel.queue[0]] == 1
