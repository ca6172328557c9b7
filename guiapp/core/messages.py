"""The one message schema every importer produces, and the label vocabularies.

A loaded collection is a :class:`pandas.DataFrame` with exactly the columns of
:data:`COLUMNS` (in that order, a ``RangeIndex`` 0..n-1), Arrow-backed strings for the text
columns, and two label columns holding the user's labels as small integer codes:

=================  ==========================================================
``id``             stable id: Message-ID, tweet id, or ``h:`` + a content hash
``source``         file path, plus ``::member`` for a member of a folder/archive
``kind``           one of :data:`KINDS`
``subject``        email subject ("" for others)
``sender``         From header / tweet author ("" when unknown)
``date``           ISO-8601 text as found ("" when unknown)
``text``           the body as imported (a table's cell byte for byte)
``user_spam``      int8: -1 unlabelled, 0 ham, 1 spam
``user_sentiment`` int8: -1 unlabelled, 0 negative, 1 neutral, 2 positive
=================  ==========================================================

Label codes are the index into :data:`SPAM_CLASSES` / :data:`SENTIMENT_CLASSES`.

``text`` is kept as the source holds it (exports write it back unchanged); what the table,
the detail pane, the themes and the models read of it -- HTML as text, entities decoded,
the written part without quoted replies and signatures -- is
:mod:`guiapp.core.extraction`'s.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

TEXT_COLUMNS = ("id", "source", "kind", "subject", "sender", "date", "text")
LABEL_COLUMNS = ("user_spam", "user_sentiment")
COLUMNS = TEXT_COLUMNS + LABEL_COLUMNS

KINDS = ("email", "tweet", "sms", "text")

TASKS = ("spam", "sentiment")
SPAM_CLASSES = ("ham", "spam")
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
CLASSES = {"spam": SPAM_CLASSES, "sentiment": SENTIMENT_CLASSES}
LABEL_COLUMN = {"spam": "user_spam", "sentiment": "user_sentiment"}
NO_LABEL = -1

STRING_DTYPE = pd.StringDtype("pyarrow")


def empty_frame() -> pd.DataFrame:
    """A collection with no messages, with the right columns and dtypes."""
    return make_frame({})


def make_frame(columns: dict[str, Iterable], n: int | None = None) -> pd.DataFrame:
    """Build a collection frame from whatever columns an importer has.

    Missing text columns become "", missing label columns become -1; ``id`` is filled with
    content hashes where missing or empty.
    """
    if n is None:
        n = 0
        for values in columns.values():
            n = len(values)  # type: ignore[arg-type]
            break
    data: dict[str, object] = {}
    for name in TEXT_COLUMNS:
        if name in columns:
            col = (
                pd.Series(columns[name], dtype=object)
                if not isinstance(columns[name], pd.Series)
                else columns[name]
            )
            col = col.reset_index(drop=True).astype(STRING_DTYPE).fillna("")
        else:
            col = pd.Series([""] * n, dtype=STRING_DTYPE)
        data[name] = col
    for name in LABEL_COLUMNS:
        if name in columns:
            data[name] = np.asarray(columns[name], dtype=np.int8)
        else:
            data[name] = np.full(n, NO_LABEL, dtype=np.int8)
    frame = pd.DataFrame(data, columns=list(COLUMNS))
    missing = frame["id"] == ""
    if missing.any():
        frame.loc[missing, "id"] = [
            content_id(s, t)
            for s, t in zip(frame.loc[missing, "subject"], frame.loc[missing, "text"], strict=True)
        ]
    return frame


def content_id(subject: str, text: str) -> str:
    """A stable id for a message that has none: ``h:`` + 16 hex digits of SHA-256."""
    digest = hashlib.sha256(f"{subject}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()
    return "h:" + digest[:16]


# ----------------------------------------------------------------------------- labels

_SPAM_WORDS = {
    "spam": 1,
    "junk": 1,
    "1": 1,
    "true": 1,
    "yes": 1,
    "y": 1,
    "t": 1,
    "is spam": 1,
    "ham": 0,
    "not spam": 0,
    "not_spam": 0,
    "notspam": 0,
    "non-spam": 0,
    "nonspam": 0,
    "legit": 0,
    "legitimate": 0,
    "0": 0,
    "false": 0,
    "no": 0,
    "n": 0,
    "f": 0,
    "good": 0,
}
_SENTIMENT_WORDS = {
    "negative": 0,
    "neg": 0,
    "-": 0,
    "bad": 0,
    "neutral": 1,
    "neu": 1,
    "neut": 1,
    "objective": 1,
    "none": 1,
    "objective-or-neutral": 1,
    "positive": 2,
    "pos": 2,
    "+": 2,
    "good": 2,
}


def _clean(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    if isinstance(value, bool):
        value = int(value)
    text = str(value).strip().strip('"').strip().lower()
    if text in ("", "nan", "na", "n/a", "null", "?", "unlabelled", "unlabeled"):
        return None
    return text


def spam_code(value: object) -> int | None:
    """The spam code (0 ham, 1 spam) of a label as users spell it, or None if it is not one.

    Accepts spam/ham, 1/0, true/false, yes/no, "spam"/"not spam" and a few more.
    """
    text = _clean(value)
    if text is None:
        return None
    return _SPAM_WORDS.get(text)


def sentiment_code(value: object, numeric_scheme: str | None = None) -> int | None:
    """The sentiment code (0 negative, 1 neutral, 2 positive) of a label, or None.

    Words (negative/neutral/positive, neg/neu/pos) are always understood. Numbers need a
    ``numeric_scheme``, found by :func:`sentiment_numeric_scheme` from the whole column:
    ``"-101"`` (-1/0/1), ``"012"`` (0/1/2, TweetEval), ``"04"`` (0/4, Sentiment140, with 2
    neutral).
    """
    text = _clean(value)
    if text is None:
        return None
    if text in _SENTIMENT_WORDS:
        return _SENTIMENT_WORDS[text]
    try:
        number = int(float(text))
    except ValueError:
        return None
    if numeric_scheme == "-101":
        return {-1: 0, 0: 1, 1: 2}.get(number)
    if numeric_scheme == "012":
        return {0: 0, 1: 1, 2: 2}.get(number)
    if numeric_scheme == "04":
        return {0: 0, 2: 1, 4: 2}.get(number)
    return None


def sentiment_numeric_scheme(values: Iterable[object]) -> str | None:
    """Which numeric coding a column of sentiment labels uses, from the set of its values."""
    seen: set[int] = set()
    for value in values:
        text = _clean(value)
        if text is None or text in _SENTIMENT_WORDS:
            continue
        try:
            number = float(text)
        except ValueError:
            return None
        if not number.is_integer():
            return None
        seen.add(int(number))
    if not seen:
        return None
    if seen <= {-1, 0, 1} and -1 in seen:
        return "-101"
    if seen <= {0, 2, 4} and 4 in seen:
        return "04"
    if seen <= {0, 1, 2} and 2 in seen:
        return "012"
    return None


def label_names(task: str, codes: np.ndarray) -> np.ndarray:
    """Codes -> class names ("" for -1), as an object array."""
    classes = np.array(("",) + CLASSES[task], dtype=object)
    return classes[np.asarray(codes, dtype=np.int64) + 1]
