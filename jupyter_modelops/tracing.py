"""OpenTelemetry traces: configured the standard way, off (and free) when not configured.

Tracing is on when the process is configured with the standard OpenTelemetry
environment (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_TRACES_EXPORTER``, ``OTEL_SERVICE_NAME``), or when the program has installed
an OpenTelemetry SDK tracer provider itself. Spans go out as OTLP/HTTP protobuf.
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turn it off.

Nothing here imports :mod:`opentelemetry` until tracing is on: when it is off,
:func:`span` is a shared no-op context manager and the model server does not
look at trace headers at all.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from typing import Any, Iterator, Mapping

from .exceptions import ValidationError

__all__ = ["enabled", "tracer", "span", "inject", "configure", "shutdown", "otel_environment", "ServerTracing"]

_NOOP = contextlib.nullcontext()
_lock = threading.Lock()
_provider: Any = None  # the SDK provider this module built from the environment
_EXPORTERS = ("otlp", "console", "none")
_SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _env_configured(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters == "none":
        return False
    return bool(exporters or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Build this process's tracer provider from the OpenTelemetry environment.

    Parameters
    ----------
    environ : mapping, optional
        The environment to read (default: ``os.environ``).

    Returns
    -------
    bool
        True when tracing is now on; False when the environment does not ask for it
        or the OpenTelemetry SDK is not installed.

    Raises
    ------
    ValidationError
        When ``OTEL_TRACES_EXPORTER`` names an exporter other than otlp, console or none,
        or ``OTEL_EXPORTER_OTLP_PROTOCOL`` asks for something other than http/protobuf.
    """
    global _provider
    env = os.environ if environ is None else environ
    if not _env_configured(env):
        return False
    names = [n.strip().lower() for n in (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(",") if n.strip()]
    bad = [n for n in names if n not in _EXPORTERS]
    if bad:
        raise ValidationError(
            f"OTEL_TRACES_EXPORTER names the exporter '{bad[0]}', which is not supported; use otlp, console or none."
        )
    protocol = (
        (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
        .strip()
        .lower()
    )
    if "otlp" in names and protocol != "http/protobuf":
        raise ValidationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL is '{protocol}'; spans are sent as OTLP over HTTP, "
            "so set it to http/protobuf (or unset it) and point the endpoint at port 4318."
        )
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return False
    saved = {k: os.environ.get(k) for k in env if k.startswith("OTEL_")} if env is not os.environ else {}
    if env is not os.environ:  # the SDK reads its settings from os.environ
        os.environ.update({k: v for k, v in env.items() if k.startswith("OTEL_")})
    try:
        resource = Resource.create({"service.name": env["OTEL_SERVICE_NAME"]} if env.get("OTEL_SERVICE_NAME") else {})
        provider = TracerProvider(resource=resource, shutdown_on_exit=True)
        for name in names:
            if name == "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            elif name == "console":
                from opentelemetry.sdk.trace.export import ConsoleSpanExporter

                provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with _lock:
        old, _provider = _provider, provider
    if old is not None:
        old.shutdown()
    return True


def shutdown() -> None:
    """Send the spans still buffered and turn this module's tracing off (a later call of :func:`tracer`
    reads the environment again)."""
    global _provider
    with _lock:
        old, _provider = _provider, None
    if old is not None:
        old.shutdown()


def flush(timeout_ms: int = 5000) -> None:
    """Send the spans still buffered (keeps tracing on)."""
    p = _provider
    if p is not None:
        p.force_flush(timeout_ms)


def tracer(name: str = "jupyter_modelops") -> Any:
    """The tracer for ``name`` when tracing is on, else None.

    On when this module was configured (:func:`configure`, or the standard environment
    variables, read on first use), or when the program installed an OpenTelemetry SDK
    tracer provider of its own. The default no-op provider counts as off: spans into it
    would cost CPU and record nothing.
    """
    p = _provider
    if p is None and _env_configured(os.environ):
        configure()
        p = _provider
    if p is not None:
        from ._version import __version__

        return p.get_tracer(name, __version__)
    if "opentelemetry.trace" not in sys.modules:  # nobody installed a provider
        return None
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if type(provider).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider"):
        return None
    from ._version import __version__

    return provider.get_tracer(name, __version__)


def enabled() -> bool:
    """Is tracing on in this process?"""
    return tracer() is not None


def span(name: str, attributes: Mapping[str, Any] | None = None, *, kind: str = "internal") -> Any:
    """A context manager around an operation: a span when tracing is on, a shared no-op otherwise.

    Parameters
    ----------
    name : str
        The span's name (``modelops.build``, ``modelops.deploy``...).
    attributes : mapping, optional
        Attributes; None values are left out.
    kind : {"internal", "client", "server"}, default="internal"
    """
    t = tracer()
    if t is None:
        return _NOOP
    from opentelemetry.trace import SpanKind

    attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
    return t.start_as_current_span(name, attributes=attrs, kind=getattr(SpanKind, kind.upper()))


def inject(headers: dict) -> dict:
    """Add the current W3C trace context (``traceparent``, ``tracestate``) to ``headers`` when tracing is on."""
    if tracer() is None:
        return headers
    from opentelemetry.propagate import inject as _inject

    _inject(headers)
    return headers


def otel_environment(
    otel: Mapping[str, Any] | bool | None, *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The OpenTelemetry environment a deployed server should get.

    Parameters
    ----------
    otel : dict, True or None
        ``{"endpoint": "http://collector:4318", "service_name": "churn", "exporter": "otlp",
        "resource_attributes": "k=v,..."}`` (endpoint required), ``True`` to pass the caller's own
        ``OTEL_*`` tracing variables through, or None for none.
    environ : mapping, optional
        The caller's environment for ``otel=True`` (default: ``os.environ``).

    Returns
    -------
    dict
        Variable name to value, every value checked.

    Raises
    ------
    ValidationError
        When the endpoint is not an http(s) URL, the service name is not a plain name, a value
        spans lines, or a key is unknown.
    """
    if otel is None or otel is False:
        return {}
    if otel is True:
        env = os.environ if environ is None else environ
        keep = (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_SERVICE_NAME",
            "OTEL_TRACES_EXPORTER",
            "OTEL_RESOURCE_ATTRIBUTES",
            "OTEL_TRACES_SAMPLER",
            "OTEL_TRACES_SAMPLER_ARG",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_PROPAGATORS",
            "OTEL_SDK_DISABLED",
        )
        out = {k: env[k] for k in keep if env.get(k)}
        if not _env_configured(out):
            raise ValidationError(
                "otel=True passes this process's OpenTelemetry settings through, but none is set; "
                "set OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_SERVICE_NAME) or pass "
                "otel={'endpoint': ..., 'service_name': ...}."
            )
        for k, v in out.items():
            _check_line(k, v)
        for k in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            if k in out:
                _check_endpoint(out[k], k)
        if "OTEL_SERVICE_NAME" in out:
            _check_service(out["OTEL_SERVICE_NAME"])
        return out
    if not isinstance(otel, Mapping):
        raise ValidationError(
            f"otel must be a dict such as {{'endpoint': 'http://collector:4318', "
            f"'service_name': 'churn'}}, True or None; got {type(otel).__name__}."
        )
    known = {
        "endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
        "service_name": "OTEL_SERVICE_NAME",
        "exporter": "OTEL_TRACES_EXPORTER",
        "resource_attributes": "OTEL_RESOURCE_ATTRIBUTES",
    }
    unknown = sorted(set(otel) - set(known))
    if unknown:
        raise ValidationError(f"otel has the unknown key '{unknown[0]}'; the keys are {', '.join(known)}.")
    if not otel.get("endpoint"):
        raise ValidationError(
            "otel needs an 'endpoint': the OTLP/HTTP collector URL, such as http://otel-collector.monitoring:4318."
        )
    out = {}
    for key, var in known.items():
        value = otel.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValidationError(f"otel['{key}'] must be text; got {type(value).__name__}.")
        _check_line(var, value)
        out[var] = value
    _check_endpoint(out["OTEL_EXPORTER_OTLP_ENDPOINT"], "otel['endpoint']")
    if "OTEL_SERVICE_NAME" in out:
        _check_service(out["OTEL_SERVICE_NAME"])
    if "OTEL_TRACES_EXPORTER" in out and out["OTEL_TRACES_EXPORTER"].lower() not in _EXPORTERS:
        raise ValidationError(f"otel['exporter'] is '{out['OTEL_TRACES_EXPORTER']}'; use otlp, console or none.")
    return out


def _check_line(what: str, value: str) -> None:
    if not value.strip() or any(c in value for c in "\r\n\0") or len(value) > 2048:
        raise ValidationError(f"{what} must be one line of text (at most 2048 characters); got {value[:40]!r}.")


def _check_endpoint(url: str, what: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        ok = False
    if not ok:
        raise ValidationError(
            f"{what} must be an http:// or https:// URL of an OTLP/HTTP collector, such as "
            f"http://otel-collector:4318; got {url[:80]!r}."
        )


def _check_service(name: str) -> None:
    if not _SERVICE_RE.match(name):
        raise ValidationError(
            f"The OpenTelemetry service name must be letters, digits, '.', '_' or '-' (at most 128); got {name[:40]!r}."
        )


class _TimedRuntime:
    """A runtime whose ``predict`` remembers when its last call started and ended (monotonic ns)."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self.last = (0, 0)

    def predict(self, inputs: Any) -> Any:
        t0 = time.monotonic_ns()
        try:
            return self._runtime.predict(inputs)
        finally:
            self.last = (t0, time.monotonic_ns())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)


class ServerTracing:
    """The model server's spans: one server span per inference (parent: the caller's ``traceparent``)
    with ``modelops.queue``, ``modelops.batch`` and ``modelops.model`` children.

    Made by the server only when tracing is on (:meth:`create`); the request path then makes one call,
    :meth:`infer`, around the batcher.
    """

    def __init__(self, tracer: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind

        self.tracer = tracer
        self._trace = trace
        self._extract = extract
        self._server = SpanKind.SERVER
        self._open: dict[int, Any] = {}  # id(request) -> its server span, while it waits for the batcher
        self._epoch = time.time_ns() - time.monotonic_ns()

    @classmethod
    def create(cls) -> "ServerTracing | None":
        """A ServerTracing when tracing is on, else None."""
        t = tracer("jupyter_modelops.serving")
        return None if t is None else cls(t)

    def attach(self, model: Any) -> None:
        """Time the model's runtime calls and see its answered batches (``model.batcher`` started)."""
        b = model.batcher
        b.runtime = _TimedRuntime(b.runtime)
        b.taps.append(lambda items, inputs, outputs: self._batch(b.runtime, items))

    @contextlib.contextmanager
    def infer(self, scope: dict, model: Any, request: Any, t_start: float) -> Iterator[Any]:
        """The server span of one inference, started at ``t_start`` (``time.perf_counter()``)."""
        carrier = {}
        for k, v in scope["headers"]:
            if k in (b"traceparent", b"tracestate"):
                carrier[k.decode()] = v.decode("latin-1")
        parent = self._extract(carrier) if carrier else None
        attrs = {
            "model.name": model.name,
            "model.version": str(model.version),
            "rows": request.nrows,
            "modelops.model": model.name,
            "modelops.model_version": str(model.version),
            "modelops.rows": request.nrows,
            "http.request.method": "POST",
            "url.path": scope["path"],
        }
        if request.id is not None:
            attrs["modelops.request_id"] = str(request.id)
        start = time.time_ns() - int((time.perf_counter() - t_start) * 1e9)
        span = self.tracer.start_span(
            "modelops.infer", context=parent, kind=self._server, attributes=attrs, start_time=start
        )
        key = id(request)
        self._open[key] = span
        try:
            with self._trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
                yield span
        finally:
            self._open.pop(key, None)

    def _batch(self, runtime: _TimedRuntime, items: list) -> None:
        """Children of each traced request of an answered batch: its wait in the queue, the batch, the call."""
        now = time.time_ns()
        c0, c1 = runtime.last
        c0 += self._epoch
        c1 += self._epoch
        rows = sum(it.request.nrows for it in items)
        for it in items:
            span = self._open.get(id(it.request))
            if span is None:
                continue
            ctx = self._trace.set_span_in_context(span)
            t0 = getattr(it, "t0", None)
            if t0:
                q0 = int(t0 * 1e9) + self._epoch
                span.set_attribute("modelops.queue_ms", max(0, c0 - q0) / 1e6)
                self.tracer.start_span("modelops.queue", context=ctx, start_time=q0).end(end_time=max(q0, c0))
            span.set_attribute("modelops.batch_size", rows)
            span.set_attribute("modelops.batch_requests", len(items))
            batch = self.tracer.start_span(
                "modelops.batch",
                context=ctx,
                start_time=c0,
                attributes={"modelops.batch_size": rows, "modelops.batch_requests": len(items)},
            )
            self.tracer.start_span(
                "modelops.model",
                context=self._trace.set_span_in_context(batch),
                start_time=c0,
                attributes={"modelops.runtime": str(getattr(runtime, "name", ""))},
            ).end(end_time=c1)
            batch.end(end_time=max(c1, now))
