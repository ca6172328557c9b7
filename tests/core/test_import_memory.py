"""Hostile inputs cannot make an import take unbounded memory: the peak resident memory an
import adds (``resource.getrusage``) stays under a generous bound for each generated hostile
file. A resource assertion, measured in a child process per file; not a timing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

LIMIT_BYTES = 1.5 * 1024**3

# One process imports the importer once, then forks a child per file: the child's peak
# resident set before and after the import (Linux reports kB, macOS bytes).
MEASURE = textwrap.dedent(
    """
    import json, os, resource, sys
    from guiapp.core.errors import InputError
    from guiapp.core.io import load_collection

    scale = 1 if sys.platform == "darwin" else 1024
    for name, path in json.loads(sys.argv[1]).items():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
            try:
                result = load_collection(path)
                outcome = f"{len(result.messages)} messages, {len(result.problems)} problems"
            except InputError as err:
                outcome = f"InputError: {err.reason}"
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
            os.write(write, json.dumps([name, after - before, outcome]).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as fh:
            data = fh.read()
        os.waitpid(pid, 0)
        print(data or json.dumps([name, None, "the child died"]), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="resource and fork are POSIX")
def test_hostile_imports_stay_within_a_memory_bound(hostile):
    paths = {name: str(path) for name, path in sorted(hostile.items())}
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(paths)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r[0] for r in rows] == sorted(paths)
    print()
    for name, grew, outcome in rows:
        size = f"{grew / 2**20:,.0f} MB" if grew is not None else "?"
        print(f"{name:<22} peak RSS +{size:>9}   {outcome}")
    for name, grew, outcome in rows:
        assert grew is not None, f"{name}: {outcome}"
        assert grew < LIMIT_BYTES, f"{name}: the import grew the process by {grew / 2**30:.2f} GB"
