"""Recognise a file's format from its first bytes and its name; decode text safely.

Nothing here reads a whole file to find out what it is: :func:`sniff` looks at the first
:data:`SNIFF_BYTES` only, so a 1 GB binary is refused after 64 kB.
"""

from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from guiapp.core.errors import InputError, Problem
from guiapp.core.io.base import Origin

SNIFF_BYTES = 64 * 1024

# Format names returned by sniff().
CSV = "csv"
JSON = "json"  # a JSON document or JSON Lines (decided while parsing)
JSONL = "jsonl"
TWEETS_JS = "tweets.js"
MBOX = "mbox"
EMAIL = "email"  # one RFC-822 message
TEXT = "text"  # one message per line
PARQUET = "parquet"
ZIP = "zip"
TAR = "tar"
GZIP = "gzip"
BZ2 = "bz2"
XZ = "xz"

TABLE_FORMATS = (CSV, JSON, JSONL, PARQUET)

_MAGIC: list[tuple[bytes, str]] = [
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),  # an empty zip
    (b"\x1f\x8b", GZIP),
    (b"BZh", BZ2),
    (b"\xfd7zXZ\x00", XZ),
    (b"PAR1", PARQUET),
]

# Binary formats people may drop in by mistake: name them instead of "binary data".
_FOREIGN: list[tuple[bytes, str]] = [
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a Windows program"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.xls/.doc/.msg)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it first)"),
    (b"Rar!\x1a\x07", "a RAR archive (unpack it first)"),
    (b"ARROW1", "an Arrow/Feather file"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file (unpack it first)"),
    (b"OggS", "an audio file"),
    (b"ID3", "an MP3 file"),
]

_OFFICE_ZIP = {
    ".xlsx": "an Excel workbook (save it as CSV)",
    ".xlsm": "an Excel workbook (save it as CSV)",
    ".ods": "a spreadsheet (save it as CSV)",
    ".docx": "a Word document",
    ".odt": "a text document",
    ".pptx": "a presentation",
    ".epub": "an e-book",
    ".jar": "a Java archive",
    ".apk": "an Android package",
}

#: Extensions of files read as tables (one table each): see dispatch.MAX_TABLE_MEMBERS.
TABLE_EXTENSIONS = frozenset(
    (".csv", ".tsv", ".tab", ".psv", ".json", ".jsonl", ".ndjson", ".jsonlines", ".js", ".txt",
     ".text", ".parquet", ".pq")
)  # fmt: skip

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]

_EXT_FORMAT = {
    ".csv": CSV,
    ".tsv": CSV,
    ".tab": CSV,
    ".psv": CSV,
    ".json": JSON,
    ".jsonl": JSONL,
    ".ndjson": JSONL,
    ".jsonlines": JSONL,
    ".js": TWEETS_JS,
    ".eml": EMAIL,
    ".msg": EMAIL,
    ".mbox": MBOX,
    ".mbx": MBOX,
    ".txt": TEXT,
    ".text": TEXT,
    ".parquet": PARQUET,
    ".pq": PARQUET,
    ".zip": ZIP,
    ".tar": TAR,
    ".tgz": TAR,
    ".gz": GZIP,
    ".bz2": BZ2,
    ".xz": XZ,
}

HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:[ \t]*\S?")  # RFC 5322 field name, then ':'
_KNOWN_HEADERS = {
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"received",
    b"return-path",
    b"mime-version",
    b"content-type",
    b"delivered-to",
    b"reply-to",
    b"sender",
    b"x-mailer",
    b"user-agent",
    b"in-reply-to",
    b"references",
    b"content-transfer-encoding",
}
_MBOX_FROM = re.compile(rb"^From \S*")
_TWEETS_JS = re.compile(r"^\s*window\.YTD\.")


def extension(name: str) -> str:
    """The lower-case extension that tells the format ('' when none)."""
    base = name.rsplit("/", 1)[-1].lower()
    if base.endswith((".tar.gz", ".tar.bz2", ".tar.xz")):
        return ".tgz"
    dot = base.rfind(".")
    if dot <= 0:
        return ""
    ext = base[dot:]
    return ext if len(ext) <= 10 else ""


def strip_compression_suffix(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".tgz"):
        return name[:-4] + ".tar"
    for suffix in (".gz", ".bz2", ".xz"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


# ----------------------------------------------------------------------------- sniffing


def sniff(head: bytes, origin: Origin, *, size: int | None = None) -> str:
    """The format of a file from its first bytes and its name; InputError if not ours.

    ``head`` is at most :data:`SNIFF_BYTES` from the start; ``size`` the full size if known.
    """
    name = origin.name
    ext = extension(name)
    if not head:
        raise origin.error("the file is empty")
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            if fmt == ZIP and ext in _OFFICE_ZIP:
                raise origin.error(f"this is {_OFFICE_ZIP[ext]}, not a file of messages")
            return fmt
    if len(head) > 262 and head[257:262] == b"ustar":
        return TAR
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            raise origin.error(f"this is {what}, not a file of messages")
    if ext in (".gz", ".tgz", ".zip", ".bz2", ".xz", ".parquet", ".pq", ".tar"):
        kind = {".tgz": "gzip", ".pq": "parquet"}.get(ext, ext[1:])
        raise origin.error(f"not a valid {kind} file (wrong magic bytes at the start)")
    encoding, _ = detect_bom(head)
    if encoding is None:
        encoding = utf16_without_bom(head)
    if encoding is None:
        check_not_binary(head, origin)
        sample = head.decode("utf-8", errors="replace")
    else:
        sample = head.decode(encoding, errors="replace").lstrip("\ufeff")
    stripped = sample.lstrip()
    if not stripped:
        raise origin.error("the file holds only white space")
    raw = sample.encode("utf-8", errors="replace")

    fmt = _EXT_FORMAT.get(ext)
    if fmt == TWEETS_JS or _TWEETS_JS.match(sample):
        return TWEETS_JS
    if fmt in (JSON, JSONL):
        return fmt
    if fmt in (MBOX, EMAIL):
        return fmt
    if fmt == CSV:
        return CSV
    looks_mail = looks_like_mail(raw.lstrip(b"\r\n"))
    if fmt == TEXT:
        if looks_mail == MBOX or (looks_mail == EMAIL and looks_like_mail(raw, strict=True)):
            return looks_mail
        # A .txt whose every line has the same number of tabs is a table (the SMS Spam
        # Collection saved as .txt: label<TAB>text); commas alone are just prose.
        return CSV if _consistent_tabs(sample) else TEXT
    # No extension we know: the content decides.
    if looks_mail:
        return looks_mail
    if stripped[0] in "[{":
        return JSON
    return CSV if looks_tabular(sample) else TEXT


def looks_like_mail(head: bytes, *, strict: bool = False) -> str | None:
    """MBOX if it starts with an mbox 'From ' line and headers, EMAIL if with headers."""
    lines = head.split(b"\n", 40)[:40]
    if not lines:
        return None
    first = lines[0].rstrip(b"\r")
    is_mbox = bool(_MBOX_FROM.match(first)) and not first.startswith(b"From: ")
    header_lines = lines[1:] if is_mbox else lines
    known = 0
    count = 0
    for line in header_lines:
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t") and count:
            continue  # a folded continuation line
        if not HEADER_LINE.match(line):
            if count == 0:
                return None
            break
        count += 1
        if line.split(b":", 1)[0].strip().lower() in _KNOWN_HEADERS:
            known += 1
    if is_mbox and count >= 1:
        return MBOX
    if known >= (2 if strict else 1) and count >= 2:
        return EMAIL
    return None


def looks_tabular(sample: str) -> bool:
    """True when some delimiter splits most of the first lines into the same >1 fields."""
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if len(lines) < 2:
        return False
    for delim in ("\t", ",", ";", "|"):
        counts = [ln.count(delim) for ln in lines]
        top = max(set(counts), key=counts.count)
        if top >= 1 and counts.count(top) >= 0.9 * len(counts):
            return True
    return False


def _consistent_tabs(sample: str) -> bool:
    lines = [ln for ln in sample.splitlines()[:200] if ln.strip()]
    if len(lines) > 2:
        lines = lines[:-1]  # the sample may end inside the last line
    counts = {ln.count("\t") for ln in lines}
    return len(lines) >= 2 and len(counts) == 1 and counts.pop() >= 1


def check_not_binary(head: bytes, origin: Origin) -> None:
    """InputError if the first bytes look like binary data rather than text."""
    if not head:
        return
    nul = head.find(b"\x00")
    nuls = head.count(b"\x00")
    if nul >= 0 and nuls > max(4, len(head) // 100):
        raise origin.error(
            f"binary data, not text ({nuls} NUL bytes in the first {len(head):,} bytes, "
            f"the first at byte {nul})"
        )
    controls = sum(head.count(bytes([c])) for c in _CONTROL_BYTES)
    if controls > max(8, len(head) // 10):
        raise origin.error(f"binary data, not text ({controls} control bytes at the start)")


_CONTROL_BYTES = [c for c in range(32) if c not in (9, 10, 12, 13, 27)] + [127]


# ----------------------------------------------------------------------------- encodings


def detect_bom(data: bytes) -> tuple[str | None, int]:
    """(codec, BOM length) for data that starts with a byte-order mark, else (None, 0)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    return None, 0


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when every other byte is NUL, as in BOM-less UTF-16 text."""
    sample = head[:4096]
    if len(sample) < 8:
        return None
    even = sample[0::2]
    odd = sample[1::2]
    even_nul = even.count(0) / len(even)
    odd_nul = odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


@dataclass
class _FallbackCounter:
    count: int = 0
    first: int = -1


_LOCAL = threading.local()  # the error handler is global; its counter is per thread


def _register_fallback() -> None:
    def handler(err: UnicodeError) -> tuple[str, int]:
        if not isinstance(err, UnicodeDecodeError):
            raise err
        counter = _LOCAL.counter
        counter.count += err.end - err.start
        if counter.first < 0:
            counter.first = err.start
        chunk = err.object[err.start : err.end]
        return "".join(_cp1252_char(b) for b in chunk), err.end

    codecs.register_error("triage-cp1252", handler)


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)  # the five bytes cp1252 leaves undefined: read as latin-1


_register_fallback()


@dataclass
class Decoded:
    text: str
    encoding: str
    problems: list[Problem]


def decode_text(data: bytes, origin: Origin) -> Decoded:
    """Decode a whole text file: BOM -> UTF-8 -> per-byte cp1252/latin-1 fallback.

    Bytes that are not valid UTF-8 are read as cp1252 (latin-1 for the five bytes cp1252
    leaves undefined), one by one, so a file that mixes UTF-8 and cp1252 lines reads right.
    NUL bytes are removed and reported.
    """
    problems: list[Problem] = []
    codec, bom_len = detect_bom(data)
    if codec is None:
        codec = utf16_without_bom(data[:4096])
        if codec is not None:
            problems.append(
                origin.problem(f"no byte-order mark, but the bytes are {codec.upper()}; read so")
            )
    if codec is not None:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            raise origin.error(
                f"not valid {codec.upper()} text ({err.reason} at byte {err.start})", line=line
            ) from None
        text = text.lstrip("\ufeff") if bom_len or codec.startswith("utf-16") else text
        encoding = codec
    else:
        try:
            text = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            state = _LOCAL.counter = _FallbackCounter()
            text = data.decode("utf-8", errors="triage-cp1252")
            line = data.count(b"\n", 0, state.first) + 1
            has_utf8 = _has_multibyte_utf8(data)
            encoding = "utf-8+cp1252" if has_utf8 else "cp1252"
            what = "some lines are UTF-8, others" if has_utf8 else "the file is"
            problems.append(
                origin.problem(
                    f"not valid UTF-8: {state.count:,} byte(s) (the first on line {line}); "
                    f"{what} read as cp1252/latin-1",
                    line=line,
                )
            )
    if "\x00" in text:
        first = text.index("\x00")
        line = text.count("\n", 0, first) + 1
        count = text.count("\x00")
        text = text.replace("\x00", "")
        problems.append(
            origin.problem(f"{count} NUL byte(s) removed (the first on line {line})", line=line)
        )
    return Decoded(text, encoding, problems)


_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _has_multibyte_utf8(data: bytes) -> bool:
    return _UTF8_MULTIBYTE.search(data) is not None


def decode_bytes(data: bytes, declared: str | None = None, hints: Sequence[str] = ()) -> str:
    """Decode a short byte string (a mail part or header): declared charset, then UTF-8,
    then the ``hints`` (e.g. charsets the message's own headers use), then cp1252, then
    latin-1 (which never fails)."""
    for codec in (declared, "utf-8", *hints, "cp1252"):
        if not codec:
            continue
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue  # ValueError: a charset name with a NUL in it ("utf\x008")
    return data.decode("latin-1")


__all__ = [
    "InputError",
    "decode_bytes",
    "decode_text",
    "sniff",
]
