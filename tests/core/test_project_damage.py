"""Damaged projects: every kind of damage is a DamagedProject naming the file, the file is
never written to, and the backup brings the last good state back."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from guiapp.core import checksums, session
from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.errors import ProjectError
from guiapp.core.messages import make_frame
from guiapp.core.project import CHUNK_ROWS, DamagedProject, Project, backup_path, recover


def make_project(path, n=3000) -> Project:
    c = Collection(make_frame({"text": [f"message number {i}" for i in range(n)]}))
    project = Project.create(path, c)
    project.apply(set_label(c, "spam", [5, 6], "spam"))
    return project


def damage_with_sql(path, sql: str) -> None:
    """Damage what the file holds while leaving SQLite's own structure sound, and its
    checksums matching (as a bug in Triage would): the value checks must catch it."""
    conn = sqlite3.connect(path)
    checksums.register(conn)
    conn.execute(sql)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "zeroed header",
        "garbage",
        "pages overwritten",
        "blob overwritten",
        "chunk missing",
    ],
)
def test_damage_is_detected_and_recovered_from_the_backup(tmp_path, damage):
    path = tmp_path / "p.triage"
    make_project(path, n=CHUNK_ROWS + 500 if damage == "chunk missing" else 3000).close()
    Project.open(path).close()  # a clean open keeps the backup
    assert backup_path(path).exists()
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif damage == "zeroed header":
        path.write_bytes(b"\0" * 100 + data[100:])
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40)
    elif damage == "pages overwritten":
        data[4096 : 4096 + 8192] = b"\xa5" * 8192
        path.write_bytes(data)
    elif damage == "blob overwritten":
        damage_with_sql(path, "UPDATE message_chunks SET data = zeroblob(length(data))")
    else:
        damage_with_sql(path, "DELETE FROM message_chunks WHERE first_row = 0")
    before = path.read_bytes()
    with pytest.raises(DamagedProject) as info:
        Project.open(path)
    assert str(path) in str(info.value) and info.value.path == str(path)
    assert "damaged" in info.value.reason or "truncated" in info.value.reason
    assert path.read_bytes() == before  # never written to while it is unreadable

    opened = session.recover_project(path)
    try:
        assert opened.project.path != path and "recovered" in opened.project.path.name
        assert opened.project.collection.user["spam"][[5, 6]].tolist() == [1, 1]
        assert opened.project.edit_count() == 1
    finally:
        opened.project.close()
    assert path.read_bytes() == before


def test_a_newer_project_is_not_called_damaged(tmp_path):
    path = tmp_path / "p.triage"
    make_project(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(ProjectError, match="newer Triage") as info:
        Project.open(path)
    assert not isinstance(info.value, DamagedProject)


def test_no_backup_is_a_clear_error(tmp_path):
    path = tmp_path / "p.triage"
    make_project(path).close()
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ProjectError, match="no backup"):
        recover(path)


def test_the_backup_is_the_state_of_the_last_clean_open(tmp_path):
    """Edits after the last clean open are in the project, not in its backup."""
    path = tmp_path / "p.triage"
    project = make_project(path)
    project.close()
    project = Project.open(path)
    project.apply(set_label(project.collection, "sentiment", np.arange(10), "positive"))
    project.close()
    backup = Project.open(backup_path(path), backup=False)
    try:
        assert backup.edit_count() == 1
        assert (backup.collection.user["sentiment"] == -1).all()
    finally:
        backup.close()


def test_the_store_is_wal_with_full_synchronous(tmp_path):
    """What makes an acknowledged edit durable: each commit is fsync'ed to the write-ahead
    log before ``apply`` returns (FULL; NORMAL would survive a kill but not a power cut)."""
    project = make_project(tmp_path / "p.triage")
    try:
        assert project._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert project._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        project.close()
