"""Profile target: both models over 100,000 short messages (run under py-spy).

py-spy record -o out.txt -f raw -r 100 -- python -m benchmarks.profiles.prof_predict
"""

import time

from benchmarks import _common as C
from guiapp.core import models

collection = C.collection_from_csv(100_000)
spam, sentiment = models.load_current("spam"), models.load_current("sentiment")
models.predict(collection.messages.iloc[:5000], spam, sentiment)  # warm up
start = time.perf_counter()
for _ in range(2):
    models.predict(collection.messages, spam, sentiment)
print("both models, 100,000 messages:", (time.perf_counter() - start) / 2, "s per pass")
