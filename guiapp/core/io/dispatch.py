"""Route paths to the importers: walk folders, open archives, sniff each file's format."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from guiapp.core.errors import Cancelled, InputError, Location, Problem
from guiapp.core.io import archive, csv_tsv, detect, json_, mail, parquet, tables, text
from guiapp.core.io.base import (
    AmbiguousTextColumn,
    LoadResult,
    Options,
    Origin,
    TablePreview,
    concat_results,
)
from guiapp.core.messages import STRING_DTYPE, make_frame
from guiapp.core.progress import Hooks

PathLike = str | os.PathLike[str]
SMALL_FILE = 64 * 1024 * 1024
PREVIEW_BYTES = 4 * 1024 * 1024
MAX_PROBLEMS_PER_FILE = 200
MAX_NESTING = 3  # an archive inside a .gz inside ...: stop here
#: Files of an archive read one by one as tables (CSV, JSON, text, Parquet), each at some
#: 4-7 ms (a table of its own to plan and build): a zip of 100,000 tiny ones took over 200
#: s. Past this many an archive is refused with the reason (mail messages, read as one
#: batch at ~0.2 ms each, do not count).
MAX_TABLE_MEMBERS = 5_000
_TABLE_FORMATS = (
    detect.CSV,
    detect.JSON,
    detect.JSONL,
    detect.TWEETS_JS,
    detect.TEXT,
    detect.PARQUET,
)


class _Collector:
    """Keeps results in input order; batches single mail messages into one frame."""

    def __init__(self) -> None:
        self.parts: list[LoadResult] = []
        self.mail: list[tuple[str, mail.MailFields]] = []
        self.mail_problems: list[Problem] = []
        self.mail_files: list[str] = []
        self.mail_kind = "email"

    def add(self, result: LoadResult) -> None:
        self._flush_mail()
        self.parts.append(result)

    def add_mail(
        self, source: str, fields: mail.MailFields, problems: list[Problem], kind: str
    ) -> None:
        if self.mail and kind != self.mail_kind:
            self._flush_mail()
        self.mail_kind = kind
        self.mail.append((source, fields))
        self.mail_problems += problems
        self.mail_files.append(source)

    def problem(self, problem: Problem) -> None:
        self._flush_mail()
        self.parts.append(LoadResult(*_empty_parts(), [problem], []))

    def _flush_mail(self) -> None:
        if not self.mail:
            return
        self.parts.append(
            mail_result(self.mail, self.mail_problems, self.mail_files, self.mail_kind)
        )
        self.mail, self.mail_problems, self.mail_files = [], [], []

    def result(self) -> LoadResult:
        self._flush_mail()
        return concat_results(self.parts)


def _empty_parts() -> tuple[pd.DataFrame, pd.DataFrame]:
    empty = LoadResult.empty()
    return empty.messages, empty.extra


def mail_result(
    items: Sequence[tuple[str, mail.MailFields]],
    problems: list[Problem],
    files: list[str],
    kind: str = "email",
) -> LoadResult:
    n = len(items)
    messages = make_frame(
        {
            "id": [f.id for _, f in items],
            "source": [s for s, _ in items],
            "kind": tables.constant(kind, n),
            "subject": [f.subject for _, f in items],
            "sender": [f.sender for _, f in items],
            "date": [f.date for _, f in items],
            "text": [f.text for _, f in items],
        },
        n,
    )
    return LoadResult(messages, pd.DataFrame(index=pd.RangeIndex(n)), problems, files)


# ----------------------------------------------------------------------------- files


def _read_head(path: str) -> tuple[bytes, int]:
    with open(path, "rb") as fh:
        head = fh.read(detect.SNIFF_BYTES)
        size = os.fstat(fh.fileno()).st_size
    return head, size


def _open_error(origin: Origin, err: OSError) -> InputError:
    reason = err.strerror or str(err)
    return origin.error(f"cannot be read ({reason})")


def read_file(
    path: str, origin: Origin, options: Options, hooks: Hooks, out: _Collector, depth: int = 0
) -> None:
    """Read one file on disk into ``out`` (InputError if the file as a whole is unusable).

    Whatever it unpacks to, at every level of nesting, is counted against one
    :class:`~guiapp.core.io.archive.Budget` made here from its size."""
    try:
        head, size = _read_head(path)
    except OSError as err:
        raise _open_error(origin, err) from None
    budget = archive.Budget(origin, size)
    fmt = detect.sniff(head, origin, size=size)
    if fmt == detect.MBOX and (_mbox_named(origin) or size > SMALL_FILE):
        _read_mbox_file(path, origin, options, hooks, out)
        return
    if fmt in (detect.ZIP, detect.TAR):
        _read_archive(path, fmt, origin, options, hooks, out, depth, budget)
        return
    if fmt in (detect.GZIP, detect.BZ2, detect.XZ):
        data = archive.decompress(path, fmt, origin, budget)
        _read_inner(data, origin, options, hooks, out, depth, budget)
        return
    if fmt == detect.PARQUET:
        out.add(parquet.read_parquet(path, origin, options, hooks))
        return
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise _open_error(origin, err) from None
    read_bytes(data, fmt, origin, options, hooks, out, depth, budget)


def _inner_origin(origin: Origin) -> Origin:
    """The same file, named without its .gz/.bz2/.xz suffix for format sniffing."""
    inner = detect.strip_compression_suffix(origin.name)
    return Origin(origin.file, origin.member, hint=inner)


def _read_inner(
    data: bytes,
    origin: Origin,
    options: Options,
    hooks: Hooks,
    out: _Collector,
    depth: int,
    budget: archive.Budget,
) -> None:
    if depth >= MAX_NESTING:
        raise origin.error("compressed too many times over (an archive in an archive in ...)")
    inner = _inner_origin(origin)
    fmt = detect.sniff(data[: detect.SNIFF_BYTES], inner, size=len(data))
    read_bytes(data, fmt, inner, options, hooks, out, depth + 1, budget)


def read_bytes(
    data: bytes,
    fmt: str,
    origin: Origin,
    options: Options,
    hooks: Hooks,
    out: _Collector,
    depth: int = 0,
    budget: archive.Budget | None = None,
) -> None:
    """Read a file's bytes (already sniffed as ``fmt``) into ``out``; what they unpack to
    counts against ``budget`` (the input's, passed down; a new one for them when None)."""
    budget = budget or archive.budget_for(data, origin)
    if fmt == detect.CSV:
        out.add(csv_tsv.read_csv(data, origin, options, hooks))
    elif fmt in (detect.JSON, detect.JSONL, detect.TWEETS_JS):
        out.add(json_.read_json(data, origin, fmt, options, hooks))
    elif fmt == detect.TEXT:
        out.add(text.read_text(data, origin, options, hooks))
    elif fmt == detect.EMAIL:
        fields, problems = mail.read_message(data, origin)
        out.add_mail(origin.source, fields, problems, options.kind or "email")
    elif fmt == detect.MBOX:
        if not _mbox_named(origin) and len(mail.split_mbox(data)) == 1:
            # A raw message file that starts with an mbox 'From ' line (as SpamAssassin's
            # do): one message, whose source is the file itself.
            fields, problems = mail.read_message(data, origin)
            out.add_mail(origin.source, fields, problems, options.kind or "email")
        else:
            _read_mbox(data, origin, options, hooks, out, path=None)
    elif fmt == detect.PARQUET:
        out.add(parquet.read_parquet(data, origin, options, hooks))
    elif fmt in (detect.GZIP, detect.BZ2, detect.XZ):
        data = archive.decompress(data, fmt, origin, budget)
        _read_inner(data, origin, options, hooks, out, depth, budget)
    elif fmt in (detect.ZIP, detect.TAR):
        if depth >= MAX_NESTING or origin.member:
            raise origin.error("an archive inside an archive; unpack it first")
        _read_archive(data, fmt, origin, options, hooks, out, depth, budget)
    else:  # pragma: no cover - sniff() returns only the formats above
        raise origin.error(f"unsupported format {fmt}")


def _mbox_named(origin: Origin) -> bool:
    return detect.extension(origin.name) in (".mbox", ".mbx")


def _read_mbox_file(
    path: str, origin: Origin, options: Options, hooks: Hooks, out: _Collector
) -> None:
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            _read_mbox(buf, origin, options, hooks, out, path=path)
    except OSError as err:
        raise _open_error(origin, err) from None


def _read_mbox(
    buf: bytes | mmap.mmap,
    origin: Origin,
    options: Options,
    hooks: Hooks,
    out: _Collector,
    *,
    path: str | None,
) -> None:
    chunks = []
    problems: list[Problem] = []
    for parsed, chunk_problems in mail.iter_mbox(buf, origin, hooks, path=path):
        chunks.append(parsed)
        problems += chunk_problems
    result = mbox_result(chunks, origin, options.kind or "email")
    result.problems = problems
    out.add(result)


def mbox_result(chunks: list[mail.ParsedChunk], origin: Origin, kind: str) -> LoadResult:
    """Messages of parsed mbox chunks; source ``file::N`` with the message number N."""
    table = pa.concat_tables([c.table for c in chunks]) if chunks else None
    numbers = [n for c in chunks for n in c.numbers]
    n = len(numbers)
    prefix = origin.source + "::"
    columns: dict[str, object] = {
        "source": pd.Series([prefix + str(k) for k in numbers], dtype=STRING_DTYPE),
        "kind": tables.constant(kind, n),
    }
    for name in mail.FIELDS:
        columns[name] = (
            pd.Series(pd.arrays.ArrowStringArray(table.column(name)), copy=False)
            if table is not None
            else tables.constant("", 0)
        )
    messages = make_frame(columns, n)
    return LoadResult(messages, pd.DataFrame(index=pd.RangeIndex(n)), [], [origin.source])


def _read_archive(
    data_or_path: bytes | str,
    fmt: str,
    origin: Origin,
    options: Options,
    hooks: Hooks,
    out: _Collector,
    depth: int,
    budget: archive.Budget,
) -> None:
    members = archive.iter_zip if fmt == detect.ZIP else archive.iter_tar
    found = 0
    tables_read = 0
    before = len(out.parts)

    def too_many(how: str) -> InputError:
        return origin.error(
            f"holds {how} table or text files; at most {MAX_TABLE_MEMBERS:,} are read from "
            "one archive (each is a table of its own, minutes for many): join them into fewer "
            "files first"
        )

    if fmt == detect.ZIP:
        named = archive.count_members(data_or_path, _table_named)
        if named > MAX_TABLE_MEMBERS:
            raise too_many(f"{named:,}")
    for name, data, why in members(data_or_path, origin, budget):
        hooks.check()
        child = Origin(origin.file, name) if not origin.member else origin.child(name)
        if data is None:
            out.problem(child.problem(why or "skipped"))
            continue
        if _hidden(name):
            continue
        try:
            if not data:
                raise child.error("the file is empty")
            fmt_member = detect.sniff(data[: detect.SNIFF_BYTES], child, size=len(data))
            if fmt_member in (detect.ZIP, detect.TAR):
                raise child.error("an archive inside an archive; unpack it first")
        except InputError as err:
            out.problem(_as_problem(err, child))
            continue
        if fmt_member in _TABLE_FORMATS:
            tables_read += 1
            if tables_read > MAX_TABLE_MEMBERS:
                raise too_many(f"more than {MAX_TABLE_MEMBERS:,}")
        try:
            read_bytes(data, fmt_member, child, options, hooks, out, depth + 1, budget)
            found += 1
        except (Cancelled, AmbiguousTextColumn, archive.DecompressionBomb):
            raise
        except InputError as err:
            out.problem(_as_problem(err, child))
    if not found:
        problems = [p for part in out.parts[before:] for p in part.problems]
        first = f" ({problems[0].reason})" if problems else ""
        raise origin.error(f"no readable messages in this archive{first}")


def _table_named(name: str) -> bool:
    return not _hidden(name) and detect.extension(name) in detect.TABLE_EXTENSIONS


def _as_problem(err: InputError, origin: Origin) -> Problem:
    return Problem(
        Location(origin.file, line=err.line, record=err.record, member=origin.member),
        err.reason + "; file skipped",
    )


# ----------------------------------------------------------------------------- folders


_DOC_NAMES = ("readme", "license", "licence", "notice", "copying", "authors", "changelog")


def _hidden(name: str) -> bool:
    """Files a folder walk leaves out: hidden files, OS litter, a folder's own documentation."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    lower = base.lower()
    return (
        base.startswith(".")
        or lower in ("thumbs.db", "desktop.ini")
        or "__MACOSX/" in name
        or lower.startswith(_DOC_NAMES)
        or lower.endswith((".md", ".rst"))
    )


def walk_folder(folder: str, skipped: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """(path relative to folder, full path) of the files to read, sorted by relative path.

    Hidden files and folders are left out, and so is ``tmp/`` of a Maildir (messages still
    being delivered). What could not be read or is not a regular file -- a sub-folder
    without read permission, a FIFO, socket or device -- is added to ``skipped`` as
    (relative path, why).
    """
    out: list[tuple[str, str]] = []

    def unreadable(err: OSError) -> None:
        if skipped is not None:
            rel = os.path.relpath(err.filename or folder, folder).replace(os.sep, "/")
            skipped.append((rel, f"a folder that cannot be read ({err.strerror or err})"))

    for root, dirs, files in os.walk(folder, followlinks=False, onerror=unreadable):
        is_maildir = {"cur", "new"} <= set(dirs)
        dirs[:] = [
            d
            for d in dirs
            if not (d.startswith(".") and not _is_maildir(os.path.join(root, d)))
            and not (is_maildir and d == "tmp")
        ]
        for name in files:
            if _hidden(name):
                continue
            full = os.path.join(root, name)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            if not os.path.isfile(full):
                # A FIFO, socket or device (reading it could block or never end), or a
                # link to nothing.
                if skipped is not None:
                    skipped.append(
                        (rel, "not a regular file (a pipe, socket, device or broken link)")
                    )
                continue
            out.append((rel, full))
    out.sort(key=lambda item: item[0])
    return out


def _is_maildir(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "cur")) and os.path.isdir(os.path.join(path, "new"))


def read_folder(folder: str, options: Options, hooks: Hooks, out: _Collector) -> None:
    skipped: list[tuple[str, str]] = []
    files = walk_folder(folder, skipped)
    for rel, why in skipped:
        out.problem(Problem(Location(folder, member=rel), why + "; skipped"))
    if not files:
        raise InputError(folder, "the folder holds no files")
    sizes = []
    for _, full in files:
        try:
            sizes.append(max(1, os.path.getsize(full)))
        except OSError:
            sizes.append(1)
    total = sum(sizes)
    done = 0
    read = 0
    before = len(out.parts)
    for (rel, full), size in zip(files, sizes, strict=True):
        origin = Origin(folder, rel)
        sub = hooks.scaled(done / total, (done + size) / total)
        try:
            read_file(full, origin, options, sub, out)
            read += 1
        except Cancelled:
            raise
        except AmbiguousTextColumn as err:
            # The user must choose; name the file itself so that inspect_table() can open it.
            raise AmbiguousTextColumn(full, err.candidates) from None
        except InputError as err:
            out.problem(_as_problem(err, origin))
        done += size
        hooks.step(done, total, rel)
    if not read:
        problems = [p for part in out.parts[before:] for p in part.problems]
        first = f" (first: {problems[0]})" if problems else ""
        raise InputError(folder, f"none of the {len(files):,} files could be read{first}")


# ----------------------------------------------------------------------------- entry points


def as_paths(paths: PathLike | Sequence[PathLike]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def load_collection(
    paths: PathLike | Sequence[PathLike],
    *,
    text_column: str | None = None,
    label_columns: dict[str, str | None] | None = None,
    kind: str | None = None,
    on_progress=None,  # type: ignore[no-untyped-def]
    stop_requested=None,  # type: ignore[no-untyped-def]
) -> LoadResult:
    hooks = Hooks(on_progress, stop_requested)
    options = Options(text_column, label_columns, kind)
    items = as_paths(paths)
    if not items:
        raise InputError("(no input)", "no files or folders were given")
    sizes = []
    for p in items:
        if not os.path.exists(p):
            raise InputError(p, "no such file or folder")
        if not os.path.isdir(p) and not os.path.isfile(p):
            raise InputError(p, "not a regular file or folder (a device, pipe or socket)")
        sizes.append(max(1, _tree_size(p)))
    total = sum(sizes)
    done = 0
    out = _Collector()
    hooks.step(0, 1000, "reading")
    for p, size in zip(items, sizes, strict=True):
        sub = hooks.scaled(done / total, (done + size) / total)
        try:
            if os.path.isdir(p):
                read_folder(p, options, sub, out)
            else:
                read_file(p, Origin(p), options, sub, out)
        except RecursionError:
            raise InputError(p, "nested too deeply to read") from None
        except MemoryError:
            raise InputError(p, "too large to read into memory") from None
        done += size
        hooks.step(int(1000 * done / total), 1000, p)
    result = out.result()
    result.messages = result.messages.reset_index(drop=True)
    result.problems = cap_problems(result.problems)
    return result


def cap_problems(problems: list[Problem], limit: int = MAX_PROBLEMS_PER_FILE) -> list[Problem]:
    """At most ``limit`` problems per file (or member), then one line saying how many more."""
    counts: dict[tuple[str, str | None], int] = {}
    kept: list[Problem] = []
    for problem in problems:
        key = (problem.location.file, problem.location.member)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] <= limit:
            kept.append(problem)
    for (file, member), n in counts.items():
        if n > limit:
            kept.append(
                Problem(Location(file, member=member), f"{n - limit:,} more problems not listed")
            )
    return kept


def _tree_size(path: str) -> int:
    if not os.path.isdir(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def inspect_table(path: PathLike, *, nrows: int = 50) -> TablePreview:
    p = os.fspath(path)
    origin = Origin(p)
    try:
        head, size = _read_head(p)
    except OSError as err:
        raise _open_error(origin, err) from None
    fmt = detect.sniff(head, origin, size=size)
    if fmt in (detect.GZIP, detect.BZ2, detect.XZ):
        data = archive.decompress(p, fmt, origin)
        origin = _inner_origin(origin)
        fmt = detect.sniff(data[: detect.SNIFF_BYTES], origin, size=len(data))
    elif fmt == detect.PARQUET:
        return parquet.preview_parquet(p, origin, nrows)
    elif fmt in (detect.CSV, detect.TEXT) and size > PREVIEW_BYTES:
        # The dialog needs a look, not the whole file: the first 4 MB, cut at a line end.
        with open(p, "rb") as fh:
            data = fh.read(PREVIEW_BYTES)
        data = data[: data.rfind(b"\n") + 1] or data
    else:
        data = Path(p).read_bytes()
    if fmt == detect.CSV or fmt == detect.TEXT:
        return csv_tsv.preview_csv(data, origin, nrows)
    if fmt in (detect.JSON, detect.JSONL, detect.TWEETS_JS):
        return json_.preview_json(data, origin, fmt, nrows)
    if fmt == detect.PARQUET:
        return parquet.preview_parquet(data, origin, nrows)
    raise origin.error(f"not a table ({fmt}); only CSV/TSV, JSON and Parquet have columns")


def iter_collection_chunks(
    path: PathLike,
    *,
    chunksize: int = 100_000,
    text_column: str | None = None,
    label_columns: dict[str, str | None] | None = None,
    kind: str | None = None,
    on_progress=None,  # type: ignore[no-untyped-def]
    stop_requested=None,  # type: ignore[no-untyped-def]
) -> Iterator[LoadResult]:
    """Read a big file in chunks of at most ``chunksize`` messages, without loading it all.

    CSV/TSV (also .gz/.bz2/.xz), JSON Lines, Parquet and mbox stream; other formats are
    read whole and then cut into chunks.
    """
    import pyarrow as pa

    if chunksize < 1:
        raise ValueError("chunksize must be positive")
    hooks = Hooks(on_progress, stop_requested)
    options = Options(text_column, label_columns, kind)
    p = os.fspath(path)
    origin = Origin(p)
    if not os.path.exists(p):
        raise InputError(p, "no such file or folder")
    if os.path.isdir(p):
        yield from _slices(
            load_collection(
                p,
                text_column=text_column,
                label_columns=label_columns,
                kind=kind,
                on_progress=on_progress,
                stop_requested=stop_requested,
            ),
            chunksize,
        )
        return
    head, size = _read_head(p)
    fmt = detect.sniff(head, origin, size=size)
    codec = {"gzip": "gzip", "bz2": "bz2", "xz": "lzma"}.get(fmt)
    sniff_origin = origin
    if codec is not None:
        sniff_origin = _inner_origin(origin)
        with pa.input_stream(p, compression=codec) as stream:
            head = stream.read(detect.SNIFF_BYTES)
        if not head:
            raise origin.error("the compressed file is empty")
        fmt = detect.sniff(head, sniff_origin, size=None)

    def stream_factory():  # type: ignore[no-untyped-def]
        return pa.input_stream(p, compression=codec) if codec else pa.input_stream(p)

    if fmt == detect.CSV:
        yield from csv_tsv.iter_csv(stream_factory, head, sniff_origin, options, chunksize, hooks)
    elif fmt == detect.JSONL or (
        fmt == detect.JSON
        and head.lstrip()[:1] == b"{"
        and detect.extension(sniff_origin.name) != ".json"
    ):
        yield from json_.iter_jsonl(_lines(stream_factory), sniff_origin, options, chunksize, hooks)
    elif fmt == detect.PARQUET:
        yield from parquet.iter_parquet(p, origin, options, chunksize, hooks)
    elif fmt == detect.MBOX and codec is None:
        with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            pending: list[mail.ParsedChunk] = []
            pending_problems: list[Problem] = []
            for parsed, problems in mail.iter_mbox(buf, origin, hooks, path=p):
                pending.append(parsed)
                pending_problems += problems
                if sum(len(c.numbers) for c in pending) >= chunksize:
                    result = mbox_result(pending, origin, kind or "email")
                    result.problems = pending_problems
                    yield from _slices(result, chunksize)
                    pending, pending_problems = [], []
            if pending or pending_problems:
                result = mbox_result(pending, origin, kind or "email")
                result.problems = pending_problems
                yield from _slices(result, chunksize)
    else:
        yield from _slices(
            load_collection(
                p,
                text_column=text_column,
                label_columns=label_columns,
                kind=kind,
                on_progress=on_progress,
                stop_requested=stop_requested,
            ),
            chunksize,
        )


def _lines(stream_factory) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
    with stream_factory() as stream:
        rest = b""
        while True:
            block = stream.read(1 << 22)
            if not block:
                break
            block = rest + block
            lines = block.split(b"\n")
            rest = lines.pop()
            yield from lines
        if rest:
            yield rest


def _slices(result: LoadResult, chunksize: int) -> Iterator[LoadResult]:
    n = len(result.messages)
    if n == 0:
        yield result
        return
    for start in range(0, n, chunksize):
        stop = min(n, start + chunksize)
        messages = result.messages.iloc[start:stop].reset_index(drop=True)
        extra = result.extra.iloc[start:stop].reset_index(drop=True)
        first = start == 0
        yield LoadResult(
            messages,
            extra,
            result.problems if first else [],
            result.files if first else [],
            result.encodings if first else {},
        )
