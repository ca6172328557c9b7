"""`triage classify` decides to stream by the size of the data, not of its (compressed) file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from guiapp.core import pipeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _repeated_parquet(tmp_path: Path) -> Path:
    # 300 real SMS repeated 20 times: Parquet's dictionary encoding makes the file far
    # smaller than the texts it holds, as it does for real piles that repeat themselves.
    texts = pd.read_csv(FIXTURES / "qt" / "sms.csv", dtype=str, keep_default_na=False)
    frame = pd.concat([texts] * 20, ignore_index=True)
    path = tmp_path / "sms.parquet"
    frame.to_parquet(path)
    return path


def test_parquet_counts_its_uncompressed_size(tmp_path):
    path = _repeated_parquet(tmp_path)
    size = path.stat().st_size
    data = pipeline._input_bytes([str(path)])
    texts = pd.read_parquet(path)["message"].str.len().sum()
    assert data > 3 * size
    assert data >= texts


def test_compressed_text_counts_more_than_its_file(tmp_path):
    import gzip

    path = tmp_path / "sms.csv.gz"
    path.write_bytes(gzip.compress((FIXTURES / "qt" / "sms.csv").read_bytes()))
    assert pipeline._input_bytes([str(path)]) == path.stat().st_size * pipeline.COMPRESSION_RATIO


def test_a_small_parquet_of_much_data_is_streamed_with_the_same_labels(tmp_path, monkeypatch):
    path = _repeated_parquet(tmp_path)
    whole = tmp_path / "whole.csv"
    pipeline.classify_files([path], whole, clusters=0)
    # A threshold between the file's size and its data's size: only the data size streams.
    monkeypatch.setattr(pipeline, "STREAM_ABOVE_BYTES", 2 * path.stat().st_size)
    monkeypatch.setattr(pipeline, "DEFAULT_CHUNK_ROWS", 1000)
    calls = []
    real_chunks = pipeline._chunks

    def spy(*args, **kwargs):
        calls.append(args)
        yield from real_chunks(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_chunks", spy)
    streamed = tmp_path / "streamed.csv"
    pipeline.classify_files([path], streamed, clusters=0)
    assert calls, "the input was not streamed"
    a = pd.read_csv(whole, dtype=str, keep_default_na=False)
    b = pd.read_csv(streamed, dtype=str, keep_default_na=False)
    assert len(b) == 6000
    pd.testing.assert_frame_equal(a, b)
