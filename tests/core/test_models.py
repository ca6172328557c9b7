"""The shipped models: safe loading, sane predictions on held-out real messages, features."""

from __future__ import annotations

import io
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from guiapp.core import models
from guiapp.core.errors import Cancelled, ModelError
from guiapp.core.messages import make_frame
from guiapp.core.models import serial
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
        task: models.load_model(shipped_models_dir() / f"{task}.npz")
        for task in ("spam", "sentiment")
    }


def copy_shipped(task: str, folder: Path) -> Path:
    for name in (f"{task}.npz", f"{task}.card.json"):
        shutil.copy(shipped_models_dir() / name, folder / name)
    return folder / f"{task}.npz"


# ----------------------------------------------------------------------- loading


def test_shipped_cards_describe_their_files(shipped):
    for task, model in shipped.items():
        card = model.card
        assert card["task"] == task
        assert card["classes"] == list(model.classes)
        assert card["format"] == serial.FORMAT
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


def test_no_model_file_is_a_pickle(shipped):
    # Every shipped model is arrays + JSON; np.load refuses object arrays (pickles).
    for task in shipped:
        data = (shipped_models_dir() / f"{task}.npz").read_bytes()
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            assert all(arrays[name].dtype != object for name in arrays.files)
    assert not list(shipped_models_dir().glob("*.joblib"))
    assert not list(shipped_models_dir().glob("*.pkl"))


def test_a_model_round_trips_exactly_through_its_arrays(shipped):
    texts = ["WINNER!! claim your prize now", "see you at home :)", "worst service ever"]
    for task, model in shipped.items():
        data = serial.pipeline_bytes(model.pipeline)
        again = serial.pipeline_from_bytes(task, data, "test")
        assert np.array_equal(model.pipeline.predict_proba(texts), again.predict_proba(texts))


def test_tampered_model_file_is_refused(tmp_path):
    path = copy_shipped("spam", tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256") as info:
        models.load_model(path)
    assert info.value.remedy == "retrain"


def _crafted(task: str, shipped, change) -> bytes:
    """The shipped model's arrays with one value changed by ``change(spec, arrays)``."""
    data = serial.pipeline_bytes(shipped[task].pipeline)
    with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
        arrays = {name: loaded[name] for name in loaded.files}
    spec = json.loads(arrays["spec"].tobytes())
    change(spec, arrays)
    arrays["spec"] = np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda s, a: s["hasher"].__setitem__("n_bits", "abc"), "n_bits"),
        (lambda s, a: s["hasher"].__setitem__("n_bits", -1), "n_bits"),
        (lambda s, a: s["hasher"].__setitem__("n_bits", 10**15), "n_bits"),
        (lambda s, a: s["hasher"].__setitem__("word_ngrams", [3, 1]), "word_ngrams"),
        (lambda s, a: s["hasher"].__setitem__("max_chars", True), "max_chars"),
        (lambda s, a: s.__setitem__("lexicon_words", {"good": 1}), "lexicon"),
        (lambda s, a: s["lexicon_words"].append(s["lexicon_words"][0]), "repeat"),
        (lambda s, a: a.__setitem__("lexicon_values", a["lexicon_values"] * 100), "valences"),
        (lambda s, a: a["coef"].__setitem__((0, 5), np.nan), "coef"),
        (lambda s, a: a.__setitem__("coef", a["coef"][:, :-1]), "coef"),
        (lambda s, a: a.__setitem__("idf", -a["idf"]), "idf"),
        (lambda s, a: s["tfidf"].__setitem__("n_dense", 3), "n_dense"),
        (lambda s, a: s["clf"].__setitem__("C", "inf"), "C must"),
        (lambda s, a: s.__setitem__("format", "pickle"), "not a model file"),
    ],
)
def test_crafted_values_are_refused_with_a_model_error(shipped, change, words):
    data = _crafted("spam", shipped, change)
    with pytest.raises(ModelError, match=words):
        serial.pipeline_from_bytes("spam", data, "crafted.npz")


def test_an_object_array_is_never_unpickled(shipped, monkeypatch):
    data = serial.pipeline_bytes(shipped["spam"].pipeline)
    with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
        arrays = {name: loaded[name] for name in loaded.files}
    arrays["coef"] = np.array([{"evil": 1}], dtype=object)
    out = io.BytesIO()
    np.savez(out, **arrays)  # writes a pickle inside the archive
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled it"))
    with pytest.raises(ModelError):
        serial.pipeline_from_bytes("spam", out.getvalue(), "evil.npz")


def test_a_pickle_or_a_foreign_card_is_refused(tmp_path):
    rogue = tmp_path / "spam.npz"
    with open(rogue, "wb") as fh:
        pickle.dump({"not": "a model"}, fh)
    with pytest.raises(ModelError, match="card is missing"):
        models.load_model(rogue)
    (tmp_path / "spam.card.json").write_text(json.dumps({"file": "spam.npz"}))
    with pytest.raises(ModelError, match="not a model card written by Triage"):
        models.load_model(rogue)
    old = tmp_path / "old" / "spam.joblib"
    old.parent.mkdir()
    old.write_bytes(b"pickle")
    card = json.loads((shipped_models_dir() / "spam.card.json").read_text())
    card["file"] = "spam.joblib"
    card.pop("format")
    (old.parent / "spam.joblib.card.json").write_text(json.dumps(card))
    (old.parent / "spam.card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="not in Triage's model format"):
        models.load_model(old.parent / "spam.card.json")


def test_a_card_cannot_vouch_for_another_file(tmp_path):
    copy_shipped("spam", tmp_path)
    other = tmp_path / "other.npz"
    shutil.copy(tmp_path / "spam.npz", other)
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
