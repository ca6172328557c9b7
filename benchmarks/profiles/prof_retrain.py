"""pyinstrument profile of session.retrain (both models, 50,000 labels each).

python -m benchmarks.profiles.prof_retrain > benchmarks/profiles/retrain_50k_pyinstrument.txt
"""

import os
import tempfile
import time

os.environ["TRIAGE_DATA_DIR"] = tempfile.mkdtemp()

from pyinstrument import Profiler  # noqa: E402

from benchmarks import stages  # noqa: E402
from guiapp.core import session  # noqa: E402

collection = stages.retrain_collection(50_000)
profiler = Profiler(interval=0.01)
profiler.start()
start = time.perf_counter()
session.retrain(session.snapshot(collection))
seconds = time.perf_counter() - start
profiler.stop()
print(
    "session.retrain, both models, 50,000 labels each, 100,000 messages:",
    round(seconds, 1),
    "s; load",
    os.getloadavg()[0],
)
print(profiler.output_text(unicode=False, color=False, show_all=False))
