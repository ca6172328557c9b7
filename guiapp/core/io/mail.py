"""Email: mbox, single .eml / raw RFC-822 files (SpamAssassin, Maildir members).

Messages are parsed from bytes with :class:`email.parser.BytesParser` and the ``compat32``
policy: the ``default`` policy builds a structured object for every header it touches
(Content-Type is parsed several times per message) and measured 3-4x slower here
(~800 us against ~200 us a message), which would put a 100,000-message mbox over its
30-second budget. ``compat32`` gives the same MIME tree; headers are decoded here with
:func:`email.header.decode_header`, charsets with a declared -> UTF-8 -> cp1252 -> latin-1
chain.

An mbox is split on its ``From`` lines over a memory map (not :class:`mailbox.mbox`, which
reads line by line in Python), and large ones are parsed by a pool of processes.
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import email.header
import email.quoprimime
import email.utils
import mmap
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

import pyarrow as pa

from guiapp.core.errors import Problem
from guiapp.core.extraction import html_to_text, recover_mime
from guiapp.core.io.base import Origin, clean_text
from guiapp.core.io.detect import decode_bytes
from guiapp.core.progress import Hooks

MAX_TEXT_PART = 5 * 1024 * 1024  # encoded bytes of one text part we are willing to decode
PARALLEL_MIN_MESSAGES = 4000  # below this a process pool costs more than it saves
CHUNK_MESSAGES = 1000

_PARSER = BytesParser(policy=compat32)
_ENVELOPE = re.compile(
    rb"^From \S+\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+"
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s"
)
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.M)


class BrokenMessage(Exception):
    """A message that yields nothing usable (no headers, not mail)."""


@dataclass
class MailFields:
    id: str
    subject: str
    sender: str
    date: str
    text: str
    notes: list[str]


# ----------------------------------------------------------------------------- headers


#: An RFC 2047 encoded word. Unlike :data:`email.header.ecre`, whose lazy ``.*?`` scans to
#: the end of the line from every ``=?..?q?`` that is never closed (quadratic), the encoded
#: text stops at the first ``?``, which RFC 2047 does not allow inside it.
_ENCODED_WORD = re.compile(r"=\?([^?]*)\?([qQbB])\?([^?]*)\?=")


def decode_header(header: object) -> list[tuple[bytes | str, str | None]]:
    """:func:`email.header.decode_header` in linear time: the same parts for the same
    header, but a Subject of 200,000 encoded words took 139 s there (``list.pop(0)``, a
    ``del`` per dropped space and ``bytes +=`` per word, each quadratic over the words)."""
    if not isinstance(header, str):  # a Header object (raw 8-bit bytes): its own chunks
        return email.header.decode_header(header)  # type: ignore[arg-type]
    if not _ENCODED_WORD.search(header):
        return [(header, None)]
    words: list[tuple[str, str | None, str | None]] = []
    for line in header.splitlines():
        parts = _ENCODED_WORD.split(line)  # unencoded, charset, encoding, text, unencoded...
        for i in range(0, len(parts), 4):
            unencoded = parts[i].lstrip() if i == 0 else parts[i]
            if unencoded:
                words.append((unencoded, None, None))
            if i + 3 < len(parts):
                words.append((parts[i + 3], parts[i + 2].lower(), parts[i + 1].lower()))
    # White space between two encoded words is not part of the text (RFC 2047 6.2).
    drop = {
        n - 1
        for n in range(2, len(words))
        if words[n][1] and words[n - 2][1] and words[n - 1][0].isspace()
    }
    collapsed: list[tuple[list[bytes], str | None]] = []
    for n, (encoded, encoding, charset) in enumerate(words):
        if n in drop:
            continue
        if encoding is None:
            word = bytes(encoded, "raw-unicode-escape")
        elif encoding == "q":
            word = bytes(email.quoprimime.header_decode(encoded), "raw-unicode-escape")
        else:
            padded = encoded + "==="[: (4 - len(encoded) % 4) % 4]
            try:
                word = base64.b64decode(padded)
            except binascii.Error:
                raise email.errors.HeaderParseError("Base64 decoding error") from None
        if collapsed and collapsed[-1][1] == charset:
            collapsed[-1][0].append(word)
        else:
            collapsed.append(([word], charset))
    return [((b" " if c is None else b"").join(ws), c) for ws, c in collapsed]


def header_text(value: object) -> str:
    """A header's value as readable text: RFC 2047 words and raw 8-bit bytes decoded."""
    if value is None:
        return ""
    try:
        parts = decode_header(value)
    except Exception:  # noqa: BLE001 - malformed encoded words: show the raw value
        parts = [(str(value), None)]
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            if any("\udc80" <= c <= "\udcff" for c in chunk):
                chunk = decode_bytes(chunk.encode("ascii", "surrogateescape"))
            out.append(chunk)
    return " ".join("".join(out).split())  # unfolded, runs of white space as one


def iso_date(value: str) -> str:
    """An RFC 2822 date as ISO 8601; the text as found when it does not parse."""
    if not value:
        return ""
    try:
        return email.utils.parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return value


# ----------------------------------------------------------------------------- bodies


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("content-disposition", "")).strip().lower()
    return disposition.startswith("attachment")


def _decode_part(part: Message) -> bytes:
    """The transfer-decoded bytes of one (small) text part."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # noqa: BLE001 - a mangled RFC 2231 parameter
        return None


def _leaf_text(
    part: Message, ctype: str, notes: list[str], hints: Sequence[str] = ()
) -> str | None:
    try:
        raw = part.get_payload()
    except (ValueError, LookupError):
        # 8-bit bytes under a charset Python cannot name (a NUL in it): the length check
        # reads the raw bytes instead, and decode_bytes falls back from the charset.
        raw = part.get_payload(decode=True)
    if isinstance(raw, (str, bytes)) and len(raw) > MAX_TEXT_PART:
        notes.append(f"a {ctype} part of {len(raw) / 1e6:.1f} MB was left out")
        return None
    text = decode_bytes(_decode_part(part), _charset(part), hints)
    if ctype == "text/html":
        text = html_to_text(text)
    return text


def _collect(
    part: Message, out: list[str], notes: list[str], depth: int = 0, hints: Sequence[str] = ()
) -> None:
    if depth > 30:
        notes.append("MIME parts nested too deeply; the innermost were left out")
        return
    if _is_attachment(part):
        return
    ctype = part.get_content_type()
    if part.is_multipart():
        subs = [s for s in part.get_payload() if isinstance(s, Message)]  # type: ignore[union-attr]
        if ctype == "multipart/alternative":
            for wanted in ("text/plain", "text/html"):
                for sub in subs:
                    if sub.get_content_type() == wanted and not _is_attachment(sub):
                        text = _leaf_text(sub, wanted, notes, hints)
                        if text and text.strip():
                            out.append(text)
                            return
            for sub in subs:
                if sub.is_multipart():
                    _collect(sub, out, notes, depth + 1, hints)
                    return
        elif ctype == "multipart/related" and subs:
            _collect(subs[0], out, notes, depth + 1, hints)
        else:
            for sub in subs:
                _collect(sub, out, notes, depth + 1, hints)
        return
    if ctype.startswith("multipart/"):
        # The boundary was never found: the parser kept the body as one string, with the
        # parts' boundaries and headers in it. Read the parts by the body's own boundary.
        notes.append(
            "its parts could not be told apart (the MIME boundary it names is missing): "
            "its text parts were read from the body as well as they could be"
        )
        text = decode_bytes(_decode_part(part), _charset(part), hints)
        out.append(recover_mime(text))
        return
    if ctype in ("text/plain", "text/html"):
        text = _leaf_text(part, ctype, notes, hints)
        if text is not None:
            out.append(text)


def _header_charsets(msg: Message) -> list[str]:
    """Charsets named by the RFC 2047 words of Subject/From: the best guess for a body
    that declares none (a Shift-JIS body under a Shift-JIS subject, say)."""
    found: list[str] = []
    for name in ("subject", "from"):
        value = msg.get(name)
        if not value or "=?" not in str(value):
            continue
        try:
            parts = decode_header(str(value))
        except Exception:  # noqa: BLE001 - malformed encoded words
            continue
        for _, charset in parts:
            if not charset or charset.lower() in ("us-ascii", "utf-8", "unknown-8bit"):
                continue
            for codec in (charset, *_RELATED_8BIT.get(charset.lower(), ())):
                if codec not in found:
                    found.append(codec)
    return found


# 7-bit header charsets and the 8-bit encodings the same mailers put in bodies that they
# label 7bit and leave undeclared (common in 2000s Japanese, Chinese and Korean mail).
_RELATED_8BIT = {
    "iso-2022-jp": ("shift_jis", "euc-jp"),
    "shift_jis": ("cp932",),
    "gb2312": ("gb18030",),
    "hz-gb-2312": ("gb18030",),
    "iso-2022-kr": ("euc-kr",),
    "ks_c_5601-1987": ("cp949",),
    "big5": ("big5hkscs",),
}


def body_text(msg: Message) -> tuple[str, list[str]]:
    """The readable text of a message: text/plain preferred, HTML converted, no attachments."""
    out: list[str] = []
    notes: list[str] = []
    _collect(msg, out, notes, hints=_header_charsets(msg))
    texts = [t.strip("\r\n") for t in out if t and t.strip()]
    return "\n\n".join(texts).replace("\r\n", "\n"), notes


def parse_message(raw: bytes) -> MailFields:
    """The fields of one RFC-822 message; BrokenMessage if it is not one."""
    if raw.startswith(b"From ") and not raw.startswith(b"From:"):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    head = raw[:4096]
    if head.count(b"\x00") > max(4, len(head) // 100):
        raise BrokenMessage("binary data, not a mail message")
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as err:  # noqa: BLE001 - the email package should not raise; be safe
        raise BrokenMessage(f"unparseable message ({type(err).__name__}: {err})") from None
    if not msg.keys():
        raise BrokenMessage("no mail headers at the start")
    try:
        subject = header_text(msg.get("subject"))
        sender = header_text(msg.get("from"))
        date = iso_date(header_text(msg.get("date")))
        msg_id = header_text(msg.get("message-id"))
        text, notes = body_text(msg)
    except RecursionError:
        raise BrokenMessage("MIME parts nested too deeply") from None
    except Exception as err:  # noqa: BLE001 - a defect the email package did not foresee
        raise BrokenMessage(f"unreadable MIME structure ({type(err).__name__}: {err})") from None
    return MailFields(
        clean_text(msg_id),
        clean_text(subject),
        clean_text(sender),
        clean_text(date),
        clean_text(text),
        notes,
    )


def read_message(data: bytes, origin: Origin) -> tuple[MailFields, list[Problem]]:
    """One message file (.eml, a raw RFC-822 file, a Maildir member)."""
    try:
        fields = parse_message(data)
    except BrokenMessage as err:
        raise origin.error(str(err)) from None
    return fields, [origin.problem(n) for n in fields.notes]


# ----------------------------------------------------------------------------- mbox


def _is_separator(buf: bytes | mmap.mmap, pos: int) -> bool:
    if pos == 0:
        return True
    if buf[max(0, pos - 2) : pos] == b"\n\n" or buf[max(0, pos - 4) : pos] == b"\r\n\r\n":
        return True
    return _ENVELOPE.match(buf[pos : pos + 200]) is not None


def split_mbox(buf: bytes | mmap.mmap) -> list[tuple[int, int]]:
    """(start, end) byte ranges of the messages, each starting at its ``From`` line.

    A ``From`` line separates messages when it starts the file, follows a blank line, or
    looks like an envelope line (``From sender Mon Jan ...``); a body line that merely
    starts with "From " (an unescaped mboxo body) does not.
    """
    starts = [0] if bytes(buf[:5]) == b"From " else []
    find = buf.find
    pos = find(b"\nFrom ", 0)
    while pos >= 0:
        if _is_separator(buf, pos + 1):
            starts.append(pos + 1)
        pos = find(b"\nFrom ", pos + 6)
    ends = starts[1:] + [len(buf)] if starts else []
    return list(zip(starts, ends, strict=True))


def _message_bytes(buf: bytes | mmap.mmap, start: int, end: int) -> bytes:
    chunk = bytes(buf[start:end])
    newline = chunk.find(b"\n")
    chunk = chunk[newline + 1 :] if newline >= 0 else b""
    if b">From " in chunk:
        chunk = _ESCAPED_FROM.sub(rb"\1", chunk)
    return chunk


FIELDS = ("id", "subject", "sender", "date", "text")


@dataclass
class ParsedChunk:
    """Messages parsed from a run of an mbox: built in a worker, cheap to send back."""

    numbers: list[int]  # message numbers (1-based) of the rows of ``table``
    table: pa.Table  # string columns FIELDS
    notes: list[tuple[int, str]]  # (number, note) for messages read in a degraded way
    bad: list[tuple[int, str]]  # (number, why) for messages skipped


def _parse_ranges(buf: bytes | mmap.mmap, ranges: Sequence[tuple[int, int, int]]) -> ParsedChunk:
    numbers: list[int] = []
    rows: list[MailFields] = []
    notes: list[tuple[int, str]] = []
    bad: list[tuple[int, str]] = []
    for number, start, end in ranges:
        try:
            fields = parse_message(_message_bytes(buf, start, end))
        except BrokenMessage as err:
            bad.append((number, str(err)))
            continue
        numbers.append(number)
        rows.append(fields)
        notes += [(number, note) for note in fields.notes]
    table = pa.table(
        {name: pa.array([getattr(f, name) for f in rows], pa.string()) for name in FIELDS}
    )
    return ParsedChunk(numbers, table, notes, bad)


def _parse_file_ranges(path: str, ranges: Sequence[tuple[int, int, int]]) -> ParsedChunk:
    """Worker entry point: parse some messages of an mbox file on disk."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return _parse_ranges(buf, ranges)


class _LineCounter:
    """Line numbers of increasing offsets, counting newlines once through the file."""

    def __init__(self, buf: bytes | mmap.mmap):
        self.buf = buf
        self.pos = 0
        self.line = 1

    def at(self, offset: int) -> int:
        if offset < self.pos:  # not expected (offsets come in file order): count again
            self.pos, self.line = 0, 1
        while self.pos < offset:
            step = min(offset, self.pos + (1 << 24))
            self.line += bytes(self.buf[self.pos : step]).count(b"\n")
            self.pos = step
        return self.line


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def iter_mbox(
    buf: bytes | mmap.mmap,
    origin: Origin,
    hooks: Hooks,
    *,
    path: str | None = None,
    parallel: bool = True,
    chunk_messages: int = CHUNK_MESSAGES,
) -> Iterator[tuple[ParsedChunk, list[Problem]]]:
    """Yield (parsed messages, problems) chunk by chunk, in file order."""
    if not bytes(buf[:5]) == b"From ":
        raise origin.error(
            "no 'From ' line at the start: not an mbox file (each message of an mbox "
            "starts with a line 'From sender date')",
            line=1,
        )
    spans = split_mbox(buf)
    total = len(spans)
    numbered = [(i + 1, s, e) for i, (s, e) in enumerate(spans)]
    chunks = [numbered[i : i + chunk_messages] for i in range(0, total, chunk_messages)]
    starts = {number: start for number, start, _ in numbered}
    hooks.step(0, total, "reading mail")
    done = 0
    ok = 0
    first_error: tuple[int, str] | None = None
    lines = _LineCounter(buf)

    def finish(parsed: ParsedChunk) -> tuple[ParsedChunk, list[Problem]]:
        nonlocal done, ok, first_error
        ok += len(parsed.numbers)
        if parsed.bad and first_error is None:
            first_error = parsed.bad[0]
        problems = [
            origin.problem(f"{why}; message skipped", record=n, line=lines.at(starts[n]))
            for n, why in parsed.bad
        ]
        problems += [
            origin.problem(note, record=n, line=lines.at(starts[n])) for n, note in parsed.notes
        ]
        done += len(parsed.numbers) + len(parsed.bad)
        hooks.step(done, total, "reading mail")
        return parsed, problems

    workers = _workers()
    if parallel and path is not None and total >= PARALLEL_MIN_MESSAGES and workers > 1:
        yield from _iter_parallel(path, buf, chunks, workers, finish, hooks)
    else:
        for chunk in chunks:
            yield finish(_parse_ranges(buf, chunk))
    if ok == 0:
        n, why = first_error or (0, "no messages")
        raise origin.error(
            f"none of the {total:,} messages could be read ({why})", record=n or None
        )


def _iter_parallel(path, buf, chunks, workers, finish, hooks):  # type: ignore[no-untyped-def]
    # loky (joblib's process pool): fresh interpreters, not fork -- the window's process
    # has threads, and fork copies their locks -- and unlike multiprocessing's spawn it does
    # not re-run the caller's __main__. The pool is reused between imports.
    from joblib.externals.loky import get_reusable_executor

    try:
        pool = get_reusable_executor(max_workers=workers, timeout=60)
        futures = [pool.submit(_parse_file_ranges, path, chunk) for chunk in chunks]
    except Exception:  # noqa: BLE001 - no processes on this system: parse here
        futures = None
    if futures is None:
        for chunk in chunks:
            yield finish(_parse_ranges(buf, chunk))
        return
    try:
        for future, chunk in zip(futures, chunks, strict=True):
            try:
                result = future.result()
            except Exception:  # noqa: BLE001 - a worker died (out of memory, killed)
                result = _parse_ranges(buf, chunk)
            yield finish(result)
            hooks.check()
    finally:
        for future in futures:
            future.cancel()


# ----------------------------------------------------------------------------- originals

MAX_ORIGINAL_BYTES = 50 * 1024 * 1024  # a single message file larger than this is not shown
_NOT_ONE_MESSAGE = {
    ".csv", ".tsv", ".tab", ".txt", ".json", ".jsonl", ".ndjson", ".js", ".parquet", ".pq",
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".mbox", ".xlsx",
}  # fmt: skip
_SPLIT_CACHE: dict[tuple[str, int, int], list[tuple[int, int]]] = {}


def original_bytes(source: str) -> bytes | None:
    """The raw bytes of a message as its file holds it, from its ``source`` column: a
    message file's path, or ``<mbox path>::N`` for the N-th message of an mbox. None when
    the file is no longer there, changed so that message N is gone, or the message came
    from an archive or a table (whose stored text is its source)."""
    path, sep, member = source.rpartition("::")
    if not sep:
        path, member = source, ""
        if os.path.splitext(path)[1].lower() in _NOT_ONE_MESSAGE:
            return None  # a row of a table or an archive: its stored text is all there is
    elif not member.isdigit():
        return None
    try:
        stat = os.stat(path)
        if not member:
            if stat.st_size > MAX_ORIGINAL_BYTES:
                return None
            with open(path, "rb") as fh:
                return fh.read()
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            key = (path, stat.st_size, stat.st_mtime_ns)
            spans = _SPLIT_CACHE.get(key)
            if spans is None:
                spans = split_mbox(buf)
                _SPLIT_CACHE.clear()  # one mbox at a time: the one being browsed
                _SPLIT_CACHE[key] = spans
            number = int(member)
            if not 1 <= number <= len(spans):
                return None
            return _message_bytes(buf, *spans[number - 1])
    except (OSError, ValueError):
        return None


@dataclass
class Original:
    """A message's own file content, for the detail pane: headers, HTML body, source."""

    headers: list[tuple[str, str]]  # (name, decoded value), in file order
    html: str | None  # the text/html body, when the message has one
    source: str  # the raw message, decoded for display


def read_original(raw: bytes) -> Original | None:
    """Headers, HTML body and displayable source of raw RFC-822 bytes; None if not mail."""
    if raw.startswith(b"From ") and not raw.startswith(b"From:"):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception:  # noqa: BLE001 - the email package should not raise; be safe
        return None
    if not msg.keys():
        return None
    headers = [(str(name), header_text(value)) for name, value in msg.items()]
    html_body = None
    try:
        for part in msg.walk():
            if part.get_content_type() == "text/html" and not _is_attachment(part):
                payload = part.get_payload()
                if isinstance(payload, str) and len(payload) <= MAX_TEXT_PART:
                    html_body = decode_bytes(_decode_part(part), _charset(part))
                    break
    except (RecursionError, Exception):  # noqa: BLE001 - a defect: show the text instead
        html_body = None
    return Original(headers, html_body, decode_bytes(raw[:MAX_TEXT_PART]))
