"""Which projects were made from which files: opening a file again finds its project.

Every imported project records the resolved paths it was made from (its ``sources`` meta
key, written by :func:`guiapp.core.session.import_files`). :func:`projects_for_sources`
reads that key -- and a short summary for the user to choose by -- from each project file
in a folder, without loading any messages: each file is opened read-only through SQLite,
so a project open in another window is neither locked nor changed, and a closed one gains
no ``-wal`` / ``-shm`` files.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from guiapp.core.project import SUFFIX


@dataclass(frozen=True)
class ProjectSummary:
    """What the user needs to recognise a project: its name, size, labels and age."""

    path: Path
    name: str
    messages: int
    labelled: int  # messages with at least one label given by the user
    modified: _dt.datetime  # the user's last label edit, else when it was imported (UTC)

    def describe(self) -> str:
        """One line: "sms — 300 messages, 12 labelled by you, last changed 2026-12-04 10:31"."""
        when = self.modified.astimezone().strftime("%Y-%m-%d %H:%M")
        return (
            f"{self.name} \u2014 {self.messages:,} messages, {self.labelled:,} labelled by you, "
            f"last changed {when}"
        )


def source_key(paths: Sequence[str | Path]) -> list[str]:
    """The sources as a project records them: resolved paths, in order."""
    return [str(Path(p).resolve()) for p in paths]


def projects_for_sources(paths: Sequence[str | Path], folder: Path) -> list[ProjectSummary]:
    """The projects in ``folder`` made from exactly these files (in any order), the most
    recently changed first. Files that cannot be read are left out: this is a convenience,
    and opening such a project reports its problem properly."""
    wanted = sorted(source_key(paths))
    found = []
    for candidate in sorted(folder.glob(f"*{SUFFIX}")):
        summary = _summary_if_made_from(candidate, wanted)
        if summary is not None:
            found.append(summary)
    found.sort(key=lambda s: (s.modified, s.path.stat().st_mtime), reverse=True)
    return found


def _summary_if_made_from(path: Path, wanted: list[str]) -> ProjectSummary | None:
    # A closed project has no write-ahead log: read it as immutable, which creates no -wal
    # and -shm files beside it. With a log (open elsewhere, or killed) read through it.
    wal = Path(f"{path}-wal").exists()
    query = "mode=ro" if wal else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, timeout=0.5)
    except sqlite3.Error:
        return None
    with contextlib.closing(conn):
        try:
            meta = dict(
                conn.execute(
                    "SELECT key, value FROM meta WHERE key IN ('sources', 'name', 'created')"
                )
            )
            sources = json.loads(meta.get("sources", "null"))
            if not isinstance(sources, list) or sorted(map(str, sources)) != wanted:
                return None
            name = json.loads(meta.get("name", "null")) or path.stem
            messages = conn.execute("SELECT COALESCE(SUM(n_rows), 0) FROM message_chunks")
            messages = messages.fetchone()[0]
            labelled = conn.execute("SELECT COUNT(DISTINCT row) FROM labels WHERE value >= 0")
            labelled = labelled.fetchone()[0]
            # When the user last labelled (not when the file was last written: closing a
            # project checkpoints it), else when it was made.
            last = conn.execute("SELECT MAX(at) FROM edits").fetchone()[0]
            modified = _dt.datetime.fromisoformat(last or json.loads(meta["created"]))
        except (sqlite3.Error, ValueError, TypeError, KeyError):
            return None
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=_dt.UTC)
    return ProjectSummary(path, str(name), int(messages), int(labelled), modified)


__all__ = ["ProjectSummary", "projects_for_sources", "source_key"]
