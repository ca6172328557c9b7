"""Adapting a model to a project's labels: logistic regression with a prior.

A retrain fits only the project's labelled messages. The L2 penalty pulls the weights
toward the starting model's (a Gaussian prior centred on them) instead of toward zero, so
the shipped training rows need not be refitted: with no labels the starting model comes
back unchanged, with a few it moves a little, with many the labels dominate.

Writing ``W = W0 + D``, the scores are ``X W0 + X D + b``: a fixed offset per message
plus an ordinary penalised logistic regression in ``D``. Only the columns that occur in
the labelled messages can move (elsewhere the gradient is the prior's alone, which keeps
``D = 0``), so the fit runs over those columns only.

The penalty strength ``C`` (larger: the labels weigh more) and, for the three-class
model, intercept offsets that balance the classes' recall are chosen by stratified
K-fold cross-validation over the labels. Each fold's figure uses the ``C`` and offsets
that scored best on the *other* folds, so the reported figure measures the whole recipe,
choice included, on labels its model was not fitted on. The starting model itself is
one of the candidates; when it cross-validates best it is kept as it is.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from guiapp.core.messages import CLASSES
from guiapp.core.models.hashed import HashedTexts
from guiapp.core.models.linear import one_blas_thread
from guiapp.core.models.registry import TrainedModel
from guiapp.core.progress import Hooks

#: Penalty strengths tried, weakest prior last; 0 stands for the starting model unchanged.
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0)
#: The same fit with the prior at zero (the labels alone, on the starting model's
#: features): it wins where the user's view contradicts the starting model's.
SCRATCH_GRID = (10.0, 100.0)
CANDIDATES: tuple[tuple[str, float], ...] = (
    ("start", 0.0),
    *(("prior", C) for C in C_GRID),
    *(("scratch", C) for C in SCRATCH_GRID),
)
#: Prior on the intercept: it may move by a few log-odds (class balance differs between
#: collections) without running away when one class has few labels.
INTERCEPT_C = 10.0
SEED = 0
MAX_ITER = 200
FOLD_MAX_ITER = 60
TOL = 1e-5
#: Cross-validation needs this many labels of at least two classes, and folds at most
#: the smallest class's count.
MIN_FOLD_CLASS = 2
FOLDS_SMALL = 5
FOLDS_LARGE = 3
LARGE = 2000
#: Beyond LARGE, C and the offsets are chosen on a sample of CHOICE_SAMPLE labels.
CHOICE_SAMPLE = 1000
#: Fits of up to KERNEL_MAX distinct labelled messages use the Gram matrix (128 MB).
KERNEL_MAX = 4000
HOLDOUT_SHARE = 0.2
#: Offsets for macro recall are tuned only with this many labels of every class.
OFFSET_MIN_CLASS = 30
OFFSET_GRID = np.round(np.arange(-1.5, 1.5001, 0.1), 2)


@dataclass
class LabelledSet:
    """The project's labelled messages as the starting model sees them: one row per
    distinct (text, label) pair, TF-IDF features restricted to the columns that occur."""

    X: sp.csr_matrix  # (n, m) the starting model's TF-IDF, active columns only
    XT: sp.csr_matrix  # its transpose, for gradients
    offsets: np.ndarray  # (n, k_out) X_full @ W0.T, without intercept
    y: np.ndarray  # (n,) class codes
    weights: np.ndarray  # (n,) how many labelled rows share the pair (x class balance)
    columns: np.ndarray  # (m,) full feature index of each active column
    pair_of_row: np.ndarray  # labelled row -> pair
    parent_columns: np.ndarray | None = None
    """For a :meth:`take`: where each of its columns is among the parent's."""
    K: np.ndarray | None = field(default=None, repr=False)
    """The Gram matrix once :meth:`gram` made it (a :meth:`take` slices its parent's)."""

    def take(self, rows: np.ndarray) -> LabelledSet:
        """The pairs ``rows`` only, over the columns that occur in them."""
        X = self.X[rows]
        used, inverse = np.unique(X.indices, return_inverse=True)
        X = sp.csr_matrix(
            (X.data, inverse.astype(np.int32), X.indptr), shape=(len(rows), len(used))
        )
        return LabelledSet(
            X,
            X.T.tocsr(),
            self.offsets[rows],
            self.y[rows],
            self.weights[rows],
            self.columns[used],
            np.arange(len(rows)),
            used,
            None if self.K is None else self.K[np.ix_(rows, rows)],
        )

    def subset(self, rows: np.ndarray) -> LabelledSet:
        """The pairs ``rows`` only, over the same columns (for a Gram matrix's rows)."""
        X = self.X[rows]
        return LabelledSet(
            X,
            X.T.tocsr(),
            self.offsets[rows],
            self.y[rows],
            self.weights[rows],
            self.columns,
            np.arange(len(rows)),
            self.parent_columns,
            None if self.K is None else self.K[np.ix_(rows, rows)],
        )

    def gram(self) -> np.ndarray:
        """``X X.T`` as a dense (n, n) float64 array (made once; the fits multiply it by
        float64 gradients, and a float32 one was converted on every product)."""
        if self.K is None:
            self.K = np.asarray((self.X @ self.XT).toarray(), dtype=np.float64)
        return self.K

    def delta(self, A: np.ndarray) -> np.ndarray:
        """The weight change ``X.T A`` (m, k_out) of a kernel-form fit."""
        return np.asarray(self.XT @ A)

    def lift(self, part: LabelledSet, fit: FitResult) -> FitResult:
        """A fit on ``part`` (a :meth:`take` of this set) as a start for this set."""
        delta = np.zeros((self.X.shape[1], fit.delta.shape[1]))
        delta[part.parent_columns] = fit.delta
        return FitResult(delta, fit.intercept, fit.iterations, fit.seconds)

    def scores(self, rows: np.ndarray, part: LabelledSet | None, fit: FitResult) -> np.ndarray:
        """Decision scores ``(len(rows), k_out)`` of pairs ``rows`` of this set by a fit on
        ``part`` (a :meth:`take`; None: on this set)."""
        delta = fit.delta if part is None else self.lift(part, fit).delta
        return self.offsets[rows] + np.asarray(self.X[rows] @ delta) + fit.intercept


@dataclass
class FitResult:
    delta: np.ndarray  # (m, k_out)
    intercept: np.ndarray  # (k_out,)
    iterations: int
    seconds: float


@dataclass
class Adaptation:
    """What :func:`adapt` chose and measured.

    ``oof_scores``: per labelled row, its decision score by a model of the whole recipe
    that was not fitted on it (and whose choices were not made on it), the chosen offsets
    applied; NaN where ``assessed`` is False; ``None`` with too few labels to
    cross-validate. ``start_scores``: the starting model's scores
    of the labelled rows. ``C`` is 0 when the starting model was kept.
    """

    model: TrainedModel
    C: float
    offsets: np.ndarray
    kept_start: bool
    oof_scores: np.ndarray | None
    assessed: np.ndarray
    """Per labelled row, whether ``oof_scores`` holds an out-of-sample score for it."""
    start_scores: np.ndarray
    method: str
    note: str = ""
    cv_table: dict[str, float] = field(default_factory=dict)
    iterations: int = 0
    seconds: float = 0.0
    recipe: str = "start"  # "start", "prior" or "scratch" (see CANDIDATES)


def _k_out(task: str) -> int:
    k = len(CLASSES[task])
    return 1 if k == 2 else k


def labelled_set(
    task: str,
    start: TrainedModel,
    features: HashedTexts,
    labels: np.ndarray,
    *,
    balanced: bool,
) -> LabelledSet:
    """The labelled rows (``features`` of those rows, their ``labels``) as a fit's data."""
    k = len(CLASSES[task])
    labels = np.asarray(labels, dtype=np.int64)
    pair_ids, pair_of_row, multiplicity = np.unique(
        features.index * k + labels, return_inverse=True, return_counts=True
    )
    text_of_pair = pair_ids // k
    y = (pair_ids % k).astype(np.int64)
    counts = features.counts[text_of_pair]
    X = sp.csr_matrix(start.pipeline["tfidf"].transform(counts), dtype=np.float64)
    clf = start.pipeline["clf"]
    W0 = np.asarray(clf.coef_, dtype=np.float64)  # (k_out, d)
    offsets = np.asarray(X @ W0.T)
    columns, inverse = np.unique(X.indices, return_inverse=True)
    Xa = sp.csr_matrix(
        (X.data, inverse.astype(np.int32), X.indptr), shape=(X.shape[0], len(columns))
    )
    weights = multiplicity.astype(np.float64)
    if balanced and len(y):
        per_class = np.bincount(y, weights=weights, minlength=k)
        present = per_class > 0
        scale = np.zeros(k)
        scale[present] = weights.sum() / (present.sum() * per_class[present])
        weights = weights * scale[y]
    return LabelledSet(Xa, Xa.T.tocsr(), offsets, y, weights, columns.astype(np.int64), pair_of_row)


def _loss(Z: np.ndarray, data: LabelledSet) -> tuple[float, np.ndarray]:
    """Weighted log-loss of scores ``Z`` (n, k_out) and its gradient in ``Z``."""
    w = data.weights
    if Z.shape[1] == 1:
        z = Z[:, 0]
        y = data.y.astype(np.float64)
        return float(np.sum(w * (np.logaddexp(0.0, z) - y * z))), (w * (expit(z) - y))[:, None]
    Y = np.eye(Z.shape[1])[data.y]
    L = log_softmax(Z, axis=1)
    return -float(np.sum(w * np.sum(Y * L, axis=1))), w[:, None] * (np.exp(L) - Y)


class _Primal:
    """The weight change ``D`` over the active columns, Euclidean metric."""

    def __init__(self, data: LabelledSet):
        self.X, self.XT = data.X, data.XT

    def metric(self, a: np.ndarray) -> np.ndarray:
        return a

    def scores(self, a: np.ndarray, Ma: np.ndarray) -> np.ndarray:
        return np.asarray(self.X @ a)

    def gradient(self, G: np.ndarray, a: np.ndarray, Ma: np.ndarray, C: float):
        g = np.asarray(self.XT @ G) + a / C
        return g, g


class _Kernel:
    """``D = X.T A`` by its coefficients ``A``; ``<X.T u, X.T v> = u.T K v``."""

    def __init__(self, K: np.ndarray):
        self.K = K

    def metric(self, a: np.ndarray) -> np.ndarray:
        return self.K @ a

    def scores(self, a: np.ndarray, Ma: np.ndarray) -> np.ndarray:
        return Ma

    def gradient(self, G: np.ndarray, a: np.ndarray, Ma: np.ndarray, C: float):
        # The gradient in D is X.T (G + A / C): its coefficients, and their K image.
        return G + a / C, self.K @ G + Ma / C


def _lbfgs(
    space: Any,
    data: LabelledSet,
    C: float,
    b0: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    max_iter: int,
    hooks: Hooks,
    memory: int = 10,
) -> tuple[np.ndarray, np.ndarray, int]:
    """L-BFGS on ``loss(offsets + F a + b) + <a, a>/2C + |b - b0|^2 / 2 INTERCEPT_C``,
    where ``space`` gives ``F a`` and the metric of ``a`` (:class:`_Primal` or
    :class:`_Kernel`: the same iterates, represented in the columns or in the labelled
    rows). Every vector is kept with its metric image, so the two-loop recursion and a
    backtracking line search along ``F p`` need no further product. Stops when an
    iteration lowers the objective by less than ``TOL`` of its value."""

    def value(FZ: np.ndarray, a: np.ndarray, Ma: np.ndarray, b: np.ndarray):
        loss, G = _loss(data.offsets + FZ + b, data)
        loss += 0.5 * float(np.sum(a * Ma)) / C + 0.5 * float(np.sum((b - b0) ** 2)) / INTERCEPT_C
        return loss, G

    Ma = space.metric(a)
    FZ = space.scores(a, Ma)
    f, G = value(FZ, a, Ma, b)
    g, Mg = space.gradient(G, a, Ma, C)
    gb = G.sum(axis=0) + (b - b0) / INTERCEPT_C
    history: list[tuple] = []
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        hooks.check()
        q, Mq, qb = g.copy(), Mg.copy(), gb.copy()
        alphas = []
        for _s, Ms, sb, y, My, yb, rho in reversed(history):
            alpha = rho * (float(np.sum(Ms * q)) + float(sb @ qb))
            q -= alpha * y
            Mq -= alpha * My
            qb -= alpha * yb
            alphas.append(alpha)
        if history:
            s, Ms, sb, y, My, yb, rho = history[-1]
            gamma = (1.0 / rho) / (float(np.sum(y * My)) + float(yb @ yb))
        else:
            gamma = 1.0 / max(np.sqrt(float(np.sum(g * Mg)) + float(gb @ gb)), 1e-12)
        r, Mr, rb = gamma * q, gamma * Mq, gamma * qb
        for (s, Ms, sb, _y, My, yb, rho), alpha in zip(history, reversed(alphas), strict=True):
            beta = rho * (float(np.sum(My * r)) + float(yb @ rb))
            r += s * (alpha - beta)
            Mr += Ms * (alpha - beta)
            rb += sb * (alpha - beta)
        p, Mp, pb = -r, -Mr, -rb
        slope = float(np.sum(g * Mp)) + float(gb @ pb)
        if slope >= 0:  # not a descent direction: start the memory afresh
            history.clear()
            p, Mp, pb = -g, -Mg, -gb
            slope = -(float(np.sum(g * Mg)) + float(gb @ gb))
        dF = space.scores(p, Mp)
        t = 1.0
        for _ in range(30):
            f_new, G_new = value(FZ + t * dF, a + t * p, Ma + t * Mp, b + t * pb)
            if f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break  # no decrease along the direction: at the optimum's precision
        a_new, Ma_new, b_new, FZ = a + t * p, Ma + t * Mp, b + t * pb, FZ + t * dF
        g_new, Mg_new = space.gradient(G_new, a_new, Ma_new, C)
        gb_new = G_new.sum(axis=0) + (b_new - b0) / INTERCEPT_C
        s, Ms, sb = t * p, t * Mp, t * pb
        y, My, yb = g_new - g, Mg_new - Mg, gb_new - gb
        sy = float(np.sum(s * My)) + float(sb @ yb)
        if sy > 1e-12:
            history.append((s, Ms, sb, y, My, yb, 1.0 / sy))
            del history[:-memory]
        decrease = f - f_new
        a, Ma, b, f, g, Mg, gb = a_new, Ma_new, b_new, f_new, g_new, Mg_new, gb_new
        if decrease <= TOL * max(abs(f), 1.0):
            break
    return a, b, iteration


def fit_prior(
    data: LabelledSet,
    C: float,
    b0: np.ndarray,
    *,
    start: FitResult | None = None,
    max_iter: int = MAX_ITER,
    hooks: Hooks | None = None,
) -> FitResult:
    """Minimise ``sum_i w_i loss_i + |D|^2 / 2C + |b - b0|^2 / 2 INTERCEPT_C`` over the
    pairs of ``data``, scores ``offsets + X D + b`` (binary: one output; else
    multinomial), over the ``m`` active columns."""
    began = time.perf_counter()
    k_out = data.offsets.shape[1]
    b0 = np.asarray(b0, dtype=np.float64)
    D = np.zeros((data.X.shape[1], k_out)) if start is None else start.delta.copy()
    b = b0.copy() if start is None else start.intercept.copy()
    with one_blas_thread():
        D, b, nit = _lbfgs(_Primal(data), data, C, b0, D, b, max_iter, hooks or Hooks())
    return FitResult(D, b, nit, time.perf_counter() - began)


def fit_kernel(
    data: LabelledSet,
    K: np.ndarray,
    C: float,
    b0: np.ndarray,
    *,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    max_iter: int = MAX_ITER,
    hooks: Hooks | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The fit of :func:`fit_prior` in the span of the labelled rows: the optimum has
    ``D = X.T A`` (the penalty's gradient ``D / C`` must cancel ``X.T G``), so with the
    Gram matrix ``K = X X.T`` the scores are ``offsets + K A + b``: ``n * k_out``
    unknowns instead of ``m * k_out``, far fewer while there are fewer labelled messages
    than feature columns. Returns ``(A, b, iterations)``."""
    n, k_out = data.offsets.shape
    b0 = np.asarray(b0, dtype=np.float64)
    A = np.zeros((n, k_out)) if start is None else start[0].copy()
    b = b0.copy() if start is None else start[1].copy()
    with one_blas_thread():
        return _lbfgs(_Kernel(K), data, C, b0, A, b, max_iter, hooks or Hooks())


def _fit(
    data: LabelledSet, C: float, b0: np.ndarray, hooks: Hooks, start: FitResult | None = None
) -> FitResult:
    """:func:`fit_kernel` while the labelled messages are few enough for a Gram matrix
    (``KERNEL_MAX``), else :func:`fit_prior` (from ``start``)."""
    if len(data.y) <= KERNEL_MAX:
        began = time.perf_counter()
        A, b, nit = fit_kernel(data, data.gram(), C, b0, hooks=hooks)
        return FitResult(data.delta(A), b, nit, time.perf_counter() - began)
    return fit_prior(data, C, b0, start=start, hooks=hooks)


def codes_of(scores: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """Class codes from decision scores ``(n, k_out)`` (plus per-class ``offsets``)."""
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0).astype(np.int64)
    return np.argmax(scores + (0.0 if offsets is None else offsets), axis=1)


def headline(task: str, y: np.ndarray, pred: np.ndarray, weights: np.ndarray) -> float:
    """The figure a candidate is chosen by: accuracy (spam), macro recall (sentiment)."""
    if len(y) == 0:
        return 0.0
    if task == "spam":
        return float(np.sum(weights * (pred == y)) / np.sum(weights))
    k = len(CLASSES[task])
    recalls = []
    for c in range(k):
        mine = y == c
        if mine.any():
            recalls.append(float(np.sum(weights[mine] * (pred[mine] == c)) / weights[mine].sum()))
    return float(np.mean(recalls))


def tune_offsets(
    scores: np.ndarray, y: np.ndarray, weights: np.ndarray, initial: np.ndarray | None = None
) -> np.ndarray:
    """Offsets (negative, 0, positive) that maximise macro recall of ``scores`` (three
    classes): coordinate ascent over ``OFFSET_GRID`` from ``initial`` (default zero),
    moving only for a strict gain."""
    k = scores.shape[1]
    offsets = np.zeros(k) if initial is None else np.asarray(initial, dtype=np.float64).copy()
    if k < 3 or len(y) == 0:
        return offsets
    best = headline("sentiment", y, np.argmax(scores + offsets, axis=1), weights)
    order = np.argsort(np.abs(OFFSET_GRID), kind="stable")  # 0 first: ties stay near zero
    for _ in range(3):
        moved = False
        for c in (0, 2):
            for value in OFFSET_GRID[order]:
                trial = offsets.copy()
                trial[c] = value
                got = headline("sentiment", y, np.argmax(scores + trial, axis=1), weights)
                if got > best + 1e-12:
                    best, offsets, moved = got, trial, True
        if not moved:
            break
    return offsets


def _folds(y: np.ndarray, k: int, n_folds: int) -> list[np.ndarray]:
    counts = np.bincount(y, minlength=k)
    present = counts[counts > 0]
    if len(present) < 2 or int(present.min()) < MIN_FOLD_CLASS:
        return []
    splitter = StratifiedKFold(
        n_splits=int(min(n_folds, present.min())), shuffle=True, random_state=SEED
    )
    return [h for _, h in splitter.split(np.zeros(len(y)), y)]


def _stratified_sample(y: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """At most ``size`` of ``rows``, each class in proportion (seeded)."""
    if len(rows) <= size:
        return rows
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(rows, train_size=size, stratify=y[rows], random_state=SEED)
    return np.sort(keep)


@dataclass
class _Path:
    """Held-out scores of each candidate on each fold (candidate 0: the starting model)."""

    folds: list[np.ndarray]  # pair numbers held out
    scores: list[list[np.ndarray]]  # [candidate][fold] -> (len(fold), k_out)
    iterations: int = 0


def _cross_validate(
    data: LabelledSet,
    rows: np.ndarray,
    k: int,
    n_folds: int,
    b0: np.ndarray,
    start_scores: np.ndarray,
    hooks: Hooks,
) -> _Path | None:
    """Fit every ``C_GRID`` value on each fold of ``rows`` (kernel form, warm along the
    path) and keep each candidate's held-out scores."""
    local = [h for h in _folds(data.y[rows], k, n_folds)]
    if not local:
        return None
    sub = data.take(rows)
    K = sub.gram()
    path = _Path([rows[h] for h in local], [[] for _ in CANDIDATES])
    total = len(local) * (len(CANDIDATES) - 1)
    done = 0
    zero_b = np.zeros_like(b0)
    for held in local:
        fit = np.setdiff1d(np.arange(len(rows)), held)
        part = sub.subset(fit)
        K_fit = K[np.ix_(fit, fit)]
        K_held = K[np.ix_(held, fit)]
        path.scores[0].append(start_scores[rows[held]])
        previous: tuple[np.ndarray, np.ndarray] | None = None
        last = ("start", 1.0)
        for ci, (kind, C) in enumerate(CANDIDATES[1:], start=1):
            scratch = kind == "scratch"
            if previous is not None and kind == last[0]:
                # A ~ -C G: the last solution scaled to the new C starts the next fit
                previous = (previous[0] * (C / last[1]), previous[1])
            else:
                previous = None
            A, b, iterations = fit_kernel(
                _zeroed(part) if scratch else part,
                K_fit,
                C,
                zero_b if scratch else b0,
                start=previous,
                max_iter=FOLD_MAX_ITER,
                hooks=hooks,
            )
            previous, last = (A, b), (kind, C)
            path.iterations += iterations
            offsets = 0.0 if scratch else sub.offsets[held]
            path.scores[ci].append(offsets + K_held @ A + b)
            done += 1
            hooks.step(done, total, "cross-validating")
    return path


def _zeroed(data: LabelledSet) -> LabelledSet:
    """``data`` without the starting model's scores (a fit from scratch)."""
    return dataclasses.replace(data, offsets=np.zeros_like(data.offsets))


def _choose(
    task: str,
    data: LabelledSet,
    path: _Path,
    folds: list[int],
    tune: bool,
    start_offsets: np.ndarray,
) -> tuple[int, np.ndarray, float]:
    """The candidate, its offsets and its mean figure over ``folds`` of ``path``.

    The one-standard-error rule: the first candidate in ``CANDIDATES``' order (the starting
    model, then ever weaker priors, then none) whose mean is within one standard error of
    the best mean -- a few noisy folds do not move the model for a gain they cannot show.
    """
    results = []
    for ci in range(len(path.scores)):
        default = start_offsets if ci == 0 else np.zeros_like(start_offsets)
        if tune:
            scores = np.vstack([path.scores[ci][f] for f in folds])
            rows = np.concatenate([path.folds[f] for f in folds])
            offsets = tune_offsets(scores, data.y[rows], data.weights[rows], initial=default)
        else:
            offsets = default
        values = [
            headline(
                task,
                data.y[path.folds[f]],
                codes_of(path.scores[ci][f], offsets),
                data.weights[path.folds[f]],
            )
            for f in folds
        ]
        results.append((float(np.mean(values)), np.asarray(values), offsets))
    best = max(range(len(results)), key=lambda i: results[i][0])
    spread = results[best][1]
    se = float(np.std(spread, ddof=1) / np.sqrt(len(spread))) if len(spread) > 1 else 0.0
    for ci, (mean, _, offsets) in enumerate(results):
        if mean >= results[best][0] - se - 1e-9:
            return ci, offsets, mean
    return best, results[best][2], results[best][0]  # (not reached: best qualifies)


def out_of_fold(
    task: str, data: LabelledSet, path: _Path, tune: bool, start_offsets: np.ndarray
) -> np.ndarray:
    """Each fold's held-out scores by the candidate (and offsets) chosen on the *other*
    folds: the figure of the whole recipe, its choice included, on labels nothing was
    chosen or fitted on."""
    oof = np.full((len(data.y), data.offsets.shape[1]), np.nan)
    folds = list(range(len(path.folds)))
    for fi, held in enumerate(path.folds):
        ci, offsets, _ = _choose(
            task, data, path, [f for f in folds if f != fi], tune, start_offsets
        )
        oof[held] = path.scores[ci][fi] + offsets
    return oof


def adapt(
    task: str,
    start: TrainedModel,
    features: HashedTexts,
    labels: np.ndarray,
    *,
    hooks: Hooks | None = None,
) -> Adaptation:
    """Adapt ``start`` to the labelled rows (``features`` of those rows, their ``labels``).

    Up to ``LARGE`` distinct labelled messages: K-fold cross-validation chooses ``C`` and
    the offsets, and each fold's out-of-fold figure uses the choice made on the other
    folds. Beyond: a stratified 20% of the labels is held out; ``C`` and the offsets are
    chosen by 3-fold cross-validation on at most ``LARGE`` of the other 80%, a model fitted
    on that 80% is measured on the held-out 20%, and the final model is fitted on all.

    Returns the new model (the starting model itself when it cross-validates best, or when
    there are too few labels to tell), with the out-of-sample scores the report measures.
    """
    hooks = hooks or Hooks()
    began = time.perf_counter()
    k = len(CLASSES[task])
    hooks.step(0, 1000, "preparing the labels")
    data = labelled_set(task, start, features, labels, balanced=task != "spam")
    clf = start.pipeline["clf"]
    b_start = np.asarray(clf.intercept_, dtype=np.float64)
    k_out = data.offsets.shape[1]
    # The starting model's class offsets are part of its intercept: the prior is on the
    # intercept without them, and offsets are chosen afresh.
    hyper = start.card.get("hyperparameters", {}) or {}
    start_offsets = np.asarray(hyper.get("intercept_offsets", np.zeros(k_out)), dtype=np.float64)
    if start_offsets.shape != (k_out,):
        start_offsets = np.zeros(k_out)
    b0 = b_start - start_offsets
    start_scores = data.offsets + b0  # without offsets, as every candidate's
    n = len(data.y)
    if n <= KERNEL_MAX:
        data.gram()  # once: every fold's and fit's Gram matrix is a slice of it
    counts = np.bincount(data.y, minlength=k)
    tune = task != "spam" and int(counts.min()) >= OFFSET_MIN_CLASS
    everything = np.arange(n)
    large = n > LARGE
    assessed = np.zeros(n, dtype=bool)
    oof = np.full((n, k_out), np.nan)
    if large:
        from sklearn.model_selection import train_test_split

        fit_part, held_part = train_test_split(
            everything, test_size=HOLDOUT_SHARE, stratify=data.y, random_state=SEED
        )
        choose_rows = _stratified_sample(data.y, np.sort(fit_part), CHOICE_SAMPLE)
        path = _cross_validate(
            data, choose_rows, k, FOLDS_LARGE, b0, start_scores, hooks.scaled(0.02, 0.4)
        )
    else:
        path = _cross_validate(
            data, everything, k, FOLDS_SMALL, b0, start_scores, hooks.scaled(0.02, 0.8)
        )
    if path is None:
        note = (
            f"Too few labels to cross-validate ({n} distinct labelled messages: "
            + ", ".join(f"{CLASSES[task][c]} {int(counts[c])}" for c in range(k))
            + f"; at least {MIN_FOLD_CLASS} of two classes are needed): the model is unchanged."
        )
        return Adaptation(
            start,
            0.0,
            start_offsets,
            True,
            None,
            assessed[data.pair_of_row],
            (start_scores + start_offsets)[data.pair_of_row],
            "none",
            note,
            seconds=time.perf_counter() - began,
        )
    all_folds = list(range(len(path.folds)))
    ci, offsets, _ = _choose(task, data, path, all_folds, tune, start_offsets)
    kind, C = CANDIDATES[ci]
    scratch = kind == "scratch"
    table = {
        ("start" if k_ == "start" else f"{k_} C={c:g}"): _choose(
            task,
            data,
            _Path(path.folds, [path.scores[i]]),
            all_folds,
            False,
            start_offsets if i == 0 else np.zeros(k_out),
        )[2]
        for i, (k_, c) in enumerate(CANDIDATES)
    }
    iterations = path.iterations
    final: FitResult | None = None
    if large:
        method = (
            f"a stratified {HOLDOUT_SHARE:.0%} hold-out of the project's labels ({len(held_part)} "
            f"of {n} distinct messages; C and offsets chosen by {len(path.folds)}-fold "
            f"cross-validation on {len(choose_rows)} of the others)"
        )
        assessed[held_part] = True
        if ci == 0:
            oof[held_part] = start_scores[held_part] + offsets
        else:
            base = _zeroed(data) if scratch else data
            b_fit = np.zeros_like(b0) if scratch else b0
            part = base.take(np.sort(fit_part))
            fitted = _fit(part, C, b_fit, hooks.scaled(0.4, 0.7))
            iterations += fitted.iterations
            oof[held_part] = base.scores(held_part, part, fitted) + offsets
            final = _fit(base, C, b_fit, hooks.scaled(0.7, 0.98), start=base.lift(part, fitted))
    else:
        method = (
            f"stratified {len(path.folds)}-fold cross-validation over the project's labels "
            f"(each fold scored with the C and offsets chosen on the other folds)"
        )
        oof[:] = out_of_fold(task, data, path, tune, start_offsets)
        assessed[:] = True
        if ci:
            final = _fit(
                _zeroed(data) if scratch else data,
                C,
                np.zeros_like(b0) if scratch else b0,
                hooks.scaled(0.8, 0.98),
            )
    if final is not None:
        iterations += final.iterations
        model = _with_delta(task, start, data.columns, final, offsets, scratch=scratch)
        kept, note = False, ""
    elif np.allclose(offsets, start_offsets):
        model, kept = start, True
        note = "The starting model cross-validated best: it is kept unchanged."
    else:  # the starting weights, with the class offsets re-tuned
        zero = FitResult(np.zeros((0, k_out)), b0.copy(), 0, 0.0)
        model = _with_delta(task, start, np.zeros(0, dtype=np.int64), zero, offsets)
        kept, note = (
            False,
            "The starting weights cross-validated best; only the class offsets changed.",
        )
    return Adaptation(
        model,
        float(C),
        offsets,
        kept,
        oof[data.pair_of_row],
        assessed[data.pair_of_row],
        (start_scores + start_offsets)[data.pair_of_row],
        method,
        note,
        table,
        iterations,
        time.perf_counter() - began,
        kind,
    )


def _with_delta(
    task: str,
    start: TrainedModel,
    columns: np.ndarray,
    fit: FitResult,
    offsets: np.ndarray,
    *,
    scratch: bool = False,
) -> TrainedModel:
    """``start`` with its weights moved by ``fit.delta`` on ``columns`` and the fitted
    intercept (plus ``offsets``); ``scratch``: ``fit.delta`` are the weights themselves."""
    old = start.pipeline["clf"]
    coef = np.array(old.coef_, dtype=np.float64)
    if scratch:
        coef[:] = 0.0
    coef[:, columns] += fit.delta.T
    clf = LogisticRegression(C=float(getattr(old, "C", 1.0)))
    clf.coef_ = coef.astype(np.float32)
    clf.intercept_ = fit.intercept + offsets
    clf.classes_ = np.arange(len(CLASSES[task]))
    clf.n_features_in_ = coef.shape[1]
    clf.n_iter_ = np.array([fit.iterations])
    pipeline = Pipeline(
        [("hash", start.pipeline["hash"]), ("tfidf", start.pipeline["tfidf"]), ("clf", clf)]
    )
    return TrainedModel(task, pipeline, card={})


def summary(adaptation: Adaptation) -> dict[str, Any]:
    """The choices, for the card."""
    return {
        "method": "L2 prior toward the starting model's weights, fitted on the project's labels",
        "recipe": adaptation.recipe,
        "C": adaptation.C,
        "intercept_C": INTERCEPT_C,
        "offsets": [float(v) for v in np.ravel(adaptation.offsets)],
        "kept_start": adaptation.kept_start,
        "chosen_by": adaptation.method,
        "candidates": adaptation.cv_table,
        "iterations": adaptation.iterations,
    }
