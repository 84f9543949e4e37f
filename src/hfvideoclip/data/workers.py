"""How many DataLoader workers decode videos by default: the cores this process may use, capped.

Decoding is CPU-bound and runs one video per worker (each worker decodes single-threaded: see
`decoding._configure_threads`), so throughput grows with the worker count up to the cores available
(`benchmarks/bench_decode.py` measures the scaling).
"""

from __future__ import annotations

from ..models.video_clip.video_decoding import usable_cores

MAX_DEFAULT_WORKERS = 8
"""Cap of the default: beyond it each worker's memory (a decoded batch, the dataset's copy) outweighs the gain of
a machine whose cores also feed the GPU."""


def default_num_workers(num_items: int | None = None) -> int:
    """Workers for decoding `num_items` videos (None: unknown): `min(usable_cores(), 8, num_items)`.

    Returns 0 (decode in the calling process) for a single core or at most one item: a worker process then only
    adds its start-up time.
    """
    workers = min(usable_cores(), MAX_DEFAULT_WORKERS)
    if num_items is not None:
        workers = min(workers, num_items)
    return workers if workers > 1 else 0


def resolve_num_workers(value: int | None, num_items: int | None = None) -> int:
    """A `--num_workers` flag: None or -1 -> `default_num_workers`, else the value (>= 0)."""
    if value is None or value == -1:
        return default_num_workers(num_items)
    if value < 0:
        raise ValueError(f"--num_workers must be >= 0 (or -1 for the machine's cores), got {value}.")
    return value
