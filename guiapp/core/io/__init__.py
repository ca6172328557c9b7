"""Import messages from files: CSV/TSV, JSON (incl. tweet archives), email, plain text.

Every importer produces the one message schema of :mod:`guiapp.core.messages` plus the
original columns of tabular inputs, and reports what it had to skip. One module per
format family: :mod:`.csv_tsv`, :mod:`.json_`, :mod:`.mail`, :mod:`.text`, :mod:`.parquet`,
:mod:`.archive` (zip/tar/gz); :mod:`.detect` sniffs formats and encodings, :mod:`.tables`
maps columns to fields, :mod:`.dispatch` walks folders and routes files.

Public API
----------
load_collection(paths, ...) -> LoadResult
load_messages(paths, ...) -> DataFrame
inspect_table(path, nrows=50) -> TablePreview
iter_collection_chunks(path, chunksize=100_000, ...) -> Iterator[LoadResult]
"""

from __future__ import annotations

import pandas as pd

from guiapp.core.io.base import AmbiguousTextColumn, LoadResult, TablePreview
from guiapp.core.io.dispatch import inspect_table, iter_collection_chunks, load_collection

__all__ = [
    "AmbiguousTextColumn",
    "LoadResult",
    "TablePreview",
    "inspect_table",
    "iter_collection_chunks",
    "load_collection",
    "load_messages",
]


def load_messages(paths, **kwargs) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The messages of :func:`load_collection` alone (same arguments)."""
    return load_collection(paths, **kwargs).messages
