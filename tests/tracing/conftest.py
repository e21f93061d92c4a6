"""Fixtures of the tracing tests: a real OTLP/HTTP receiver on 127.0.0.1 and real model server processes.

The receiver accepts ``POST /v1/traces`` with protobuf bodies, as a collector does, and decodes them
with the official ``opentelemetry-proto`` definitions.
"""

from __future__ import annotations

import gzip
import importlib.util
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_serving_fixtures", Path(__file__).resolve().parents[1] / "serving" / "conftest.py"
)
serving = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(serving)


class Receiver:
    """An OTLP/HTTP trace receiver; ``spans`` holds dicts of every span received, in arrival order."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.spans: list[dict] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                    receiver.refused.append(f"{self.path} {self.headers.get('Content-Type')}")
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                got = []
                for rs in req.resource_spans:
                    res = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            got.append(
                                {
                                    "service": res.get("service.name"),
                                    "scope": ss.scope.name,
                                    "name": s.name,
                                    "kind": s.kind,
                                    "trace_id": s.trace_id.hex(),
                                    "span_id": s.span_id.hex(),
                                    "parent": s.parent_span_id.hex(),
                                    "start": s.start_time_unix_nano,
                                    "end": s.end_time_unix_nano,
                                    "status": s.status.code,
                                    "attrs": {a.key: _value(a.value) for a in s.attributes},
                                }
                            )
                with receiver.lock:
                    receiver.spans.extend(got)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate, timeout: float = 30.0) -> list[dict]:
        """Wait until ``predicate(spans)`` is true; returns the spans."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            time.sleep(0.05)
        raise AssertionError(f"the receiver did not get the expected spans within {timeout} s; it has {spans}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def tracing_off_after():
    """Each test starts and ends with this process's tracing unconfigured."""
    from jupyter_modelops import tracing

    tracing.shutdown()
    yield
    tracing.shutdown()


@pytest.fixture
def start_server():
    started = []

    def start(model_dirs, *args: str, **kwargs):
        s = serving.Server(model_dirs, *args, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


model_dir = serving.model_dir
hgb = serving.hgb
data = serving.data
