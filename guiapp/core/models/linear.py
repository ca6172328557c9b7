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
- :func:`decision_scores` applies ``TfidfBlock`` + the linear model straight to the
  unsummed n-gram occurrences of a :class:`~.features.HashedBatch` with ``bincount``,
  without building a sparse matrix: several times faster, same numbers.
"""

from __future__ import annotations

import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, log_softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression

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


# ------------------------------------------------------------------- fitting

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(2, thread_name_prefix="triage-lbfgs")
    return _POOL


class _SplitProducts:
    """``X @ W`` and ``X.T @ G`` with the rows split over two threads (SciPy's sparse
    kernels release the GIL). ``X.T @ G`` is the sum of the halves' products, so no
    transposed copy of ``X`` is made (that copy cost seconds on the spam data)."""

    def __init__(self, X: sp.csr_matrix):
        X = sp.csr_matrix(X)
        n = X.shape[0]
        if n < 2048:
            self.parts = [X]
            self.bounds = [0, n]
        else:
            # Split where half the non-zeros are, not half the rows.
            mid = int(np.searchsorted(X.indptr, X.nnz // 2))
            self.parts = [X[:mid], X[mid:]]
            self.bounds = [0, mid, n]

    def _map(self, fn: Any, items: list[Any]) -> list[Any]:
        if len(items) == 1:
            return [fn(items[0])]
        return list(_pool().map(fn, items))

    def dot(self, W: np.ndarray) -> np.ndarray:
        return np.concatenate(self._map(lambda P: np.asarray(P @ W), self.parts))

    def tdot(self, G: np.ndarray) -> np.ndarray:
        pieces = [
            (P, G[a:b]) for P, a, b in zip(self.parts, self.bounds, self.bounds[1:], strict=False)
        ]
        return sum(self._map(lambda item: np.asarray(item[0].T @ item[1]), pieces))


def split_products(X: sp.csr_matrix) -> _SplitProducts:
    """``X`` prepared for :func:`fit_logistic` (its transpose built once)."""
    return _SplitProducts(sp.csr_matrix(X, dtype=np.float64))


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
