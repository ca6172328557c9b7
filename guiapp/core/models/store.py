"""The model versions a project owns, stored inside the project file.

Every version is one row of ``model_versions``: its card (JSON, with where it came from:
``origin``) and the model itself as the arrays of :mod:`.serial` (never a pickle),
checked against the SHA-256 beside them when loaded. Which version each task uses is the
meta key ``active_models`` (absent: the shipped model). Copying the project file copies
its models; the shipped models in ``models/`` are every project's starting point and are
never written.

Origins (``card["origin"]``): ``{"kind": "shipped"}``; ``{"kind": "retrained", "labels":
N, "edit": k, "parent": version, "start": version}``; ``{"kind": "imported", "file":
path}``; ``{"kind": "copied", "project": name, "version": version}``.

These functions take an open ``sqlite3`` connection; :class:`~guiapp.core.project.Project`
wraps them with its lock, and a worker in another process reads through
:func:`read_only` (SQLite's write-ahead log lets it read while the window writes).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from guiapp.core.errors import ModelError
from guiapp.core.messages import TASKS
from guiapp.core.models import serial
from guiapp.core.models.registry import SHIPPED, TrainedModel, load_shipped
from guiapp.core.project import MODEL_SCHEMA as SCHEMA

ACTIVE_KEY = "active_models"


@dataclass(frozen=True)
class StoredVersion:
    """One version a project can use: the shipped model or one of its own."""

    task: str
    version: str
    card: dict[str, Any] = field(default_factory=dict)
    active: bool = False

    @property
    def shipped(self) -> bool:
        return self.version == SHIPPED

    @property
    def origin(self) -> dict[str, Any]:
        origin = self.card.get("origin")
        return dict(origin) if isinstance(origin, dict) else {"kind": "shipped"}

    @property
    def created(self) -> str:
        return str(self.card.get("created", ""))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ensure(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def _meta(conn: sqlite3.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def active(conn: sqlite3.Connection) -> dict[str, str]:
    """Per task, the version in use (``"shipped"`` unless the project chose another)."""
    value = _meta(conn, ACTIVE_KEY)
    value = value if isinstance(value, dict) else {}
    return {t: str(value.get(t, SHIPPED)) for t in TASKS}


def set_active(conn: sqlite3.Connection, task: str, version: str) -> None:
    """Make ``version`` (one of the project's, or ``"shipped"``) the one ``task`` uses
    (inside the caller's transaction)."""
    if version != SHIPPED and _row(conn, task, version) is None:
        raise ModelError(version, f"the project has no {task} model version {version!r}.")
    chosen = active(conn)
    chosen[task] = version
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (ACTIVE_KEY, json.dumps(chosen)))


def _row(conn: sqlite3.Connection, task: str, version: str) -> tuple | None:
    try:
        return conn.execute(
            "SELECT card, data, sha256 FROM model_versions WHERE task=? AND version=?",
            (task, version),
        ).fetchone()
    except sqlite3.OperationalError:  # a project made before models were stored in it
        return None


def next_version(conn: sqlite3.Connection, task: str) -> str:
    try:
        (n,) = conn.execute("SELECT COUNT(*) FROM model_versions WHERE task=?", (task,)).fetchone()
    except sqlite3.OperationalError:
        n = 0
    version = f"{task}-{int(n) + 1}"
    while _row(conn, task, version) is not None:
        n += 1
        version = f"{task}-{int(n) + 1}"
    return version


def add(
    conn: sqlite3.Connection,
    model: TrainedModel,
    origin: dict[str, Any],
    *,
    activate: bool = True,
    trained_on: tuple[np.ndarray, np.ndarray] | None = None,
) -> StoredVersion:
    """Store ``model`` as a new version of its task (inside the caller's transaction);
    its card gets the version id, the time and ``origin``. ``trained_on``: the store rows
    and labels it was fitted on (the report measures it later on the labels added since)."""
    data = serial.pipeline_bytes(model.pipeline)
    version = next_version(conn, model.task)
    card = dict(model.card)
    card.update(
        {
            "task": model.task,
            "version": version,
            "created": _now(),
            "shipped": False,
            "origin": dict(origin),
            "format": serial.FORMAT,
            "sha256": serial.digest(data),
            "size_bytes": len(data),
        }
    )
    conn.execute(
        "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?)",
        (version, model.task, card["created"], json.dumps(card), data, card["sha256"]),
    )
    if trained_on is not None:
        rows, labels = trained_on
        conn.execute(
            "INSERT OR REPLACE INTO model_training VALUES (?, ?, ?)",
            (
                version,
                np.ascontiguousarray(rows, dtype="<i8").tobytes(),
                np.ascontiguousarray(labels, dtype=np.int8).tobytes(),
            ),
        )
    if activate:
        set_active(conn, model.task, version)
    model.card = card
    return StoredVersion(model.task, version, card, activate)


def trained_on(
    conn: sqlite3.Connection, task: str, version: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """The (store rows, labels) version ``version`` was fitted on, if recorded."""
    try:
        row = conn.execute(
            "SELECT rows, labels FROM model_training WHERE version=?", (version,)
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    if row is None:
        return None
    rows = np.frombuffer(row[0], dtype="<i8").astype(np.int64)
    labels = np.frombuffer(row[1], dtype=np.int8)
    return (rows, labels) if len(rows) == len(labels) else None


def versions(conn: sqlite3.Connection, task: str) -> list[StoredVersion]:
    """The project's versions of ``task``, newest first, then the shipped model."""
    chosen = active(conn)[task]
    out: list[StoredVersion] = []
    try:
        rows = conn.execute(
            "SELECT version, card FROM model_versions WHERE task=? ORDER BY created DESC, "
            "rowid DESC",
            (task,),
        ).fetchall()
    except sqlite3.OperationalError:
        rows = []
    for version, card in rows:
        try:
            parsed = json.loads(card)
        except ValueError:
            parsed = {"version": version, "description": "(its card cannot be read)"}
        out.append(StoredVersion(task, version, parsed, version == chosen))
    try:
        shipped_card = dict(load_shipped(task).card)
    except ModelError as exc:
        shipped_card = {"description": f"cannot be loaded: {exc.reason}"}
    shipped_card["origin"] = {"kind": "shipped"}
    out.append(StoredVersion(task, SHIPPED, shipped_card, chosen == SHIPPED))
    return out


def load(
    conn: sqlite3.Connection, task: str, version: str | None, source: str | Path
) -> TrainedModel:
    """Version ``version`` of ``task`` (None: the active one), checked against its digest.
    ``source`` names the project in messages."""
    version = active(conn)[task] if version is None else version
    if version == SHIPPED:
        return load_shipped(task)
    row = _row(conn, task, version)
    if row is None:
        raise ModelError(source, f"the project has no {task} model version {version!r}.")
    card_text, data, sha = row
    where = f"{source} (model {version})"
    if serial.digest(bytes(data)) != sha:
        raise ModelError(
            where,
            "the stored model does not match its SHA-256 (damaged); it was not loaded.",
            remedy="retrain",
        )
    try:
        card = json.loads(card_text)
    except ValueError:
        raise ModelError(where, "the model's card cannot be read.", remedy="retrain") from None
    pipeline = serial.pipeline_from_bytes(task, bytes(data), where)
    return TrainedModel(task, pipeline, card=card)


@contextlib.contextmanager
def read_only(path: str | Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a project file (for a worker, in any process)."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ModelError(path, f"the project's models cannot be read ({exc}).") from None
    try:
        yield conn
    finally:
        conn.close()


def load_from(path: str | Path | None, task: str, version: str | None = None) -> TrainedModel:
    """The project at ``path``'s version of ``task`` (None: active); no project: shipped."""
    if path is None:
        if version not in (None, SHIPPED):
            raise ModelError(task, f"model version {version!r} belongs to a project.")
        return load_shipped(task)
    with read_only(path) as conn:
        try:
            return load(conn, task, version, Path(path).name)
        except sqlite3.Error as exc:
            raise ModelError(path, f"the project's models cannot be read ({exc}).") from None


def versions_from(path: str | Path | None, task: str) -> list[StoredVersion]:
    if path is None:
        return [StoredVersion(task, SHIPPED, dict(load_shipped(task).card), True)]
    with read_only(path) as conn:
        return versions(conn, task)


def active_from(path: str | Path | None) -> dict[str, str]:
    if path is None:
        return {t: SHIPPED for t in TASKS}
    with read_only(path) as conn:
        return active(conn)


__all__ = [
    "ACTIVE_KEY",
    "SCHEMA",
    "StoredVersion",
    "active",
    "active_from",
    "add",
    "ensure",
    "load",
    "load_from",
    "set_active",
    "trained_on",
    "versions",
    "versions_from",
]
