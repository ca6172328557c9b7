"""Kill trials: SIGKILL a real window process at chosen moments, then check its project.

Used by ``tests/qt/test_kill_trials.py`` and ``benchmarks/kill_trials.py``; no Qt here (the
window runs in the driver processes, :mod:`guiapp.qt.driver`).

One trial: copy a base project (12,000 real messages with predictions and themes), start
the driver on it (forked from a warm fork server, or as a fresh ``python -m
guiapp.qt.driver run`` process), read its transcript as it comes, wait for the moment the
trial targets, sleep a seeded random delay, and SIGKILL the window process (then its process
group: the retrain's worker process, which never touches the project). Then:

1. :meth:`Project.open <guiapp.core.project.Project.open>` opens the project (the app's own
   check: ``quick_check``, schema, every chunk) and ``PRAGMA integrity_check`` is ``ok``;
2. the edits log holds every acknowledged edit, in order, with its task and row count, and
   at most one more: the edit the window was saving when it died (``DO`` without ``ACK``);
3. **the labels equal the base project's with exactly the logged edits replayed** (a set
   edit gives its rows its code and marks them given in Triage -- corrected or confirmed;
   an Undo gives the undone edit's rows back the values they had before it). A half-written bulk edit would show as rows
   that differ from the replay: so a bulk edit is either logged and complete, or absent;
4. the export target is absent or a complete export (every message, every column); a killed
   export may leave only a hidden ``.NAME.*.partial`` temporary beside it, which the next
   export removes (checked: it exports again when one is there);
5. a retrain the window reported as applied is the project's current spam model.

Moments (``PHASES``): ``label`` (single-row labels, every ~15 ms), ``bulk`` (the 10,000-row
"Label All Shown" is being saved), ``export`` (the export thread is writing), ``retrain``
(the retrain's worker process is training while the user labels), ``retrain-apply`` (the
retrain's result has arrived and is being saved), ``none`` (no kill: the script runs to its end
and the window closes normally -- the calibration run).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from guiapp.core.messages import TASKS

PHASES = ("label", "bulk", "export", "retrain", "retrain-apply")
BASE_ROWS = 12_000
BULK_ROWS = 10_000
MARKER_TIMEOUT = 240.0  # seconds to wait for the moment a trial targets


# ---------------------------------------------------------------------- the base project
def build_base_project(path: str | Path, n_rows: int = BASE_ROWS, *, k: int = 8) -> Path:
    """A project of ``n_rows`` real messages: the bundled demo collection (400 real SMS,
    tweets and emails) repeated, predicted by the shipped models, grouped into ``k`` themes.
    The demo's 10 imported SMS labels repeat too (labels that are not corrections)."""
    import pandas as pd

    from guiapp.core import session
    from guiapp.core.collection import Collection
    from guiapp.core.io import load_collection
    from guiapp.core.paths import demo_collection
    from guiapp.core.project import Project

    path = Path(path)
    loaded = load_collection(demo_collection())
    messages = loaded.messages
    repeats = -(-n_rows // len(messages))
    frame = pd.concat([messages] * repeats, ignore_index=True).iloc[:n_rows]
    frame = frame.reset_index(drop=True)
    collection = Collection(frame)
    predictions = session.predict(collection)
    for task, prob in predictions.prob.items():
        collection.set_predictions(task, prob, predictions.versions[task])
    clustering = session.cluster(collection, k=k)
    collection.cluster[:] = clustering.labels
    collection.clustering = clustering
    project = Project.create(path, collection, name="kill trials")
    try:
        project.save_json(session.CLUSTERING_KEY, clustering.to_json())
        project.save_named_arrays(session.CLUSTERING_KEY, clustering.state_arrays())
    finally:
        project.close()
    return path


@dataclass
class BaseState:
    n: int
    edits: int
    user: dict[str, np.ndarray]
    corrected: dict[str, np.ndarray]  # labels given in Triage: corrected or confirmed
    model_versions: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> BaseState:
        from guiapp.core.project import Project

        project = Project.open(path, backup=False)
        try:
            c = project.collection
            return cls(
                len(c),
                project.edit_count(),
                {t: c.user[t].copy() for t in TASKS},
                {t: c.corrected[t] | c.confirmed[t] for t in TASKS},
                dict(c.model_versions),
            )
        finally:
            project.close()


# ---------------------------------------------------------------------- the transcript
class Transcript:
    """The driver's lines, read on a thread as they come, each with its arrival time."""

    def __init__(self, fifo: Path):
        self.fifo = fifo
        self.lines: list[tuple[float, str]] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with open(self.fifo, encoding="utf-8") as fh:
                for line in fh:
                    with self._cond:
                        self.lines.append((time.monotonic(), line.rstrip("\n")))
                        self._cond.notify_all()
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def wait_for(self, predicate, timeout: float, alive=None) -> tuple[float, str] | None:
        """The first line (time, text) that satisfies ``predicate``, or None (timeout/EOF)."""
        end = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                while seen < len(self.lines):
                    if predicate(self.lines[seen][1]):
                        return self.lines[seen]
                    seen += 1
                if self.closed or time.monotonic() >= end:
                    return None
                if alive is not None and not alive():
                    return None
                self._cond.wait(0.05)

    def finish(self) -> None:
        """After the writer died: unblock a reader still waiting for the FIFO to open."""
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
        self._thread.join(10)

    def texts(self) -> list[str]:
        with self._cond:
            return [text for _, text in self.lines]


# ---------------------------------------------------------------------- launching
class Launcher:
    """Starts driver processes: forked from a warm server (``fork=True``) or fresh."""

    def __init__(self, *, fork: bool = True, python: str = sys.executable):
        self.fork = fork
        self.python = python
        self._server: subprocess.Popen | None = None
        self._lock = threading.Lock()
        if fork:
            self._server = subprocess.Popen(
                [python, "-m", "guiapp.qt.driver", "serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=_driver_env(),
            )
            ready = self._server.stdout.readline().strip()
            if ready != "SERVING":
                raise RuntimeError(f"the driver's fork server did not start ({ready!r})")

    def start(self, argv: list[str], env: dict[str, str], err: Path) -> Driver:
        if self._server is not None:
            with self._lock:
                request = {"argv": argv, "env": env, "err": str(err)}
                self._server.stdin.write(json.dumps(request) + "\n")
                self._server.stdin.flush()
                pid = int(self._server.stdout.readline())
            return Driver(pid, None)
        with open(err, "wb") as err_file:
            popen = subprocess.Popen(
                [self.python, "-m", "guiapp.qt.driver", "run", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
                env={**_driver_env(), **env},
                start_new_session=True,
            )
        return Driver(popen.pid, popen)

    def close(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.stdin.close()
            try:
                self._server.wait(30)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait(30)
            self._server.stdout.close()
            self._server = None

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _driver_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Numeric libraries may start a thread per core in each trial process; two trials and
    # a retrain share two cores.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


@dataclass
class Driver:
    pid: int
    popen: subprocess.Popen | None

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        with contextlib.suppress(OSError):
            # A zombie the fork server has not reaped yet is dead.
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                return False
        return True

    def kill(self) -> None:
        """SIGKILL the window process, then whatever it started (its process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.wait(30)

    def wait(self, timeout: float) -> bool:
        if self.popen is not None:
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        end = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > end:
                return False
            time.sleep(0.01)
        return True


# ---------------------------------------------------------------------- one trial
@dataclass
class TrialSpec:
    number: int
    phase: str  # one of PHASES, or "none"
    seed: int
    delay: float  # seconds after the phase's marker
    fresh: bool = False  # a fresh process instead of a fork of the warm server


@dataclass
class TrialResult:
    spec: TrialSpec
    lines: list[str]
    killed: bool
    marker_seen: bool
    ready_s: float | None  # from the request to the window showing the project
    seconds: float
    acked: int = 0  # edits the window acknowledged
    acked_rows: int = 0
    found: int = 0  # acknowledged edits found in the reopened project's log
    pending: str = ""  # "" | "committed" | "rolled back": the edit being saved at the kill
    pending_rows: int = 0
    export_state: str = ""  # "absent" | "complete"
    partials: int = 0  # hidden temporaries a killed export left beside the target
    partials_cleaned: bool | None = None
    retrain_applied: bool = False
    integrity: str = ""
    durations: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _is_bulk_do(text: str) -> bool:
    return text.startswith("DO set ") and text.count(",") + 1 >= BULK_ROWS


MARKERS = {
    "label": lambda t: t.startswith("ACK "),
    "bulk": _is_bulk_do,
    "export": lambda t: t.startswith("PHASE export start"),
    "retrain": lambda t: t == "PHASE retrain start",
    "retrain-apply": lambda t: t == "PHASE retrain result",
}


def run_trial(
    launcher: Launcher,
    base: Path,
    state: BaseState,
    folder: Path,
    spec: TrialSpec,
    *,
    keep: bool = False,
) -> TrialResult:
    """Run one trial in ``folder`` (removed afterwards unless it failed or ``keep``)."""
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.triage"
    shutil.copyfile(base, project)
    export = folder / "export" / "labelled.csv"
    export.parent.mkdir()
    fifo = folder / "transcript"
    os.mkfifo(fifo)
    argv = [
        str(project),
        "--seed",
        str(spec.seed),
        "--export",
        str(export),
        "--out",
        str(fifo),
        "--settings",
        str(folder / "settings.ini"),
    ]
    if spec.phase == "none":
        argv.append("--no-retrain")  # the calibration run: quick, measures bulk and export
    env = {"TRIAGE_DATA_DIR": str(folder / "data")}
    started = time.monotonic()
    transcript = Transcript(fifo)
    driver = launcher.start(argv, env, folder / "stderr.txt")
    killed = False
    marker = None
    try:
        ready = transcript.wait_for(lambda t: t.startswith("READY"), 120, driver.alive)
        ready_s = ready[0] - started if ready else None
        if spec.phase == "none":
            driver.wait(MARKER_TIMEOUT)
        else:
            marker = transcript.wait_for(MARKERS[spec.phase], MARKER_TIMEOUT, driver.alive)
            if marker is not None:
                time.sleep(spec.delay)
            killed = driver.alive()
    finally:
        driver.kill()
        transcript.finish()
    lines = transcript.texts()
    result = TrialResult(
        spec,
        lines,
        killed=killed,
        marker_seen=marker is not None or spec.phase == "none",
        ready_s=ready_s,
        seconds=time.monotonic() - started,
        durations=_durations(transcript.lines),
    )
    if not result.marker_seen:
        result.failures.append(f"the moment '{spec.phase}' never came")
    if spec.phase == "none" and "END" not in lines:
        result.failures.append("the script did not reach its end")
    if any(t.startswith("ERROR") for t in lines):
        result.failures += [t for t in lines if t.startswith("ERROR")]
    try:
        check_project(project, state, lines, export, result)
    except Exception as exc:  # noqa: BLE001 - a failed check is a failed trial, with its reason
        result.failures.append(f"checking raised {type(exc).__name__}: {exc}")
    if result.failures:
        err = folder / "stderr.txt"
        if err.exists():
            # Qt's offscreen platform says this for every dialog: not news.
            noise = "This plugin does not support propagateSizeHints()"
            text = "\n".join(t for t in err.read_text(errors="replace").splitlines() if t != noise)
            tail = text[-3000:]
            if tail.strip():
                result.failures.append("driver stderr:\n" + tail)
    if result.ok and not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _durations(lines: list[tuple[float, str]]) -> dict[str, float]:
    """How long the script's phases took in this run (from the calibration run)."""
    out: dict[str, float] = {}
    bulk_at = None
    marks: dict[str, float] = {}
    for at, text in lines:
        if bulk_at is None and "bulk" not in out and _is_bulk_do(text):
            bulk_at = at
        elif bulk_at is not None and text.startswith(("ACK", "NOOP")):
            out["bulk"] = at - bulk_at
            bulk_at = None
        for name in ("retrain start", "retrain result", "retrain done"):
            if text.startswith("PHASE " + name) and name not in marks:
                marks[name] = at
        if text.startswith("PHASE export start") and "export start" not in marks:
            marks["export start"] = at
        if text.startswith("PHASE export done") and "export done" not in marks:
            marks["export done"] = at
    if "retrain start" in marks and "retrain done" in marks:
        out["retrain"] = marks["retrain done"] - marks["retrain start"]
    if "retrain result" in marks and "retrain done" in marks:
        out["retrain-apply"] = marks["retrain done"] - marks["retrain result"]
    if "export start" in marks and "export done" in marks:
        out["export"] = marks["export done"] - marks["export start"]
    return out


# ---------------------------------------------------------------------- the checks
@dataclass
class _Step:
    kind: str  # "set" | "undo"
    task: str
    code: int | None
    rows: np.ndarray
    result: str = ""  # "" (none yet), "noop", or "ack"
    ack: tuple[int, str, int, str] | None = None


def parse_transcript(lines: list[str]) -> list[_Step]:
    steps: list[_Step] = []
    for text in lines:
        if text.startswith("DO "):
            _, kind, task, code, rows = text.split(" ", 4)
            steps.append(
                _Step(
                    kind,
                    task,
                    None if code == "-" else int(code),
                    np.array(rows.split(","), dtype=np.int64),
                )
            )
        elif text.startswith("ACK "):
            _, seq, task, n, value = text.split(" ")
            steps[-1].result = "ack"
            steps[-1].ack = (int(seq), task, int(n), value)
        elif text == "NOOP":
            steps[-1].result = "noop"
    return steps


class _Replay:
    """The labels a project must hold: the base state with the logged edits applied."""

    def __init__(self, state: BaseState):
        self.user = {t: a.copy() for t, a in state.user.items()}
        self.corrected = {t: a.copy() for t, a in state.corrected.items()}
        self.undo: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []

    def apply(self, step: _Step) -> tuple[str, int]:
        """Apply a step; returns the (task, n rows) the log must show for it."""
        if step.kind == "set":
            t, rows = step.task, step.rows
            self.undo.append((t, rows, self.user[t][rows].copy(), self.corrected[t][rows].copy()))
            self.user[t][rows] = step.code
            self.corrected[t][rows] = True
            return t, len(rows)
        t, rows, user, corrected = self.undo.pop()
        if t != step.task or not np.array_equal(rows, step.rows):
            raise AssertionError("the transcript's undo is not the top step")
        self.user[t][rows] = user
        self.corrected[t][rows] = corrected
        return t, len(rows)


def check_project(
    path: Path, state: BaseState, lines: list[str], export: Path, result: TrialResult
) -> None:
    """Reopen the project after the kill and check it against the transcript (see module)."""
    from guiapp.core.project import Project

    failures = result.failures
    steps = parse_transcript(lines)
    project = Project.open(path)  # the app's own open: checks the file, writes the backup
    try:
        c = project.collection
        result.integrity = project._conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result.integrity != "ok":
            failures.append(f"integrity_check: {result.integrity}")
        if len(c) != state.n:
            failures.append(f"{len(c)} messages, expected {state.n}")
        log = project._conn.execute("SELECT seq, task, n FROM edits ORDER BY seq").fetchall()
        log = log[state.edits :]
        replay = _Replay(state)
        acked = [s for s in steps if s.result == "ack"]
        result.acked = len(acked)
        result.acked_rows = sum(len(s.rows) for s in acked)
        expected_seq = state.edits + 1
        for i, step in enumerate(acked):
            task, n = replay.apply(step)
            seq, ack_task, ack_n, value = step.ack
            if (seq, ack_task, ack_n) != (expected_seq + i, task, n):
                failures.append(f"ACK {step.ack} does not match the step ({task}, {n} rows)")
            if step.kind == "set" and value != str(step.code):
                failures.append(f"ACK {step.ack}: the window showed {value}, not {step.code}")
            if i < len(log) and tuple(log[i]) == (seq, task, n):
                result.found += 1
            else:
                failures.append(f"acknowledged edit {seq} ({task}, {n} rows) is not in the log")
        pending = steps[-1] if steps and steps[-1].result == "" else None
        extra = log[len(acked) :]
        if pending is not None:
            result.pending_rows = len(pending.rows)
        if len(extra) > 1 or (extra and pending is None):
            failures.append(f"the log holds edits nobody acknowledged or started: {extra}")
        elif extra:
            task, n = replay.apply(pending)
            result.pending = "committed"
            if tuple(extra[0]) != (expected_seq + len(acked), task, n):
                failures.append(f"the unacknowledged edit in the log {extra[0]} is not {task}/{n}")
        elif pending is not None:
            result.pending = "rolled back"
        for task in TASKS:
            wrong_user = np.flatnonzero(c.user[task] != replay.user[task])
            # Whether a label was given in Triage (a correction or a confirmation: which one
            # depends on the predictions of the moment, which retrains change).
            given = c.corrected[task] | c.confirmed[task]
            wrong_corr = np.flatnonzero(given != replay.corrected[task])
            if len(wrong_user) or len(wrong_corr):
                failures.append(
                    f"{task}: {len(wrong_user)} labels and {len(wrong_corr)} corrected flags "
                    f"differ from the logged edits (first rows {wrong_user[:5].tolist()}, "
                    f"{wrong_corr[:5].tolist()})"
                )
        # A retrain the window reported as applied is the project's spam model.
        done = [t for t in lines if t.startswith("PHASE retrain done")]
        if done:
            result.retrain_applied = True
            version = done[-1].split()[-1]
            if c.model_versions.get("spam") != version:
                failures.append(
                    f"the window applied spam model {version}, the project holds "
                    f"{c.model_versions.get('spam')}"
                )
        elif c.model_versions.get("spam") != state.model_versions.get("spam"):
            # Killed between saving the retrain's result and saying so: it must be whole.
            result.retrain_applied = True
            if np.isnan(c.spam_prob).any():
                failures.append("a retrained spam model but missing predictions")
        _check_export(project, export, lines, result)
    finally:
        project.close()


def _check_export(project, export: Path, lines: list[str], result: TrialResult) -> None:
    import pyarrow.csv as pacsv

    from guiapp.core.export import EXPORT_COLUMNS, export_csv

    n = len(project.collection)
    if export.exists():
        result.export_state = "complete"
        try:
            table = pacsv.read_csv(
                export,
                # Message texts hold newlines (quoted, RFC 4180).
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(EXPORT_COLUMNS, "string")
                ),
            )
        except Exception as exc:  # noqa: BLE001 - a partial file fails to parse
            result.failures.append(f"the export at the target is not a whole CSV: {exc}")
            return
        with open(export, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
        if tuple(table.column_names) != EXPORT_COLUMNS or table.num_rows != n or last != b"\n":
            result.failures.append(
                f"the export at the target has {table.num_rows} rows of {n} "
                f"and columns {table.column_names[:3]}..."
            )
    else:
        result.export_state = "absent"
        if any(t.startswith("PHASE export done") for t in lines):
            result.failures.append("the window said the export finished, but there is no file")
    partials = sorted(export.parent.glob(f".{export.name}.*"))
    result.partials = len(partials)
    if partials:
        # The next export removes what a killed one left (and writes a whole file).
        export_csv(project.collection, export)
        left = sorted(export.parent.glob(f".{export.name}.*"))
        result.partials_cleaned = not left
        if left:
            result.failures.append(f"the next export left {[p.name for p in left]}")


# ---------------------------------------------------------------------- many trials
def plan_trials(
    count: int, seed: int, durations: dict[str, float], *, fresh_every: int = 0
) -> list[TrialSpec]:
    """``count`` trials over PHASES (``retrain-apply``, which waits for a whole retrain,
    gets about one trial in fifty), with seeded delays drawn from the calibration run's
    phase lengths."""
    rng = random.Random(seed)
    apply_trials = max(1, count // 50)
    phases = ["retrain-apply"] * apply_trials
    cycle = [p for p in PHASES if p != "retrain-apply"]
    phases += [cycle[i % len(cycle)] for i in range(count - apply_trials)]
    rng.shuffle(phases)
    bulk = durations.get("bulk", 0.1)
    export = durations.get("export", 0.3)
    limits = {
        "label": 0.4,
        "bulk": 1.5 * bulk,
        "export": 1.5 * export,
        # Within the retrain (its worker starting, loading, fitting): a whole retrain of
        # these few labels takes ~2-3 s, and the script ends soon after it; whole
        # retrains are what the retrain-apply trials wait for.
        "retrain": 1.5,
        # From the result's arrival: saving the new predictions and the model's record
        # takes ~10 ms; every other such trial aims inside it, the others just after.
        "retrain-apply": 0.25,
    }
    specs = []
    for i, phase in enumerate(phases):
        limit = limits[phase]
        if phase == "retrain-apply" and sum(s.phase == phase for s in specs) % 2 == 0:
            limit = 0.015
        specs.append(
            TrialSpec(
                number=i + 1,
                phase=phase,
                seed=rng.randrange(1 << 30),
                delay=rng.uniform(0, limit),
                fresh=bool(fresh_every) and (i + 1) % fresh_every == 0,
            )
        )
    # The trials that wait for a whole retrain go first, beside the short ones, rather than
    # last with nothing else left to run.
    return sorted(specs, key=lambda s: s.phase != "retrain-apply")


@dataclass
class Summary:
    results: list[TrialResult]
    calibration: TrialResult
    seconds: float
    workers: int

    @property
    def failed(self) -> list[TrialResult]:
        return [r for r in [self.calibration, *self.results] if not r.ok]

    def figures(self) -> dict:
        rs = self.results
        phases = Counter(r.spec.phase for r in rs)
        pending = Counter((r.spec.phase, r.pending) for r in rs if r.pending)
        ready = sorted(r.ready_s for r in rs if r.ready_s is not None)
        ready_fork = sorted(r.ready_s for r in rs if r.ready_s is not None and not r.spec.fresh)
        ready_fresh = sorted(r.ready_s for r in rs if r.ready_s is not None and r.spec.fresh)
        return {
            "trials": len(rs),
            "killed": sum(r.killed for r in rs),
            "by_phase": dict(sorted(phases.items())),
            "corrections_made": sum(r.acked for r in rs),
            "corrections_found": sum(r.found for r in rs),
            "rows_acknowledged": sum(r.acked_rows for r in rs),
            "pending_committed": sum(r.pending == "committed" for r in rs),
            "pending_rolled_back": sum(r.pending == "rolled back" for r in rs),
            "bulk_pending_committed": pending[("bulk", "committed")],
            "bulk_pending_rolled_back": pending[("bulk", "rolled back")],
            "exports_complete_at_target": sum(r.export_state == "complete" for r in rs),
            "exports_absent": sum(r.export_state == "absent" for r in rs),
            "partials_left": sum(r.partials > 0 for r in rs),
            "partials_cleaned": sum(bool(r.partials_cleaned) for r in rs),
            "retrains_applied": sum(r.retrain_applied for r in rs),
            "integrity_ok": sum(r.integrity == "ok" for r in rs),
            "failed": len(self.failed),
            "fresh_process_trials": sum(r.spec.fresh for r in rs),
            "ready_median_s": _median(ready),
            "ready_median_fork_s": _median(ready_fork),
            "ready_median_fresh_s": _median(ready_fresh),
            "calibration": {k: round(v, 3) for k, v in self.calibration.durations.items()},
            "phase_seconds": {
                k: _median([r.durations[k] for r in rs if k in r.durations])
                for k in ("retrain", "retrain-apply")
            },
            "calibration_corrections": self.calibration.acked,
            "seconds": round(self.seconds, 1),
            "workers": self.workers,
        }

    def report(self) -> str:
        f = self.figures()
        lines = [
            f"kill trials: {f['trials']} (SIGKILL {f['killed']}), {f['workers']} at a time, "
            f"{f['seconds']} s",
            "  moments: " + ", ".join(f"{k} {v}" for k, v in f["by_phase"].items()),
            f"  corrections acknowledged by the window: {f['corrections_made']:,} "
            f"({f['rows_acknowledged']:,} row labels); found after the kill: "
            f"{f['corrections_found']:,}",
            f"  edit being saved at the kill: committed {f['pending_committed']}, rolled back "
            f"{f['pending_rolled_back']} (10,000-row bulk edits: committed "
            f"{f['bulk_pending_committed']}, rolled back {f['bulk_pending_rolled_back']}); "
            "labels equal the replayed log in every trial that passed",
            f"  export target after the kill: complete {f['exports_complete_at_target']}, "
            f"absent {f['exports_absent']}; hidden .partial left {f['partials_left']} "
            f"(removed by the next export {f['partials_cleaned']})",
            f"  retrains applied before the kill: {f['retrains_applied']}; integrity_check ok: "
            f"{f['integrity_ok']}/{f['trials']}",
            f"  start-up to a shown project (median): {f['ready_median_s']} s "
            f"(forked {f['ready_median_fork_s']} s, fresh process {f['ready_median_fresh_s']} s, "
            f"{f['fresh_process_trials']} fresh trials)",
            f"  calibration run (no kill, {f['calibration_corrections']} corrections): "
            + ", ".join(f"{k} {v} s" for k, v in f["calibration"].items())
            + "; whole retrains (median): "
            + ", ".join(f"{k} {v} s" for k, v in f["phase_seconds"].items()),
            f"  failed trials: {f['failed']}",
        ]
        return "\n".join(lines)


def _median(values: list[float]) -> float | None:
    return round(float(np.median(values)), 3) if values else None


def run_trials(
    count: int,
    folder: Path,
    *,
    seed: int = 0,
    workers: int = 2,
    fresh_every: int = 0,
    keep: bool = False,
    base: Path | None = None,
    progress=None,
) -> Summary:
    """Build (or reuse) a base project, run a calibration run and ``count`` kill trials."""
    from concurrent.futures import ThreadPoolExecutor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if base is None:
        base = build_base_project(folder / "base.triage")
    state = BaseState.read(base)
    started = time.monotonic()
    with Launcher(fork=True) as launcher:
        fresh = Launcher(fork=False) if fresh_every else None
        calibration = run_trial(
            launcher,
            base,
            state,
            folder / "calibration",
            TrialSpec(0, "none", seed, 0.0),
            keep=keep,
        )
        specs = plan_trials(count, seed, calibration.durations, fresh_every=fresh_every)

        def one(spec: TrialSpec) -> TrialResult:
            use = fresh if spec.fresh and fresh is not None else launcher
            result = run_trial(
                use, base, state, folder / f"trial-{spec.number:03d}", spec, keep=keep
            )
            if progress is not None:
                progress(result)
            return result

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, specs))
    return Summary(results, calibration, time.monotonic() - started, workers)


__all__ = [
    "PHASES",
    "BaseState",
    "Launcher",
    "Summary",
    "TrialResult",
    "TrialSpec",
    "build_base_project",
    "check_project",
    "plan_trials",
    "run_trial",
    "run_trials",
]
