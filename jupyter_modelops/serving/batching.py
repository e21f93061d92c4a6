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
answered 504 instead of being run. A fast runtime (onnxruntime: microseconds)
runs on the event loop; a slow one (more than 0.5 ms a call, measured) runs in
one worker thread so that the loop keeps reading requests, which then form the
next batch (``threaded`` forces either way). When a merged call fails, each request is
run on its own so that one bad request fails alone. Only the model's own
failures feed the circuit breaker: a failure the runtime traces to the
request's values (``Runtime.input_error``: NaN where the model takes none, an
overflow...) is that client's 400 and leaves the breaker as it was, so that
one client cannot open it for every other. A request with no rows is answered
with empty outputs without calling the model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import numpy as np

from .codec import Request
from .errors import InferenceTimeout, InvalidInput, ModelFailed, Overloaded
from .governance import CircuitBreaker, Metrics

log = logging.getLogger("jupyter_modelops.serving")

#: a runtime slower than this per call runs in a thread, so requests keep being read meanwhile
SLOW_CALL_S = 0.0005


class _Item:
    __slots__ = ("request", "future", "deadline", "key", "t0")

    def __init__(self, request: Request, future: asyncio.Future, deadline: float, t0: float = 0.0) -> None:
        self.request = request
        self.future = future
        self.deadline = deadline
        self.t0 = t0  # time.monotonic() at submission
        # requests merge when every input has the same trailing shape and dtype
        self.key = tuple((n, a.shape[1:], a.dtype.str) for n, a in request.inputs.items())


class Batcher:
    """Queue + worker for one model's runtime."""

    def __init__(
        self,
        name: str,
        runtime: Any,
        *,
        max_batch_size: int = 64,
        max_delay_ms: float = 0.0,
        max_queue: int = 1024,
        timeout_s: float = 30.0,
        threaded: bool | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: Metrics | None = None,
    ) -> None:
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
        self._executor = None
        self._leading = False
        self._ewma: float | None = None
        self._samples: list[float] = []
        self.slow = False
        self.running = 0
        # per-batch observers (capture): tap(items, inputs, outputs) with the answered batch's requests and its
        # whole arrays, on the event loop, before the answers are handed back; they must not change the arrays
        self.taps: list = []
        self._tapped: deque[tuple] = deque()

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
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def _poke(self) -> None:
        w = self._wake
        if w is not None and not w.done():
            w.set_result(None)

    async def submit(self, request: Request) -> dict[str, np.ndarray]:
        if request.nrows == 0 and all(a.shape[:1] == (0,) for a in request.inputs.values()):
            return self._empty()
        if self._closing:
            self.metrics.shed["shutting_down"] += 1
            raise Overloaded("The server is shutting down.", retry_after=1)
        if len(self.queue) >= self.max_queue:
            self.metrics.shed["queue_full"] += 1
            raise Overloaded(
                f"The server is overloaded: {len(self.queue)} requests are already waiting for model '{self.name}'.",
                retry_after=1,
                hint="Retry after the time in the Retry-After header.",
            )
        wait = self.breaker.check()
        if wait:
            self.metrics.shed["circuit_open"] += 1
            raise Overloaded(
                f"Model '{self.name}' failed repeatedly; its circuit breaker is open.",
                retry_after=wait,
                hint="Retry after the time in the Retry-After header.",
            )
        fut = asyncio.get_running_loop().create_future()
        t0 = time.monotonic()
        item = _Item(request, fut, t0 + self.timeout, t0)
        if self._leading:  # a leader is collecting this loop turn's requests: it runs this one too
            self.queue.append(item)
            return await fut
        if (
            not self.threaded
            and not self.slow
            and not self.max_delay
            and not self.queue
            and not self.running
            and not self._closing
        ):
            return await self._lead(item)
        self.queue.append(item)
        self._poke()
        if self.threaded:  # forced into a thread: a waiter can give up on a hung model
            try:
                return await asyncio.wait_for(asyncio.shield(fut), self.timeout)
            except asyncio.TimeoutError:
                raise InferenceTimeout(f"Model '{self.name}' did not answer within {self.timeout:g} s.") from None
        return await fut

    async def _lead(self, item: _Item) -> dict[str, np.ndarray]:
        """Fast runtime, idle batcher: this request leads. It yields one loop turn so that the
        requests read in the same turn join it, then runs them on the loop, without a hop
        through the worker task."""
        self._leading = True
        self.queue.append(item)
        try:
            await asyncio.sleep(0)
            while self.queue:
                batch = self._take()
                if not batch:
                    break
                self.running = len(batch)
                try:
                    done = self._run_batch(batch)
                finally:
                    self.running = 0
                if self._tapped:
                    self._tap()
                for it, out, err in done:
                    _set(it.future, out, err)
        finally:
            self._leading = False
            if self.queue:  # cancelled while collecting: the worker takes over
                self._poke()
        return await item.future

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
                    InferenceTimeout(f"The request waited more than {self.timeout:g} s for model '{self.name}'.")
                )
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
            # requests already read but not yet queued are one loop turn behind: wait while the queue grows
            n = len(self.queue)
            for _ in range(3):
                await asyncio.sleep(0)
                if len(self.queue) == n or len(self.queue) >= self.max_batch_size:
                    break
                n = len(self.queue)
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
                use_thread = self.slow if self.threaded is None else self.threaded
                if use_thread:  # the loop keeps reading requests (they form the next batch)
                    done = await loop.run_in_executor(self._pool(), self._run_batch, batch)
                else:
                    done = self._run_batch(batch)
            finally:
                self.running = 0
            if self._tapped:
                self._tap()
            for item, out, err in done:
                _set(item.future, out, err)
            if not use_thread:
                await asyncio.sleep(0)  # let the loop read new requests and send answers

    def _tap(self) -> None:
        """Hand the answered batches to the taps (on the loop: a batch may have run in the worker thread)."""
        while self._tapped:
            items, inputs, out = self._tapped.popleft()
            for tap in self.taps:
                try:
                    tap(items, inputs, out)
                except Exception as exc:  # noqa: BLE001 - an observer never fails a request
                    log.warning(
                        "model %s: %s failed on a batch: %s: %s",
                        self.name,
                        getattr(tap, "__qualname__", tap),
                        type(exc).__name__,
                        exc,
                    )

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"modelops-{self.name}")
        return self._executor

    def _observe(self, seconds: float) -> None:
        """Decide once whether the runtime is slow, from the fastest of its first calls (the
        fastest, so that a busy machine does not make a fast runtime look slow)."""
        self._samples.append(seconds)
        self._ewma = min(self._samples)
        self.slow = self._ewma > SLOW_CALL_S

    def _call(self, inputs: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        out = self.runtime.predict(inputs)
        dt = time.perf_counter() - t0
        if len(self._samples) < 5:
            self._observe(dt)
        self.metrics.batch_done(self.name, rows, dt)
        return out

    def _run_batch(self, batch: list[_Item]) -> list[tuple]:
        if len(batch) == 1:
            return [self._run_one(batch[0])]
        names = list(batch[0].request.inputs)
        merged = {n: np.concatenate([i.request.inputs[n] for i in batch]) for n in names}
        total = sum(i.request.nrows for i in batch)
        try:
            out = self._call(merged, total)
            for arr in out.values():
                if getattr(arr, "shape", (None,))[:1] != (total,):
                    raise ValueError("an output's first axis is not the batch")
        except Exception:  # isolate the culprit: run each request alone
            return [self._run_one(item) for item in batch]
        self.breaker.success()
        if self.taps:
            self._tapped.append((batch, merged, out))
        done = []
        start = 0
        for item in batch:
            stop = start + item.request.nrows
            done.append((item, {k: v[start:stop] for k, v in out.items()}, None))
            start = stop
        return done

    def _empty(self) -> dict[str, np.ndarray]:
        """The answer to a request without rows: each declared output with a first axis of 0."""
        from .modeldir import V2_TO_NUMPY

        out = {}
        for o in self.runtime.outputs:
            shape = (0, *(d if d > 0 else 0 for d in tuple(o.shape)[1:]))
            out[o.name] = np.empty(shape, dtype=V2_TO_NUMPY.get(o.datatype, "float64"))
        return out

    def _run_one(self, item: _Item) -> tuple:
        try:
            out = self._call(item.request.inputs, item.request.nrows)
        except Exception as exc:
            why = getattr(self.runtime, "input_error", _no_input_error)(exc, item.request.inputs)
            if why:  # the request's fault: a 400 for this client, not a model failure
                return item, None, InvalidInput(why)
            self.breaker.failure()
            self.metrics.errors[(self.name, "model")] += 1
            log.warning("model %s raised %s: %s", self.name, type(exc).__name__, exc)
            return item, None, ModelFailed(f"Model '{self.name}' raised {type(exc).__name__}: {exc}")
        self.breaker.success()
        if self.taps:
            self._tapped.append(([item], item.request.inputs, out))
        return item, out, None


def _no_input_error(exc: BaseException, inputs: dict) -> None:
    return None


def _set(fut: asyncio.Future, out: Any, err: BaseException | None) -> None:
    if fut.done():
        return
    if err is not None:
        fut.set_exception(err)
    else:
        fut.set_result(out)
