"""Finding the projects made from given files, without loading them."""

from __future__ import annotations

import datetime as dt
import sqlite3

from guiapp.core import checksums
from guiapp.core import project as project_module
from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.messages import make_frame
from guiapp.core.project import Project
from guiapp.core.project_index import projects_for_sources

TEXTS = ["Ok lar... Joking wif u oni...", "U dun say so early hor... U c already then say..."]


def make_project(path, sources, monkeypatch, when):
    monkeypatch.setattr(project_module, "_now", lambda: when)
    project = Project.create(path, Collection(make_frame({"text": TEXTS})), name=path.stem)
    project.save_json("sources", [str(s.resolve()) for s in sources])
    return project


def test_finds_projects_of_the_same_files_newest_edit_first(tmp_path, monkeypatch):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x"), b.write_text("y")
    folder = tmp_path / "projects"
    old = make_project(folder / "a.triage", [a], monkeypatch, "2026-01-01T10:00:00+00:00")
    new = make_project(folder / "a (2).triage", [a], monkeypatch, "2026-01-02T10:00:00+00:00")
    both = make_project(folder / "ab.triage", [b, a], monkeypatch, "2026-01-03T10:00:00+00:00")
    monkeypatch.setattr(project_module, "_now", lambda: "2026-02-01T09:30:00+00:00")
    old.apply(set_label(old.collection, "spam", [1], 1))  # the user's latest work
    for p in (old, new, both):
        p.close()
    found = projects_for_sources([a], folder)
    assert [f.path.name for f in found] == ["a.triage", "a (2).triage"]
    assert (found[0].messages, found[0].labelled) == (2, 1)
    assert found[0].modified == dt.datetime(2026, 2, 1, 9, 30, tzinfo=dt.UTC)
    assert "2 messages, 1 labelled by you" in found[0].describe()
    # Order of the files does not matter; a subset is not a match.
    assert [f.path.name for f in projects_for_sources([a, b], folder)] == ["ab.triage"]
    assert projects_for_sources([b], folder) == []


def test_unreadable_files_are_skipped_and_nothing_is_written(tmp_path, monkeypatch):
    a = tmp_path / "a.csv"
    a.write_text("x")
    folder = tmp_path / "projects"
    folder.mkdir()
    (folder / "junk.triage").write_bytes(b"not a database")
    good = make_project(folder / "a.triage", [a], monkeypatch, "2026-01-01T10:00:00+00:00")
    good.close()
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert [f.path.name for f in projects_for_sources([a], folder)] == ["a.triage"]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    # A project without recorded sources (made before they were recorded) is not a match.
    conn = sqlite3.connect(folder / "a.triage")
    checksums.register(conn)  # the project keeps its checksums (see guiapp.core.checksums)
    conn.execute("DELETE FROM meta WHERE key = 'sources'")
    conn.commit()
    conn.close()
    assert projects_for_sources([a], folder) == []
