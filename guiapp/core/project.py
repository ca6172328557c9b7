"""The project store: one SQLite file holding a collection, the user's labels and history.

Why SQLite: it is a single real file, transactional, and survives a crash or a kill in the
middle of a write. The store runs in WAL mode with ``synchronous=FULL``: every committed
transaction has been fsync'ed to the write-ahead log before :meth:`Project.apply` returns, so
a correction the window shows as accepted survives a kill *and* a power cut (``NORMAL``
would survive a kill but could lose the last transactions on power loss).

Layout (``PRAGMA user_version`` = schema version, ``application_id`` marks Triage files):

- ``meta(key, value)`` -- JSON values: format, created, app version, clustering metadata;
- ``message_chunks(first_row, n_rows, data)`` -- the messages' text columns as Parquet
  (zstd) blobs of up to 100,000 rows: a million messages save and load in about a second,
  where row-wise inserts take many;
- ``extra_chunks`` -- likewise for the original columns of tabular inputs;
- ``labels(task, row, value, corrected)`` -- the user's labels, one row per labelled
  message, upserted by every edit; ``corrected`` is 1 for a correction of the model, 2 for
  a confirmation of its prediction, 0 for an imported label;
- ``edits(seq, at, task, text, n)`` -- the history of label edits, written in the same
  transaction as the labels (so a bulk edit is all or nothing, and checkable);
- ``arrays(name, dtype, shape, data)`` -- predictions and cluster assignments as raw
  numpy bytes;
- ``models(task, version, sha256, path, card, created)`` -- which model made what;
- ``checksums(tbl, n, sum)`` -- per table of :data:`COVERED`, its row count and the sum of
  its rows' hashes, kept by triggers in the same transaction as every change (see
  :mod:`guiapp.core.checksums`).

Opening reads and checks everything: the checksums, and every value against what it may be
(label codes in range for their task, keys unique, counts that agree between the tables and
``meta``, arrays of the expected dtype and shape). Only a project that passes all of it is
copied to the backup (``NAME.bak``, the two before it kept as ``NAME.bak.1`` and
``NAME.bak.2``); a damaged file is never written to (see :func:`recover`).

One process writes a project at a time: opening for writing takes its lock
(:mod:`guiapp.core.project_lock`); ``Project.open(path, read_only=True)`` gives a view that
takes no lock and writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import io
import json
import operator
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from guiapp import __version__
from guiapp.core import checksums, project_lock
from guiapp.core.collection import Collection
from guiapp.core.commands import SetLabels
from guiapp.core.errors import Cancelled, ProjectError
from guiapp.core.messages import CLASSES, NO_LABEL, STRING_DTYPE, TASKS, TEXT_COLUMNS
from guiapp.core.progress import Hooks

#: 2: checksums; 3: the project's own model versions (an older file gets what it lacks on
#: its first writable open).
SCHEMA_VERSION = 3
APPLICATION_ID = 0x54524947  # "TRIG"
SUFFIX = ".triage"
CHUNK_ROWS = 100_000

#: The project's own model versions (see :mod:`guiapp.core.models.store`); added on the
#: first writable open of a file from before models belonged to projects.
MODEL_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions(
    version TEXT PRIMARY KEY, task TEXT NOT NULL, created TEXT NOT NULL,
    card TEXT NOT NULL, data BLOB NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS model_training(
    version TEXT PRIMARY KEY, rows BLOB NOT NULL, labels BLOB NOT NULL);
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS message_chunks(
    first_row INTEGER PRIMARY KEY, n_rows INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS extra_chunks(
    first_row INTEGER PRIMARY KEY, n_rows INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS labels(
    task TEXT NOT NULL, row INTEGER NOT NULL, value INTEGER NOT NULL,
    corrected INTEGER NOT NULL, PRIMARY KEY(task, row)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edits(
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, task TEXT NOT NULL, text TEXT NOT NULL,
    n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS arrays(
    name TEXT PRIMARY KEY, dtype TEXT NOT NULL, shape TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS models(
    task TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL, path TEXT NOT NULL,
    card TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY(task, version));
"""
    + MODEL_SCHEMA
)

#: Every table whose content matters: its columns (all of them: a column left out is a
#: column whose damage goes unseen) and the key that identifies a row. Each is checksummed
#: and its keys are checked unique on open. A new table goes here; bump SCHEMA_VERSION with
#: it, and opening an older file installs the new table's checksum.
COVERED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "meta": (("key", "value"), ("key",)),
    "message_chunks": (("first_row", "n_rows", "data"), ("first_row",)),
    "extra_chunks": (("first_row", "n_rows", "data"), ("first_row",)),
    "labels": (("task", "row", "value", "corrected"), ("task", "row")),
    "edits": (("seq", "at", "task", "text", "n"), ("seq",)),
    "arrays": (("name", "dtype", "shape", "data"), ("name",)),
    "models": (("task", "version", "sha256", "path", "card", "created"), ("task", "version")),
    "model_versions": (("version", "task", "created", "card", "data", "sha256"), ("version",)),
    "model_training": (("version", "rows", "labels"), ("version",)),
}

#: How many backups a project keeps: ``NAME.bak`` (newest), ``NAME.bak.1``, ``NAME.bak.2``.
BACKUP_GENERATIONS = 3


class DamagedProject(ProjectError):
    """The project file is damaged or truncated (not merely locked, read-only or newer):
    :func:`recover` can bring back the last good state when a backup exists."""


CORRECTED, CONFIRMED = 1, 2
"""The ``labels.corrected`` codes (0: an imported label)."""


def _how(corrected: np.ndarray, confirmed: np.ndarray) -> np.ndarray:
    """The ``labels.corrected`` code per row (int64)."""
    return np.where(corrected, CORRECTED, np.where(confirmed, CONFIRMED, 0)).astype(np.int64)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


#: What SQLite says when the file's bytes are damaged (text that is not UTF-8 included).
_DAMAGE_WORDS = ("not a database", "malformed", "corrupt", "unsupported file", "could not decode")


def _db_error(path: Path, exc: sqlite3.Error, doing: str) -> ProjectError:
    text = str(exc)
    low = text.lower()
    if "disk is full" in low or "disk full" in low:
        reason = f"the disk is full while {doing}; nothing already saved was changed"
    elif "readonly" in low or "read-only" in low:
        reason = f"the project is read-only (while {doing}); save it elsewhere"
    elif any(w in low for w in _DAMAGE_WORDS):
        return DamagedProject(path, f"the project file is damaged ({text})")
    elif "locked" in low or "busy" in low:
        reason = f"the project is in use by another program (while {doing})"
    else:
        reason = f"{text} (while {doing})"
    return ProjectError(path, reason)


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        checksums.register(conn)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _checksum_statements(tables) -> list[str]:
    """The statements that start checking ``tables`` (as they are now) in a file."""
    out = [checksums.CHECKSUM_SCHEMA]
    for table in tables:
        out.extend(checksums.triggers_sql(table, COVERED[table][0]).values())
    return out


@functools.cache
def _expected_schema() -> frozenset[tuple[str, str, str | None]]:
    """``(type, name, sql)`` of everything in a current project's ``sqlite_master``, as
    SQLite itself writes it."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(_SCHEMA)
        for statement in _checksum_statements(COVERED):
            conn.execute(statement)
        return frozenset(conn.execute("SELECT type, name, sql FROM sqlite_master"))
    finally:
        conn.close()


# ---------------------------------------------------------------------- blob codecs
def _frame_to_parquet(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _parquet_to_frame(data: bytes) -> pd.DataFrame:
    table = pq.read_table(io.BytesIO(data))
    frame = table.to_pandas(
        types_mapper={pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}.get
    )
    return frame


def _array_to_blob(array: np.ndarray) -> tuple[str, str, bytes]:
    array = np.ascontiguousarray(array)
    return array.dtype.str, json.dumps(list(array.shape)), array.tobytes()


def _blob_to_array(dtype: str, shape: str, data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(json.loads(shape)).copy()


class Project:
    """An open project file. Use :meth:`create` or :meth:`open`; close with :meth:`close`."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        collection: Collection,
        *,
        write_lock: project_lock.ProjectLock | None = None,
    ):
        self.path = Path(path)
        self._conn = conn
        self._lock = threading.RLock()
        self._write_lock = write_lock
        self.collection = collection

    @property
    def read_only(self) -> bool:
        """True for a view opened with ``read_only=True``: it holds no lock, writes nothing."""
        return self._write_lock is None

    # ------------------------------------------------------------------ create / open
    @classmethod
    def create(
        cls,
        path: str | Path,
        collection: Collection,
        *,
        name: str = "",
        on_progress=None,
        stop_requested=None,
    ) -> Project:
        """Write ``collection`` to a new project file at ``path`` and open it.

        The file is built under a temporary name and renamed into place when complete, so a
        kill or a full disk during creation never leaves a half project at ``path``.
        """
        hooks = Hooks(on_progress, stop_requested)
        path = Path(path)
        tmp = path.with_name(path.name + ".creating")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(path, f"cannot write the project: {exc.strerror or exc}") from exc
        # Taken first: a project open elsewhere is never replaced under its writer.
        write_lock = project_lock.acquire(path)
        try:
            project = cls._create_locked(path, tmp, collection, name, hooks)
        except BaseException:
            write_lock.release()
            raise
        project._write_lock = write_lock
        return project

    @classmethod
    def _create_locked(
        cls, path: Path, tmp: Path, collection: Collection, name: str, hooks: Hooks
    ) -> Project:
        for stale in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            stale.unlink(missing_ok=True)
        try:
            conn = _connect(tmp)
            try:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.executescript(_SCHEMA)
                conn.execute("BEGIN")
                meta = {
                    "format": "triage-project",
                    "schema": SCHEMA_VERSION,
                    "created": _now(),
                    "app_version": __version__,
                    "name": name or path.stem,
                    "n_messages": len(collection),
                }
                conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
                )
                cls._write_chunks(conn, "message_chunks", collection.messages, 0, hooks)
                cls._write_chunks(conn, "extra_chunks", collection.extra, 0, None)
                for task in TASKS:
                    cls._write_labels(conn, task, collection, None)
                cls._write_arrays(conn, collection)
                # Checksums of what was written, with numpy: a trigger per imported label
                # would cost more than the rest of the import's writes.
                _add_checksums(conn, list(COVERED), None)
                conn.execute("COMMIT")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except Cancelled:
            _remove_db(tmp)
            raise
        except sqlite3.Error as exc:
            _remove_db(tmp)
            raise _db_error(path, exc, "creating the project") from exc
        except OSError as exc:
            _remove_db(tmp)
            raise ProjectError(path, f"cannot write the project: {exc.strerror or exc}") from exc
        collection.source = path
        return cls(path, _connect(path), collection)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        backup: bool = True,
        read_only: bool = False,
        on_progress=None,
        stop_requested=None,
    ) -> Project:
        """Open an existing project, checking all of it first; keeps its backups up to date.

        A damaged file raises :class:`DamagedProject` and is left exactly as it is (use
        :func:`recover` to get the last good state back); a project another process has open
        for writing raises :class:`~guiapp.core.project_lock.ProjectLocked` naming it.
        ``read_only``: a view that takes no lock and writes nothing (no backup either).
        """
        hooks = Hooks(on_progress, stop_requested)
        path = Path(path)
        if not path.exists():
            raise ProjectError(path, "no such project file")
        write_lock = None if read_only else project_lock.acquire(path)
        try:
            project = cls._open_checked(path, write_lock, hooks)
        except BaseException:
            if write_lock is not None:
                write_lock.release()
            raise
        if backup and not read_only:
            project.write_backup()
        return project

    @classmethod
    def _open_checked(
        cls, path: Path, write_lock: project_lock.ProjectLock | None, hooks: Hooks
    ) -> Project:
        check_file(path)
        try:
            conn = _connect(path, readonly=write_lock is None)
        except sqlite3.Error as exc:
            raise _db_error(path, exc, "opening the project") from exc
        try:
            collection = _read_checked(conn, hooks, upgrade=write_lock is not None)
        except sqlite3.Error as exc:
            conn.close()
            raise _db_error(path, exc, "reading the project") from exc
        except _UNREADABLE as exc:
            # The SQLite pages are sound but what they hold is not (a checksum that does
            # not match, a value out of range, a table of the wrong shape).
            conn.close()
            raise DamagedProject(path, f"the project file is damaged ({_reason(exc)})") from exc
        except BaseException:
            conn.close()
            raise
        collection.source = path
        return cls(path, conn, collection, write_lock=write_lock)

    def write_backup(self) -> Path:
        """Copy the current (checked) state to ``NAME.bak``, keeping the previous backups as
        ``NAME.bak.1`` and ``NAME.bak.2``; nothing is written when the newest backup
        already holds this state (its checksums are the same)."""
        generations = backup_paths(self.path)
        target = generations[0]
        tmp = target.with_name(target.name + ".tmp")
        try:
            with self._lock:
                current = checksums.stored(self._conn)
                if target.exists() and _stored_checksums(target) == current:
                    return target
                dest = sqlite3.connect(str(tmp))
                try:
                    self._conn.backup(dest)
                    # A backup is only ever read: without WAL, reading it leaves no
                    # -wal/-shm files beside it.
                    dest.execute("PRAGMA journal_mode=DELETE")
                finally:
                    dest.close()
            for older, newer in zip(generations[:0:-1], generations[-2::-1], strict=True):
                if newer.exists():
                    os.replace(newer, older)
            os.replace(tmp, target)
        except (sqlite3.Error, OSError):
            # A backup that cannot be written (full disk, read-only folder) must not stop
            # the user from working; the previous backups, if any, stay.
            with contextlib.suppress(OSError):
                tmp.unlink()
        return target

    # ------------------------------------------------------------------ edits
    def apply(self, command: SetLabels) -> SetLabels:
        """Make ``command`` durable on disk, then apply it in memory; returns its inverse.

        If the disk write fails, memory is not touched and :class:`ProjectError` is raised:
        what the user sees always matches what is saved.
        """
        if self.read_only:
            raise ProjectError(self.path, "it is open read-only here, so labels cannot be changed")
        collection = self.collection
        inverse = command.inverse_for(collection)
        rows = command.rows
        params = zip(
            [command.task] * len(rows),
            rows.tolist(),
            command.values.astype(np.int64).tolist(),
            _how(command.corrected, command.confirmed).tolist(),
            strict=True,
        )
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT INTO labels(task, row, value, corrected) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(task, row) DO UPDATE SET value=excluded.value, "
                    "corrected=excluded.corrected",
                    params,
                )
                self._conn.execute(
                    "INSERT INTO edits(at, task, text, n) VALUES (?, ?, ?, ?)",
                    (_now(), command.task, command.text, len(rows)),
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _db_error(self.path, exc, "saving a label change") from exc
        command.apply_to(collection)
        return inverse

    def edit_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM edits").fetchone()[0]

    def edit_history(self, limit: int = 100) -> list[tuple[int, str, str, str, int]]:
        with self._lock:
            return self._conn.execute(
                "SELECT seq, at, task, text, n FROM edits ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()

    # ------------------------------------------------------------------ growth
    def append(self, other: Collection, *, on_progress=None, stop_requested=None) -> np.ndarray:
        """Add another collection (a second import) to the project; returns the new rows."""
        hooks = Hooks(on_progress, stop_requested)
        start = len(self.collection)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._write_chunks(self._conn, "message_chunks", other.messages, start, hooks)
                if len(self.collection.extra.columns) or len(other.extra.columns):
                    # Columns may differ between imports: rewrite the aligned whole.
                    extra = pd.concat([self.collection.extra, other.extra], ignore_index=True)
                    self._conn.execute("DELETE FROM extra_chunks")
                    self._write_chunks(
                        self._conn, "extra_chunks", extra.astype(STRING_DTYPE), 0, None
                    )
                for task in TASKS:
                    self._write_labels(self._conn, task, other, start)
                self._set_meta(self._conn, "n_messages", start + len(other))
                self._conn.execute("COMMIT")
            except (sqlite3.Error, Cancelled) as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, Cancelled):
                    raise
                raise _db_error(self.path, exc, "adding messages") from exc
        rows = self.collection.append(other)
        self.save_arrays()
        return rows

    # ------------------------------------------------------------------ predictions etc.
    def save_arrays(self) -> None:
        """Persist predictions, cluster assignments and model versions."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._write_arrays(self._conn, self.collection)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _db_error(self.path, exc, "saving predictions") from exc

    def save_results(
        self, arrays: dict[str, np.ndarray], model_versions: dict[str, str] | None = None
    ) -> None:
        """Persist some derived columns (``spam_prob``, ``sentiment_prob``, ``cluster``) and
        merge ``model_versions`` into the saved ones, in one transaction, without reading the
        open collection.

        A window saves a background result with this on a worker thread *before* it shows
        it (so a result the user saw is on disk), while the GUI thread owns the collection's
        arrays. Only the named arrays are written: a result of one kind never overwrites
        another kind's newer column. The bytes are prepared before the store is locked, so
        a label edit waits only for the write itself.
        """
        unknown = set(arrays) - set(_RESULT_ARRAYS)
        if unknown:
            raise ValueError(f"not a result column: {', '.join(sorted(unknown))}")
        blobs = [(name, *_array_to_blob(a)) for name, a in arrays.items()]
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT OR REPLACE INTO arrays VALUES (?, ?, ?, ?)", blobs)
                if model_versions:
                    row = self._conn.execute(
                        "SELECT value FROM meta WHERE key='model_versions'"
                    ).fetchone()
                    saved = json.loads(row[0]) if row else {}
                    saved = saved if isinstance(saved, dict) else {}
                    saved.update(model_versions)
                    self._set_meta(self._conn, "model_versions", saved)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _db_error(self.path, exc, "saving predictions") from exc

    def save_json(self, key: str, value) -> None:
        with self._lock:
            try:
                self._set_meta(self._conn, key, value)
            except sqlite3.Error as exc:
                raise _db_error(self.path, exc, f"saving {key}") from exc

    def load_json(self, key: str, default=None):
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def save_named_arrays(self, prefix: str, arrays: dict[str, np.ndarray]) -> None:
        """Store named arrays (e.g. a clustering's fitted state) under ``prefix/``."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("DELETE FROM arrays WHERE name LIKE ?", (prefix + "/%",))
                self._conn.executemany(
                    "INSERT INTO arrays VALUES (?, ?, ?, ?)",
                    [(f"{prefix}/{k}", *_array_to_blob(v)) for k, v in arrays.items()],
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _db_error(self.path, exc, f"saving {prefix}") from exc

    def load_named_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, dtype, shape, data FROM arrays WHERE name LIKE ?", (prefix + "/%",)
            ).fetchall()
        return {name[len(prefix) + 1 :]: _blob_to_array(d, s, b) for name, d, s, b in rows}

    def record_model(self, task: str, version: str, sha256: str, path: str, card: dict) -> None:
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?)",
                    (task, version, sha256, str(path), json.dumps(card), _now()),
                )
            except sqlite3.Error as exc:
                raise _db_error(self.path, exc, "recording a model") from exc

    def known_models(self, task: str | None = None) -> list[dict]:
        with self._lock:
            query = "SELECT task, version, sha256, path, card, created FROM models"
            rows = self._conn.execute(
                query + (" WHERE task=?" if task else ""), (task,) if task else ()
            ).fetchall()
        return [
            {"task": t, "version": v, "sha256": s, "path": p, "card": json.loads(c), "created": cr}
            for t, v, s, p, c, cr in rows
        ]

    # ------------------------------------------------------------------ model versions
    def add_model_version(
        self,
        model,
        origin: dict,
        *,
        activate: bool = True,
        trained_on: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        """Store ``model`` as a new version of this project's (see :mod:`.models.store`);
        its :class:`~guiapp.core.models.store.StoredVersion`."""
        from guiapp.core.models import store

        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                version = store.add(
                    self._conn, model, origin, activate=activate, trained_on=trained_on
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _db_error(self.path, exc, "saving a model version") from exc
            return version

    def set_active_model(self, task: str, version: str) -> None:
        from guiapp.core.models import store

        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                store.set_active(self._conn, task, version)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _db_error(self.path, exc, "choosing a model version") from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise

    def model_versions(self, task: str) -> list:
        from guiapp.core.models import store

        with self._lock:
            return store.versions(self._conn, task)

    def active_models(self) -> dict[str, str]:
        from guiapp.core.models import store

        with self._lock:
            return store.active(self._conn)

    def load_model(self, task: str, version: str | None = None):
        from guiapp.core.models import store

        with self._lock:
            return store.load(self._conn, task, version, self.path.name)

    def close(self) -> None:
        with self._lock:
            if not self.read_only:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            if self._write_lock is not None:
                self._write_lock.release()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value) -> None:
        conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )

    @staticmethod
    def _write_chunks(
        conn, table: str, frame: pd.DataFrame, offset: int, hooks: Hooks | None
    ) -> None:
        n = len(frame)
        if table == "extra_chunks" and len(frame.columns) == 0:
            return
        for start in range(0, n, CHUNK_ROWS):
            if hooks is not None:
                hooks.step(start, n, "saving messages")
            part = frame.iloc[start : start + CHUNK_ROWS]
            conn.execute(
                f"INSERT INTO {table} VALUES (?, ?, ?)",
                (offset + start, len(part), _frame_to_parquet(part)),
            )
        if hooks is not None:
            hooks.progress(n, n, "saving messages")

    @staticmethod
    def _write_labels(conn, task: str, collection: Collection, offset: int | None) -> None:
        user = collection.user[task]
        how = _how(collection.corrected[task], collection.confirmed[task])
        rows = np.flatnonzero((user >= 0) | (how != 0))
        base = offset or 0
        conn.executemany(
            "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?)",
            zip(
                [task] * len(rows),
                (rows + base).tolist(),
                user[rows].astype(np.int64).tolist(),
                how[rows].tolist(),
                strict=True,
            ),
        )

    @staticmethod
    def _write_arrays(conn, collection: Collection) -> None:
        arrays = {
            "spam_prob": collection.spam_prob,
            "sentiment_prob": collection.sentiment_prob,
            "cluster": collection.cluster,
        }
        conn.executemany(
            "INSERT OR REPLACE INTO arrays VALUES (?, ?, ?, ?)",
            [(name, *_array_to_blob(a)) for name, a in arrays.items()],
        )
        Project._set_meta(conn, "model_versions", collection.model_versions)

    @staticmethod
    def _read_messages(conn: sqlite3.Connection, n: int, hooks: Hooks, *, limit=None):
        """The message chunks as one frame; ``limit``: only the first rows (at least)."""
        query = "SELECT first_row, n_rows, data FROM message_chunks"
        if limit is not None:
            query += f" WHERE first_row < {int(limit)}"
        return _chunk_frames(conn.execute(query + " ORDER BY first_row"), n, hooks, "messages")


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, _Unreadable) else f"{type(exc).__name__}: {exc}"


def _chunk_frames(rows, n: int, hooks: Hooks | None, what: str) -> pd.DataFrame:
    """Chunks ``(first_row, n_rows, data)`` in order as one frame of ``n`` rows, each chunk
    checked to start where the last ended and to hold the rows it says."""
    parts = []
    done = 0
    for first, n_rows, data in rows:
        if type(first) is not int or type(n_rows) is not int or n_rows < 0:
            raise _Unreadable(f"the {what} chunk at row {first!r} has a bad header")
        if first != done:
            raise _Unreadable(f"{what} {done}..{first - 1} are missing")
        if hooks is not None:
            hooks.step(done, n, f"reading {what}")
        if not isinstance(data, bytes):
            raise _Unreadable(f"the {what} chunk at row {first} is not a blob")
        frame = _parquet_to_frame(data)
        if len(frame) != n_rows:
            raise _Unreadable(
                f"the {what} chunk at row {first} holds {len(frame)} rows, not {n_rows}"
            )
        if what == "messages" and list(frame.columns) != list(TEXT_COLUMNS):
            raise _Unreadable(f"the {what} chunk at row {first} has other columns")
        parts.append(frame)
        done += n_rows
    if done != n:
        raise _Unreadable(f"the project says {n} {what} but holds {done}")
    if parts:
        return pd.concat(parts, ignore_index=True)
    if what == "messages":
        return pd.DataFrame({c: pd.Series([], dtype=STRING_DTYPE) for c in TEXT_COLUMNS})
    return pd.DataFrame(index=pd.RangeIndex(n))


def _stored_checksums(path: Path) -> dict[str, tuple[int, int]] | None:
    """The checksums a project file holds (None if it cannot tell)."""
    try:
        conn = _connect(path, readonly=True)
        try:
            return checksums.stored(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return None


class _Table:
    """One covered table as read: its rows (in key order), its columns, and each column's
    checksum codes and kind (see :func:`guiapp.core.checksums.column_codes`)."""

    def __init__(self, name: str, rows: list[tuple]):
        width = len(COVERED[name][0])
        self.name = name
        self.rows = rows
        # map(itemgetter) per column: zip(*rows) would pass each of a million rows as an
        # argument and take seconds.
        self.columns: list[list] = [list(map(operator.itemgetter(i), rows)) for i in range(width)]
        coded = [checksums.column_codes(c) for c in self.columns]
        self.codes = [c for c, _kind in coded]
        self.kinds = [kind for _c, kind in coded]

    def __len__(self) -> int:
        return len(self.rows)

    def ints(self, column: str) -> np.ndarray:
        """A column that must hold whole numbers, as int64."""
        i = COVERED[self.name][0].index(column)
        if self.kinds[i] != "int" and self.rows:
            raise _Unreadable(f"its {self.name} table holds a {column} that is not a whole number")
        return self.codes[i].view(np.int64)

    def digest(self) -> int:
        return checksums.rows_digest(self.name, self.codes, len(self.rows))


def _read_checked(conn: sqlite3.Connection, hooks: Hooks, *, upgrade: bool) -> Collection:
    """Read, check and verify a whole project in one read transaction (so a writer in
    another process, under a read-only view, cannot make its parts disagree).

    ``upgrade``: a file of an older format gets what it lacks (only after every checksum it
    has matched and every value was valid).
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    current = version >= SCHEMA_VERSION
    conn.execute("BEGIN")
    try:
        schema = set(conn.execute("SELECT type, name, sql FROM sqlite_master"))
        if current and schema != _expected_schema():
            raise _Unreadable("its table definitions are not the ones Triage writes")
        names = {name for kind, name, _sql in schema if kind == "table"}
        tables = {}
        for table, (columns, key) in COVERED.items():
            if table not in names and not current:
                tables[table] = _Table(table, [])  # added to the format since
                continue
            layout = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            if layout != list(columns):
                raise _Unreadable(f"its {table} table has other columns than Triage writes")
            rows = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"
            ).fetchall()
            tables[table] = _Table(table, rows)
            hooks.check()
        missing = _verify_checksums(conn, tables, schema, current=current)
        collection = _collection_from(tables, hooks)
    finally:
        # Only read: nothing to keep. (SQLite may already have ended it on an error.)
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
    if missing and upgrade:
        _install_checksums(conn, missing, tables)
    return collection


def _verify_checksums(
    conn: sqlite3.Connection, tables: dict[str, _Table], schema: set, *, current: bool
) -> list[str]:
    """Check every covered table against its stored checksum, and that its keys are unique;
    returns the tables with no checksum yet (only possible in a file of an older format)."""
    has_table = any(kind == "table" and n == checksums.CHECKSUM_TABLE for kind, n, _ in schema)
    stored = checksums.stored(conn) if has_table else {}
    triggers = {name: sql for kind, name, sql in schema if kind == "trigger"}
    expected = {name: sql for kind, name, sql in _expected_schema() if kind == "trigger"}
    missing = []
    for name, (columns, key) in COVERED.items():
        table = tables[name]
        names = [n for n in expected if n.startswith(f"ck_{name}_")]
        if name not in stored and not current and not any(n in triggers for n in names):
            missing.append(name)
        elif name not in stored:
            raise _Unreadable(f"the checksum of its {name} table is missing")
        elif any(triggers.get(n) != expected[n] for n in names):
            raise _Unreadable(f"the checksum triggers of its {name} table are altered")
        elif stored[name] != (len(table), table.digest()):
            raise _Unreadable(f"its {name} table does not match its checksum")
        unique = checksums.rows_unique([table.codes[columns.index(k)] for k in key])
        if unique != len(table):
            raise _Unreadable(f"its {name} table holds {len(table) - unique} duplicate keys")
    unknown = set(triggers) - set(expected)
    if unknown:
        raise _Unreadable(f"it holds triggers Triage did not make ({', '.join(sorted(unknown))})")
    return missing


def _install_checksums(
    conn: sqlite3.Connection, missing: list[str], tables: dict[str, _Table]
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in MODEL_SCHEMA.split(";"):  # tables added to the format since
            if statement.strip():
                conn.execute(statement)
        _add_checksums(conn, missing, tables)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _add_checksums(
    conn: sqlite3.Connection, names: list[str], tables: dict[str, _Table] | None
) -> None:
    """Start checking tables ``names`` as they are now (``tables``: as already read), inside
    the caller's transaction; creates tables added to the format since the file was made."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    for statement in _checksum_statements(names):
        conn.execute(statement.replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1))
    for name in names:
        if tables is not None:
            table = tables[name]
        else:
            columns, key = COVERED[name]
            table = _Table(
                name,
                conn.execute(
                    f"SELECT {', '.join(columns)} FROM {name} ORDER BY {', '.join(key)}"
                ).fetchall(),
            )
        conn.execute(
            f"INSERT OR REPLACE INTO {checksums.CHECKSUM_TABLE} VALUES (?, ?, ?)",
            (name, len(table), checksums.signed(table.digest())),
        )


def _meta_from(table: _Table) -> dict:
    meta = {}
    for key, value in table.rows:
        if not isinstance(key, str) or not isinstance(value, str):
            raise _Unreadable("its meta table holds a value that is not text")
        try:
            meta[key] = json.loads(value)
        except ValueError:
            raise _Unreadable(f"its meta value {key!r} is not valid JSON") from None
    n = meta.get("n_messages", 0)
    if type(n) is not int or n < 0:
        raise _Unreadable(f"its message count {n!r} is not a count")
    versions = meta.get("model_versions", {})
    if not isinstance(versions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in versions.items()
    ):
        raise _Unreadable("its model versions are not a mapping of task to version")
    if not isinstance(meta.get("name", ""), str):
        raise _Unreadable("its name is not text")
    return meta


def _labels_from(table: _Table, n: int) -> tuple[dict, dict, dict]:
    """The label arrays, every stored label checked (messages are numbered from 1 for the
    user, as in every other message)."""
    user = {t: np.full(n, NO_LABEL, dtype=np.int8) for t in TASKS}
    corrected = {t: np.zeros(n, dtype=bool) for t in TASKS}
    confirmed = {t: np.zeros(n, dtype=bool) for t in TASKS}
    if not len(table):
        return user, corrected, confirmed
    rows, values, corr = table.ints("row"), table.ints("value"), table.ints("corrected")
    tasks = table.codes[0]
    known = np.zeros(len(table), dtype=bool)
    for task in TASKS:
        known |= tasks == checksums.value_code(task)
    if not known.all():
        raise _Unreadable(
            f"it holds labels of an unknown task {table.columns[0][np.argmin(known)]!r}"
        )
    bad = (rows < 0) | (rows >= n)
    if bad.any():
        raise _Unreadable(
            f"it holds a label of message {rows[bad][0] + 1}, but it has {n:,} messages"
        )
    if not np.isin(corr, (0, CORRECTED, CONFIRMED)).all():
        raise _Unreadable("its labels' corrected marks are not 0, 1 or 2")
    for task in TASKS:
        mine = tasks == checksums.value_code(task)
        top = len(CLASSES[task]) - 1
        codes, at = values[mine], rows[mine]
        wrong = (codes < NO_LABEL) | (codes > top)
        if wrong.any():
            raise _Unreadable(
                f"message {at[wrong][0] + 1} has {task} label code {codes[wrong][0]} "
                f"(codes are {NO_LABEL}..{top})"
            )
        user[task][at] = codes
        corrected[task][at] = corr[mine] == CORRECTED
        confirmed[task][at] = corr[mine] == CONFIRMED
    return user, corrected, confirmed


def _edits_checked(table: _Table) -> None:
    for seq, at, task, text, count in table.rows:
        if type(seq) is not int or type(count) is not int or count < 0:
            raise _Unreadable(f"its edit log entry {seq!r} has a bad number")
        if not isinstance(at, str) or not isinstance(text, str) or task not in TASKS:
            raise _Unreadable(f"its edit log entry {seq} is not an edit of a known task")


#: The derived columns a project keeps: dtype, and the shape of one row.
_ARRAY_SHAPES = {
    "spam_prob": ("<f4", ()),
    "sentiment_prob": ("<f4", (len(CLASSES["sentiment"]),)),
    "cluster": ("<i4", ()),
}


def _arrays_from(table: _Table, n: int) -> dict[str, np.ndarray]:
    arrays = {}
    for name, dtype, shape, data in table.rows:
        if name not in _ARRAY_SHAPES:
            # A clustering's state ("clustering/..."), checked when the clustering is
            # restored, or what another part of Triage keeps: not read into the columns.
            continue
        want, tail = _ARRAY_SHAPES[name]
        try:
            dims = json.loads(shape) if isinstance(shape, str) else None
        except ValueError:
            dims = None
        if (
            dtype != want
            or not isinstance(dims, list)
            or not all(type(d) is int and d >= 0 for d in dims)
            or tuple(dims[1:]) != tail
            or not isinstance(data, bytes)
            or len(data) != int(np.prod(dims, dtype=np.int64)) * np.dtype(want).itemsize
        ):
            raise _Unreadable(f"its {name} array is not of the shape and type Triage writes")
        if dims[0] > n:
            raise _Unreadable(
                f"its {name} array has {dims[0]:,} rows, more than its {n:,} messages"
            )
        array = _blob_to_array(dtype, shape, data)
        if name == "cluster":
            if (array < -1).any():
                raise _Unreadable("its cluster column holds a negative cluster number")
        else:
            bad = ~np.isnan(array) & ((array < 0) | (array > 1))
            if bad.any():
                raise _Unreadable(f"its {name} column holds a value that is not a probability")
        arrays[name] = array
    return arrays


def _collection_from(tables: dict[str, _Table], hooks: Hooks) -> Collection:
    meta = _meta_from(tables["meta"])
    n = meta.get("n_messages", 0)
    messages = _chunk_frames(tables["message_chunks"].rows, n, hooks, "messages")
    extra = (
        _chunk_frames(tables["extra_chunks"].rows, n, None, "original columns")
        if len(tables["extra_chunks"])
        else pd.DataFrame(index=pd.RangeIndex(n))
    )
    user, corrected, confirmed = _labels_from(tables["labels"], n)
    _edits_checked(tables["edits"])
    arrays = _arrays_from(tables["arrays"], n)
    collection = Collection(
        messages,
        extra=extra,
        user=user,
        corrected=corrected,
        confirmed=confirmed,
        spam_prob=_sized(arrays.get("spam_prob"), n, np.float32, np.nan),
        sentiment_prob=_sized(arrays.get("sentiment_prob"), n, np.float32, np.nan, cols=3),
        cluster=_sized(arrays.get("cluster"), n, np.int32, -1),
        model_versions=dict(meta.get("model_versions", {})),
    )
    hooks.progress(n, n, "reading messages")
    return collection


#: The derived columns :meth:`Project.save_results` writes.
_RESULT_ARRAYS = ("spam_prob", "sentiment_prob", "cluster")


def read_messages(
    path: str | Path, n_rows: int, *, on_progress=None, stop_requested=None
) -> pd.DataFrame:
    """The first ``n_rows`` messages (text columns) of a project file, opened read-only.

    For a child process that works on a project the window has open: the texts are read
    from the file instead of being copied through a pipe. Messages are only ever appended,
    so the first ``n_rows`` are those of any snapshot of that length.
    """
    hooks = Hooks(on_progress, stop_requested)
    path = Path(path)
    try:
        conn = _connect(path, readonly=True)
    except sqlite3.Error as exc:
        raise _db_error(path, exc, "reading the messages") from exc
    try:
        chunks = conn.execute(
            "SELECT coalesce(sum(n_rows), 0) FROM message_chunks WHERE first_row < ?", (n_rows,)
        ).fetchone()[0]
        if chunks < n_rows:
            raise _Unreadable(f"the project holds {chunks} messages, not {n_rows}")
        messages = Project._read_messages(conn, int(chunks), hooks, limit=n_rows)
    except sqlite3.Error as exc:
        raise _db_error(path, exc, "reading the messages") from exc
    except _UNREADABLE as exc:
        raise DamagedProject(
            path, f"the project file is damaged ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        conn.close()
    if len(messages) > n_rows:
        messages = messages.iloc[:n_rows].reset_index(drop=True)
    hooks.progress(n_rows, n_rows, "reading messages")
    return messages


class _Unreadable(ValueError):
    """What a project holds does not add up (rows missing, counts that disagree)."""


# What decoding a damaged blob or a table of the wrong shape can raise.
_UNREADABLE = (_Unreadable, pa.ArrowException, ValueError, TypeError, KeyError, OSError)


def _sized(array, n: int, dtype, fill, cols: int | None = None) -> np.ndarray:
    shape = (n,) if cols is None else (n, cols)
    out = np.full(shape, fill, dtype=dtype)
    if array is not None:
        m = min(len(array), n)
        out[:m] = array[:m]
    return out


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_db(path: Path) -> None:
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        with contextlib.suppress(OSError):
            p.unlink()


def backup_path(path: str | Path) -> Path:
    """The newest backup of a project (``NAME.bak``)."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


def backup_paths(path: str | Path) -> list[Path]:
    """Every backup generation of a project, newest first (whether it exists or not)."""
    newest = backup_path(path)
    return [newest] + [newest.with_name(f"{newest.name}.{i}") for i in range(1, BACKUP_GENERATIONS)]


def backups(path: str | Path) -> list[Path]:
    """The backups a project has, newest first."""
    return [p for p in backup_paths(path) if p.exists()]


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_file(path: str | Path) -> None:
    """Raise :class:`ProjectError` if ``path`` is not a readable, intact Triage project.

    Opens the file read-only: a damaged project is never written to.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise ProjectError(path, f"cannot read the project: {exc.strerror or exc}") from exc
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        raise DamagedProject(
            path, "this is not a Triage project, or the file is truncated or damaged"
        )
    if int.from_bytes(head[68:72], "big") != APPLICATION_ID:
        raise DamagedProject(path, "this SQLite file is not a Triage project, or it is damaged")
    try:
        conn = _connect(path, readonly=True)
    except sqlite3.Error as exc:
        raise _db_error(path, exc, "checking the project") from exc
    try:
        _check_connection(path, conn)
    except sqlite3.Error as exc:
        raise _db_error(path, exc, "checking the project") from exc
    finally:
        conn.close()


#: A format number above this is damage, not a Triage from the future.
_PLAUSIBLE_VERSIONS = 99


def _check_connection(path: Path, conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if not 1 <= version <= _PLAUSIBLE_VERSIONS:
        raise DamagedProject(path, f"the project file is damaged (format number {version})")
    if version > SCHEMA_VERSION:
        raise ProjectError(
            path,
            f"the project was written by a newer Triage (format {version}); update Triage to open it",
        )
    try:
        # Not quick_check: an index that disagrees with its table reads fine, but the next
        # upsert through it would write a duplicate.
        result = conn.execute("PRAGMA integrity_check(1)").fetchone()[0]
    except UnicodeDecodeError:  # its report quotes damaged bytes
        result = "SQLite's check found damage"
    if result != "ok":
        raise DamagedProject(path, f"the project file is damaged ({result})")


def recover(path: str | Path, *, on_progress=None, stop_requested=None) -> Project:
    """Recover a damaged project from its newest backup that passes every check, into a new
    file beside it, and open that.

    The damaged original is left untouched (for the user or for support to look at). Raises
    :class:`ProjectError` when there is no usable backup.
    """
    path = Path(path)
    found = backups(path)
    if not found:
        raise ProjectError(path, "the project is damaged and there is no backup to recover from")
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H%M%S")
    target = path.with_name(f"{path.stem} (recovered {stamp}){path.suffix or SUFFIX}")
    reasons = []
    for bak in found:
        try:
            check_file(bak)
            tmp = target.with_name(target.name + ".tmp")
            shutil.copyfile(bak, tmp)
            os.replace(tmp, target)
            return Project.open(target, on_progress=on_progress, stop_requested=stop_requested)
        except DamagedProject as exc:
            _remove_db(target)
            reasons.append(f"{bak.name}: {exc.reason}")
        except OSError as exc:
            _remove_db(target)
            raise ProjectError(target, f"cannot write the recovered copy: {exc.strerror}") from exc
    raise ProjectError(
        path,
        "the project is damaged and none of its backups is usable (" + "; ".join(reasons) + ")",
    )


@contextlib.contextmanager
def opened(path: str | Path) -> Iterator[Project]:
    project = Project.open(path)
    try:
        yield project
    finally:
        project.close()
