"""The command line's whole operations: classify files to a table, evaluate, train.

Thin compositions of the core (io -> collection -> models -> clustering -> export), kept
out of ``guiapp/cli.py`` so the CLI only parses arguments and tests can call these
directly. The window uses the same building blocks through :mod:`guiapp.core.session`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guiapp.core import session
from guiapp.core.collection import Collection
from guiapp.core.errors import InputError, ModelError
from guiapp.core.export import (
    TableWriter,
    cluster_columns,
    names_column,
    scores_column,
)
from guiapp.core.outputs import check_output
from guiapp.core.progress import Hooks

CLASSIFY_COLUMNS = (
    "id",
    "source",
    "kind",
    "text",
    "spam",
    "spam_score",
    "sentiment",
    "sentiment_score",
    "cluster",
    "cluster_terms",
    "model_version",
)
STREAM_ABOVE_BYTES = 256 * 1024 * 1024
"""Inputs bigger than this are classified in chunks (bounded memory)."""
DEFAULT_CHUNK_ROWS = 200_000


# ----------------------------------------------------------------------------- classify
def classify_table(
    collection: Collection,
    clustering=None,
    *,
    omit: set[str] | None = None,
    renamed: dict[str, str] | None = None,
) -> pa.Table:
    """The ``triage classify`` table: :data:`CLASSIFY_COLUMNS`, then the input's columns.

    ``spam`` / ``sentiment`` are the models' predictions (``spam`` / ``ham``;
    ``negative`` / ``neutral`` / ``positive``), ``spam_score`` is P(spam) and
    ``sentiment_score`` the probability of the predicted class. Email fields (subject,
    sender, date) follow when the input has them. An input column named like one of these
    is left out when it holds exactly what Triage writes there (the input's ``text`` column
    read as the text), and is otherwise written with an ``input_`` prefix; ``omit`` fixes
    which are left out (a streamed input decides on its first chunk, so every chunk has
    the same columns). ``renamed`` (when given) receives each rename, input name -> written
    name, to announce.
    """
    m = collection.messages
    if omit is None:
        omit = repeated_inputs(collection)
    columns: dict[str, pa.Array] = {}
    for name in ("id", "source", "kind", "text"):
        columns[name] = pa.array(m[name], type=pa.string())
    for task in ("spam", "sentiment"):
        columns[task] = names_column(task, collection.predicted(task))
        columns[f"{task}_score"] = scores_column(collection.score(task))
    columns["cluster"], columns["cluster_terms"] = cluster_columns(
        collection.cluster, clustering.top_terms if clustering is not None else []
    )
    columns["model_version"] = _constant(model_version_text(collection), len(collection))
    for name in ("subject", "sender", "date"):
        if (m[name] != "").any() and name not in collection.extra.columns:
            columns[name] = pa.array(m[name], type=pa.string())
    for name in collection.extra.columns:
        values = pa.array(collection.extra[name].astype("string"), type=pa.string())
        out = str(name)
        if out in columns and out in omit:
            continue
        while out in columns:
            out = "input_" + out
        if out != str(name) and renamed is not None:
            renamed[str(name)] = out
        columns[out] = values
    return pa.table(columns)


def model_version_text(collection: Collection) -> str:
    """Which models made the predictions: ``spam=shipped;sentiment=P:sentiment-3``
    (a project's own versions are named with the project)."""
    owner = f"{Path(collection.source).stem}:" if collection.source is not None else ""
    return ";".join(
        f"{t}={v if v == 'shipped' else owner + v}"
        for t, v in sorted(collection.model_versions.items())
        if v
    )


def _constant(text: str, n: int) -> pa.Array:
    return pa.array([text], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def repeated_inputs(collection: Collection) -> set[str]:
    """The input columns :func:`classify_table` leaves out: those named like a message
    field it writes (``text``, ``id``, ``subject`` ...) and holding exactly its texts."""
    m = collection.messages
    fields = ("id", "source", "kind", "text", "subject", "sender", "date")
    return {
        str(name)
        for name in collection.extra.columns
        if str(name) in fields
        and _same_text(
            pa.array(m[str(name)], type=pa.string()),
            pa.array(collection.extra[name].astype("string"), type=pa.string()),
        )
    }


def _same_text(a: pa.Array, b: pa.Array) -> bool:
    """Whether two string columns hold the same texts (a missing value counts as "")."""
    return len(a) == len(b) and pc.fill_null(a, "").equals(pc.fill_null(b, ""))


def renames_note(renamed: dict[str, str]) -> str:
    """Each rename as "the input's column 'spam' is written as 'input_spam' ...", or ""."""
    return "; ".join(
        f"the input's column {old!r} is written as {new!r} (Triage writes its own {old!r})"
        for old, new in renamed.items()
    )


def _predict_into(collection: Collection, hooks: Hooks) -> None:
    predictions = session.predict(
        collection, on_progress=hooks.on_progress, stop_requested=hooks.stop_requested
    )
    for task in ("spam", "sentiment"):
        if task not in predictions.prob:
            reason = "; ".join(predictions.notes) or f"no {task} model"
            raise ModelError(f"{task} model", reason)
        collection.set_predictions(task, predictions.prob[task], predictions.versions[task])


def _chunks(inputs: Sequence[str], text_column, chunk_rows: int, hooks: Hooks) -> Iterator:
    from guiapp.core.io import iter_collection_chunks

    for i, path in enumerate(inputs):
        sub = hooks.scaled(i / len(inputs), (i + 1) / len(inputs))
        yield from iter_collection_chunks(
            path,
            chunksize=chunk_rows,
            text_column=text_column,
            on_progress=sub.on_progress,
            stop_requested=sub.stop_requested,
        )


_COMPRESSED = (".gz", ".bz2", ".xz")
COMPRESSION_RATIO = 4
"""Assumed size ratio of text to its gzip/bz2/xz file when deciding whether to stream."""


def _input_bytes(inputs: Sequence[str]) -> int:
    """Roughly how many bytes of data the inputs hold once decoded (what memory scales with):
    for Parquet, the Arrow size of its first 10,000 rows scaled to all rows -- a 250 MB
    Parquet file of 3,000,000 short messages needed 2.5 GB when read whole, and dictionary
    encoding shrinks repetitive texts far more --, compressed text files times
    :data:`COMPRESSION_RATIO`."""
    total = 0
    for p in inputs:
        try:
            if os.path.isdir(p):
                continue
            size = os.path.getsize(p)
            if p.lower().endswith(".parquet"):
                import pyarrow.parquet as pq

                pf = pq.ParquetFile(p)
                head = next(pf.iter_batches(batch_size=10_000), None)
                if head is not None and head.num_rows:
                    size = max(size, head.nbytes * pf.metadata.num_rows // head.num_rows)
            elif p.lower().endswith(_COMPRESSED):
                size *= COMPRESSION_RATIO
            total += size
        except (OSError, ValueError, pa.ArrowException):
            pass  # unreadable here: the importer reports it properly
    return total


def classify_files(
    inputs: Sequence[str | Path],
    output: str | Path,
    *,
    text_column: str | None = None,
    clusters: int | str = "auto",
    chunk_size: int | None = None,
    spreadsheet_safe: bool = False,
    project: str | Path | None = None,
    on_progress=None,
    stop_requested=None,
) -> str:
    """Import ``inputs``, predict both tasks, find themes, write ``output`` (CSV, Excel by an
    ``.xlsx`` suffix, or Parquet); texts are written byte for byte unless
    ``spreadsheet_safe`` (see :mod:`guiapp.core.export`).

    ``project``: a project file whose active models predict (default: the shipped ones).

    Rows keep input order. Inputs larger than :data:`STREAM_ABOVE_BYTES` (or any input when
    ``chunk_size`` is given) are streamed in chunks: themes are learnt on the first chunk
    and every later row is assigned to its nearest theme, so memory stays bounded.
    Returns a one-line summary. Raises InputError / ModelError / ExportError; no output
    file is left behind on failure.
    """
    hooks = Hooks(on_progress, stop_requested)
    inputs = [str(p) for p in inputs]
    output = Path(output)
    check_output(output, inputs)  # before minutes of work, and never over an input
    started = time.perf_counter()
    if clusters == 0:
        clusters = None
    stream = chunk_size is not None or _input_bytes(inputs) > STREAM_ABOVE_BYTES
    counts = np.zeros(5, dtype=np.int64)  # ham, spam, negative, neutral, positive
    problems = 0
    rows = 0
    writer = None
    clustering = None
    schema = None
    renamed: dict[str, str] = {}
    omit: set[str] | None = None
    try:
        if stream:
            # Reading is interleaved with classifying chunk by chunk, so how far the reader
            # is through the input is how far the whole command is (the bar stopped at 30%).
            source = _chunks(inputs, text_column, chunk_size or DEFAULT_CHUNK_ROWS, hooks)
        else:
            from guiapp.core.io import load_collection

            source = iter(
                [
                    load_collection(
                        inputs,
                        text_column=text_column,
                        on_progress=hooks.scaled(0, 0.3).on_progress,
                        stop_requested=hooks.stop_requested,
                    )
                ]
            )
        for result in source:
            problems += len(result.problems)
            collection = Collection.from_load(result)
            if not len(collection):
                continue
            collection.source = Path(project) if project is not None else None
            _predict_into(
                collection,
                hooks.scaled(0.3, 0.7) if not stream else Hooks(None, hooks.stop_requested),
            )
            if clusters is not None:
                if clustering is None:
                    from guiapp.core.clustering import cluster_messages

                    # Themes over the unlabelled messages; a fully labelled input is
                    # grouped whole rather than not at all.
                    mask = ~collection.labelled_by_user()
                    clustering = cluster_messages(
                        collection.messages,
                        mask=mask if mask.any() else np.ones(len(mask), dtype=bool),
                        k=clusters,
                        on_progress=hooks.scaled(0.7, 0.95).on_progress if not stream else None,
                        stop_requested=hooks.stop_requested,
                    )
                    collection.cluster[:] = clustering.labels
                elif clustering.model is not None:
                    collection.cluster[:] = clustering.assign(collection.messages)
            if omit is None:
                omit = repeated_inputs(collection)
            table = classify_table(collection, clustering, omit=omit, renamed=renamed)
            if writer is None:
                schema = table.schema
                writer = TableWriter(
                    output, schema, spreadsheet_safe=spreadsheet_safe, inputs=inputs
                ).__enter__()
            else:
                table = _conform(table, schema)
            writer.write(table)
            rows += len(collection)
            counts[:2] += np.bincount(collection.predicted("spam").clip(0), minlength=2)[:2]
            counts[2:] += np.bincount(collection.predicted("sentiment").clip(0), minlength=3)[:3]
            hooks.check()
        if writer is None:
            raise InputError(
                inputs[0] if len(inputs) == 1 else ", ".join(inputs), "no messages found"
            )
        writer.__exit__(None, None, None)
        notes = writer.notes
        writer = None
    except BaseException as exc:
        if writer is not None:
            writer.__exit__(type(exc), exc, None)
        raise
    hooks.progress(1000, 1000, "done")
    seconds = time.perf_counter() - started
    themes = f", {clustering.k} themes" if clustering is not None else ""
    skipped = f", {problems:,} part{'s' if problems != 1 else ''} skipped" if problems else ""
    notes = [n for n in (renames_note(renamed), *notes) if n]
    return (
        f"classified {rows:,} messages in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f}/s): "
        f"{counts[1]:,} spam, {counts[0]:,} ham; {counts[2]:,} negative, {counts[3]:,} neutral, "
        f"{counts[4]:,} positive{themes}{skipped} -> {output}"
    ) + "".join(f"\nnote: {n}" for n in notes)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Later chunks may lack an optional column of the first (e.g. an empty subject)."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table[field.name])
        else:
            columns.append(pa.array([""] * table.num_rows, type=pa.string()))
    return pa.table(columns, names=schema.names)


# ----------------------------------------------------------------------------- evaluate
def _task_of_column(values, name: str, file: str, task: str | None) -> tuple[str, np.ndarray]:
    """Which task a label column is for (the one whose vocabulary reads every value)."""
    from guiapp.core.messages import sentiment_code, sentiment_numeric_scheme, spam_code

    values = list(values)
    scheme = sentiment_numeric_scheme(values)
    readings = {
        "spam": [spam_code(v) for v in values],
        "sentiment": [sentiment_code(v, scheme) for v in values],
    }
    blank = [str(v).strip() == "" for v in values]
    fits = {
        t: all(b or c is not None for b, c in zip(blank, codes, strict=True)) and not all(blank)
        for t, codes in readings.items()
    }
    choice = (
        task if task else ("spam" if fits["spam"] else "sentiment" if fits["sentiment"] else None)
    )
    if choice is None or not fits[choice]:
        bad = next(
            (
                v
                for v, b, c in zip(values, blank, readings[choice or "spam"], strict=True)
                if not b and c is None
            ),
            None,
        )
        raise InputError(
            file,
            f"column {name!r} does not hold spam or sentiment labels (e.g. {bad!r}); "
            "labels are spam/ham, 1/0, or negative/neutral/positive",
        )
    codes = np.array([-1 if c is None else c for c in readings[choice]], dtype=np.int8)
    return choice, codes


def format_metrics(task: str, metrics: dict, title: str) -> str:
    from guiapp.core.messages import CLASSES

    classes = CLASSES[task]
    lines = [
        title,
        f"  accuracy      {metrics['accuracy']:.4f}",
        f"  macro recall  {metrics['macro_recall']:.4f}",
    ]
    if task == "spam":
        lines.append(f"  spam F1       {metrics['spam_f1']:.4f}")
    lines.append(f"  {'class':<10} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}")
    for name in classes:
        c = metrics["per_class"][name]
        lines.append(
            f"  {name:<10} {c['precision']:>9.4f} {c['recall']:>7.4f} {c['f1']:>7.4f} {c['support']:>8,}"
        )
    lines.append("  confusion matrix (rows: true class, columns: predicted)")
    lines.append("  " + " " * 10 + "".join(f"{n:>10}" for n in classes))
    for name, row in zip(classes, metrics["confusion"], strict=True):
        lines.append(f"  {name:<10}" + "".join(f"{v:>10,}" for v in row))
    return "\n".join(lines)


def evaluate_files(
    inputs: Sequence[str | Path],
    *,
    label_column: str | None = None,
    text_column: str | None = None,
    task: str | None = None,
    project: str | Path | None = None,
    on_progress=None,
    stop_requested=None,
) -> str:
    """``triage evaluate``: the models' metrics on the labelled messages of inputs (the
    shipped models, or the active ones of ``project``)."""
    from guiapp.core import models
    from guiapp.core.io import load_collection

    hooks = Hooks(on_progress, stop_requested)
    inputs = [str(p) for p in inputs]
    where = inputs[0] if len(inputs) == 1 else ", ".join(inputs)
    result = load_collection(inputs, text_column=text_column, **_hooks(hooks.scaled(0, 0.4)))
    messages = result.messages
    labels: dict[str, np.ndarray] = {}
    if label_column:
        if label_column not in result.extra.columns:
            known = ", ".join(map(str, result.extra.columns)) or "none"
            raise InputError(where, f"no column {label_column!r} (columns: {known})")
        chosen, codes = _task_of_column(
            result.extra[label_column].tolist(), label_column, where, task
        )
        labels[chosen] = codes
    else:
        for t in ("spam", "sentiment"):
            codes = messages[f"user_{t}"].to_numpy()
            if (codes >= 0).any() and task in (None, t):
                labels[t] = codes
    if not labels:
        raise InputError(
            where,
            "no labelled messages: no label column was recognised (name one with --label-column)",
        )
    reports = []
    for i, (t, codes) in enumerate(labels.items()):
        model = models.load_from(project, t)
        sub = hooks.scaled(0.4 + 0.6 * i / len(labels), 0.4 + 0.6 * (i + 1) / len(labels))
        metrics = models.evaluate(model, messages, codes, hooks=sub)
        title = f"{t}: {metrics['n']:,} labelled messages, model {model.version}"
        reports.append(format_metrics(t, metrics, title))
    return "\n\n".join(reports)


# ----------------------------------------------------------------------------- train
def train_command(
    *,
    spam: Sequence[str] | None = None,
    sentiment: Sequence[str] | None = None,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    on_progress=None,
    stop_requested=None,
) -> str:
    """``triage train``: rebuild the shipped models, or train on the given labelled files."""
    from guiapp.core import models

    hooks = Hooks(on_progress, stop_requested)
    if out_dir is not None:
        check_output(out_dir, [*(spam or ()), *(sentiment or ())], folder=True)
    if not spam and not sentiment:
        built = models.build_shipped_models(data_dir, out_dir, hooks)
    else:
        built = models.train_from_files(
            spam_files=spam, sentiment_files=sentiment, out_dir=out_dir, hooks=hooks
        )
    lines = []
    for task, model in built.items():
        where = model.path
        lines.append(f"{task}: model {model.version} -> {where}")
        for split, metrics in (model.card.get("evaluation") or {}).items():
            if isinstance(metrics, dict) and metrics.get("accuracy") is not None:
                extra = f", spam F1 {metrics['spam_f1']:.4f}" if "spam_f1" in metrics else ""
                lines.append(
                    f"  {split}: accuracy {metrics['accuracy']:.4f}, macro recall "
                    f"{metrics['macro_recall']:.4f}{extra} (n={metrics.get('n', 0):,})"
                )
    return "\n".join(lines)


def _hooks(h: Hooks) -> dict:
    return {"on_progress": h.on_progress, "stop_requested": h.stop_requested}


__all__ = [
    "CLASSIFY_COLUMNS",
    "classify_files",
    "classify_table",
    "evaluate_files",
    "train_command",
]
