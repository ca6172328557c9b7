"""Readers for the public research corpora the shipped models are trained on.

Each reader returns a plain :class:`pandas.DataFrame` with columns ``kind``, ``subject``,
``text`` and ``label`` (the class code of :data:`~guiapp.core.messages.CLASSES`), plus
``corpus`` and ``group`` (the file or folder a row came from). Only what a user's own
collection would also carry is kept: subject and body text, never mail headers, dates or
file names, which identify the corpus rather than the class.

Texts are kept as a user's file holds them (entities, markup and quoted replies included):
the one extraction (:mod:`guiapp.core.extraction`, via
:func:`~guiapp.core.models.predict.model_texts`) turns them into what the models read, in
training as in use.

The folder layout is the one of ``shared/data`` (see its README): ``sms_spam_collection/``,
``enron_spam/``, ``spamassassin/``, ``semeval_sentiment/`` and ``tweeteval_sentiment/``.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from guiapp.core.errors import InputError
from guiapp.core.io.mail import BrokenMessage, parse_message
from guiapp.core.models.registry import file_sha256

SMS_FILE = Path("sms_spam_collection/SMSSpamCollection")
ENRON_FILE = Path("enron_spam/enron_spam_data.csv.gz")
SPAMASSASSIN_FILE = Path("spamassassin/spamassassin-dev.tar.gz")
SEMEVAL_DIR = Path("semeval_sentiment")
SEMEVAL_TEST = "twitter-2016test-A.tsv"
SEMEVAL_DEV = ("twitter-2016dev-A.tsv", "twitter-2016devtest-A.tsv")
TWEETEVAL_DIR = Path("tweeteval_sentiment")
TWEETEVAL_TEXT = "val_text.txt"
TWEETEVAL_LABELS = "val_labels.txt"

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
            rows["text"].append(text)  # entities are decoded by the extraction
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


def read_spamassassin(data_dir: Path) -> tuple[pd.DataFrame, SourceFile]:
    """SpamAssassin ``spam-1`` + ``easy-ham-1``: subject and body of each raw message, read
    by the mail importer (:func:`guiapp.core.io.mail.parse_message`) exactly as a user's
    mbox or .eml file is."""
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
            try:
                fields = parse_message(handle.read())
            except BrokenMessage as err:
                raise InputError(path, str(err), member=member.name) from None
            found.append((member.name, folder, fields.subject, fields.text))
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


def read_tweeteval(data_dir: Path) -> tuple[pd.DataFrame, list[SourceFile]]:
    """TweetEval sentiment validation split: ``val_text.txt`` one tweet a line (JSON-style
    escapes as in SemEval), ``val_labels.txt`` 0 negative / 1 neutral / 2 positive."""
    folder = Path(data_dir) / TWEETEVAL_DIR
    text_path, label_path = folder / TWEETEVAL_TEXT, folder / TWEETEVAL_LABELS
    with open(text_path, encoding="utf-8", newline="") as fh:
        texts = [line.rstrip("\r\n") for line in fh]
    with open(label_path, encoding="utf-8") as fh:
        labels = [line.strip() for line in fh if line.strip()]
    if texts and texts[-1] == "":
        texts.pop()
    if len(texts) != len(labels):
        raise InputError(
            text_path, f"{len(texts)} tweets but {len(labels)} labels in {TWEETEVAL_LABELS}"
        )
    rows: dict[str, list[object]] = {name: [] for name in FRAME_COLUMNS}
    for number, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        if label not in ("0", "1", "2"):
            raise InputError(label_path, f"label {label!r} is not 0, 1 or 2", line=number)
        rows["corpus"].append("tweeteval")
        rows["group"].append(TWEETEVAL_TEXT)
        rows["kind"].append("tweet")
        rows["subject"].append("")
        rows["text"].append(_unescape_tweet(text.strip()))
        rows["label"].append(int(label))
    frame = _frame(rows)
    sources = [
        SourceFile(str(TWEETEVAL_DIR / name), file_sha256(folder / name), len(frame))
        for name in (TWEETEVAL_TEXT, TWEETEVAL_LABELS)
    ]
    return frame, sources


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
