"""Child-process workers: results, progress, the core's errors intact, cancel."""

from __future__ import annotations

import time

import numpy as np
import pytest
from qt_helpers import FIXTURES, SMS

from guiapp.core import query, session
from guiapp.core.errors import Cancelled, InputError
from guiapp.core.io import AmbiguousTextColumn
from guiapp.qt.processes import run_in_process


def test_result_and_progress_come_back():
    import pyarrow as pa

    texts = pa.array(["Free prize", "hello", "FREE entry"] * 100_000, pa.large_string())
    progress = []
    mask = run_in_process(
        query.search_mask,
        ({"text": texts}, "free"),
        {},
        on_progress=lambda *a: progress.append(a),
        stop_requested=lambda: False,
    )
    assert mask.tolist() == np.tile([True, False, True], 100_000).tolist()
    assert progress and progress[-1][0] == progress[-1][1] == 300_000


def test_core_errors_keep_their_fields(tmp_path):
    with pytest.raises(AmbiguousTextColumn) as caught:
        run_in_process(
            session.import_to_file,
            ([str(FIXTURES / "two_text_columns.csv")],),
            {"project_path": tmp_path / "p.triage"},
            on_progress=lambda *a: None,
            stop_requested=lambda: False,
        )
    assert caught.value.candidates == ["original", "reply"]
    assert caught.value.file.endswith("two_text_columns.csv")
    assert "Traceback" in caught.value.child_traceback
    with pytest.raises(InputError) as missing:
        run_in_process(
            session.import_to_file,
            ([str(tmp_path / "nothing.csv")],),
            {},
            on_progress=lambda *a: None,
            stop_requested=lambda: False,
        )
    assert missing.value.reason == "no such file or folder"


def test_cancel_stops_the_child_and_leaves_no_project(tmp_path):
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        run_in_process(
            session.import_to_file,
            ([str(SMS)],),
            {"project_path": tmp_path / "p.triage"},
            on_progress=lambda *a: None,
            stop_requested=lambda: time.perf_counter() - started > 0.5,
        )
    assert not (tmp_path / "p.triage").exists()


def summarise(collection, *, on_progress=None, stop_requested=None) -> dict:
    """What a task in the child saw of the collection it was given."""
    return {
        "rows": len(collection),
        "texts": collection.messages["text"].tolist(),
        "spam": collection.user["spam"].tolist(),
        "corrected": collection.corrected["spam"].tolist(),
        "predicted": bool(collection.has_predictions("spam")),
        "revision": collection.revision,
    }


@pytest.mark.parametrize("in_process", [True, False])
def test_a_collection_ref_gives_the_task_the_snapshot_and_the_texts_from_the_file(
    project, in_process
):
    from guiapp.core.commands import set_label
    from guiapp.qt.processes import CollectionRef

    c = project.collection
    project.apply(set_label(c, "spam", [1, 4], "spam"))
    ref = CollectionRef.of(project, needs=("labels",))
    project.apply(set_label(c, "spam", [2], "spam"))  # after the snapshot: not in it
    if in_process:
        seen = run_in_process(
            summarise, (ref,), {}, on_progress=lambda *a: None, stop_requested=lambda: False
        )
        assert ref.files == {}  # the files were a copy's, removed with their folder
    else:
        seen = summarise(ref.resolve())
    assert seen["rows"] == len(c)
    assert seen["texts"] == c.messages["text"].tolist()
    assert [i for i, v in enumerate(seen["spam"]) if v == 1] == [1, 4]
    assert [i for i, v in enumerate(seen["corrected"]) if v] == [1, 4]
    assert not seen["predicted"]  # predictions were not asked for
    assert seen["revision"] == 1
