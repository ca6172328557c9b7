"""Parquet files (as written by pandas/pyarrow): every column read as text."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from guiapp.core.io import tables
from guiapp.core.io.base import LoadResult, Options, Origin, TablePreview
from guiapp.core.messages import STRING_DTYPE
from guiapp.core.progress import Hooks


def _open(source: bytes | str, origin: Origin) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else source)
    except (pa.ArrowException, OSError, ValueError) as err:
        raise origin.error(f"not a readable Parquet file ({err})") from None


def _as_strings(table: pa.Table) -> pd.DataFrame:
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_string(column.type):
            if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
                column = column.cast(pa.string())
            elif pa.types.is_nested(column.type) or pa.types.is_binary(column.type):
                column = pa.chunked_array(
                    [
                        pa.array(
                            [None if v is None else str(v) for v in column.to_pylist()], pa.string()
                        )
                    ]
                )
            else:
                column = pc.cast(column, pa.string())
        columns[str(name)] = pd.Series(pd.arrays.ArrowStringArray(column), copy=False)
    return pd.DataFrame(columns).astype(STRING_DTYPE)


def read_parquet(source: bytes | str, origin: Origin, options: Options, hooks: Hooks) -> LoadResult:
    pf = _open(source, origin)
    try:
        table = pf.read()
    except (pa.ArrowException, OSError) as err:
        raise origin.error(f"unreadable Parquet data ({err})") from None
    if table.num_rows == 0:
        raise origin.error("the Parquet file holds no rows")
    frame = _as_strings(table)
    plan = tables.plan_table(frame, origin, options)
    result = tables.apply_plan(plan, frame, origin)
    result.problems = plan.problems + result.problems
    hooks.step(1, 1, "reading Parquet")
    return result


def iter_parquet(
    path: str, origin: Origin, options: Options, chunksize: int, hooks: Hooks
) -> Iterator[LoadResult]:
    pf = _open(path, origin)
    plan = None
    done = 0
    for batch in pf.iter_batches(batch_size=chunksize):
        frame = _as_strings(pa.Table.from_batches([batch]))
        if plan is None:
            plan = tables.plan_table(frame, origin, options)
        yield tables.apply_plan(plan, frame, origin)
        done += batch.num_rows
        hooks.step(done, pf.metadata.num_rows, "reading Parquet")


def preview_parquet(source: bytes | str, origin: Origin, nrows: int) -> TablePreview:
    pf = _open(source, origin)
    table = next(pf.iter_batches(batch_size=max(nrows, tables.SAMPLE_ROWS)), None)
    if table is None:
        raise origin.error("the Parquet file holds no rows")
    frame = _as_strings(pa.Table.from_batches([table]))
    try:
        plan = tables.plan_table(frame, origin, Options())
        text, candidates, labels, kind = (
            plan.text,
            plan.text_candidates,
            plan.label_columns,
            plan.kind,
        )
        mode = plan.mode
    except tables.AmbiguousTextColumn as err:
        text, candidates, labels, kind, mode = None, err.candidates, {}, "text", "plain"
    head = frame.iloc[:nrows]
    return TablePreview(
        path=origin.source,
        format="parquet",
        columns=list(frame.columns),
        rows=[
            ["" if v is None or v is pd.NA else str(v) for v in row]
            for row in head.itertuples(index=False)
        ],
        delimiter=None,
        encoding="utf-8",
        has_header=True,
        quoting="minimal",
        text_column=text,
        text_candidates=candidates,
        label_columns=labels,
        kind=kind,
        mode=mode,
    )
