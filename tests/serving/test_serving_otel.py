"""OpenTelemetry: when the SDK is installed and configured, each inference is a span."""

from __future__ import annotations

import json

import pytest


@pytest.mark.asyncio
async def test_infer_emits_a_span(model_dir):
    pytest.importorskip("httpx")
    trace = pytest.importorskip("opentelemetry.trace")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from jupyter_modelops.serving.app import ModelServerApp, ServerSettings
    from jupyter_modelops.serving.modeldir import read_model_dir

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    spec = read_model_dir(model_dir)
    # installed but not configured: no spans (they would record nothing)
    assert ModelServerApp([spec], ServerSettings(), load_in_background=False).tracer is None
    trace.set_tracer_provider(provider)
    try:
        await _infer_once(spec, exporter)
    finally:  # the process-wide provider can be set once only: unset it for the other tests of this process
        from opentelemetry.util._once import Once

        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        provider.shutdown()


async def _infer_once(spec, exporter) -> None:
    httpx = pytest.importorskip("httpx")
    from jupyter_modelops.serving.app import ModelServerApp, ServerSettings

    app = ModelServerApp([spec], ServerSettings(), load_in_background=False)
    assert app.tracer is not None  # configured: every inference is a span
    await app.startup()
    try:
        body = {"inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 20], "data": [0.1] * 40}]}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            r = await client.post("/v2/models/hgb/infer", content=json.dumps(body))
        assert r.status_code == 200
    finally:
        await app.shutdown()
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "modelops.infer"]
    assert span.name == "modelops.infer"
    assert span.attributes["model.name"] == "hgb" and span.attributes["rows"] == 2
