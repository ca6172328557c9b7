"""Types shared by the importers: results, origins (where a message came from), options."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from guiapp.core.errors import InputError, Location, Problem, name_list
from guiapp.core.messages import COLUMNS, STRING_DTYPE, empty_frame

__all__ = [
    "AmbiguousTextColumn",
    "LoadResult",
    "Options",
    "Origin",
    "TablePreview",
]


@dataclass
class LoadResult:
    """What an import produced.

    Attributes
    ----------
    messages
        The collection, exactly :func:`guiapp.core.messages.make_frame`'s schema, RangeIndex.
    extra
        The original columns of tabular inputs (CSV/TSV/JSON objects/Parquet), row-aligned
        with ``messages``, string dtype, names as in the input; 0 columns for email/txt.
    problems
        Parts of the input that were skipped or read in a degraded way, each with a location.
    files
        The files (or folder/archive members) read, in order.
    encodings
        File (or member source) -> the text encoding it was read with, for text formats.
    """

    messages: pd.DataFrame
    extra: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> LoadResult:
        return cls(empty_frame(), pd.DataFrame(index=pd.RangeIndex(0)))

    def __len__(self) -> int:
        return len(self.messages)


@dataclass
class TablePreview:
    """A first look at a table file, for the window's column-mapping dialog."""

    path: str
    format: str  # "csv", "json", "jsonl", "parquet"
    columns: list[str]
    rows: list[list[str]]  # up to nrows sample rows, cells as text
    delimiter: str | None  # None for non-CSV
    encoding: str
    has_header: bool
    quoting: str  # "minimal" (RFC 4180 quotes) or "none" (tabs only, quotes are text)
    text_column: str | None  # the guess, None when it cannot be decided
    text_candidates: list[str]  # free-text columns, best first
    label_columns: dict[str, str]  # task -> column guessed as the user's labels
    kind: str  # the kind the messages would get
    mode: str  # "plain", "triage-export" or "triage-classify"
    problems: list[Problem] = field(default_factory=list)


class AmbiguousTextColumn(InputError):
    """A table's text column cannot be decided; pass ``text_column=`` to choose one.

    Raised when no column name says "text" and several columns hold similar free text.
    """

    def __init__(self, file: str, candidates: Sequence[str], *, member: str | None = None):
        self.candidates = list(candidates)
        names = name_list(self.candidates)
        super().__init__(
            file,
            f"cannot tell which column holds the message text ({names}); choose one",
            member=member,
        )


@dataclass(frozen=True)
class Origin:
    """Where the bytes being read came from: a file, or a member of a folder/archive."""

    file: str
    member: str | None = None
    hint: str | None = None  # the name to sniff by, e.g. "x.csv" for "x.csv.gz"

    @property
    def source(self) -> str:
        return f"{self.file}::{self.member}" if self.member else self.file

    @property
    def name(self) -> str:
        """The file name whose extension tells the format."""
        if self.hint:
            return self.hint
        return self.member.rsplit("/", 1)[-1] if self.member else self.file

    def child(self, member: str) -> Origin:
        return Origin(self.file, f"{self.member}/{member}" if self.member else member)

    def error(
        self, reason: str, *, line: int | None = None, record: int | None = None
    ) -> InputError:
        return InputError(self.file, reason, line=line, record=record, member=self.member)

    def problem(
        self, reason: str, *, line: int | None = None, record: int | None = None
    ) -> Problem:
        return Problem(Location(self.file, line=line, record=record, member=self.member), reason)


@dataclass(frozen=True)
class Options:
    """The caller's choices, passed down to every reader."""

    text_column: str | None = None
    label_columns: dict[str, str | None] | None = None
    kind: str | None = None


def clean_text(value: str) -> str:
    """A string Arrow can hold: lone surrogates (from JSON escapes such as "\\ud800" or
    undecodable header bytes) become U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def strings(values: Sequence[object]) -> pd.Series:
    """A string column from Python values (None -> NA), cleaning lone surrogates if any."""
    try:
        return pd.Series(values, dtype=STRING_DTYPE)
    except UnicodeEncodeError:
        return pd.Series(
            [clean_text(v) if isinstance(v, str) else v for v in values], dtype=STRING_DTYPE
        )


def string_frame(columns: dict[str, Sequence[object]], n: int) -> pd.DataFrame:
    """A frame of string columns with a RangeIndex of ``n`` rows (also for 0 columns)."""
    return pd.DataFrame(
        {clean_text(str(k)): strings(list(v)) for k, v in columns.items()},
        index=pd.RangeIndex(n),
    )


def concat_results(parts: Sequence[LoadResult]) -> LoadResult:
    """Concatenate results in order; extra columns are the union, missing cells NA."""
    if not parts:
        return LoadResult.empty()
    if len(parts) == 1:
        return parts[0]
    messages = pd.concat([p.messages for p in parts], ignore_index=True)
    for name in ("user_spam", "user_sentiment"):
        messages[name] = messages[name].astype(np.int8)
    extras = [p.extra for p in parts]
    if any(len(e.columns) for e in extras):
        extra = pd.concat(extras, ignore_index=True)
        extra = extra.astype(STRING_DTYPE)
    else:
        extra = pd.DataFrame(index=pd.RangeIndex(len(messages)))
    messages = messages[list(COLUMNS)]
    problems = [p for r in parts for p in r.problems]
    files = [f for r in parts for f in r.files]
    encodings: dict[str, str] = {}
    for r in parts:
        encodings.update(r.encodings)
    return LoadResult(messages, extra, problems, files, encodings)
