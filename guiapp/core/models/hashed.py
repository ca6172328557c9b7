"""Hashed features computed once and reused: each distinct text of a collection.

A collection holds many identical messages (retweets, mailing lists, duplicated imports),
and the same texts are read again to predict after a retrain. So :func:`hash_texts`
hashes each *distinct* text once and keeps, per row, the number of its distinct text
(:class:`HashedTexts`); a subset of the rows shares the matrix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from guiapp.core.models.features import TextHasher
from guiapp.core.models.predict import model_texts
from guiapp.core.progress import Hooks

HASH_BATCH = 2000
#: How often (seconds) Cancel is polled while waiting for a batch hashed by another thread.
POLL_SECONDS = 0.05


# ------------------------------------------------------------------------- hashing


def hash_counts(
    hasher: TextHasher,
    texts: Sequence[str],
    hooks: Hooks | None = None,
    n_jobs: int = 1,
    dtype: Any = np.float64,
) -> sp.csr_matrix:
    """Counts of every text as one sparse matrix, in batches over ``n_jobs`` threads, with
    progress and Cancel between batches. ``dtype`` float32 halves the memory (exact for
    counts; the lexicon scores round at 1e-7) and is what the retrain path keeps.

    Two threads hash a mix of e-mails and tweets 1.5x faster than one on two cores (the
    regular expressions hold the GIL; the numpy work, a good half, does not)."""
    hooks = hooks or Hooks()
    n = len(texts)
    starts = list(range(0, n, HASH_BATCH))
    if not starts:
        return _compact(hasher.hash([]).to_csr(), dtype)

    def one(start: int) -> sp.csr_matrix:
        return _compact(hasher.hash(texts[start : start + HASH_BATCH]).to_csr(), dtype)

    out = _Rows(n, dtype)
    hooks.step(0, n, "reading messages")
    if n_jobs <= 1 or len(starts) == 1:
        for start in starts:
            out.append(one(start))
            hooks.step(min(start + HASH_BATCH, n), n, "reading messages")
        return out.matrix()
    pool = ThreadPoolExecutor(n_jobs, thread_name_prefix="triage-hash")
    try:
        window = 2 * n_jobs
        futures = [pool.submit(one, s) for s in starts[:window]]
        for i in range(len(starts)):
            # Each batch is copied into place as it comes, while the next ones are hashed
            # (a row-wise concatenation at the end took ~0.5 s, single-threaded, for
            # 33M entries -- most of it the first touch of the fresh memory).
            out.append(_result(futures[i], hooks))
            futures[i] = None  # type: ignore[call-overload]  # the batch is copied: freed
            if i + window < len(starts):
                futures.append(pool.submit(one, starts[i + window]))
            hooks.step(min(starts[i] + HASH_BATCH, n), n, "reading messages")
    finally:
        # On Cancel, do not wait for the batches in flight (their results are dropped).
        pool.shutdown(wait=False, cancel_futures=True)
    return out.matrix()


def _result(future: Future[sp.csr_matrix], hooks: Hooks) -> sp.csr_matrix:
    """The batch's counts; Cancel is polled while waiting (a batch of 2,000 e-mails takes
    a few tenths of a second, more on a loaded machine)."""
    while True:
        try:
            return future.result(timeout=POLL_SECONDS)
        except TimeoutError:
            hooks.check()


class _Rows:
    """CSR batches appended row-wise into growing arrays: one copy of each batch, into
    memory reserved ahead from the batches' mean size (extended by doubling if short)."""

    def __init__(self, n_rows: int, dtype: Any):
        self.n_rows = n_rows
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self.nnz = 0
        self.n_cols = 0
        self.indptr = np.zeros(n_rows + 1, dtype=np.int64)
        self.indices = np.zeros(0, dtype=np.int32)
        self.data = np.zeros(0, dtype=self.dtype)

    def append(self, part: sp.csr_matrix) -> None:
        rows, nnz = part.shape[0], part.nnz
        self.n_cols = part.shape[1]
        end = self.nnz + nnz
        if end > len(self.data):
            # Reserve for the rows still to come at this mean size, plus an eighth;
            # untouched pages cost no memory.
            mean = end / max(self.rows + rows, 1)
            capacity = max(end, int(mean * self.n_rows * 1.125) + 1, 2 * len(self.data))
            for name in ("data", "indices"):
                old = getattr(self, name)
                grown = np.empty(capacity, dtype=old.dtype)
                grown[: self.nnz] = old[: self.nnz]
                setattr(self, name, grown)
        self.data[self.nnz : end] = part.data
        self.indices[self.nnz : end] = part.indices
        self.indptr[self.rows + 1 : self.rows + rows + 1] = part.indptr[1:] + self.nnz
        self.rows += rows
        self.nnz = end

    def matrix(self) -> sp.csr_matrix:
        """The rows appended (views of the arrays), indptr and indices of one index dtype."""
        index_dtype = np.int32 if self.nnz < np.iinfo(np.int32).max else np.int64
        out = sp.csr_matrix((self.rows, self.n_cols), dtype=self.dtype)
        out.data = self.data[: self.nnz]
        out.indices = self.indices[: self.nnz].astype(index_dtype, copy=False)
        out.indptr = self.indptr[: self.rows + 1].astype(index_dtype)
        return out


def _compact(X: sp.csr_matrix, dtype: Any) -> sp.csr_matrix:
    """``X`` as ``dtype`` with int32 indptr and indices (one batch: they always fit)."""
    out = sp.csr_matrix(X.shape, dtype=dtype)
    out.data = X.data.astype(dtype, copy=False)
    out.indices = X.indices.astype(np.int32, copy=False)
    out.indptr = X.indptr.astype(np.int32)
    return out


def _vstack(parts: list[sp.csr_matrix]) -> sp.csr_matrix:
    """Row-wise concatenation of CSR matrices, in one copy, without SciPy's format checks
    (which copy again); indptr and indices share an index dtype (int32 when it fits)."""
    if len(parts) == 1:
        return parts[0]
    nnz = np.array([p.nnz for p in parts], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(nnz)))
    index_dtype = np.int32 if offsets[-1] < np.iinfo(np.int32).max else np.int64
    indptr = np.concatenate(
        [np.zeros(1, dtype=np.int64)]
        + [p.indptr[1:].astype(np.int64) + off for p, off in zip(parts, offsets, strict=False)]
    ).astype(index_dtype)
    out = sp.csr_matrix((len(indptr) - 1, parts[0].shape[1]), dtype=parts[0].dtype)
    out.data = np.concatenate([p.data for p in parts])
    out.indices = np.concatenate([p.indices for p in parts]).astype(index_dtype, copy=False)
    out.indptr = indptr
    return out


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """A 64-bit key per text (pandas' SipHash of the string), to match texts by key."""
    return pd.util.hash_array(np.asarray(texts, dtype=object), categorize=False)


@dataclass
class HashedTexts:
    """The features of some rows: a count matrix of their distinct texts, and per row the
    number of its distinct text.

    ``counts``: CSR, one row per distinct text (as :meth:`TextHasher.transform`);
    ``index``: int64 ``(n_rows,)``; ``keys``: uint64 :func:`text_keys` of the distinct
    texts; ``hasher``: the parameters the counts were made with (:func:`hasher_key`).
    """

    counts: sp.csr_matrix
    index: np.ndarray
    keys: np.ndarray
    hasher: dict[str, Any]

    def __len__(self) -> int:
        return len(self.index)

    def subset(self, rows: np.ndarray) -> HashedTexts:
        """The same features for ``rows`` (a mask or row numbers); the matrix is shared."""
        rows = np.asarray(rows)
        index = self.index[np.flatnonzero(rows) if rows.dtype == bool else rows]
        return HashedTexts(self.counts, index, self.keys, self.hasher)

    def matches(self, hasher: TextHasher) -> bool:
        return self.hasher == hasher_key(hasher)


def hasher_key(hasher: TextHasher) -> dict[str, Any]:
    """The parameters that decide a :class:`TextHasher`'s output (the lexicon by digest)."""
    params = hasher.get_params(deep=False)
    lexicon = params.pop("lexicon", None) or {}
    digest = hashlib.sha256(
        json.dumps(sorted(lexicon.items()), ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    out["lexicon_sha256"] = digest
    return out


def hash_texts(
    hasher: TextHasher,
    messages: pd.DataFrame | Sequence[str],
    hooks: Hooks | None = None,
    n_jobs: int = 1,
) -> HashedTexts:
    """Hash each distinct text of ``messages`` (what the models read: subject + text) once.
    The counts are float32, as the cached training counts are (see
    :func:`training_counts`)."""
    hooks = hooks or Hooks()
    texts = model_texts(messages)
    hooks.check()
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), sort=False)
    hooks.check()
    distinct = [str(t) for t in uniques]
    counts = hash_counts(hasher, distinct, hooks, n_jobs=n_jobs, dtype=np.float32)
    return HashedTexts(counts, codes.astype(np.int64), text_keys(distinct), hasher_key(hasher))


# ----------------------------------------------------- the shipped training data, cached


# The cache file: MAGIC, an 8-byte little-endian header length, a JSON header naming each
# array's dtype, shape and offset, then the arrays' raw bytes at 64-byte aligned offsets --
# so that every array is memory-mapped as it is, without a copy or a decompression (an
# .npz is read through zipfile into fresh memory: ~0.3 s per 200 MB here).
MAGIC = b"TRIAGE-COUNTS\n"
_ALIGN = 64


__all__ = [
    "HashedTexts",
    "hash_counts",
    "hash_texts",
    "hasher_key",
    "text_keys",
]
