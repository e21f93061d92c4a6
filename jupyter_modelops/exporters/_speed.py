"""In-process latency of the original model and of each export, one thread each, bounded."""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from typing import Any, Callable, Iterator

ITERATIONS = 300  # at most this many timed calls per measurement
SECONDS = 0.75  # and at most this long
BATCH_ROWS = 1000


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Limit BLAS/OpenMP (threadpoolctl) and torch to one thread, restoring them afterwards."""
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1))
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            pass
        torch = sys.modules.get("torch")
        if torch is not None:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, before)
        yield


def _time(fn: Callable[[], Any], *, iterations: int, seconds: float) -> dict:
    for _ in range(3):  # warm up (lazy allocations, JIT profiling runs)
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < iterations and (len(samples) < 5 or time.perf_counter() < deadline):
        t = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t) / 1000.0)
    return {
        "median_us": statistics.median(samples),
        "p90_us": sorted(samples)[int(0.9 * (len(samples) - 1))],
        "calls": len(samples),
    }


def measure(
    original: Callable[[Any], Any],
    runners: dict[str, Callable[[Any], Any]],
    sample: Any,
    *,
    iterations: int = ITERATIONS,
    seconds: float = SECONDS,
    single_row: bool = True,
) -> dict:
    """Median latency of a single row and of a batch, for the original and every export.

    Returns ``{"threads": 1, "batch_rows": n, "original": {...}, role: {..., "speedup_single",
    "speedup_batch"}}`` with times in microseconds. ``single_row=False`` (an export
    with a fixed batch size) times the whole sample only.
    """
    single = sample.take(slice(0, 1)) if single_row else None
    n = min(sample.n_rows, BATCH_ROWS) if single_row else sample.n_rows
    batch = sample.take(slice(0, n))
    out: dict[str, Any] = {"threads": 1, "batch_rows": n, "iterations_max": iterations, "seconds_max": seconds}

    def median(fn: Callable[[Any], Any], data: Any) -> float | None:
        if data is None:
            return None
        return _time(lambda: fn(data), iterations=iterations, seconds=seconds)["median_us"]

    with one_thread():
        base: dict[str, Any] = {"single_row_us": median(original, single), "batch_us": median(original, batch)}
        out["original"] = base
        for role, run in runners.items():
            s, b = median(run, single), median(run, batch)
            out[role] = {
                "single_row_us": s,
                "batch_us": b,
                "speedup_single": base["single_row_us"] / s if s else None,
                "speedup_batch": base["batch_us"] / b if b else None,
            }
    return out
