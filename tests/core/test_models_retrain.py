"""Adapting a project's models to its labels: the prior fit, the honest figures, the
project's own versions, and training from files."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from test_models import FIXTURES, enron_frame, sms_frame, tweet_frame

from guiapp.core import checksums, models, report, session
from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.errors import Cancelled, InputError, ModelError
from guiapp.core.models import adapt
from guiapp.core.models.hashed import hash_texts
from guiapp.core.models.registry import file_sha256
from guiapp.core.paths import shipped_models_dir
from guiapp.core.project import Project


@pytest.fixture(scope="module")
def spam_start() -> models.TrainedModel:
    return models.load_shipped("spam")


def mail_and_sms() -> pd.DataFrame:
    return pd.concat([sms_frame(), enron_frame().iloc[:200]], ignore_index=True)


def shipped_hashes() -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(shipped_models_dir().iterdir()) if p.is_file()}


# ----------------------------------------------------------------------- the prior fit


def test_with_no_or_too_few_labels_the_starting_model_comes_back_unchanged(spam_start):
    frame = sms_frame()
    hashed = hash_texts(spam_start.pipeline["hash"], frame)
    for rows in ([], [0], [0, 1, 2]):
        labels = frame["user_spam"].to_numpy()[rows]
        result = adapt.adapt("spam", spam_start, hashed.subset(np.asarray(rows, int)), labels)
        assert result.model is spam_start and result.kept_start
        assert result.oof_scores is None and "Too few labels" in result.note


def test_the_gram_form_and_the_column_form_reach_the_same_fit(spam_start):
    frame = mail_and_sms().iloc[::3].reset_index(drop=True)
    hashed = hash_texts(spam_start.pipeline["hash"], frame)
    data = adapt.labelled_set(
        "spam", spam_start, hashed, frame["user_spam"].to_numpy(), balanced=False
    )
    b0 = np.asarray(spam_start.pipeline["clf"].intercept_, dtype=np.float64)
    for C in (1.0, 30.0):
        primal = adapt.fit_prior(data, C, b0, max_iter=2000)
        A, b, _ = adapt.fit_kernel(data, data.gram(), C, b0, max_iter=2000)
        dual = adapt.FitResult(data.delta(A), b, 0, 0.0)
        everything = np.arange(len(data.y))
        assert np.allclose(
            data.scores(everything, None, primal), data.scores(everything, None, dual), atol=2e-2
        )


def test_many_labels_move_the_model_to_the_users_view(spam_start):
    # The user calls spam what the corpus calls ham and the other way round (a rule the
    # shipped model contradicts everywhere): with enough labels the model follows them.
    frame = mail_and_sms()
    user = 1 - frame["user_spam"].to_numpy()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(frame))
    learn, held = order[:250], order[250:]
    hashed = hash_texts(spam_start.pipeline["hash"], frame)
    result = adapt.adapt("spam", spam_start, hashed.subset(learn), user[learn])
    assert not result.kept_start and result.C >= 10
    start_prob = models.predict_proba(spam_start, frame.iloc[held])
    new_prob = models.predict_proba(result.model, frame.iloc[held])
    assert ((start_prob >= 0.5) == user[held]).mean() < 0.1
    assert ((new_prob >= 0.5) == user[held]).mean() > 0.8
    # the cross-validated figure of the recipe, measured on labels it was not fitted on
    oof = adapt.codes_of(result.oof_scores[result.assessed])
    assert (oof == user[learn][result.assessed]).mean() > 0.8


def test_labels_that_agree_with_the_model_keep_it(spam_start):
    frame = mail_and_sms()
    hashed = hash_texts(spam_start.pipeline["hash"], frame)
    own = (models.predict_proba(spam_start, frame) >= 0.5).astype(int)
    result = adapt.adapt("spam", spam_start, hashed, own)
    # every candidate is measured on the same folds; the one chosen is never below the start
    assert max(result.cv_table.values()) >= result.cv_table["start"]
    if result.kept_start:
        assert result.model is spam_start


def test_sentiment_adapts_its_class_balance(tmp_path):
    start = models.load_shipped("sentiment")
    frame = tweet_frame()
    y = frame["user_sentiment"].to_numpy()
    hashed = hash_texts(start.pipeline["hash"], frame)
    result = adapt.adapt("sentiment", start, hashed, y)
    assert len(result.cv_table) == len(adapt.CANDIDATES) and "start" in result.cv_table
    assert result.offsets.shape == (3,)
    card = adapt.summary(result)
    assert card["chosen_by"].startswith("stratified") and card["kept_start"] == result.kept_start


def test_each_fold_is_scored_with_the_choice_made_on_the_other_folds():
    # Hand-made: 3 folds, 2 labels each; candidate 0 is right on folds 0 and 1, candidate 1
    # on fold 2 only. Fold 2 is scored with candidate 0 (best on folds 0, 1), although 1
    # would have scored it perfectly: the figure never benefits from choosing on its fold.
    y = np.array([1, 0, 1, 0, 1, 0])
    data = adapt.LabelledSet(
        X=None, XT=None, offsets=np.zeros((6, 1)), y=y, weights=np.ones(6),
        columns=np.zeros(0, int), pair_of_row=np.arange(6),
    )  # fmt: skip
    folds = [np.array([0, 1]), np.array([2, 3]), np.array([4, 5])]
    right = np.array([[3.0], [-3.0]])
    wrong = -right
    path = adapt._Path(folds, [[right, right, wrong], [wrong, wrong, right]])
    oof = adapt.out_of_fold("spam", data, path, False, np.zeros(1))
    assert adapt.codes_of(oof).tolist() == [1, 0, 1, 0, 0, 1]
    chosen, _, value = adapt._choose("spam", data, path, [0, 1, 2], False, np.zeros(1))
    assert chosen == 0 and value == pytest.approx(2 / 3)


# ----------------------------------------------------------------------- the figures


def test_figures_say_when_there_are_too_few_labels_by_hand():
    # 12 negative (10 right), 10 neutral (5 right), 3 positive (all right), nothing else
    y = np.array([0] * 12 + [1] * 10 + [2] * 3)
    pred = np.array([0] * 10 + [1] * 2 + [1] * 5 + [0] * 5 + [2] * 3)
    f = models.figures("sentiment", y, pred)
    assert f["n"] == 25 and f["accuracy"] == pytest.approx(18 / 25, abs=1e-4)
    assert f["per_class"]["negative"]["recall"] == pytest.approx(10 / 12, abs=1e-4)
    assert f["per_class"]["neutral"]["recall"] == pytest.approx(0.5)
    assert f["per_class"]["positive"]["recall"] is None  # 3 < 10 labels
    assert f["macro_recall"] is None and f["short"] == ["positive"]
    assert report.class_cell(f, "positive", "recall") == report.NOT_ENOUGH
    assert report.class_cell(f, "neutral", "recall") == "50.0%"
    spam = models.figures("spam", np.zeros(12, int), np.zeros(12, int))
    assert spam["absent"] == ["spam"] and report.class_cell(spam, "spam", "recall") == "—"
    assert spam["accuracy"] == 1.0 and spam["macro_recall"] is None
    assert models.figures("spam", np.array([0, 1]), np.array([0, 1]))["accuracy"] is None


# ---------------------------------------------------------------- projects and versions


def _project(tmp_path, name: str, frame: pd.DataFrame) -> Project:
    project = Project.create(tmp_path / f"{name}.triage", Collection(frame))
    predictions = session.predict(project.collection)
    session.save_predictions(project, predictions)
    session.apply_predictions(project, predictions, save=False)
    return project


def _label(project: Project, task: str, rows, values) -> None:
    rows, values = np.asarray(rows), np.asarray(values)
    for value in np.unique(values):
        project.apply(set_label(project.collection, task, rows[values == value], int(value)))


def test_a_retrain_changes_only_its_own_project(tmp_path):
    frame = mail_and_sms().drop(columns=["user_spam"], errors="ignore")
    a, b = _project(tmp_path, "a", frame), _project(tmp_path, "b", frame)
    shipped = session.predict(Collection(frame.copy()))  # what classify without a project uses
    before_b = b.collection.spam_prob.copy()
    hashes = shipped_hashes()
    user = 1 - mail_and_sms()["user_spam"].to_numpy()
    _label(a, "spam", np.arange(0, 260, 2), user[0:260:2])
    outcome = session.retrain(session.snapshot(a.collection), ["spam"], edit=a.edit_count())
    session.save_retrain(a, outcome)
    session.apply_retrain(a, outcome, save=False)
    version = outcome.reports["spam"].version
    assert version == "spam-1" and a.active_models()["spam"] == version
    assert a.collection.model_versions["spam"] == version
    # a's own predictions changed; b's and the shipped ones did not
    assert np.abs(a.collection.spam_prob - before_b).max() > 0.5
    again_b = session.predict(session.snapshot(b.collection))
    assert again_b.versions["spam"] == "shipped" and b.active_models()["spam"] == "shipped"
    assert np.array_equal(again_b.prob["spam"], before_b)
    assert np.array_equal(
        session.predict(Collection(frame.copy())).prob["spam"], shipped.prob["spam"]
    )
    assert shipped_hashes() == hashes  # the shipped files are never written
    # the version travels with the project file and is listed with its origin
    a.close()
    a = Project.open(tmp_path / "a.triage")
    infos = session.list_versions(a, "spam")
    assert [v.version for v in infos] == ["spam-1", "shipped"] and infos[0].active
    assert infos[0].origin.startswith("retrained here on 130 labels at edit #")
    assert infos[0].accuracy is not None and "cross-validated" in infos[0].measured_on
    assert infos[1].accuracy == outcome.reports["spam"].start["accuracy"]
    predicted = session.predict(session.snapshot(a.collection))
    assert predicted.versions["spam"] == "spam-1"
    a.close()
    b.close()


def test_the_report_measures_each_model_on_labels_it_was_not_fitted_on(tmp_path):
    frame = mail_and_sms().drop(columns=["user_spam"], errors="ignore")
    project = _project(tmp_path, "p", frame)
    user = 1 - mail_and_sms()["user_spam"].to_numpy()
    _label(project, "spam", np.arange(0, 200, 2), user[0:200:2])
    first = session.retrain(session.snapshot(project.collection), ["spam"])
    session.save_retrain(project, first)
    r = first.reports["spam"]
    assert r.start_version == "shipped" and r.start["n"] == 100 and r.new["n"] == 100
    assert r.previous_figures is None  # the version in use was the start itself
    assert r.new["accuracy"] > r.start["accuracy"]
    assert r.changed_unlabelled > 0
    # the out-of-fold probabilities the review queue's "likely mislabelled" order questions
    assert sorted(r.oof_rows.tolist()) == list(range(0, 200, 2))
    assert r.oof_prob.shape == (100, 2) and np.allclose(r.oof_prob.sum(axis=1), 1, atol=1e-5)
    lines = "\n".join(report.report_lines(r))
    assert "cross-validation" in lines and "unlabelled messages changed label" in lines
    # 30 more labels: the previous version is measured on those 30 only
    _label(project, "spam", np.arange(201, 261, 2), user[201:261:2])
    second = session.retrain(session.snapshot(project.collection), ["spam"])
    r2 = second.reports["spam"]
    assert r2.previous == "spam-1" and r2.n_added == 30
    assert r2.previous_figures["n"] == 30 and r2.start["n"] == 130
    project.close()


def test_a_task_without_labels_is_not_retrained(tmp_path):
    project = _project(tmp_path, "p", sms_frame().drop(columns=["user_spam"]))
    outcome = session.retrain(session.snapshot(project.collection))
    assert outcome.reports == {} and not outcome.models
    project.close()


def test_a_damaged_stored_model_is_refused_with_a_retrain_remedy(tmp_path):
    import sqlite3

    frame = mail_and_sms().drop(columns=["user_spam"], errors="ignore")
    project = _project(tmp_path, "p", frame)
    user = 1 - mail_and_sms()["user_spam"].to_numpy()
    _label(project, "spam", np.arange(0, 200), user[:200])
    session.save_retrain(project, session.retrain(session.snapshot(project.collection), ["spam"]))
    project.close()
    conn = sqlite3.connect(tmp_path / "p.triage")
    checksums.register(conn)  # the file's own checksums agree: only the model's digest can tell
    data = bytearray(conn.execute("SELECT data FROM model_versions").fetchone()[0])
    data[len(data) // 2] ^= 0x01
    conn.execute("UPDATE model_versions SET data=?", (bytes(data),))
    conn.commit()
    conn.close()
    opened = session.open_project(tmp_path / "p.triage")
    assert set(opened.model_errors) == {"spam"}
    assert opened.model_errors["spam"].remedy == "retrain"
    assert "SHA-256" in str(opened.model_errors["spam"])
    # the retrain it offers starts from the shipped model and replaces it
    outcome = session.retrain(session.snapshot(opened.project.collection), ["spam"])
    assert any("could not be loaded" in n for n in outcome.reports["spam"].notes)
    session.save_retrain(opened.project, outcome)
    assert session.unusable_models(opened.project) == {}
    opened.project.close()


def test_a_retrain_cancels_and_stores_nothing(tmp_path):
    frame = mail_and_sms().drop(columns=["user_spam"], errors="ignore")
    project = _project(tmp_path, "p", frame)
    _label(project, "spam", np.arange(260), 1 - mail_and_sms()["user_spam"].to_numpy())
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 30

    with pytest.raises(Cancelled):
        session.retrain(session.snapshot(project.collection), stop_requested=stop)
    assert [v.version for v in project.model_versions("spam")] == ["shipped"]
    project.close()


def test_versions_can_be_copied_between_projects_explicitly(tmp_path):
    frame = mail_and_sms().drop(columns=["user_spam"], errors="ignore")
    a, b = _project(tmp_path, "a", frame), _project(tmp_path, "b", frame)
    _label(a, "spam", np.arange(200), 1 - mail_and_sms()["user_spam"].to_numpy()[:200])
    session.save_retrain(a, session.retrain(session.snapshot(a.collection), ["spam"]))
    a.close()
    copied = session.copy_version(b, tmp_path / "a.triage", "spam")
    assert copied.origin["kind"] == "copied" and copied.origin["version"] == "spam-1"
    assert b.active_models()["spam"] == copied.version
    assert session.list_versions(b, "spam")[0].origin == "copied from project a (spam-1)"
    with pytest.raises(ModelError, match="no spam model version"):
        b.set_active_model("spam", "spam-9")
    b.close()


# ------------------------------------------------------------------ training from files


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
    loaded = models.load_model(out / "spam.npz")
    assert loaded.card["command"].startswith("triage train --spam")
    assert loaded.card["training"]["rows"] == 200
    frame = sms_frame()
    assert np.allclose(
        models.predict_proba(loaded, frame), models.predict_proba(trained["spam"], frame)
    )
    with pytest.raises(InputError, match="sentiment label"):
        models.train_from_files(sentiment_files=sms_frame(), out_dir=out)
    with pytest.raises(InputError, match="--out"):
        models.train_from_files(spam_files=[path])


def test_training_data_ships_with_the_app():
    data = models.load_training_data()
    assert set(data["task"]) == {"spam", "sentiment"}
    assert set(data["corpus"]) == {"sms", "spamassassin", "enron", "semeval", "tweeteval"}
    assert (data["subject"].str.len() + data["text"].str.len()).max() <= 1501
    assert (shipped_models_dir() / "training_data.parquet").stat().st_size < 8_000_000
