"""Saving a background result before it is shown, and reading a project's texts read-only:
what the window's worker threads and child processes use (guiapp.qt.processes, main_window).
"""

from pathlib import Path

import numpy as np
import pytest

from guiapp.core import session
from guiapp.core.collection import Collection, predicted_codes
from guiapp.core.errors import ProjectError
from guiapp.core.messages import make_frame
from guiapp.core.project import Project, read_messages

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sms_texts() -> list[str]:
    lines = (FIXTURES / "sms" / "SMSSpamCollection_sample.tsv").read_text("utf-8").splitlines()
    return [ln.split("\t", 1)[1] for ln in lines]


@pytest.fixture
def project(tmp_path):
    texts = sms_texts()
    collection = Collection(make_frame({"text": texts, "kind": ["sms"] * len(texts)}))
    collection.spam_prob[:] = 0.1
    project = Project.create(tmp_path / "p.triage", collection)
    yield project
    project.close()


def reopened(path) -> Collection:
    again = Project.open(path, read_only=True)
    try:
        return again.collection
    finally:
        again.close()


def test_read_messages_reads_the_first_rows_while_the_project_is_open(project):
    c = project.collection
    n = len(c)
    frame = read_messages(project.path, n)
    assert frame["text"].tolist() == c.messages["text"].tolist()
    first = read_messages(project.path, 7)
    assert len(first) == 7 and first["text"].tolist() == c.messages["text"].tolist()[:7]
    with pytest.raises(ProjectError, match="holds"):
        read_messages(project.path, n + 1)


def test_saved_predictions_reach_the_file_but_not_the_open_collection(project):
    c = project.collection
    n = len(c)
    rng = np.random.default_rng(0)
    sentiment = rng.random((n, 3)).astype(np.float32)
    predictions = session.Predictions(
        rows=None,
        n_rows=n,
        prob={"sentiment": sentiment},
        versions={"sentiment": "sentiment-test"},
    )
    c.model_versions["spam"] = "spam-earlier"
    project.save_arrays()
    session.save_predictions(project, predictions)
    assert np.isnan(c.sentiment_prob).all()  # memory untouched until applied
    on_disk = reopened(project.path)
    np.testing.assert_array_equal(on_disk.sentiment_prob, sentiment)
    np.testing.assert_array_equal(on_disk.spam_prob, c.spam_prob)  # the other task kept
    assert on_disk.model_versions == {"spam": "spam-earlier", "sentiment": "sentiment-test"}
    session.apply_predictions(project, predictions, save=False)
    np.testing.assert_array_equal(c.sentiment_prob, sentiment)
    assert c.model_versions["sentiment"] == "sentiment-test"
    partial = session.Predictions(rows=np.arange(3), n_rows=3, prob={"spam": np.zeros(3)})
    with pytest.raises(ValueError):
        session.save_predictions(project, partial)


def test_save_results_writes_only_the_named_columns(project):
    c = project.collection
    cluster = np.arange(len(c), dtype=np.int32) % 4
    project.save_results({"cluster": cluster})
    on_disk = reopened(project.path)
    np.testing.assert_array_equal(on_disk.cluster, cluster)
    np.testing.assert_array_equal(on_disk.spam_prob, c.spam_prob)
    with pytest.raises(ValueError):
        project.save_results({"user": cluster})


def test_predicted_codes_match_the_collection():
    prob = np.array([[0.2, 0.5, 0.3], [np.nan, np.nan, np.nan], [0.7, 0.2, 0.1]], np.float32)
    assert predicted_codes("sentiment", prob).tolist() == [1, -1, 0]
    assert predicted_codes("spam", np.array([0.5, np.nan, 0.1])).tolist() == [1, -1, 0]
