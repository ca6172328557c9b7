"""The Dask recipe of docs/distributed.md gives the rows `triage classify` writes.

Runs on Dask's local (threaded) scheduler; skipped when dask[dataframe] is not installed
(``pip install "triage[dask]"``). Inputs are real messages from tests/fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
import dask  # noqa: E402

from guiapp.core import session  # noqa: E402
from guiapp.core.collection import Collection  # noqa: E402
from guiapp.core.distributed import (  # noqa: E402
    classify_partition,
    output_columns,
    output_meta,
)
from guiapp.core.io import load_collection  # noqa: E402
from guiapp.core.pipeline import CLASSIFY_COLUMNS, classify_files  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SMS_CSV = FIXTURES / "qt" / "sms.csv"  # 300 SMS, one column "message"
ENRON_CSV = FIXTURES / "models" / "enron.csv"  # Enron mail: label, subject, text


def _read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype("string").fillna("")
    return pd.read_csv(path, dtype=str, keep_default_na=False).astype("string")


def _same(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(ours.columns) == list(reference.columns)
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True).astype("string"),
        reference.reset_index(drop=True).astype("string"),
        check_dtype=False,
    )


def test_csv_partitions_give_the_rows_of_triage_classify(tmp_path):
    reference_file = tmp_path / "classified.csv"
    classify_files([SMS_CSV], reference_file, clusters=0)
    reference = _read_output(reference_file)

    frame = dd.read_csv(SMS_CSV, dtype=str, keep_default_na=False, blocksize=8_000)
    assert frame.npartitions > 1  # several partitions, each classified on its own
    out = frame.map_partitions(
        classify_partition,
        text_column="message",
        source=str(SMS_CSV),
        meta=output_meta(frame._meta, text_column="message"),
    )
    with dask.config.set(scheduler="threads"):
        result = out.compute()

    assert len(result) == 300
    # The CSV's own column comes after the classify columns, under its own name.
    assert list(result.columns) == [*CLASSIFY_COLUMNS, "message"]
    _same(result, reference)
    assert set(result["spam"]) == {"ham", "spam"}
    assert set(result["sentiment"]) <= {"negative", "neutral", "positive"}


def test_parquet_email_partitions_use_the_subject_like_triage_classify(tmp_path):
    mails = pd.read_csv(ENRON_CSV, dtype=str, keep_default_na=False)
    source = tmp_path / "mails.parquet"
    mails.to_parquet(source, row_group_size=20)
    reference_file = tmp_path / "classified.parquet"
    classify_files([source], reference_file, clusters=0)
    reference = _read_output(reference_file)

    frame = dd.read_parquet(source, split_row_groups=True)
    assert frame.npartitions == 3
    meta = output_meta(frame._meta, text_column="text")
    out = frame.map_partitions(
        classify_partition, text_column="text", source=str(source), meta=meta
    )
    result = out.compute(scheduler="threads")

    _same(result, reference)
    # The input's own columns follow; its "text", read as the text, is not written twice.
    assert list(result.columns) == [*CLASSIFY_COLUMNS, "label", "subject"]
    # The models read the subject: without it some predictions change.
    bare = classify_partition(mails.drop(columns=["subject"]), text_column="text")
    assert (bare["spam_score"] != result["spam_score"].reset_index(drop=True)).any()


def test_themes_fitted_beforehand_are_assigned_in_every_partition():
    frame = pd.read_csv(SMS_CSV, dtype=str, keep_default_na=False)
    collection = Collection.from_load(load_collection(SMS_CSV))
    clustering = session.cluster(collection, k=4, seed=0)
    parts = [
        classify_partition(part, text_column="message", clustering=clustering)
        for part in (frame.iloc[:100], frame.iloc[100:250], frame.iloc[250:])
    ]
    together = pd.concat(parts, ignore_index=True)
    expected = [str(c) if c >= 0 else "" for c in clustering.labels]
    assert together["cluster"].tolist() == expected
    terms = [" ".join(t) for t in clustering.top_terms]
    assert set(together["cluster_terms"]) - {""} <= set(terms)


def test_empty_partition_is_the_meta_and_columns_are_stable():
    frame = pd.read_csv(SMS_CSV, dtype=str, keep_default_na=False)
    meta = output_meta(frame.iloc[:0], text_column="message")
    empty = classify_partition(frame.iloc[:0], text_column="message")
    assert list(empty.columns) == list(meta.columns) == output_columns(["message"], "message")
    assert len(empty) == 0
    full = classify_partition(frame.iloc[:5], text_column="message")
    assert list(full.columns) == list(meta.columns)
    assert (full.dtypes == meta.dtypes).all()


def test_a_mapped_mail_field_is_a_column_in_every_partition_even_when_empty():
    frame = pd.DataFrame(
        {
            "Subject": ["", "Cheap meds now"],
            "body": ["see you at lunch tomorrow", "WIN a FREE prize, call now"],
        }
    )
    columns = output_columns(frame.columns, "body")
    assert columns == [*CLASSIFY_COLUMNS, "subject", "Subject", "body"]
    first = classify_partition(frame.iloc[:1], text_column="body")
    second = classify_partition(frame.iloc[1:], text_column="body")
    assert list(first.columns) == list(second.columns) == columns
    assert first["subject"].tolist() == [""]
    assert second["subject"].tolist() == ["Cheap meds now"]


def test_a_missing_text_column_names_the_column():
    frame = pd.read_csv(SMS_CSV, dtype=str, keep_default_na=False)
    with pytest.raises(Exception, match="body"):
        classify_partition(frame, text_column="body")
