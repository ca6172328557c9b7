"""A damaged project is never accepted: every flipped bit is refused on open with a clear
message, or provably harmless (the opened project equals the original); values out of range
and duplicate keys are refused; only a project that passed every check refreshes the backup,
which keeps three generations."""

from __future__ import annotations

import csv
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from guiapp.core import checksums, session
from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.errors import ProjectError
from guiapp.core.messages import make_frame
from guiapp.core.project import (
    COVERED,
    SCHEMA_VERSION,
    DamagedProject,
    Project,
    backup_path,
    backup_paths,
    recover,
)

SMS = Path(__file__).parent.parent / "fixtures" / "qt" / "sms.csv"


def sms_collection() -> Collection:
    """The 300 real SMS of tests/fixtures/qt/sms.csv (SMS Spam Collection v.1)."""
    with open(SMS, newline="", encoding="utf-8") as fh:
        texts = [row["message"] for row in csv.DictReader(fh)]
    return Collection(make_frame({"text": texts, "kind": ["sms"] * len(texts)}))


@pytest.fixture(scope="module")
def real_project(tmp_path_factory) -> Path:
    """A closed project: real messages, the shipped models' predictions, labels set by
    three edits (one of them a correction back to no label)."""
    path = tmp_path_factory.mktemp("real") / "real.triage"
    collection = sms_collection()
    project = Project.create(path, collection)
    try:
        session.apply_predictions(project, session.predict(collection))
        project.apply(set_label(collection, "spam", [0, 3, 4], "spam"))
        project.apply(set_label(collection, "sentiment", np.arange(20, 60), "neutral"))
        project.apply(set_label(collection, "spam", [4], None))
    finally:
        project.close()
    return path


def state(project: Project) -> dict:
    """Everything a project holds that a user could see or lose."""
    c = project.collection
    return {
        "messages": c.messages.astype(object).to_numpy().tolist(),
        "user": {t: a.tolist() for t, a in c.user.items()},
        "corrected": {t: a.tolist() for t, a in c.corrected.items()},
        "spam_prob": np.nan_to_num(c.spam_prob, nan=-1).tolist(),
        "sentiment_prob": np.nan_to_num(c.sentiment_prob, nan=-1).tolist(),
        "cluster": c.cluster.tolist(),
        "model_versions": dict(c.model_versions),
        "edits": project.edit_history(10_000),
        "name": project.load_json("name"),
    }


def read_state(path: Path) -> dict:
    project = Project.open(path, backup=False)
    try:
        return state(project)
    finally:
        project.close()


def remove_db(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def try_damage(original: bytes, damaged: bytes, path: Path, expected: dict) -> str:
    """Open ``damaged``: "detected" (refused, saying why, file untouched) or "harmless"
    (opened, and equal to the original); anything else fails the test."""
    remove_db(path)
    path.write_bytes(damaged)
    try:
        project = Project.open(path, backup=False)
    except DamagedProject as exc:
        assert str(path) in str(exc) and "damaged" in exc.reason, exc
        assert path.read_bytes() == damaged  # a damaged file is never written to
        return "detected"
    except ProjectError as exc:  # a format number a newer Triage could have written
        assert "newer Triage" in exc.reason, exc
        assert path.read_bytes() == damaged
        return "detected"
    try:
        got = state(project)
    finally:
        project.close()
    assert got == expected, "a damaged project was accepted with other content"
    return "harmless"


def sweep(real_project: Path, tmp_path: Path, damages) -> dict[str, int]:
    original = real_project.read_bytes()
    expected = read_state(real_project)
    path = tmp_path / "damaged.triage"
    counts = {"tried": 0, "detected": 0, "harmless": 0}
    for damaged in damages(bytearray(original)):
        counts[try_damage(original, bytes(damaged), path, expected)] += 1
        counts["tried"] += 1
    return counts


def single_bit_flips(data: bytearray, n: int = 700, seed: int = 14):
    rng = random.Random(seed)
    for offset in sorted(rng.sample(range(len(data)), n)):
        damaged = bytearray(data)
        damaged[offset] ^= 1 << rng.randrange(8)
        yield damaged


def sixteen_bit_flips(data: bytearray, n: int = 300, seed: int = 16):
    rng = random.Random(seed)
    for offset in sorted(rng.sample(range(len(data) - 1), n)):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        damaged[offset + 1] ^= 0xFF
        yield damaged


def zeroed_pages(data: bytearray, page: int = 4096):
    for start in range(0, len(data), page):
        damaged = bytearray(data)
        damaged[start : start + page] = bytes(min(page, len(data) - start))
        yield damaged


@pytest.mark.parametrize(
    "kind, damages",
    [
        ("single-bit flips", single_bit_flips),
        ("16-bit flips", sixteen_bit_flips),
        ("zeroed pages", zeroed_pages),
    ],
)
def test_every_damage_is_detected_or_harmless(real_project, tmp_path, kind, damages):
    counts = sweep(real_project, tmp_path, damages)
    print(
        f"\n{kind} over {real_project.stat().st_size:,} bytes: tried {counts['tried']}, "
        f"detected {counts['detected']}, harmless {counts['harmless']}"
    )
    assert counts["tried"] == counts["detected"] + counts["harmless"]
    # Harmless ones landed in free space, page slack or header fields SQLite does not
    # need (each was checked equal to the original above); the sweep reaches content too.
    assert counts["detected"] >= counts["tried"] // 4


def flipped(value):
    if isinstance(value, int):
        return value ^ 1
    if isinstance(value, str):
        return chr(ord(value[0]) ^ 1) + value[1:]
    return bytes([value[0] ^ 1]) + value[1:]


def test_a_flip_in_every_covered_table_is_detected(real_project, tmp_path):
    """One bit of one stored value of each covered table changed behind Triage's back, with
    SQLite's own structure sound (quick_check passes) and the triggers as Triage made them:
    the checksum finds it and names the table."""
    path = tmp_path / "p.triage"
    damaged = []
    for table, (columns, key) in COVERED.items():
        remove_db(path)
        path.write_bytes(real_project.read_bytes())
        conn = sqlite3.connect(path)
        names = ", ".join(key)
        row = conn.execute(f"SELECT {names}, {columns[-1]} FROM {table} LIMIT 1").fetchone()
        if row is None:
            conn.close()
            continue
        trigger = f"ck_{table}_update"
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name=?", (trigger,)).fetchone()
        conn.execute(f"DROP TRIGGER {trigger}")
        where = " AND ".join(f"{k}=?" for k in key)
        conn.execute(
            f"UPDATE {table} SET {columns[-1]}=? WHERE {where}", (flipped(row[-1]), *row[:-1])
        )
        conn.execute(sql)
        conn.commit()
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        conn.close()
        with pytest.raises(DamagedProject, match=f"its {table} table does not match"):
            Project.open(path, backup=False)
        damaged.append(table)
    assert {"meta", "message_chunks", "labels", "edits", "arrays"} <= set(damaged)


# ----------------------------------------------------------------------------- values
def write_consistently(path: Path, sql: str, params=()) -> None:
    """A write the checksums agree with (as a bug in Triage would make): the value checks,
    not the checksum, must refuse what it wrote."""
    conn = sqlite3.connect(path)
    checksums.register(conn)
    conn.execute(sql, params)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@pytest.mark.parametrize(
    "task, code",
    [
        ("spam", 5),
        ("spam", 127),
        ("sentiment", -100),
        ("sentiment", 1000),
        ("spam", 2),
        ("sentiment", 3),
    ],
)
def test_a_label_code_out_of_range_is_refused_and_the_backup_kept(
    real_project, tmp_path, task, code
):
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    Project.open(path).close()  # a clean open makes the backup
    backup = backup_path(path).read_bytes()
    row = {"spam": 0, "sentiment": 20}[task]  # a row the user labelled
    write_consistently(path, "UPDATE labels SET value=? WHERE task=? AND row=?", (code, task, row))
    with pytest.raises(DamagedProject) as info:
        Project.open(path)
    reason = info.value.reason
    assert (
        f"message {row + 1} has {task} label code {code}" in reason and "codes are -1.." in reason
    )
    assert backup_path(path).read_bytes() == backup  # not refreshed from a damaged file
    assert not backup_paths(path)[1].exists()
    recovered = recover(path)
    try:
        assert state(recovered) == read_state(real_project)
    finally:
        recovered.close()


@pytest.mark.parametrize(
    "sql, says",
    [
        ("UPDATE labels SET row=100000 WHERE task='spam' AND row=0", "label of message 100001"),
        ("UPDATE labels SET corrected=7 WHERE task='spam' AND row=0", "corrected marks"),
        ("UPDATE labels SET task='mood' WHERE task='spam' AND row=0", "unknown task 'mood'"),
        ("UPDATE labels SET value=1.5 WHERE task='spam' AND row=0", "not a whole number"),
        ("UPDATE meta SET value='12' WHERE key='n_messages'", "says 12 messages but holds 300"),
        ("UPDATE meta SET value='-1' WHERE key='n_messages'", "not a count"),
        ("UPDATE meta SET value='{\"spam\": 3}' WHERE key='model_versions'", "model versions"),
        ("UPDATE message_chunks SET n_rows=299", "holds 300 rows, not 299"),
        ("UPDATE arrays SET shape='[301]' WHERE name='spam_prob'", "spam_prob array"),
        ("UPDATE arrays SET dtype='|O' WHERE name='cluster'", "cluster array"),
        (
            "UPDATE arrays SET data=zeroblob(length(data)) || x'00' WHERE name='spam_prob'",
            "spam_prob array",
        ),
        ("UPDATE edits SET task='mood' WHERE seq=1", "edit log entry 1"),
        ("UPDATE edits SET n=-5 WHERE seq=1", "edit log entry 1"),
    ],
)
def test_a_value_that_cannot_be_is_refused(real_project, tmp_path, sql, says):
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    write_consistently(path, sql)
    with pytest.raises(DamagedProject, match="damaged") as info:
        Project.open(path)
    assert says in info.value.reason
    assert not backup_path(path).exists()


def test_a_probability_out_of_range_is_refused(real_project, tmp_path):
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    blob = np.full(300, 1.5, dtype="<f4").tobytes()
    write_consistently(path, "UPDATE arrays SET data=? WHERE name='spam_prob'", (blob,))
    with pytest.raises(DamagedProject, match="not a probability"):
        Project.open(path)


@pytest.mark.parametrize(
    "table, create, duplicate",
    [
        (
            "labels",
            "CREATE TABLE labels(task TEXT, row INTEGER, value INTEGER, corrected INTEGER)",
            "INSERT INTO labels SELECT * FROM labels WHERE task='spam' AND row=0",
        ),
        (
            "edits",
            "CREATE TABLE edits(seq INTEGER, at TEXT, task TEXT, text TEXT, n INTEGER)",
            "INSERT INTO edits SELECT * FROM edits WHERE seq=1",
        ),
    ],
)
def test_duplicate_keys_are_refused(real_project, tmp_path, table, create, duplicate):
    """A table whose key is no longer unique (its index lost): refused, in a current file by
    its definition, and in a version-1 file (no checksums yet) by the key check."""
    path = tmp_path / "p.triage"
    for version in (2, 1):
        remove_db(path)
        path.write_bytes(real_project.read_bytes())
        conn = sqlite3.connect(path)
        checksums.register(conn)
        if version == 1:
            make_version_1(conn)
        conn.execute(f"ALTER TABLE {table} RENAME TO old")
        conn.execute(create)
        conn.execute(f"INSERT INTO {table} SELECT * FROM old")
        conn.execute("DROP TABLE old")
        if version == 2:
            for sql in checksums.triggers_sql(table, COVERED[table][0]).values():
                conn.execute(sql)
        conn.execute(duplicate)
        conn.commit()
        conn.close()
        says = "table definitions" if version == 2 else f"its {table} table holds 1 duplicate"
        with pytest.raises(DamagedProject, match=says):
            Project.open(path)


def make_version_1(conn: sqlite3.Connection) -> None:
    """Turn a project into one written before checksums (format 1)."""
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE checksums")
    conn.execute("DROP TABLE model_versions")  # models belonged to projects from format 3
    conn.execute("DROP TABLE model_training")
    conn.execute("PRAGMA user_version=1")


def test_a_write_by_another_program_is_refused_by_sqlite(real_project, tmp_path):
    """A program that does not keep the checksums cannot change a covered table."""
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.OperationalError, match="no such function: triage_ck"):
        conn.execute("UPDATE labels SET value=0")
    conn.close()
    assert read_state(path) == read_state(real_project)


# ----------------------------------------------------------------------------- backups
def test_the_backup_keeps_three_generations_of_distinct_states(real_project, tmp_path):
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    states = []
    for i in range(4):
        project = Project.open(path)  # backs up the state it opened
        states.append(state(project))
        project.apply(set_label(project.collection, "spam", [100 + i], "ham"))
        project.close()
    # Opening again without a change in between does not push a generation out.
    Project.open(path).close()
    Project.open(path).close()
    newest, older, oldest = backup_paths(path)
    assert [read_state(p) for p in (newest, older, oldest)] == [
        read_state(path),
        states[3],
        states[2],
    ]
    assert not Path(f"{oldest}.3").exists()


def test_recovery_skips_a_damaged_newest_backup(real_project, tmp_path):
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    Project.open(path).close()
    project = Project.open(path)
    project.apply(set_label(project.collection, "spam", [200], "spam"))
    project.close()
    Project.open(path).close()  # newest backup: with message 200 labelled
    newest, older, _ = backup_paths(path)
    good = read_state(older)
    write_consistently(newest, "UPDATE labels SET value=9 WHERE task='spam' AND row=200")
    path.write_bytes(b"\0" * 4096)  # the project itself is lost
    recovered = recover(path)
    try:
        assert state(recovered) == good
    finally:
        recovered.close()


def test_no_usable_backup_is_a_clear_error(real_project, tmp_path):
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    Project.open(path).close()
    backup_path(path).write_bytes(b"\0" * 8192)
    path.write_bytes(b"\0" * 4096)
    with pytest.raises(ProjectError, match="none of its backups is usable") as info:
        recover(path)
    assert "p.triage.bak" in info.value.reason


def test_a_version_1_project_gets_its_checksums_on_open(real_project, tmp_path):
    """A project written before checksums opens, and is checked from then on."""
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    conn = sqlite3.connect(path)
    make_version_1(conn)
    conn.commit()
    conn.close()
    expected = read_state(real_project)
    assert read_state(path) == expected
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"model_versions", "model_training"} <= tables
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name='ck_labels_update'").fetchone()
    conn.execute("DROP TRIGGER ck_labels_update")
    conn.execute("UPDATE labels SET value=0 WHERE task='spam' AND row=0")
    conn.execute(sql)
    conn.commit()
    conn.close()
    with pytest.raises(DamagedProject, match="its labels table does not match its checksum"):
        Project.open(path)


def test_the_hash_the_triggers_keep_is_the_hash_open_computes():
    rows = [
        ("spam", 3, 1, 1),
        ("sentiment", -7, 2**63 - 1, 0),
        ("x", 0, None, 1.5),
        ("é", 1, b"\x00\xff", ""),
    ]
    scalar = sum(checksums.row_hash("t", r) for r in rows) % 2**64
    codes = [checksums.column_codes(c)[0] for c in zip(*rows, strict=True)]
    assert checksums.rows_digest("t", codes, len(rows)) == scalar


def test_every_write_keeps_the_checksums(real_project, tmp_path):
    """Each way Triage writes a project (upserts, REPLACE, deletes, appends) leaves checksums
    that the next open verifies: a write path the triggers missed would refuse it."""
    path = tmp_path / "p.triage"
    path.write_bytes(real_project.read_bytes())
    project = Project.open(path)
    c = project.collection
    project.apply(set_label(c, "spam", np.arange(0, 300, 7), "ham"))
    project.apply(set_label(c, "spam", np.arange(0, 300, 7), None))
    project.save_json("clustering", {"k": 2})
    project.save_json("clustering", {"k": 3})  # an update of the same key
    project.save_named_arrays("clustering", {"centres": np.ones((2, 4), dtype=np.float32)})
    project.save_named_arrays("clustering", {"labels": np.arange(3, dtype=np.int32)})  # deletes
    project.save_results({"cluster": np.zeros(300, dtype=np.int32)}, {"spam": "v9"})
    project.record_model("spam", "v9", "0" * 64, "models/spam-v9.skops", {"task": "spam"})
    project.record_model("spam", "v9", "1" * 64, "models/spam-v9.skops", {"task": "spam"})
    project.append(
        Collection(make_frame({"text": ["one more", "and another"], "user_spam": [1, 0]}))
    )
    project.save_arrays()
    expected = state(project)
    project.close()
    assert read_state(path) == expected
    again = Project.open(path, backup=False)
    try:
        assert len(again.known_models("spam")) == 1 and len(again.collection) == 302
        assert again.load_named_arrays("clustering").keys() == {"labels"}
    finally:
        again.close()
