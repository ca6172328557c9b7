"""The review queue's orders on hand-made probabilities, and the cross-validated
probabilities on real SMS and tweets (tests/fixtures/clustering/sms.tsv and
tests/fixtures/models/tweets.tsv, see tests/fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guiapp.core import review
from guiapp.core.errors import Cancelled

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clustering"
SMS = FIXTURES / "sms.tsv"
TWEETS = FIXTURES.parent / "models" / "tweets.tsv"
NA = -1


def spam(p):
    return review.class_probabilities("spam", np.array(p, dtype=np.float32))


def test_binary_least_confident_is_closest_to_one_half():
    prob = spam([0.99, 0.52, 0.10, 0.45, 0.70, 0.004])
    labels = np.full(6, NA)
    queue = review.least_confident_queue(prob, labels, warm_up=0)
    assert queue.tolist() == [1, 3, 4, 2, 0, 5]
    # ascending P(spam) is not it: that puts the most confident ham first
    assert queue.tolist() != np.argsort([0.99, 0.52, 0.10, 0.45, 0.70, 0.004]).tolist()


def test_three_class_least_confident_is_smallest_top_two_margin():
    prob = np.array(
        [
            [0.90, 0.05, 0.05],  # margin 0.85
            [0.40, 0.35, 0.25],  # 0.05
            [0.10, 0.50, 0.40],  # 0.10
            [0.34, 0.33, 0.33],  # 0.01
            [0.20, 0.20, 0.60],  # 0.40
        ]
    )
    margins = review.confidence_margin(prob)
    np.testing.assert_allclose(margins, [0.85, 0.05, 0.10, 0.01, 0.40])
    queue = review.least_confident_queue(prob, np.full(5, NA), warm_up=0)
    assert queue.tolist() == [3, 1, 2, 4, 0]


def test_only_unlabelled_rows_and_unpredicted_last():
    prob = spam([0.5, 0.51, np.nan, 0.9, 0.49, 0.2])
    labels = np.array([1, NA, NA, NA, 0, NA])
    queue = review.least_confident_queue(prob, labels, warm_up=0)
    assert queue.tolist() == [1, 5, 3, 2]


def test_warm_up_is_random_then_least_confident_and_counts_only_the_tasks_labels():
    rng = np.random.default_rng(5)
    n = 200
    p = rng.random(n)
    prob = spam(p)
    labels = np.full(n, NA)
    labels[:10] = 0  # ten labels of this task: 20 warm-up messages left of 30
    queue = review.least_confident_queue(prob, labels, warm_up=30, seed=3)
    assert len(queue) == n - 10 and set(queue.tolist()) == set(range(10, n))
    warm, rest = queue[:20], queue[20:]
    margin = np.abs(p - 0.5)
    assert (np.diff(margin[rest]) >= 0).all()  # after the warm-up: least confident first
    # the warm-up is a random draw, not the 20 least confident
    assert set(warm.tolist()) != set(np.argsort(margin[10:])[:20] + 10)
    assert review.least_confident_queue(prob, labels, warm_up=30, seed=3).tolist() == (
        queue.tolist()
    )
    assert review.least_confident_queue(prob, labels, warm_up=30, seed=4)[:20].tolist() != (
        warm.tolist()
    )
    # 30 labels or more: no warm-up at all
    labels[:30] = 1
    queue = review.least_confident_queue(prob, labels, warm_up=30, seed=3)
    assert (np.diff(margin[queue]) >= 0).all()


def test_random_queue_reproducible_by_seed_and_only_unlabelled():
    labels = np.full(100, NA)
    labels[::7] = 1
    a = review.random_queue(labels, seed=11)
    assert sorted(a.tolist()) == np.flatnonzero(labels == NA).tolist()
    assert review.random_queue(labels, seed=11).tolist() == a.tolist()
    assert review.random_queue(labels, seed=12).tolist() != a.tolist()
    assert a.tolist() != sorted(a.tolist())


def test_likely_mislabelled_most_confident_disagreement_first():
    labels = np.full(8, NA)
    rows = np.array([1, 2, 4, 5, 7])
    labels[rows] = [0, 1, 2, 0, 1]
    oof = np.array(
        [
            [0.10, 0.80, 0.10],  # row 1 labelled negative, predicted neutral 0.80
            [0.05, 0.90, 0.05],  # row 2 agrees
            [0.95, 0.03, 0.02],  # row 4 labelled positive, predicted negative 0.95
            [0.30, 0.40, 0.30],  # row 5 disagrees but not confidently
            [0.20, 0.05, 0.75],  # row 7 labelled neutral, predicted positive 0.75
        ]
    )
    queue = review.likely_mislabelled_queue(oof, rows, labels)
    assert queue.tolist() == [4, 1, 7]
    assert review.likely_mislabelled_queue(oof, rows, labels, min_confidence=0.78).tolist() == [
        4,
        1,
    ]
    # a label cleared since the probabilities were computed is no longer questioned
    labels[4] = NA
    assert review.likely_mislabelled_queue(oof, rows, labels).tolist() == [1, 7]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        review.least_confident_queue(spam([0.2, 0.3]), np.full(3, NA))
    with pytest.raises(ValueError):
        review.likely_mislabelled_queue(np.zeros((2, 2)), np.array([0]), np.zeros(3))
    with pytest.raises(ValueError):
        review.class_probabilities("sentiment", np.zeros(4))


def sms_rows():
    rows = [line.rstrip("\n").split("\t", 1) for line in SMS.open(encoding="utf-8")]
    return [t for _, t in rows], np.array([int(label == "spam") for label, _ in rows])


def test_cross_validated_probabilities_find_flipped_labels_on_real_sms():
    texts, truth = sms_rows()
    labels = truth.copy()
    rng = np.random.default_rng(0)
    flipped = np.concatenate(
        [
            rng.choice(np.flatnonzero(truth == 1), 3, replace=False),
            rng.choice(np.flatnonzero(truth == 0), 3, replace=False),
        ]
    )
    labels[flipped] = 1 - labels[flipped]
    oof = review.cross_validated_probabilities("spam", texts, labels, folds=5)
    assert oof.shape == (len(texts), 2)
    np.testing.assert_allclose(oof.sum(axis=1), 1.0)
    # out of fold: held-out predictions agree with the true labels most of the time
    assert (oof.argmax(axis=1) == truth).mean() > 0.9
    queue = review.likely_mislabelled_queue(oof, np.arange(len(texts)), labels)
    assert len(queue) >= 3
    assert np.isin(queue[:3], flipped).all()


def test_cross_validated_probabilities_need_two_classes_and_honour_cancel():
    texts, truth = sms_rows()
    with pytest.raises(review.NotEnoughLabels, match="not enough spam labels"):
        review.cross_validated_probabilities("spam", texts[:5], np.zeros(5, int))
    with pytest.raises(review.NotEnoughLabels):
        review.cross_validated_probabilities("spam", texts[:3], np.array([0, 0, 1]))
    # three sentiment classes, one missing: its column stays 0
    labels = np.array([0, 2] * 10)
    oof = review.cross_validated_probabilities("sentiment", texts[:20], labels, folds=3)
    assert oof.shape == (20, 3) and (oof[:, 1] == 0).all()
    with pytest.raises(Cancelled):
        review.cross_validated_probabilities("spam", texts, truth, stop_requested=lambda: True)


def test_cross_validated_probabilities_three_classes_on_real_tweets():
    rows = [line.rstrip("\n").split("\t") for line in TWEETS.open(encoding="utf-8")]
    codes = {"negative": 0, "neutral": 1, "positive": 2}
    texts = [r[2] for r in rows]
    labels = np.array([codes[r[1]] for r in rows])
    assert set(labels.tolist()) == {0, 1, 2}
    oof = review.cross_validated_probabilities("sentiment", texts, labels, folds=5)
    assert oof.shape == (len(texts), 3)
    np.testing.assert_allclose(oof.sum(axis=1), 1.0)
    # held-out folds: macro recall above chance (1/3); 300 tweets make a weak model (0.39)
    predicted = oof.argmax(axis=1)
    recall = np.mean([(predicted[labels == c] == c).mean() for c in range(3)])
    assert recall > 0.36, recall


def test_unlabelled_queue_is_the_windows_entry_point():
    p = np.array([0.9, 0.5, 0.2, 0.6], dtype=np.float32)
    labels = np.array([NA, NA, 1, NA])
    assert review.unlabelled_queue("uncertain", "spam", p, labels, warm_up=0).tolist() == [
        1,
        3,
        0,
    ]
    assert (
        review.unlabelled_queue("random", "spam", p, labels, seed=2).tolist()
        == review.random_queue(labels, seed=2).tolist()
    )
    with pytest.raises(ValueError, match="not a queue of unlabelled"):
        review.unlabelled_queue("mislabelled", "spam", p, labels)
