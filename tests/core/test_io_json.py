"""JSON importer: arrays, JSON Lines, tweets.js, API v2, nested tweet shapes; hypothesis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guiapp.core.errors import InputError
from guiapp.core.io import inspect_table, iter_collection_chunks, load_collection, load_messages

TW = Path(__file__).resolve().parents[1] / "fixtures" / "tweets"
TWEETS = json.loads((TW / "tweets.json").read_text("utf-8"))
IDS = [t["id_str"] for t in TWEETS]
TEXTS = [t["full_text"] for t in TWEETS]


@pytest.mark.parametrize("name", ["tweets.json", "tweets.jsonl", "tweets.js", "api_v2.json"])
def test_tweet_shapes(name):
    result = load_collection(TW / name)
    m = result.messages
    assert m["id"].tolist() == IDS
    assert m["text"].tolist() == TEXTS
    assert set(m["kind"]) == {"tweet"}
    assert set(m["source"]) == {str(TW / name)}
    assert not result.problems
    assert len(result.extra) == len(m)


def test_jsonl_sentiment_labels():
    m = load_messages(TW / "tweets.jsonl")
    lines = [json.loads(ln) for ln in (TW / "tweets.jsonl").read_text("utf-8").splitlines()]
    codes = {"negative": 0, "neutral": 1, "positive": 2}
    assert m["user_sentiment"].tolist() == [codes[o["sentiment"]] for o in lines]


def test_api_v2_authors_from_includes():
    m = load_messages(TW / "api_v2.json")
    doc = json.loads((TW / "api_v2.json").read_text("utf-8"))
    names = {u["id"]: u["username"] for u in doc["includes"]["users"]}
    assert m["sender"].tolist() == [names[t["author_id"]] for t in doc["data"]]


def test_nested_tweet_shapes(tmp_path):
    objects = [
        {
            "legacy": {"full_text": TEXTS[0], "created_at": "Wed Oct 10 20:19:24 +0000 2018"},
            "rest_id": IDS[0],
        },
        {"tweet": {"full_text": TEXTS[1], "id": int(IDS[1]), "user": {"screen_name": "someone"}}},
        {"text": "truncated…", "extended_tweet": {"full_text": TEXTS[2]}, "id_str": IDS[2]},
        {
            "id": IDS[3],
            "text": TEXTS[3],
            "created_at": "2015-08-27T00:00:00.000Z",
            "author_id": "9",
        },
    ]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(objects), encoding="utf-8")
    m = load_messages(path)
    assert m["text"].tolist() == TEXTS[:4]
    assert m["id"].tolist() == IDS[:4]
    assert m["date"].iloc[0] == "2018-10-10T20:19:24+00:00"
    assert m["sender"].iloc[1] == "someone"


def test_plain_objects_are_a_table(tmp_path):
    rows = [
        {"message": t, "label": "spam" if i % 3 == 0 else "ham", "n": i}
        for i, t in enumerate(TEXTS[:9])
    ]
    path = tmp_path / "objs.json"
    path.write_text(json.dumps({"messages": rows}), encoding="utf-8")
    result = load_collection(path)
    m = result.messages
    assert m["text"].tolist() == TEXTS[:9]
    assert m["user_spam"].tolist() == [1, 0, 0] * 3
    assert list(result.extra.columns) == ["message", "label", "n"]
    assert result.extra["n"].tolist() == [str(i) for i in range(9)]


def test_array_of_strings(tmp_path):
    path = tmp_path / "strings.json"
    path.write_text(json.dumps(TEXTS[:5]), encoding="utf-8")
    m = load_messages(path)
    assert m["text"].tolist() == TEXTS[:5] and len(m) == 5


def test_jsonl_without_extension_is_detected(tmp_path):
    path = tmp_path / "dump"
    path.write_text(
        "\n".join(
            json.dumps({"id_str": i, "full_text": t}) for i, t in zip(IDS, TEXTS, strict=True)
        )
    )
    assert load_messages(path)["text"].tolist() == TEXTS


def test_lone_surrogate_escapes_do_not_crash(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "bad \\ud800 half", "id": "x\\udfff"}\n{"text": "fine"}\n')
    m = load_messages(path)
    assert m["text"].tolist() == ["bad \ufffd half", "fine"]


def test_truncated_json_line_and_column(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(TWEETS[:3], indent=1)[:-30], encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_collection(path)
    assert info.value.line is not None and info.value.line > 1
    assert "t.json" in str(info.value) and "column" in info.value.reason


def test_tweets_js_error_names_expected_prefix(tmp_path):
    path = tmp_path / "tweets.js"
    path.write_text("window.YTD.tweet.part0 [" + json.dumps(TWEETS[:1])[1:])
    with pytest.raises(InputError, match="window.YTD") as info:
        load_collection(path)
    assert info.value.line == 1


def test_chunks_of_jsonl(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"id_str": i, "full_text": t}) for i, t in zip(IDS, TEXTS, strict=True)
        )
        * 1
    )
    chunks = list(iter_collection_chunks(path, chunksize=10))
    assert [len(c.messages) for c in chunks] == [10, 10, 4]
    assert [t for c in chunks for t in c.messages["text"]] == TEXTS


def test_inspect_jsonl():
    preview = inspect_table(TW / "tweets.jsonl", nrows=3)
    assert preview.format == "jsonl" and preview.columns == ["id", "text", "sentiment"]
    assert len(preview.rows) == 3 and preview.kind == "tweet"
    assert preview.text_column == "text" and preview.label_columns == {"sentiment": "sentiment"}


_text = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs",)), st.sampled_from(list(",;|\t\r\n\"'\\ "))
    ),
    min_size=0,
    max_size=60,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(_text, min_size=1, max_size=12), ensure_ascii=st.booleans())
def test_jsonl_round_trip(tmp_path_factory, texts, ensure_ascii):
    path = tmp_path_factory.mktemp("j") / "r.jsonl"
    lines = [
        json.dumps({"id": str(i), "text": t}, ensure_ascii=ensure_ascii)
        for i, t in enumerate(texts)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    m = load_messages(path)
    assert m["text"].tolist() == texts
    assert m["id"].tolist() == [str(i) for i in range(len(texts))]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(_text, min_size=1, max_size=12))
def test_json_array_of_tweets_round_trip(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("j") / "r.json"
    path.write_text(
        json.dumps([{"id_str": str(i), "full_text": t} for i, t in enumerate(texts)]), "utf-8"
    )
    m = load_messages(path)
    assert m["text"].tolist() == texts and set(m["kind"]) == {"tweet"}
