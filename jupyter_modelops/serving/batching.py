"""Dynamic batching: merge concurrent requests into one runtime call, split the answers back.

One worker task per model takes the requests that are waiting, up to
``max_batch_size`` rows, concatenates each input along the first axis, calls
the runtime once and slices every output back to its request. With
``max_delay_ms=0`` (the default) it never waits on purpose: it takes what
arrived while the previous call ran, so a lone request pays nothing and a busy
server batches by itself. A positive delay waits up to that long for a fuller
batch.

The queue is bounded: when ``max_queue`` requests wait, new ones are shed
with 503 and Retry-After. A request that waited longer than its timeout is
answered 504 instead of being run. When a merged call fails, each request is
run on its own so that one bad request fails alone; failures feed the
circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import numpy as np

from .codec import Request
from .errors import InferenceTimeout, ModelFailed, Overloaded
from .governance import CircuitBreaker, Metrics

log = logging.getLogger("jupyter_modelops.serving")


class _Item:
    __slots__ = ("request", "future", "deadline", "key")

    def __init__(self, request: Request, future: asyncio.Future, deadline: float) -> None:
        self.request = request
        self.future = future
        self.deadline = deadline
        # requests merge when every input has the same trailing shape and dtype
        self.key = tuple((n, a.shape[1:], a.dtype.str) for n, a in request.inputs.items())


class Batcher:
    """Queue + worker for one model's runtime."""

    def __init__(self, name: str, runtime: Any, *, max_batch_size: int = 64, max_delay_ms: float = 0.0,
                 max_queue: int = 1024, timeout_s: float = 30.0, threaded: bool = False,
                 breaker: CircuitBreaker | None = None, metrics: Metrics | None = None) -> None:
        self.name = name
        self.runtime = runtime
        self.max_batch_size = max(1, int(max_batch_size))
        self.max_delay = max(0.0, float(max_delay_ms)) / 1000.0
        self.max_queue = max(1, int(max_queue))
        self.timeout = float(timeout_s)
        self.threaded = threaded
        self.breaker = breaker or CircuitBreaker()
        self.metrics = metrics or Metrics()
        self.queue: deque[_Item] = deque()
        self._wake: asyncio.Future | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self.running = 0

    def depth(self) -> int:
        return len(self.queue) + self.running

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def close(self) -> None:
        """Stop taking requests and finish the ones already queued."""
        self._closing = True
        self._poke()
        if self._task is not None:
            await self._task

    def _poke(self) -> None:
        w = self._wake
        if w is not None and not w.done():
            w.set_result(None)

    async def submit(self, request: Request) -> dict[str, np.ndarray]:
        if self._closing:
            self.metrics.shed["shutting_down"] += 1
            raise Overloaded("The server is shutting down.", retry_after=1)
        if len(self.queue) >= self.max_queue:
            self.metrics.shed["queue_full"] += 1
            raise Overloaded(
                f"The server is overloaded: {len(self.queue)} requests are already waiting for model '{self.name}'.",
                retry_after=1, hint="Retry after the time in the Retry-After header.")
        wait = self.breaker.check()
        if wait:
            self.metrics.shed["circuit_open"] += 1
            raise Overloaded(
                f"Model '{self.name}' failed repeatedly; its circuit breaker is open.", retry_after=wait,
                hint="Retry after the time in the Retry-After header.")
        fut = asyncio.get_running_loop().create_future()
        self.queue.append(_Item(request, fut, time.monotonic() + self.timeout))
        self._poke()
        if self.threaded:  # the runtime runs in a thread: a waiter can give up on time
            try:
                return await asyncio.wait_for(asyncio.shield(fut), self.timeout)
            except asyncio.TimeoutError:
                raise InferenceTimeout(f"Model '{self.name}' did not answer within {self.timeout:g} s.") from None
        return await fut

    def _take(self) -> list[_Item]:
        """Pop the next batch: same-key requests in arrival order, up to max_batch_size rows."""
        q = self.queue
        now = time.monotonic()
        batch: list[_Item] = []
        rows = 0
        while q:
            item = q[0]
            if item.future.done():  # the waiter gave up (timeout, disconnect)
                q.popleft()
                continue
            if item.deadline < now:
                q.popleft()
                self.metrics.errors[(self.name, "timeout")] += 1
                item.future.set_exception(
                    InferenceTimeout(f"The request waited more than {self.timeout:g} s for model '{self.name}'."))
                continue
            if batch and (item.key != batch[0].key or rows + item.request.nrows > self.max_batch_size):
                break
            q.popleft()
            batch.append(item)
            rows += item.request.nrows
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.queue:
                if self._closing:
                    return
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
                continue
            if self.max_delay and not self._closing:
                first = self.queue[0]
                rows = sum(i.request.nrows for i in self.queue)
                end = time.monotonic() + self.max_delay
                while rows < self.max_batch_size and time.monotonic() < end and not first.future.done():
                    self._wake = loop.create_future()
                    try:
                        await asyncio.wait_for(self._wake, end - time.monotonic())
                    except asyncio.TimeoutError:
                        pass
                    self._wake = None
                    rows = sum(i.request.nrows for i in self.queue)
            batch = self._take()
            if not batch:
                continue
            self.running = len(batch)
            try:
                if self.threaded:
                    await loop.run_in_executor(None, self._run_batch, batch)
                else:
                    self._run_batch(batch)
            finally:
                self.running = 0
            if not self.threaded:
                await asyncio.sleep(0)  # let the loop read new requests and send answers

    def _call(self, inputs: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        out = self.runtime.predict(inputs)
        self.metrics.batch_done(self.name, rows, time.perf_counter() - t0)
        return out

    def _run_batch(self, batch: list[_Item]) -> None:
        if len(batch) == 1:
            self._run_one(batch[0])
            return
        names = list(batch[0].request.inputs)
        merged = {n: np.concatenate([i.request.inputs[n] for i in batch]) for n in names}
        total = sum(i.request.nrows for i in batch)
        try:
            out = self._call(merged, total)
            for arr in out.values():
                if getattr(arr, "shape", (None,))[:1] != (total,):
                    raise ValueError("an output's first axis is not the batch")
        except Exception:  # isolate the culprit: run each request alone
            for item in batch:
                self._run_one(item)
            return
        self.breaker.success()
        start = 0
        for item in batch:
            stop = start + item.request.nrows
            self._resolve(item, {k: v[start:stop] for k, v in out.items()})
            start = stop

    def _run_one(self, item: _Item) -> None:
        try:
            out = self._call(item.request.inputs, item.request.nrows)
        except Exception as exc:
            self.breaker.failure()
            self.metrics.errors[(self.name, "model")] += 1
            log.warning("model %s raised %s: %s", self.name, type(exc).__name__, exc)
            err = ModelFailed(f"Model '{self.name}' raised {type(exc).__name__}: {exc}")
            self._resolve(item, None, err)
            return
        self.breaker.success()
        self._resolve(item, out)

    def _resolve(self, item: _Item, out: Any, err: BaseException | None = None) -> None:
        fut = item.future
        if self.threaded:
            fut.get_loop().call_soon_threadsafe(_set, fut, out, err)
        else:
            _set(fut, out, err)


def _set(fut: asyncio.Future, out: Any, err: BaseException | None) -> None:
    if fut.done():
        return
    if err is not None:
        fut.set_exception(err)
    else:
        fut.set_result(out)
