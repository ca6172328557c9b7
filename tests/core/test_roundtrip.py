"""Export then import restores every user label and every text exactly (hypothesis)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guiapp.core.collection import Collection
from guiapp.core.commands import set_label
from guiapp.core.export import export_csv
from guiapp.core.io import load_collection
from guiapp.core.messages import make_frame

# Any Unicode a message can hold: everything but NUL (which importers drop from text files
# on purpose) and lone surrogates (not encodable as UTF-8).
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=60,
)
HOSTILE = st.sampled_from(
    [
        "=1+2",
        "+x",
        "-1",
        "@SUM(A1)",
        "\t=x",
        "\r=x",
        "'=x",
        "''-y",
        '"',
        '""',
        ",",
        "\n",
        "\r\n",
        " ",
    ]
)
MESSAGE = st.one_of(TEXT, HOSTILE, st.builds(lambda a, b: a + b, HOSTILE, TEXT))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(MESSAGE, min_size=1, max_size=12),
    subjects=st.lists(MESSAGE, min_size=12, max_size=12),
    spam=st.lists(st.sampled_from([-1, 0, 1]), min_size=12, max_size=12),
    sentiment=st.lists(st.sampled_from([-1, 0, 1, 2]), min_size=12, max_size=12),
    predicted=st.lists(st.floats(0, 1), min_size=12, max_size=12),
)
def test_export_then_import_restores_labels_and_text(
    tmp_path_factory, texts, subjects, spam, sentiment, predicted
):
    n = len(texts)
    frame = make_frame({"text": texts, "subject": subjects[:n], "kind": ["email"] * n})
    c = Collection(frame)
    c.spam_prob[:] = np.asarray(
        predicted[:n], dtype=np.float32
    )  # model labels must not come back as user labels
    for task, values in (("spam", spam[:n]), ("sentiment", sentiment[:n])):
        for code in set(values) - {-1}:
            rows = [i for i, v in enumerate(values) if v == code]
            set_label(c, task, rows, code).apply_to(c)
    folder = tmp_path_factory.mktemp("rt")
    for spreadsheet_safe in (False, True):
        out = folder / f"export-{spreadsheet_safe}.csv"
        export_csv(c, out, spreadsheet_safe=spreadsheet_safe)
        check_round_trip(load_collection(out), c, texts, subjects, spam, sentiment)


def check_round_trip(back, c, texts, subjects, spam, sentiment):
    n = len(texts)
    assert back.problems == []
    m = back.messages
    assert m["text"].tolist() == list(texts)
    assert m["subject"].tolist() == list(subjects[:n])
    assert m["id"].tolist() == c.messages["id"].tolist()
    assert m["user_spam"].tolist() == list(spam[:n])
    assert m["user_sentiment"].tolist() == list(sentiment[:n])
