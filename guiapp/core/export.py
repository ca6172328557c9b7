"""Labelled export: one row per message, as CSV, an Excel workbook or Parquet, written atomically.

Columns (:data:`EXPORT_COLUMNS`)::

    id, source, kind, subject, sender, date, text,
    spam, spam_score, spam_by, sentiment, sentiment_score, sentiment_by,
    cluster, cluster_terms, corrected, model_version

- ``spam`` / ``sentiment`` is the label the user sees: theirs where they gave one, else the
  model's; ``*_by`` says which (``user`` / ``model``, empty when there is neither).
- ``spam_score`` is the model's P(spam); ``sentiment_score`` the model's probability of its
  predicted class (empty before prediction).
- ``source`` names where the message came from as the user knows it (:func:`source_names`:
  ``demo: emails.mbox #1``, ``sms.csv``), not the folder the file was in.
- ``corrected`` is ``true`` where the user corrected the model in Triage (either task): gave
  a label other than its prediction, or removed an imported label. Confirming a prediction
  (giving the label the model had predicted) is not a correction.
- ``model_version`` names the models behind the scores: ``spam=V1;sentiment=V2``.

Re-importing an export (:func:`guiapp.core.io.load_collection`) restores the user labels
and every text exactly.

By default a CSV keeps every text byte for byte (what pandas or R should read). With
``spreadsheet_safe`` (an explicit choice) cells a spreadsheet would run as a formula
(leading ``=``, ``+``, ``-``, ``@``, tab, CR) get a leading ``'``, as OWASP advises -- the
header row too, through the same :func:`neutralise_cell` -- and the file starts with a
UTF-8 byte-order mark, which spreadsheets need to read UTF-8 and which tells Triage's
importer to undo the escaping (:func:`restore_cell`). An ``.xlsx`` workbook needs no
escaping: every cell is written as a string cell, so nothing in it is ever evaluated.

The file is written under a temporary name in the target folder and renamed into place, so
a failed, cancelled or killed export never leaves half a file (nor clobbers an older
export); the hidden ``.NAME.*.partial`` a killed one leaves is removed by the next export.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import glob
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: a file open elsewhere cannot be deleted anyway
    fcntl = None  # type: ignore[assignment]

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from guiapp.core.collection import Collection
from guiapp.core.errors import ExportError
from guiapp.core.messages import CLASSES, NO_LABEL, TASKS, TEXT_COLUMNS
from guiapp.core.outputs import check_output
from guiapp.core.progress import Hooks

EXPORT_COLUMNS = (
    *TEXT_COLUMNS,
    "spam",
    "spam_score",
    "spam_by",
    "sentiment",
    "sentiment_score",
    "sentiment_by",
    "cluster",
    "cluster_terms",
    "corrected",
    "model_version",
)

SCOPES = ("all", "labelled")
FORMATS = ("csv", "xlsx", "parquet")
XLSX_MAX_ROWS = 1_048_576
"""Rows in one Excel worksheet, the header included."""
XLSX_MAX_CELL = 32_767
"""Characters one Excel cell holds; longer texts are cut (and the export says how many)."""

# A cell is dangerous when it starts with one of these; cells that start with quotes then
# one of these are escaped too, so restore_cell can undo exactly one level.
_TRIGGER = r"^'*[=+\-@\t\r]"
RESTORE_PATTERN = r"^'+[=+\-@\t\r]"
"""A cell :func:`neutralise_cell` changed: restore it by dropping one leading quote."""
_RESTORE = re.compile(RESTORE_PATTERN)
BATCH_ROWS = 100_000


def neutralise_cell(text: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would treat as a formula (OWASP CSV injection)."""
    return "'" + text if re.match(_TRIGGER, text) else text


def restore_cell(text: str) -> str:
    """Undo :func:`neutralise_cell` (used by the importer on Triage's own exports)."""
    return text[1:] if _RESTORE.match(text) else text


def export_format(path: str | Path) -> str:
    """The format an output path asks for by its suffix: ``xlsx``, ``parquet``, else ``csv``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "csv"


@dataclass
class ExportResult:
    """What an export wrote: the row count, and what the user should know about it."""

    path: Path
    rows: int
    format: str
    notes: list[str] = field(default_factory=list)


def _neutralise_array(array: pa.Array) -> pa.Array:
    mask = pc.match_substring_regex(array, _TRIGGER)
    if not pc.any(mask).as_py():
        return array
    return pc.if_else(mask, pc.binary_join_element_wise("'", array, ""), array)


def source_names(sources: pa.Array) -> pa.Array:
    """Where each message came from as a user names it: ``demo: emails.mbox #1`` for
    ``/…/site-packages/guiapp/_resources/demo::emails.mbox::1`` -- the file or folder's own
    name (not the folder it sits in), then each member, then the message number."""
    out = pc.replace_substring_regex(sources, r"::(\d+)$", r" #\1")
    out = pc.replace_substring_regex(out, r"^(?:[^:]*[/\\])?([^/\\:]*)(::|$| #)", r"\1\2")
    return pc.replace_substring(out, "::", ": ")


def source_name(source: str) -> str:
    """:func:`source_names` of one source."""
    return source_names(pa.array([source], type=pa.string()))[0].as_py()


def scope_rows(collection: Collection, scope: str) -> np.ndarray | None:
    """Store rows for a named scope: ``all`` (None = every row) or ``labelled`` (by the user)."""
    if scope == "all":
        return None
    if scope == "labelled":
        return np.flatnonzero(collection.labelled_by_user())
    raise ValueError(f"unknown export scope {scope!r} (all, labelled, or a selection of rows)")


def _pick(choices: list[str], index: np.ndarray) -> pa.Array:
    """``choices[index]`` as an Arrow string array, without a Python-object round trip."""
    return pa.array(choices, type=pa.string()).take(pa.array(index.astype(np.int64)))


def names_column(task: str, codes: np.ndarray) -> pa.Array:
    return _pick(["", *CLASSES[task]], codes.astype(np.int64) + 1)


def scores_column(values: np.ndarray) -> pa.Array:
    """Probabilities as fixed 4-decimal text ("0.0428"), empty where NaN; vectorised."""
    missing = np.isnan(values)
    scaled = np.round(np.nan_to_num(values, nan=0.0).astype(np.float64) * 10_000).astype(np.int64)
    whole = pc.cast(pa.array(scaled // 10_000), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(scaled % 10_000), pa.string()), 4, "0")
    text = pc.binary_join_element_wise(whole, frac, ".")
    return pc.if_else(pa.array(missing), pa.scalar("", pa.string()), text)


def cluster_columns(cluster: np.ndarray, top_terms: list[list[str]]) -> tuple[pa.Array, pa.Array]:
    """The ``cluster`` number and ``cluster_terms`` text columns ("" where no theme)."""
    number = pc.if_else(
        pa.array(cluster >= 0), pc.cast(pa.array(cluster), pa.string()), pa.scalar("", pa.string())
    )
    terms = ["", *(" ".join(t) for t in top_terms)]
    index = np.where((cluster >= 0) & (cluster < len(terms) - 1), cluster + 1, 0)
    return number, _pick(terms, index)


def export_table(collection: Collection, rows: np.ndarray | None = None) -> pa.Table:
    """The export as an Arrow table (before formula neutralisation)."""
    if rows is None:
        rows = np.arange(len(collection), dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    messages = collection.messages
    columns: dict[str, pa.Array] = {}
    for name in TEXT_COLUMNS:
        col = messages[name]
        arr = pa.array(col.iloc[rows] if len(rows) != len(messages) else col, type=pa.string())
        columns[name] = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    columns["source"] = source_names(columns["source"])
    for task in TASKS:
        user = collection.user[task][rows]
        predicted = collection.predicted(task)[rows]
        label = np.where(user != NO_LABEL, user, predicted)
        by = np.where(user != NO_LABEL, 1, np.where(predicted != NO_LABEL, 2, 0))
        columns[task] = names_column(task, label)
        columns[f"{task}_score"] = scores_column(collection.score(task)[rows])
        columns[f"{task}_by"] = _pick(["", "user", "model"], by)
    columns["cluster"], columns["cluster_terms"] = cluster_columns(
        collection.cluster[rows], getattr(collection.clustering, "top_terms", None) or []
    )
    corrected = collection.any_corrected()[rows]
    columns["corrected"] = _pick(["false", "true"], corrected.astype(np.int64))
    versions = ";".join(f"{t}={v}" for t, v in sorted(collection.model_versions.items()) if v)
    columns["model_version"] = _pick([versions], np.zeros(len(rows), dtype=np.int64))
    return pa.table({name: columns[name] for name in EXPORT_COLUMNS})


def write_csv(
    table: pa.Table | pd.DataFrame,
    path: str | Path,
    *,
    spreadsheet_safe: bool = False,
    inputs: Sequence[str | Path] = (),
    on_progress=None,
    stop_requested=None,
) -> int:
    """Write a table as UTF-8 CSV atomically; returns the number of rows written.

    Every column is written as text (quoted where needed, RFC 4180), byte for byte; with
    ``spreadsheet_safe`` cells (and header names) that start like a formula get a leading
    ``'`` and the file a byte-order mark. ``path`` may not be one of ``inputs`` (the
    project file the table comes from, say).
    """
    hooks = Hooks(on_progress, stop_requested)
    table = _as_table(table)
    n = table.num_rows

    def batches():
        for start in range(0, max(n, 1), BATCH_ROWS):
            hooks.step(start, n, "exporting")
            yield table.slice(start, BATCH_ROWS)

    with TableWriter(
        path, table.schema, spreadsheet_safe=spreadsheet_safe, inputs=inputs
    ) as writer:
        for batch in batches():
            writer.write(batch)
    hooks.progress(n, n, "exported")
    return n


def _as_table(table: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table.astype("string"), preserve_index=False)
    return table


class TableWriter:
    """Write a table in batches to CSV (UTF-8, RFC 4180), Excel (``.xlsx``) or Parquet,
    atomically.

    The rows go to a temporary file in the target folder, which replaces ``path`` only when
    the ``with`` block ends without an error; on any error or cancel the temporary file is
    removed and an earlier file at ``path`` is left as it was. The format is ``format`` or
    follows the suffix (:func:`export_format`). CSV and Excel columns are all written as
    text; a CSV keeps every byte unless ``spreadsheet_safe`` (see the module docstring).
    An Excel sheet holds every cell as a string cell (never a formula, number or link).
    :attr:`notes` says what the user should know (texts cut to Excel's cell limit).
    ``path`` must not be one of ``inputs``, a pipe, a device or a folder
    (:func:`guiapp.core.outputs.check_output`).
    """

    def __init__(
        self,
        path: str | Path,
        schema: pa.Schema,
        *,
        spreadsheet_safe: bool = False,
        format: str | None = None,
        inputs: Sequence[str | Path] = (),
    ):
        self.path = Path(path)
        self.inputs = tuple(inputs)
        self.format = format or export_format(self.path)
        if self.format not in FORMATS:
            raise ValueError(f"unknown export format {self.format!r} (one of {FORMATS})")
        if self.format != "parquet":
            schema = pa.schema([(f.name, pa.string()) for f in schema])
        self.schema = schema
        self.neutralise = spreadsheet_safe and self.format == "csv"
        self.rows = 0
        self.notes: list[str] = []
        self._cut = 0
        #: CSV cells holding a NUL character: written as they are, but CSV readers --
        #: Triage's importer too -- drop NULs, so a re-import would not be exact; the
        #: export says so in :attr:`notes` (:func:`nul_note`).
        self.nul_cells = 0
        self._raw = None
        self._writer = None
        self._sheet = None
        self._tmp: Path | None = None

    def header(self) -> list[str]:
        """The header row as written: the column names, escaped like the cells."""
        names = self.schema.names
        return [neutralise_cell(n) for n in names] if self.neutralise else list(names)

    def __enter__(self) -> TableWriter:
        check_output(self.path, self.inputs)
        folder = self.path.parent if str(self.path.parent) else Path(".")
        try:
            fd, self._tmp = _locked_temp(folder, self.path.name)
        except OSError as exc:
            raise ExportError(self.path, _os_reason(exc)) from exc
        self._raw = os.fdopen(fd, "wb")
        remove_stale_partials(self.path, keep=self._tmp)
        try:
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self._raw, self.schema, compression="zstd")
            elif self.format == "xlsx":
                self._open_workbook()
            else:
                if self.neutralise:
                    self._raw.write(codecs.BOM_UTF8)
                header = pa.schema([(n, pa.string()) for n in self.header()])
                options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
                self._writer = pacsv.CSVWriter(self._raw, header, write_options=options)
        except OSError as exc:
            self._discard()
            raise ExportError(self.path, _os_reason(exc)) from exc
        except BaseException:
            self._discard()
            raise
        return self

    def _open_workbook(self) -> None:
        import xlsxwriter

        # The workbook is written to the locked temporary by name. constant_memory streams
        # each row to disk as it is written (a million rows would not fit otherwise).
        self._writer = xlsxwriter.Workbook(
            str(self._tmp),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._sheet = self._writer.add_worksheet("messages")
        for col, name in enumerate(self.schema.names):
            self._sheet.write_string(0, col, name)
        self._sheet.freeze_panes(1, 0)

    def write(self, batch: pa.Table) -> None:
        try:
            batch = batch.select(self.schema.names).cast(self.schema)
            if self.format == "csv":
                for column in batch.columns:
                    self.nul_cells += pc.sum(pc.match_substring(column, "\x00")).as_py() or 0
            if self.format == "xlsx":
                self._write_sheet_rows(batch)
                return
            if self.neutralise:
                batch = pa.table(
                    [_neutralise_array(c.combine_chunks()) for c in batch.columns],
                    names=self.header(),
                )
            else:
                batch = batch.rename_columns(self.header()) if self.format == "csv" else batch
            self._writer.write_table(batch)
        except OSError as exc:
            raise ExportError(self.path, _os_reason(exc)) from exc
        self.rows += batch.num_rows

    def _write_sheet_rows(self, batch: pa.Table) -> None:
        if self.rows + batch.num_rows + 1 > XLSX_MAX_ROWS:
            raise ExportError(
                self.path,
                f"an Excel sheet holds at most {XLSX_MAX_ROWS - 1:,} messages and this "
                f"export has more; export a CSV instead, or fewer messages",
            )
        write = self._sheet.write_string
        row = self.rows + 1
        # Row by row: in constant_memory mode a row is final once the next one starts.
        for values in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            for col, value in enumerate(values):
                # -2: longer than a cell holds; xlsxwriter wrote the first 32,767.
                if value and write(row, col, value) == -2:
                    self._cut += 1
            row += 1
        self.rows += batch.num_rows

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            if self.format == "xlsx":
                self._sheet.autofilter(0, 0, self.rows, len(self.schema.names) - 1)
                self._writer.close()
                if self._cut:
                    self.notes.append(
                        f"{self._cut:,} cell(s) longer than the {XLSX_MAX_CELL:,} characters an "
                        "Excel cell holds were cut; a CSV export keeps them whole"
                    )
            else:
                self._writer.close()
            if self.nul_cells:
                self.notes.append(nul_note(self.nul_cells))
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
            os.replace(self._tmp, self.path)
        except OSError as err:
            self._discard()
            raise ExportError(self.path, _os_reason(err)) from err
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        if self.format != "xlsx":
            with contextlib.suppress(Exception):
                self._writer.close()
        with contextlib.suppress(Exception):
            self._raw.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()


def nul_note(cells: int) -> str:
    """What to tell the user when ``cells`` CSV cells held a NUL (see TableWriter)."""
    if not cells:
        return ""
    return (
        f"{cells:,} cell{'s' if cells != 1 else ''} hold a NUL character, written as is: "
        "re-importing the CSV (in Triage or most tools) drops it"
    )


PARTIAL_SUFFIX = ".partial"


def _locked_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new hidden ``.NAME.XXXX.partial`` in ``folder``, open and locked for writing.

    A writer holds an exclusive ``flock`` on its ``.partial`` until it closes it or dies,
    and :func:`remove_stale_partials` only deletes a file while holding that lock itself:
    so a live export's file is never removed, and one a kill left behind is. A cleaner may
    catch a new file in the instant before its writer locks it; the writer then finds its
    file gone (or locked) and makes another. The mode follows the umask, as a plain
    ``open`` would (``mkstemp`` alone makes an export only its owner can read).
    """
    for _attempt in range(20):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=PARTIAL_SUFFIX, dir=folder)
        with contextlib.suppress(OSError, AttributeError):
            os.fchmod(fd, 0o666 & ~_umask())
        if fcntl is None:
            return fd, Path(tmp)  # Windows: an open file cannot be deleted
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a cleaner is removing it
            continue
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if os.fstat(fd).st_nlink:
            return fd, Path(tmp)
        os.close(fd)  # a cleaner removed it before we locked it
    raise OSError(errno.EAGAIN, "cannot create a temporary file beside the export")


def _umask() -> int:
    # Reading the umask means setting it; /proc says it without that (Linux 4.7+).
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_partials(path: str | Path, *, keep: Path | None = None) -> int:
    """Remove the temporaries that exports to ``path`` left when they were killed.

    A ``.partial`` whose writer is alive is locked (POSIX) or cannot be deleted (Windows)
    and stays. Returns how many were removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = 0
    try:
        candidates = list(folder.glob(f".{glob.escape(path.name)}.*{PARTIAL_SUFFIX}"))
    except OSError:
        return 0
    for candidate in candidates:
        if keep is not None and candidate == keep:
            continue
        try:
            fd = os.open(candidate, os.O_RDWR)
        except OSError:
            continue
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # a live export is writing it
            with contextlib.suppress(OSError):
                os.unlink(candidate)
                removed += 1
        finally:
            os.close(fd)
    return removed


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full; nothing was written (an earlier file at this path is unchanged)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "this location is read-only or not writable; choose another folder"
    if exc.errno == errno.ENOENT:
        return "the folder does not exist"
    return f"cannot write the file: {exc.strerror or exc}"


def export_messages(
    collection: Collection,
    path: str | Path,
    *,
    rows: np.ndarray | None = None,
    scope: str = "all",
    spreadsheet_safe: bool = False,
    format: str | None = None,
    inputs: Sequence[str | Path] = (),
    on_progress=None,
    stop_requested=None,
) -> ExportResult:
    """Export ``collection`` (``rows`` if given, else ``scope``) to ``path``.

    Parameters
    ----------
    rows, scope
        Store rows to write, in that order; else a named scope (:func:`scope_rows`).
    spreadsheet_safe
        CSV only: escape formula-like cells and header names, and write a byte-order mark
        (the module docstring says why); by default every text is written byte for byte.
    format
        ``csv``, ``xlsx`` or ``parquet``; default: by the suffix of ``path``.
    inputs
        Files the export must not overwrite (its project file and backups).

    Returns an :class:`ExportResult`; raises ExportError (nothing is left at ``path``).
    """
    hooks = Hooks(on_progress, stop_requested)
    if rows is None:
        rows = scope_rows(collection, scope)
    table = export_table(collection, rows)
    n = table.num_rows
    # An Excel sheet is written cell by cell in Python: smaller batches keep Cancel prompt.
    step = 10_000 if (format or export_format(path)) == "xlsx" else BATCH_ROWS
    with TableWriter(
        path, table.schema, spreadsheet_safe=spreadsheet_safe, format=format, inputs=inputs
    ) as w:
        for start in range(0, max(n, 1), step):
            hooks.step(start, n, "exporting")
            w.write(table.slice(start, step))
    hooks.progress(n, n, "exported")
    return ExportResult(Path(path), n, w.format, w.notes)


def export_csv(
    collection: Collection,
    path: str | Path,
    *,
    rows: np.ndarray | None = None,
    scope: str = "all",
    spreadsheet_safe: bool = False,
    inputs: Sequence[str | Path] = (),
    on_progress=None,
    stop_requested=None,
) -> int:
    """:func:`export_messages` to a CSV whatever the suffix; returns the row count."""
    return export_messages(
        collection,
        path,
        rows=rows,
        scope=scope,
        spreadsheet_safe=spreadsheet_safe,
        format="csv",
        inputs=inputs,
        on_progress=on_progress,
        stop_requested=stop_requested,
    ).rows
