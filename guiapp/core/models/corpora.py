"""Readers for the public research corpora the shipped models are trained on.

Each reader returns a plain :class:`pandas.DataFrame` with columns ``kind``, ``subject``,
``text`` and ``label`` (the class code of :data:`~guiapp.core.messages.CLASSES`), plus
``corpus`` and ``group`` (the file or folder a row came from). Only what a user's own
collection would also carry is kept: subject and body text, never mail headers, dates or
file names, which identify the corpus rather than the class.

The folder layout is the one of ``shared/data`` (see its README): ``sms_spam_collection/``,
``enron_spam/``, ``spamassassin/`` and ``semeval_sentiment/``.
"""

from __future__ import annotations

import csv
import email.policy
import gzip
import html
import re
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import numpy as np
import pandas as pd

from guiapp.core.errors import InputError
from guiapp.core.models.registry import file_sha256

SMS_FILE = Path("sms_spam_collection/SMSSpamCollection")
ENRON_FILE = Path("enron_spam/enron_spam_data.csv.gz")
SPAMASSASSIN_FILE = Path("spamassassin/spamassassin-dev.tar.gz")
SEMEVAL_DIR = Path("semeval_sentiment")
SEMEVAL_TEST = "twitter-2016test-A.tsv"
SEMEVAL_DEV = ("twitter-2016dev-A.tsv", "twitter-2016devtest-A.tsv")

FRAME_COLUMNS = ("corpus", "group", "kind", "subject", "text", "label")


@dataclass(frozen=True)
class SourceFile:
    """A corpus file that went into a model: recorded in its card."""

    path: str  # relative to the data folder
    sha256: str
    rows: int

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "rows": self.rows}


def _frame(rows: dict[str, list[object]]) -> pd.DataFrame:
    frame = pd.DataFrame({name: rows[name] for name in FRAME_COLUMNS})
    frame["label"] = frame["label"].astype(np.int8)
    return frame


# ------------------------------------------------------------------------------- SMS


def read_sms(data_dir: Path) -> tuple[pd.DataFrame, SourceFile]:
    """SMS Spam Collection v.1: ``label<TAB>text`` per line."""
    path = Path(data_dir) / SMS_FILE
    rows: dict[str, list[object]] = {name: [] for name in FRAME_COLUMNS}
    with open(path, encoding="utf-8", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            label, sep, text = line.partition("\t")
            if not sep or label not in ("ham", "spam"):
                raise InputError(
                    path, f"expected 'ham|spam<TAB>text', found {line[:40]!r}", line=number
                )
            rows["corpus"].append("sms")
            rows["group"].append("sms")
            rows["kind"].append("sms")
            rows["subject"].append("")
            rows["text"].append(html.unescape(text))
            rows["label"].append(1 if label == "spam" else 0)
    frame = _frame(rows)
    return frame, SourceFile(str(SMS_FILE), file_sha256(path), len(frame))


# ----------------------------------------------------------------------------- Enron


def read_enron(data_dir: Path) -> tuple[pd.DataFrame, SourceFile]:
    """Enron-Spam preprocessed CSV: subject and message only (the Date column leaks)."""
    path = Path(data_dir) / ENRON_FILE
    csv.field_size_limit(sys.maxsize)
    rows: dict[str, list[object]] = {name: [] for name in FRAME_COLUMNS}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        want = ["Message ID", "Subject", "Message", "Spam/Ham", "Date", "Source File"]
        if header != want:
            raise InputError(path, f"unexpected header {header!r}", line=1)
        for number, record in enumerate(reader, start=2):
            if len(record) != len(want):
                raise InputError(
                    path, f"{len(record)} fields instead of {len(want)}", record=number
                )
            _, subject, message, label, _, source = record
            if label not in ("ham", "spam"):
                raise InputError(path, f"label {label!r} is not ham/spam", record=number)
            rows["corpus"].append("enron")
            rows["group"].append(source.split("/", 1)[0])  # enron1..enron6
            rows["kind"].append("email")
            rows["subject"].append(subject)
            rows["text"].append(message)
            rows["label"].append(1 if label == "spam" else 0)
    frame = _frame(rows)
    return frame, SourceFile(str(ENRON_FILE), file_sha256(path), len(frame))


# ----------------------------------------------------------------------- SpamAssassin

_TAG_BLOCK = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.S | re.I)
_BREAK = re.compile(r"<\s*(br|/p|p|/div|div|/tr|tr|li|/h\d|h\d)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BLANKS = re.compile(r"[ \t\r\f\v]+")
_MANY_NEWLINES = re.compile(r"\n\s*\n+")


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body: scripts, styles and tags dropped, entities decoded."""
    text = _COMMENT.sub(" ", markup)
    text = _TAG_BLOCK.sub(" ", text)
    text = _BREAK.sub("\n", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _BLANKS.sub(" ", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("latin-1", errors="replace")
    if isinstance(content, bytes):
        content = content.decode("latin-1", errors="replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return content


def mail_subject_and_body(raw: bytes) -> tuple[str, str]:
    """Subject and plain-text body of a raw RFC-822 message (text/plain, else HTML as text)."""
    msg = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    try:
        subject = str(msg.get("Subject", "") or "")
    except (ValueError, TypeError, LookupError):
        subject = ""
    body_part = msg.get_body(preferencelist=("plain", "html"))
    if body_part is not None:
        body = _part_text(body_part)
    else:
        # No text part at all (e.g. only attachments): take every text/* leaf we can find.
        body = "\n".join(
            _part_text(part) for part in msg.walk() if part.get_content_maintype() == "text"
        )
    return " ".join(subject.split()), body


def read_spamassassin(data_dir: Path) -> tuple[pd.DataFrame, SourceFile]:
    """SpamAssassin ``spam-1`` + ``easy-ham-1``: subject and body of each raw message."""
    path = Path(data_dir) / SPAMASSASSIN_FILE
    found: list[tuple[str, str, str, str]] = []
    # Members are read in archive order: seeking backwards in a gzip stream decompresses
    # it again from the start. Rows are sorted by member name afterwards.
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            folder = member.name.split("/", 1)[0]
            if not member.isfile() or folder not in ("spam-1", "easy-ham-1"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                raise InputError(path, "cannot read archive member", member=member.name)
            subject, body = mail_subject_and_body(handle.read())
            found.append((member.name, folder, subject, body))
    found.sort()
    rows: dict[str, list[object]] = {name: [] for name in FRAME_COLUMNS}
    for _, folder, subject, body in found:
        rows["corpus"].append("spamassassin")
        rows["group"].append(folder)
        rows["kind"].append("email")
        rows["subject"].append(subject)
        rows["text"].append(body)
        rows["label"].append(1 if folder == "spam-1" else 0)
    frame = _frame(rows)
    return frame, SourceFile(str(SPAMASSASSIN_FILE), file_sha256(path), len(frame))


# -------------------------------------------------------------------------- SemEval

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\(\")")
_SENTIMENT = {"negative": 0, "neutral": 1, "positive": 2}


def _unescape_tweet(text: str) -> str:
    # The 2013/2015 files keep JSON-style escapes (\u2019, \u002c, \"), and several files
    # wrap a text holding quotes in CSV quoting ("...""...").
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('""', '"')
    if "\\" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), text)
    return text


def read_semeval_file(path: Path) -> pd.DataFrame:
    """One SemEval Task 4A file: ``id<TAB>label<TAB>text[<TAB>]``; columns + ``id``."""
    path = Path(path)
    rows: dict[str, list[object]] = {name: [] for name in FRAME_COLUMNS}
    ids: list[str] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) < 3 or fields[1] not in _SENTIMENT:
                raise InputError(
                    path, f"expected 'id<TAB>label<TAB>text', found {line[:40]!r}", line=number
                )
            ids.append(fields[0])
            rows["corpus"].append("semeval")
            rows["group"].append(path.name)
            rows["kind"].append("tweet")
            rows["subject"].append("")
            rows["text"].append(_unescape_tweet(fields[2]))
            rows["label"].append(_SENTIMENT[fields[1]])
    frame = _frame(rows)
    frame.insert(0, "id", ids)
    return frame


def read_semeval(
    data_dir: Path, files: Iterable[str] | None = None
) -> tuple[pd.DataFrame, list[SourceFile]]:
    folder = Path(data_dir) / SEMEVAL_DIR
    names = sorted(files) if files is not None else sorted(p.name for p in folder.glob("*.tsv"))
    frames, sources = [], []
    for name in names:
        frame = read_semeval_file(folder / name)
        frames.append(frame)
        sources.append(SourceFile(str(SEMEVAL_DIR / name), file_sha256(folder / name), len(frame)))
    return pd.concat(frames, ignore_index=True), sources


# -------------------------------------------------------------------------- splits


def dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop exact duplicate (subject, text) pairs, keeping the first; index reset."""
    keep = ~frame.duplicated(subset=["subject", "text"], keep="first")
    return frame.loc[keep].reset_index(drop=True)


def spam_split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The development split of a spam corpus: dedupe, stratified 20% test, seed 0."""
    from sklearn.model_selection import train_test_split

    frame = dedupe(frame)
    train, test = train_test_split(
        frame, test_size=0.2, random_state=0, stratify=frame["label"].to_numpy()
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def semeval_split(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[SourceFile]]:
    """Train on every SemEval file but the 2016 test set; test on that one.

    Training tweets whose id also occurs in the test file are dropped (no leak), then exact
    duplicate texts.
    """
    folder = Path(data_dir) / SEMEVAL_DIR
    names = sorted(p.name for p in folder.glob("*.tsv"))
    if SEMEVAL_TEST not in names:
        raise InputError(folder, f"{SEMEVAL_TEST} is missing")
    frame, sources = read_semeval(data_dir, names)
    test = frame[frame["group"] == SEMEVAL_TEST].reset_index(drop=True)
    train = frame[frame["group"] != SEMEVAL_TEST]
    train = train[~train["id"].isin(set(test["id"]))]
    train = dedupe(train)
    return train, test, sources
