"""Training the models: the shipped build, training from files, retraining with corrections.

Recipe (measured in ``benchmarks/bench_models.py``; figures in the cards):

- one :class:`~.features.TextHasher` for both tasks (2**18 hashed word 1-2-grams and
  character 3-5-grams, negation scope, VADER lexicon scores; e-mails read up to 1,500
  characters, character n-grams from the first 300), so prediction hashes once;
- :class:`~.linear.TfidfBlock` + L2 logistic regression fitted by :func:`~.linear.fit_logistic`;
- spam: one binary model over SMS + SpamAssassin + Enron, each corpus weighted by
  ``(1/size)**0.5`` so the small SMS corpus is not drowned by e-mail (a kind feature was
  not needed); ``C = 30``;
- sentiment: multinomial, classes weighted to balance, ``C = 2`` (best macro recall on the
  2016 dev + devtest files among 0.5, 1, 2); per-class intercept offsets that maximise
  macro recall on 3-fold out-of-fold scores of the training set (never the test file),
  then the final model is trained on every training file.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from guiapp.core import paths
from guiapp.core.errors import InputError, ModelError
from guiapp.core.messages import CLASSES, LABEL_COLUMN
from guiapp.core.models import corpora
from guiapp.core.models.features import TextHasher
from guiapp.core.models.hashed import (
    hash_counts,
)
from guiapp.core.models.linear import (
    TfidfBlock,
    fit_logistic,
    split_products,
)
from guiapp.core.models.predict import (
    classification_metrics,
    model_texts,
    predict_many,
)
from guiapp.core.models.registry import (
    TrainedModel,
    environment,
)
from guiapp.core.progress import Hooks

SEED = 0
HASHER = {
    "n_bits": 18,
    "word_ngrams": (1, 2),
    "char_ngrams": (3, 5),
    "max_chars": 1500,
    "char_max_chars": 300,
    "negation": True,
}
SPAM_C = 30.0
SPAM_CORPUS_POWER = 0.5
SENTIMENT_C = 2.0
SENTIMENT_TUNING_FOLDS = 3
MAX_ITER = 600
TOL = 1e-4
TRAINING_DATA = "training_data.parquet"
BUILD_COMMAND = "triage train   (python -m guiapp train)"
LEXICON_SOURCE = "vaderSentiment 3.3.2, vader_lexicon.txt (C.J. Hutto, MIT licence)"


# ------------------------------------------------------------------- ingredients


def vader_lexicon() -> dict[str, float]:
    """VADER's word -> mean valence table, read from the installed vaderSentiment package."""
    try:
        from importlib import resources

        text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModelError(
            "vaderSentiment",
            f"the VADER lexicon is needed to build models from scratch ({exc}).",
            remedy="pip install vaderSentiment",
        ) from None
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def make_hasher(lexicon: dict[str, float] | None = None) -> TextHasher:
    return TextHasher(**HASHER, lexicon=lexicon if lexicon is not None else vader_lexicon())


def hash_matrix(
    hasher: TextHasher, texts: Sequence[str], hooks: Hooks | None = None, n_jobs: int = 1
) -> sp.csr_matrix:
    """Counts of every text as one sparse matrix (see :func:`.hashed.hash_counts`)."""
    return hash_counts(hasher, texts, hooks, n_jobs=n_jobs)


def spam_weights(corpus: np.ndarray) -> np.ndarray:
    """Each corpus weighs ``(1/size)**0.5``, rescaled to mean 1."""
    names, inverse, counts = np.unique(corpus, return_inverse=True, return_counts=True)
    w = (1.0 / counts[inverse]) ** SPAM_CORPUS_POWER
    return w / w.mean()


def balanced_weights(y: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(y, minlength=k).astype(np.float64)
    return (len(y) / (k * np.maximum(counts, 1)))[y]


def base_weights(task: str, frame: pd.DataFrame) -> np.ndarray:
    y = frame["label"].to_numpy(dtype=np.int64)
    if task == "spam":
        return spam_weights(frame["corpus"].astype(str).to_numpy())
    return balanced_weights(y, len(CLASSES[task]))


def _fit(
    task: str,
    hasher: TextHasher,
    X_counts: sp.csr_matrix,
    y: np.ndarray,
    weights: np.ndarray,
    C: float,
    *,
    init: LogisticRegression | None = None,
    offsets: np.ndarray | None = None,
    max_iter: int = MAX_ITER,
    max_seconds: float | None = None,
    hooks: Hooks | None = None,
    prepared: tuple[TfidfBlock, sp.csr_matrix, Any] | None = None,
) -> Pipeline:
    """Fit TF-IDF + logistic regression; ``prepared`` (from :func:`_prepare`) reuses a
    fitted TF-IDF, the weighted matrix and its transposed copy across several fits."""
    tfidf, weighted, products = (
        prepared if prepared is not None else _prepare(hasher, X_counts, hooks)
    )
    classes = np.arange(len(CLASSES[task]))
    if init is not None and offsets is not None and len(init.intercept_) == len(offsets):
        init = _with_intercept(init, np.asarray(init.intercept_) - offsets)
    clf = fit_logistic(
        weighted,
        y,
        classes=classes,
        sample_weight=weights,
        C=C,
        init=init,
        max_iter=max_iter,
        tol=TOL,
        max_seconds=max_seconds,
        hooks=hooks,
        products=products,
    )
    if offsets is not None:
        clf.intercept_ = clf.intercept_ + offsets
    # float32 halves the file; the scores move by ~1e-7.
    clf.coef_ = clf.coef_.astype(np.float32)
    return Pipeline([("hash", hasher), ("tfidf", tfidf), ("clf", clf)])


def _prepare(
    hasher: TextHasher, X_counts: sp.csr_matrix, hooks: Hooks | None = None
) -> tuple[TfidfBlock, sp.csr_matrix, Any]:
    hooks = hooks or Hooks()
    n_dense = X_counts.shape[1] - (1 << hasher.n_bits)
    tfidf = TfidfBlock(n_dense=n_dense, min_df=2).fit(X_counts)
    hooks.check()
    weighted = tfidf.transform(X_counts)
    hooks.check()
    return tfidf, weighted, split_products(weighted)


def _with_intercept(clf: LogisticRegression, intercept: np.ndarray) -> LogisticRegression:
    copy = LogisticRegression(C=clf.C)
    copy.coef_ = clf.coef_
    copy.intercept_ = intercept
    copy.classes_ = clf.classes_
    copy.n_features_in_ = clf.n_features_in_
    return copy


def _scores(pipeline: Pipeline, X_counts: sp.csr_matrix) -> np.ndarray:
    return np.asarray(pipeline["clf"].decision_function(pipeline["tfidf"].transform(X_counts)))


def _codes_from_scores(scores: np.ndarray) -> np.ndarray:
    """Class codes from decision scores: ``(n,)`` or ``(n, 1)`` binary, ``(n, k)`` else."""
    if scores.ndim == 1:
        return (scores > 0).astype(np.int64)
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0).astype(np.int64)
    return np.argmax(scores, axis=1)


def tune_offsets(
    scores: np.ndarray, y: np.ndarray, step: float = 0.05, span: float = 1.5
) -> np.ndarray:
    """Intercept offsets (negative, 0, positive) that maximise macro recall on (dev) scores."""
    grid = np.arange(-span, span + 1e-9, step)
    best, best_offsets = -1.0, np.zeros(3)
    k = 3
    counts = np.bincount(y, minlength=k).astype(np.float64)
    for a in grid:
        for c in grid:
            pred = np.argmax(scores + np.array([a, 0.0, c]), axis=1)
            hits = np.bincount(y[pred == y], minlength=k)
            value = float(np.mean(hits / np.maximum(counts, 1)))
            if value > best + 1e-12:
                best, best_offsets = value, np.array([a, 0.0, c])
    return best_offsets


# --------------------------------------------------------------- training data


def training_frame_from_corpora(
    data_dir: Path, hooks: Hooks | None = None
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], list[corpora.SourceFile]]:
    """The shipped training data (both tasks) and the held-out test splits, from
    ``shared/data``: SMS / SpamAssassin / Enron 80% splits, SemEval minus the 2016 test."""
    hooks = hooks or Hooks()
    data_dir = Path(data_dir)
    sources: list[corpora.SourceFile] = []
    frames, tests = [], {}
    for step, (name, reader) in enumerate(
        (
            ("sms", corpora.read_sms),
            ("spamassassin", corpora.read_spamassassin),
            ("enron", corpora.read_enron),
        )
    ):
        hooks.step(step, 4, f"reading {name}")
        frame, source = reader(data_dir)
        sources.append(source)
        train, test = corpora.spam_split(frame)
        train.insert(0, "task", "spam")
        frames.append(train)
        tests[f"spam/{name}"] = test
    hooks.step(3, 4, "reading semeval")
    s_train, s_test, s_sources = corpora.semeval_split(data_dir)
    sources += s_sources
    s_train = s_train.drop(columns=["id"])
    s_train.insert(0, "task", "sentiment")
    frames.append(s_train)
    tests["sentiment/semeval2016-test"] = s_test.drop(columns=["id"])
    frame = compact_training_frame(pd.concat(frames, ignore_index=True))
    # Similar texts side by side compress better (7.3 MB instead of 8.1 MB); the fit does
    # not depend on row order.
    frame = frame.sort_values(["task", "corpus", "label", "subject", "text"], kind="stable")
    return frame.reset_index(drop=True), tests, sources


def compact_training_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Texts cut to what the model reads (``HASHER['max_chars']`` of subject + newline +
    text), so the shipped copy is small and retraining from it gives the same features."""
    limit = int(HASHER["max_chars"])
    subject = frame["subject"].fillna("").astype(str).str.slice(0, limit)
    room = (limit - subject.str.len() - (subject.str.len() > 0).astype(int)).clip(lower=0)
    text = [t[:r] for t, r in zip(frame["text"].fillna("").astype(str), room, strict=True)]
    out = pd.DataFrame(
        {
            "task": frame["task"].astype(str),
            "corpus": frame["corpus"].astype(str),
            "kind": frame["kind"].astype(str),
            "subject": subject,
            "text": text,
            "label": frame["label"].astype(np.int8),
        }
    )
    return out.reset_index(drop=True)


def write_training_data(frame: pd.DataFrame, path: Path, sources: list[corpora.SourceFile]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"triage"] = json.dumps(
        {
            "about": "Deduplicated training splits of public corpora, cut to what the models read; "
            "see models/README.md for sources and licences.",
            "sources": [s.as_dict() for s in sources],
        }
    ).encode()
    table = table.replace_schema_metadata(meta)
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=19,
        row_group_size=1 << 20,
        data_page_size=1 << 22,
        use_dictionary=["task", "corpus", "kind"],
    )


def load_training_data(task: str | None = None, path: Path | None = None) -> pd.DataFrame:
    """The shipped training data (``models/training_data.parquet``), one task or both."""
    path = Path(path) if path is not None else paths.shipped_models_dir() / TRAINING_DATA
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ModelError(path, f"the shipped training data cannot be read ({exc}).") from None
    if task is not None:
        frame = frame[frame["task"] == task].reset_index(drop=True)
    return frame


# ------------------------------------------------------------------------- cards


def _card(
    task: str,
    pipeline: Pipeline,
    *,
    version: str,
    description: str,
    training: dict[str, Any],
    hyper: dict[str, Any],
    metrics: dict[str, Any],
    evaluation: dict[str, Any],
    train_seconds: float,
    command: str,
) -> dict[str, Any]:
    hasher = pipeline["hash"]
    params = {k: v for k, v in hasher.get_params().items() if k != "lexicon"}
    return {
        "name": f"triage-{task}",
        "version": version,
        "task": task,
        "classes": list(CLASSES[task]),
        "description": description,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "platform": platform.platform(),
        "command": command,
        "seed": SEED,
        "features": {
            "hasher": params,
            "lexicon": LEXICON_SOURCE if hasher.lexicon else None,
            "lexicon_words": len(hasher.lexicon or {}),
            "tfidf": pipeline["tfidf"].get_params(),
            "used_columns": int(np.count_nonzero(pipeline["tfidf"].idf_)),
        },
        "hyperparameters": hyper,
        "training": training,
        "metrics": metrics,
        "evaluation": evaluation,
        "train_seconds": round(train_seconds, 2),
    }


# ---------------------------------------------------------------- shipped build


def _measure_speed(models: list[TrainedModel], texts: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"messages": len(texts), "what": "tweets + SMS, both models"}
    for jobs in (1, 2):
        predict_many(texts[:4000], models, n_jobs=jobs)  # warm up
        start = time.perf_counter()
        predict_many(texts, models, n_jobs=jobs)
        seconds = time.perf_counter() - start
        out[f"messages_per_second_{jobs}_worker{'s' if jobs > 1 else ''}"] = round(
            len(texts) / seconds
        )
    return out


def speed_sample(tests: dict[str, pd.DataFrame], n: int = 100_000) -> list[str]:
    """``n`` short messages: the SemEval 2016 test tweets and SMS, repeated to length."""
    tweets = tests["sentiment/semeval2016-test"]["text"].tolist()
    sms = tests["spam/sms"]["text"].tolist()
    pool = tweets + sms
    reps = n // len(pool) + 1
    return (pool * reps)[:n]


def build_shipped_models(
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    hooks: Hooks | None = None,
    *,
    measure_speed: bool = True,
) -> dict[str, TrainedModel]:
    """Rebuild ``models/`` from ``shared/data``: training data, both models, their cards.

    Reproducible: fixed splits (seed 0), deterministic L-BFGS; the cards record the corpus
    hashes, the command, the metrics on every development split and the measured speed.
    """
    hooks = hooks or Hooks()
    data_dir = Path(data_dir) if data_dir is not None else paths.shared_data_dir()
    if data_dir is None or not Path(data_dir).is_dir():
        raise InputError(str(data_dir), "the shared corpora folder (shared/data) was not found")
    out_dir = Path(out_dir) if out_dir is not None else paths.shipped_models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    frame, tests, sources = training_frame_from_corpora(data_dir, hooks.scaled(0.0, 0.1))
    write_training_data(frame, out_dir / TRAINING_DATA, sources)
    lexicon = vader_lexicon()
    hasher = make_hasher(lexicon)
    source_info = [s.as_dict() for s in sources]
    models: dict[str, TrainedModel] = {}

    # ---- sentiment
    sub = hooks.scaled(0.1, 0.5)
    start = time.perf_counter()
    s_frame = frame[frame["task"] == "sentiment"].reset_index(drop=True)
    s_y = s_frame["label"].to_numpy(dtype=np.int64)
    X = hash_matrix(hasher, model_texts(s_frame), sub.scaled(0.0, 0.1))
    # Offsets for macro recall from out-of-fold scores over the whole training set: each
    # tweet is scored by a model that did not see it. (Tuning them on the 2016 dev files
    # alone, 4k tweets of one period, gave large offsets that did not carry over.)
    from sklearn.model_selection import StratifiedKFold

    C = SENTIMENT_C
    oof = np.zeros((len(s_y), 3))
    splitter = StratifiedKFold(n_splits=SENTIMENT_TUNING_FOLDS, shuffle=True, random_state=SEED)
    for i, (fit_rows, held) in enumerate(splitter.split(np.zeros(len(s_y)), s_y)):
        fold = _fit(
            "sentiment",
            hasher,
            X[fit_rows],
            s_y[fit_rows],
            balanced_weights(s_y[fit_rows], 3),
            C,
            max_iter=300,
            hooks=sub.scaled(0.1 + 0.2 * i, 0.3 + 0.2 * i),
        )
        oof[held] = _scores(fold, X[held])
    offsets = tune_offsets(oof, s_y)
    tuning = {
        "method": f"{SENTIMENT_TUNING_FOLDS}-fold out-of-fold scores on the training set",
        "oof_macro_recall": classification_metrics("sentiment", s_y, np.argmax(oof, axis=1))[
            "macro_recall"
        ],
        "oof_macro_recall_with_offsets": classification_metrics(
            "sentiment", s_y, np.argmax(oof + offsets, axis=1)
        )["macro_recall"],
        "C_from": "macro recall on the 2016 dev + devtest files over C in (0.5, 1, 2)",
    }
    pipeline = _fit(
        "sentiment",
        hasher,
        X,
        s_y,
        balanced_weights(s_y, 3),
        C,
        offsets=offsets,
        hooks=sub.scaled(0.7, 1.0),
    )
    seconds = time.perf_counter() - start
    model = TrainedModel("sentiment", pipeline)
    test = tests["sentiment/semeval2016-test"]
    (prob,) = predict_many(test, [model])
    evaluation = {
        "sentiment/semeval2016-test": classification_metrics(
            "sentiment", test["label"].to_numpy(), np.argmax(prob, axis=1)
        )
    }
    evaluation["sentiment/semeval2016-test"]["file"] = str(
        corpora.SEMEVAL_DIR / corpora.SEMEVAL_TEST
    )
    headline = evaluation["sentiment/semeval2016-test"]
    model.card = _card(
        "sentiment",
        pipeline,
        version=_shipped_version("sentiment"),
        description="Shipped three-class tweet sentiment model (SemEval 2013-2016 training data).",
        training=_training_info(s_frame, source_info, "semeval"),
        hyper={
            "C": C,
            "class_weight": "balanced",
            "intercept_offsets": [float(v) for v in offsets],
            "tuning": tuning,
            "solver": "L-BFGS (scipy), multinomial",
            "max_iter": MAX_ITER,
            "tol": TOL,
        },
        metrics={
            "accuracy": headline["accuracy"],
            "macro_recall": headline["macro_recall"],
            "split": "sentiment/semeval2016-test",
        },
        evaluation=evaluation,
        train_seconds=seconds,
        command=BUILD_COMMAND,
    )
    models["sentiment"] = model

    # ---- spam
    sub = hooks.scaled(0.5, 0.9)
    start = time.perf_counter()
    p_frame = frame[frame["task"] == "spam"].reset_index(drop=True)
    p_y = p_frame["label"].to_numpy(dtype=np.int64)
    X = hash_matrix(hasher, model_texts(p_frame), sub.scaled(0.0, 0.2))
    pipeline = _fit(
        "spam",
        hasher,
        X,
        p_y,
        spam_weights(p_frame["corpus"].astype(str).to_numpy()),
        SPAM_C,
        hooks=sub.scaled(0.2, 1.0),
    )
    seconds = time.perf_counter() - start
    model = TrainedModel("spam", pipeline)
    evaluation = {}
    pooled_true, pooled_pred = [], []
    for name in ("spam/sms", "spam/spamassassin", "spam/enron"):
        test = tests[name]
        (prob,) = predict_many(test, [model])
        pred = np.argmax(prob, axis=1)
        evaluation[name] = classification_metrics("spam", test["label"].to_numpy(), pred)
        pooled_true.append(test["label"].to_numpy())
        pooled_pred.append(pred)
    pooled = classification_metrics(
        "spam", np.concatenate(pooled_true), np.concatenate(pooled_pred)
    )
    evaluation["spam/all-three-pooled"] = pooled
    model.card = _card(
        "spam",
        pipeline,
        version=_shipped_version("spam"),
        description="Shipped spam model: one model for SMS and e-mail (SMS Spam Collection, "
        "SpamAssassin, Enron-Spam).",
        training=_training_info(p_frame, source_info, None),
        hyper={
            "C": SPAM_C,
            "corpus_weight": f"(1/corpus size)**{SPAM_CORPUS_POWER}, mean 1",
            "solver": "L-BFGS (scipy), binary",
            "max_iter": MAX_ITER,
            "tol": TOL,
            "split": "dedupe exact (subject, text), stratified 20% test, random_state=0, per corpus",
        },
        metrics={
            "accuracy": pooled["accuracy"],
            "macro_recall": pooled["macro_recall"],
            "spam_f1": pooled["spam_f1"],
            "split": "spam/all-three-pooled",
        },
        evaluation=evaluation,
        train_seconds=seconds,
        command=BUILD_COMMAND,
    )
    models["spam"] = model

    if measure_speed:
        hooks.step(950, 1000, "measuring speed")
        speed = _measure_speed([models["spam"], models["sentiment"]], speed_sample(tests))
        for model in models.values():
            model.card["speed"] = speed
    for model in models.values():
        model.card["shipped"] = True
        model.save(out_dir)
    hooks.progress(1000, 1000, "built")
    return models


def _shipped_version(task: str) -> str:
    return f"{task}-shipped-{datetime.now(UTC).strftime('%Y%m%d')}"


def _training_info(
    frame: pd.DataFrame, sources: list[dict[str, Any]], only: str | None
) -> dict[str, Any]:
    per_corpus = {
        str(name): {
            "rows": int(len(g)),
            "labels": {
                CLASSES[str(g["task"].iloc[0])][int(k)]: int(v)
                for k, v in g["label"].value_counts().sort_index().items()
            },
        }
        for name, g in frame.groupby("corpus")
    }
    corpus_files = {
        "sms": "sms_spam_collection",
        "spamassassin": "spamassassin",
        "enron": "enron_spam",
        "semeval": "semeval_sentiment",
    }
    used = {corpus_files[c] for c in per_corpus if c in corpus_files}
    return {
        "rows": int(len(frame)),
        "per_corpus": per_corpus,
        "source_files": [s for s in sources if s["path"].split("/")[0] in used],
        "shipped_copy": f"models/{TRAINING_DATA} (task == '{frame['task'].iloc[0]}')",
        "deduplicated": True,
    }


# ----------------------------------------------------------------- from files


def _frame_with_labels(task: str, messages: pd.DataFrame) -> pd.DataFrame:
    column = LABEL_COLUMN[task]
    if column not in messages.columns:
        raise InputError(
            "training data", f"no {column} column: the messages carry no {task} labels"
        )
    labels = messages[column].to_numpy()
    keep = labels >= 0
    if not keep.any():
        raise InputError("training data", f"none of the messages has a {task} label")
    sub = messages.loc[keep].reset_index(drop=True)
    return pd.DataFrame(
        {
            "task": task,
            "corpus": "user",
            "kind": sub["kind"].astype(str) if "kind" in sub.columns else "text",
            "subject": sub["subject"].fillna("").astype(str) if "subject" in sub.columns else "",
            "text": sub["text"].fillna("").astype(str),
            "label": labels[keep].astype(np.int8),
        }
    )


def train_task(
    task: str,
    messages: pd.DataFrame,
    *,
    hooks: Hooks | None = None,
    command: str = "",
    description: str = "",
) -> TrainedModel:
    """A model of ``task`` trained from scratch on labelled messages (collection frame)."""
    hooks = hooks or Hooks()
    frame = compact_training_frame(_frame_with_labels(task, messages))
    y = frame["label"].to_numpy(dtype=np.int64)
    present = np.unique(y)
    if len(present) < 2:
        raise InputError(
            "training data",
            f"all {task} labels are {CLASSES[task][int(present[0])]!r}: need two classes or more",
        )
    hasher = make_hasher()
    start = time.perf_counter()
    X = hash_matrix(hasher, model_texts(frame), hooks.scaled(0.0, 0.3))
    C = SPAM_C if task == "spam" else 1.0
    pipeline = _fit(
        task, hasher, X, y, balanced_weights(y, len(CLASSES[task])), C, hooks=hooks.scaled(0.3, 1.0)
    )
    seconds = time.perf_counter() - start
    model = TrainedModel(task, pipeline)
    train_metrics = classification_metrics(task, y, _codes_from_scores(_scores(pipeline, X)))
    model.card = _card(
        task,
        pipeline,
        version=f"{task}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}",
        description=description or f"{task} model trained from the user's labelled files",
        training={
            "rows": int(len(frame)),
            "labels": {
                CLASSES[task][int(k)]: int(v)
                for k, v in zip(*np.unique(y, return_counts=True), strict=True)
            },
        },
        hyper={
            "C": C,
            "class_weight": "balanced",
            "solver": "L-BFGS (scipy)",
            "max_iter": MAX_ITER,
            "tol": TOL,
        },
        metrics={
            "accuracy": train_metrics["accuracy"],
            "macro_recall": train_metrics["macro_recall"],
            "split": "training data (no held-out split)",
        },
        evaluation={"training": train_metrics},
        train_seconds=seconds,
        command=command,
    )
    return model


def train_from_files(
    spam_files: Sequence[str | Path] | pd.DataFrame | None = None,
    sentiment_files: Sequence[str | Path] | pd.DataFrame | None = None,
    out_dir: str | Path | None = None,
    hooks: Hooks | None = None,
) -> dict[str, TrainedModel]:
    """``triage train --spam FILES --sentiment FILES --out DIR``.

    Files are read with :func:`guiapp.core.io.load_collection` (their label columns give
    ``user_spam`` / ``user_sentiment``); a DataFrame in the collection schema is accepted
    as is. Each model is written to ``out_dir`` (``<task>.npz`` + card).
    """
    hooks = hooks or Hooks()
    if out_dir is None:
        raise InputError("train", "give --out DIR: the folder the new models are written to")
    jobs = [
        (t, src)
        for t, src in (("spam", spam_files), ("sentiment", sentiment_files))
        if src is not None
    ]
    if not jobs:
        raise InputError("train", "give --spam and/or --sentiment files")
    models: dict[str, TrainedModel] = {}
    for i, (task, source) in enumerate(jobs):
        sub = hooks.scaled(i / len(jobs), (i + 1) / len(jobs))
        if isinstance(source, pd.DataFrame):
            frame = source
            names = ["(data frame)"]
        else:
            from guiapp.core.io import load_collection

            names = [str(p) for p in source]
            frame = load_collection(names).messages
        command = "triage train " + " ".join(f"--{task} {n}" for n in names)
        if out_dir is not None:
            command += f" --out {out_dir}"
        model = train_task(task, frame, hooks=sub, command=command)
        model.card["training"]["files"] = names
        model.save(Path(out_dir))
        models[task] = model
    return models


__all__ = [
    "build_shipped_models",
    "load_training_data",
    "train_from_files",
    "train_task",
    "tune_offsets",
    "vader_lexicon",
]
