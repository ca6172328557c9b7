"""The shipped models: safe loading, sane predictions on held-out real messages, features."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn

from guiapp.core import models
from guiapp.core.errors import Cancelled, ModelError
from guiapp.core.messages import make_frame
from guiapp.core.models.features import TextHasher, normalize
from guiapp.core.models.predict import model_texts
from guiapp.core.paths import shipped_models_dir
from guiapp.core.progress import Hooks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
SENTIMENT = {"negative": 0, "neutral": 1, "positive": 2}


def sms_frame() -> pd.DataFrame:
    rows = [
        line.rstrip("\n").split("\t", 1) for line in open(FIXTURES / "sms.tsv", encoding="utf-8")
    ]
    return make_frame(
        {
            "text": [t for _, t in rows],
            "kind": ["sms"] * len(rows),
            "user_spam": [1 if label == "spam" else 0 for label, _ in rows],
        }
    )


def enron_frame() -> pd.DataFrame:
    raw = pd.read_csv(FIXTURES / "enron.csv", keep_default_na=False)
    return make_frame(
        {
            "subject": raw["subject"],
            "text": raw["text"],
            "kind": ["email"] * len(raw),
            "user_spam": (raw["label"] == "spam").astype(int),
        }
    )


def tweet_frame() -> pd.DataFrame:
    rows = [
        line.rstrip("\n").split("\t", 2) for line in open(FIXTURES / "tweets.tsv", encoding="utf-8")
    ]
    return make_frame(
        {
            "id": [r[0] for r in rows],
            "text": [r[2] for r in rows],
            "kind": ["tweet"] * len(rows),
            "user_sentiment": [SENTIMENT[r[1]] for r in rows],
        }
    )


@pytest.fixture(scope="module")
def shipped() -> dict[str, models.TrainedModel]:
    return {
        task: models.load_model(shipped_models_dir() / f"{task}.joblib")
        for task in ("spam", "sentiment")
    }


def copy_shipped(task: str, folder: Path) -> Path:
    for name in (f"{task}.joblib", f"{task}.card.json"):
        shutil.copy(shipped_models_dir() / name, folder / name)
    return folder / f"{task}.joblib"


# ----------------------------------------------------------------------- loading


def test_shipped_cards_describe_their_files(shipped):
    for task, model in shipped.items():
        card = model.card
        assert card["task"] == task
        assert card["classes"] == list(model.classes)
        assert card["environment"]["scikit_learn"] == sklearn.__version__
        assert card["sha256"] == models.registry.file_sha256(shipped_models_dir() / card["file"])
        assert card["training"]["source_files"], "training corpora with hashes"
        assert all(
            len(s["sha256"]) == 64 and s["rows"] > 0 for s in card["training"]["source_files"]
        )
        assert card["speed"]["messages_per_second_2_workers"] > 0
        assert "triage train" in card["command"]
        assert (shipped_models_dir() / card["file"]).stat().st_size < 8_000_000


def test_shipped_cards_meet_the_acceptance_figures(shipped):
    spam = shipped["spam"].card["evaluation"]
    assert spam["spam/sms"]["accuracy"] >= 0.985 and spam["spam/sms"]["spam_f1"] >= 0.94
    assert spam["spam/spamassassin"]["accuracy"] >= 0.985
    assert spam["spam/enron"]["accuracy"] >= 0.98
    sentiment = shipped["sentiment"].card["evaluation"]["sentiment/semeval2016-test"]
    assert sentiment["n"] == 20632
    assert sentiment["macro_recall"] >= 0.64


def test_tampered_model_file_is_refused_before_unpickling(tmp_path, monkeypatch):
    path = copy_shipped("spam", tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("unpickled a tampered file"))
    with pytest.raises(ModelError, match="SHA-256"):
        models.load_model(path)


def test_card_from_another_sklearn_is_a_clear_model_error(tmp_path, monkeypatch):
    path = copy_shipped("sentiment", tmp_path)
    card_path = tmp_path / "sentiment.card.json"
    card = json.loads(card_path.read_text())
    card["environment"]["scikit_learn"] = "1.4.2"
    card_path.write_text(json.dumps(card))
    # detected from the card, before anything is unpickled
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("unpickled it"))
    with pytest.raises(ModelError) as info:
        models.load_model(path)
    message = str(info.value)
    assert "scikit-learn 1.4.2" in message and sklearn.__version__ in message
    assert "Retrain" in message and str(path) in message
    assert info.value.remedy == "retrain"  # the window offers a Retrain button on this
    # a numpy of another major version cannot read the arrays either
    card["environment"]["scikit_learn"] = sklearn.__version__
    card["environment"]["numpy"] = "1.26.4" if np.__version__.startswith("2.") else "2.1.0"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="made with numpy") as info:
        models.load_model(path)
    assert info.value.remedy == "retrain"


def test_pickle_from_another_sklearn_raises_model_error_not_warning(tmp_path, monkeypatch, shipped):
    # A pickle whose estimators say they were made by another scikit-learn (its card
    # lies about it): scikit-learn's InconsistentVersionWarning becomes a ModelError.
    import sklearn.base

    monkeypatch.setattr(sklearn.base, "__version__", "1.3.0")
    model = models.TrainedModel("spam", shipped["spam"].pipeline, dict(shipped["spam"].card))
    model.save(tmp_path)
    monkeypatch.undo()
    with pytest.raises(ModelError, match="pickled with version 1.3.0") as info:
        models.load_model(tmp_path / "spam.joblib")
    assert info.value.remedy == "retrain"


def test_unknown_pickle_is_refused(tmp_path):
    rogue = tmp_path / "spam.joblib"
    with open(rogue, "wb") as fh:
        pickle.dump({"not": "a model"}, fh)
    with pytest.raises(ModelError, match="card is missing"):
        models.load_model(rogue)
    (tmp_path / "spam.card.json").write_text(json.dumps({"file": "spam.joblib"}))
    with pytest.raises(ModelError, match="not a model card written by Triage"):
        models.load_model(rogue)


def test_a_card_cannot_vouch_for_another_file(tmp_path):
    copy_shipped("spam", tmp_path)
    other = tmp_path / "other.joblib"
    shutil.copy(tmp_path / "spam.joblib", other)
    shutil.copy(tmp_path / "spam.card.json", tmp_path / "other.card.json")
    with pytest.raises(ModelError, match="another file"):
        models.load_model(other)


# ------------------------------------------------------------------- predictions


def test_spam_predictions_on_held_out_sms_and_mail(shipped):
    for frame, floor in ((sms_frame(), 0.96), (enron_frame(), 0.9)):
        prob = models.predict_proba(shipped["spam"], frame)
        assert prob.dtype == np.float32 and prob.shape == (len(frame),)
        assert ((prob >= 0.5) == (frame["user_spam"].to_numpy() == 1)).mean() >= floor


def test_sentiment_predictions_on_held_out_tweets(shipped):
    frame = tweet_frame()
    metrics = models.evaluate(shipped["sentiment"], frame)
    assert metrics["n"] == 300
    assert metrics["macro_recall"] >= 0.55
    assert set(metrics["per_class"]) == {"negative", "neutral", "positive"}
    assert np.asarray(metrics["confusion"]).sum() == 300
    probs = models.predict_proba(
        shipped["sentiment"], ["I love this, best day ever :)", "This is awful, I hate it"]
    )
    assert np.argmax(probs, axis=1).tolist() == [2, 0]
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_predict_both_models_matches_the_sklearn_pipelines(shipped):
    frame = pd.concat(
        [sms_frame().iloc[:80], tweet_frame().iloc[:80], enron_frame().iloc[:20]], ignore_index=True
    )
    both = models.predict(frame, shipped["spam"], shipped["sentiment"], n_jobs=2, batch_size=50)
    texts = model_texts(frame)
    spam_ref = shipped["spam"].pipeline.predict_proba(texts)[:, 1]
    sentiment_ref = shipped["sentiment"].pipeline.predict_proba(texts)
    assert both.spam_prob.shape == (180,) and both.sentiment_prob.shape == (180, 3)
    assert np.allclose(both.spam_prob, spam_ref, atol=1e-5)
    assert np.allclose(both.sentiment_prob, sentiment_ref, atol=1e-5)


def test_prediction_reports_progress_and_cancels(shipped):
    seen = []
    frame = tweet_frame()
    models.predict(
        frame, shipped["spam"], None, Hooks(lambda d, t, s: seen.append(d)), batch_size=50
    )
    assert seen[-1] == len(frame) and len(seen) >= 6
    calls = iter(range(100))
    stop = lambda: next(calls) >= 1  # noqa: E731  (after the first batch)
    with pytest.raises(Cancelled):
        models.predict_proba(shipped["sentiment"], frame, stop_requested=stop)


def test_empty_input_gives_empty_predictions(shipped):
    out = models.predict([], shipped["spam"], shipped["sentiment"])
    assert out.spam_prob.shape == (0,) and out.sentiment_prob.shape == (0, 3)


# ----------------------------------------------------------------------- features


def test_normalisation_makes_enron_style_and_raw_text_alike():
    raw = "I'm going to estimate 4,500 barrels; don't wait! See http://example.com/x"
    enron = (
        "i ' m going to estimate 4 , 500 barrels ; don ' t wait ! see http : / / example . com / x"
    )
    a, b = normalize(raw), normalize(enron)
    assert (
        a.split(" _url_")[0]
        == b.split(" _url_")[0]
        == ("i ' m going to estimate 0 , 000 barrels ; do not wait ! see")
    )
    assert normalize("@bob :) sooooo good <3") == "_user_ _emopos_ soo good _heart_"
    assert normalize("Mail me: a.b@example.org :(") == "mail me : a . b _email_ _emoneg_"


def test_features_do_not_depend_on_the_batch():
    hasher = TextHasher(lexicon={"good": 1.9, "bad": -2.5})
    texts = ["not good at all", "sooo good!!! :)", "", "bad " * 50, "ünïcödé 😀 text"]
    whole = hasher.transform(texts).toarray()
    for i, text in enumerate(texts):
        assert np.array_equal(hasher.transform([text]).toarray()[0], whole[i])
    # negation scope: "good" after "not" is another feature, and its valence is damped
    assert not np.array_equal(
        hasher.transform(["good"]).indices, hasher.transform(["not good"]).indices[:1]
    )
