"""Exporting a model where it cannot be written: a clear ExportError naming the path and
the reason, nothing left behind, an earlier export at that path unchanged; Cancel too."""

from __future__ import annotations

import errno
import tempfile

import pytest
import skops.io as sio

from guiapp.core.errors import Cancelled, ExportError
from guiapp.core.models import sharing


def test_a_full_disk_leaves_the_earlier_export_as_it_was(tmp_path, monkeypatch):
    first, card = sharing.export_model("shipped", tmp_path / "shared", task="spam")
    before = (first.read_bytes(), card.read_bytes())

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sio, "dump", full)
    with pytest.raises(ExportError, match="disk is full") as info:
        sharing.export_model("shipped", tmp_path / "shared.skops", task="spam")
    assert info.value.path == str(first)
    assert (first.read_bytes(), card.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.card.json", "shared.skops"]


def test_a_folder_that_cannot_be_written_is_named(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    target = tmp_path / "locked" / "model.skops"
    with pytest.raises(ExportError, match="read-only or not writable") as info:
        sharing.export_model("shipped", target, task="sentiment")
    assert str(target) in str(info.value)
    # a "folder" that is a file
    (tmp_path / "plain").write_text("not a folder")
    monkeypatch.undo()
    with pytest.raises(ExportError) as info:
        sharing.export_model("shipped", tmp_path / "plain" / "model", task="spam")
    assert info.value.path == str(tmp_path / "plain" / "model.skops")


def test_a_cancelled_export_leaves_nothing(tmp_path):
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1  # after the model is loaded, before it is written in full

    with pytest.raises(Cancelled):
        sharing.export_model("shipped", tmp_path / "m", task="spam", stop_requested=stop)
    assert list(tmp_path.iterdir()) == []
    steps = []
    path, _ = sharing.export_model(
        "shipped", tmp_path / "m", task="spam", on_progress=lambda d, t, _="": steps.append(d)
    )
    assert path.is_file() and steps[0] == 0 and steps[-1] == 3
