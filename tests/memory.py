"""What a provider keeps per entry, by tracemalloc (issue 20: 100k entries in <= 250 MiB a server)."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Callable


def bytes_kept_per_entry(provider: str, grow: Callable[[range], None], n: int) -> tuple[float, str]:
    """The bytes the ledger and `provider` keep per entry while `grow` makes entries 100 to `n` (entries 0 to 100
    first, for caches and first-use allocations): not the request journal's or the write log's copies of the
    requests. With the largest sites per entry, for a failure message."""
    grow(range(100))
    gc.collect()
    tracemalloc.start(8)  # what the ledger allocates lies within a few frames of its code (16 measure the same)
    try:
        grow(range(100, n))
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    kept = snapshot.filter_traces([tracemalloc.Filter(True, "*/mock_server/ledger/*", all_frames=True),
                                   tracemalloc.Filter(True, f"*/mock_server/providers/{provider}/*", all_frames=True)])
    count = n - 100
    sites = "\n".join(f"{stat.size / count:6.0f} {stat.traceback[0]}" for stat in kept.statistics("lineno")[:15])
    return sum(stat.size for stat in kept.statistics("filename")) / count, sites
