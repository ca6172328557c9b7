"""JSON: arrays of objects, JSON Lines, tweet exports, the X/Twitter archive's tweets.js
(``window.YTD.tweets.part0 = [...]``) and API v2 responses (``{"data": [...],
"includes": {"users": [...]}}``).

Objects with tweet fields become tweets (id from ``id_str``/``id``, author from the user
object or ``includes.users``); other objects are read as a table, like a CSV.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd

from guiapp.core.errors import InputError, Problem, name_list
from guiapp.core.io import tables
from guiapp.core.io.base import (
    LoadResult,
    Options,
    Origin,
    TablePreview,
    string_frame,
    strings,
)
from guiapp.core.io.detect import JSONL, TWEETS_JS, decode_text, extension
from guiapp.core.messages import make_frame
from guiapp.core.progress import Hooks

_TWEETS_JS_PREFIX = re.compile(r"^\s*window\.YTD\.[A-Za-z0-9_]+\.part\d+\s*=\s*")
_CONTAINER_KEYS = (
    "data",
    "tweets",
    "statuses",
    "messages",
    "items",
    "records",
    "results",
    "rows",
    "entries",
    "posts",
    "comments",
)
_TWEET_KEYS = {
    "full_text",
    "id_str",
    "retweet_count",
    "favorite_count",
    "author_id",
    "public_metrics",
    "entities",
    "in_reply_to_status_id",
    "in_reply_to_status_id_str",
    "conversation_id",
    "edit_history_tweet_ids",
    "extended_tweet",
    "legacy",
    "note_tweet",
    "retweeted_status",
    "quoted_status",
}
_TWITTER_DATE = "%a %b %d %H:%M:%S %z %Y"


#: Python refuses to turn more digits than this into an int (CVE-2020-10735); 0 = no limit.
INT_DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0


class _HugeInt(str):
    """The digits of a JSON integer too long for Python's int (see :func:`_loads_huge`)."""


def _is_huge_int_error(err: ValueError) -> bool:
    return not isinstance(err, json.JSONDecodeError) and "integer string conversion" in str(err)


def _loads_huge(text: str) -> Any:
    """``json.loads`` for text :func:`json.loads` refused for an integer over
    :data:`INT_DIGITS` digits: such integers become :class:`_HugeInt` (only called then, so
    the common case keeps the C parser's own integer conversion)."""

    def parse_int(digits: str) -> int | _HugeInt:
        if INT_DIGITS and len(digits) - digits.startswith("-") > INT_DIGITS:
            return _HugeInt(digits)
        return int(digits)

    return json.loads(text, parse_int=parse_int)


def _huge_int_in(value: Any) -> _HugeInt | None:
    """The first :class:`_HugeInt` anywhere inside a parsed JSON value (or None)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _HugeInt):
            return item
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _huge_int_reason(digits: str) -> str:
    n = len(digits) - digits.startswith("-")
    return (
        f"holds an integer of {n:,} digits, more than the {INT_DIGITS:,} Python reads as a number"
    )


def _drop_huge_ints(
    items: list[Any], numbers: list[int], origin: Origin, jsonl: bool
) -> tuple[list[Any], list[int], list[Problem]]:
    """The items without those that hold a huge integer, and a problem for each of those."""
    kept, kept_numbers, problems = [], [], []
    for item, number in zip(items, numbers, strict=True):
        huge = _huge_int_in(item)
        if huge is None:
            kept.append(item)
            kept_numbers.append(number)
        else:
            what = "line" if jsonl else "record"
            problems.append(
                origin.problem(f"{_huge_int_reason(huge)}; {what} skipped", **_where(number, jsonl))
            )
    return kept, kept_numbers, problems


def _loads(text: str, origin: Origin, *, line_offset: int = 0) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise origin.error(
            "JSON nested too deeply to read (more than about 1,000 levels)"
        ) from None
    except json.JSONDecodeError as err:
        raise origin.error(
            f"invalid JSON at column {err.colno}: {err.msg}", line=err.lineno + line_offset
        ) from None


def _items_from_document(doc: Any, origin: Origin) -> tuple[list[Any], dict[str, str]]:
    """(the message objects of a JSON document, author id -> username from includes)."""
    users: dict[str, str] = {}
    if isinstance(doc, list):
        return doc, users
    if not isinstance(doc, dict):
        raise origin.error(f"the JSON holds a single {type(doc).__name__}, not messages")
    includes = doc.get("includes")
    if isinstance(includes, dict) and isinstance(includes.get("users"), list):
        for user in includes["users"]:
            if isinstance(user, dict) and "id" in user:
                users[str(user["id"])] = str(user.get("username") or user.get("name") or "")
    if _text_of(doc) is not None:
        return [doc], users
    for key in _CONTAINER_KEYS:
        value = doc.get(key)
        if isinstance(value, list):
            return value, users
        if isinstance(value, dict) and _text_of(value) is not None:
            return [value], users
    for value in doc.values():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return value, users
    keys = name_list(doc, 10)
    raise origin.error(f"no list of messages in this JSON object (its keys: {keys})")


def _unwrap(item: Any) -> Any:
    # tweets.js wraps each tweet as {"tweet": {...}}; GraphQL dumps nest the text in legacy.
    if isinstance(item, dict) and isinstance(item.get("tweet"), dict) and len(item) <= 2:
        return item["tweet"]
    return item


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _text_of(obj: Any) -> str | None:
    for path in (
        ("extended_tweet", "full_text"),
        ("note_tweet", "text"),
        ("note_tweet", "note_tweet_results", "result", "text"),
        ("full_text",),
        ("legacy", "full_text"),
        ("tweet", "full_text"),
        ("tweet", "text"),
        ("text",),
    ):
        value = _get(obj, *path)
        if isinstance(value, str):
            return value
    return None


def _is_tweet(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    keys = set(obj)
    if keys & _TWEET_KEYS:
        return True
    return "text" in keys and "created_at" in keys and ("id" in keys or "user" in keys)


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _tweet_date(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return datetime.strptime(value, _TWITTER_DATE).isoformat()
    except ValueError:
        return value


def _sender(tweet: dict[str, Any], users: dict[str, str]) -> str:
    for path in (
        ("user", "screen_name"),
        ("core", "user_results", "result", "legacy", "screen_name"),
        ("core", "user_results", "result", "core", "screen_name"),
        ("author", "username"),
        ("author", "screen_name"),
        ("username",),
        ("screen_name",),
        ("user_screen_name",),
    ):
        value = _get(tweet, *path)
        if isinstance(value, str) and value:
            return value
    author = tweet.get("author_id") or _get(tweet, "legacy", "user_id_str")
    if author is not None:
        return users.get(str(author), "")
    user = tweet.get("user")
    return user if isinstance(user, str) else ""


def _tweet_id(tweet: dict[str, Any]) -> str:
    for key in ("id_str", "rest_id", "id"):
        value = tweet.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    legacy = tweet.get("legacy")
    if isinstance(legacy, dict):
        value = legacy.get("id_str")
        if isinstance(value, str):
            return value
    return ""


def _where(number: int, jsonl: bool) -> dict[str, int]:
    return {"line": number} if jsonl else {"record": number}


def _records(
    items: list[Any], origin: Origin, numbers: list[int], jsonl: bool, options: Options
) -> LoadResult:
    problems: list[Problem] = []
    objects = [_unwrap(it) for it in items]
    dicts = [o for o in objects if isinstance(o, dict)]
    if not dicts and any(isinstance(o, str) for o in objects):
        # An array of strings: each is a message.
        keep = [(n, o) for n, o in zip(numbers, objects, strict=True) if isinstance(o, str)]
        for n, o in zip(numbers, objects, strict=True):
            if not isinstance(o, str):
                problems.append(
                    origin.problem(f"a {type(o).__name__}, not text; skipped", **_where(n, jsonl))
                )
        texts = strings([o for _, o in keep])
        n_rows = len(texts)
        kind = options.kind or tables.guess_kind_from_texts(texts.iloc[:2000].tolist())
        messages = make_frame(
            {
                "id": tables.fill_ids(None, tables.constant("", n_rows), texts),
                "source": tables.constant(origin.source, n_rows),
                "kind": tables.constant(kind, n_rows),
                "text": texts,
            },
            n_rows,
        )
        return LoadResult(messages, pd.DataFrame(index=pd.RangeIndex(n_rows)), problems)
    if not dicts:
        raise origin.error("no JSON objects or strings to read as messages")
    tweets = any(_is_tweet(o) for o in dicts[:200])
    if tweets:
        return _tweet_records(objects, numbers, origin, jsonl, options, problems)
    # Plain objects: a table of their top-level scalar fields.
    rows: list[dict[str, str | None]] = []
    kept: list[int] = []
    for n, o in zip(numbers, objects, strict=True):
        if not isinstance(o, dict):
            problems.append(
                origin.problem(f"a {type(o).__name__}, not an object; skipped", **_where(n, jsonl))
            )
            continue
        rows.append({str(k): _scalar(v) for k, v in o.items() if _scalar(v) is not None})
        kept.append(n)
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    columns = {key: [row.get(key) for row in rows] for key in keys}
    frame = string_frame(columns, len(rows))
    plan = tables.plan_table(frame, origin, options)
    missing = frame[plan.text].isna().to_numpy()
    if missing.all():
        raise origin.error(f"no object has a {plan.text!r} field with text")
    for idx in missing.nonzero()[0][:100]:
        problems.append(
            origin.problem(f"no {plan.text!r} field; skipped", **_where(kept[idx], jsonl))
        )
    if missing.sum() > 100:
        problems.append(origin.problem(f"{int(missing.sum()) - 100:,} more objects without text"))
    frame = frame[~missing].reset_index(drop=True)
    result = tables.apply_plan(plan, frame, origin)
    result.problems = problems + plan.problems + result.problems
    return result


def _tweet_records(
    objects: list[Any],
    numbers: list[int],
    origin: Origin,
    jsonl: bool,
    options: Options,
    problems: list[Problem],
    users: dict[str, str] | None = None,
) -> LoadResult:
    users = users or {}
    ids, dates, senders, texts = [], [], [], []
    extra_rows: list[dict[str, str]] = []
    for n, obj in zip(numbers, objects, strict=True):
        if not isinstance(obj, dict):
            problems.append(
                origin.problem(f"a {type(obj).__name__}, not a tweet; skipped", **_where(n, jsonl))
            )
            continue
        text = _text_of(obj)
        if text is None:
            keys = ", ".join(list(obj)[:8])
            problems.append(
                origin.problem(f"no tweet text (keys: {keys}); skipped", **_where(n, jsonl))
            )
            continue
        ids.append(_tweet_id(obj))
        created = obj.get("created_at") or _get(obj, "legacy", "created_at")
        dates.append(_tweet_date(created))
        senders.append(_sender(obj, users))
        texts.append(text)
        extra_rows.append({str(k): s for k, v in obj.items() if (s := _scalar(v)) is not None})
    if not texts:
        raise origin.error("none of the tweets has text")
    n_rows = len(texts)
    keys: list[str] = []
    seen: set[str] = set()
    for row in extra_rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                keys.append(key)
    extra = string_frame({k: [row.get(k) for row in extra_rows] for k in keys}, n_rows)
    text_series = strings(texts)
    columns: dict[str, object] = {
        "id": tables.fill_ids(strings(ids), tables.constant("", n_rows), text_series),
        "source": tables.constant(origin.source, n_rows),
        "kind": tables.constant(options.kind or "tweet", n_rows),
        "sender": strings(senders),
        "date": strings(dates),
        "text": text_series,
    }
    exclude = {c for c in extra.columns if tables.norm(c) in ("text", "full_text", "id", "id_str")}
    if len(extra.columns):
        spam, sent, scheme, label_problems = tables.guess_labels(
            extra, origin, exclude=exclude, label_columns=options.label_columns
        )
        problems += label_problems
        for task, col, fn in (
            ("spam", spam, tables.spam_code),
            ("sentiment", sent, lambda v, s=scheme: tables.sentiment_code(v, s)),
        ):
            if col is not None:
                codes, n_bad, examples = tables.label_codes(extra[col].fillna(""), fn)
                columns[f"user_{task}"] = codes
                if n_bad:
                    problems.append(
                        origin.problem(
                            f"field {col!r}: {n_bad:,} value(s) not understood as {task} "
                            f"labels (e.g. {', '.join(map(repr, examples))}); left unlabelled"
                        )
                    )
    elif options.label_columns and any(options.label_columns.values()):
        raise origin.error("the tweets have no fields to take labels from")
    return LoadResult(make_frame(columns, n_rows), extra, problems)


def _split_lines(text: str, origin: Origin) -> tuple[list[Any], list[int], list[Problem]]:
    items: list[Any] = []
    numbers: list[int] = []
    problems: list[Problem] = []
    first_error = None
    bad = 0
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            items.append(json.loads(stripped))
            numbers.append(number)
        except RecursionError:
            bad += 1
            reason = "JSON nested too deeply to read"
            problems.append(origin.problem(f"{reason}; line skipped", line=number))
            first_error = first_error or (number, reason)
        except json.JSONDecodeError as err:
            bad += 1
            reason = f"invalid JSON at column {err.colno}: {err.msg}"
            if bad <= 100:
                problems.append(origin.problem(f"{reason}; line skipped", line=number))
            first_error = first_error or (number, reason)
        except ValueError as err:
            if not _is_huge_int_error(err):
                raise
            bad += 1
            huge = _huge_int_in(_loads_huge(stripped))
            reason = _huge_int_reason(huge or "")
            if bad <= 100:
                problems.append(origin.problem(f"{reason}; line skipped", line=number))
            first_error = first_error or (number, reason)
    if bad > 100:
        problems.append(origin.problem(f"{bad - 100:,} more invalid lines skipped"))
    if not items:
        if first_error is None:
            raise origin.error("the file holds no JSON")
        raise origin.error(first_error[1], line=first_error[0])
    return items, numbers, problems


def parse(
    data: bytes, origin: Origin, fmt: str
) -> tuple[list[Any], list[int], bool, dict[str, str], list[Problem], str]:
    """(items, their record/line numbers, is JSON Lines, users, problems, encoding)."""
    decoded = decode_text(data, origin)
    text = decoded.text
    problems = list(decoded.problems)
    if not text.strip():
        raise origin.error("the file is empty")
    line_offset = 0
    if fmt == TWEETS_JS:
        match = _TWEETS_JS_PREFIX.match(text)
        if not match:
            first = text.lstrip()[:60].split("\n", 1)[0]
            raise origin.error(
                "not an X/Twitter archive data file: it should start with "
                f"'window.YTD.<name>.part<N> = [' but starts with {first!r}",
                line=1,
            )
        line_offset = text.count("\n", 0, match.end())
        text = text[match.end() :]
    jsonl = fmt == JSONL or extension(origin.name) in (".jsonl", ".ndjson", ".jsonlines")
    users: dict[str, str] = {}
    if not jsonl:
        huge = False
        try:
            try:
                doc = json.loads(text)
            except ValueError as err:
                if not _is_huge_int_error(err):
                    raise
                doc, huge = _loads_huge(text), True
        except RecursionError:
            raise origin.error(
                "JSON nested too deeply to read (more than about 1,000 levels)"
            ) from None
        except json.JSONDecodeError as err:
            lines = text.lstrip().split("\n", 1)
            if err.msg == "Extra data" and fmt != TWEETS_JS and len(lines) > 1:
                jsonl = True  # one JSON value per line
            else:
                raise origin.error(
                    f"invalid JSON at column {err.colno}: {err.msg}"
                    + (" (the file may be truncated)" if err.pos >= len(text.rstrip()) else ""),
                    line=err.lineno + line_offset,
                ) from None
        else:
            items, users = _items_from_document(doc, origin)
            numbers = list(range(1, len(items) + 1))
            if huge:
                items, numbers, skipped = _drop_huge_ints(items, numbers, origin, False)
                problems += skipped
                if not items and skipped:
                    where = skipped[0].location.record
                    reason = skipped[0].reason.rsplit("; ", 1)[0]
                    raise origin.error(f"every record {reason}", record=where)
            return items, numbers, False, users, problems, decoded.encoding
    items, numbers, line_problems = _split_lines(text, origin)
    return items, numbers, True, users, problems + line_problems, decoded.encoding


def read_json(data: bytes, origin: Origin, fmt: str, options: Options, hooks: Hooks) -> LoadResult:
    items, numbers, jsonl, users, problems, encoding = parse(data, origin, fmt)
    if not items:
        raise origin.error("the JSON holds no messages (an empty list)")
    hooks.step(1, 2, "reading JSON")
    objects = [_unwrap(it) for it in items]
    if users or any(_is_tweet(o) for o in objects[:200] if isinstance(o, dict)):
        result = _tweet_records(objects, numbers, origin, jsonl, options, [], users)
    else:
        result = _records(items, origin, numbers, jsonl, options)
    result.problems = problems + result.problems
    result.files = [origin.source]
    result.encodings = {origin.source: encoding}
    return result


def preview_json(data: bytes, origin: Origin, fmt: str, nrows: int) -> TablePreview:
    result = read_json(data, origin, fmt, Options(), Hooks())
    frame = result.extra if len(result.extra.columns) else result.messages[["text"]]
    head = frame.iloc[:nrows]
    text_col = None
    labels: dict[str, str] = {}
    if len(result.extra.columns):
        try:
            plan = tables.plan_table(result.extra, origin, Options())
            text_col, labels = plan.text, plan.label_columns
        except InputError:
            pass
    for name in ("full_text", "text"):
        if text_col is None and name in frame.columns:
            text_col = name
    return TablePreview(
        path=origin.source,
        format="jsonl" if fmt == JSONL else "json",
        columns=[str(c) for c in frame.columns],
        rows=[
            ["" if v is None or v is pd.NA else str(v) for v in row]
            for row in head.itertuples(index=False)
        ],
        delimiter=None,
        encoding=result.encodings.get(origin.source, "utf-8"),
        has_header=True,
        quoting="minimal",
        text_column=text_col or (str(frame.columns[0]) if len(frame.columns) else None),
        text_candidates=[text_col] if text_col else [],
        label_columns=labels,
        kind=str(result.messages["kind"].iloc[0]) if len(result.messages) else "text",
        mode="plain",
        problems=result.problems,
    )


def iter_jsonl(
    lines: Iterator[bytes], origin: Origin, options: Options, chunksize: int, hooks: Hooks
) -> Iterator[LoadResult]:
    """Stream JSON Lines in chunks of ``chunksize`` objects."""
    buffer: list[str] = []
    numbers: list[int] = []
    bad: list[Problem] = []
    done = 0

    def flush() -> LoadResult:
        items, nums, problems = [], [], list(bad)
        bad.clear()
        for n, line in zip(numbers, buffer, strict=True):
            try:
                items.append(json.loads(line))
                nums.append(n)
            except (json.JSONDecodeError, RecursionError) as err:
                problems.append(origin.problem(f"invalid JSON ({err}); line skipped", line=n))
            except ValueError as err:
                if not _is_huge_int_error(err):
                    raise
                reason = _huge_int_reason(_huge_int_in(_loads_huge(line)) or "")
                problems.append(origin.problem(f"{reason}; line skipped", line=n))
        buffer.clear()
        numbers.clear()
        if not items:
            result = LoadResult.empty()
        else:
            objects = [_unwrap(it) for it in items]
            if any(_is_tweet(o) for o in objects[:200] if isinstance(o, dict)):
                result = _tweet_records(objects, nums, origin, True, options, [])
            else:
                result = _records(items, origin, nums, True, options)
        result.problems = problems + result.problems
        result.files = [origin.source]
        return result

    for number, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        buffer.append(line)
        numbers.append(number)
        if len(buffer) >= chunksize:
            done += len(buffer)
            yield flush()
            hooks.step(done, 0, f"{done:,} lines")
    if buffer or done == 0:
        yield flush()
