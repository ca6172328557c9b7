"""A model as plain arrays and JSON: the one on-disk form of every Triage model.

A pipeline ``hash -> tfidf -> clf`` is written as an ``.npz`` archive of numeric arrays
(the IDF weights, the dense columns' scales, the coefficients, the intercept, the
lexicon's valences) plus one JSON document of the few parameters (hasher settings,
lexicon words). Loading reads it with ``allow_pickle=False``, so a file can hold numbers
and text only and runs no code, and checks every value before building anything: a crafted
file (``n_bits`` "abc", -1 or 10**15, arrays of the wrong shape, NaN weights, a lexicon of
the wrong kind) is refused with a :class:`~guiapp.core.errors.ModelError`.

The same bytes are what a project stores for each of its model versions (see
:mod:`.store`), and what the shipped ``models/<task>.npz`` holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from guiapp.core.errors import ModelError
from guiapp.core.messages import CLASSES
from guiapp.core.models.features import N_LEXICON_FEATURES, TextHasher
from guiapp.core.models.linear import TfidfBlock

FORMAT = "triage-model-arrays/1"
SUFFIX = ".npz"
#: Bounds every parameter must keep (beyond them a file is refused, not tried).
N_BITS = (10, 22)
MAX_NGRAM = 8
MAX_CHARS = 1_000_000
MAX_LEXICON = 100_000
MAX_WORD = 100
MAX_ARCHIVE_BYTES = 512 << 20
_ARRAYS = ("idf", "dense_scale", "coef", "intercept", "lexicon_values", "spec")


def pipeline_bytes(pipeline: Pipeline) -> bytes:
    """``pipeline`` as ``.npz`` bytes (compressed)."""
    hasher: TextHasher = pipeline["hash"]
    tfidf: TfidfBlock = pipeline["tfidf"]
    clf: LogisticRegression = pipeline["clf"]
    lexicon = hasher.lexicon or {}
    words = sorted(lexicon)
    spec = {
        "format": FORMAT,
        "hasher": {
            "n_bits": int(hasher.n_bits),
            "word_ngrams": [int(v) for v in hasher.word_ngrams],
            "char_ngrams": [int(v) for v in hasher.char_ngrams],
            "max_chars": int(hasher.max_chars),
            "char_max_chars": int(hasher.char_max_chars),
            "negation": bool(hasher.negation),
            "lexicon": hasher.lexicon is not None,
        },
        "lexicon_words": words,
        "tfidf": {"n_dense": int(tfidf.n_dense), "min_df": int(tfidf.min_df)},
        "clf": {"C": float(getattr(clf, "C", 1.0))},
    }
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        spec=np.frombuffer(json.dumps(spec).encode("utf-8"), dtype=np.uint8),
        idf=np.asarray(tfidf.idf_, dtype=np.float32),
        dense_scale=np.asarray(tfidf.dense_scale_, dtype=np.float64),
        coef=np.asarray(clf.coef_, dtype=np.float32),
        intercept=np.asarray(clf.intercept_, dtype=np.float64),
        lexicon_values=np.asarray([lexicon[w] for w in words], dtype=np.float64),
    )
    return buffer.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _refuse(source: str | Path, reason: str) -> ModelError:
    return ModelError(source, f"{reason}; it was not loaded.", remedy="retrain")


def _int(value: Any, low: int, high: int, what: str, source: str | Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _refuse(source, f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _range(value: Any, what: str, source: str | Path) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise _refuse(source, f"{what} must be two whole numbers, not {value!r}")
    low = _int(value[0], 1, MAX_NGRAM, what, source)
    high = _int(value[1], low, MAX_NGRAM, what, source)
    return low, high


def _array(
    arrays: Any, name: str, shape: tuple[int, ...], source: str | Path, *, positive: bool = False
) -> np.ndarray:
    try:
        value = arrays[name]
    except KeyError:
        raise _refuse(source, f"the array {name!r} is missing") from None
    if value.dtype.kind != "f" or value.shape != shape:
        raise _refuse(
            source, f"the array {name!r} is {value.dtype} {value.shape}, expected float {shape}"
        )
    if not np.isfinite(value).all() or (positive and (value < 0).any()):
        raise _refuse(source, f"the array {name!r} holds values that are not allowed")
    return value


def pipeline_from_bytes(task: str, data: bytes, source: str | Path) -> Pipeline:
    """The pipeline in ``data`` (from :func:`pipeline_bytes`), every value checked.

    Raises :class:`ModelError` naming ``source`` for anything that is not a Triage model
    of ``task`` with sane parameters.
    """
    if len(data) > MAX_ARCHIVE_BYTES:
        raise _refuse(source, "the model file is larger than any Triage model")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = sum(info.file_size for info in archive.infolist())
        if declared > MAX_ARCHIVE_BYTES:
            raise _refuse(source, "the model's arrays would be larger than any Triage model")
        with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
            # Read every array now: an object array (a pickle) is refused here.
            arrays = {name: loaded[name] for name in loaded.files}
        names = set(arrays)
    except ModelError:
        raise
    except Exception as exc:  # a damaged archive can raise many kinds of error
        raise _refuse(source, f"the model file cannot be read ({type(exc).__name__})") from None
    if names != set(_ARRAYS):
        raise _refuse(source, f"the model file holds {sorted(names)}, not a Triage model")
    try:
        raw = arrays["spec"]
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError("not text")
        spec = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise _refuse(source, "the model's description is not valid JSON") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise _refuse(source, "this is not a model file written by Triage")
    h = spec.get("hasher")
    t = spec.get("tfidf")
    c = spec.get("clf")
    words = spec.get("lexicon_words")
    if not isinstance(h, dict) or not isinstance(t, dict) or not isinstance(c, dict):
        raise _refuse(source, "the model's description is incomplete")
    n_bits = _int(h.get("n_bits"), *N_BITS, "n_bits", source)
    word_ngrams = _range(h.get("word_ngrams"), "word_ngrams", source)
    char_ngrams = _range(h.get("char_ngrams"), "char_ngrams", source)
    max_chars = _int(h.get("max_chars"), 1, MAX_CHARS, "max_chars", source)
    char_max_chars = _int(h.get("char_max_chars"), 0, MAX_CHARS, "char_max_chars", source)
    if not isinstance(h.get("negation"), bool) or not isinstance(h.get("lexicon"), bool):
        raise _refuse(source, "negation and lexicon must be true or false")
    if (
        not isinstance(words, list)
        or len(words) > MAX_LEXICON
        or not all(isinstance(w, str) and 0 < len(w) <= MAX_WORD for w in words)
    ):
        raise _refuse(source, "the lexicon must be a list of words")
    if len(set(words)) != len(words) or (words and not h["lexicon"]):
        raise _refuse(source, "the lexicon's words repeat, or it has words without a lexicon")
    values = _array(arrays, "lexicon_values", (len(words),), source)
    if (np.abs(values) > 10).any():
        raise _refuse(source, "the lexicon's valences are outside -10..10")
    n_dense = _int(t.get("n_dense"), 0, 64, "n_dense", source)
    if n_dense != (N_LEXICON_FEATURES if h["lexicon"] else 0):
        raise _refuse(source, f"n_dense {n_dense} does not fit the lexicon setting")
    min_df = _int(t.get("min_df"), 1, 1_000_000, "min_df", source)
    C = c.get("C")
    if isinstance(C, bool) or not isinstance(C, int | float) or not np.isfinite(C) or C <= 0:
        raise _refuse(source, f"C must be a positive number, not {C!r}")
    k = len(CLASSES[task])
    k_out = 1 if k == 2 else k
    n_hashed = 1 << n_bits
    idf = _array(arrays, "idf", (n_hashed,), source, positive=True)
    dense_scale = _array(arrays, "dense_scale", (n_dense,), source)
    coef = _array(arrays, "coef", (k_out, n_hashed + n_dense), source)
    intercept = _array(arrays, "intercept", (k_out,), source)
    hasher = TextHasher(
        n_bits=n_bits,
        word_ngrams=word_ngrams,
        char_ngrams=char_ngrams,
        max_chars=max_chars,
        char_max_chars=char_max_chars,
        negation=h["negation"],
        lexicon=dict(zip(words, values.tolist(), strict=True)) if h["lexicon"] else None,
    )
    tfidf = TfidfBlock(n_dense=n_dense, min_df=min_df)
    tfidf.idf_ = idf.astype(np.float32)
    tfidf.dense_scale_ = dense_scale.astype(np.float64)
    tfidf.n_features_in_ = n_hashed + n_dense
    clf = LogisticRegression(C=float(C))
    clf.coef_ = coef.astype(np.float32)
    clf.intercept_ = intercept.astype(np.float64)
    clf.classes_ = np.arange(k)
    clf.n_features_in_ = n_hashed + n_dense
    clf.n_iter_ = np.array([0])
    return Pipeline([("hash", hasher), ("tfidf", tfidf), ("clf", clf)])


__all__ = ["FORMAT", "SUFFIX", "digest", "pipeline_bytes", "pipeline_from_bytes"]
