"""``triage classify`` on inputs bigger than memory should hold: 10,000,000 rows, streamed.

Builds (once, into benchmarks/cache/) a 10,000,000-row short-message CSV (texts drawn with
replacement from the SMS Spam Collection and the SemEval tweets) and the same rows as
Parquet, then runs the real command line in a child process for each:

- ``triage classify short_10000000.csv -o out.csv``
- ``triage classify short_10000000.parquet -o out.parquet``

with no ``--chunk-size`` (the inputs are above ``pipeline.STREAM_ABOVE_BYTES``, so the
command streams by itself). Reported: wall time, rows per second, the child's peak RSS,
whether the progress bar moved (tqdm on stderr), the output's row count and columns, and
whether the labels of the first 100,000 output rows equal an in-memory classification of
the same rows (the streamed path must not change answers).

Usage::

    python -m benchmarks.bench_stream                    # 10,000,000 rows, CSV and Parquet
    python -m benchmarks.bench_stream --rows 1000000 --formats csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _common as C

CHECK_ROWS = 100_000


def _input(rows: int, fmt: str) -> Path:
    return C.big_short_csv(rows) if fmt == "csv" else C.short_parquet(rows)


def _read_labels(path: Path, rows: int) -> tuple[int, list[str], dict[str, np.ndarray]]:
    """(row count, columns, first ``rows`` spam/sentiment labels) of a classify output."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        pf = pq.ParquetFile(path)
        total = pf.metadata.num_rows
        columns = pf.schema_arrow.names
        head = next(pf.iter_batches(batch_size=rows, columns=["spam", "sentiment"]))
    else:
        options = pacsv.ConvertOptions(
            include_columns=["spam", "sentiment"], strings_can_be_null=False
        )
        reader = pacsv.open_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=options,
        )
        total, head_parts = 0, []
        for batch in reader:
            if total < rows:
                head_parts.append(batch)
            total += batch.num_rows
        import pyarrow as pa

        head = pa.Table.from_batches(head_parts).slice(0, rows)
        with open(path, encoding="utf-8", newline="") as fh:
            columns = next(csv.reader(fh))
    labels = {
        name: np.asarray(head.column(name).to_pylist()[:rows], dtype=object)
        for name in ("spam", "sentiment")
    }
    return total, columns, labels


def _reference(source: Path, rows: int) -> dict[str, np.ndarray]:
    """Labels of the first ``rows`` input rows, classified in memory (not streamed)."""
    from guiapp.core import session
    from guiapp.core.collection import Collection
    from guiapp.core.io import iter_collection_chunks
    from guiapp.core.messages import label_names

    first = next(iter_collection_chunks(source, chunksize=rows))
    collection = Collection.from_load(first)
    predictions = session.predict(collection)
    out = {}
    for task in ("spam", "sentiment"):
        collection.set_predictions(task, predictions.prob[task], predictions.versions[task])
        out[task] = label_names(task, collection.predicted(task))
    return out


def run_one(source: Path, output: Path) -> dict:
    cmd = [sys.executable, "-m", "guiapp", "classify", str(source), "-o", str(output)]
    env = dict(os.environ, TRIAGE_DATA_DIR=tempfile.mkdtemp(prefix="triage-bench-stream-"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=C.REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stderr = proc.stderr
    bar = [ln for ln in re.split(r"[\r\n]", stderr) if "|" in ln and ln.strip()]
    updates = len(bar)
    summary = [ln for ln in stderr.splitlines() if ln.startswith("classified")]
    record = {
        "command": "triage " + " ".join(cmd[3:]).replace(str(C.CACHE), "cache"),
        "exit": proc.returncode,
        "seconds": round(seconds, 1),
        "input_mb": round(source.stat().st_size / 1e6),
        # ru_maxrss of children is the largest child so far: valid while that is this one.
        "peak_rss_mb": round(peak / 1024) if peak > before else None,
        "progress_bar_updates": updates,
        "progress_bar_samples": [bar[len(bar) // 2].strip(), bar[-1].strip()] if bar else [],
        "summary": summary[-1] if summary else "",
    }
    if proc.returncode != 0:
        record["stderr_tail"] = stderr.strip().splitlines()[-10:]
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--formats", nargs="+", choices=["csv", "parquet"], default=["csv", "parquet"]
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from guiapp.core.pipeline import STREAM_ABOVE_BYTES

    figures: dict = {"rows": args.rows, "stream_above_mb": STREAM_ABOVE_BYTES / 1e6}
    ok = True
    for fmt in args.formats:
        t = time.perf_counter()
        source = _input(args.rows, fmt)
        built = time.perf_counter() - t
        with tempfile.TemporaryDirectory(dir=C.cache_dir()) as tmp:
            output = Path(tmp) / f"classified.{fmt}"
            record = run_one(source, output)
            record["input_built_seconds"] = round(built, 1)
            if record["exit"] == 0:
                record["output_mb"] = round(output.stat().st_size / 1e6)
                total, columns, labels = _read_labels(output, CHECK_ROWS)
                record["output_rows"] = total
                record["output_columns"] = columns
                reference = _reference(source, CHECK_ROWS)
                record[f"first_{CHECK_ROWS}_labels_equal_in_memory"] = all(
                    bool((labels[t] == reference[t]).all()) for t in ("spam", "sentiment")
                )
                record["rows_per_second"] = round(total / record["seconds"])
                ok &= total == args.rows
            else:
                ok = False
        figures[fmt] = record
        print(json.dumps({fmt: record}, indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
