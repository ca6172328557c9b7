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
- ``models(task, version, sha256, path, card, created)`` -- which model made what.

A verified copy of the last good state is kept beside the file (``NAME.bak``) each time a
project opens cleanly; a corrupt file is never written to (see :func:`recover`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
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
from guiapp.core.collection import Collection
from guiapp.core.commands import SetLabels
from guiapp.core.errors import Cancelled, ProjectError
from guiapp.core.messages import STRING_DTYPE, TASKS, TEXT_COLUMNS
from guiapp.core.progress import Hooks

SCHEMA_VERSION = 1
APPLICATION_ID = 0x54524947  # "TRIG"
SUFFIX = ".triage"
CHUNK_ROWS = 100_000

_SCHEMA = """
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


def _db_error(path: Path, exc: sqlite3.Error, doing: str) -> ProjectError:
    text = str(exc)
    low = text.lower()
    if "disk is full" in low or "disk full" in low:
        reason = f"the disk is full while {doing}; nothing already saved was changed"
    elif "readonly" in low or "read-only" in low:
        reason = f"the project is read-only (while {doing}); save it elsewhere"
    elif "not a database" in low or "malformed" in low or "corrupt" in low:
        return DamagedProject(path, f"the project file is damaged ({text})")
    elif "locked" in low or "busy" in low:
        reason = f"the project is in use by another program (while {doing})"
    else:
        reason = f"{text} (while {doing})"
    return ProjectError(path, reason)


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


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

    def __init__(self, path: Path, conn: sqlite3.Connection, collection: Collection):
        self.path = Path(path)
        self._conn = conn
        self._lock = threading.RLock()
        self.collection = collection

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
        for stale in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            stale.unlink(missing_ok=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
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
        return cls(path, _connect(path), collection)

    @classmethod
    def open(
        cls, path: str | Path, *, backup: bool = True, on_progress=None, stop_requested=None
    ) -> Project:
        """Open an existing project, checking it first; keeps ``NAME.bak`` up to date.

        A damaged file raises :class:`ProjectError` and is left exactly as it is; use
        :func:`recover` to get the last good state back from the backup.
        """
        hooks = Hooks(on_progress, stop_requested)
        path = Path(path)
        if not path.exists():
            raise ProjectError(path, "no such project file")
        check_file(path)
        try:
            conn = _connect(path)
        except sqlite3.Error as exc:
            raise _db_error(path, exc, "opening the project") from exc
        try:
            collection = cls._read_collection(conn, hooks)
        except sqlite3.Error as exc:
            conn.close()
            raise _db_error(path, exc, "reading the project") from exc
        except _UNREADABLE as exc:
            # The SQLite pages are sound but what they hold is not (a damaged blob, a
            # table of the wrong shape): a damaged project all the same.
            conn.close()
            raise DamagedProject(
                path, f"the project file is damaged ({type(exc).__name__}: {exc})"
            ) from exc
        except Exception:
            conn.close()
            raise
        project = cls(path, conn, collection)
        if backup:
            project.write_backup()
        return project

    def write_backup(self) -> Path:
        """Copy the current (checked) state to ``NAME.bak`` atomically."""
        target = backup_path(self.path)
        tmp = target.with_name(target.name + ".tmp")
        try:
            with self._lock:
                dest = sqlite3.connect(str(tmp))
                try:
                    self._conn.backup(dest)
                finally:
                    dest.close()
            os.replace(tmp, target)
        except (sqlite3.Error, OSError):
            # A backup that cannot be written (full disk, read-only folder) must not stop
            # the user from working; the previous backup, if any, stays.
            with contextlib.suppress(OSError):
                tmp.unlink()
        return target

    # ------------------------------------------------------------------ edits
    def apply(self, command: SetLabels) -> SetLabels:
        """Make ``command`` durable on disk, then apply it in memory; returns its inverse.

        If the disk write fails, memory is not touched and :class:`ProjectError` is raised:
        what the user sees always matches what is saved.
        """
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

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()

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
        parts = []
        done = 0
        query = "SELECT first_row, n_rows, data FROM message_chunks"
        if limit is not None:
            query += f" WHERE first_row < {int(limit)}"
        for first, n_rows, data in conn.execute(query + " ORDER BY first_row"):
            if first != done:
                raise _Unreadable(f"messages {done}..{first - 1} are missing")
            hooks.step(done, n, "reading messages")
            parts.append(_parquet_to_frame(data))
            done += n_rows
        if done != n:
            raise _Unreadable(f"the project says {n} messages but holds {done}")
        return (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame({c: pd.Series([], dtype=STRING_DTYPE) for c in TEXT_COLUMNS})
        )

    @staticmethod
    def _read_collection(conn: sqlite3.Connection, hooks: Hooks) -> Collection:
        meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        n = int(meta.get("n_messages", 0))
        messages = Project._read_messages(conn, n, hooks)
        extra_parts = [
            _parquet_to_frame(data)
            for (data,) in conn.execute("SELECT data FROM extra_chunks ORDER BY first_row")
        ]
        extra = (
            pd.concat(extra_parts, ignore_index=True)
            if extra_parts
            else pd.DataFrame(index=pd.RangeIndex(n))
        )
        user = {t: np.full(n, -1, dtype=np.int8) for t in TASKS}
        corrected = {t: np.zeros(n, dtype=bool) for t in TASKS}
        confirmed = {t: np.zeros(n, dtype=bool) for t in TASKS}
        for task, row, value, corr in conn.execute(
            "SELECT task, row, value, corrected FROM labels"
        ):
            if task in user and 0 <= row < n:
                user[task][row] = value
                corrected[task][row] = corr == CORRECTED
                confirmed[task][row] = corr == CONFIRMED
        arrays = {
            name: _blob_to_array(d, s, b)
            for name, d, s, b in conn.execute(
                "SELECT name, dtype, shape, data FROM arrays WHERE name NOT LIKE '%/%'"
            )
        }
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
    path = Path(path)
    return path.with_name(path.name + ".bak")


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
        raise DamagedProject(path, "this SQLite file is not a Triage project")
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


def _check_connection(path: Path, conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ProjectError(
            path,
            f"the project was written by a newer Triage (format {version}); update Triage to open it",
        )
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise DamagedProject(path, f"the project file is damaged ({result})")


def recover(path: str | Path, *, on_progress=None, stop_requested=None) -> Project:
    """Recover a damaged project from its backup into a new file beside it, and open that.

    The damaged original is left untouched (for the user or for support to look at). Raises
    :class:`ProjectError` when there is no usable backup.
    """
    path = Path(path)
    bak = backup_path(path)
    if not bak.exists():
        raise ProjectError(path, "the project is damaged and there is no backup to recover from")
    check_file(bak)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H%M%S")
    target = path.with_name(f"{path.stem} (recovered {stamp}){path.suffix or SUFFIX}")
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(bak, tmp)
    os.replace(tmp, target)
    return Project.open(target, on_progress=on_progress, stop_requested=stop_requested)


@contextlib.contextmanager
def opened(path: str | Path) -> Iterator[Project]:
    project = Project.open(path)
    try:
        yield project
    finally:
        project.close()
