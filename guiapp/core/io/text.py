"""Plain text: one message per line, blank lines skipped."""

from __future__ import annotations

import pandas as pd

from guiapp.core.io import tables
from guiapp.core.io.base import LoadResult, Options, Origin
from guiapp.core.io.detect import decode_text
from guiapp.core.messages import STRING_DTYPE, make_frame
from guiapp.core.progress import Hooks


def read_text(data: bytes, origin: Origin, options: Options, hooks: Hooks) -> LoadResult:
    decoded = decode_text(data, origin)
    lines = decoded.text.splitlines()
    texts = [line.strip() for line in lines]
    texts = [t for t in texts if t]
    if not texts:
        raise origin.error("the file holds no text (only blank lines)")
    kind = options.kind or tables.guess_kind_from_texts(texts[: tables.SAMPLE_ROWS])
    n = len(texts)
    text_col = pd.Series(texts, dtype=STRING_DTYPE)
    subject = tables.constant("", n)
    messages = make_frame(
        {
            "id": tables.fill_ids(None, subject, text_col),
            "source": tables.constant(origin.source, n),
            "kind": tables.constant(kind, n),
            "text": text_col,
        },
        n,
    )
    hooks.step(1, 1, "reading lines")
    return LoadResult(
        messages,
        pd.DataFrame(index=pd.RangeIndex(n)),
        list(decoded.problems),
        [origin.source],
        {origin.source: decoded.encoding},
    )
