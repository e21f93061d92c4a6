"""The capture writer: a bounded in-memory queue drained by one background thread into Parquet.

Recording costs the caller a random draw and a queue append; it never blocks
and never raises. When the queue holds ``max_queue_rows`` rows, new rows are
dropped and counted (a warning in the log, at most once a minute). The
writer thread groups rows by model, version and UTC hour, and writes one
Parquet file per group when it reaches ``roll_rows`` rows, ``roll_bytes``
bytes or ``roll_seconds`` of age, and on :meth:`flush` and :meth:`close`. A
file that cannot be written (a full disk, a store that is down) costs its
rows, counted as dropped; the next files are written when the store works again.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import deque
from typing import Any, NamedTuple

from .schema import CaptureSchema
from .store import CaptureStore, check_part, hour_of

log = logging.getLogger("jupyter_modelops.capture")

WARN_EVERY_S = 60.0


class Item(NamedTuple):
    """One sampled request (its arrays are kept as they are; conversion happens in the writer thread).

    The writer takes any tuple laid out like this one; the server passes plain tuples, with the
    inputs and outputs as tuples of arrays in signature order, which the garbage collector
    stops tracking at once: rows waiting in the queue cost it nothing.
    """

    model: str
    version: str
    request_id: str
    ts: float
    latency_ms: float
    status: int
    nrows: int
    inputs: dict | None
    outputs: dict | None


class _Buffer:
    """Rows of one (model, version, hour) converted to Arrow, waiting to be written as one file."""

    __slots__ = ("tables", "rows", "start", "since")

    def __init__(self) -> None:
        self.tables: list[Any] = []
        self.rows = 0
        self.start = float("inf")
        self.since = time.monotonic()


class _Packed:
    """Answered requests of one model in packed form, filled on the request path without a lock.

    ``meta`` holds one ``(request id, time, latency, status, rows)`` tuple per request; ``data`` holds
    their tensors' bytes row by row (each row: every input, then every output, in signature order), so
    the whole buffer is a ``(rows, row_bytes)`` byte matrix. The request thread appends the bytes, then
    the tuple; the writer thread takes a prefix of ``meta`` and the bytes it covers, then deletes them.
    Each of these list and bytearray operations is atomic under the interpreter lock.
    """

    __slots__ = ("model", "version", "spec", "row_bytes", "meta", "data")

    def __init__(self, model: str, version: str, spec: list) -> None:
        self.model, self.version, self.spec = model, version, spec
        self.row_bytes = sum(dt.itemsize * k for dt, k in spec)
        self.meta: list[tuple] = []
        self.data = bytearray()


def _warm_up(schema: CaptureSchema, context: tuple) -> None:
    """Convert and encode one row of zeros in memory: pyarrow's first conversion and Parquet write
    initialise lazily (about 0.2 s of CPU), which must not land on the first requests under load."""
    import io

    import numpy as np
    import pyarrow.parquet as pq

    def zeros(c: Any) -> Any:
        shape = (1,) if c.width == 0 else (1, max(c.width, 1))
        return np.full(shape, b"", dtype=object) if c.datatype == "BYTES" else np.zeros(shape, "float64")

    try:
        ins = {
            c.tensor: (np.zeros((1, schema.n_features)) if c.feature is not None else zeros(c))
            for c in schema.columns
            if c.role == "input"
        }
        outs = {c.tensor: zeros(c) for c in schema.columns if c.role == "output"}
        table = schema.table([Item("m", "1", "warm-up", time.time(), 0.0, 200, 1, ins, outs)], context)
        pq.write_table(table, io.BytesIO(), compression="zstd", use_dictionary=schema.dictionary)
    except Exception:  # noqa: BLE001 - only a warm-up: the real rows report their own errors
        pass


class CaptureWriter:
    """Write sampled inferences of one or more models to a capture store.

    :meth:`register` each model, :meth:`start` the writer thread, :meth:`record`
    sampled requests, :meth:`close` at the end (without a thread, rows wait
    in the queue until :meth:`flush` or :meth:`close`).

    Parameters
    ----------
    store : CaptureStore, str or None
        Where to write (see :class:`~.store.CaptureStore`).
    rate : float, default=1.0
        Share of requests recorded (0 < rate <= 1).
    max_queue_rows : int, default=100000
        Rows waiting for the writer thread before new ones are dropped.
    roll_rows, roll_bytes, roll_seconds
        A file is written when its group reaches any of these.
    deployment, cluster, pod : str, optional
        Where the server runs (default: ``MODELOPS_DEPLOYMENT``, ``MODELOPS_CLUSTER``,
        ``POD_NAME`` from the Kubernetes downward API, else this host and process).
    """

    def __init__(
        self,
        store: CaptureStore | str | None = None,
        *,
        rate: float = 1.0,
        max_queue_rows: int = 100_000,
        roll_rows: int = 100_000,
        roll_bytes: int = 64 << 20,
        roll_seconds: float = 60.0,
        deployment: str | None = None,
        cluster: str | None = None,
        pod: str | None = None,
    ) -> None:
        from ..exceptions import ValidationError

        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise ValidationError(f"capture_rate is {rate!r}; expected a share of requests in (0, 1], e.g. 0.1.")
        for arg, value in (("max_queue_rows", max_queue_rows), ("roll_rows", roll_rows), ("roll_bytes", roll_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{arg} is {value!r}; expected a positive integer.")
        if isinstance(roll_seconds, bool) or not isinstance(roll_seconds, (int, float)) or roll_seconds <= 0:
            raise ValidationError(f"roll_seconds is {roll_seconds!r}; expected a positive number of seconds.")
        self.store = store if isinstance(store, CaptureStore) else CaptureStore(store)
        self.rate = float(rate)
        self.max_queue_rows = max_queue_rows
        self.roll_rows, self.roll_bytes, self.roll_seconds = roll_rows, roll_bytes, float(roll_seconds)
        env = os.environ
        host = socket.gethostname()
        self.context = (
            deployment if deployment is not None else env.get("MODELOPS_DEPLOYMENT", ""),
            cluster if cluster is not None else env.get("MODELOPS_CLUSTER", "local"),
            pod if pod is not None else env.get("POD_NAME") or f"{host}-{os.getpid()}",
        )
        self.writer_id = "".join(
            c if c.isalnum() or c in "-_." else "-" for c in f"{self.context[2]}-{uuid.uuid4().hex[:6]}"
        )[:100]
        self.schemas: dict[tuple[str, str], CaptureSchema] = {}
        self.queue: deque[Item] = deque()
        self.packed: dict[tuple[str, str], _Packed] = {}
        self.batches: deque[tuple] = deque()  # see record_batch
        # rows put in the queue (by the recording thread) and taken out (by the writer): no lock on the hot path
        self.queued_rows = 0
        self.drained_rows = 0
        self.wake = threading.Event()
        self.buffers: dict[tuple[str, str, str], _Buffer] = {}
        self.seq = 0
        # counters (rows), read by /metrics and written into each file's metadata
        self.seen = 0
        self.sampled = 0
        self.written = 0
        self.files = 0
        self.bytes_written = 0
        self.dropped = {"queue_full": 0, "write_error": 0}
        self.last_error: str | None = None
        self._last_warn = {"queue_full": -1e18, "write_error": -1e18}
        self._flush_req = 0
        self._flush_done = 0
        self._flushed = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- models --------------------------------------------------------------------------------
    def register(self, model: str, version: str, inputs: Any, outputs: Any, feature_names: Any = None) -> None:
        """Declare a model's signature (its capture schema); needed before :meth:`record`."""
        key = (check_part(model, "model name"), check_part(version, "version"))
        schema = self.schemas[key] = CaptureSchema(list(inputs), list(outputs), feature_names)
        _warm_up(schema, self.context)

    # -- hot path ------------------------------------------------------------------------------
    def sample(self) -> bool:
        """Draw whether the next request is recorded."""
        self.seen += 1
        return self.rate >= 1.0 or random.random() < self.rate

    def packer(self, model: str, version: str) -> _Packed | None:
        """The packed buffer of a registered model (None when its signature has a tensor without a fixed width)."""
        p = self.packed.get((model, version))
        if p is None:
            schema = self.schemas.get((model, version))
            if schema is None or schema.packed is None:
                return None
            p = self.packed[(model, version)] = _Packed(model, version, schema.packed)
        return p

    def record_packed(
        self, p: _Packed, request_id: str, ts: float, latency_ms: float, status: int, nrows: int, arrays: list
    ) -> bool | None:
        """Queue one answered request by copying its arrays (inputs, then outputs, in signature order) into
        ``p`` (see :meth:`packer`): the cheap path. None when they do not fit it (then use :meth:`record`);
        False when the queue is full (dropped and counted). Call it from one thread.
        """
        if nrows <= 0:
            return None
        for arr, (dt, k) in zip(arrays, p.spec):
            if arr is None or arr.dtype != dt or arr.size != nrows * k:
                return None
        if self.queued_rows - self.drained_rows + nrows > self.max_queue_rows:
            self._drop("queue_full", nrows, "the capture queue is full (the store is slower than the traffic)")
            return False
        if nrows == 1:
            p.data += b"".join([a.tobytes() for a in arrays])
        else:  # row by row: each row's bytes of every tensor side by side
            import numpy as np

            p.data += np.hstack([np.ascontiguousarray(a).reshape(nrows, -1).view(np.uint8) for a in arrays]).tobytes()
        p.meta.append((request_id, ts, latency_ms, status, nrows))  # after the bytes: the writer relies on it
        self.queued_rows += nrows
        return True

    def record_batch(
        self,
        model: str,
        version: str,
        ids: list,
        nrows: list,
        rows: int,
        ts: float,
        end: float,
        starts: list,
        arrays: list,
        keep: list | None = None,
    ) -> bool:
        """Queue one answered batch as it is: the cheapest path, one queue entry per batch and no copy.

        ``ids``, ``nrows`` and ``starts`` hold one entry per request of the batch (``rows`` rows in all);
        ``arrays`` the batch's tensors (inputs, then outputs, in signature order; ``None`` for one that is
        missing), which nobody may change afterwards; a request's latency is ``end - start`` (seconds, from
        one clock), its time ``ts`` (seconds since the epoch). ``keep``, when given, says which requests are
        recorded (sampling). False when the queue is full (dropped and counted). Call it from one thread.
        """
        if self.queued_rows - self.drained_rows + rows > self.max_queue_rows:
            self._drop("queue_full", rows, "the capture queue is full (the store is slower than the traffic)")
            return False
        self.queued_rows += rows
        self.batches.append((model, version, ids, nrows, rows, ts, end, starts, arrays, keep))
        return True

    def record(self, item: Item) -> bool:
        """Queue one sampled request; False when it was dropped (queue full). Never raises.

        Call it from one thread (the server's event loop); the writer thread drains.
        """
        n = item[6] if item[6] > 0 else 1
        if self.queued_rows - self.drained_rows + n > self.max_queue_rows:
            self._drop("queue_full", n, "the capture queue is full (the store is slower than the traffic)")
            return False
        self.queued_rows += n
        self.queue.append(item)
        return True

    @property
    def thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _drop(self, reason: str, n: int, why: str) -> None:
        self.dropped[reason] += n
        now = time.monotonic()
        if now - self._last_warn[reason] >= WARN_EVERY_S:
            self._last_warn[reason] = now
            log.warning(
                "capture: dropped %d row(s): %s; %d dropped so far (modelops_capture_dropped_total).",
                n,
                why,
                sum(self.dropped.values()),
            )

    # -- thread --------------------------------------------------------------------------------
    def start(self) -> "CaptureWriter":
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="modelops-capture", daemon=True)
            self._thread.start()
        return self

    def flush(self, timeout: float = 60.0) -> bool:
        """Write every queued row now (blocking); True when done within ``timeout``."""
        if not self.thread_alive:
            self._drain()
            self._write_due(force=True)
            return True
        with self._flushed:
            self._flush_req += 1
            want = self._flush_req
            self.wake.set()
            return self._flushed.wait_for(lambda: self._flush_done >= want, timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Write everything queued, then stop the thread (on server shutdown)."""
        self._stop = True
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._drain()
        self._write_due(force=True)

    def _run(self) -> None:
        tick = min(0.25, self.roll_seconds / 4)
        while True:
            self.wake.wait(tick)
            self.wake.clear()
            stop = self._stop
            with self._flushed:
                want = self._flush_req
            self._drain()
            self._write_due(force=stop or want > self._flush_done)
            if want > self._flush_done:
                with self._flushed:
                    self._flush_done = want
                    self._flushed.notify_all()
            if stop:
                return

    def _drain(self) -> None:
        """Move queued requests into Arrow buffers at once (no Python objects pile up for the garbage
        collector to walk), and write the buffers that are full."""
        self._drain_batches()
        q = self.queue
        hours: dict[int, str] = {}
        fresh: dict[tuple[str, str, str], list[Item]] = {}
        taken = 0
        while True:
            try:
                item = q.popleft()
            except IndexError:
                break
            taken += item[6] if item[6] > 0 else 1
            h = int(item[3] // 3600)
            hour = hours.get(h)
            if hour is None:
                hour = hours[h] = hour_of(item[3])
            key = (item[0], item[1], hour)
            group = fresh.get(key)
            if group is None:
                group = fresh[key] = []
            group.append(item)
        self.drained_rows += taken
        for p in list(self.packed.values()):
            m = len(p.meta)  # first the requests, then the bytes they cover (appended before them)
            if not m:
                continue
            meta = p.meta[:m]
            rows = sum(r[4] for r in meta)
            data = bytes(p.data[: rows * p.row_bytes])
            del p.data[: rows * p.row_bytes]
            del p.meta[:m]
            self.drained_rows += rows
            self._add_packed(p, meta, data, rows)
        for key, items in fresh.items():
            schema = self.schemas[key[:2]]
            try:
                table = schema.table(items, self.context)
            except Exception as exc:  # noqa: BLE001 - a row the signature does not describe
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._drop(
                    "write_error",
                    sum(max(it[6], 1) for it in items),
                    f"rows of {key[0]}:{key[1]} do not fit its signature ({self.last_error})",
                )
                continue
            buf = self.buffers.get(key)
            if buf is None:
                buf = self.buffers[key] = _Buffer()
            buf.tables.append(table)
            buf.rows += table.num_rows
            buf.start = min(buf.start, min(it[3] for it in items))
            if buf.rows >= self.roll_rows or buf.rows * schema.row_bytes >= self.roll_bytes:
                self._write(key, self.buffers.pop(key))

    def _drain_batches(self) -> None:
        """Batches (see :meth:`record_batch`) of each model become one Arrow table: each tensor's arrays are
        concatenated, the metadata built as columns. A batch that does not fit the packed form of its
        signature (bytes, no fixed width, another dtype) is split into requests for :meth:`_drain`."""
        import numpy as np

        groups: dict[tuple[str, str], list] = {}
        while True:
            try:
                b = self.batches.popleft()
            except IndexError:
                break
            groups.setdefault((b[0], b[1]), []).append(b)
        for (model, version), batches in groups.items():
            schema = self.schemas[(model, version)]
            spec = schema.packed
            fit, split = [], []
            for b in batches:
                arrays, rows = b[8], b[4]
                ok = (
                    spec is not None
                    and len(arrays) == len(spec)
                    and all(a is not None and a.dtype == dt and a.size == rows * k for a, (dt, k) in zip(arrays, spec))
                )
                (fit if ok else split).append(b)
            for b in split:  # rare: per request, through the general conversion
                _, _, ids, nrows, rows, ts, end, starts, arrays, keep = b
                n_in = len(schema.input_names)
                offset = 0
                for i, (rid, n, start) in enumerate(zip(ids, nrows, starts)):
                    part = tuple(None if a is None else a[offset : offset + n] for a in arrays)
                    offset += n
                    if keep is None or keep[i]:  # its rows are counted as drained when _drain takes it
                        self.queue.append(
                            Item(model, version, rid, ts, (end - start) * 1000.0, 200, n, part[:n_in], part[n_in:])
                        )  # type: ignore[arg-type]
                    else:
                        self.drained_rows += n
            if not fit:
                continue
            taken = sum(b[4] for b in fit)
            ids = [i for b in fit for i in b[2]]
            nrows = np.array([n for b in fit for n in b[3]], dtype=np.int64)
            lat = np.concatenate([(b[6] - np.asarray(b[7], dtype=np.float64)) * 1000.0 for b in fit])
            ts = np.concatenate([np.full(len(b[2]), b[5]) for b in fit])
            stacked = [
                np.concatenate([b[8][j].reshape(b[4], k) for b in fit])
                if len(fit) > 1
                else fit[0][8][j].reshape(fit[0][4], k)
                for j, (_, k) in enumerate(spec)
            ]
            if any(b[9] is not None for b in fit):  # sampling: keep the drawn requests and their rows
                keep = np.concatenate(
                    [np.ones(len(b[2]), bool) if b[9] is None else np.asarray(b[9], bool) for b in fit]
                )
                rows_kept = np.repeat(keep, nrows)
                stacked = [a[rows_kept] for a in stacked]
                ids = [i for i, k in zip(ids, keep) if k]
                nrows, lat, ts = nrows[keep], lat[keep], ts[keep]
            self.drained_rows += taken
            if not len(ids):
                continue
            rows = int(nrows.sum())
            try:
                table = schema.table_arrays(
                    ids, ts, lat, np.full(len(ids), 200, np.int16), nrows, stacked, self.context
                )
            except Exception as exc:  # noqa: BLE001 - never take the server down
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._drop("write_error", rows, f"rows of {model}:{version} could not be converted ({self.last_error})")
                continue
            self._add_table(model, version, table, ts, nrows)

    def _add_packed(self, p: _Packed, meta: list, data: bytes, rows: int) -> None:
        import numpy as np

        model, version = p.model, p.version
        schema = self.schemas[(model, version)]
        ids, ts_list, lat, status, nrows = (list(x) for x in zip(*meta))
        try:
            table = schema.table_packed(ids, ts_list, lat, status, nrows, data, self.context)
        except Exception as exc:  # noqa: BLE001 - never take the server down
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._drop("write_error", rows, f"rows of {model}:{version} could not be converted ({self.last_error})")
            return
        self._add_table(model, version, table, np.array(ts_list), nrows)

    def _add_table(self, model: str, version: str, table: Any, ts: Any, nrows: Any) -> None:
        """Add a converted table (``ts`` and ``nrows``: one entry per request) to the buffers of its hours."""
        import numpy as np

        schema = self.schemas[(model, version)]
        hours = (ts // 3600).astype(np.int64)
        first, last = int(hours.min()), int(hours.max())
        for h in range(first, last + 1):  # nearly always one hour
            part = table if first == last else table.filter(np.repeat(hours == h, nrows))
            if not part.num_rows:
                continue
            key = (model, version, hour_of(h * 3600.0))
            buf = self.buffers.get(key)
            if buf is None:
                buf = self.buffers[key] = _Buffer()
            buf.tables.append(part)
            buf.rows += part.num_rows
            buf.start = min(buf.start, float(ts[hours == h].min()))
            if buf.rows >= self.roll_rows or buf.rows * schema.row_bytes >= self.roll_bytes:
                self._write(key, self.buffers.pop(key))

    def _write_due(self, force: bool) -> None:
        now = time.monotonic()
        for key in list(self.buffers):
            buf = self.buffers[key]
            if force or now - buf.since >= self.roll_seconds:
                self._write(key, self.buffers.pop(key))

    def _write(self, key: tuple[str, str, str], buf: _Buffer) -> None:
        """Write a buffer as one file (several when it outgrew ``roll_rows``); a failure drops its rows."""
        import pyarrow as pa

        model, version, hour = key
        schema = self.schemas[(model, version)]
        table = buf.tables[0] if len(buf.tables) == 1 else pa.concat_tables(buf.tables)
        buf.tables = []
        for offset in range(0, table.num_rows, self.roll_rows):
            part = table.slice(offset, self.roll_rows)
            try:
                self.seq += 1
                name = (
                    f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(buf.start))}-{self.writer_id}-"
                    f"{self.seq:06d}.parquet"
                )
                meta = {
                    "modelops.capture_rate": repr(self.rate),
                    "modelops.writer": self.writer_id,
                    "modelops.seen_requests": str(self.seen),
                    "modelops.dropped_rows": str(sum(self.dropped.values())),
                }
                part = part.replace_schema_metadata(
                    {**(part.schema.metadata or {}), **{k.encode(): v.encode() for k, v in meta.items()}}
                )
                size = self.store.write_table(
                    part, self.store.partition_dir(model, version, hour), name, dictionary=schema.dictionary
                )
            except Exception as exc:  # noqa: BLE001 - capture must never take the server down
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._drop(
                    "write_error",
                    part.num_rows,
                    f"could not write captures of {model}:{version} to {self.store.url} ({self.last_error})",
                )
                continue
            self.written += part.num_rows
            self.files += 1
            self.bytes_written += size

    # -- metrics -------------------------------------------------------------------------------
    def metrics_lines(self) -> list[str]:
        """Prometheus text lines for ``/metrics``."""
        return [
            "# HELP modelops_capture_rows_total Captured rows written to the capture store.",
            "# TYPE modelops_capture_rows_total counter",
            f"modelops_capture_rows_total {self.written}",
            "# HELP modelops_capture_dropped_total Sampled rows not captured, by reason.",
            "# TYPE modelops_capture_dropped_total counter",
            *(f'modelops_capture_dropped_total{{reason="{r}"}} {n}' for r, n in sorted(self.dropped.items())),
            "# HELP modelops_capture_files_total Capture files written.",
            "# TYPE modelops_capture_files_total counter",
            f"modelops_capture_files_total {self.files}",
            "# HELP modelops_capture_queue_rows Rows waiting for the capture writer.",
            "# TYPE modelops_capture_queue_rows gauge",
            f"modelops_capture_queue_rows {self.queued_rows - self.drained_rows}",
        ]
