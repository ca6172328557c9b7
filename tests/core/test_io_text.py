"""Plain text importer: one message per line."""

from __future__ import annotations

from pathlib import Path

from guiapp.core.io import load_collection, load_messages

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _sms() -> list[str]:
    lines = (FIX / "sms" / "SMSSpamCollection_sample.tsv").read_text("utf-8").splitlines()
    return [ln.split("\t", 1)[1] for ln in lines]


def test_one_message_per_line_blank_lines_skipped(tmp_path):
    texts = _sms()[:10]
    path = tmp_path / "notes.txt"
    path.write_text("\n\n".join(texts) + "\n\n  \n", encoding="utf-8")
    result = load_collection(path)
    m = result.messages
    assert m["text"].tolist() == [t.strip() for t in texts]
    assert set(m["kind"]) == {"text"} and set(m["source"]) == {str(path)}
    assert len(result.extra.columns) == 0 and not result.problems


def test_tweets_one_per_line_are_tweets(tmp_path):
    path = tmp_path / "tweets.txt"
    lines = [
        ln.split("\t")[2]
        for ln in (FIX / "tweets" / "semeval_2016_sample.tsv").read_text("utf-8").splitlines()
    ]
    path.write_text("\n".join("@user " + t for t in lines), encoding="utf-8")
    assert set(load_messages(path)["kind"]) == {"tweet"}


def test_txt_with_commas_stays_lines(tmp_path):
    texts = [t for t in _sms() if "," in t][:5]
    path = tmp_path / "commas.txt"
    path.write_text("\n".join(texts), encoding="utf-8")
    assert load_messages(path)["text"].tolist() == [t.strip() for t in texts]


def test_cp1252_line_is_reported_with_its_line(tmp_path):
    path = tmp_path / "enc.txt"
    path.write_bytes(b"first line\n" + "Caf\u00e9 \u00a35\n".encode("cp1252"))
    result = load_collection(path)
    assert result.messages["text"].tolist() == ["first line", "Café £5"]
    [problem] = result.problems
    assert problem.location.line == 2 and "cp1252" in problem.reason


def test_crlf_and_kind_keyword(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"one two\r\nthree four\r\n")
    m = load_messages(path, kind="sms")
    assert m["text"].tolist() == ["one two", "three four"] and set(m["kind"]) == {"sms"}


def test_sms_collection_saved_as_txt_is_a_table(tmp_path):
    path = tmp_path / "SMSSpamCollection.txt"
    path.write_bytes((FIX / "sms" / "SMSSpamCollection_sample.tsv").read_bytes())
    m = load_messages(path)
    labels = [ln.split("\t", 1)[0] for ln in path.read_text("utf-8").splitlines()]
    assert m["text"].tolist() == _sms()
    assert m["user_spam"].tolist() == [int(lab == "spam") for lab in labels]
    assert set(m["kind"]) == {"sms"}
