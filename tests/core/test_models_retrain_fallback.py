"""A retrain is the remedy offered for a model that cannot be loaded, so it must not need
that model: it starts from the shipped model when the active version is refused, and from
scratch (with the shipped card's hyper-parameters) when the shipped one is refused too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from model_helpers import refused_user_version
from test_models import sms_frame, tweet_frame

from guiapp.core import models, paths
from guiapp.core.errors import ModelError
from guiapp.core.models import training


def labelled() -> tuple:
    sms, tweets = sms_frame().iloc[:40], tweet_frame().iloc[:40]
    frame = pd.concat([sms, tweets], ignore_index=True)
    spam = np.full(len(frame), -1, dtype=np.int64)
    spam[: len(sms)] = sms["user_spam"].to_numpy()
    sentiment = np.full(len(frame), -1, dtype=np.int64)
    sentiment[len(sms) :] = tweets["user_sentiment"].to_numpy()
    return frame, {"spam": spam, "sentiment": sentiment}


def test_a_refused_active_version_retrains_from_the_shipped_model():
    version = refused_user_version("spam")
    with pytest.raises(ModelError) as info:
        models.load_current("spam")
    assert info.value.remedy == "retrain"
    shipped_version = models.load_current("spam", "shipped").version
    frame, labels = labelled()
    results, probs = training.retrain_many(frame, {"spam": labels["spam"]})
    result = results["spam"]
    assert result.model.card["parent"] == shipped_version  # not the refused one
    assert any("could not be loaded" in n and "shipped model" in n for n in result.report.notes)
    # the new version is active, loads, and predicts what retrain_many returned
    new = models.load_current("spam")
    assert new.version == result.model.version != version
    again = models.predict_proba(new, frame)
    np.testing.assert_allclose(again, probs["spam"][:, 1], atol=1e-5)


@pytest.fixture
def refused_shipped(tmp_path, monkeypatch) -> Path:
    """A copy of ``models/`` whose spam card names another scikit-learn."""
    folder = tmp_path / "models"
    folder.mkdir()
    for item in paths.shipped_models_dir().iterdir():
        if item.is_file():
            os.symlink(item, folder / item.name)
    card_path = folder / "spam.card.json"
    card = json.loads(card_path.read_text())
    card["environment"]["scikit_learn"] = "1.5.2"
    card_path.unlink()
    card_path.write_text(json.dumps(card))
    monkeypatch.setattr(paths, "shipped_models_dir", lambda: folder)
    return folder


def test_with_every_model_refused_a_retrain_fits_from_scratch(refused_shipped):
    refused_user_version("spam")
    with pytest.raises(ModelError):
        models.load_current("spam", "shipped")
    frame, labels = labelled()
    results, probs = training.retrain_many(frame, {"spam": labels["spam"]})
    result = results["spam"]
    card = result.model.card
    assert card["parent"] is None and card["training"]["warm_start_from"] is None
    assert any("from scratch" in n for n in result.report.notes)
    # the shipped card's regularisation is kept (not the default of a fit from zero)
    assert card["hyperparameters"]["C"] == training.SPAM_C
    new = models.load_current("spam")
    assert new.version == result.model.version
    # a real model: it separates the spam of messages it was not trained on
    held = sms_frame().iloc[40:]
    prob = models.predict_proba(new, held)
    truth = held["user_spam"].to_numpy()
    assert ((prob >= 0.5) == (truth == 1)).mean() > 0.9
    assert prob[truth == 1].mean() > prob[truth == 0].mean() + 0.5


def test_sentiment_from_scratch_keeps_the_shipped_class_offsets(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    for item in paths.shipped_models_dir().iterdir():
        if item.is_file() and item.name != "sentiment.joblib":
            os.symlink(item, folder / item.name)  # the sentiment model file is missing
    monkeypatch.setattr(paths, "shipped_models_dir", lambda: folder)
    offsets = training.shipped_hyperparameters("sentiment")["intercept_offsets"]
    frame, labels = labelled()
    results, _ = training.retrain_many(frame, {"sentiment": labels["sentiment"]})
    card = results["sentiment"].model.card
    assert card["parent"] is None
    assert card["hyperparameters"]["intercept_offsets"] == offsets
    assert card["hyperparameters"]["C"] == training.SENTIMENT_C
    assert any("from scratch" in n for n in results["sentiment"].report.notes)


def test_opening_a_project_names_the_models_in_use_that_cannot_be_loaded(tmp_path):
    from guiapp.core import session

    sms = Path(__file__).resolve().parents[1] / "fixtures" / "qt" / "sms.csv"
    opened = session.import_files([sms], project_path=tmp_path / "p.triage")
    opened.project.close()
    assert opened.model_errors == {}
    again = session.open_project(tmp_path / "p.triage")
    again.project.close()
    assert again.model_errors == {}  # the shipped models are usable

    version = refused_user_version("sentiment")
    again = session.open_project(tmp_path / "p.triage")
    again.project.close()
    assert list(again.model_errors) == ["sentiment"]
    error = again.model_errors["sentiment"]
    assert error.remedy == "retrain" and "scikit-learn 1.5.2" in str(error)
    assert version in str(error.path)
    # a missing model file is named too (its card of this scikit-learn)
    folder = paths.user_models_dir() / "sentiment" / version
    card = json.loads((folder / "sentiment.card.json").read_text())
    card["environment"]["scikit_learn"] = sklearn.__version__
    (folder / "sentiment.card.json").write_text(json.dumps(card))
    assert models.unusable_models() == {}
    os.remove(folder / "sentiment.joblib")
    assert "missing" in str(models.unusable_models()["sentiment"])
