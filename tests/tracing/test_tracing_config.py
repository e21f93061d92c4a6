"""Configuration the standard way, refusals in one sentence, and no cost at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jupyter_modelops import tracing
from jupyter_modelops.exceptions import ValidationError


def test_importing_the_package_and_tracing_imports_no_opentelemetry():
    code = (
        "import sys, jupyter_modelops, jupyter_modelops.tracing, jupyter_modelops.serving.app; "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "env, on",
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),  # a name alone sends nothing anywhere
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_on_only_when_the_standard_environment_asks(env, on):
    assert tracing.configure(env) is on
    assert tracing.enabled() is on


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "zipkin"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "http/protobuf",
        ),
    ],
)
def test_unsupported_settings_are_refused_in_one_sentence(env, needle):
    with pytest.raises(ValidationError, match=needle) as info:
        tracing.configure(env)
    assert "\n" not in str(info.value)
    assert not tracing.enabled()


def test_a_configured_span_records_attributes_and_errors(receiver):
    assert tracing.configure({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "nb"})
    with pytest.raises(RuntimeError):
        with tracing.span("modelops.build", {"modelops.model": "churn", "modelops.push": None}):
            raise RuntimeError("broken")
    tracing.flush()
    (span,) = receiver.wait_for(lambda s: len(s) == 1)
    assert span["name"] == "modelops.build" and span["service"] == "nb"
    assert span["attrs"] == {"modelops.model": "churn"}  # None values are left out
    assert span["status"] == 2  # STATUS_CODE_ERROR


def test_otel_environment_from_a_dict():
    env = tracing.otel_environment({"endpoint": "http://otel-collector.monitoring:4318", "service_name": "churn"})
    assert env == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.monitoring:4318", "OTEL_SERVICE_NAME": "churn"}
    assert tracing.otel_environment(None) == {}


def test_otel_environment_from_the_callers_environment():
    caller = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318",
        "OTEL_SERVICE_NAME": "svc",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        "OTEL_PYTHON_UNRELATED": "x",
        "HOME": "/root",
    }
    assert tracing.otel_environment(True, environ=caller) == {
        k: v for k, v in caller.items() if k not in ("OTEL_PYTHON_UNRELATED", "HOME")
    }
    with pytest.raises(ValidationError, match="none is set"):
        tracing.otel_environment(True, environ={"HOME": "/root"})


@pytest.mark.parametrize(
    "otel, needle",
    [
        ({"endpoint": "file:///etc/passwd"}, "http:// or https://"),
        ({"endpoint": "http://"}, "http:// or https://"),
        ({"endpoint": "http://c:4318\nOTEL_X=1"}, "one line"),
        ({"endpoint": "http://c:99999"}, "http:// or https://"),
        ({"service_name": "churn"}, "needs an 'endpoint'"),
        ({"endpoint": "http://c:4318", "service_name": "churn; rm -rf /"}, "service name"),
        ({"endpoint": "http://c:4318", "exporter": "jaeger"}, "jaeger"),
        ({"endpoint": "http://c:4318", "headers": "authorization=x"}, "unknown key 'headers'"),
        ({"endpoint": 4318}, "must be text"),
        ("http://c:4318", "must be a dict"),
    ],
)
def test_bad_otel_arguments_are_refused_in_one_sentence(otel, needle):
    with pytest.raises(ValidationError, match=needle) as info:
        tracing.otel_environment(otel)
    assert "\n" not in str(info.value).split("; got")[0]


def test_bad_values_in_the_callers_environment_are_refused_too():
    with pytest.raises(ValidationError, match="http:// or https://"):
        tracing.otel_environment(True, environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"})
