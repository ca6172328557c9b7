"""k-means themes over real SMS and tweets (tests/fixtures/clustering, see its README)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from guiapp.core import clustering
from guiapp.core.clustering import NO_THEME, Clustering, cluster_messages, prepare_texts
from guiapp.core.errors import Cancelled
from guiapp.core.messages import make_frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clustering"
TOPICS = ("amazon", "game of thrones", "ihop", "messi")


def _read_tsv(name: str) -> list[list[str]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line]


@pytest.fixture(scope="module")
def sms() -> list[tuple[str, str]]:
    """(label, text) of 200 SMS Spam Collection messages."""
    return [(row[0], row[1]) for row in _read_tsv("sms.tsv")]


@pytest.fixture(scope="module")
def tweets() -> list[tuple[str, str]]:
    """(topic, text) of 4 x 50 SemEval-2016 tweets, one topic keyword each."""
    out = []
    for row in _read_tsv("tweets.tsv"):
        text = row[2]
        (topic,) = [t for t in TOPICS if t in text.lower()]
        out.append((topic, text))
    return out


@pytest.fixture(scope="module")
def collection(sms, tweets) -> pd.DataFrame:
    """400 messages, SMS first then tweets, none labelled."""
    kinds = ["sms"] * len(sms) + ["tweet"] * len(tweets)
    texts = [t for _, t in sms] + [t for _, t in tweets]
    return make_frame({"kind": kinds, "text": texts})


@pytest.fixture(scope="module")
def auto_result(collection) -> Clustering:
    return cluster_messages(collection, k="auto", seed=0)


@pytest.fixture(scope="module")
def k8_result(collection) -> Clustering:
    return cluster_messages(collection, k=8, seed=0)


def _same(a: Clustering, b: Clustering) -> None:
    assert a.k == b.k
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.sizes_fitted, b.sizes_fitted)
    np.testing.assert_array_equal(a.sizes_all, b.sizes_all)
    assert a.top_terms == b.top_terms
    assert a.names == b.names
    assert a.curve == b.curve
    assert a.fitted_rows == b.fitted_rows
    assert a.notes == b.notes


# ----------------------------------------------------------------------------- basics


def test_result_shape(collection, k8_result):
    c = k8_result
    assert c.k == 8
    assert c.labels.dtype == np.int32 and c.labels.shape == (len(collection),)
    assert c.curve == []  # k was given
    assert c.seed == 0
    assert len(c.top_terms) == len(c.names) == len(c.sizes_fitted) == len(c.sizes_all) == 8
    assert set(np.unique(c.labels)) <= set(range(8)) | {NO_THEME}
    assert c.sizes_fitted.sum() == c.fitted_rows == np.count_nonzero(c.labels >= 0)
    assert c.sizes_all.sum() == np.count_nonzero(c.labels >= 0)
    # Themes are numbered by decreasing size.
    assert list(c.sizes_fitted) == sorted(c.sizes_fitted, reverse=True)
    for terms, name in zip(c.top_terms, c.names, strict=True):
        assert 1 <= len(terms) <= clustering.TOP_TERMS
        assert name == ", ".join(terms[:3])


def test_same_seed_same_result(collection, k8_result, auto_result):
    _same(k8_result, cluster_messages(collection, k=8, seed=0))
    _same(auto_result, cluster_messages(collection, k="auto", seed=0))


def test_auto_keeps_curve_and_takes_its_best(auto_result):
    c = auto_result
    ks = [k for k, _ in c.curve]
    assert ks == list(range(2, ks[-1] + 1))
    assert ks[-1] == min(clustering.K_MAX, c.fitted_rows // 10)
    scores = [s for _, s in c.curve]
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert c.k == ks[int(np.argmax(scores))]


def test_topics_are_found(collection, tweets):
    """Four topics of tweets, clustered alone with k=4, come out as four themes."""
    frame = collection.iloc[-len(tweets) :].reset_index(drop=True)
    c = cluster_messages(frame, k=4, seed=0)
    topics = np.array([t for t, _ in tweets])
    # Purity: each theme counted by its commonest topic.
    purity = sum(pd.Series(topics[c.labels == j]).value_counts().iloc[0] for j in range(c.k)) / len(
        topics
    )
    assert purity >= 0.8, (purity, c.names)
    named = {t for t in TOPICS if any(t.split()[-1] in terms for terms in c.top_terms)}
    assert len(named) >= 3, c.top_terms


def test_top_terms_are_words_of_the_texts(collection, k8_result, auto_result):
    words: set[str] = set()
    for text in prepare_texts(collection).to_pylist():
        words.update(text.replace("\n", " ").split())
    tokens = " ".join(prepare_texts(collection).to_pylist())
    for c in (k8_result, auto_result):
        for terms in c.top_terms:
            for term in terms:
                assert term in tokens
                assert term[0].isalpha() and len(term) >= 2
                assert term not in clustering.STOP_WORDS
    assert "http" not in {t for terms in k8_result.top_terms for t in terms}


def test_progress_reports_stages(collection):
    seen: list[tuple[int, int, str]] = []
    cluster_messages(collection, k=5, on_progress=lambda d, t, s: seen.append((d, t, s)))
    done = [d for d, _, _ in seen]
    assert all(t == 1000 for _, t, _ in seen)
    assert done == sorted(done) and done[0] == 0 and done[-1] == 1000
    assert any("k-means" in s for _, _, s in seen)


# ----------------------------------------------------------------------------- mask


def test_mask_fits_only_unlabelled_rows_and_assigns_all(collection, sms, tweets):
    mask = np.zeros(len(collection), dtype=bool)
    mask[: len(sms)] = True  # only the SMS are unlabelled
    c = cluster_messages(collection, k=5, mask=mask, seed=0)
    assert c.fitted_rows == np.count_nonzero(mask & (c.labels >= 0))
    assert c.sizes_fitted.sum() == c.fitted_rows
    assert c.sizes_all.sum() == np.count_nonzero(c.labels >= 0)
    # The tweets were not fitted on, yet get a theme, unless no word of theirs is in the
    # vocabulary learnt from the SMS.
    assert c.model is not None
    known = c.model.vectors(prepare_texts(collection).to_pylist()).any(axis=1)
    np.testing.assert_array_equal(c.labels >= 0, known)
    assert np.count_nonzero(c.labels[~mask] >= 0) >= 0.8 * np.count_nonzero(~mask)
    np.testing.assert_array_equal(c.assign(collection), c.labels)

    # The labelled rows do not influence the themes: swap their texts for other real ones.
    other = collection.copy()
    swapped = [t for _, t in tweets][::-1]
    other.loc[~mask, "text"] = swapped
    d = cluster_messages(other, k=5, mask=mask, seed=0)
    assert d.top_terms == c.top_terms
    np.testing.assert_array_equal(d.labels[mask], c.labels[mask])


def test_default_mask_is_rows_without_user_labels(collection, sms):
    frame = collection.copy()
    frame["user_spam"] = np.int8(-1)
    frame.loc[len(sms) :, "user_spam"] = np.int8(0)  # tweets labelled ham
    frame.loc[0, "user_sentiment"] = np.int8(2)  # one SMS labelled positive
    mask = np.zeros(len(frame), dtype=bool)
    mask[1 : len(sms)] = True
    _same(cluster_messages(frame, k=4), cluster_messages(collection, k=4, mask=mask))


def test_bad_arguments(collection):
    with pytest.raises(ValueError, match="mask has shape"):
        cluster_messages(collection, mask=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="booleans"):
        cluster_messages(collection, mask=np.ones(len(collection)))
    for k in (0, -2, 2.5, "many", True):
        with pytest.raises(ValueError, match="k must be"):
            cluster_messages(collection, k=k)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_components"):
        cluster_messages(collection, n_components=0)


# ----------------------------------------------------------------------------- assign


def test_assign_puts_near_duplicates_in_the_same_theme(collection, k8_result):
    c = k8_result
    assert c.model is not None
    vectors = c.model.vectors(prepare_texts(collection).to_pylist())
    texts = collection["text"].tolist()
    for j in range(c.k):
        # The most typical member of each theme, reworded a little.
        members = np.flatnonzero(c.labels == j)
        dist = np.linalg.norm(vectors[members] - c.model.centroids[j], axis=1)
        original = texts[members[np.argmin(dist)]]
        words = original.split()
        near = " ".join(words[:-1] if len(words) > 4 else words).upper() + " !!"
        assert c.assign([near])[0] == j, (original, near)
        assert c.assign(near)[0] == j
    # A frame, a Series and a list give the same answer as the labels of the fit.
    np.testing.assert_array_equal(c.assign(collection), c.labels)
    np.testing.assert_array_equal(c.assign(collection["text"]), c.labels)
    np.testing.assert_array_equal(c.assign(texts), c.labels)


def test_assign_new_messages(sms, k8_result):
    c = k8_result
    spam = [t for label, t in sms if label == "spam"]
    themes = c.assign(spam)
    # The spam texts are not scattered: one theme holds most of them.
    assert np.bincount(themes[themes >= 0]).max() >= 0.5 * len(spam)
    assert c.assign([]).shape == (0,)
    assert c.assign(["", "12345 67890"]).tolist() == [NO_THEME, NO_THEME]


# ----------------------------------------------------------------------------- edge cases


def test_no_unlabelled_message(collection):
    c = cluster_messages(collection, mask=np.zeros(len(collection), dtype=bool))
    assert c.k == 0 and c.model is None and c.fitted_rows == 0
    assert np.all(c.labels == NO_THEME) and len(c.labels) == len(collection)
    assert "No unlabelled message" in c.notes[0]
    assert c.assign(["free entry to win a prize"]).tolist() == [NO_THEME]


def test_empty_collection():
    c = cluster_messages(make_frame({}), k="auto")
    assert c.k == 0 and c.labels.shape == (0,)


def test_one_unlabelled_message(collection):
    mask = np.zeros(len(collection), dtype=bool)
    mask[3] = True
    for k in ("auto", 1, 5):
        c = cluster_messages(collection, k=k, mask=mask)
        assert c.k == 1 and c.fitted_rows == 1
        assert np.all(c.labels[c.labels != NO_THEME] == 0)
        assert c.labels[3] == 0
        # The vocabulary is that one message's: rows sharing a word with it get its theme.
        assert c.model is not None
        known = c.model.vectors(prepare_texts(collection).to_pylist()).any(axis=1)
        np.testing.assert_array_equal(c.labels == 0, known)
        assert np.count_nonzero(known) > 1
    assert any("using k = 1" in note for note in c.notes)


def test_fewer_messages_than_k(collection):
    frame = collection.iloc[200:206].reset_index(drop=True)  # six tweets
    c = cluster_messages(frame, k=10)
    assert c.k == 6
    assert any("Asked for 10 themes" in note and "k = 6" in note for note in c.notes)
    assert sorted(c.labels.tolist()) == list(range(6))


def test_all_texts_without_words():
    # Real messages reduced to what is not a word: numbers, a link, nothing at all.
    frame = make_frame({"text": ["", "   ", "09061701461", "http://t.co/8u6", "&lt;#&gt; 2"]})
    c = cluster_messages(frame, k="auto")
    assert c.k == 0 and np.all(c.labels == NO_THEME)
    assert any("usable word" in note for note in c.notes)


def test_some_texts_without_words(collection):
    frame = pd.concat(
        [collection, make_frame({"text": ["", "07732584351", "http://t.co/f6vrZvZECU"]})],
        ignore_index=True,
    )
    c = cluster_messages(frame, k=4)
    assert c.labels[-3:].tolist() == [NO_THEME] * 3
    assert c.unassigned >= 3
    assert any("no usable word" in note for note in c.notes)


def test_duplicate_texts(sms):
    texts = [t for _, t in sms[:3]] * 100
    c = cluster_messages(make_frame({"text": texts}), k="auto", seed=0)
    assert c.k == 2 and c.fitted_rows == 300
    assert c.sizes_fitted.sum() == 300
    for i in range(3):
        assert len(set(c.labels[i::3].tolist())) == 1  # copies share a theme
    c3 = cluster_messages(make_frame({"text": texts}), k=3, seed=0)
    assert sorted(c3.sizes_fitted.tolist()) == [100, 100, 100]
    c9 = cluster_messages(make_frame({"text": texts}), k=9)
    assert c9.k == 3 and any("3 distinct" in note for note in c9.notes)


def test_vocabulary_smaller_than_components(tweets):
    texts = [t for _, t in tweets[:6]]
    c = cluster_messages(make_frame({"text": texts}), k=2, n_components=100)
    assert c.model is not None and not c.model.lsa
    assert any("the themes are made from the words themselves" in note for note in c.notes)
    np.testing.assert_array_equal(c.assign(texts), c.labels)
    # Fewer distinct texts than components, but a larger vocabulary: a smaller LSA.
    d = cluster_messages(make_frame({"text": [t for _, t in tweets[:40]]}), k=3, n_components=30)
    assert d.model is not None and d.model.components.shape[0] <= 30
    e = cluster_messages(make_frame({"text": [t for _, t in tweets[:20]]}), k=3, n_components=50)
    assert any("(20 topics instead of" in note for note in e.notes)


def test_long_messages_are_cut():
    text = ("Subject line of a long mail " * 500).strip()
    (prepared,) = prepare_texts(make_frame({"subject": ["Re: news"], "text": [text]})).to_pylist()
    assert len(prepared) <= clustering.MAX_CHARS
    assert prepared.startswith("re: news\nsubject line")


def test_prepare_texts_drops_links_numbers_entities():
    (prepared,) = prepare_texts(
        ["Don\u2019t call 09061701461 &lt;#&gt; see http://t.co/OyOBwIfDaj or mail a.b@c.org"]
    ).to_pylist()
    assert "http" not in prepared and "&lt;" not in prepared and "c.org" not in prepared
    assert prepared.startswith("dont call 09061701461")


# ----------------------------------------------------------------------------- mini-batches


@pytest.fixture
def small_minibatch(monkeypatch):
    """Make the fixture big enough for the mini-batch path (used above 20,000 texts)."""
    monkeypatch.setattr(clustering, "MINIBATCH_ABOVE", 150)
    monkeypatch.setattr(clustering, "_MINIBATCH_SIZE", 32)


def test_minibatch_path(collection, small_minibatch):
    a = cluster_messages(collection, k=6, seed=3)
    b = cluster_messages(collection, k=6, seed=3)
    _same(a, b)
    assert a.k == 6 and np.all(a.sizes_fitted > 0)
    np.testing.assert_array_equal(a.assign(collection), a.labels)


# ----------------------------------------------------------------------------- cancel


class _StopAfter:
    def __init__(self, checks: int):
        self.left = checks
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        self.left -= 1
        return self.left < 0


@pytest.mark.parametrize("checks", [0, 3, 8])
def test_cancel_raises(collection, checks):
    stop = _StopAfter(checks)
    with pytest.raises(Cancelled):
        cluster_messages(collection, k="auto", stop_requested=stop)
    assert stop.calls == checks + 1  # stopped at the first check that said yes


def test_cancel_during_silhouette_and_batches(collection, small_minibatch):
    for stage in ("Trying k = 5", "k-means pass 1, batch 3"):
        seen: list[str] = []
        asked = {"stop": False}

        def progress(done, total, text, seen=seen, asked=asked, stage=stage):
            seen.append(text)
            asked["stop"] = text.startswith(stage)

        with pytest.raises(Cancelled):
            cluster_messages(
                collection,
                k="auto" if stage.startswith("Trying") else 6,
                on_progress=progress,
                stop_requested=lambda asked=asked: asked["stop"],
            )
        assert seen[-1].startswith(stage)


# ----------------------------------------------------------------------------- storage


def _round_trip(c: Clustering) -> Clustering:
    buffer = io.BytesIO()
    np.savez(buffer, **c.state_arrays())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    return Clustering.from_state(c.to_json(), arrays)


def test_json_and_arrays_round_trip(collection, sms, auto_result, k8_result):
    for c in (auto_result, k8_result):
        json.loads(c.to_json())  # plain JSON
        r = _round_trip(c)
        _same(c, r)
        assert r.model is not None and c.model is not None
        assert r.model.terms == c.model.terms
        new = [t for _, t in sms] + ["free entry to win a prize, txt WIN now"]
        np.testing.assert_array_equal(r.assign(new), c.assign(new))
        np.testing.assert_array_equal(r.assign(collection), c.labels)


def test_round_trip_of_edge_results(collection, tweets):
    nothing = cluster_messages(collection, mask=np.zeros(len(collection), dtype=bool))
    _same(nothing, _round_trip(nothing))
    tiny = cluster_messages(make_frame({"text": [t for _, t in tweets[:6]]}), k=2)
    r = _round_trip(tiny)
    _same(tiny, r)
    np.testing.assert_array_equal(
        r.assign([t for _, t in tweets]), tiny.assign([t for _, t in tweets])
    )


def test_metadata_only_and_bad_state(k8_result):
    text = k8_result.to_json()
    meta = Clustering.from_json(text)
    assert meta.top_terms == k8_result.top_terms and meta.curve == k8_result.curve
    assert meta.model is None and meta.labels.shape == (0,)
    with pytest.raises(RuntimeError, match="without its arrays"):
        meta.assign(["hello"])
    arrays = k8_result.state_arrays()
    with pytest.raises(ValueError, match="shapes do not agree"):
        Clustering.from_state(text, {**arrays, "centroids": arrays["centroids"][:3]})
    with pytest.raises(ValueError, match="labels"):
        Clustering.from_state(text, {**arrays, "labels": arrays["labels"][:5]})
    with pytest.raises(ValueError, match="missing labels"):
        Clustering.from_state(text, {k: v for k, v in arrays.items() if k != "labels"})
    with pytest.raises(ValueError, match="missing idf"):
        Clustering.from_state(text, {k: v for k, v in arrays.items() if k != "idf"})
    with pytest.raises(ValueError, match="not a Triage clustering"):
        Clustering.from_json('{"format": "other"}')
    with pytest.raises(ValueError, match="not JSON"):
        Clustering.from_json("{")
