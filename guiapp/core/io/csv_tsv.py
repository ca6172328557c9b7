"""CSV and TSV files: dialect and header sniffing, a fast Arrow path, a lenient fallback.

The fast path hands the bytes to :func:`pyarrow.csv.open_csv` (multi-threaded, every column
read as a string so "007" stays "007"). Files it cannot read cleanly -- ragged rows, stray
quotes, a field larger than a block -- are read again with the :mod:`csv` module, which
gives each skipped row its line number.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from guiapp.core.errors import Problem
from guiapp.core.io import tables
from guiapp.core.io.base import LoadResult, Options, Origin, TablePreview
from guiapp.core.io.detect import (
    SNIFF_BYTES,
    decode_text,
    detect_bom,
    extension,
    utf16_without_bom,
)
from guiapp.core.messages import STRING_DTYPE
from guiapp.core.progress import Hooks

DELIMITERS = (",", "\t", ";", "|")
_ONE_COLUMN = "\x1f"  # the ASCII unit separator: never in text, so each line is one field
BLOCK_SIZE = 1 << 24

try:
    csv.field_size_limit(sys.maxsize)
except OverflowError:  # a C long is 32 bits on Windows
    csv.field_size_limit(2**31 - 1)

_LABEL_WORDS = {"ham", "spam", "positive", "negative", "neutral"}
_KNOWN_NAMES = (
    set(tables.TEXT_NAMES)
    | set(tables.ID_NAMES)
    | set(tables.SUBJECT_NAMES)
    | set(tables.SENDER_NAMES)
    | set(tables.DATE_NAMES)
    | set(tables.SPAM_NAMES)
    | set(tables.SENTIMENT_NAMES)
    | set(tables.GENERIC_LABEL_NAMES)
    | set(tables.EXPORT_COLUMNS)
    | {"to", "cc", "lang", "title", "source_file", "kind", "name"}
)


@dataclass
class Dialect:
    delimiter: str
    quoting: bool  # True: RFC 4180 quotes; False: QUOTE_NONE (quotes are text)
    has_header: bool
    names: list[str]
    sms_collection: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def csv_kwargs(self) -> dict[str, object]:
        if self.quoting:
            return {"delimiter": self.delimiter, "quotechar": '"', "doublequote": True}
        return {"delimiter": self.delimiter, "quoting": csv.QUOTE_NONE}


def _rows(sample: str, delimiter: str, quoting: bool, *, strict: bool) -> list[list[str]] | None:
    kwargs: dict[str, object] = {"delimiter": delimiter, "strict": strict}
    if not quoting:
        kwargs["quoting"] = csv.QUOTE_NONE
    try:
        return list(csv.reader(io.StringIO(sample, newline=""), **kwargs))  # type: ignore[arg-type]
    except csv.Error:
        return None


def _shape(rows: list[list[str]]) -> tuple[int, float]:
    """(most common field count, share of non-blank rows that have it)."""
    counts = [len(r) for r in rows if any(c.strip() for c in r)]
    if not counts:
        return 0, 0.0
    mode, n = Counter(counts).most_common(1)[0]
    return mode, n / len(counts)


def sniff_dialect(sample: str, name: str, *, complete: bool) -> Dialect:
    """Delimiter, quoting and header of a delimited text from its first 64 kB."""
    if not complete:
        cut = sample.rfind("\n")
        if cut > 0:
            sample = sample[:cut]
    ext = extension(name)
    preferred = {".tsv": "\t", ".tab": "\t", ".psv": "|", ".csv": ","}.get(ext)
    best: tuple[float, int, str, bool] | None = None
    for delimiter in DELIMITERS:
        quoted = _rows(sample, delimiter, True, strict=False) or []
        if not complete and len(quoted) > 2:
            quoted = quoted[:-1]  # the cut may fall inside a quoted field
        mode, share = _shape(quoted)
        quoting = True
        if delimiter == "\t":
            plain = _rows(sample, delimiter, False, strict=False) or []
            strict_ok = _rows(sample, delimiter, True, strict=True) is not None
            p_mode, p_share = _shape(plain)
            if (
                p_mode >= 2
                and p_share == 1.0
                and (not strict_ok or share < 1.0 or len(quoted) != len(plain))
            ):
                mode, share, quoting = p_mode, p_share, False
        if mode < 2 or share < 0.6:
            continue
        # The extension's delimiter is preferred only where it also splits the first row
        # (the header) like the others: a tab-separated ".csv" whose texts hold one comma
        # each splits every data row in two at the comma, but not its header.
        first = next((r for r in quoted if any(c.strip() for c in r)), [])
        fits_header = len(first) == mode
        score = share + (0.2 if delimiter == preferred and fits_header else 0.0)
        if best is None or score > best[0]:
            best = (score, mode, delimiter, quoting)
    if best is None:
        delimiter, quoting = _ONE_COLUMN, True
        rows = _rows(sample, delimiter, True, strict=False) or [[]]
    else:
        _, _, delimiter, quoting = best
        rows = _rows(sample, delimiter, quoting, strict=False) or [[]]
    rows = [r for r in rows if any(c.strip() for c in r)] or [[]]
    mode, _ = _shape(rows[1:] or rows)
    mode = max(mode, 1)
    first = rows[0]
    header = _has_header(first, rows[1:], mode)
    sms = False
    if header:
        names = _dedupe([c.strip() for c in first][:mode], mode)
    else:
        names = [f"column_{i + 1}" for i in range(mode)]
        firsts = {r[0].strip().lower() for r in rows if len(r) == 2}
        if mode == 2 and firsts and firsts <= {"ham", "spam"}:
            sms = True  # the SMS Spam Collection: label<TAB>text, no header, no quoting
            names = ["label", "text"]
            if delimiter == "\t":
                quoting = False
    return Dialect(delimiter, quoting, header, names, sms_collection=sms)


def _dedupe(names: list[str], n: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        base = names[i] if i < len(names) and names[i] else f"column_{i + 1}"
        name, k = base, 1
        while name in seen:
            name = f"{base}.{k}"
            k += 1
        seen.add(name)
        out.append(name)
    return out


def _has_header(first: list[str], rest: list[list[str]], ncols: int) -> bool:
    cells = [c.strip() for c in first]
    if not any(cells):
        return False
    if any(tables._NUMERIC.match(c) for c in cells if c):
        return False
    known = sum(1 for c in cells if tables.norm(c) in _KNOWN_NAMES)
    if any(tables.norm(c) in _KNOWN_NAMES - _LABEL_WORDS for c in cells):
        return True
    if any(len(c) > 40 or len(c.split()) >= 5 for c in cells):
        return False
    if any(c.lower() in _LABEL_WORDS for c in cells):
        return False
    if known:
        return True
    if rest:
        for j, cell in enumerate(cells):
            values = [r[j] for r in rest[:200] if len(r) > j]
            if not values:
                continue
            mean = sum(len(v) for v in values) / len(values)
            numeric = sum(1 for v in values if tables._NUMERIC.match(v)) / len(values)
            if mean >= 20 and len(cell) <= mean / 3:
                return True
            if numeric > 0.9 and cell and not tables._NUMERIC.match(cell):
                return True
    return len(set(cells)) == len(cells) and all(
        c and len(c) <= 30 and len(c.split()) <= 3 for c in cells
    )


# ----------------------------------------------------------------------------- reading


class _Prepared:
    """A CSV file's bytes, its dialect, and its text decoded only when needed.

    Clean UTF-8 goes to Arrow as it is (Arrow validates it as it reads); the whole file is
    decoded in Python only for the fallback reader or when it is not UTF-8.
    """

    def __init__(self, data: bytes, origin: Origin):
        self.origin = origin
        self.data = data
        self.problems: list[Problem] = []
        codec, bom = detect_bom(data)
        self.utf8_bom = codec == "utf-8-sig"
        self._text: str | None = None
        if (
            codec in (None, "utf-8-sig")
            and b"\x00" not in data
            and not _utf16(data)
            and _valid_utf8(data, bom)
        ):
            self.buffer = data[bom:]
            self.encoding = "utf-8"
            end = _sample_end(data, bom)
            sample = data[bom:end].decode("utf-8", errors="ignore")  # may cut a character
            complete = end >= len(data)
        else:
            self._decode()
            end = _sample_end(self.text, 0)
            sample = self.text[:end]
            complete = end >= len(self.text)
        if _BLANK_TEXT.fullmatch(sample) and complete:
            raise origin.error("the file holds no rows")
        self.dialect = sniff_dialect(sample, origin.name, complete=complete)

    def _decode(self) -> None:
        decoded = decode_text(self.data, self.origin)
        self._text = decoded.text
        self.encoding = decoded.encoding
        self.problems = list(decoded.problems)
        self.buffer = decoded.text.encode("utf-8", errors="surrogatepass")

    @property
    def text(self) -> str:
        if self._text is None:
            try:
                self._text = self.buffer.decode("utf-8")
            except UnicodeDecodeError:
                self._decode()
        return self._text  # type: ignore[return-value]

    def redecode(self) -> None:
        """Arrow found invalid UTF-8: decode with the cp1252 fallback instead."""
        self._decode()


def _sample_end(data: bytes | str, start: int) -> int:
    """Where the sniffing sample ends: 64 kB, or more when that holds under 5 whole lines
    (a header of 100,000 columns)."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    end = start + SNIFF_BYTES
    while end < len(data) and data.count(newline, start, end) < 5 and end < 1 << 28:  # type: ignore[arg-type]
        end *= 4
    return min(end, len(data))


def _valid_utf8(data: bytes, start: int) -> bool:
    """Whether the bytes are UTF-8, checked in 16 MB steps (no copy of the whole file).

    Arrow would find out too, but only by handing undecodable row text to Python."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    step = 1 << 24
    try:
        for i in range(start, len(data), step):
            decoder.decode(view[i : i + step])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf16(data: bytes) -> bool:
    return utf16_without_bom(data[:4096]) is not None


_BLANK_TEXT = re.compile(r"\s*")


def prepare(data: bytes, origin: Origin) -> _Prepared:
    return _Prepared(data, origin)


class _NeedsFallback(Exception):
    pass


def _arrow_options(
    dialect: Dialect, block_size: int, invalid: list[str]
) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    def on_invalid(row: pa_csv.InvalidRow) -> str:
        if row.text.strip():
            invalid.append(row.text[:60])
        return "skip"

    read = pa_csv.ReadOptions(
        column_names=dialect.names,
        skip_rows=1 if dialect.has_header else 0,
        block_size=block_size,
    )
    parse = pa_csv.ParseOptions(
        delimiter=dialect.delimiter,
        quote_char='"' if dialect.quoting else False,
        double_quote=True,
        escape_char=False,
        newlines_in_values=dialect.quoting,
        ignore_empty_lines=True,
        invalid_row_handler=on_invalid,
    )
    convert = pa_csv.ConvertOptions(
        column_types={n: pa.string() for n in dialect.names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return read, parse, convert


def _batches_to_frame(batches: list[pa.RecordBatch], names: list[str]) -> pd.DataFrame:
    if batches:
        table = pa.Table.from_batches(batches)
    else:
        table = pa.table({n: pa.array([], pa.string()) for n in names})
    if len(names) > 1000:  # one block for a very wide table; per column is faster otherwise
        frame = table.to_pandas(types_mapper=lambda t: STRING_DTYPE if t == pa.string() else None)
        frame.columns = names
        return frame
    return pd.DataFrame(
        {
            n: pd.Series(pd.arrays.ArrowStringArray(table.column(i)), copy=False)
            for i, n in enumerate(names)
        }
    )


def _read_arrow(prep: _Prepared, hooks: Hooks) -> pd.DataFrame:
    total = len(prep.buffer)
    if prep.dialect.quoting and prep.buffer.count(b'"') % 2 == 1:
        # An odd number of quotes: a quoted field that never closes, or stray quotes inside
        # unquoted fields. Arrow reads either silently; the csv module can say where.
        raise _NeedsFallback("unbalanced quotes")
    block = BLOCK_SIZE
    for _attempt in range(3):
        invalid: list[str] = []
        read, parse, convert = _arrow_options(prep.dialect, block, invalid)
        try:
            reader = pa_csv.open_csv(
                pa.BufferReader(prep.buffer),
                read_options=read,
                parse_options=parse,
                convert_options=convert,
            )
            batches = []
            done = 0
            for batch in reader:
                batches.append(batch)
                done = min(total, done + block)
                hooks.step(done, total, "reading rows")
        except pa.ArrowInvalid as err:
            if "straddl" in str(err) and block < total + 1:
                block = min(total + 1, 2**31 - 1)
                continue
            if "UTF8" in str(err) and prep.encoding == "utf-8" and not prep.problems:
                prep.redecode()
                total = len(prep.buffer)
                continue
            raise _NeedsFallback(str(err)) from None
        if invalid:
            raise _NeedsFallback(f"{len(invalid)} ragged rows")
        return _batches_to_frame(batches, prep.dialect.names)
    raise _NeedsFallback("field larger than a block")


def _read_python(
    prep: _Prepared, origin: Origin, hooks: Hooks
) -> tuple[pd.DataFrame, list[Problem]]:
    dialect = prep.dialect
    names = dialect.names
    ncols = len(names)
    problems: list[Problem] = []
    columns: list[list[str]] = [[] for _ in range(ncols)]
    reader = csv.reader(io.StringIO(prep.text, newline=""), strict=False, **dialect.csv_kwargs)  # type: ignore[arg-type]
    total_lines = prep.text.count("\n") + 1
    line = 0
    skipped = 0
    first = True
    rows = 0
    try:
        for row in reader:
            start = line + 1
            line = reader.line_num
            if first:
                first = False
                if dialect.has_header:
                    continue
            if not any(c.strip() for c in row):
                continue
            if len(row) != ncols:
                skipped += 1
                if skipped <= 100:
                    problems.append(
                        origin.problem(
                            f"{len(row)} field(s) where the header has {ncols}; row skipped",
                            line=start,
                        )
                    )
                continue
            for j in range(ncols):
                columns[j].append(row[j])
            rows += 1
            if rows % 50_000 == 0:
                hooks.step(min(line, total_lines), total_lines, "reading rows")
    except csv.Error as err:
        raise origin.error(f"unreadable CSV: {err}", line=reader.line_num) from None
    if dialect.quoting and rows and _unclosed_quote(prep.text, start):
        problems.append(
            origin.problem(
                "a quoted field opened on this line is never closed: the rest of the file "
                f"(lines {start}-{line}) was read into one row",
                line=start,
            )
        )
    if skipped > 100:
        problems.append(
            origin.problem(f"{skipped - 100:,} more row(s) with the wrong number of fields skipped")
        )
    frame = pd.DataFrame(
        {n: pd.Series(columns[j], dtype=STRING_DTYPE) for j, n in enumerate(names)}
    )
    return frame, problems


def _unclosed_quote(text: str, line: int) -> bool:
    """True when the row starting on ``line`` runs to the end inside an open quote."""
    offset = 0
    for _ in range(line - 1):
        offset = text.find("\n", offset) + 1
        if offset == 0:
            return False
    try:
        for _row in csv.reader(io.StringIO(text[offset:], newline=""), strict=True):
            pass
    except csv.Error:
        return True
    return False


def read_frame(prep: _Prepared, origin: Origin, hooks: Hooks) -> tuple[pd.DataFrame, list[Problem]]:
    """All rows of a prepared file as a frame of strings, with the rows skipped."""
    try:
        frame = _read_arrow(prep, hooks)
        problems: list[Problem] = []
    except _NeedsFallback:
        frame, problems = _read_python(prep, origin, hooks)
    if not prep.dialect.has_header:
        empty = [c for c in frame.columns if not frame[c].str.len().fillna(0).astype(bool).any()]
        if empty and len(empty) < len(frame.columns):
            frame = frame.drop(columns=empty)
    return frame, problems


def read_csv(data: bytes, origin: Origin, options: Options, hooks: Hooks) -> LoadResult:
    """Read a CSV/TSV file's bytes into messages."""
    prep = prepare(data, origin)
    frame, problems = read_frame(prep, origin, hooks)
    if len(frame) == 0:
        raise origin.error(
            "the file has a header but no rows"
            if prep.dialect.has_header
            else "the file holds no rows"
        )
    plan = tables.plan_table(
        frame,
        origin,
        options,
        headerless=not prep.dialect.has_header,
        kind_hint="sms" if prep.dialect.sms_collection else None,
    )
    plan.spreadsheet_safe = prep.utf8_bom
    result = tables.apply_plan(plan, frame, origin)
    result.problems = prep.problems + problems + plan.problems + result.problems
    result.encodings[origin.source] = prep.encoding
    return result


def preview_csv(data: bytes, origin: Origin, nrows: int) -> TablePreview:
    prep = prepare(data, origin)
    frame, problems = read_frame(prep, origin, Hooks())
    plan_error = None
    try:
        plan = tables.plan_table(
            frame,
            origin,
            Options(),
            headerless=not prep.dialect.has_header,
            kind_hint="sms" if prep.dialect.sms_collection else None,
        )
        text_column, candidates = plan.text, plan.text_candidates
    except tables.AmbiguousTextColumn as err:
        plan, plan_error = None, err
        text_column, candidates = None, err.candidates
    except Exception as err:  # noqa: BLE001 - a preview shows what it can
        plan, plan_error = None, err
        text_column, candidates = None, []
    if plan is None:
        exclude: set[str] = set()
        spam, sent, _, _ = tables.guess_labels(
            frame,
            origin,
            exclude=exclude,
            label_columns=None,
            headerless=not prep.dialect.has_header,
        )
        labels = {k: v for k, v in (("spam", spam), ("sentiment", sent)) if v}
        kind, mode = "text", "plain"
    else:
        labels, kind, mode = plan.label_columns, plan.kind, plan.mode
    del plan_error
    head = frame.iloc[:nrows]
    return TablePreview(
        path=origin.source,
        format="csv",
        columns=list(frame.columns),
        rows=[
            [("" if v is None or v is pd.NA else str(v)) for v in row]
            for row in head.itertuples(index=False)
        ],
        delimiter=prep.dialect.delimiter if prep.dialect.delimiter != _ONE_COLUMN else None,
        encoding=prep.encoding,
        has_header=prep.dialect.has_header,
        quoting="minimal" if prep.dialect.quoting else "none",
        text_column=text_column,
        text_candidates=candidates,
        label_columns=labels,
        kind=kind,
        mode=mode,
        problems=prep.problems + problems,
    )


# ----------------------------------------------------------------------------- streaming


def iter_csv(
    stream_factory, head: bytes, origin: Origin, options: Options, chunksize: int, hooks: Hooks
) -> Iterator[LoadResult]:
    """Stream a (possibly larger than memory) UTF-8 CSV in chunks of ``chunksize`` rows.

    ``stream_factory()`` returns a fresh pyarrow input stream over the file's bytes.
    The plan (text/label columns, kind) is decided on the first chunk.
    """
    if len(head) >= SNIFF_BYTES and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]  # never decode half a character
    decoded = decode_text(head, origin)
    encoding = decoded.encoding
    sample = decoded.text
    dialect = sniff_dialect(sample, origin.name, complete=len(head) < SNIFF_BYTES)
    invalid: list[str] = []
    read, parse, convert = _arrow_options(dialect, BLOCK_SIZE, invalid)
    if encoding not in ("utf-8", "utf-8-sig"):
        read.encoding = "cp1252" if "cp1252" in encoding else encoding
    reader = pa_csv.open_csv(
        stream_factory(), read_options=read, parse_options=parse, convert_options=convert
    )
    plan = None
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    rows_done = 0
    reported = 0

    def flush(batches: list[pa.RecordBatch]) -> LoadResult:
        nonlocal plan, reported
        frame = _batches_to_frame(batches, dialect.names)
        if plan is None:
            plan = tables.plan_table(
                frame,
                origin,
                options,
                headerless=not dialect.has_header,
                kind_hint="sms" if dialect.sms_collection else None,
            )
            plan.spreadsheet_safe = head.startswith(codecs.BOM_UTF8)
        result = tables.apply_plan(plan, frame, origin)
        if len(invalid) > reported:
            result.problems.append(
                origin.problem(
                    f"{len(invalid) - reported} row(s) with the wrong number of fields skipped (e.g. {invalid[reported]!r})"
                )
            )
            reported = len(invalid)
        result.encodings[origin.source] = encoding
        return result

    try:
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= chunksize:
                table = pa.Table.from_batches(pending)
                chunk, rest = table.slice(0, chunksize), table.slice(chunksize)
                rows_done += chunk.num_rows
                yield flush(chunk.to_batches())
                hooks.step(rows_done, 0, f"{rows_done:,} rows")
                pending = rest.to_batches()
                pending_rows = rest.num_rows
    except pa.ArrowInvalid as err:
        raise origin.error(f"unreadable CSV after row {rows_done:,}: {err}") from None
    if pending_rows or plan is None:
        yield flush(pending)
