"""Traces across processes: mo.predict in this process -> a real model server process -> its children,
all received by a real OTLP/HTTP receiver and decoded with the official protobuf definitions."""

from __future__ import annotations

import json
import secrets
import urllib.request

import numpy as np

import jupyter_modelops as mo
from jupyter_modelops import tracing

SERVER = 2  # SpanKind.SPAN_KIND_SERVER in the OTLP protobuf
CLIENT = 3


def otel_env(receiver, service: str) -> dict:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": service, "OTEL_BSP_SCHEDULE_DELAY": "50"}


def by_name(spans: list[dict], name: str) -> list[dict]:
    return [s for s in spans if s["name"] == name]


def test_a_prediction_is_one_trace_from_the_client_through_the_server_to_the_model(
    receiver, start_server, model_dir, data
):
    server = start_server(model_dir, env=otel_env(receiver, "churn-server"))
    assert tracing.configure(otel_env(receiver, "notebook"))
    X = data[0][:3]
    pred = mo.predict(server.url, X, model="hgb")
    assert pred["label"].shape == (3,)
    tracing.flush()
    spans = receiver.wait_for(lambda s: by_name(s, "modelops.predict") and by_name(s, "modelops.model"))
    (client,) = by_name(spans, "modelops.predict")
    (infer,) = by_name(spans, "modelops.infer")
    (queue,) = by_name(spans, "modelops.queue")
    (batch,) = by_name(spans, "modelops.batch")
    (model,) = by_name(spans, "modelops.model")
    # the client span is this process's; the others come from the server process
    assert client["service"] == "notebook" and client["kind"] == CLIENT
    assert {s["service"] for s in (infer, queue, batch, model)} == {"churn-server"}
    # one trace: the server span's parent is the client span (traceparent went over the wire)
    assert len({s["trace_id"] for s in (client, infer, queue, batch, model)}) == 1
    assert infer["parent"] == client["span_id"] and infer["kind"] == SERVER
    assert queue["parent"] == infer["span_id"] and batch["parent"] == infer["span_id"]
    assert model["parent"] == batch["span_id"]
    # children sit inside their parent in time
    assert infer["start"] <= queue["start"] <= queue["end"] <= model["start"] <= model["end"] <= infer["end"]
    assert client["start"] <= infer["start"] and infer["end"] <= client["end"]
    assert infer["attrs"]["modelops.model"] == "hgb" and infer["attrs"]["modelops.model_version"] == "1"
    assert infer["attrs"]["modelops.rows"] == 3 and infer["attrs"]["modelops.batch_size"] == 3
    assert infer["attrs"]["modelops.queue_ms"] >= 0
    assert batch["attrs"]["modelops.batch_size"] == 3
    assert client["attrs"]["modelops.model"] == "hgb" and client["attrs"]["modelops.rows"] == 3


def test_an_incoming_traceparent_and_request_id_reach_the_server_span(receiver, start_server, model_dir):
    server = start_server(model_dir, env=otel_env(receiver, "churn-server"))
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    body = json.dumps(
        {"id": "req-42", "inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 20], "data": [0.25] * 40}]}
    ).encode()
    req = urllib.request.Request(
        server.url + "/v2/models/hgb/infer",
        data=body,
        method="POST",
        headers={"traceparent": f"00-{trace_id}-{parent}-01", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.loads(r.read())["id"] == "req-42"
    spans = receiver.wait_for(lambda s: by_name(s, "modelops.model"))
    (infer,) = by_name(spans, "modelops.infer")
    assert infer["trace_id"] == trace_id and infer["parent"] == parent
    assert infer["attrs"]["modelops.request_id"] == "req-42" and infer["attrs"]["modelops.rows"] == 2
    assert all(s["trace_id"] == trace_id for s in spans)


def test_requests_batched_together_each_get_their_own_trace(receiver, start_server, model_dir):
    from concurrent.futures import ThreadPoolExecutor

    server = start_server(model_dir, "--max-delay-ms", "50", env=otel_env(receiver, "churn-server"))
    ids = [secrets.token_hex(16) for _ in range(4)]

    def send(trace_id: str) -> int:
        body = json.dumps(
            {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20], "data": [0.5] * 20}]}
        ).encode()
        req = urllib.request.Request(
            server.url + "/v2/models/hgb/infer",
            data=body,
            method="POST",
            headers={"traceparent": f"00-{trace_id}-{'ab' * 8}-01"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(send, ids)) == [200] * 4
    spans = receiver.wait_for(lambda s: len(by_name(s, "modelops.model")) == 4)
    infers = by_name(spans, "modelops.infer")
    assert sorted(s["trace_id"] for s in infers) == sorted(ids)
    for s in infers:  # every request's children are in its own trace, under its own span
        kids = [k for k in spans if k["parent"] == s["span_id"]]
        assert sorted(k["name"] for k in kids) == ["modelops.batch", "modelops.queue"]
        assert {k["trace_id"] for k in kids} == {s["trace_id"]}
        assert 1 <= s["attrs"]["modelops.batch_size"] <= 4


def test_tracing_switched_off_sends_nothing_though_an_endpoint_is_set(receiver, start_server, model_dir):
    env = {**otel_env(receiver, "churn-server"), "OTEL_TRACES_EXPORTER": "none"}
    server = start_server(model_dir, env=env)
    body = json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20], "data": [0.5] * 20}]}
    ).encode()
    req = urllib.request.Request(
        server.url + "/v2/models/hgb/infer",
        data=body,
        method="POST",
        headers={"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    # this process is not configured either: mo.predict sends no traceparent and makes no span
    assert not tracing.enabled()
    assert tracing.inject({}) == {}
    assert tracing.span("modelops.predict") is tracing.span("modelops.build")  # the shared no-op
    assert np.asarray(mo.predict(server.url, np.zeros((1, 20)), model="hgb")["label"]).shape == (1,)
    assert server.stop() == 0  # a clean exit flushes whatever a tracer would have buffered
    assert receiver.spans == [] and receiver.refused == []


def test_spans_still_buffered_are_sent_when_the_server_stops(receiver, start_server, model_dir):
    env = {**otel_env(receiver, "churn-server"), "OTEL_BSP_SCHEDULE_DELAY": "600000"}  # no timed export
    server = start_server(model_dir, env=env)
    body = json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20], "data": [0.5] * 20}]}
    ).encode()
    req = urllib.request.Request(server.url + "/v2/models/hgb/infer", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    assert server.stop() == 0  # SIGTERM: drain, then flush the span buffer on the way out
    names = sorted(s["name"] for s in receiver.wait_for(lambda s: len(s) >= 4, timeout=10))
    assert names == ["modelops.batch", "modelops.infer", "modelops.model", "modelops.queue"]
