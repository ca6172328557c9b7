"""Weighting, a cancellable logistic-regression fit, and fast scoring of hashed features.

The models are plain scikit-learn pipelines ``TextHasher -> TfidfBlock ->
LogisticRegression`` and ``pipeline.predict_proba(texts)`` works as usual. Two things are
done by hand, for speed and for Cancel:

- :func:`fit_logistic` minimises scikit-learn's own L2-regularised (multinomial) logistic
  loss with SciPy's L-BFGS, both sparse products split over two threads, and polls
  ``stop_requested`` at every function evaluation (~0.1-0.2 s apart on the shipped
  training data), so Cancel lands well within a second. It accepts a starting point, which
  is how a retrain builds on the model it replaces. The result is an ordinary fitted
  ``LogisticRegression``.
- :func:`minimize_logistic` minimises the same objective faster from a warm start (the
  retrain path): L-BFGS preconditioned by the diagonal of the Hessian, with an exact line
  search that costs no sparse product (the scores move along ``Z + t * (X @ P)``, so the
  loss along the line is a cheap function of ``t``). An iteration is one ``X @ P`` and one
  ``X.T @ G``; from the current model, 20 corrected messages are fitted in about six
  iterations where plain L-BFGS needed about twenty-five.
- :func:`decision_scores` applies ``TfidfBlock`` + the linear model straight to the
  unsummed n-gram occurrences of a :class:`~.features.HashedBatch` with ``bincount``,
  without building a sparse matrix: several times faster, same numbers.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import daxpy as _daxpy
from scipy.linalg.blas import ddot as _ddot
from scipy.optimize import minimize
from scipy.special import expit, log_softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from guiapp.core.models.features import HashedBatch
from guiapp.core.progress import Hooks

# --------------------------------------------------------------------- weighting


class TfidfBlock(TransformerMixin, BaseEstimator):
    """TF-IDF on the hashed columns, scaling on the dense tail columns.

    For a message with n-gram counts ``c_j``, column ``j`` becomes
    ``c_j * idf_j / sqrt(sum_k c_k * idf_k**2)``. That is the L2 normalisation of the
    message's n-gram *occurrences*, each weighted by its IDF, and unlike the usual
    ``sqrt(sum (c_k idf_k)**2)`` it can be computed without summing repeated n-grams first
    (see :func:`decision_scores`). Buckets seen in fewer than ``min_df`` training messages
    get IDF 0 (dropped): that removes noise and keeps model files small. The last
    ``n_dense`` columns (lexicon scores) are divided by their largest training magnitude.
    """

    def __init__(self, n_dense: int = 0, min_df: int = 2):
        self.n_dense = n_dense
        self.min_df = min_df

    def fit(self, X: sp.csr_matrix, y: object = None) -> TfidfBlock:
        X = sp.csr_matrix(X)
        n_docs, n_cols = X.shape
        n_hashed = n_cols - self.n_dense
        df = np.bincount(X.indices, minlength=n_cols)[:n_hashed].astype(np.float64)
        idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        idf[df < self.min_df] = 0.0
        self.idf_ = idf.astype(np.float32)
        scale = np.ones(self.n_dense)
        if self.n_dense:
            # Largest magnitude of each dense column, in one pass (column slicing a CSR
            # matrix of 25M entries took seconds).
            tail = X.indices >= n_hashed
            peak = np.zeros(self.n_dense)
            np.maximum.at(peak, X.indices[tail] - n_hashed, np.abs(X.data[tail]))
            scale = 1.0 / np.where(peak > 0, peak, 1.0)
        self.dense_scale_ = scale.astype(np.float64)
        self.n_features_in_ = n_cols
        return self

    def transform(self, X: sp.csr_matrix) -> sp.csr_matrix:
        X = sp.csr_matrix(X, dtype=np.float64, copy=True)
        n_hashed = X.shape[1] - self.n_dense
        hashed = X.indices < n_hashed
        idx = X.indices
        idf = self.idf_.astype(np.float64)
        weights = np.zeros_like(X.data)
        weights[hashed] = idf[idx[hashed]]
        row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        norms = np.sqrt(np.bincount(row_of, weights=X.data * weights**2, minlength=X.shape[0]))
        norms[norms == 0] = 1.0
        values = X.data * weights / norms[row_of]
        if self.n_dense:
            tail = ~hashed
            values[tail] = X.data[tail] * self.dense_scale_[idx[tail] - n_hashed]
        X.data = values
        X.eliminate_zeros()
        return X


RowSource = tuple[sp.csr_matrix, "np.ndarray | None"]
_BLOCK_ENTRIES = 1 << 21


def _row_blocks(X: sp.csr_matrix, rows: np.ndarray | None) -> Any:
    """``(indices, data, lengths)`` of the selected rows (all when None), in blocks of about
    ``_BLOCK_ENTRIES`` stored entries, gathered without building the sub-matrix."""
    indptr = X.indptr.astype(np.int64, copy=False)
    if rows is None:
        starts, lengths = indptr[:-1], np.diff(indptr)
    else:
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = indptr[rows], indptr[rows + 1] - indptr[rows]
    ends = np.cumsum(lengths)
    a = 0
    while a < len(lengths):
        b = int(np.searchsorted(ends, (ends[a - 1] if a else 0) + _BLOCK_ENTRIES, "right"))
        b = max(b, a + 1)
        seg_starts, seg_len = starts[a:b], lengths[a:b]
        if rows is None:
            lo, hi = int(seg_starts[0]), int(seg_starts[-1] + seg_len[-1])
            yield X.indices[lo:hi], X.data[lo:hi], seg_len
        else:
            offsets = np.concatenate(([0], np.cumsum(seg_len)[:-1]))
            pos = np.arange(int(seg_len.sum()), dtype=np.int64) + np.repeat(
                seg_starts - offsets, seg_len
            )
            yield X.indices[pos], X.data[pos], seg_len
        a = b


def _segment_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths))
    nonempty = lengths > 0
    if nonempty.any():
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[nonempty]
        out[nonempty] = np.add.reduceat(values, starts)
    return out


def fit_tfidf_rows(
    sources: list[RowSource],
    n_features: int,
    n_dense: int,
    min_df: int = 2,
    hooks: Hooks | None = None,
) -> TfidfBlock:
    """``TfidfBlock(n_dense, min_df).fit`` of the selected rows of several matrices stacked,
    without stacking them."""
    n_hashed = n_features - n_dense
    df = np.zeros(n_features, dtype=np.int64)
    peak = np.zeros(n_dense)
    n_docs = 0
    for X, rows in sources:
        for ind, dat, lengths in _row_blocks(X, rows):
            if hooks is not None:
                hooks.check()
            df += np.bincount(ind, minlength=n_features)
            n_docs += len(lengths)
            if n_dense:
                tail = ind >= n_hashed
                np.maximum.at(peak, ind[tail] - n_hashed, np.abs(dat[tail]))
    tfidf = TfidfBlock(n_dense=n_dense, min_df=min_df)
    dfh = df[:n_hashed].astype(np.float64)
    idf = np.log((1.0 + n_docs) / (1.0 + dfh)) + 1.0
    idf[dfh < min_df] = 0.0
    tfidf.idf_ = idf.astype(np.float32)
    tfidf.dense_scale_ = (1.0 / np.where(peak > 0, peak, 1.0)).astype(np.float64)
    tfidf.n_features_in_ = n_features
    return tfidf


def weigh_rows(
    tfidf: TfidfBlock,
    sources: list[RowSource],
    n_features: int,
    dtype: Any = np.float32,
    hooks: Hooks | None = None,
) -> sp.csr_matrix:
    """``tfidf.transform`` of the selected rows of several matrices, stacked, as ``dtype``.

    The same arithmetic as :meth:`TfidfBlock.transform`, block by block (a few million
    entries at a time stay in cache; the counts are never copied whole).
    """
    n_hashed = n_features - tfidf.n_dense
    idf = np.concatenate(
        (np.asarray(tfidf.idf_, dtype=np.float64), np.zeros(n_features - n_hashed))
    )
    out_ind, out_val, out_len = [], [], []
    for X, rows in sources:
        for ind, dat, lengths in _row_blocks(X, rows):
            if hooks is not None:
                hooks.check()
            w = idf[ind]
            v = dat * w
            norms = np.sqrt(_segment_sums(v * w, lengths))
            norms[norms == 0] = 1.0
            v /= np.repeat(norms, lengths)
            if tfidf.n_dense:
                tail = np.flatnonzero(ind >= n_hashed)
                v[tail] = dat[tail] * tfidf.dense_scale_[ind[tail] - n_hashed]
            keep = v != 0
            if not keep.all():
                lengths = _segment_sums(keep, lengths).astype(np.int64)
                ind, v = ind[keep], v[keep]
            out_ind.append(np.asarray(ind, dtype=np.int32))
            out_val.append(v.astype(dtype))
            out_len.append(lengths)
    lengths = np.concatenate(out_len) if out_len else np.zeros(0, dtype=np.int64)
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    # One index dtype for indptr and indices (see rows_view).
    index_dtype = np.int32 if indptr[-1] < np.iinfo(np.int32).max else np.int64
    matrix = sp.csr_matrix((len(lengths), n_features), dtype=dtype)
    matrix.data = np.concatenate(out_val) if out_val else np.zeros(0, dtype=dtype)
    matrix.indices = (
        np.concatenate(out_ind).astype(index_dtype, copy=False)
        if out_ind
        else np.zeros(0, dtype=index_dtype)
    )
    matrix.indptr = indptr.astype(index_dtype)
    return matrix


# ------------------------------------------------------------------- fitting

_POOL: ThreadPoolExecutor | None = None


_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(2, thread_name_prefix="triage-lbfgs")
        return _POOL


def rows_view(X: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    """Rows ``start:stop`` of a CSR matrix sharing its data and indices (``X[a:b]``
    copies them: seconds on the training matrices)."""
    s, e = int(X.indptr[start]), int(X.indptr[stop])
    # Assigned, not passed to the constructor: its format check copies ("prunes") arrays
    # that are views of much larger ones.
    view = sp.csr_matrix((stop - start, X.shape[1]), dtype=X.dtype)
    view.data = X.data[s:e]
    view.indices = X.indices[s:e]
    # indptr keeps the dtype of indices: scipy converts both to a common one at every
    # product otherwise (a copy of all the indices each time).
    view.indptr = (X.indptr[start : stop + 1] - s).astype(X.indices.dtype, copy=False)
    return view


def transposed_view(X: sp.csr_matrix) -> sp.csc_matrix:
    """``X.T`` as a CSC matrix sharing ``X``'s arrays. (``X.T`` goes through the
    constructor, whose format check copies arrays that are views of much larger ones:
    for the second half of a split matrix, a copy of half the matrix at every product.)"""
    view = sp.csc_matrix((X.shape[1], X.shape[0]), dtype=X.dtype)
    view.data, view.indices, view.indptr = X.data, X.indices, X.indptr
    return view


class _SplitProducts:
    """``X @ W`` and ``X.T @ G`` with the rows split over two threads (SciPy's sparse
    kernels release the GIL). ``X.T @ G`` is the sum of the halves' products, so no
    transposed copy of ``X`` is made (that copy cost seconds on the spam data)."""

    def __init__(self, X: sp.csr_matrix):
        X = sp.csr_matrix(X)
        n = X.shape[0]
        # float32 matrices (retraining) are multiplied in float32 -- half the memory
        # traffic, the scarce resource here -- and the results come back as float64.
        self.dtype = X.dtype
        if n < 2048:
            self.parts = [X]
            self.bounds = [0, n]
        else:
            # Split where half the non-zeros are, not half the rows.
            mid = int(np.searchsorted(X.indptr, X.nnz // 2))
            self.parts = [rows_view(X, 0, mid), rows_view(X, mid, n)]
            self.bounds = [0, mid, n]
        self.transposed = [transposed_view(P) for P in self.parts]
        self.shape = X.shape

    def _map(self, fn: Any, items: list[Any]) -> list[Any]:
        if len(items) == 1:
            return [fn(items[0])]
        return list(_pool().map(fn, items))

    def dot(self, W: np.ndarray) -> np.ndarray:
        W = np.asarray(W, dtype=self.dtype)
        out = np.concatenate(self._map(lambda P: np.asarray(P @ W), self.parts))
        return out.astype(np.float64, copy=False)

    def tdot(self, G: np.ndarray) -> np.ndarray:
        G = np.asarray(G, dtype=self.dtype)
        pieces = [
            (T, G[a:b])
            for T, a, b in zip(self.transposed, self.bounds, self.bounds[1:], strict=False)
        ]
        parts = self._map(lambda item: np.asarray(item[0] @ item[1], dtype=np.float64), pieces)
        return np.asarray(sum(parts))

    def tdot_squared(self, H: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """``(X * X).T @ H`` (the element-wise square of ``X``), in row chunks so that the
        squared copy never exceeds one chunk."""

        H = np.asarray(H, dtype=self.dtype)

        def part(item: tuple[sp.csr_matrix, np.ndarray]) -> np.ndarray:
            P, Hp = item
            out = np.zeros((P.shape[1], Hp.shape[1]))
            for a in range(0, P.shape[0], chunk):
                b = min(a + chunk, P.shape[0])
                s, e = P.indptr[a], P.indptr[b]
                block = sp.csr_matrix(
                    (P.data[s:e] ** 2, P.indices[s:e], P.indptr[a : b + 1] - s),
                    shape=(b - a, P.shape[1]),
                )
                out += np.asarray(block.T @ Hp[a:b])
            return out

        pieces = [
            (P, H[a:b]) for P, a, b in zip(self.parts, self.bounds, self.bounds[1:], strict=False)
        ]
        return sum(self._map(part, pieces))


def split_products(X: sp.csr_matrix) -> _SplitProducts:
    """``X`` prepared for :func:`fit_logistic` / :func:`minimize_logistic` (float32 stays
    float32, anything else becomes float64)."""
    X = sp.csr_matrix(X)
    if X.dtype != np.float32:
        X = sp.csr_matrix(X, dtype=np.float64)
    return _SplitProducts(X)


class CountRows:
    """Rows of count matrices (float32 CSR pieces, stacked in order, never copied) with
    their dense tail, cut into segments of similar numbers of stored entries that are
    multiplied over two threads (SciPy's kernels release the GIL).

    :meth:`scores` applies any ``TfidfBlock`` + linear model to them by two sparse
    products (see :class:`TfidfProducts`), several times faster than weighting the
    counts block by block.
    """

    def __init__(self, pieces: list[sp.csr_matrix], dense: np.ndarray, segments: int = 4):
        self.pieces = pieces
        self.raw_dense = np.asarray(dense, dtype=np.float64)
        self.piece_starts = np.cumsum([0] + [P.shape[0] for P in pieces])[:-1]
        n_features = pieces[0].shape[1] if pieces else 0
        self.shape = (sum(P.shape[0] for P in pieces), n_features)
        total = max(sum(P.nnz for P in pieces), 1)
        target = max(total // max(segments, 1), 1)
        self.segments: list[tuple[int, int, sp.csr_matrix, sp.csc_matrix]] = []
        start = 0
        for P in pieces:
            count = max(1, round(P.nnz / target)) if P.shape[0] >= 2048 else 1
            cuts = [0]
            for i in range(1, count):
                cuts.append(int(np.searchsorted(P.indptr, P.nnz * i // count)))
            cuts.append(P.shape[0])
            for a, b in zip(cuts, cuts[1:], strict=False):
                if b > a:
                    view = rows_view(P, a, b)
                    self.segments.append((start + a, start + b, view, transposed_view(view)))
            start += P.shape[0]

    def _map(self, fn: Any, rows: tuple[int, int] | None = None) -> list[Any]:
        items = self.segments
        if rows is not None:
            items = [seg for seg in items if rows[0] <= seg[0] and seg[1] <= rows[1]]
        if len(items) <= 1 or self.shape[0] < 2048:
            return [fn(V, T, a, b) for a, b, V, T in items]
        return list(_pool().map(lambda item: fn(item[2], item[3], item[0], item[1]), items))

    def _rows(self, fn: Any, rows: tuple[int, int] | None = None) -> np.ndarray:
        """Row-wise results of ``fn(segment, start, stop)``, stacked, as float64."""
        parts = self._map(lambda V, T, a, b: np.asarray(fn(V, a, b)), rows)
        if not parts:
            return np.zeros(0)
        return np.concatenate(parts).astype(np.float64, copy=False)

    def _columns(self, fn: Any) -> np.ndarray:
        """Sum over segments of ``fn(transposed segment, start, stop)``, as float64."""
        parts = self._map(lambda V, T, a, b: np.asarray(fn(T, a, b), dtype=np.float64))
        return np.asarray(sum(parts))

    def scores(
        self,
        tfidf: TfidfBlock,
        clf: Any,
        piece: int | None = None,
        hooks: Hooks | None = None,
    ) -> np.ndarray:
        """``clf.decision_function(tfidf.transform(rows))`` ``(n, n_outputs)`` of every row,
        or of the rows of one piece."""
        n_features = self.shape[1]
        coef = np.asarray(clf.coef_, dtype=np.float64)
        if coef.shape[1] != n_features:
            raise ValueError(
                f"model expects {coef.shape[1]} features, the counts have {n_features}"
            )
        n_hashed = n_features - int(tfidf.n_dense)
        rows = None
        if piece is not None:
            a = int(self.piece_starts[piece])
            rows = (a, a + self.pieces[piece].shape[0])
        idf = np.zeros(n_features)
        idf[:n_hashed] = np.asarray(tfidf.idf_, dtype=np.float64)
        squares = (idf * idf).astype(np.float32)
        weights = [np.ascontiguousarray(idf * c, dtype=np.float32) for c in coef]
        if hooks is not None:
            hooks.check()

        def part(V: sp.csr_matrix, a: int, b: int) -> np.ndarray:
            norms = np.sqrt(np.maximum(np.asarray(V @ squares, dtype=np.float64), 0.0))
            norms[norms == 0] = 1.0
            return np.column_stack([V @ w for w in weights]) / norms[:, None]

        out = self._rows(part, rows).reshape(-1, len(coef))
        dense = self.raw_dense if rows is None else self.raw_dense[rows[0] : rows[1]]
        out += (dense * np.asarray(tfidf.dense_scale_)) @ coef[:, n_hashed:].T
        return out + np.asarray(clf.intercept_, dtype=np.float64)


def count_rows(
    sources: list[RowSource], n_features: int, n_dense: int, hooks: Hooks | None = None
) -> tuple[list[sp.csr_matrix], np.ndarray]:
    """The selected rows of each source as float32 pieces, and their dense tail."""
    n_hashed = n_features - n_dense
    pieces, dense_parts = [], []
    for X, rows in sources:
        piece, dense = _gather_rows(X, rows, n_hashed, n_dense, hooks)
        pieces.append(piece)
        dense_parts.append(dense)
    dense = np.concatenate(dense_parts) if dense_parts else np.zeros((0, n_dense))
    return pieces, dense


def count_scores(
    counts: sp.csr_matrix, tfidf: TfidfBlock, clf: Any, hooks: Hooks | None = None
) -> np.ndarray:
    """``clf.decision_function(tfidf.transform(counts))`` ``(n, n_outputs)`` by two sparse
    products over the counts (the same numbers as :func:`decision_scores`, to float32
    rounding of the products)."""
    n_dense = int(tfidf.n_dense)
    pieces, dense = count_rows([(counts, None)], counts.shape[1], n_dense, hooks)
    return CountRows(pieces, dense).scores(tfidf, clf, hooks=hooks)


class TfidfProducts(CountRows):
    """The products of :func:`minimize_logistic` for ``X = tfidf.transform(counts rows)``,
    computed from the counts without building ``X``.

    On the hashed columns ``X_ij = c_ij * idf_j / norm_i`` and on the dense tail
    ``X_ij = c_ij * scale_j``, so with ``D`` the (scaled) dense tail of every row:

    - ``X @ W = (C @ (idf * W)) / norm + D @ W_tail``,
    - ``X.T @ G = idf * (C.T @ (G / norm))`` on the hashed rows, ``D.T @ G`` on the tail,
    - ``(X * X).T @ H = idf**2 * ((C * C).T @ (H / norm**2))``, ``(D * D).T @ H``.

    Weighting is then two scalings of small dense arrays per product instead of a
    weighted copy of every stored count (seconds and hundreds of MB on 50,000 e-mails).
    Build it with :func:`tfidf_products`. The counts are float32 (exact for counts) and so
    are the products.
    """

    def __init__(
        self,
        tfidf: TfidfBlock,
        pieces: list[sp.csr_matrix],
        dense: np.ndarray,
        segments: int = 4,
        hooks: Hooks | None = None,
    ):
        super().__init__(pieces, dense, segments)
        n_features = int(tfidf.n_features_in_)
        self.n_hashed = n_features - int(tfidf.n_dense)
        idf = np.zeros(n_features)
        idf[: self.n_hashed] = np.asarray(tfidf.idf_, dtype=np.float64)
        self.idf = idf
        self.dense = self.raw_dense * np.asarray(tfidf.dense_scale_)
        squares = (idf * idf).astype(np.float32)
        if hooks is not None:
            hooks.check()
        norms = np.sqrt(np.maximum(self._rows(lambda V, a, b: V @ squares), 0.0))
        norms[norms == 0] = 1.0
        self.norms = norms

    def dot(self, W: np.ndarray) -> np.ndarray:
        W = np.asarray(W, dtype=np.float64)
        # One vector at a time: SciPy's kernel for several vectors handles each stored
        # entry in a generic loop, 1.4x slower for three vectors than three passes.
        M = [np.ascontiguousarray(self.idf * W[:, j], dtype=np.float32) for j in range(W.shape[1])]
        out = self._rows(lambda V, a, b: np.column_stack([V @ m for m in M]))
        out = out.reshape(self.shape[0], -1)
        out /= self.norms[:, None]
        out += self.dense @ W[self.n_hashed :]
        return out

    def tdot(self, G: np.ndarray) -> np.ndarray:
        G = np.asarray(G, dtype=np.float64)
        Gs = [
            np.ascontiguousarray(G[:, j] / self.norms, dtype=np.float32) for j in range(G.shape[1])
        ]
        out = self._columns(lambda T, a, b: np.column_stack([T @ g[a:b] for g in Gs]))
        out = out.reshape(self.shape[1], -1)
        out *= self.idf[:, None]
        out[self.n_hashed :] = self.dense.T @ G
        return out

    def tdot_rows(self, rows: np.ndarray, G: np.ndarray) -> np.ndarray:
        """``X[rows].T @ G`` for a few rows (ascending): what changes in the gradient when
        the weights of those rows change."""
        rows = np.asarray(rows, dtype=np.int64)
        G = np.asarray(G, dtype=np.float64).reshape(len(rows), -1)
        out = np.zeros((self.shape[1], G.shape[1]))
        Gs = G / self.norms[rows, None]
        for piece, start in zip(self.pieces, self.piece_starts, strict=True):
            inside = (rows >= start) & (rows < start + piece.shape[0])
            if not inside.any():
                continue
            sub = transposed_view(same_index_dtype(piece[rows[inside] - start]))
            for j in range(G.shape[1]):
                out[:, j] += sub @ np.ascontiguousarray(Gs[inside, j], dtype=np.float32)
        out *= self.idf[:, None]
        out[self.n_hashed :] = self.dense[rows].T @ G
        return out

    def tdot_squared(self, H: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """``(X * X).T @ H``, squaring the counts a chunk of rows at a time."""
        H = np.asarray(H, dtype=np.float64)
        Hs = (H / (self.norms**2)[:, None]).astype(np.float32)

        def part(T: sp.csc_matrix, a: int, b: int) -> np.ndarray:
            out = np.zeros((T.shape[0], Hs.shape[1]))
            for lo in range(0, b - a, chunk):
                hi = min(lo + chunk, b - a)
                s, e = T.indptr[lo], T.indptr[hi]
                block = sp.csc_matrix((T.shape[0], hi - lo), dtype=T.dtype)
                block.data = T.data[s:e] ** 2
                block.indices = T.indices[s:e]
                block.indptr = (T.indptr[lo : hi + 1] - s).astype(T.indices.dtype, copy=False)
                out += np.asarray(block @ Hs[a + lo : a + hi])
            return out

        out = self._columns(part).reshape(self.shape[1], -1)
        out *= (self.idf**2)[:, None]
        out[self.n_hashed :] = (self.dense**2).T @ H
        return out


def tfidf_products(
    sources: list[RowSource],
    n_features: int,
    n_dense: int,
    min_df: int = 2,
    hooks: Hooks | None = None,
) -> tuple[TfidfBlock, TfidfProducts]:
    """Fit ``TfidfBlock(n_dense, min_df)`` on the selected rows of several count matrices
    (stacked in that order, never copied whole) and prepare the fit's products over them.

    Each source's rows are gathered once, block by block, into a float32 matrix (the only
    copy of the counts the fit keeps); the document frequencies and the dense tail are
    read on the way. Returns ``(tfidf, products)``; ``tfidf`` is the same as
    :func:`fit_tfidf_rows` gives.
    """
    n_hashed = n_features - n_dense
    pieces, dense = count_rows(sources, n_features, n_dense, hooks)
    df = np.zeros(n_features, dtype=np.int64)
    for piece in pieces:
        # In blocks: bincount widens int32 indices to int64 first (a copy of them all).
        for a in range(0, piece.nnz, _BLOCK_ENTRIES):
            df += np.bincount(piece.indices[a : a + _BLOCK_ENTRIES], minlength=n_features)
    n_docs = sum(P.shape[0] for P in pieces)
    tfidf = TfidfBlock(n_dense=n_dense, min_df=min_df)
    dfh = df[:n_hashed].astype(np.float64)
    idf = np.log((1.0 + n_docs) / (1.0 + dfh)) + 1.0
    idf[dfh < min_df] = 0.0
    tfidf.idf_ = idf.astype(np.float32)
    peak = np.abs(dense).max(axis=0) if len(dense) else np.zeros(n_dense)
    tfidf.dense_scale_ = (1.0 / np.where(peak > 0, peak, 1.0)).astype(np.float64)
    tfidf.n_features_in_ = n_features
    return tfidf, TfidfProducts(tfidf, pieces, dense, hooks=hooks)


def _gather_rows(
    X: sp.csr_matrix,
    rows: np.ndarray | None,
    n_hashed: int,
    n_dense: int,
    hooks: Hooks | None,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The selected rows of ``X`` (all when None: shared, not copied, if already float32)
    as a float32 CSR matrix whose indptr and indices share one index dtype, and their
    dense tail ``(n_rows, n_dense)``."""
    X = same_index_dtype(X)
    # SciPy's row gather (a C++ loop of row copies) is ~15x faster than a numpy gather
    # through an array of positions -- provided indptr and indices share a dtype.
    piece = X if rows is None else X[np.asarray(rows, dtype=np.int64)]
    if piece.data.dtype != np.float32:
        piece = same_index_dtype(piece.astype(np.float32))
    if hooks is not None:
        hooks.check()
    dense = np.zeros((piece.shape[0], n_dense))
    if n_dense:
        tail = np.flatnonzero(piece.indices >= n_hashed)
        row_of = np.searchsorted(piece.indptr, tail, side="right") - 1
        dense[row_of, piece.indices[tail] - n_hashed] = piece.data[tail]
    return piece, dense


def same_index_dtype(X: sp.csr_matrix) -> sp.csr_matrix:
    """``X`` with indptr in the dtype of its indices (int32 when they fit), sharing its
    data and indices. SciPy converts both to a common dtype -- a copy of every index --
    at each product or row selection otherwise."""
    if X.indptr.dtype == X.indices.dtype:
        return X
    index_dtype = np.int32 if int(X.indptr[-1]) < np.iinfo(np.int32).max else np.int64
    out = sp.csr_matrix(X.shape, dtype=X.dtype)
    out.data = X.data
    out.indices = X.indices.astype(index_dtype, copy=False)
    out.indptr = X.indptr.astype(index_dtype)
    return out


def fit_logistic(
    X: sp.csr_matrix,
    y: np.ndarray,
    *,
    classes: np.ndarray,
    sample_weight: np.ndarray | None = None,
    C: float = 1.0,
    init: LogisticRegression | None = None,
    max_iter: int = 500,
    tol: float = 1e-4,
    max_seconds: float | None = None,
    hooks: Hooks | None = None,
    products: _SplitProducts | None = None,
) -> LogisticRegression:
    """Fit L2 logistic regression (binary, or multinomial for 3+ classes) by L-BFGS.

    Minimises ``sum_i w_i * logloss_i + ||coef||**2 / (2 C)`` (scikit-learn's objective;
    the intercept is not penalised). ``init`` is a fitted model to start from (its
    ``classes_`` must match and its width may be smaller or equal). Stops on convergence,
    ``max_iter`` iterations or ``max_seconds``; raises :class:`Cancelled` if asked.
    ``products`` (from ``split_products(X)``) lets several fits on the same matrix share
    its transposed copy.
    """
    hooks = hooks or Hooks()
    X = sp.csr_matrix(X, dtype=np.float64)
    n, d = X.shape
    classes = np.asarray(classes)
    k = len(classes)
    n_out = 1 if k == 2 else k
    Y = (np.asarray(y)[:, None] == classes[None, :]).astype(np.float64)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if products is None:
        products = _SplitProducts(X)
    theta0 = np.zeros(d * n_out + n_out)
    if init is not None:
        coef = np.asarray(init.coef_, dtype=np.float64)
        width = min(coef.shape[1], d)
        W0 = np.zeros((d, n_out))
        W0[:width] = coef[:, :width].T
        theta0[: d * n_out] = W0.ravel()
        theta0[d * n_out :] = np.asarray(init.intercept_, dtype=np.float64)
    start = time.monotonic()
    evaluations = [0]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        hooks.check()
        evaluations[0] += 1
        W = theta[: d * n_out].reshape(d, n_out)
        b = theta[d * n_out :]
        Z = products.dot(W) + b
        if n_out == 1:
            z = Z[:, 0]
            loss = float(np.sum(sw * (np.logaddexp(0.0, z) - Y[:, 1] * z)))
            G = (sw * (expit(z) - Y[:, 1]))[:, None]
        else:
            L = log_softmax(Z, axis=1)
            loss = -float(np.sum(sw * np.sum(Y * L, axis=1)))
            G = sw[:, None] * (np.exp(L) - Y)
        gW = products.tdot(G) + W / C
        loss += 0.5 * float(np.sum(W * W)) / C
        return loss, np.concatenate((gW.ravel(), G.sum(axis=0)))

    iterations = [0]

    def callback(intermediate_result: object) -> None:
        iterations[0] += 1
        hooks.step(iterations[0], max_iter, "fitting")
        if max_seconds is not None and time.monotonic() - start > max_seconds:
            raise StopIteration

    result = minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        callback=callback,
        options={"maxiter": max_iter, "gtol": tol, "maxcor": 10},
    )
    model = LogisticRegression(C=C, max_iter=max_iter, tol=tol)
    W = result.x[: d * n_out].reshape(d, n_out)
    model.coef_ = np.ascontiguousarray(W.T)
    model.intercept_ = result.x[d * n_out :].copy()
    model.classes_ = classes
    model.n_features_in_ = d
    model.n_iter_ = np.array([int(result.nit)])
    return model


# ------------------------------------------------- preconditioned L-BFGS (retrain)

_BLAS_LOCK = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread while any caller is inside (fits of several tasks run side by side).

    ``threadpool_limits`` sets a process-wide limit and restores what it found on exit: two
    threads nesting it out of order would leave the limit at 1 for good. So the first
    caller in sets the limit and the last one out restores it.
    """
    global _blas_users, _blas_limiter
    with _BLAS_LOCK:
        if _blas_users == 0:
            _blas_limiter = threadpool_limits(1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


@dataclass
class FitInfo:
    """How a fit by :func:`minimize_logistic` went.

    ``stop``: "converged" (relative decrease of the objective below ``ftol``), "max_iter",
    "time" (``max_seconds`` reached) or "no progress" (the line search found no decrease:
    already at the minimum to machine precision).
    """

    iterations: int = 0
    passes: int = 0  # sparse products over X (each X @ P or X.T @ G counts one)
    objective: float = math.nan
    stop: str = ""
    seconds: float = 0.0
    preconditioner: np.ndarray | None = None  # the Hessian diagonal it used (reusable)
    # Where the fit ended, for a fit that continues from there with other weights
    # (``minimize_logistic(start=...)``): scores ``X @ coef.T + intercept`` (n, n_out), the
    # residuals ``w * (p - y)`` (n, n_out) and ``X.T @ residuals`` (d, n_out).
    scores: np.ndarray | None = None
    residuals: np.ndarray | None = None
    data_gradient: np.ndarray | None = None

    @property
    def converged(self) -> bool:
        return self.stop in ("converged", "no progress")


class _Objective:
    """``sum_i w_i * logloss_i(Z_i) + ||W||**2 / (2 C)`` and its derivatives, for scores
    ``Z = X @ W + b`` (binary: one column, multinomial: one per class)."""

    def __init__(self, Y: np.ndarray, sw: np.ndarray, C: float, binary: bool):
        self.Y = Y  # (n, 1) for binary (the positive class), (n, k) one-hot else
        self.sw = sw
        self.C = C
        self.binary = binary

    def data(self, Z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss (without the penalty), residuals ``w * (p - y)`` and the Hessian weights
        ``w * p * (1 - p)`` (the diagonal's), all from the scores."""
        sw = self.sw
        if self.binary:
            z = Z[:, 0]
            y = self.Y[:, 0]
            p = expit(z)
            loss = float(np.sum(sw * (np.logaddexp(0.0, z) - y * z)))
            return loss, (sw * (p - y))[:, None], (sw * p * (1.0 - p))[:, None]
        L = log_softmax(Z, axis=1)
        P = np.exp(L)
        loss = -float(np.sum(sw * np.sum(self.Y * L, axis=1)))
        return loss, sw[:, None] * (P - self.Y), sw[:, None] * P * (1.0 - P)

    def line(
        self, Z: np.ndarray, U: np.ndarray, t: float, wp: float, pp: float
    ) -> tuple[float, float]:
        """First and second derivative in ``t`` of the objective at ``Z + t U`` (``wp`` =
        W.P and ``pp`` = P.P of the weight part of the step, for the penalty)."""
        sw = self.sw
        M = Z + t * U
        if self.binary:
            p = expit(M[:, 0])
            u = U[:, 0]
            d1 = float(np.sum(sw * (p - self.Y[:, 0]) * u))
            d2 = float(np.sum(sw * p * (1.0 - p) * u * u))
        else:
            P = np.exp(log_softmax(M, axis=1))
            mean_u = np.sum(P * U, axis=1)
            d1 = float(np.sum(sw * (mean_u - np.sum(self.Y * U, axis=1))))
            d2 = float(np.sum(sw * (np.sum(P * U * U, axis=1) - mean_u * mean_u)))
        return d1 + (wp + t * pp) / self.C, d2 + pp / self.C


def _line_search(
    obj: _Objective, Z: np.ndarray, U: np.ndarray, wp: float, pp: float, slope0: float
) -> float:
    """Step length along a descent direction: a safeguarded Newton search for a zero of
    the (convex) objective's derivative, stopping at ``|phi'(t)| <= 0.1 |phi'(0)|``
    (strong Wolfe with c2 = 0.1). Only O(n k) work per trial: no sparse product."""
    lo, hi = 0.0, math.inf
    t = 1.0
    for _ in range(20):
        d1, d2 = obj.line(Z, U, t, wp, pp)
        if abs(d1) <= 0.1 * abs(slope0):
            return t
        if d1 > 0:
            hi = t
        else:
            lo = t
        step = t - d1 / d2 if d2 > 0 else math.nan
        if lo < step < hi:
            t = step
        else:
            t = 0.5 * (lo + hi) if hi < math.inf else 2.0 * t
    return t if lo > 0 or hi < math.inf else 0.0


def minimize_logistic(
    products: _SplitProducts,
    y: np.ndarray,
    *,
    classes: np.ndarray,
    sample_weight: np.ndarray,
    C: float,
    coef: np.ndarray | None = None,
    intercept: np.ndarray | None = None,
    max_iter: int = 100,
    ftol: float = 1e-5,
    max_seconds: float | None = None,
    memory: int = 10,
    hooks: Hooks | None = None,
    preconditioner: np.ndarray | None = None,
    start: FitInfo | None = None,
) -> tuple[np.ndarray, np.ndarray, FitInfo]:
    """Minimise the objective of :func:`fit_logistic` from ``coef`` / ``intercept``.

    L-BFGS whose initial inverse Hessian is the inverse of the Hessian's diagonal at the
    start (``(X*X).T @ (w p (1-p)) + 1/C``: TF-IDF columns differ in scale by orders of
    magnitude, and the plain method spends its first iterations learning that), with the
    line search of :func:`_line_search`. Stops when an iteration lowers the objective by
    less than ``ftol`` of its value, after ``max_iter`` iterations or ``max_seconds``;
    polls ``hooks`` before every sparse product (Cancel raises :class:`Cancelled`).
    ``preconditioner``: the ``FitInfo.preconditioner`` of an earlier fit on the same
    matrix, to save the pass that computes it (it need not be exact). ``start``: the
    ``FitInfo`` of an earlier fit on the same products that ended at ``coef`` /
    ``intercept`` (other sample weights allowed): its scores and gradient are reused, so
    the fit starts without a pass over X, only a product over the rows whose weight
    changed (``products.tdot_rows``). ``passes`` counts full passes only.

    Returns ``(coef (n_out, d), intercept (n_out,), FitInfo)``.
    """
    # The vector work on ~260k-long arrays runs one BLAS thread: OpenBLAS's own threads
    # made each dot product 5-50x slower on a busy two-core machine (they spin, waiting
    # for a core), and the sparse products already use both cores.
    with one_blas_thread():
        return _minimize_logistic(
            products,
            y,
            classes=classes,
            sample_weight=sample_weight,
            C=C,
            coef=coef,
            intercept=intercept,
            max_iter=max_iter,
            ftol=ftol,
            max_seconds=max_seconds,
            memory=memory,
            hooks=hooks,
            preconditioner=preconditioner,
            start=start,
        )


def _minimize_logistic(
    products: _SplitProducts,
    y: np.ndarray,
    *,
    classes: np.ndarray,
    sample_weight: np.ndarray,
    C: float,
    coef: np.ndarray | None,
    intercept: np.ndarray | None,
    max_iter: int,
    ftol: float,
    max_seconds: float | None,
    memory: int,
    hooks: Hooks | None,
    preconditioner: np.ndarray | None,
    start: FitInfo | None = None,
) -> tuple[np.ndarray, np.ndarray, FitInfo]:
    hooks = hooks or Hooks()
    started = time.monotonic()
    classes = np.asarray(classes)
    k = len(classes)
    binary = k == 2
    n_out = 1 if binary else k
    d = products.shape[1]
    y = np.asarray(y)
    Y = (y[:, None] == classes[None, :]).astype(np.float64)
    if binary:
        Y = Y[:, 1:2]
    sw = np.asarray(sample_weight, dtype=np.float64)
    obj = _Objective(Y, sw, C, binary)
    W = np.zeros((d, n_out)) if coef is None else np.array(coef, dtype=np.float64).T.copy()
    b = np.zeros(n_out) if intercept is None else np.array(intercept, dtype=np.float64).copy()
    info = FitInfo()

    def product(fn: Any, arg: np.ndarray) -> np.ndarray:
        hooks.check()
        info.passes += 1
        return np.asarray(fn(arg))

    n = len(y)
    resumed = (
        start is not None
        and start.scores is not None
        and start.residuals is not None
        and start.data_gradient is not None
        and start.scores.shape == (n, n_out)
        and start.data_gradient.shape == W.shape
        and hasattr(products, "tdot_rows")
    )
    if resumed:
        assert start is not None and start.residuals is not None
        assert start.scores is not None and start.data_gradient is not None
        Z = start.scores.copy()
        loss, R, H = obj.data(Z)
        delta = R - start.residuals
        changed = np.flatnonzero(np.any(delta != 0, axis=1))
        hooks.check()
        if len(changed) <= n // 2:
            XtR = start.data_gradient + products.tdot_rows(changed, delta[changed])
        else:
            XtR = product(products.tdot, R)
    else:
        Z = product(products.dot, W) + b
        loss, R, H = obj.data(Z)
        XtR = product(products.tdot, R)
    f = loss + 0.5 * float(np.sum(W * W)) / C
    g = np.concatenate((XtR + W / C, R.sum(axis=0)[None, :]))
    # The preconditioner: the Hessian's diagonal at the start (one pass over X squared).
    if preconditioner is not None and preconditioner.shape == g.shape:
        diag = preconditioner
    else:
        hooks.check()
        info.passes += 1
        diag = np.concatenate(
            (products.tdot_squared(H) + 1.0 / C, np.maximum(H.sum(axis=0), 1e-12)[None, :])
        )
    info.preconditioner = diag
    inv_diag = 1.0 / diag
    flat_inv = inv_diag.ravel()
    # The vector work runs on flat views through BLAS in place (ddot, daxpy): on ~800k
    # values a vector, numpy's temporaries cost as much as the arithmetic.
    # pairs: (s, y, 1 / s.y, y.(y * inv_diag)), all flat.
    pairs: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    info.stop = "max_iter"
    for it in range(max_iter):
        # Two-loop recursion with H0 = gamma * diag**-1.
        gf = g.ravel()
        q = gf.copy()
        alphas = []
        for s_, y_, rho, _ in reversed(pairs):
            a = rho * _ddot(s_, q)
            alphas.append(a)
            q = _daxpy(y_, q, a=-a)
        if pairs:
            s_, y_, rho, ydy = pairs[-1]
            np.multiply(q, flat_inv, out=q)
            q *= (1.0 / rho) / ydy
        else:
            np.multiply(q, flat_inv, out=q)
        for (s_, y_, rho, _), a in zip(pairs, reversed(alphas), strict=True):
            q = _daxpy(s_, q, a=a - rho * _ddot(y_, q))
        np.negative(q, out=q)
        p = q.reshape(g.shape)
        slope = _ddot(gf, q)
        if not slope < 0:  # lost descent (numerical): restart from the preconditioned gradient
            pairs.clear()
            p = -g * inv_diag
            slope = float(np.vdot(g, p))
        P, pb = p[:d], p[d]
        U = product(products.dot, P) + pb
        t = _line_search(obj, Z, U, _ddot(W.ravel(), P.ravel()), _ddot(P.ravel(), P.ravel()), slope)
        if t <= 0:
            info.stop = "no progress"
            break
        W.ravel()[:] = _daxpy(P.ravel(), W.ravel(), a=t)
        b += t * pb
        Z += t * U
        loss, R, H = obj.data(Z)
        f_new = loss + 0.5 * _ddot(W.ravel(), W.ravel()) / C
        XtR = product(products.tdot, R)
        g_new = np.empty_like(g)
        np.multiply(W, 1.0 / C, out=g_new[:d])
        g_new[:d] += XtR
        g_new[d] = R.sum(axis=0)
        s_vec = p.ravel() * t
        y_vec = np.subtract(g_new.ravel(), gf)
        sy = _ddot(s_vec, y_vec)
        if sy > 1e-12 * _ddot(y_vec, y_vec):
            pairs.append((s_vec, y_vec, 1.0 / sy, _ddot(y_vec, y_vec * flat_inv)))
            if len(pairs) > memory:
                pairs.pop(0)
        decrease = (f - f_new) / max(abs(f_new), 1.0)
        f, g = f_new, g_new
        info.iterations = it + 1
        hooks.step(it + 1, max_iter, "fitting")
        if decrease < ftol:
            info.stop = "converged"
            break
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            info.stop = "time"
            break
    info.objective = f
    info.scores, info.residuals, info.data_gradient = Z, R, XtR
    info.seconds = time.monotonic() - started
    return np.ascontiguousarray(W.T), b, info


# ------------------------------------------------------------------- scoring


def decision_scores(batch: HashedBatch, tfidf: TfidfBlock, clf: LogisticRegression) -> np.ndarray:
    """``clf.decision_function(tfidf.transform(batch.to_csr()))`` without the sparse matrix.

    Returns ``(n_docs, n_outputs)``: one column for a binary model, one per class else.
    """
    n_hashed = 1 << batch.n_bits
    coef = np.asarray(clf.coef_)
    if coef.shape[1] != batch.n_features:
        raise ValueError(
            f"model expects {coef.shape[1]} features, the batch has {batch.n_features}"
        )
    indptr = batch.indptr
    w = tfidf.idf_[batch.col].astype(np.float64)
    # Occurrence-level L2 norm per message (see TfidfBlock), from a running sum.
    running = np.zeros(len(w) + 1)
    np.cumsum(w * w, out=running[1:])
    norms = np.sqrt(np.maximum(running[indptr[1:]] - running[indptr[:-1]], 0.0))
    norms[norms == 0] = 1.0
    # Unsummed occurrences as a CSR matrix: a sparse product adds repeated columns up.
    occurrences = sp.csr_matrix((w, batch.col, indptr), shape=(batch.n_docs, n_hashed))
    out = np.asarray(occurrences @ _hashed_coef(clf, n_hashed))
    out /= norms[:, None]
    if batch.dense is not None:
        out += (batch.dense * tfidf.dense_scale_) @ coef[:, n_hashed:].T
    out += np.asarray(clf.intercept_)
    return out


_COEF_CACHE: weakref.WeakKeyDictionary[LogisticRegression, tuple[int, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def _hashed_coef(clf: LogisticRegression, n_hashed: int) -> np.ndarray:
    """The hashed part of ``clf.coef_`` as a contiguous float64 (n_hashed, k) array,
    converted once per model (kept beside it, never pickled with it)."""
    hit = _COEF_CACHE.get(clf)
    if hit is not None and hit[0] == id(clf.coef_):
        return hit[1]
    value = np.ascontiguousarray(np.asarray(clf.coef_)[:, :n_hashed].T, dtype=np.float64)
    _COEF_CACHE[clf] = (id(clf.coef_), value)
    return value


def probabilities(scores: np.ndarray) -> np.ndarray:
    """Decision scores -> class probabilities (logistic for one column, softmax else)."""
    if scores.shape[1] == 1:
        p = expit(scores[:, 0])
        return np.column_stack((1.0 - p, p))
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
