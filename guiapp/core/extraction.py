"""What a message says: the one text extraction behind the table, the detail pane, the
themes, the models and their training.

Two steps, both plain functions of the stored ``text`` (the body as imported):

1. :func:`readable_text` -- what a reader sees: HTML turned into text by a real HTML5
   parser (selectolax's Lexbor engine: scripts, styles and the head dropped, block
   elements break lines), HTML entities decoded (tweets carry ``&lt;3`` and ``&amp;``),
   and the parts of a broken MIME body (boundaries and ``Content-Type:`` lines that a
   mailer left in the text) reduced to their text.
2. :func:`segments` -- that text split into what the person wrote, the quoted reply chain
   (``>`` lines, "On ... wrote:" and everything under an "Original Message" or an
   Outlook ``From:/Sent:`` block) and the signature (after ``-- ``, a closing "Sent from
   my ..."). :func:`written_text` keeps the first kind only: the models and the themes
   read that, the detail pane shows all of it.

Why Lexbor and not :mod:`html.parser`: the standard library's parser is quadratic on
unclosed constructs (20,000 repeated ``<a `` took 26 s here, ``<![CDATA[`` 0.5 s), Lexbor
parses those in a few milliseconds and is ~10x faster on real mail. Its one superlinear
case is elements nested tens of thousands deep (each ``<div>`` looks through every open
element for a ``<p>`` to close); :func:`html_to_text` flattens such runs first (see
``MAX_NESTING``), so every input is read in linear time.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import Message

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from selectolax.lexbor import LexborHTMLParser

__all__ = [
    "Segment",
    "html_to_text",
    "looks_like_html",
    "model_text",
    "readable_text",
    "recover_mime",
    "safe_html",
    "segments",
    "written_array",
    "written_text",
    "written_texts",
]

# ------------------------------------------------------------------------------- HTML

_SKIP_TAGS = ["script", "style", "head", "noscript", "template", "svg", "object", "iframe"]
_BLOCK_TAGS = (
    "p,div,br,li,tr,table,h1,h2,h3,h4,h5,h6,blockquote,pre,hr,ul,ol,dl,dt,dd,section,"
    "article,header,footer,title,center,form,address,aside,nav,main,figure,figcaption"
)
_CELL_TAGS = "td,th"

# An HTML tag we recognise as markup (not "a < b" or "<3"): bounded attribute runs keep the
# search linear on hostile input.
_HTML_TAG = re.compile(
    r"<(?:/?(?:html|body|head|div|p|br|font|span|table|tbody|tr|td|th|a|b|i|u|s|em|strong|"
    r"img|center|ul|ol|li|h[1-6]|blockquote|style|script|meta|hr|pre|code|sup|sub|small|big|"
    r"title|link|input|form|o:p|wbr|tt|strike|del|ins|abbr|label|button|iframe|video|source)"
    r"(?:\s[^<>]{0,2000})?/?>|!--|!doctype\b)",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")

# Start tags whose nesting Lexbor handles in time proportional to the depth (the "p in
# button scope" check): runs deeper than MAX_NESTING are flattened to line breaks first.
MAX_NESTING = 512
_NESTING_TAG = re.compile(
    r"<(/?)(?:div|ul|ol|dl|blockquote|section|article|aside|nav|main|header|footer|center|"
    r"figure|figcaption|fieldset|details|summary|address|menu|dir|hgroup|dialog|form|"
    r"h[1-6]|pre|listing)\b[^<>]{0,2000}>",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


_TAG_START = re.compile(r"<[A-Za-z!/]")


def looks_like_html(text: str) -> bool:
    """Whether ``text`` holds HTML markup (a known tag, a comment or a doctype)."""
    # The case-folding search is slow: only where a tag could start ("<3" cannot).
    return (
        "<" in text and _TAG_START.search(text) is not None and _HTML_TAG.search(text) is not None
    )


def _too_deep(markup: str) -> bool:
    depth = 0
    for match in _NESTING_TAG.finditer(markup):
        depth += -1 if match.group(1) else 1
        if depth > MAX_NESTING:
            return True
    return False


def html_to_text(markup: str) -> str:
    """The readable text of an HTML document or fragment.

    Scripts, styles, the head and embedded objects are dropped; block elements (paragraphs,
    divisions, list items, table rows, ``<br>``) start new lines, table cells are separated
    by a space; entities are decoded. Runs of spaces become one, and at most one blank line
    is kept between paragraphs. Linear in the size of ``markup`` for any input.
    """
    if not markup:
        return ""
    if _too_deep(markup):
        markup = _NESTING_TAG.sub("<br>", markup)
    tree = LexborHTMLParser(markup)
    tree.strip_tags(_SKIP_TAGS)
    for node in tree.css(_BLOCK_TAGS):
        if node.tag != "br":
            node.insert_before("\n")
        node.insert_after("\n")
    for node in tree.css(_CELL_TAGS):
        node.insert_after(" ")
    root = tree.body if tree.body is not None else tree.root
    text = root.text(deep=True) if root is not None else ""
    return _tidy(text)


_UNSAFE_TAGS = [
    "script", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet",
    "link", "meta", "base", "form", "input", "button", "select", "textarea", "svg", "math",
    "template", "audio", "video", "source", "track", "picture",
]  # fmt: skip


def safe_html(markup: str) -> str:
    """An HTML document to show, with nothing in it that runs or fetches: scripts, frames,
    objects, forms, media and link/meta/base elements removed, each image replaced by its
    alt text in brackets. (The viewer must still load no resource: a style attribute can
    name a URL.) Linear time, as :func:`html_to_text`."""
    if _too_deep(markup):
        markup = _NESTING_TAG.sub("<br>", markup)
    tree = LexborHTMLParser(markup)
    tree.strip_tags(_UNSAFE_TAGS)
    for node in tree.css("img"):
        alt = " ".join((node.attributes.get("alt") or "").split())
        node.replace_with(f"[{alt}]" if alt else "[image]")
    return tree.html or ""


def _tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


# ------------------------------------------------------------------------ MIME residue

# A body that still holds MIME structure: a part header line after a boundary line.
# (Boundaries may hold spaces: "--= Multipart Boundary 0925021429".)
_MIME_RESIDUE = re.compile(
    r"^--\S[^\r\n]{0,200}\r?\n(?:[ \t]*\r?\n)?Content-(?:Type|Transfer-Encoding|Disposition):",
    re.MULTILINE | re.IGNORECASE,
)
_BOUNDARY_LINE = re.compile(
    r"^--(\S[^\r\n]{0,200}?)[ \t]*\r?\n(?=(?:[ \t]*\r?\n)?Content-[\w-]+:)",
    re.MULTILINE | re.IGNORECASE,
)
_ANY_BOUNDARY_LINE = re.compile(r"^--\S[^\n]{0,200}$", re.MULTILINE)
_PART_HEADER_LINE = re.compile(
    r"^(?:Content-[\w-]+|MIME-Version):[^\n]*(?:\n[ \t]+[^\n]*)*\n?", re.MULTILINE | re.IGNORECASE
)
_MIME_PARSER = email.parser.Parser(policy=email.policy.compat32)


def has_mime_residue(text: str) -> bool:
    """Whether ``text`` still shows MIME boundaries and part headers."""
    return "Content-" in text and _MIME_RESIDUE.search(text) is not None


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = None
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001 - a mangled RFC 2231 parameter
        charset = None
    for codec in (charset, "utf-8", "cp1252"):
        if not codec:
            continue
        try:
            return payload.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def recover_mime(body: str) -> str:
    """The text of a multipart body whose boundary the message's headers did not name.

    The boundary is taken from the body's own first boundary line and the parts are read
    with :mod:`email`: text/plain parts are kept (HTML ones converted when no plain part
    holds text); attachments are left out. Where no part can be read, the boundary and
    part-header lines are removed and the rest kept.
    """
    first = _BOUNDARY_LINE.search(body)
    texts: list[str] = []
    if first is not None:
        boundary = first.group(1)
        if boundary.endswith("--"):
            boundary = boundary[:-2]
        head = f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{boundary}"\n\n'
        try:
            msg = _MIME_PARSER.parsestr(head + body.replace("\r\n", "\n"))
            leaves = [
                p
                for p in msg.walk()
                if not p.is_multipart()
                and p.get_content_maintype() == "text"
                and not str(p.get("content-disposition", "")).lower().startswith("attachment")
            ]
            plain = [_part_text(p) for p in leaves if p.get_content_type() == "text/plain"]
            plain = [t.strip() for t in plain if t.strip()]
            if plain:
                texts = plain
            else:
                texts = [
                    html_to_text(_part_text(p))
                    for p in leaves
                    if p.get_content_type() == "text/html"
                ]
                texts = [t for t in texts if t]
        except Exception:  # noqa: BLE001 - the email package on a mangled body: strip below
            texts = []
    if texts:
        return "\n\n".join(texts)
    stripped = _PART_HEADER_LINE.sub("", _ANY_BOUNDARY_LINE.sub("", body))
    return _tidy(stripped)


# --------------------------------------------------------------------------- readable


def readable_text(text: str | None) -> str:
    """What a reader sees of a stored message text: HTML as text, entities decoded, MIME
    residue reduced to the parts' text. Plain text comes back unchanged."""
    if not text:
        return ""
    if has_mime_residue(text):
        text = recover_mime(text)
    if looks_like_html(text):
        return html_to_text(text)
    if "&" in text and _ENTITY.search(text) is not None:
        return html.unescape(text)
    return text


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class Segment:
    """A run of lines of a message: ``kind`` is "written", "quote" or "signature"."""

    kind: str
    text: str


WRITTEN, QUOTE, SIGNATURE = "written", "quote", "signature"

# Anything that can start a quote or a signature (looked for in the lower-cased text, as
# plain substrings: a regex with case-folded alternatives was most of the time on mail).
_MARKER_WORDS = (
    "\n>",
    "wrote:",
    "writes:",
    "schrieb:",
    "a écrit",
    "original message",
    "from:",
    "\n--",
    "________",
    "--------",
    "========",
    "********",
    "sent from ",
    "sent with ",
    "sent via ",
    "get outlook",
    "copyright",
    "all rights reserved",
    "(c)",
    "©",
    "unsubscribe",
    "mailing list",
    "listinfo",
    "to be removed from",
    "opt-out",
    "opt out",
    "privacy policy",
    "this e-mail",
    "this email",
    "this message",
)


def _has_markers(text: str) -> bool:
    if text.startswith(">"):
        return True
    low = text.lower()
    return any(word in low for word in _MARKER_WORDS)


_QUOTED = re.compile(r"^[ \t]*>")
_ATTRIBUTION = re.compile(
    r"(?:\bwrote|\bwrites|schrieb|a écrit|escribió|ha scritto)\s*:\s*$", re.IGNORECASE
)
_ON_DATE = re.compile(r"^\s*(?:On|Am|Le|El|Il)\s.{4,}$")
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?From:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(r"^\s*\*?(?:Sent|Date|To|Subject|Cc):\*?\s", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^\s*\*?(?:From|Sent|Date|To|Subject|Cc|Reply-To):")
_SIG_DELIMITER = re.compile(r"^-- ?$")
_RULE = re.compile(r"^\s*(?:_{8,}|-{8,}|={8,}|\*{8,})\s*$")
_MOBILE = re.compile(
    r"^\s*(?:Sent from my |Sent from Mail for |Get Outlook for |Sent with |Sent via )",
    re.IGNORECASE,
)


def _quote_start(lines: list[str]) -> int | None:
    """Index of the first line of a reply chain that runs to the end, if any."""
    n = len(lines)
    # next_text[i]: index of the first non-blank line at or after i (n when none).
    next_text = [n] * (n + 1)
    # quoted_after[i]: every non-blank line from i on is quoted.
    quoted_after = [True] * (n + 1)
    for i in range(n - 1, -1, -1):
        blank = not lines[i].strip()
        next_text[i] = next_text[i + 1] if blank else i
        quoted_after[i] = quoted_after[i + 1] and (blank or _QUOTED.match(lines[i]) is not None)
    written_above = False  # a line above that is neither blank, quoted nor a header
    for i, line in enumerate(lines):
        if not written_above:
            # Nothing written above: a forwarded or bottom-posted reply, read on.
            if line.strip() and not (
                _ORIGINAL.match(line)
                or _HEADER_LINE.match(line)
                or _QUOTED.match(line)
                or (":" in line and _ATTRIBUTION.search(line))
            ):
                written_above = True
            continue
        if _ORIGINAL.match(line):
            return i
        if _OUTLOOK_FROM.match(line):
            window = lines[i + 1 : i + 6]
            if sum(1 for w in window if _OUTLOOK_FIELD.match(w)) >= 2:
                return i - 1 if i and _RULE.match(lines[i - 1]) else i
        if ":" in line and _ATTRIBUTION.search(line):
            # "On <date>, <name> wrote:" over one or two lines. A trailing chain when every
            # line after it is quoted, or (an HTML reply, whose quote lost its ">") when
            # "On ..." follows something written and the next line is not quoted; a quote
            # under it followed by an answer is an interleaved reply, kept.
            start = i - 1 if i and _ON_DATE.match(lines[i - 1]) and len(line) < 80 else i
            if quoted_after[i + 1]:
                return start
            after = next_text[i + 1]
            if start > 0 and _ON_DATE.match(lines[start]) and not _QUOTED.match(lines[after]):
                return start
    return None


def _signature_start(lines: list[str], end: int) -> int | None:
    """Index of the first line of the signature in ``lines[:end]``, if any: the ``-- ``
    delimiter, or a closing "Sent from my ..." line. Footers (mailing-list, legal) are not
    cut: leaving them out cost the spam model more on mail than it gained (see the card)."""
    for i in range(end):
        if _SIG_DELIMITER.match(lines[i]):
            return i
    last = end - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    if last >= 0 and _MOBILE.match(lines[last]):
        return last
    return None


def segments(text: str) -> list[Segment]:
    """``text`` (readable text, see :func:`readable_text`) as written, quoted and
    signature runs, in order; joined with newlines they give ``text`` back."""
    if not text:
        return []
    if "\n" not in text.strip() or not _has_markers(text):
        # One line is not a reply chain: a tweet starting ">>" or "-- " is what was written.
        return [Segment(WRITTEN, text)]
    lines = text.split("\n")
    quote_at = _quote_start(lines)
    end = len(lines) if quote_at is None else quote_at
    sig_at = _signature_start(lines, end)
    body_end = end if sig_at is None else sig_at
    kinds = [WRITTEN if not _QUOTED.match(line) else QUOTE for line in lines[:body_end]]
    # A message that starts with "-----Original Message-----": its header lines are quoted.
    first = next((i for i, line in enumerate(lines[:body_end]) if line.strip()), None)
    if first is not None and _ORIGINAL.match(lines[first]):
        kinds[first] = QUOTE
        i = first + 1
        while i < body_end and _HEADER_LINE.match(lines[i]):
            kinds[i] = QUOTE
            i += 1
    # The attribution line above an inline quote (blank lines between) belongs to it.
    following = QUOTE
    for i in range(len(kinds) - 1, -1, -1):
        if (
            kinds[i] == WRITTEN
            and following == QUOTE
            and ":" in lines[i]
            and _ATTRIBUTION.search(lines[i])
        ):
            kinds[i] = QUOTE
            if i and _ON_DATE.match(lines[i - 1]) and len(lines[i]) < 80:
                kinds[i - 1] = QUOTE
        if lines[i].strip():
            following = kinds[i]
    kinds += [SIGNATURE] * (end - body_end) + [QUOTE] * (len(lines) - end)
    out: list[Segment] = []
    run_kind, run = kinds[0], [lines[0]]
    for kind, line in zip(kinds[1:], lines[1:], strict=True):
        if kind == run_kind:
            run.append(line)
        else:
            out.append(Segment(run_kind, "\n".join(run)))
            run_kind, run = kind, [line]
    out.append(Segment(run_kind, "\n".join(run)))
    return out


def written_text(text: str | None) -> str:
    """What the person wrote: the readable text without quoted replies and signatures
    (stripped; "" when nothing is left). What the models and themes read."""
    readable = readable_text(text).strip()
    if "\n" not in readable or not _has_markers(readable):
        return readable
    parts = [s.text for s in segments(readable) if s.kind == WRITTEN]
    return _BLANK_RUNS.sub("\n\n", "\n".join(parts)).strip()


# Stored texts that can need any work at all: markup, an entity, or more than one line
# (quotes, signatures and footers need several). Everything else is returned stripped.
_NEEDS_WORK_RE2 = r"[<&\n]"


def written_texts(texts: Iterable[str | None]) -> list[str]:
    """:func:`written_text` of each text; a text with no markup, entity, line break or
    footer word is taken as it is (one regex scan), so short messages cost almost nothing."""
    # Three substring scans in C: a case-folding regex here was 40 us a tweet.
    out: list[str] = []
    append = out.append
    for text in texts:
        if not text:
            append("")
        elif "\n" in text or "<" in text or "&" in text:
            append(written_text(text))
        else:
            append(text.strip())
    return out


def model_text(subject: str | None, text: str | None) -> str:
    """Subject (if any) + newline + written part: one message as the models read it."""
    body = written_text(text)
    return f"{subject}\n{body}" if subject else body


def join_written(subjects: Sequence[str] | None, texts: Sequence[str | None]) -> list[str]:
    """:func:`model_text` of each (subject, text) pair; subjects may be None."""
    bodies = written_texts(texts)
    if subjects is None:
        return bodies
    return [f"{s}\n{b}" if s else b for s, b in zip(subjects, bodies, strict=True)]


def written_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`written_texts` over an Arrow string array (a ``large_string`` array back).

    The rows that can need work are found with one vectorised regex (RE2, the same test as
    :func:`written_texts`); only those go through Python."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    flagged = pc.match_substring_regex(texts, _NEEDS_WORK_RE2)
    rows = np.flatnonzero(flagged.to_numpy(zero_copy_only=False))
    stripped = pc.utf8_trim_whitespace(texts)
    if not len(rows):
        return stripped
    done = written_texts(texts.take(pa.array(rows)).to_pylist())
    mask = np.zeros(len(texts), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(stripped, pa.array(mask), pa.array(done, pa.large_string()))
