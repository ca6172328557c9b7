"""Retraining with user corrections, the registry of versions, rollback, cancel."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_models import FIXTURES, enron_frame, sms_frame, tweet_frame

from guiapp.core import models
from guiapp.core.errors import Cancelled, InputError
from guiapp.core.models.registry import file_sha256
from guiapp.core.paths import shipped_models_dir, user_models_dir


def spam_base() -> pd.DataFrame:
    """A small real training set in the shipped training-data layout."""
    frame = pd.concat([sms_frame().iloc[:150], enron_frame().iloc[:40]], ignore_index=True)
    return frame.assign(
        task="spam", corpus=["sms"] * 150 + ["enron"] * 40, label=frame["user_spam"]
    )


@pytest.fixture(scope="module")
def shipped_spam() -> models.TrainedModel:
    return models.load_current("spam", "shipped")


def shipped_hashes() -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(shipped_models_dir().iterdir()) if p.is_file()}


def test_retrain_honours_corrections(shipped_spam):
    messages = sms_frame().iloc[150:].reset_index(drop=True)
    before = models.predict_proba(shipped_spam, messages)
    # The user says that the 8 messages the model is surest are ham are spam.
    chosen = np.argsort(before)[:8]
    corrections = messages.iloc[chosen].reset_index(drop=True)
    labels = np.ones(len(corrections), dtype=np.int8)
    assert (before[chosen] < 0.5).all()
    model, report = models.retrain(
        "spam",
        corrections,
        labels,
        base_training_data=spam_base(),
        current=shipped_spam,
        collection=messages,
        weight=5.0,
    )
    after = models.predict_proba(model, corrections)
    assert (after >= 0.5).all(), after
    assert report.n_user_labels == 8
    assert report.cv["method"] == "none" and "too few labels" in report.cv["note"]
    assert report.cv["before"]["accuracy"] == 0.0
    assert report.flipped >= 8 and set(chosen) <= set(report.flipped_rows.tolist())
    assert model.card["n_user_labels"] == 8 and model.card["parent"] == shipped_spam.version
    # saved as the active version, loadable through its card
    assert models.active_version("spam") == model.version
    again = models.load_current("spam")
    assert np.allclose(models.predict_proba(again, corrections), after, atol=1e-6)


def confident_mistakes(model: models.TrainedModel, messages: pd.DataFrame, n: int):
    """The ``n`` messages the model is surest are ham, labelled spam, and the ``n`` it is
    surest are spam, labelled ham: corrections that go against everything it learnt."""
    prob = models.predict_proba(model, messages)
    order = np.argsort(prob)
    chosen = np.concatenate([order[:n], order[-n:]])
    labels = np.array([1] * n + [0] * n, dtype=np.int8)
    assert ((prob[chosen] >= 0.5) != (labels == 1)).all()
    return messages.iloc[chosen].reset_index(drop=True), labels


def test_corrected_messages_come_out_corrected(shipped_spam):
    # Held-out real SMS and e-mails; a user weight far too small for one fit to honour the
    # corrections, so the fit must raise their weights round by round until it does.
    messages = pd.concat(
        [sms_frame().iloc[150:], enron_frame().iloc[40:]], ignore_index=True
    ).reset_index(drop=True)
    corrections, labels = confident_mistakes(shipped_spam, messages, 10)
    model, report = models.retrain(
        "spam",
        corrections,
        labels,
        base_training_data=spam_base(),
        current=shipped_spam,
        weight=0.02,
        save=False,
    )
    after = models.predict_proba(model, corrections)
    assert ((after >= 0.5) == (labels == 1)).all(), after
    assert report.unfitted == 0 and report.unfitted_rows.size == 0 and not report.notes
    assert report.fit["correction_rounds"] >= 1
    assert report.fit["largest_weight_factor"] > 1 and report.fit["stop"] == "converged"
    # duplicates of a corrected message count as labelled messages, fitted once
    doubled = pd.concat([corrections, corrections.iloc[:3]], ignore_index=True)
    _, again = models.retrain(
        "spam",
        doubled,
        np.concatenate([labels, labels[:3]]),
        base_training_data=spam_base(),
        current=shipped_spam,
        save=False,
    )
    assert again.n_user_labels == 23 and again.fit["distinct_user_messages"] == 20
    assert again.unfitted == 0 and sum(map(sum, again.confusion)) == 23


def test_sentiment_corrections_come_out_corrected():
    current = models.load_current("sentiment")
    tweets = tweet_frame()
    prob = models.predict_proba(current, tweets)
    sure = np.argsort(-prob.max(axis=1))[:12]
    # each of the 12 tweets the model is surest about gets the next class round
    labels = ((np.argmax(prob[sure], axis=1) + 1) % 3).astype(np.int8)
    corrections = tweets.iloc[sure].reset_index(drop=True)
    base = tweets.iloc[:200].assign(
        task="sentiment", corpus="semeval", label=tweets["user_sentiment"].iloc[:200]
    )
    model, report = models.retrain(
        "sentiment",
        corrections,
        labels,
        base_training_data=base.drop(index=sure, errors="ignore"),
        current=current,
        weight=0.05,
        save=False,
    )
    assert (np.argmax(models.predict_proba(model, corrections), axis=1) == labels).all()
    assert report.unfitted == 0 and report.fit["correction_rounds"] >= 1


def test_corrections_that_cannot_be_fitted_are_reported(shipped_spam):
    messages = sms_frame().iloc[150:].reset_index(drop=True)
    corrections, labels = confident_mistakes(shipped_spam, messages, 4)
    # the same text labelled both ways: no model can honour both
    twin = corrections.iloc[[0]]
    corrections = pd.concat([corrections, twin], ignore_index=True)
    labels = np.concatenate([labels, [1 - labels[0]]]).astype(np.int8)
    model, report = models.retrain(
        "spam",
        corrections,
        labels,
        base_training_data=spam_base(),
        current=shipped_spam,
        save=False,
    )
    assert report.unfitted == 1 and report.unfitted_reasons == {"conflicting labels": 1}
    assert report.unfitted_rows.tolist() in ([0], [8])
    assert "conflicting labels" in report.notes[0] and "1 of the 9" in report.notes[0]
    after = models.predict_proba(model, corrections)
    assert ((after >= 0.5) == (labels == 1))[1:8].all()
    assert model.card["evaluation"]["unfitted"]["count"] == 1


def test_a_fit_stopped_by_the_time_limit_says_so(shipped_spam):
    messages = sms_frame().iloc[150:].reset_index(drop=True)
    corrections, labels = confident_mistakes(shipped_spam, messages, 4)
    _, report = models.retrain(
        "spam",
        corrections,
        labels,
        base_training_data=spam_base(),
        current=shipped_spam,
        weight=0.02,
        max_seconds=0.0,
        save=False,
    )
    assert report.fit["stop"] == "time" and report.fit["correction_rounds"] == 0
    assert report.unfitted > 0 and report.unfitted_reasons == {"time limit": report.unfitted}
    assert any("time limit" in note for note in report.notes)


def test_retrain_report_cross_validates_when_there_are_enough_labels(shipped_spam):
    frame = sms_frame()
    user = frame.iloc[100:].reset_index(drop=True)
    result = models.retrain(
        "spam",
        user,
        base_training_data=spam_base().iloc[:100],
        current=shipped_spam,
        folds=3,
        save=False,
    )
    cv = result.report.cv
    assert cv["method"].startswith("stratified 3-fold")
    # "after" is measured on held-out folds, each fitted on 100 training messages plus two
    # thirds of the labels; the new model itself fits every label it saw.
    assert cv["before"]["accuracy"] >= 0.95 and cv["after"]["accuracy"] >= 0.93
    assert cv["after"]["macro_recall"] >= 0.8
    fitted = models.predict_proba(result.model, user) >= 0.5
    assert (fitted == (user["user_spam"].to_numpy() == 1)).all()
    assert sum(map(sum, result.report.confusion)) == len(user)
    assert set(result.report.per_class) == {"ham", "spam"}
    assert models.active_version("spam") == "shipped"  # save=False


def test_sentiment_retrain_learns_a_corrected_tweet():
    tweets = tweet_frame()
    current = models.load_current("sentiment")
    text = "the new update is sick"
    corrections = pd.DataFrame(
        {"text": [text, "that movie was sick, loved it"], "subject": "", "kind": "tweet"}
    )
    base = tweets.iloc[:200].assign(
        task="sentiment", corpus="semeval", label=tweets["user_sentiment"].iloc[:200]
    )
    model, _ = models.retrain(
        "sentiment",
        corrections,
        np.array([2, 2]),
        base_training_data=base,
        current=current,
        weight=10.0,
        save=False,
    )
    assert np.argmax(models.predict_proba(model, [text]), axis=1)[0] == 2


def test_versions_and_rollback_never_touch_shipped_files(shipped_spam):
    shipped_before = shipped_hashes()
    base = spam_base()
    corrections = sms_frame().iloc[150:160].reset_index(drop=True)
    first, _ = models.retrain("spam", corrections, base_training_data=base, current=shipped_spam)
    second, _ = models.retrain("spam", corrections, base_training_data=base, current=first)
    versions = models.list_versions("spam")
    assert [v.version for v in versions] == [second.version, first.version, shipped_spam.version]
    assert [v.active for v in versions] == [True, False, False]
    assert (user_models_dir() / "spam" / second.version / "spam.card.json").is_file()
    assert models.rollback("spam") == first.version
    assert models.load_current("spam").version == first.version
    assert models.rollback("spam") == "shipped"
    assert models.load_current("spam").version == shipped_spam.version
    models.activate("spam", second.version)
    assert models.load_current("spam").version == second.version
    assert models.rollback("spam", to="shipped") == "shipped"
    info = models.describe_version("spam", first.version)
    assert info is not None and info["sha256"] and Path(info["path"]).is_file()
    assert models.describe_version("spam", "no-such-version") is None
    assert shipped_hashes() == shipped_before


def test_retrain_cancels_and_leaves_no_version(shipped_spam):
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        return calls[0] > 5

    with pytest.raises(Cancelled):
        models.retrain(
            "spam",
            sms_frame().iloc[150:].reset_index(drop=True),
            base_training_data=spam_base(),
            current=shipped_spam,
            stop_requested=stop,
        )
    assert [v.shipped for v in models.list_versions("spam")] == [True]
    assert models.active_version("spam") == "shipped"


def test_train_from_files_writes_a_loadable_model(tmp_path):
    rows = [
        line.rstrip("\n").split("\t", 1) for line in open(FIXTURES / "sms.tsv", encoding="utf-8")
    ]
    path = tmp_path / "sms.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "text"])
        writer.writerows(rows)
    out = tmp_path / "out"
    trained = models.train_from_files(spam_files=[path], out_dir=out)
    loaded = models.load_model(out / "spam.joblib")
    assert loaded.card["command"].startswith("triage train --spam")
    assert loaded.card["training"]["rows"] == 200
    frame = sms_frame()
    assert np.allclose(
        models.predict_proba(loaded, frame), models.predict_proba(trained["spam"], frame)
    )
    with pytest.raises(InputError, match="sentiment label"):
        models.train_from_files(sentiment_files=sms_frame(), out_dir=out)


def test_training_data_ships_with_the_app():
    data = models.load_training_data()
    assert set(data["task"]) == {"spam", "sentiment"}
    assert set(data["corpus"]) == {"sms", "spamassassin", "enron", "semeval", "tweeteval"}
    assert (data["subject"].str.len() + data["text"].str.len()).max() <= 1501
    assert (shipped_models_dir() / "training_data.parquet").stat().st_size < 8_000_000


def test_training_counts_are_cached_in_the_isolated_cache_dir(monkeypatch):
    from guiapp.core import paths
    from guiapp.core.models import hashed, training

    monkeypatch.delenv("TRIAGE_CACHE_DIR", raising=False)
    cache = paths.user_cache_dir()
    assert cache == paths.user_data_dir() / "cache"  # never the real user cache in tests
    data_path = shipped_models_dir() / training.TRAINING_DATA
    frame = models.load_training_data("sentiment").iloc[:500]
    loads = []

    def load():
        loads.append(1)
        return frame

    hasher = training.make_hasher()
    first = hashed.training_counts("sentiment", hasher, data_path, load)
    again = hashed.training_counts("sentiment", hasher, data_path, load)
    assert len(loads) == 1 and (first.counts != again.counts).nnz == 0
    assert np.array_equal(first.labels, frame["label"].to_numpy())
    (stored,) = (cache / "training-counts").glob("sentiment-*")
    stored.write_bytes(b"damaged")  # a damaged cache is rebuilt, not trusted
    rebuilt = hashed.training_counts("sentiment", hasher, data_path, load)
    assert len(loads) == 2 and (first.counts != rebuilt.counts).nnz == 0
    # other hasher parameters, other key: the stale file is replaced
    other = training.make_hasher()
    other.set_params(char_max_chars=100)
    hashed.training_counts("sentiment", other, data_path, load)
    assert len(loads) == 3 and len(list((cache / "training-counts").glob("sentiment-*"))) == 1


def test_training_counts_reuse_texts_hashed_already():
    from guiapp.core.models import hashed, training

    hasher = training.make_hasher()
    frame = models.load_training_data("sentiment").iloc[:300].reset_index(drop=True)
    # a collection holding some of the training texts, in another order, plus others
    collection = pd.concat([frame.iloc[::4], frame.iloc[:5]]).iloc[::-1]
    known = hashed.hash_texts(hasher, collection)
    plain = hashed.counts_of_frame(hasher, frame)
    reused = hashed.counts_of_frame(hasher, frame, known=known)
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(plain.counts, name), getattr(reused.counts, name))
    assert np.array_equal(plain.keys, reused.keys)
    assert np.array_equal(plain.labels, reused.labels)
    other = training.make_hasher()
    other.set_params(char_max_chars=100)  # other features: nothing is taken from ``known``
    assert (hashed.counts_of_frame(other, frame, known=known).counts != plain.counts).nnz > 0
