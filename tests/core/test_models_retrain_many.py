"""Retraining both models at once (models.retrain_many, as session.retrain does) and the
pieces that make it fast: products of the fit straight from the counts, the tasks side by
side, one BLAS thread shared by concurrent fits. Real fixture data, small base sets."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from test_models import enron_frame, sms_frame, tweet_frame

from guiapp.core import models
from guiapp.core.errors import Cancelled
from guiapp.core.messages import make_frame
from guiapp.core.models import hashed, linear, training
from guiapp.core.models.predict import model_texts
from guiapp.core.progress import Hooks


@pytest.fixture(scope="module")
def counts() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    hasher = training.make_hasher()
    mail = pd.concat([sms_frame(), enron_frame()], ignore_index=True)
    a = hashed.hash_counts(hasher, model_texts(mail), dtype=np.float32)
    b = hashed.hash_counts(hasher, model_texts(tweet_frame()), dtype=np.float32)
    return a, b


def test_products_from_counts_equal_those_of_the_weighted_matrix(counts):
    a, b = counts
    rng = np.random.default_rng(0)
    # rows of the second source in any order, some twice (a text labelled two ways)
    rows_a = np.flatnonzero(rng.random(a.shape[0]) < 0.8)
    rows_b = rng.choice(b.shape[0], 2500, replace=True)
    n_features = a.shape[1]
    n_dense = n_features - (1 << training.HASHER["n_bits"])
    tfidf, products = linear.tfidf_products(
        [(a, rows_a), (b, rows_b)], n_features, n_dense, min_df=2
    )
    # the reference: TfidfBlock fitted and applied to the stacked rows
    stacked = sp.vstack([a[rows_a], b[rows_b]]).tocsr().astype(np.float64)
    reference = linear.TfidfBlock(n_dense=n_dense, min_df=2).fit(stacked)
    np.testing.assert_array_equal(tfidf.idf_, reference.idf_)
    np.testing.assert_allclose(tfidf.dense_scale_, reference.dense_scale_)
    X = reference.transform(stacked)
    assert products.shape == X.shape and len(products.segments) > 1
    for k in (1, 3):
        W = rng.normal(size=(n_features, k))
        G = rng.normal(size=(X.shape[0], k))
        H = rng.random((X.shape[0], k))
        for got, want in (
            (products.dot(W), X @ W),
            (products.tdot(G), X.T @ G),
            (products.tdot_squared(H), X.multiply(X).T @ H),
        ):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


def test_split_products_of_the_second_half_are_right(counts):
    # X.T of the second half of a split matrix used to copy it at every product; the
    # transposed views that replace it must give the same sums.
    a, _ = counts
    X = sp.vstack([a] * 8).tocsr()  # 2,080 rows: split in two
    products = linear.split_products(X)
    assert len(products.parts) == 2
    G = np.random.default_rng(1).normal(size=(X.shape[0], 2))
    np.testing.assert_allclose(products.tdot(G), X.T @ G, rtol=1e-5, atol=1e-4)


def collection() -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """SMS, e-mails and tweets with spam labels on the mail and sentiment labels on the
    tweets; on each side the 8 messages the shipped model is surest about are labelled
    the other way (corrections)."""
    sms, mail, tweets = sms_frame().iloc[150:], enron_frame().iloc[40:80], tweet_frame()
    frame = make_frame(
        {
            "text": pd.concat([sms["text"], mail["text"], tweets["text"]]).tolist(),
            "subject": pd.concat([sms["subject"], mail["subject"], tweets["subject"]]).tolist(),
            "kind": pd.concat([sms["kind"], mail["kind"], tweets["kind"]]).tolist(),
        }
    )
    n_mail = len(sms) + len(mail)
    spam = np.full(len(frame), -1, np.int8)
    spam[:n_mail] = np.concatenate([sms["user_spam"], mail["user_spam"]])
    sentiment = np.full(len(frame), -1, np.int8)
    sentiment[n_mail:] = tweets["user_sentiment"].to_numpy()
    labels = {"spam": spam, "sentiment": sentiment}
    corrected = {t: np.zeros(len(frame), bool) for t in labels}
    for task in labels:
        prob = models.predict_proba(models.load_current(task), frame)
        codes = models.predicted_codes(task, prob)
        sure = prob if task == "spam" else prob.max(axis=1)
        labelled = np.flatnonzero(labels[task] >= 0)
        confidence = np.abs(sure[labelled] - 0.5) if task == "spam" else sure[labelled]
        chosen = labelled[np.argsort(-confidence)[:8]]
        k = 2 if task == "spam" else 3
        labels[task][chosen] = (codes[chosen] + 1) % k
        corrected[task][chosen] = True
    return frame, labels, corrected


def base_data() -> pd.DataFrame:
    """A small real training set of both tasks, in the shipped training-data layout."""
    mail = pd.concat([sms_frame().iloc[:150], enron_frame().iloc[:40]], ignore_index=True)
    spam = mail.assign(task="spam", corpus=["sms"] * 150 + ["enron"] * 40, label=mail["user_spam"])
    tweets = tweet_frame().iloc[:150]
    sentiment = tweets.assign(task="sentiment", corpus="semeval", label=tweets["user_sentiment"])
    return pd.concat([spam, sentiment], ignore_index=True)


def test_retrain_many_retrains_both_models_and_predicts_every_row():
    frame, labels, corrected = collection()
    progress: list[tuple[int, int]] = []
    callers: set[int] = set()

    def on_progress(done: int, total: int, text: str = "") -> None:
        progress.append((done, total))
        callers.add(threading.get_ident())

    results, prob = models.retrain_many(
        frame,
        labels,
        corrected=corrected,
        base_training_data=base_data(),
        on_progress=on_progress,
    )
    assert set(results) == {"spam", "sentiment"}
    assert callers == {threading.get_ident()}  # progress only from the calling thread
    assert progress[-1] == (1000, 1000)
    for task, result in results.items():
        model = result.model
        assert models.active_version(task) == model.version  # saved, once all were done
        # the predictions are those of the saved model, for every row
        (again,) = models.predict_many(frame, [models.load_current(task)])
        np.testing.assert_allclose(prob[task], again, atol=1e-5)
        # corrected messages come out with their corrected label
        chosen = np.flatnonzero(corrected[task])
        assert (np.argmax(prob[task][chosen], axis=1) == labels[task][chosen]).all()
        report = result.report
        assert report.n_user_labels == int((labels[task] >= 0).sum())
        assert report.n_corrected == 8 and report.unfitted == 0
        assert report.fit["stop"] == "converged"


def test_retrain_many_cancelled_leaves_no_version_and_no_thread():
    frame, labels, corrected = collection()
    before = set(threading.enumerate())
    seen: list[int] = []

    def stop() -> bool:
        # Past 30% the texts are hashed and the tasks run side by side.
        return bool(seen) and seen[-1] > 300

    with pytest.raises(Cancelled):
        models.retrain_many(
            frame,
            labels,
            corrected=corrected,
            base_training_data=base_data(),
            on_progress=lambda done, total, text="": seen.append(done),
            stop_requested=stop,
        )
    assert max(seen) < 970  # it was cancelled while the tasks ran, not after
    for task in labels:
        assert [v.shipped for v in models.list_versions(task)] == [True]
    assert not [t for t in set(threading.enumerate()) - before if "retrain" in t.name]


def test_side_by_side_stops_the_other_jobs_when_one_fails():
    stopped = threading.Event()

    def fails(hooks: Hooks) -> None:
        hooks.progress(1, 2, "failing")
        raise ValueError("the spam data is broken")

    def waits(hooks: Hooks) -> None:
        try:
            for _ in range(2000):  # at most 20 s; the failure must stop it far sooner
                hooks.check()
                threading.Event().wait(0.01)
        except Cancelled:
            stopped.set()
            raise

    with pytest.raises(ValueError, match="broken"):
        training.side_by_side([waits, fails], Hooks())
    assert stopped.is_set()
    assert training.side_by_side([lambda h: 1, lambda h: 2], Hooks()) == [1, 2]


def test_concurrent_fits_restore_the_blas_threads(monkeypatch):
    # threadpool_limits sets a process-wide limit and restores what it found: fits of two
    # tasks leaving in another order than they came must not leave the limit at 1. (What
    # OpenBLAS reports depends on the thread asking, so the limiter is watched instead.)
    events: list[str] = []

    class Limiter:
        def __init__(self, limits: int, user_api: str):
            assert (limits, user_api) == (1, "blas")
            events.append("limit")

        def restore_original_limits(self) -> None:
            events.append("restore")

    monkeypatch.setattr(linear, "threadpool_limits", Limiter)
    both_in, first_out = threading.Barrier(3), threading.Event()
    second_may_leave = threading.Event()

    def first() -> None:
        with linear.one_blas_thread():
            both_in.wait()
        first_out.set()

    def second() -> None:
        with linear.one_blas_thread():
            both_in.wait()
            second_may_leave.wait()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    try:
        both_in.wait(timeout=10)
        assert first_out.wait(timeout=10)
        assert events == ["limit"]  # the first out leaves the limit to the second
    finally:
        second_may_leave.set()
        for t in threads:
            t.join()
    assert events == ["limit", "restore"]
    with linear.one_blas_thread():
        pass
    assert events == ["limit", "restore", "limit", "restore"]
