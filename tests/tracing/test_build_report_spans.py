"""Spans around image build and push (to a real registry on loopback) and around a report run."""

from __future__ import annotations

import pytest

from jupyter_modelops import tracing


@pytest.fixture
def registry(tmp_path):
    from images._registry import Registry
    from realparts import free_port, need_tool

    reg = Registry(
        need_tool("docker-registry", "the real OCI registry the image is pushed to"), tmp_path / "registry", free_port()
    )
    yield reg
    reg.stop()


def test_build_and_push_are_spans_with_the_digest(receiver, registry, tmp_path, monkeypatch):
    from images.conftest import test_cache, write_model_dir
    from jupyter_modelops.images import build

    monkeypatch.setenv("MODELOPS_IMAGE_CACHE", str(test_cache() / "images"))
    model = write_model_dir(tmp_path / "toy")
    assert tracing.configure({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "nb"})
    img = build(str(model), base="scratch", push=f"{registry.host}/models/toy:1", progress=False)
    tracing.flush()
    spans = receiver.wait_for(lambda s: {"modelops.build", "modelops.push"} <= {x["name"] for x in s})
    (b,) = [s for s in spans if s["name"] == "modelops.build"]
    (p,) = [s for s in spans if s["name"] == "modelops.push"]
    assert p["parent"] == b["span_id"] and p["trace_id"] == b["trace_id"]
    assert b["attrs"]["modelops.model"] == "toy" and b["attrs"]["modelops.image_digest"] == img.digest
    assert p["attrs"]["modelops.image_digest"] == img.pushed.rsplit("@", 1)[1]
    assert p["attrs"]["modelops.target"].startswith(f"{registry.host}/models/toy")


def test_a_report_run_is_a_span_that_carries_its_error(receiver, tmp_path):
    from jupyter_modelops.reports import report
    from reports.conftest import make_template

    tpl = make_template(tmp_path / "toy.ipynb", "value: float = 0.9  # the measured value\n", "1 / 0")
    assert tracing.configure({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "nb"})
    run = report(template=tpl, output_dir=tmp_path / "out")
    assert run.status == "failed"
    tracing.flush()
    (span,) = receiver.wait_for(lambda s: any(x["name"] == "modelops.report" for x in s))
    assert span["attrs"]["modelops.template"] == "toy"
    assert "ZeroDivisionError" in span["attrs"]["modelops.error"]
    assert span["end"] > span["start"]
