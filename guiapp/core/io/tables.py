"""Turn a table of string columns (CSV, JSON objects, Parquet) into messages.

One plan per file decides, from the column names and a sample of the values, which column
is the text, which are ids/subject/sender/date, which hold the user's spam or sentiment
labels, and what kind the messages are. The plan is then applied to the whole table, or to
each chunk of a streamed one, the same way.
"""

from __future__ import annotations

import hashlib
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from guiapp.core.errors import Problem, name_list
from guiapp.core.export import EXPORT_COLUMNS, RESTORE_PATTERN, restore_cell  # noqa: E402
from guiapp.core.io.base import AmbiguousTextColumn, LoadResult, Options, Origin
from guiapp.core.messages import (
    KINDS,
    NO_LABEL,
    STRING_DTYPE,
    content_id,
    make_frame,
    sentiment_code,
    sentiment_numeric_scheme,
    spam_code,
)

SAMPLE_ROWS = 2000

_EXPORT_SET = set(EXPORT_COLUMNS)

TEXT_NAMES = (
    "text",
    "full_text",
    "message",
    "body",
    "content",
    "tweet",
    "tweet_text",
    "sms",
    "sms_text",
    "v2",
    "message_text",
    "text_message",
    "message_body",
    "email_text",
    "email_body",
    "review",
    "review_text",
    "reviewtext",
    "review_body",
    "comment",
    "comment_text",
    "msg",
    "post",
    "selftext",
    "messages",
    "sentence",
    "document",
)
_TEXT_WORDS = ("text", "message", "body", "content", "tweet", "review", "comment", "sms")
_NOT_TEXT = re.compile(
    r"(^|_)(id|ids|count|len|length|date|time|type|at|url|urls|lang|language|score|label|"
    r"labels|kind|by|class|category|sentiment|spam|polarity|number|num|no|name|names)$"
)
ID_NAMES = (
    "id",
    "id_str",
    "message_id",
    "messageid",
    "msg_id",
    "tweet_id",
    "status_id",
    "rest_id",
)
SUBJECT_NAMES = ("subject", "email_subject", "subject_line")
SENDER_NAMES = (
    "sender",
    "from",
    "author",
    "username",
    "user_name",
    "screen_name",
    "user_screen_name",
    "author_name",
    "user",
    "from_address",
)
DATE_NAMES = (
    "date",
    "created_at",
    "timestamp",
    "datetime",
    "date_time",
    "time",
    "sent",
    "sent_at",
    "tweet_created",
    "posted",
    "published",
)
SPAM_NAMES = (
    "spam",
    "is_spam",
    "spam/ham",
    "ham/spam",
    "spam_ham",
    "spamham",
    "spam_label",
    "label_spam",
    "v1",
)
SENTIMENT_NAMES = (
    "sentiment",
    "airline_sentiment",
    "polarity",
    "sentiment_label",
    "label_sentiment",
    "sentiment_class",
)
GENERIC_LABEL_NAMES = (
    "label",
    "labels",
    "class",
    "category",
    "target",
    "y",
    "tag",
    "type",
    "classification",
    "gold_label",
    "annotation",
)
_TWEET_HINTS = {
    "tweet",
    "tweet_text",
    "full_text",
    "tweet_id",
    "id_str",
    "retweet_count",
    "favorite_count",
    "airline_sentiment",
    "tweet_created",
    "screen_name",
    "user_screen_name",
    "hashtags",
    "in_reply_to_status_id",
    "retweeted",
}
_SMS_HINTS = {"sms", "sms_text", "v2"}
_TWEETISH = re.compile(r"(?:^|\s)[@#]\w|https?://t\.co/|\bRT @")
_NUMERIC = re.compile(r"^\s*[-+]?\d+(?:[.,]\d+)?\s*$")
_BLANK = {"", "nan", "na", "n/a", "null", "?", "unlabelled", "unlabeled"}


def norm(name: object) -> str:
    """A column name as compared: lower case, spaces and dashes as underscores."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


@dataclass
class TablePlan:
    """What each column of a table means; see the module docstring."""

    mode: str = "plain"  # "plain", "triage-export", "triage-classify"
    # A Triage export written "safe for spreadsheets" (a CSV with a UTF-8 byte-order mark):
    # its formula-like cells carry a leading ' to drop. Other exports are byte-exact.
    spreadsheet_safe: bool = False
    text: str = ""
    id: str | None = None
    source: str | None = None  # a column of sources (Triage's own exports), else the file
    subject: str | None = None
    sender: str | None = None
    date: str | None = None
    kind_column: str | None = None
    kind: str = "text"  # the kind when no kind column / keyword says otherwise
    kind_fixed: bool = False  # kind= keyword: overrides a kind column
    spam: str | None = None
    sentiment: str | None = None
    sentiment_scheme: str | None = None
    text_candidates: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def label_columns(self) -> dict[str, str]:
        out = {}
        if self.spam:
            out["spam"] = self.spam
        if self.sentiment:
            out["sentiment"] = self.sentiment
        return out


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[:SAMPLE_ROWS]


def _first(names: dict[str, str], wanted: Sequence[str], taken: set[str]) -> str | None:
    for w in wanted:
        col = names.get(w)
        if col is not None and col not in taken:
            return col
    return None


@dataclass
class _TextStats:
    column: str
    mean_len: float
    space_frac: float
    numeric_frac: float
    filled_frac: float

    @property
    def free_text(self) -> bool:
        return (
            self.mean_len >= 6
            and self.space_frac >= 0.3
            and self.numeric_frac < 0.5
            and self.filled_frac > 0.2
        )


def _text_stats(column: str, values: pd.Series) -> _TextStats:
    vals = [v for v in values.tolist() if isinstance(v, str)]
    if not vals:
        return _TextStats(column, 0.0, 0.0, 0.0, 0.0)
    filled = [v for v in vals if v.strip()]
    if not filled:
        return _TextStats(column, 0.0, 0.0, 0.0, 0.0)
    mean_len = sum(len(v) for v in vals) / len(vals)
    space = sum(1 for v in filled if " " in v.strip()) / len(filled)
    numeric = sum(1 for v in filled if _NUMERIC.match(v)) / len(filled)
    return _TextStats(column, mean_len, space, numeric, len(filled) / len(vals))


MAX_CANDIDATE_COLUMNS = 500  # columns looked at for free text (a table may have 100,000)


def text_candidates(frame: pd.DataFrame, exclude: set[str]) -> list[_TextStats]:
    """Columns that hold free text, longest first (among the first 500 columns)."""
    columns = [c for c in frame.columns if c not in exclude][:MAX_CANDIDATE_COLUMNS]
    sample = _sample(frame[columns])
    stats = [_text_stats(c, sample[c]) for c in columns]
    good = [s for s in stats if s.free_text]
    return sorted(good, key=lambda s: -s.mean_len)


def _value_counts(series: pd.Series) -> dict[str, int]:
    counts = series.value_counts(dropna=True)
    if len(counts) > 50:
        return {}
    return {str(k): int(v) for k, v in counts.items()}


def _is_blank(value: str) -> bool:
    return value.strip().strip('"').strip().lower() in _BLANK


def _fit(counts: dict[str, int], fn: Callable[[str], int | None]) -> tuple[float, int]:
    """(share of non-blank occurrences that fn maps, number of distinct mapped codes)."""
    total = mapped = 0
    codes = set()
    for value, n in counts.items():
        if _is_blank(value):
            continue
        total += n
        code = fn(value)
        if code is not None:
            mapped += n
            codes.add(code)
    return (mapped / total if total else 0.0), len(codes)


# How much of a column must read as labels: a column named for the task ("spam",
# "sentiment") is taken when half of it does (the rest is reported); a generic one ("label",
# "class") only when nearly all of it does, or it may be something else entirely.
_NAMED_SHARE = 0.5
_GENERIC_SHARE = 0.95


def _spam_fits(counts: dict[str, int], strict: bool) -> bool:
    share, n_codes = _fit(counts, spam_code)
    return share >= (_GENERIC_SHARE if strict else _NAMED_SHARE) and n_codes >= 1


def _sentiment_fits(counts: dict[str, int], strict: bool) -> tuple[bool, str | None]:
    scheme = sentiment_numeric_scheme(counts.keys())
    share, n_codes = _fit(counts, lambda v: sentiment_code(v, scheme))
    return share >= (_GENERIC_SHARE if strict else _NAMED_SHARE) and n_codes >= 1, scheme


def guess_labels(
    frame: pd.DataFrame,
    origin: Origin,
    *,
    exclude: set[str],
    label_columns: dict[str, str | None] | None,
    headerless: bool = False,
) -> tuple[str | None, str | None, str | None, list[Problem]]:
    """(spam column, sentiment column, sentiment numeric scheme, problems)."""
    problems: list[Problem] = []
    explicit = dict(label_columns or {})
    for task in explicit:
        if task not in ("spam", "sentiment"):
            raise origin.error(f"unknown label task {task!r} (use 'spam' or 'sentiment')")
    spam_col: str | None = None
    sent_col: str | None = None
    scheme: str | None = None
    columns = list(frame.columns)
    for task, col in explicit.items():
        if col is not None and col not in columns:
            raise origin.error(
                f"no column {name_list([col])} for the {task} labels; the columns are "
                + name_list(columns)
            )
    if "spam" in explicit:
        spam_col = explicit["spam"]
    if "sentiment" in explicit:
        sent_col = explicit["sentiment"]
        if sent_col is not None:
            scheme = sentiment_numeric_scheme(_value_counts(frame[sent_col]).keys())
    names = {}
    for c in columns:
        names.setdefault(norm(c), c)
    taken = set(exclude) | {c for c in (spam_col, sent_col) if c}
    counts_cache: dict[str, dict[str, int]] = {}

    def counts(col: str) -> dict[str, int]:
        if col not in counts_cache:
            counts_cache[col] = _value_counts(frame[col])
        return counts_cache[col]

    if "spam" not in explicit:
        ordered = [names[n] for n in SPAM_NAMES if n in names]
        ordered += [c for c in columns if "spam" in norm(c) and c not in ordered]
        for col in ordered:
            if col not in taken and _spam_fits(counts(col), strict=False):
                spam_col = col
                break
    if "sentiment" not in explicit:
        ordered = [names[n] for n in SENTIMENT_NAMES if n in names]
        ordered += [
            c
            for c in columns
            if ("sentiment" in norm(c) or "polarity" in norm(c)) and c not in ordered
        ]
        for col in ordered:
            if col in taken or col == spam_col:
                continue
            fits, sch = _sentiment_fits(counts(col), strict=False)
            if fits:
                sent_col, scheme = col, sch
                break
    generic = [names[n] for n in GENERIC_LABEL_NAMES if n in names]
    if headerless:
        generic += [c for c in columns if c not in generic]
    for col in generic:
        if col in taken or col in (spam_col, sent_col):
            continue
        c = counts(col)
        if not c:
            continue
        if spam_col is None and "spam" not in explicit and _spam_fits(c, strict=True):
            spam_col = col
            continue
        if sent_col is None and "sentiment" not in explicit:
            fits, sch = _sentiment_fits(c, strict=True)
            if fits:
                sent_col, scheme = col, sch
    return spam_col, sent_col, scheme, problems


def plan_table(
    frame: pd.DataFrame,
    origin: Origin,
    options: Options,
    *,
    headerless: bool = False,
    kind_hint: str | None = None,
) -> TablePlan:
    """Decide what each column means from the names and (a sample of) the values."""
    plan = TablePlan()
    columns = [str(c) for c in frame.columns]
    names: dict[str, str] = {}
    for c in columns:
        names.setdefault(norm(c), c)
    if not columns:
        raise origin.error("the table has no columns")
    if options.kind is not None and options.kind not in KINDS:
        raise origin.error(f"unknown kind {options.kind!r} (one of {', '.join(KINDS)})")

    triage = {"id", "source", "kind", "text"} <= set(columns)
    if triage and ({"spam_by", "sentiment_by"} & set(columns)):
        plan.mode = "triage-export"
    elif triage and ({"spam_score", "sentiment_score"} & set(columns)):
        plan.mode = "triage-classify"
    if plan.mode != "plain":
        plan.text, plan.id, plan.kind_column = "text", "id", "kind"
        plan.source = "source"
        plan.subject = "subject" if "subject" in columns else None
        plan.sender = "sender" if "sender" in columns else None
        plan.date = "date" if "date" in columns else None
        if plan.mode == "triage-export":
            plan.spam = "spam" if "spam" in columns and "spam_by" in columns else None
            has_sent = "sentiment" in columns and "sentiment_by" in columns
            plan.sentiment = "sentiment" if has_sent else None
        if options.text_column and options.text_column != "text":
            _check_column(options.text_column, columns, origin)
            plan.text = options.text_column
        if options.label_columns:
            spam, sent, scheme, _ = guess_labels(
                frame, origin, exclude=set(), label_columns=options.label_columns
            )
            if "spam" in options.label_columns:
                plan.spam = spam
            if "sentiment" in options.label_columns:
                plan.sentiment, plan.sentiment_scheme = sent, scheme
        plan.text_candidates = [plan.text]
        if options.kind:
            plan.kind, plan.kind_fixed = options.kind, True
        return plan

    taken: set[str] = set()
    plan.id = _first(names, ID_NAMES, taken)
    if plan.id:
        taken.add(plan.id)
    plan.subject = _first(names, SUBJECT_NAMES, taken)
    if plan.subject:
        taken.add(plan.subject)
    plan.date = _first(names, DATE_NAMES, taken)
    if plan.date:
        taken.add(plan.date)
    kind_col = names.get("kind")
    if kind_col is not None:
        kinds = set(_value_counts(frame[kind_col]).keys())
        if kinds and kinds <= set(KINDS):
            plan.kind_column = kind_col
            taken.add(kind_col)

    # The text column: the caller's choice, else by name, else by content. In a folder or an
    # archive the choice was made for one file; the others without that column guess.
    chosen = options.text_column
    if chosen is not None and chosen not in columns and origin.member is not None:
        chosen = None
        plan.problems.append(
            origin.problem(f"no column {options.text_column!r} here; the text column was guessed")
        )
    if chosen is not None:
        _check_column(chosen, columns, origin)
        plan.text = chosen
    else:
        by_name = _first(names, TEXT_NAMES, taken)
        if by_name is None:
            partial = [
                c
                for c in columns
                if c not in taken
                and any(w in norm(c) for w in _TEXT_WORDS)
                and not _NOT_TEXT.search(norm(c))
            ]
            stats = text_candidates(frame[partial], set()) if partial else []
            by_name = stats[0].column if stats else None
        if by_name is not None:
            plan.text = by_name
        else:
            label_like = {c for c in columns if norm(c) in SPAM_NAMES + SENTIMENT_NAMES}
            exclude = taken | label_like | {names.get(n) for n in SENDER_NAMES if n in names}
            stats = text_candidates(frame, {c for c in exclude if c})
            if not stats:
                raise origin.error(
                    "no column holds message text (the columns are "
                    + name_list(columns)
                    + "); choose the text column"
                )
            if len(stats) > 1 and stats[1].mean_len >= 0.5 * stats[0].mean_len:
                raise AmbiguousTextColumn(
                    origin.file, [s.column for s in stats], member=origin.member
                )
            plan.text = stats[0].column
    taken.add(plan.text)
    plan.text_candidates = [plan.text] + [
        s.column for s in text_candidates(frame, taken) if s.column != plan.text
    ]
    plan.sender = _first(names, SENDER_NAMES, taken)
    if plan.sender:
        taken.add(plan.sender)
    spam, sent, scheme, problems = guess_labels(
        frame,
        origin,
        exclude=taken,
        label_columns=options.label_columns,
        headerless=headerless,
    )
    plan.spam, plan.sentiment, plan.sentiment_scheme = spam, sent, scheme
    plan.problems += problems

    # The kind.
    if options.kind:
        plan.kind, plan.kind_fixed = options.kind, True
    elif kind_hint:
        plan.kind = kind_hint
    else:
        lowered = set(names)
        text_name = norm(plan.text)
        if plan.subject is not None or {"message_id", "from", "to"} <= lowered:
            plan.kind = "email"
        elif text_name in _TWEET_HINTS or lowered & _TWEET_HINTS:
            plan.kind = "tweet"
        elif text_name in _SMS_HINTS or {"v1", "v2"} <= lowered:
            plan.kind = "sms"
        else:
            plan.kind = guess_kind_from_texts(_sample(frame)[plan.text].tolist())
    return plan


def guess_kind_from_texts(texts: Sequence[object]) -> str:
    """'tweet' when many texts have @mentions, #hashtags or t.co links, else 'text'."""
    vals = [t for t in texts if isinstance(t, str) and t.strip()]
    if not vals:
        return "text"
    tweety = sum(1 for t in vals if _TWEETISH.search(t)) / len(vals)
    median = statistics.median(len(t) for t in vals)
    return "tweet" if tweety >= 0.25 and median <= 320 else "text"


def _check_column(name: str, columns: list[str], origin: Origin) -> None:
    if name not in columns:
        raise origin.error(f"no column {name_list([name])}; the columns are " + name_list(columns))


# ----------------------------------------------------------------------------- applying


def constant(value: str, n: int) -> pd.Series:
    """A string column holding one value n times (built in Arrow, not as n Python objects)."""
    return pd.Series(pd.array([value], dtype=STRING_DTYPE).take(np.zeros(n, dtype=np.intp)))


def _strings(series: pd.Series) -> pd.Series:
    return series.reset_index(drop=True).astype(STRING_DTYPE).fillna("")


def unformula(series: pd.Series) -> pd.Series:
    """Undo the exporter's guard against spreadsheet formulas: "'=x" -> "=x"."""
    mask = series.str.match(RESTORE_PATTERN).fillna(False).astype(bool)
    if not mask.any():
        return series
    out = series.copy()
    out[mask] = series[mask].str.slice(1)
    return out


def label_codes(
    series: pd.Series, fn: Callable[[str], int | None]
) -> tuple[np.ndarray, int, list[str]]:
    """(int8 codes, number of non-blank cells fn did not understand, examples of those)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    lut = np.full(len(uniques) + 1, NO_LABEL, dtype=np.int8)
    bad = []
    for i, value in enumerate(uniques):
        code = fn(str(value))
        if code is None:
            if not _is_blank(str(value)):
                bad.append(i)
        else:
            lut[i] = code
    out = lut[codes]  # -1 (NA) picks the last slot: NO_LABEL
    if not bad:
        return out, 0, []
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    n_bad = int(sum(counts[i] for i in bad))
    examples = [str(uniques[i]) for i in bad[:3]]
    return out, n_bad, examples


def fill_ids(ids: pd.Series | None, subject: pd.Series, text: pd.Series) -> pd.Series:
    """Ids as given, with content hashes where missing or empty."""
    n = len(text)
    if ids is None:
        missing = np.ones(n, dtype=bool)
    else:
        ids = _strings(ids).str.strip()
        missing = (ids == "").to_numpy(dtype=bool)
        if not missing.any():
            return ids
    idx = np.flatnonzero(missing)
    txt = text.to_numpy(dtype=object)
    if not subject.str.len().fillna(0).astype(bool).any():
        # The hot path of a big headerless-id CSV: content_id() inlined (a test checks that
        # both agree), ~35% faster for a million rows.
        sha = hashlib.sha256
        hashes = [
            "h:" + sha(("\x00" + txt[i]).encode("utf-8", "surrogatepass")).hexdigest()[:16]
            for i in idx
        ]
    else:
        subj = subject.to_numpy(dtype=object)
        hashes = [content_id(subj[i], txt[i]) for i in idx]
    if ids is None:
        return pd.Series(hashes, dtype=STRING_DTYPE)
    out = ids.copy()
    out.iloc[idx] = hashes
    return out


def apply_plan(
    plan: TablePlan,
    frame: pd.DataFrame,
    origin: Origin,
    *,
    row_numbers: Callable[[np.ndarray], list[int]] | None = None,
) -> LoadResult:
    """Build messages + extra from a table (string columns) following ``plan``."""
    frame = frame.reset_index(drop=True)
    n = len(frame)
    problems: list[Problem] = []
    if plan.mode != "plain" and plan.spreadsheet_safe:
        frame = frame.apply(lambda s: unformula(_strings(s)))
        frame.columns = [restore_cell(str(c)) for c in frame.columns]

    def col(name: str | None) -> pd.Series:
        if name is None:
            return constant("", n)
        return _strings(frame[name])

    text = col(plan.text)
    subject = col(plan.subject)
    if plan.mode == "plain":
        ids = fill_ids(col(plan.id) if plan.id else None, subject, text)
    else:
        ids = fill_ids(col(plan.id), subject, text)
    if plan.kind_fixed or plan.kind_column is None:
        kind = constant(plan.kind, n)
    else:
        kind = col(plan.kind_column)
        bad = ~kind.isin(KINDS)
        if bad.any():
            if plan.mode != "plain":
                problems.append(
                    origin.problem(
                        f"{int(bad.sum())} row(s) with an unknown kind "
                        f"(e.g. {kind[bad].iloc[0]!r}); read as {plan.kind!r}"
                    )
                )
            kind = kind.where(~bad, plan.kind)
    columns: dict[str, object] = {
        "id": ids,
        "source": (
            col(plan.source).replace("", origin.source)
            if plan.source
            else constant(origin.source, n)
        ),
        "kind": kind,
        "subject": subject,
        "sender": col(plan.sender),
        "date": col(plan.date),
        "text": text,
    }
    for task, column, fn in (
        ("spam", plan.spam, spam_code),
        (
            "sentiment",
            plan.sentiment,
            lambda v, s=plan.sentiment_scheme: sentiment_code(v, s),
        ),
    ):
        if column is None:
            continue
        codes, n_bad, examples = label_codes(col(column), fn)
        if plan.mode == "triage-export":
            by = col(f"{task}_by").str.strip().str.lower()
            codes = np.where((by == "user").to_numpy(dtype=bool), codes, NO_LABEL).astype(np.int8)
            n_bad = 0
        if n_bad:
            problems.append(
                origin.problem(
                    f"column {name_list([column])}: {n_bad:,} value(s) not understood as {task} "
                    f"labels (e.g. {name_list(examples, 5)}); left unlabelled"
                )
            )
        columns[f"user_{task}"] = codes
    messages = make_frame(columns, n)
    if plan.mode == "plain":
        extra = frame
    else:
        extra = frame[[c for c in frame.columns if c not in _EXPORT_SET]]
    extra = extra.astype(STRING_DTYPE) if len(extra.columns) else extra
    extra.index = pd.RangeIndex(n)
    return LoadResult(messages, extra, problems, [origin.source])
