"""The model server's side of capture: request ids, sampling, the labels endpoint and metrics.

The server (:mod:`jupyter_modelops.serving.app`) calls :meth:`ServerCapture.begin`
after decoding a request (its id), the model's batcher hands every answered batch
to :meth:`ServerCapture.tap` (one queue entry per batch, holding the batch's own
arrays: nothing is copied or built per request), and the server calls
:meth:`ServerCapture.done` for a request that failed. None of them raises on
behalf of the capture store.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from typing import Any

import orjson

from ..serving.errors import InvalidInput
from .writer import CaptureWriter

#: longest request id accepted from a client
MAX_ID_CHARS = 256


class ServerCapture:
    """Capture for one server process.

    Parameters
    ----------
    location : str
        The capture store (path or URL); ``"default"`` means ``MODELOPS_HOME/captures``.
    rate : float
        Share of requests recorded.
    deployment : str, optional
        The deployment's name, recorded with each row.
    """

    def __init__(self, location: str, *, rate: float = 1.0, deployment: str | None = None, **options: Any) -> None:
        self.writer = CaptureWriter(
            None if location in ("default", "true", "1") else location,
            rate=rate,
            deployment=deployment or None,
            **options,
        )
        # generated ids: 64 random bits for this process, then a counter (32 hex digits, unique, cheap)
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)
        self.names: dict[str, tuple[list[str], list[str], Any]] = {}

    def register(self, model: Any) -> None:
        """A model's runtime is loaded: derive its capture schema from the served signature."""
        self.writer.register(
            model.name, model.version, model.runtime.inputs, model.runtime.outputs, model.spec.feature_names
        )
        self.names[model.name] = (
            [i.name for i in model.runtime.inputs],
            [o.name for o in model.runtime.outputs],
            self.writer.packer(model.name, model.version),
        )
        self.writer.start()

    def tapper(self, model: Any) -> Any:
        """The batch observer of a registered model, for its batcher's ``taps``."""
        ins, outs, _ = self.names[model.name]
        name, version, writer = model.name, model.version, self.writer

        def tap(items: list, inputs: dict, outputs: dict) -> None:
            rows = 0
            ids, nrows, starts = [], [], []
            for it in items:
                r = it.request
                ids.append(r.id)
                nrows.append(r.nrows)
                starts.append(it.t0)
                rows += r.nrows
            writer.seen += len(items)
            keep = None
            if writer.rate < 1.0:
                keep = [random.random() < writer.rate for _ in items]
                if not any(keep):
                    return
            writer.record_batch(
                name,
                version,
                ids,
                nrows,
                rows,
                time.time(),
                time.monotonic(),
                starts,
                [inputs.get(n) for n in ins] + [outputs.get(n) for n in outs],
                keep,
            )

        return tap

    def begin(self, request: Any) -> bool:
        """Give the request an id (its own V2 ``id``, else a new one); True (the batcher's tap records it)."""
        rid = request.id
        if rid is None:
            request.id = f"{self.prefix}{next(self.counter):016x}"
        elif len(rid) > MAX_ID_CHARS:
            raise InvalidInput(f"The request id has {len(rid)} characters; this server accepts at most {MAX_ID_CHARS}.")
        return True

    def done(self, model: Any, request: Any, outputs: dict | None, t0: float, status: int) -> None:
        """Queue a request the batcher did not answer (it failed, or had no rows), drawn at the capture rate:
        packed when it fits, else a plain tuple laid out as :class:`~.writer.Item`."""
        if not self.writer.sample():
            return
        ins, outs, packer = self.names[model.name]
        ts, lat = time.time(), (time.perf_counter() - t0) * 1000.0
        if outputs is not None and packer is not None:
            arrays = [request.inputs.get(n) for n in ins]
            arrays += [outputs.get(n) for n in outs]
            if self.writer.record_packed(packer, request.id, ts, lat, status, request.nrows, arrays) is not None:
                return
        self.writer.record(
            (
                model.name,
                model.version,
                request.id,
                ts,
                lat,
                status,  # type: ignore[arg-type]
                request.nrows,
                tuple(map(request.inputs.get, ins)),
                None if outputs is None else tuple(map(outputs.get, outs)),
            )
        )

    async def labels(self, model: Any, body: bytes) -> bytes:
        """``POST /v2/models/{name}/labels``: ``{"ids": [...], "labels": [...], "rows": [...]?}``."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"The labels body is not valid JSON: {exc}.") from None
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("labels"), list)
            and "ids" not in doc
            and all(isinstance(x, dict) for x in doc["labels"])
        ):
            entries = doc["labels"]
            doc = {
                "ids": [e.get("id") for e in entries],
                "labels": [e.get("label") for e in entries],
                **({"rows": [e.get("row", 0) for e in entries]} if any("row" in e for e in entries) else {}),
            }
        if not isinstance(doc, dict) or not isinstance(doc.get("ids"), list) or not isinstance(doc.get("labels"), list):
            raise InvalidInput(
                'The labels body must be {"ids": [...], "labels": [...]} (optionally "rows": [...]) '
                'or {"labels": [{"id": ..., "label": ...}, ...]}.'
            )
        from .labels import write_labels

        def work() -> dict:
            self.writer.flush()  # ids answered a moment ago are then on the store
            return write_labels(self.writer.store, model.name, doc["ids"], doc["labels"], rows=doc.get("rows"))

        result = await asyncio.to_thread(work)
        return orjson.dumps(result)

    def metrics_lines(self) -> list[str]:
        return self.writer.metrics_lines()

    def close(self) -> None:
        self.writer.close()
