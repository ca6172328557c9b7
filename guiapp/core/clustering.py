"""Themes: k-means over the messages that carry no user label.

The pipeline is the classic latent-semantic one, tuned for a million messages on a laptop:

1. text = subject + body, cut to :data:`MAX_CHARS` characters (long emails say what they are
   about early), lower-cased; URLs, e-mail addresses, HTML entities and apostrophes removed;
   tokens are words of two or more characters starting with a letter, so phone numbers,
   prices, years and ordinals never make a theme; English stop words and chat filler dropped;
2. identical prepared texts are processed once and carry their number of copies as a weight
   (real collections repeat themselves: chain SMS, retweets, bulk mail);
3. vocabulary, IDF and a randomized truncated SVD (LSA) are learnt from a sample of at most
   :data:`VOCABULARY_SAMPLE` distinct texts; every message is then mapped through them in
   batches to an L2-normalised float32 vector;
4. k is given, or chosen by the silhouette score of k-means fits on a sample of at most
   :data:`SILHOUETTE_SAMPLE` rows (the whole curve is kept for the window to plot);
5. k-means on the fitted rows: :class:`~sklearn.cluster.KMeans` with a few seeded starts up
   to :data:`MINIBATCH_ABOVE` distinct texts, else a KMeans start on a sample refined by
   :class:`~sklearn.cluster.MiniBatchKMeans` ``partial_fit`` over all of them, so a cancel
   request is honoured between batches;
6. every row of the collection, labelled or not, goes to its nearest centroid; a row with no
   usable word gets :data:`NO_THEME` (-1) rather than an arbitrary theme.

:func:`cluster_messages` returns a :class:`Clustering`; its :meth:`Clustering.assign` puts new
messages in the nearest theme, and :meth:`Clustering.to_json` plus
:meth:`Clustering.state_arrays` store everything as JSON and plain numpy arrays (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.metrics import euclidean_distances, silhouette_score
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

from guiapp.core.extraction import written_array
from guiapp.core.messages import STRING_DTYPE
from guiapp.core.progress import Hooks, ProgressFn, StopFn

__all__ = [
    "NO_THEME",
    "Clustering",
    "ThemeModel",
    "cluster_messages",
    "prepare_texts",
]

NO_THEME = -1
"""Label of a row with no usable word (empty, only numbers, links or stop words)."""

MAX_CHARS = 3000
"""Characters of subject + body kept per message."""
VOCABULARY_SAMPLE = 50_000
"""Distinct texts the vocabulary, IDF and SVD are learnt from."""
MAX_FEATURES = 50_000
"""Largest vocabulary kept (most frequent terms)."""
MINIBATCH_ABOVE = 20_000
"""Above this many distinct fitted texts, k-means runs as mini-batches."""
SILHOUETTE_SAMPLE = 5_000
"""Rows the silhouette curve is computed on when k is "auto"."""
K_MAX = 20
"""Largest k tried when k is "auto"."""
TOP_TERMS = 8
"""Terms kept per theme."""
THREADS: int | None = 1
"""BLAS / OpenMP threads while clustering (None: the libraries' default, one per core).

One, because the app clusters in a worker beside the GUI and other workers: with two
threads on a 2-core machine where another process held a core, spin-waiting threads made a
400-message clustering take 7.8 s instead of 0.2 s, and 100,000 messages 21 s instead of 7 s.
"""

_BATCH = 20_000  # texts vectorised per step (a progress report and a cancel check each)
_MINIBATCH_SIZE = 4096
_MINIBATCH_EPOCHS = 3
_SVD_ITERATIONS = 4
_KMEANS_STARTS = 3
_FORMAT = "triage-clustering"
_FORMAT_VERSION = 1

# A token starts with a letter, so numbers, prices, phone numbers and the ordinals that tweets
# are full of ("1st", "4th") never make a theme; links, addresses and
# HTML entities (the SMS corpus is full of "&lt;#&gt;") go before tokenising. Apostrophes are
# removed so "don't" is one token, caught by the stop list below.
TOKEN_PATTERN = r"(?u)\b[^\W\d_]\w+\b"
_NOISE = r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+|&#?\w+;"
_APOSTROPHES = ("'", "\u2019")
_CHAT_STOP_WORDS = frozenset(
    """
    aint arent cant couldnt didnt doesnt dont hadnt hasnt havent hes id ill im isnt ive lets
    shes shouldnt thats theres theyre theyve wasnt werent weve whats wont wouldnt youll youre
    youve ll ve re don didn doesn isn wasn aren couldn wouldn shouldn
    rt amp quot nbsp gt lt ur just im oh ok okay yeah hey lol got gonna wanna
    """.split()
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | _CHAT_STOP_WORDS


# ----------------------------------------------------------------------------- texts


def prepare_texts(
    messages: pd.DataFrame | pd.Series | Iterable[str] | str, max_chars: int = MAX_CHARS
) -> pa.Array:
    """The text each message is clustered on, as a pyarrow ``large_string`` array.

    A DataFrame contributes ``subject`` + newline + the written part of ``text``
    (:func:`guiapp.core.extraction.written_array`: HTML as text, no quoted replies,
    signatures; either column may be absent); anything else is taken as the
    texts themselves, written part only. The result is cut to ``max_chars``,
    lower-cased, with links, e-mail addresses, HTML entities and apostrophes removed.
    """
    # pyarrow's kernels (RE2 for the regex) do this over a million rows in about a second;
    # pandas' .str methods took 7 s here, Python's re longer still.
    if isinstance(messages, pd.DataFrame):
        n = len(messages)
        subject = _arrow_strings(messages["subject"] if "subject" in messages else [""] * n)
        body = written_array(_arrow_strings(messages["text"] if "text" in messages else [""] * n))
        joined = pc.binary_join_element_wise(subject, body, _NEWLINE)
    elif isinstance(messages, str):
        joined = written_array(_arrow_strings([messages]))
    else:
        joined = written_array(_arrow_strings(messages))
    joined = pc.utf8_lower(pc.utf8_slice_codeunits(joined, 0, max_chars))
    joined = pc.replace_substring_regex(joined, _NOISE, " ")
    for apostrophe in _APOSTROPHES:
        joined = pc.replace_substring(joined, apostrophe, "")
    return joined


_NEWLINE = pa.scalar("\n", pa.large_string())


def _arrow_strings(values: pd.Series | Iterable[object]) -> pa.Array:
    if isinstance(values, pd.Series):
        values = values.astype(STRING_DTYPE)
        array = pa.array(values.array)
    else:
        array = pa.array([None if v is None else str(v) for v in values], pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pc.fill_null(array.cast(pa.large_string()), "")


# ----------------------------------------------------------------------------- the model


@dataclass(eq=False)  # numpy fields: compare explicitly
class ThemeModel:
    """The fitted pieces :meth:`Clustering.assign` needs, all plain arrays.

    Attributes
    ----------
    terms : list of str
        Vocabulary, in column order.
    idf : ndarray of float32, shape (n_terms,)
        Inverse document frequency of each term.
    components : ndarray of float32, shape (n_components, n_terms) or (0, n_terms)
        LSA directions; empty when the vocabulary is too small to need reducing, in which case
        the vectors are the TF-IDF rows themselves.
    centroids : ndarray of float32, shape (k, n_components or n_terms)
        Theme centres in the vector space (k-means centroids of unit vectors).
    max_chars : int
        Characters of each message read.
    """

    terms: list[str]
    idf: np.ndarray
    components: np.ndarray
    centroids: np.ndarray
    max_chars: int = MAX_CHARS
    _vectorizer: CountVectorizer | None = field(default=None, init=False, repr=False)

    @property
    def lsa(self) -> bool:
        return self.components.shape[0] > 0

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (float32) of already prepared texts; a row of zeros when no word."""
        if self._vectorizer is None:
            self._vectorizer = CountVectorizer(
                vocabulary={t: i for i, t in enumerate(self.terms)},
                token_pattern=TOKEN_PATTERN,
                lowercase=False,
                dtype=np.float32,
            )
        counts = self._vectorizer.transform(texts)
        return self._from_counts(counts)

    def _from_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        tfidf = _tfidf(counts, self.idf)
        if not self.lsa:
            return np.asarray(tfidf.toarray(), dtype=np.float32)
        dense = np.asarray(tfidf @ self.components.T, dtype=np.float32)
        return normalize(dense, copy=False)

    def nearest(self, vectors: np.ndarray) -> np.ndarray:
        """Index of the nearest centroid of each vector; :data:`NO_THEME` for zero rows."""
        # argmin |v - c|^2 = argmin |c|^2 - 2 v.c, as KMeans.predict does.
        scores = vectors @ (-2.0 * self.centroids.T)
        scores += np.einsum("ij,ij->i", self.centroids, self.centroids)[None, :]
        labels = np.argmin(scores, axis=1).astype(np.int32)
        labels[~vectors.any(axis=1)] = NO_THEME
        return labels

    def term_weights(self) -> np.ndarray:
        """Centroids mapped back to term space, shape (k, n_terms)."""
        if not self.lsa:
            return self.centroids
        return self.centroids @ self.components


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    # Sublinear tf: a long email repeating a word twenty times is not twenty times about it.
    tfidf = counts.astype(np.float32, copy=True).tocsr()
    np.log1p(tfidf.data, out=tfidf.data)
    tfidf.data *= idf[tfidf.indices]
    return normalize(tfidf, copy=False)


# ----------------------------------------------------------------------------- the result


@dataclass(eq=False)  # numpy fields: compare explicitly
class Clustering:
    """Themes found by :func:`cluster_messages`.

    Attributes
    ----------
    k : int
        Number of themes (0 when there was nothing to cluster).
    labels : ndarray of int32
        Theme of every row of the collection passed in (labelled rows too), in row order;
        :data:`NO_THEME` for rows with no usable word. Themes are numbered by decreasing
        ``sizes_fitted``.
    sizes_fitted : ndarray of int64, shape (k,)
        Rows of each theme among the rows the clustering was fitted on.
    sizes_all : ndarray of int64, shape (k,)
        Rows of each theme among all rows of the collection.
    top_terms : list of list of str
        Up to :data:`TOP_TERMS` terms per theme, strongest first.
    names : list of str
        Short label per theme: its three top terms.
    curve : list of (int, float)
        ``(k, silhouette)`` for each k tried when k was "auto"; empty when k was given.
    seed : int
    fitted_rows : int
        Rows the clustering was fitted on (the masked rows that hold a usable word).
    notes : list of str
        What was done differently from what was asked, and why (k reduced, rows skipped).
    model : ThemeModel or None
        What :meth:`assign` needs; None when k is 0 or when restored without arrays.
    """

    k: int
    labels: np.ndarray
    sizes_fitted: np.ndarray
    sizes_all: np.ndarray
    top_terms: list[list[str]]
    names: list[str]
    curve: list[tuple[int, float]]
    seed: int
    fitted_rows: int
    notes: list[str]
    model: ThemeModel | None = None

    @property
    def unassigned(self) -> int:
        """Rows without a theme (no usable word)."""
        return int(np.count_nonzero(self.labels == NO_THEME))

    def assign(self, messages: pd.DataFrame | pd.Series | Iterable[str] | str) -> np.ndarray:
        """Theme of each new message: the nearest centroid, or :data:`NO_THEME`.

        Parameters
        ----------
        messages : DataFrame, Series, iterable of str, or str
            A collection frame (subject + text are read, as when fitting), or raw texts.

        Returns
        -------
        ndarray of int32, one label per message.
        """
        texts = prepare_texts(
            messages, self.model.max_chars if self.model is not None else MAX_CHARS
        )
        if self.k == 0:
            return np.full(len(texts), NO_THEME, dtype=np.int32)
        if self.model is None:
            raise RuntimeError(
                "this clustering was restored without its arrays; "
                "use Clustering.from_state(json_text, arrays) to assign messages"
            )
        out = np.empty(len(texts), dtype=np.int32)
        with threadpool_limits(THREADS) if THREADS else nullcontext():
            for start in range(0, len(texts), _BATCH):
                chunk = texts.slice(start, _BATCH).to_pylist()
                out[start : start + len(chunk)] = self.model.nearest(self.model.vectors(chunk))
        return out

    # ------------------------------------------------------------------ storage

    def to_json(self) -> str:
        """Metadata as JSON text: k, sizes, terms, names, curve, notes, settings.

        The per-row labels and the fitted model are in :meth:`state_arrays`.
        """
        meta: dict[str, Any] = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "k": self.k,
            "seed": self.seed,
            "fitted_rows": self.fitted_rows,
            "rows": int(len(self.labels)),
            "sizes_fitted": [int(s) for s in self.sizes_fitted],
            "sizes_all": [int(s) for s in self.sizes_all],
            "top_terms": self.top_terms,
            "names": self.names,
            "curve": [[int(k), float(s)] for k, s in self.curve],
            "notes": self.notes,
            "max_chars": self.model.max_chars if self.model is not None else MAX_CHARS,
            "token_pattern": TOKEN_PATTERN,
        }
        return json.dumps(meta, ensure_ascii=False)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Labels and the fitted model as plain numpy arrays (``np.savez`` without pickle).

        Keys: ``labels`` (int32), and when there is a model ``terms`` (UTF-8 bytes of the
        newline-joined vocabulary, uint8), ``idf``, ``components``, ``centroids`` (float32).
        """
        arrays = {"labels": np.asarray(self.labels, dtype=np.int32)}
        if self.model is not None:
            # Terms are \w runs, so a newline never occurs inside one.
            joined = "\n".join(self.model.terms).encode("utf-8")
            arrays["terms"] = np.frombuffer(joined, dtype=np.uint8).copy()
            arrays["idf"] = np.asarray(self.model.idf, dtype=np.float32)
            arrays["components"] = np.asarray(self.model.components, dtype=np.float32)
            arrays["centroids"] = np.asarray(self.model.centroids, dtype=np.float32)
        return arrays

    @classmethod
    def from_json(cls, text: str, arrays: dict[str, np.ndarray] | None = None) -> Clustering:
        """Rebuild from :meth:`to_json` text, and from :meth:`state_arrays` when given.

        Without arrays the result has the themes' metadata but no labels and no model.

        Raises
        ------
        ValueError
            The text is not a clustering of this format, or the arrays do not match it.
        """
        try:
            meta = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"clustering metadata is not JSON: {err}") from err
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError("clustering metadata: not a Triage clustering")
        if meta.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"clustering metadata: format version {meta.get('version')!r}, "
                f"this Triage reads version {_FORMAT_VERSION}"
            )
        k = int(meta["k"])
        labels = np.empty(0, dtype=np.int32)
        model = None
        if arrays is not None:
            if "labels" not in arrays:
                raise ValueError("clustering arrays: missing labels")
            labels = np.asarray(arrays["labels"], dtype=np.int32)
            if len(labels) != int(meta["rows"]):
                raise ValueError(f"clustering arrays: {len(labels)} labels for {meta['rows']} rows")
            if k > 0:
                model = _model_from_arrays(arrays, k, int(meta["max_chars"]))
        if meta.get("token_pattern") != TOKEN_PATTERN:
            raise ValueError("clustering metadata: made with another tokenizer; cluster again")
        return cls(
            k=k,
            labels=labels,
            sizes_fitted=np.asarray(meta["sizes_fitted"], dtype=np.int64),
            sizes_all=np.asarray(meta["sizes_all"], dtype=np.int64),
            top_terms=[list(t) for t in meta["top_terms"]],
            names=list(meta["names"]),
            curve=[(int(a), float(b)) for a, b in meta["curve"]],
            seed=int(meta["seed"]),
            fitted_rows=int(meta["fitted_rows"]),
            notes=list(meta["notes"]),
            model=model,
        )

    @classmethod
    def from_state(cls, text: str, arrays: dict[str, np.ndarray]) -> Clustering:
        """Rebuild a complete clustering (labels and :meth:`assign`) from its stored state."""
        return cls.from_json(text, arrays)


def _model_from_arrays(arrays: dict[str, np.ndarray], k: int, max_chars: int) -> ThemeModel:
    missing = [key for key in ("terms", "idf", "components", "centroids") if key not in arrays]
    if missing:
        raise ValueError(f"clustering arrays: missing {', '.join(missing)}")
    terms_bytes = np.asarray(arrays["terms"], dtype=np.uint8).tobytes()
    terms = terms_bytes.decode("utf-8").split("\n") if terms_bytes else []
    idf = np.asarray(arrays["idf"], dtype=np.float32)
    components = np.asarray(arrays["components"], dtype=np.float32)
    centroids = np.asarray(arrays["centroids"], dtype=np.float32)
    width = components.shape[0] if components.shape[0] else len(terms)
    if (
        idf.shape != (len(terms),)
        or components.ndim != 2
        or components.shape[1] != len(terms)
        or centroids.shape != (k, width)
    ):
        raise ValueError(
            f"clustering arrays: shapes do not agree (terms {len(terms)}, idf {idf.shape}, "
            f"components {components.shape}, centroids {centroids.shape}, k {k})"
        )
    return ThemeModel(terms, idf, components, centroids, max_chars)


# ----------------------------------------------------------------------------- fitting


def cluster_messages(
    messages: pd.DataFrame,
    *,
    k: int | Literal["auto"] = "auto",
    mask: np.ndarray | pd.Series | Sequence[bool] | None = None,
    seed: int = 0,
    n_components: int = 100,
    on_progress: ProgressFn | None = None,
    stop_requested: StopFn | None = None,
) -> Clustering:
    """Group the unlabelled messages into themes, then give every row its nearest theme.

    Parameters
    ----------
    messages : DataFrame
        A collection (see :mod:`guiapp.core.messages`); ``subject`` and ``text`` are read.
    k : int or "auto"
        Number of themes, or "auto" to pick the k in 2..:data:`K_MAX` with the best
        silhouette score on a sample. Reduced (with a note) when there are fewer distinct
        messages than k.
    mask : boolean array, optional
        Rows to fit on. Default: rows with no user label (``user_spam`` and
        ``user_sentiment`` both -1; every row if those columns are absent).
    seed : int
        Same input and seed give the same labels, terms and curve.
    n_components : int
        LSA dimensions (fewer when the vocabulary or the sample is smaller).
    on_progress, stop_requested
        Progress (``done``, ``total`` = 1000, text) and cancel hooks; see
        :mod:`guiapp.core.progress`.

    Returns
    -------
    Clustering

    Raises
    ------
    ValueError
        ``k``, ``mask`` or ``n_components`` is not valid.
    guiapp.core.errors.Cancelled
        ``stop_requested()`` answered True.
    """
    hooks = Hooks(on_progress, stop_requested)
    if k != "auto" and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1):
        raise ValueError(f'k must be a positive whole number or "auto", not {k!r}')
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be a positive whole number, not {n_components!r}")
    n_rows = len(messages)
    fit_mask = _fit_mask(messages, mask)
    notes: list[str] = []
    rng = np.random.default_rng(seed)

    hooks.step(0, 1000, "Preparing texts")
    texts = prepare_texts(messages)
    encoded = pc.dictionary_encode(texts)
    codes = encoded.indices.to_numpy().astype(np.int64)
    # Kept as Arrow: a million Python strings would cost another few hundred MB.
    distinct = encoded.dictionary
    weights = np.bincount(codes[fit_mask], minlength=len(distinct)).astype(np.float64)
    hooks.step(30, 1000, "Learning the vocabulary")

    if not fit_mask.any():
        notes.append("No unlabelled message to cluster: every row carries a user label.")
        return _nothing(n_rows, seed, notes)

    fit_ids = np.flatnonzero(weights)
    with threadpool_limits(THREADS) if THREADS else nullcontext():
        return _fit(
            distinct, codes, weights, fit_ids, fit_mask, k, seed, n_components, rng, notes, hooks
        )


def _fit(
    distinct: pa.Array,
    codes: np.ndarray,
    weights: np.ndarray,
    fit_ids: np.ndarray,
    fit_mask: np.ndarray,
    k: int | Literal["auto"],
    seed: int,
    n_components: int,
    rng: np.random.Generator,
    notes: list[str],
    hooks: Hooks,
) -> Clustering:
    n_rows = len(codes)
    space = _learn_space(distinct, fit_ids, weights, n_components, seed, rng, notes)
    if space is None:
        notes.append("No unlabelled message has a usable word (only numbers, links or stop words).")
        return _nothing(n_rows, seed, notes)
    hooks.step(200, 1000, "Vectorising messages")

    vectors = _vectorise(space, distinct, hooks.scaled(0.2, 0.45))
    has_words = vectors.any(axis=1)
    empty_fitted = int(weights[~has_words].sum())
    fit_ids = fit_ids[has_words[fit_ids]]
    fitted_rows = int(weights[fit_ids].sum())
    if empty_fitted:
        notes.append(
            f"{empty_fitted} unlabelled message(s) have no usable word (only numbers, links, "
            "stop words or words too rare to keep) and get no theme."
        )
    if fitted_rows == 0:
        notes.append("No unlabelled message has a usable word (only numbers, links or stop words).")
        return _nothing(n_rows, seed, notes)

    fit_vectors = vectors[fit_ids]
    fit_weights = weights[fit_ids]
    n_points = _distinct_points(fit_vectors)
    curve: list[tuple[int, float]] = []
    if k == "auto":
        k_final, curve = _choose_k(
            fit_vectors, fit_weights, n_points, seed, rng, notes, hooks.scaled(0.45, 0.7)
        )
    else:
        k_final = int(k)
        if k_final > n_points:
            notes.append(
                f"Asked for {k_final} themes but the unlabelled messages hold only "
                f"{n_points} distinct text(s): using k = {n_points}."
            )
            k_final = n_points

    hooks.step(700, 1000, f"k-means, k = {k_final}")
    centroids = _kmeans(fit_vectors, fit_weights, k_final, seed, rng, hooks.scaled(0.7, 0.95))
    model = ThemeModel(
        space.terms, space.idf, space.components, centroids.astype(np.float32), MAX_CHARS
    )

    hooks.step(950, 1000, "Assigning every message")
    distinct_labels = _order_themes(model, vectors, fit_ids, fit_weights, notes)
    labels = distinct_labels[codes]
    result = _describe(labels, fit_mask, model, seed, fitted_rows, curve, notes)
    hooks.step(1000, 1000, f"{result.k} themes")
    return result


def _fit_mask(messages: pd.DataFrame, mask: object) -> np.ndarray:
    n = len(messages)
    if mask is None:
        out = np.ones(n, dtype=bool)
        for column in ("user_spam", "user_sentiment"):
            if column in messages:
                out &= np.asarray(messages[column], dtype=np.int64) < 0
        return out
    array = np.asarray(mask)
    if array.dtype != np.bool_:
        raise ValueError(f"mask must be booleans, not {array.dtype}")
    if array.shape != (n,):
        raise ValueError(f"mask has shape {array.shape}; the collection has {n} rows")
    return array


def _nothing(n_rows: int, seed: int, notes: list[str]) -> Clustering:
    return Clustering(
        k=0,
        labels=np.full(n_rows, NO_THEME, dtype=np.int32),
        sizes_fitted=np.zeros(0, dtype=np.int64),
        sizes_all=np.zeros(0, dtype=np.int64),
        top_terms=[],
        names=[],
        curve=[],
        seed=seed,
        fitted_rows=0,
        notes=notes,
        model=None,
    )


@dataclass
class _Space:
    terms: list[str]
    idf: np.ndarray
    components: np.ndarray
    sample: np.ndarray | None = None
    """Distinct-text ids the vocabulary was learnt from, sorted; with ``sample_counts``
    (their counts over ``terms``) they need not be tokenised a second time."""
    sample_counts: sp.csr_matrix | None = None


def _learn_space(
    distinct: pa.Array,
    fit_ids: np.ndarray,
    weights: np.ndarray,
    n_components: int,
    seed: int,
    rng: np.random.Generator,
    notes: list[str],
) -> _Space | None:
    """Vocabulary, IDF and LSA directions from a sample of the distinct fitted texts."""
    if len(fit_ids) > VOCABULARY_SAMPLE:
        sample = np.sort(rng.choice(fit_ids, VOCABULARY_SAMPLE, replace=False))
    else:
        sample = fit_ids
    w = weights[sample]
    counter = CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=False, dtype=np.float32)
    try:
        counts = counter.fit_transform(distinct.take(pa.array(sample)).to_pylist()).tocsc()
    except ValueError:  # empty vocabulary: no text holds a token
        return None
    terms = counter.get_feature_names_out()
    # Document and term frequencies count copies: a text sent 500 times weighs 500 rows.
    present = counts.copy()
    present.data[:] = 1.0
    df = np.asarray(present.T @ w).ravel()
    tf = np.asarray(counts.T @ w).ravel()
    n_docs = float(w.sum())
    keep = np.fromiter((t not in STOP_WORDS for t in terms), dtype=bool, count=len(terms))
    if len(sample) >= 1000:
        # Hapaxes are noise to a theme and words in half the messages are not a theme.
        keep &= (df >= 2) & (df <= 0.5 * n_docs)
    columns = np.flatnonzero(keep)
    if len(columns) == 0:
        return None
    if len(columns) > MAX_FEATURES:
        order = np.lexsort((columns, -tf[columns]))  # most frequent first; ties by term
        columns = np.sort(columns[order[:MAX_FEATURES]])
    counts = counts[:, columns].tocsr()
    terms_kept = [str(t) for t in terms[columns]]
    idf = (np.log((1.0 + n_docs) / (1.0 + df[columns])) + 1.0).astype(np.float32)

    n_terms = len(terms_kept)
    rank = min(n_components, len(sample), n_terms)
    if n_terms <= n_components:
        notes.append(
            f"These messages use only {n_terms} distinct word(s), too few to summarise: "
            "the themes are made from the words themselves."
        )
        return _Space(terms_kept, idf, np.zeros((0, n_terms), dtype=np.float32), sample, counts)
    if rank < n_components:
        notes.append(
            f"Only {len(sample)} distinct text(s): the themes are found from a shorter "
            f"summary of their words ({rank} topics instead of {n_components})."
        )
    tfidf = _tfidf(counts, idf)
    # Scaling row i by sqrt(copies) makes the SVD see X^T W X, as if copies were rows.
    tfidf = sp.diags(np.sqrt(w).astype(np.float32)) @ tfidf
    _, _, vt = randomized_svd(
        tfidf, rank, n_iter=_SVD_ITERATIONS, random_state=seed, flip_sign=True
    )
    return _Space(terms_kept, idf, np.ascontiguousarray(vt, dtype=np.float32), sample, counts)


def _vectorise(space: _Space, distinct: pa.Array, hooks: Hooks) -> np.ndarray:
    model = ThemeModel(
        space.terms, space.idf, space.components, np.zeros((0, 0), np.float32), MAX_CHARS
    )
    width = space.components.shape[0] if model.lsa else len(space.terms)
    out = np.empty((len(distinct), width), dtype=np.float32)
    # The texts the vocabulary was learnt from are counted already (the same tokens over
    # the same terms): only the others are tokenised.
    rest = np.ones(len(distinct), dtype=bool)
    if space.sample is not None and space.sample_counts is not None:
        for start in range(0, len(space.sample), _BATCH):
            ids = space.sample[start : start + _BATCH]
            out[ids] = model._from_counts(space.sample_counts[start : start + _BATCH])
        rest[space.sample] = False
    todo = np.flatnonzero(rest)
    total = len(todo)
    for start in range(0, total, _BATCH):
        hooks.step(start, total, f"Vectorising messages {start:,}/{total:,}")
        ids = todo[start : start + _BATCH]
        out[ids] = model.vectors(distinct.take(pa.array(ids)).to_pylist())
    hooks.step(total, total, "Vectorised")
    return out


def _distinct_points(vectors: np.ndarray) -> int:
    """Distinct vectors, counted exactly when few (k-means cannot use more centres)."""
    if len(vectors) > 2000:
        return len(vectors)
    return int(len(np.unique(np.round(vectors, 5), axis=0)))


def _choose_k(
    vectors: np.ndarray,
    weights: np.ndarray,
    n_points: int,
    seed: int,
    rng: np.random.Generator,
    notes: list[str],
    hooks: Hooks,
) -> tuple[int, list[tuple[int, float]]]:
    """The k of best silhouette on a row sample, and the whole curve."""
    if n_points < 3:
        notes.append(
            f"Only {n_points} distinct unlabelled text(s): too few to choose k, "
            f"using k = {n_points}."
        )
        return n_points, []
    total_rows = int(weights.sum())
    if total_rows > SILHOUETTE_SAMPLE:
        # Sample rows, not distinct texts: copies count as they would in the collection.
        rows = rng.choice(total_rows, SILHOUETTE_SAMPLE, replace=False)
        ids = np.searchsorted(np.cumsum(weights), rows, side="right")
        sample = vectors[np.sort(ids)]
    else:
        sample = np.repeat(vectors, weights.astype(np.int64), axis=0)
    sample_points = _distinct_points(sample)
    k_max = min(K_MAX, max(2, n_points // 10), sample_points - 1, len(sample) - 1)
    if k_max < 2:
        notes.append(
            f"Only {sample_points} distinct text(s) in the sample: too few to choose k, "
            "using k = 2."
        )
        return 2, []
    distances = euclidean_distances(sample).astype(np.float32)
    np.fill_diagonal(distances, 0.0)
    curve: list[tuple[int, float]] = []
    candidates = range(2, k_max + 1)
    for i, k in enumerate(candidates):
        hooks.step(i, len(candidates), f"Trying k = {k}")
        labels = KMeans(k, n_init=1, random_state=seed).fit_predict(sample)
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        curve.append((k, round(score, 6)))
    hooks.step(len(candidates), len(candidates), "k chosen")
    if not curve:
        notes.append(
            "How well the messages separate could not be measured for any number of "
            "themes; using 2 themes."
        )
        return 2, []
    best = max(curve, key=lambda point: (point[1], -point[0]))
    return best[0], curve


def _kmeans(
    vectors: np.ndarray,
    weights: np.ndarray,
    k: int,
    seed: int,
    rng: np.random.Generator,
    hooks: Hooks,
) -> np.ndarray:
    """Centroids of weighted k-means on unit vectors."""
    if len(vectors) <= MINIBATCH_ABOVE:
        return _best_of_starts(vectors, weights, k, seed, hooks)
    # Start from full KMeans on a sample, then let mini-batches over everything refine it.
    start_ids = np.sort(rng.choice(len(vectors), MINIBATCH_ABOVE, replace=False))
    init = _best_of_starts(vectors[start_ids], weights[start_ids], k, seed, hooks.scaled(0, 0.3))
    batches = hooks.scaled(0.3, 1.0)
    mbk = MiniBatchKMeans(k, init=init, n_init=1, batch_size=_MINIBATCH_SIZE, random_state=seed)
    n = len(vectors)
    n_batches = -(-n // _MINIBATCH_SIZE)
    total = n_batches * _MINIBATCH_EPOCHS
    done = 0
    previous = init
    for epoch in range(_MINIBATCH_EPOCHS):
        order = rng.permutation(n)
        for b in range(n_batches):
            batches.step(done, total, f"k-means pass {epoch + 1}, batch {b + 1}/{n_batches}")
            ids = order[b * _MINIBATCH_SIZE : (b + 1) * _MINIBATCH_SIZE]
            mbk.partial_fit(vectors[ids], sample_weight=weights[ids])
            done += 1
        shift = float(np.max(np.linalg.norm(mbk.cluster_centers_ - previous, axis=1)))
        previous = mbk.cluster_centers_.copy()
        if shift < 1e-3:
            break
    batches.step(total, total, "k-means done")
    return np.asarray(mbk.cluster_centers_, dtype=np.float32)


def _best_of_starts(
    vectors: np.ndarray, weights: np.ndarray, k: int, seed: int, hooks: Hooks
) -> np.ndarray:
    best: KMeans | None = None
    for i in range(_KMEANS_STARTS):
        hooks.step(i, _KMEANS_STARTS, f"k-means start {i + 1}/{_KMEANS_STARTS}")
        km = KMeans(k, n_init=1, random_state=seed + i).fit(vectors, sample_weight=weights)
        if best is None or km.inertia_ < best.inertia_:
            best = km
    hooks.step(_KMEANS_STARTS, _KMEANS_STARTS, "k-means done")
    assert best is not None
    return np.asarray(best.cluster_centers_, dtype=np.float32)


def _order_themes(
    model: ThemeModel,
    vectors: np.ndarray,
    fit_ids: np.ndarray,
    fit_weights: np.ndarray,
    notes: list[str],
) -> np.ndarray:
    """Number the themes by decreasing fitted size, dropping empty ones; label every text."""
    labels = _nearest_in_batches(model, vectors)
    k = len(model.centroids)
    sizes = np.bincount(labels[fit_ids], weights=fit_weights, minlength=k)
    keep = np.flatnonzero(sizes > 0)
    order = keep[np.argsort(-sizes[keep], kind="stable")]
    model.centroids = np.ascontiguousarray(model.centroids[order])
    if len(keep) < k:
        notes.append(
            f"{k - len(keep)} theme(s) ended up with no unlabelled message and were dropped."
        )
        return _nearest_in_batches(model, vectors)
    remap = np.empty(k + 1, dtype=np.int32)
    remap[order] = np.arange(k, dtype=np.int32)
    remap[-1] = NO_THEME  # index -1 keeps NO_THEME
    return remap[labels]


def _nearest_in_batches(model: ThemeModel, vectors: np.ndarray) -> np.ndarray:
    out = np.empty(len(vectors), dtype=np.int32)
    for start in range(0, len(vectors), 100_000):
        out[start : start + 100_000] = model.nearest(vectors[start : start + 100_000])
    return out


def _describe(
    labels: np.ndarray,
    fit_mask: np.ndarray,
    model: ThemeModel,
    seed: int,
    fitted_rows: int,
    curve: list[tuple[int, float]],
    notes: list[str],
) -> Clustering:
    """Sizes, top terms and names of the themes."""
    k = len(model.centroids)
    top_terms: list[list[str]] = []
    for row in model.term_weights():
        best = np.argsort(-row, kind="stable")[:TOP_TERMS]
        top_terms.append([model.terms[j] for j in best if row[j] > 0])
    names = [", ".join(t[:3]) if t else f"theme {i + 1}" for i, t in enumerate(top_terms)]
    valid = labels >= 0
    return Clustering(
        k=k,
        labels=labels,
        sizes_fitted=np.bincount(labels[fit_mask & valid], minlength=k).astype(np.int64),
        sizes_all=np.bincount(labels[valid], minlength=k).astype(np.int64),
        top_terms=top_terms,
        names=names,
        curve=curve,
        seed=seed,
        fitted_rows=fitted_rows,
        notes=notes,
        model=model,
    )
