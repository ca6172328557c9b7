"""Hashed features computed once and reused: distinct texts, and the shipped training data.

Hashing is the costliest step of a retrain that is not the fit itself, and most of it is
repeated work: the shipped training texts are the same at every retrain, a collection
holds many identical messages (retweets, mailing lists, duplicated imports), and the same
texts are read again to predict after training. So:

- :func:`hash_texts` hashes each *distinct* text once and keeps, per row, the number of its
  distinct text (:class:`HashedTexts`); a subset of the rows shares the matrix;
- :func:`training_counts` keeps the count matrix of the shipped training data of a task in
  the user's cache directory (:func:`guiapp.core.paths.user_cache_dir`), keyed by the
  SHA-256 of ``training_data.parquet``, the hasher's parameters (its lexicon by digest) and
  the source of :mod:`.features`; only the first retrain after an install or an update
  pays for hashing it. A damaged or foreign cache file is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from guiapp.core import extraction, paths
from guiapp.core.models import features
from guiapp.core.models.features import TextHasher
from guiapp.core.models.predict import model_texts
from guiapp.core.progress import Hooks

HASH_BATCH = 2000
#: How often (seconds) Cancel is polled while waiting for a batch hashed by another thread.
POLL_SECONDS = 0.05
CACHE_FORMAT = 2
CACHE_SUFFIX = ".counts"
CACHE_FOLDER = "training-counts"


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


def take_rows(X: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``X[rows]`` for a CSR matrix (any order, repeats allowed), in one vectorised gather."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = X.indptr[rows].astype(np.int64)
    lengths = X.indptr[rows + 1].astype(np.int64) - starts
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    # Position of each output entry in X: its row's start plus its rank within the row.
    pos = np.arange(indptr[-1], dtype=np.int64) - np.repeat(indptr[:-1] - starts, lengths)
    return sp.csr_matrix((X.data[pos], X.indices[pos], indptr), shape=(len(rows), X.shape[1]))


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


@dataclass
class TrainingCounts:
    """One task's training rows: counts, labels, corpus names and text keys."""

    counts: sp.csr_matrix
    labels: np.ndarray  # int64
    corpus: np.ndarray  # str
    keys: np.ndarray  # uint64, text_keys of the model texts


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_key(task: str, hasher: TextHasher, data_path: Path) -> str:
    source = Path(features.__file__).read_bytes()
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "task": task,
            "data_sha256": _file_sha256(data_path),
            "hasher": hasher_key(hasher),
            "features_sha256": hashlib.sha256(source).hexdigest(),
            # model_texts runs the extraction: other code, other texts.
            "extraction_sha256": hashlib.sha256(Path(extraction.__file__).read_bytes()).hexdigest(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def counts_of_frame(
    hasher: TextHasher,
    frame: pd.DataFrame,
    hooks: Hooks | None = None,
    n_jobs: int = 1,
    known: HashedTexts | None = None,
) -> TrainingCounts:
    """:class:`TrainingCounts` of training rows in the layout of ``training_data.parquet``
    (float32 counts, as cached).

    ``known``: texts hashed already with the same hasher (a collection's
    :func:`hash_texts`); a training text among them (same :func:`text_keys`) takes its
    counts from there instead of being hashed again -- the same numbers, since a text's
    counts do not depend on its batch."""
    texts = model_texts(frame)
    keys = text_keys(texts)
    n = len(texts)
    source = np.full(n, -1, dtype=np.int64)  # row of ``known.counts``, or -1
    if known is not None and known.matches(hasher) and len(known.keys) and n:
        order = np.argsort(known.keys, kind="stable")
        sorted_keys = known.keys[order]
        pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        hit = sorted_keys[pos] == keys
        source[hit] = order[pos[hit]]
    fresh_rows = np.flatnonzero(source < 0)
    if len(fresh_rows) == n:
        counts = hash_counts(hasher, texts, hooks, n_jobs=n_jobs, dtype=np.float32)
    else:
        assert known is not None
        fresh = hash_counts(
            hasher, [texts[i] for i in fresh_rows], hooks, n_jobs=n_jobs, dtype=np.float32
        )
        hit_rows = np.flatnonzero(source >= 0)
        reused = _compact(_gather(known.counts, source[hit_rows]), np.float32)
        # Back in the frame's order: the cache holds the same rows in the same order
        # whichever texts were found in ``known``.
        stacked = _vstack([_compact(fresh, np.float32), reused])
        where = np.empty(n, dtype=np.int64)
        where[np.concatenate((fresh_rows, hit_rows))] = np.arange(n)
        counts = _compact(_gather(stacked, where), np.float32)
    corpus = (
        frame["corpus"].astype(str).to_numpy()
        if "corpus" in frame.columns
        else np.full(len(frame), "base", dtype=object)
    )
    return TrainingCounts(counts, frame["label"].to_numpy(dtype=np.int64), corpus, keys)


def _gather(X: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``X[rows]`` by SciPy's row gather (a C++ loop of row copies), with indptr in the
    dtype of the indices (SciPy converts every index otherwise)."""
    if X.indptr.dtype != X.indices.dtype:
        Y = sp.csr_matrix(X.shape, dtype=X.dtype)
        Y.data, Y.indices = X.data, X.indices
        Y.indptr = X.indptr.astype(X.indices.dtype)
        X = Y
    return X[np.asarray(rows, dtype=np.int64)]


def training_counts(
    task: str,
    hasher: TextHasher,
    data_path: Path,
    load_frame: Any,
    hooks: Hooks | None = None,
    n_jobs: int = 1,
    known: HashedTexts | None = None,
) -> TrainingCounts:
    """The shipped training rows of ``task`` (``load_frame()`` reads them), from the cache
    when it holds them for this data file, hasher and feature code; else hashed and cached.

    The counts are float32 (exact for counts; lexicon scores round at 1e-7), cached or
    fresh, so a retrain gives the same model whether the cache was there or not. Cached
    counts are memory-mapped read-only from the cache file (nothing is read or copied
    until used). ``n_jobs``: threads for hashing when the cache does not hold them;
    ``known``: texts hashed already (see :func:`counts_of_frame`).
    """
    hooks = hooks or Hooks()
    try:
        folder: Path | None = paths.user_cache_dir() / CACHE_FOLDER
    except OSError:
        folder = None  # no writable cache directory: hash every time
    key = _cache_key(task, hasher, data_path)
    target = folder / f"{task}-{key}{CACHE_SUFFIX}" if folder is not None else None
    cached = _read_cache(target) if target is not None else None
    if cached is not None:
        return cached
    result = counts_of_frame(hasher, load_frame(), hooks, n_jobs=n_jobs, known=known)
    hooks.check()
    if folder is not None and target is not None:
        _write_cache(target, result)
        for stale in folder.glob(f"{task}-*"):
            if stale != target:
                stale.unlink(missing_ok=True)
    return result


# The cache file: MAGIC, an 8-byte little-endian header length, a JSON header naming each
# array's dtype, shape and offset, then the arrays' raw bytes at 64-byte aligned offsets --
# so that every array is memory-mapped as it is, without a copy or a decompression (an
# .npz is read through zipfile into fresh memory: ~0.3 s per 200 MB here).
MAGIC = b"TRIAGE-COUNTS\n"
_ALIGN = 64


def _read_cache(path: Path) -> TrainingCounts | None:
    if not path.is_file():
        return None
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                return None
            length = int.from_bytes(fh.read(8), "little")
            if not 0 < length < min(size, 1 << 20):
                return None
            header = json.loads(fh.read(length).decode("utf-8"))
        arrays: dict[str, np.ndarray] = {}
        for name, spec in header["arrays"].items():
            dtype = np.dtype(spec["dtype"])
            shape = tuple(int(v) for v in spec["shape"])
            offset = int(spec["offset"])
            nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if offset < 0 or offset + nbytes > size:
                return None
            if nbytes == 0:
                arrays[name] = np.zeros(shape, dtype=dtype)
            else:
                # A plain ndarray view of the read-only mapping (it keeps the map open).
                arrays[name] = np.asarray(
                    np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
                )
        shape = tuple(int(v) for v in header["shape"])
        indptr, indices, data = arrays["indptr"], arrays["indices"], arrays["data"]
        if (
            len(shape) != 2
            or indptr.dtype != indices.dtype
            or indptr.dtype not in (np.int32, np.int64)
            or data.dtype != np.float32
            or len(indptr) != shape[0] + 1
            or len(indices) != len(data)
            or int(indptr[-1]) != len(data)
        ):
            return None
        counts = sp.csr_matrix((shape[0], shape[1]), dtype=np.float32)
        counts.data, counts.indices, counts.indptr = data, indices, indptr
        out = TrainingCounts(
            counts,
            arrays["labels"].astype(np.int64),
            arrays["corpus"].astype(object),
            np.array(arrays["keys"], dtype=np.uint64),
        )
        if not (len(out.labels) == len(out.corpus) == len(out.keys) == shape[0]):
            return None
        counts.check_format(full_check=False)
        return out
    except (OSError, ValueError, KeyError, TypeError, EOFError, UnicodeDecodeError):
        return None  # damaged or from another version: rebuilt


def _write_cache(path: Path, value: TrainingCounts) -> None:
    counts = value.counts
    index_dtype = np.int32 if counts.nnz < np.iinfo(np.int32).max else np.int64
    arrays = {
        "indptr": np.asarray(counts.indptr).astype(index_dtype, copy=False),
        "indices": np.asarray(counts.indices).astype(index_dtype, copy=False),
        "data": np.asarray(counts.data).astype(np.float32, copy=False),
        "labels": np.asarray(value.labels).astype(np.int8),
        "corpus": np.asarray(value.corpus).astype(str),
        "keys": np.asarray(value.keys, dtype=np.uint64),
    }
    specs: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, array in arrays.items():
        specs[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset += -(-array.nbytes // _ALIGN) * _ALIGN

    # Offsets are counted from the end of the header, itself padded to _ALIGN: fix the
    # header's length first, then shift every offset by it.
    def encode(base: int) -> bytes:
        shifted = {n: {**s, "offset": s["offset"] + base} for n, s in specs.items()}
        return json.dumps({"shape": list(counts.shape), "arrays": shifted}).encode("utf-8")

    base = _ALIGN
    while True:
        blob = encode(base)
        start = -(-(len(MAGIC) + 8 + len(blob)) // _ALIGN) * _ALIGN
        if start == base:
            break
        base = start
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".counts.", suffix=".tmp")
    except OSError:
        return  # a cache that cannot be written only costs time
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + len(blob).to_bytes(8, "little") + blob)
            fh.write(b"\0" * (base - fh.tell()))
            for name, array in arrays.items():
                fh.seek(base + specs[name]["offset"])
                np.ascontiguousarray(array).tofile(fh)
        os.replace(tmp, path)
    except OSError:
        # A cache that cannot be written (read-only, disk full) only costs time.
        Path(tmp).unlink(missing_ok=True)


__all__ = [
    "HashedTexts",
    "TrainingCounts",
    "counts_of_frame",
    "hash_counts",
    "hash_texts",
    "hasher_key",
    "take_rows",
    "text_keys",
    "training_counts",
]
