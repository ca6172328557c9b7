"""Labels from a file: ``triage label P.triage --from LABELS.csv``.

LABELS.csv names each message by ``id`` (the ids ``triage classify`` writes for the same
input, which are the project's ids) or by ``text`` (an exact match), and gives a ``spam``
and/or ``sentiment`` column of label names (``spam``/``ham``, ``negative``/``neutral``/
``positive``; empty: no label). Each task's labels are one undoable edit, saved to the
project like a label set in the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from guiapp.core.commands import SetLabels, describe
from guiapp.core.errors import InputError
from guiapp.core.messages import CLASSES, NO_LABEL, TASKS
from guiapp.core.project import Project


@dataclass
class Labelled:
    """What :func:`label_from_file` did."""

    set: dict[str, int] = field(default_factory=dict)  # task -> labels set
    unmatched: list[str] = field(default_factory=list)  # ids / texts that match no message
    key: str = "id"


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(str(path), f"not a readable UTF-8 CSV ({exc})") from None


def label_from_file(project: Project, path: str | Path) -> Labelled:
    """Apply the labels in ``path`` to ``project`` (see the module's description)."""
    path = Path(path)
    frame = _read(path)
    columns = [str(c) for c in frame.columns]
    key = "id" if "id" in columns else "text" if "text" in columns else None
    if key is None:
        raise InputError(
            str(path), f"needs an 'id' or a 'text' column (it has {', '.join(columns)})"
        )
    tasks = [t for t in TASKS if t in columns]
    if not tasks:
        raise InputError(str(path), "needs a 'spam' and/or a 'sentiment' column")
    collection = project.collection
    known = pd.Series(np.arange(len(collection)), index=collection.messages[key].astype(str))
    known = known[~known.index.duplicated(keep="first")]
    found = known.reindex(frame[key].astype(str)).to_numpy()
    matched = ~np.isnan(found)
    out = Labelled(key=key, unmatched=frame[key][~matched].astype(str).tolist())
    for task in tasks:
        names = frame[task].str.strip().str.lower().to_numpy()
        codes = np.full(len(frame), NO_LABEL, dtype=np.int64)
        for code, name in enumerate(CLASSES[task]):
            codes[names == name] = code
        bad = (names != "") & (codes == NO_LABEL)
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 2  # the header is line 1
            raise InputError(
                str(path),
                f"line {line}: {frame[task].iloc[line - 2]!r} is not a {task} label "
                f"({', '.join(CLASSES[task])})",
            )
        use = matched & (codes >= 0)
        rows = found[use].astype(np.int64)
        values = codes[use].astype(np.int8)
        rows, last = np.unique(rows[::-1], return_index=True)  # a repeated id: its last line
        values = values[::-1][last]
        if not len(rows):
            out.set[task] = 0
            continue
        text = f"{describe(task, int(values[0]), len(rows))} (from {path.name})"
        if len(np.unique(values)) > 1:
            text = f"set the {task} label of {len(rows):,} messages (from {path.name})"
        project.apply(SetLabels(task, rows, values, np.ones(len(rows), dtype=bool), text))
        out.set[task] = int(len(rows))
    return out


__all__ = ["Labelled", "label_from_file"]
