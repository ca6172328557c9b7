"""Every malformed or hostile input gives an InputError naming the file, or a LoadResult
whose problems say what was skipped -- never any other exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guiapp.core.errors import InputError
from guiapp.core.io import AmbiguousTextColumn, load_collection
from guiapp.core.io import mail as mail_module

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"

# "error": InputError naming the file; "problems": loads, and reports what it skipped or
# read in a degraded way; "ok": odd but valid, loads cleanly (checked for what it holds).
EXPECTED = {
    "csv_ambiguous_text.csv": "error",
    "csv_bad_labels.csv": "problems",
    "csv_bom_only.csv": "error",
    "csv_bz2_truncated.csv.bz2": "error",
    "csv_control_chars.csv": "error",
    "csv_cp1252_undefined_bytes.csv": "problems",
    "csv_cr_only_newlines.csv": "ok",
    "csv_duplicate_headers.csv": "ok",
    "csv_empty.csv": "error",
    "csv_excel_named.xlsx": "error",
    "csv_gzip_of_binary.csv.gz": "error",
    "csv_header_only.csv": "error",
    "csv_label_only_column.csv": "error",
    "csv_mixed_encodings.csv": "problems",
    "csv_no_text_column.csv": "error",
    "csv_not_gzip.csv.gz": "error",
    "csv_nul_bytes.csv": "problems",
    "csv_one_column_numbers.csv": "error",
    "csv_only_delimiters.csv": "error",
    "csv_pdf_named_csv.csv": "error",
    "csv_png_named_csv.csv": "error",
    "csv_ragged_rows.csv": "problems",
    "csv_random_binary.csv": "error",
    "csv_sms_tab_missing.tsv": "problems",
    "csv_stray_quotes.tsv": "ok",
    "csv_truncated.csv.gz": "error",
    "csv_unterminated_quote.csv": "problems",
    "csv_utf16_be_no_bom.tsv": "problems",
    "csv_utf16_no_bom.csv": "problems",
    "csv_whitespace_only.csv": "error",
    "json_bom_utf16.json": "ok",
    "json_deeply_nested.json": "error",
    "json_deeply_nested_object.json": "error",
    "json_empty.json": "error",
    "json_empty_array.json": "error",
    "json_invalid_syntax.json": "error",
    "json_mixed_items.json": "problems",
    "json_nan_and_huge.json": "ok",
    "json_no_list_object.json": "error",
    "json_nul_bytes.json": "error",
    "json_numbers_array.json": "error",
    "json_objects_without_text.json": "error",
    "json_scalar.json": "error",
    "json_string.json": "error",
    "json_text_not_string.json": "problems",
    "json_trailing_comma.json": "error",
    "json_truncated.json": "error",
    "json_utf16_no_bom.json": "problems",
    "jsonl_all_bad.jsonl": "error",
    "jsonl_binary.jsonl": "error",
    "jsonl_deep_line.jsonl": "problems",
    "jsonl_some_bad_lines.jsonl": "problems",
    "mail_attachment_only.eml": "ok",
    "mail_bad_base64.eml": "ok",
    "mail_bad_encoded_subject.eml": "ok",
    "mail_binary.eml": "error",
    "mail_broken_boundary.eml": "problems",
    "mail_crlf_mbox.mbox": "ok",
    "mail_empty.eml": "error",
    "mail_garbage_after_from.mbox": "error",
    "mail_headers_only.eml": "ok",
    "mail_html_scripts.eml": "ok",
    "mail_missing_close_boundary.eml": "ok",
    "mail_nested_multipart.eml": "problems",
    "mail_no_from_lines.mbox": "error",
    "mail_not_mail.eml": "error",
    "mail_nul_in_headers.eml": "ok",
    "mail_one_broken_of_four.mbox": "problems",
    "mail_undeclared_charset.eml": "ok",
    "mail_unknown_charset.eml": "ok",
    "mail_wrong_charset.eml": "ok",
    "parquet_corrupt.parquet": "error",
    "tar_not_a_tar.tgz": "error",
    "tar_truncated.tar.gz": "error",
    "tweets_js_no_text.js": "error",
    "tweets_js_other_prefix.js": "error",
    "tweets_js_truncated.js": "error",
    "tweets_js_wrong_prefix.js": "error",
    "tweets_some_without_text.json": "problems",
    "txt_binary.txt": "error",
    "txt_blank_lines.txt": "error",
    "txt_cp1252.txt": "problems",
    "txt_empty.txt": "error",
    "txt_invalid_utf32_bom.txt": "error",
    "txt_nul_bytes.txt": "problems",
    "txt_utf16_no_bom.txt": "problems",
    "unknown_no_extension": "error",
    "unknown_sqlite.db": "error",
    "zip_empty.zip": "error",
    "zip_good_and_bad_members.zip": "problems",
    "zip_nested_zip.zip": "problems",
    "zip_not_a_zip.zip": "error",
    "zip_only_bad_members.zip": "error",
    "zip_truncated.zip": "error",
}


def test_every_bad_file_has_an_expectation():
    names = sorted(p.name for p in BAD.iterdir())
    assert len(names) >= 60
    assert sorted(EXPECTED) == names


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input(name):
    path = BAD / name
    expected = EXPECTED[name]
    try:
        result = load_collection(path)
    except InputError as err:
        assert expected == "error", f"{name}: unexpected InputError {err}"
        assert name in str(err)
        assert err.file == str(path)
        assert err.reason and err.reason in str(err)
        return
    assert expected != "error", f"{name}: loaded {len(result.messages)} messages"
    if expected == "problems":
        assert result.problems, name
        for problem in result.problems:
            assert problem.location.file == str(path)
            assert problem.reason
            assert name in str(problem)
    else:
        assert not result.problems, [str(p) for p in result.problems]
    assert len(result.messages) > 0
    assert result.messages.index.equals(__import__("pandas").RangeIndex(len(result.messages)))
    assert len(result.extra) == len(result.messages)


def test_bad_files_all_at_once_in_a_folder(tmp_path):
    """A folder of them: the unreadable ones become problems, the rest load -- except an
    ambiguous table, which stops the import so the user can choose its text column."""
    with pytest.raises(AmbiguousTextColumn):
        load_collection(BAD)
    folder = tmp_path / "bad"
    folder.mkdir()
    for path in BAD.iterdir():
        if path.name != "csv_ambiguous_text.csv":
            (folder / path.name).write_bytes(path.read_bytes())
    result = load_collection(folder)
    skipped = {p.location.member for p in result.problems if p.reason.endswith("file skipped")}
    errors = {n for n, e in EXPECTED.items() if e == "error"} - {"csv_ambiguous_text.csv"}
    # Archive errors inside a folder are reported per member, with the member's own reason.
    assert errors <= skipped | {n for n in errors if n.endswith((".zip", ".gz", ".tgz"))}
    assert len(result.messages) > 50
    loaded = {s.split("::", 1)[1] for s in result.messages["source"]}
    assert "csv_ragged_rows.csv" in loaded and "mail_one_broken_of_four.mbox::1" in loaded


# ----------------------------------------------------------------------------- specifics


def test_ambiguous_text_column_names_candidates():
    with pytest.raises(AmbiguousTextColumn) as info:
        load_collection(BAD / "csv_ambiguous_text.csv")
    assert info.value.candidates == ["first", "second"] or set(info.value.candidates) == {
        "first",
        "second",
    }
    result = load_collection(BAD / "csv_ambiguous_text.csv", text_column="second")
    assert len(result.messages) == 6


def test_truncated_json_gives_line_and_column():
    with pytest.raises(InputError) as info:
        load_collection(BAD / "json_truncated.json")
    assert info.value.line == 1
    assert "column" in info.value.reason


def test_jsonl_bad_lines_are_named_by_line():
    result = load_collection(BAD / "jsonl_some_bad_lines.jsonl")
    assert [p.location.line for p in result.problems] == [2, 4]
    assert len(result.messages) == 2


def test_ragged_rows_are_named_by_line():
    result = load_collection(BAD / "csv_ragged_rows.csv")
    assert [p.location.line for p in result.problems] == [3, 4]
    assert len(result.messages) == 2


def test_broken_message_in_mbox_is_skipped_with_its_number():
    result = load_collection(BAD / "mail_one_broken_of_four.mbox")
    assert len(result.messages) == 3
    [problem] = result.problems
    assert problem.location.record == 3 and problem.location.line > 1
    assert list(result.messages["source"].str.rsplit("::", n=1).str[1]) == ["1", "2", "4"]


def test_mixed_encodings_read_line_by_line():
    result = load_collection(BAD / "csv_mixed_encodings.csv")
    assert result.messages["text"].tolist() == ["Café at 5? £ 2 only", "Café at 6? £ 3 only"]
    assert result.encodings[str(BAD / "csv_mixed_encodings.csv")] == "utf-8+cp1252"


def test_utf16_without_bom_is_read():
    result = load_collection(BAD / "csv_utf16_no_bom.csv")
    assert result.messages["user_spam"].tolist() == [0] * 5
    assert "£" in "".join(result.messages["text"]) or len(result.messages) == 5


def test_undeclared_and_unknown_charsets_decode():
    m = load_collection(BAD / "mail_undeclared_charset.eml").messages.iloc[0]
    assert m["text"].startswith("Café costs £5, naïve résumé")
    assert m["subject"] == "café £"
    m = load_collection(BAD / "mail_wrong_charset.eml").messages.iloc[0]
    assert m["text"].startswith("Grüße aus Köln")
    m = load_collection(BAD / "mail_unknown_charset.eml").messages.iloc[0]
    assert m["text"] and m["subject"]


def test_html_mail_loses_script_and_style():
    text = load_collection(BAD / "mail_html_scripts.eml").messages["text"].iloc[0]
    assert "alert" not in text and "color" not in text
    assert text.endswith("second line") and "\n" in text


# ----------------------------------------------------------------------------- generated


def test_20mb_field(hostile):
    result = load_collection(hostile["field_20mb"])
    texts = result.messages["text"].tolist()
    assert len(texts) == 3 and len(texts[1]) == 20_000_000 and texts[2] == "after it"


def test_100k_columns(hostile):
    result = load_collection(hostile["columns_100k"])
    assert len(result.messages) == 1 and result.extra.shape == (1, 100_000)


@pytest.mark.parametrize("name", ["nested_100k", "nested_100k_objects"])
def test_100k_level_json(hostile, name):
    with pytest.raises(InputError, match="nested too deeply") as info:
        load_collection(hostile[name])
    assert hostile[name].name in str(info.value)


def test_50mb_attachment_is_never_decoded(hostile, monkeypatch):
    decoded: list[int] = []
    original = mail_module._decode_part

    def spy(part):
        data = original(part)
        decoded.append(len(data))
        return data

    monkeypatch.setattr(mail_module, "_decode_part", spy)
    result = load_collection(hostile["attachment_50mb"])
    message = result.messages.iloc[0]
    assert message["id"] == "<big@example.org>"
    assert len(message["text"]) < 1000 and "binary" not in message["text"]
    assert decoded and max(decoded) < 1000


def test_zip_bomb_is_refused(hostile):
    with pytest.raises(InputError, match="zip bomb") as info:
        load_collection(hostile["zip_bomb"])
    assert "bomb.zip" in str(info.value)


def test_zip_with_lying_sizes_does_not_inflate(hostile):
    try:
        result = load_collection(hostile["lying_zip"])
    except InputError as err:
        assert "lying_bomb.zip" in str(err)
    else:
        assert result.problems


# ----------------------------------------------------------------------------- mutation fuzz

_GOOD = sorted(
    p
    for p in (BAD.parent).rglob("*")
    if p.is_file() and "bad" not in p.parts and p.suffix not in (".py", ".md")
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.integers(min_value=0, max_value=len(_GOOD) - 1),
    cut=st.floats(min_value=0, max_value=1),
    edits=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1),
            st.sampled_from(
                [
                    b'"',
                    b"\x00",
                    b"\n",
                    b"\r",
                    b",",
                    b"\t",
                    b"{",
                    b"[",
                    b"From ",
                    b"--",
                    b"=?utf-8?b?",
                    b"\xff\xfe",
                    b"<script>",
                    b"\\u",
                ]
            ),
        ),
        max_size=6,
    ),
)
def test_mutated_fixtures_never_crash(tmp_path_factory, index, cut, edits):
    """Truncated or spliced real files: an InputError naming the file, or a result."""
    source = _GOOD[index]
    data = bytearray(source.read_bytes())
    data = data[: max(1, int(len(data) * cut))] if cut < 0.9 else data
    for where, insert in edits:
        pos = int(len(data) * where)
        data[pos:pos] = insert
    path = tmp_path_factory.mktemp("fuzz") / source.name
    path.write_bytes(bytes(data))
    try:
        result = load_collection(path)
    except InputError as err:
        assert source.name in str(err)
    else:
        assert len(result.extra) == len(result.messages)
