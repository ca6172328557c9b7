"""Shared pieces of the benchmark harness: the real corpora, cached workloads, timing.

Workloads are drawn *with replacement* from the public corpora in ``../shared/data`` (see
its README), always with the same seed, and written once into ``benchmarks/cache/``
(git-ignored):

- ``short_<n>.csv``: one ``text`` column (no id column: every row's id is a content hash,
  the importer's worst case), texts from the SMS Spam Collection (5,574) and the SemEval
  2013-2016 tweets (50,334); beside it ``short_<n>.truth.npz`` holds the corpus label of
  each row (spam for SMS rows, sentiment for tweets, -1 elsewhere) -- kept out of the CSV so
  that the import does not turn them into user labels;
- ``emails_<n>.mbox``: raw SpamAssassin messages (spam-1 + easy-ham-1), built by
  :func:`benchmarks.bench_io.build_mbox`;
- ``short_<n>.parquet``: the same rows as the CSV (streaming benchmark).
"""

from __future__ import annotations

import csv
import gc
import json
import os
import platform
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path(os.environ.get("TRIAGE_BENCH_CACHE", HERE / "cache"))
SEED = 0

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_SENTIMENT = {"negative": 0, "neutral": 1, "positive": 2}


def shared_data() -> Path:
    from guiapp.core.paths import shared_data_dir

    data = shared_data_dir()
    if data is None:
        sys.exit("benchmarks need the corpora in ../shared/data (or set TRIAGE_SHARED_DATA)")
    return data


def file_digest(path: Path) -> str:
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def cache_dir() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    return CACHE


# ----------------------------------------------------------------------------- corpora
def _semeval_text(raw: str) -> str:
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text


def sms_frame(data: Path) -> pd.DataFrame:
    """The SMS Spam Collection: text, spam (0 ham / 1 spam)."""
    sms = pd.read_csv(
        data / "sms_spam_collection" / "SMSSpamCollection",
        sep="\t",
        header=None,
        names=["label", "text"],
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
    )
    return pd.DataFrame({"text": sms["text"], "spam": (sms["label"] == "spam").astype(np.int8)})


def semeval_frame(data: Path, *, exclude: tuple[str, ...] = ()) -> pd.DataFrame:
    """SemEval 2013-2016 tweets: text, sentiment (0/1/2), file."""
    texts, labels, files = [], [], []
    for path in sorted((data / "semeval_sentiment").glob("*.tsv")):
        if path.name in exclude:
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3 or parts[1] not in _SENTIMENT:
                    continue
                texts.append(_semeval_text(parts[2]))
                labels.append(_SENTIMENT[parts[1]])
                files.append(path.name)
    return pd.DataFrame({"text": texts, "sentiment": np.asarray(labels, np.int8), "file": files})


def enron_frame(data: Path) -> pd.DataFrame:
    """Enron-Spam: subject, text, spam (0/1). The Date column leaks the label: not read."""
    frame = pd.read_csv(
        data / "enron_spam" / "enron_spam_data.csv.gz",
        usecols=["Subject", "Message", "Spam/Ham"],
        dtype=str,
        keep_default_na=False,
    )
    return pd.DataFrame(
        {
            "subject": frame["Subject"],
            "text": frame["Message"],
            "spam": (frame["Spam/Ham"].str.lower() == "spam").astype(np.int8),
        }
    )


def short_pool(data: Path) -> pd.DataFrame:
    """SMS + SemEval tweets: text, kind, spam, sentiment (-1 where the corpus has no label)."""
    sms = sms_frame(data)
    tweets = semeval_frame(data)
    return pd.DataFrame(
        {
            "text": pd.concat([sms["text"], tweets["text"]], ignore_index=True),
            "kind": ["sms"] * len(sms) + ["tweet"] * len(tweets),
            "spam": np.concatenate([sms["spam"], np.full(len(tweets), -1, np.int8)]),
            "sentiment": np.concatenate([np.full(len(sms), -1, np.int8), tweets["sentiment"]]),
        }
    )


def draw(pool_size: int, n: int, seed: int = SEED) -> np.ndarray:
    """Row numbers of a sample of ``n`` drawn with replacement."""
    return np.random.default_rng(seed).integers(0, pool_size, n)


# ----------------------------------------------------------------------------- workloads
def short_csv(n: int) -> Path:
    """``cache/short_<n>.csv`` (one text column) and its truth file, built once."""
    path = cache_dir() / f"short_{n}.csv"
    truth = path.with_suffix(".truth.npz")
    if path.exists() and truth.exists():
        return path
    pool = short_pool(shared_data())
    pick = draw(len(pool), n)
    sample = pool.iloc[pick].reset_index(drop=True)
    tmp = path.with_suffix(".csv.tmp")
    sample[["text"]].to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    np.savez(
        truth,
        spam=sample["spam"].to_numpy(np.int8),
        sentiment=sample["sentiment"].to_numpy(np.int8),
    )
    tmp.replace(path)
    return path


def short_truth(n: int) -> dict[str, np.ndarray]:
    short_csv(n)
    with np.load(cache_dir() / f"short_{n}.truth.npz") as saved:
        return {"spam": saved["spam"], "sentiment": saved["sentiment"]}


def emails_mbox(n: int) -> Path:
    """``cache/emails_<n>.mbox``: raw SpamAssassin messages, built once."""
    from benchmarks.bench_io import build_mbox

    path = cache_dir() / f"emails_{n}.mbox"
    if not path.exists():
        tmp = path.with_suffix(".mbox.tmp")
        build_mbox(shared_data(), tmp, n)
        tmp.replace(path)
    return path


def short_parquet(n: int) -> Path:
    """``cache/short_<n>.parquet``: the rows of the CSV of ``n`` rows, in row groups."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = cache_dir() / f"short_{n}.parquet"
    if path.exists():
        return path
    source = big_short_csv(n)
    tmp = path.with_suffix(".parquet.tmp")
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=64 << 20),
        convert_options=pacsv.ConvertOptions(column_types={"text": "string"}),
    )
    with pq.ParquetWriter(tmp, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch, row_group_size=1_000_000)
    tmp.replace(path)
    return path


def big_short_csv(n: int) -> Path:
    """:func:`short_csv`, or above 2,000,000 rows a CSV written in slices of a million
    (ten million Python strings at once would cost gigabytes) without a truth file."""
    if n <= 2_000_000:
        return short_csv(n)
    path = cache_dir() / f"short_{n}.csv"
    if path.exists():
        return path
    pool = short_pool(shared_data())
    texts = pool["text"].to_numpy(dtype=object)
    rng = np.random.default_rng(SEED)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["text"])
        left = n
        while left:
            step = min(left, 1_000_000)
            writer.writerows([t] for t in texts[rng.integers(0, len(texts), step)])
            left -= step
    tmp.replace(path)
    return path


# ----------------------------------------------------------------------------- collections
def collection_from_csv(n: int):
    """The short-message workload imported by Triage (untimed set-up for later stages)."""
    from guiapp.core.collection import Collection
    from guiapp.core.io import load_collection

    return Collection.from_load(load_collection(short_csv(n)))


# ----------------------------------------------------------------------------- measuring
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


@dataclass
class Timing:
    """Several runs of one measurement: seconds of each, the median, extra figures."""

    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # this process, all threads
    load: list[float] = field(default_factory=list)  # 1-minute load average before each run
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


def repeat(fn: Callable[[], object], runs: int, *, setup: Callable[[], object] | None = None):
    """Run ``fn`` ``runs`` times (after ``setup`` each time, untimed); times and last result."""
    timing = Timing()
    result = None
    for _ in range(runs):
        if setup is not None:
            setup()
        result = None
        gc.collect()
        timing.load.append(os.getloadavg()[0])
        cpu = time.process_time()
        start = time.perf_counter()
        result = fn()
        timing.seconds.append(time.perf_counter() - start)
        timing.cpu_seconds.append(time.process_time() - cpu)
    return timing, result


def machine() -> dict:
    """What the figures were measured on."""
    import pyarrow
    import sklearn

    try:
        import PySide6

        qt = PySide6.__version__
    except ImportError:  # pragma: no cover - the harness runs without the window too
        qt = "not installed"
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "scikit-learn": sklearn.__version__,
        "PySide6": qt,
        "load average at start": f"{os.getloadavg()[0]:.2f}",
    }


def emit(record: dict) -> None:
    """One JSON result line on stdout, marked so the harness can find it among prints."""
    print("@@RESULT " + json.dumps(record, default=float), flush=True)
