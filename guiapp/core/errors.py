"""Typed errors of the core. Every message names the file, the place and the reason."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Characters a terminal acts on rather than shows: C0 controls (ESC starts colour, cursor
#: and title sequences; CR/LF rewrite lines), DEL, C1 controls, the bidirectional overrides
#: that reorder what follows, and the lone surrogates undecodable file-name bytes become.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udcff]")
#: How many names :func:`name_list` shows, and how much of each.
NAMES_SHOWN = 20
NAME_CHARS = 80


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    if "\udc80" <= c <= "\udcff":
        return f"\\x{ord(c) - 0xDC00:02x}"  # the undecodable byte itself
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(name: object) -> str:
    """A file or member name (or any text from an input) safe to print to a terminal or
    show in a message: every control character written as an escape (``\\x1b``)."""
    return _UNPRINTABLE.sub(_escape, str(name))


def name_list(names: Iterable[object], limit: int = NAMES_SHOWN) -> str:
    """Names for a message: quoted and :func:`printable`, each cut to :data:`NAME_CHARS`
    characters, the first ``limit`` and then how many more (a CSV of 200,000 columns gave
    a 2 MB "one-line" error)."""
    shown: list[str] = []
    more = 0
    for name in names:
        if len(shown) >= limit:
            more += 1
            continue
        text = printable(name)
        if len(text) > NAME_CHARS:
            text = text[: NAME_CHARS - 1] + "…"
        shown.append(f"'{text}'")
    return ", ".join(shown) + (f" and {more:,} more" if more else "")


class TriageError(Exception):
    """Base class of every error the core raises on purpose (never a bug)."""


class Cancelled(TriageError):
    """The user asked a long task to stop; raised from a ``stop_requested`` check."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


@dataclass(frozen=True)
class Location:
    """Where in a file something was found: a line, a record or a message number."""

    file: str
    line: int | None = None  # 1-based line number in a text file
    record: int | None = None  # 1-based record / message number (JSON item, mbox message)
    member: str | None = None  # member path inside a folder or archive

    def __str__(self) -> str:
        parts = [printable(self.file)]
        if self.member:
            parts.append(printable(self.member))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record is not None:
            parts.append(f"message {self.record}")
        return ", ".join(parts)


class InputError(TriageError):
    """A file (or part of one) cannot be imported.

    ``str(err)`` reads "FILE, line N: reason" and is fit to show to a user as is.
    """

    def __init__(
        self,
        file: str | Path,
        reason: str,
        *,
        line: int | None = None,
        record: int | None = None,
        member: str | None = None,
    ):
        self.location = Location(str(file), line=line, record=record, member=member)
        self.file = str(file)
        self.line = line
        self.record = record
        self.member = member
        self.reason = reason
        super().__init__(f"{self.location}: {reason}")


@dataclass(frozen=True)
class Problem:
    """A part of an input that was skipped (the rest was loaded)."""

    location: Location
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


#: Remedies a window can act on (``ModelError.remedy``), and the advice the message gives.
REMEDY_ADVICE = {
    "retrain": "Retrain the model in this version of the app (Models > Retrain, or "
    "`triage train`), or roll back to the shipped model.",
}


class ModelError(TriageError):
    """A model file cannot be used: wrong hash, unknown origin, other scikit-learn, ...

    ``remedy`` is machine-readable when it is a key of :data:`REMEDY_ADVICE` (``"retrain"``:
    offer a Retrain button), else a free-text advice; either way the message says it.
    """

    def __init__(self, path: str | Path, reason: str, *, remedy: str = ""):
        self.path = str(path)
        self.reason = reason
        self.remedy = remedy
        text = f"{printable(path)}: {reason}"
        if remedy:
            text += f" {REMEDY_ADVICE.get(remedy, remedy)}"
        super().__init__(text)

    def __reduce__(self):
        # Rebuilt from its fields (``remedy`` is keyword-only), so that one can travel in a
        # result from a child process.
        return (_model_error, (self.path, self.reason, self.remedy))


def _model_error(path: str, reason: str, remedy: str) -> ModelError:
    return ModelError(path, reason, remedy=remedy)


class ProjectError(TriageError):
    """The project file cannot be opened or saved (corrupt, read-only, disk full, ...)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{printable(path)}: {reason}")


class ExportError(TriageError):
    """An export could not be written; nothing was left behind at the target path."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{printable(path)}: {reason}")
