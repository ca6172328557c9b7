"""The message table model: Qt's model checks, roles, sorting and filtering in the model."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPersistentModelIndex, Qt

from guiapp.core import query
from guiapp.core.commands import set_label
from guiapp.qt.table_model import (
    COLUMN_INDEX,
    LabelCodeRole,
    LabelSourceRole,
    MessageTableModel,
    ScoreRole,
    StoreRowRole,
)


def test_qtmodeltester(qtmodeltester, collection):
    model = MessageTableModel(collection)
    qtmodeltester.check(model, force_py=True)
    model.sort(COLUMN_INDEX["spam_score"], Qt.SortOrder.DescendingOrder)
    model.set_mask(collection.spam_prob > 0.5)
    qtmodeltester.check(model, force_py=True)


def test_roles_read_the_collection(collection):
    collection.user["spam"][2] = 0  # the user says ham where the model says spam
    model = MessageTableModel(collection)
    spam = model.index(2, COLUMN_INDEX["spam"])
    assert spam.data() == "ham"
    assert spam.data(LabelSourceRole) == "user"
    assert spam.data(Qt.ItemDataRole.EditRole) == 0
    other = model.index(5, COLUMN_INDEX["spam"])
    assert other.data() == "spam" and other.data(LabelSourceRole) == "model"
    score = model.index(5, COLUMN_INDEX["spam_score"])
    assert abs(score.data(ScoreRole) - float(collection.spam_prob[5])) < 1e-6
    assert score.data() == f"{collection.spam_prob[5]:.2f}"
    text = model.index(0, COLUMN_INDEX["text"]).data()
    assert text.startswith("Go until jurong point")
    assert model.index(0, COLUMN_INDEX["cluster"]).data() == "1"
    assert model.flags(spam) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(model.index(0, COLUMN_INDEX["text"])) & Qt.ItemFlag.ItemIsEditable
    assert model.index(0, 0).data(Qt.ItemDataRole.UserRole + 99) is None


def test_sort_by_score_is_a_stable_permutation_with_missing_last(collection):
    collection.spam_prob[3] = np.nan
    model = MessageTableModel(collection)
    column = COLUMN_INDEX["spam_score"]
    model.sort(column, Qt.SortOrder.DescendingOrder)
    shown = [model.index(r, column).data(ScoreRole) for r in range(model.rowCount())]
    assert shown[-1] is None
    values = shown[:-1]
    assert values == sorted(values, reverse=True)
    model.sort(column, Qt.SortOrder.AscendingOrder)
    shown = [model.index(r, column).data(ScoreRole) for r in range(model.rowCount())]
    assert shown[-1] is None and shown[:-1] == sorted(shown[:-1])
    assert sorted(model.order.tolist()) == list(range(len(collection)))


def test_sort_text_is_case_insensitive(collection):
    model = MessageTableModel(collection)
    column = COLUMN_INDEX["text"]
    model.sort(column, Qt.SortOrder.AscendingOrder)
    texts = [collection.messages["text"].iat[s] for s in model.order]
    assert texts == sorted(texts, key=str.lower)


def test_filter_keeps_sort_and_persistent_indexes_follow_rows(collection):
    model = MessageTableModel(collection)
    model.sort(COLUMN_INDEX["spam_score"], Qt.SortOrder.DescendingOrder)
    target = int(np.flatnonzero(collection.spam_prob > 0.5)[-1])
    persistent = QPersistentModelIndex(model.index(model.view_row(target), 2))
    lost = QPersistentModelIndex(
        model.index(model.view_row(int(np.argmin(collection.spam_prob))), 2)
    )
    model.set_mask(collection.spam_prob > 0.5)
    assert model.rowCount() == int((collection.spam_prob > 0.5).sum())
    assert persistent.isValid() and persistent.data(StoreRowRole) == target
    assert not lost.isValid()
    scores = collection.spam_prob[model.order]
    assert (np.diff(scores) <= 0).all()
    model.set_mask(None)
    assert model.rowCount() == len(collection)


def test_search_and_facets(collection):
    columns = {k: query.arrow_strings(collection.messages[k]) for k in query.SEARCH_COLUMNS}
    mask = query.search_mask(columns, "WIN free")
    hits = collection.messages["text"][mask].tolist()
    assert hits and all("win" in t.lower() and "free" in t.lower() for t in hits)
    assert query.search_mask(columns, "   ") is None
    spec = query.FilterSpec(spam=frozenset({1}), clusters=frozenset({0}))
    facet = query.facet_mask(collection, spec)
    assert (collection.label("spam")[facet] == 1).all()
    assert (collection.cluster[facet] == 0).all()


def test_setdata_goes_through_the_label_editor(collection):
    model = MessageTableModel(collection)
    calls = []

    def editor(task, rows, code):
        calls.append((task, rows.tolist(), code))
        set_label(collection, task, rows, code).apply_to(collection)
        model.labels_changed(task)
        return True

    model.sort(COLUMN_INDEX["spam_score"], Qt.SortOrder.AscendingOrder)
    index = model.index(0, COLUMN_INDEX["sentiment"])
    store = index.data(StoreRowRole)
    assert model.setData(index, 2, Qt.ItemDataRole.EditRole) is False  # no editor yet
    model.label_editor = editor
    assert model.setData(index, 2, Qt.ItemDataRole.EditRole)
    assert calls == [("sentiment", [store], 2)]
    assert index.data() == "positive" and index.data(LabelCodeRole) == 2
    assert model.index(0, COLUMN_INDEX["corrected"]).data() == "✎"


def test_text_sort_both_directions_is_stable_with_empty_last():
    import pyarrow as pa

    values = ["b", "", "A", "a", "c", "", "B"]
    array = pa.array(values, pa.large_string())
    ascending = query.string_permutation(array, False).tolist()
    assert [values[i] for i in ascending] == ["A", "a", "b", "B", "c", "", ""]
    assert ascending == [2, 3, 0, 6, 4, 1, 5]  # ties keep store order
    descending = query.string_permutation(array, True).tolist()
    assert [values[i] for i in descending] == ["c", "b", "B", "A", "a", "", ""]
    assert descending == [4, 0, 6, 2, 3, 1, 5]
    no_empty = pa.array(["b", "a"], pa.large_string())
    assert query.string_permutation(no_empty, True).tolist() == [0, 1]


def test_integer_sort_keys_match_the_float_order():
    """Label codes and flags sort by a 16-bit radix key: the same stable order as sorting
    them as floats, -1 (no label) last in both directions; wide integers too."""
    rng = np.random.default_rng(7)
    for values in (
        rng.integers(-1, 3, 5000).astype(np.int8),
        rng.integers(0, 2, 5000).astype(bool),
        rng.integers(-1, 40, 5000).astype(np.int32),
        rng.integers(-1, 10**6, 5000).astype(np.int64),
    ):
        for descending in (False, True):
            key = values.astype(np.float64)
            key = -key if descending else key
            key[values == -1] = np.inf
            expected = np.argsort(key, kind="stable")
            assert np.array_equal(query.numeric_permutation(values, descending), expected)


def test_a_new_view_does_not_sort_its_model(qtbot, collection):
    """Enabling sorting sorts by the header's indicator: with none set first, every new
    collection was sorted by the first column (a million-row argsort on the GUI thread)."""
    from guiapp.qt.table_view import MessageTableView

    model = MessageTableModel()
    view = MessageTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.set_collection(collection)
    assert model.sort_state is None
    assert model.order.tolist() == list(range(len(collection)))
    model.sort(COLUMN_INDEX["spam_score"], Qt.SortOrder.DescendingOrder)
    assert model.sort_state is not None
    model.sort(-1)  # Qt's "no sort column": store order again
    assert model.sort_state is None
    assert model.order.tolist() == list(range(len(collection)))
