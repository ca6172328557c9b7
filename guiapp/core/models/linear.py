"""TF-IDF on hashed counts, the cancellable fit of the shipped build, and fast scoring.

The models are plain scikit-learn pipelines ``TextHasher -> TfidfBlock ->
LogisticRegression`` and ``pipeline.predict_proba(texts)`` works as usual. Done by hand,
for speed and for Cancel:

- :func:`fit_logistic` (the shipped build, training from files) minimises scikit-learn's
  own L2-regularised (multinomial) logistic loss with SciPy's L-BFGS, both sparse products
  split over two threads, and polls ``stop_requested`` at every function evaluation, so
  Cancel lands well within a second. The result is an ordinary fitted
  ``LogisticRegression``. (A retrain adapts a model with :mod:`.adapt` instead.)
- :func:`decision_scores` and :func:`count_scores` apply ``TfidfBlock`` + the linear model
  straight to hashed counts or unsummed n-gram occurrences: several times faster than
  building the TF-IDF matrix, same numbers.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp
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
