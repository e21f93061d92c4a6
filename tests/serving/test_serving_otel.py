"""OpenTelemetry: when the SDK is installed and configured, each inference is a span."""

from __future__ import annotations

import json

import pytest


@pytest.mark.asyncio
async def test_infer_emits_a_span(model_dir):
    httpx = pytest.importorskip("httpx")
    trace = pytest.importorskip("opentelemetry.trace")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from jupyter_modelops.serving.app import ModelServerApp, ServerSettings
    from jupyter_modelops.serving.modeldir import read_model_dir

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    app = ModelServerApp([read_model_dir(model_dir)], ServerSettings(), load_in_background=False)
    assert app.tracer is not None  # opentelemetry is installed: spans are on by default
    app.tracer = tracer  # the process-wide provider is set once per process; use this one
    await app.startup()
    try:
        body = {"inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 20], "data": [0.1] * 40}]}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            r = await client.post("/v2/models/hgb/infer", content=json.dumps(body))
        assert r.status_code == 200
    finally:
        await app.shutdown()
    (span,) = exporter.get_finished_spans()
    assert span.name == "modelops.infer"
    assert span.attributes["model.name"] == "hgb" and span.attributes["rows"] == 2
    assert trace.get_tracer_provider() is not None
