"""Classify a collection that outgrows one machine, on an existing engine (Dask, Spark, ...).

Triage does not distribute work itself. This module gives such an engine one plain,
picklable function to run on every partition of a table: :func:`classify_partition` takes a
:class:`pandas.DataFrame` of input rows and returns the rows ``triage classify`` would write
for them, computed by the same code -- the importer's column plan
(:mod:`guiapp.core.io.tables`), :class:`~guiapp.core.collection.Collection`,
:func:`guiapp.core.session.predict` with the current spam and sentiment models, and
:func:`guiapp.core.pipeline.classify_table`. The recipe for ``dask.dataframe`` is in
``docs/distributed.md``::

    import dask.dataframe as dd
    from guiapp.core.distributed import classify_partition, output_meta

    frame = dd.read_parquet("messages/*.parquet")
    out = frame.map_partitions(classify_partition, text_column="text",
                               meta=output_meta(frame._meta, text_column="text"))
    out.to_parquet("labelled/")

Every partition gets the same columns in the same order (a column that only some inputs fill,
such as a mapped ``subject``, is written as "" where empty), so the partitions of one
dataset concatenate. Themes are optional: k-means needs to see the data before it can assign
it, so fit a :class:`~guiapp.core.clustering.Clustering` on a sample first and pass it as
``clustering``; each partition is then assigned to its nearest theme, as a streamed
``triage classify`` does after its first chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from guiapp.core.errors import ModelError
from guiapp.core.io.base import Options, Origin
from guiapp.core.messages import TASKS

__all__ = ["classify_partition", "output_columns", "output_meta"]

_MAIL_FIELDS = ("subject", "sender", "date")


def _plan(frame: pd.DataFrame, text_column: str, kind: str | None, source: str):
    from guiapp.core.io import tables

    origin = Origin(source)
    # Label columns are not guessed: predictions never read them, and a guess made on one
    # partition's values could differ from the next partition's.
    options = Options(
        text_column=text_column, label_columns={"spam": None, "sentiment": None}, kind=kind
    )
    strings = frame.astype(tables.STRING_DTYPE) if len(frame.columns) else frame
    return tables.plan_table(strings, origin, options), origin, strings


def _read_into_itself(plan) -> set[str]:
    """Input columns the plan reads into the message field of the same name (a ``text``
    column read as the text): :func:`~guiapp.core.pipeline.classify_table` leaves them out,
    as ``triage classify`` does, decided by the plan so every partition agrees."""
    fields = {"text": plan.text, "id": plan.id, "kind": plan.kind_column}
    fields.update({name: getattr(plan, name) for name in _MAIL_FIELDS})
    return {name for name, column in fields.items() if column == name}


def output_columns(
    input_columns: Sequence[object], text_column: str = "text", *, kind: str | None = None
) -> list[str]:
    """The columns :func:`classify_partition` returns for a table with ``input_columns``."""
    from guiapp.core.pipeline import CLASSIFY_COLUMNS

    empty = pd.DataFrame({str(c): pd.Series([], dtype="string") for c in input_columns})
    plan, _, _ = _plan(empty, text_column, kind or "text", "")
    from guiapp.core.io.tables import EXPORT_COLUMNS

    columns = list(CLASSIFY_COLUMNS)
    inputs = [str(c) for c in input_columns]
    if plan.mode != "plain":  # a Triage export or classify output: its own columns are redone
        inputs = [c for c in inputs if c not in EXPORT_COLUMNS]
    for name in _MAIL_FIELDS:
        if getattr(plan, name) is not None and name not in inputs:
            columns.append(name)
    omit = _read_into_itself(plan)
    for name in inputs:
        if name in columns and name in omit:
            continue
        out = name
        while out in columns:
            out = "input_" + out
        columns.append(out)
    return columns


def output_meta(
    frame: pd.DataFrame, text_column: str = "text", *, kind: str | None = None
) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of :func:`classify_partition`'s result
    (what ``dask.dataframe.map_partitions`` wants as ``meta``)."""
    names = output_columns(list(frame.columns), text_column, kind=kind)
    return _to_pandas(pa.table({n: pa.array([], pa.string()) for n in names}))


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def classify_partition(
    df: pd.DataFrame,
    text_column: str = "text",
    *,
    kind: str | None = None,
    source: str = "",
    clustering: Any = None,
    versions: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The ``triage classify`` rows for one partition of input messages.

    Parameters
    ----------
    df : DataFrame
        Input rows, one message each, with the text in ``text_column``; other columns (id,
        subject, sender, date, anything else) are mapped and carried as ``triage classify``
        does for a CSV or Parquet file. Values are read as text.
    text_column : str
        The column holding the message text (given, never guessed, so that every partition
        agrees).
    kind : str, optional
        ``email``, ``tweet``, ``sms`` or ``text`` for every row; default: guessed from the
        column names, else from the partition's texts (it does not change the labels).
    source : str
        What the ``source`` column says (``triage classify`` writes the input file's path).
    clustering : guiapp.core.clustering.Clustering, optional
        Themes fitted beforehand; rows are assigned to the nearest one. Without it the
        ``cluster`` and ``cluster_terms`` columns are empty.
    versions : dict, optional
        Model version per task (default: the active ones), e.g. to pin the shipped models
        while a retrain happens elsewhere.

    Returns
    -------
    DataFrame
        :func:`output_columns` in that order, every column a string, index 0..n-1: the
        predicted ``spam`` / ``sentiment``, P(spam) as ``spam_score``, the probability of
        the predicted sentiment as ``sentiment_score``, as ``triage classify`` writes them.

    Raises
    ------
    guiapp.core.errors.ModelError
        A model cannot be loaded.
    guiapp.core.errors.InputError
        ``text_column`` is not a column of ``df``.
    """
    from guiapp.core import session
    from guiapp.core.collection import Collection
    from guiapp.core.io import tables
    from guiapp.core.pipeline import classify_table

    columns = output_columns(list(df.columns), text_column, kind=kind)
    if len(df) == 0:
        return output_meta(df, text_column, kind=kind)
    plan, origin, strings = _plan(df.reset_index(drop=True), text_column, kind, source)
    collection = Collection.from_load(tables.apply_plan(plan, strings, origin))
    predictions = session.predict(collection, versions=versions)
    for task in TASKS:
        if task not in predictions.prob:
            raise ModelError(f"{task} model", "; ".join(predictions.notes) or f"no {task} model")
        collection.set_predictions(task, predictions.prob[task], predictions.versions[task])
    if clustering is not None and getattr(clustering, "model", None) is not None:
        collection.cluster[:] = clustering.assign(collection.messages)
    table = classify_table(collection, clustering, omit=_read_into_itself(plan))
    n = table.num_rows
    conformed = {
        name: table[name] if name in table.column_names else pa.array([""] * n, pa.string())
        for name in columns
    }
    return _to_pandas(pa.table(conformed))
