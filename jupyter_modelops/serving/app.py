"""The model server as a raw ASGI application speaking the Open Inference Protocol (V2) REST.

No web framework: one ``__call__`` that looks the path up in a dict of
precomputed routes. The hot path (``POST /v2/models/{name}/infer``) reads the
body, decodes and validates it against the signature (:mod:`.codec`), hands
it to the model's batcher (:mod:`.batching`) and writes the answer; metadata
answers are serialized once at load time.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import zlib
from dataclasses import dataclass, fields
from typing import Any, Callable

import orjson

from .._version import __version__
from ..exceptions import ModelOpsError, suggest
from .batching import Batcher
from .codec import decode_request, encode_response
from .errors import InvalidInput, Overloaded, PayloadTooLarge, RateLimited, Unauthorized, UnknownModel
from .governance import PROXY_AUTH_HEADER, CircuitBreaker, Metrics, RateLimiter, TokenAuth
from .modeldir import ModelSpec

log = logging.getLogger("jupyter_modelops.serving")

_JSON = [(b"content-type", b"application/json")]
_EXTENSIONS = ["binary_tensor_data", "model_repository", "statistics", "metrics"]


@dataclass
class ServerSettings:
    """Knobs of the model server; each also reads ``MODELOPS_SERVING_<NAME>`` from the environment."""

    max_batch_size: int = 64
    max_delay_ms: float = 0.0
    max_queue: int = 1024
    timeout_ms: float = 30_000.0
    rate_limit: float = 0.0  # requests per second per client; 0 = off
    rate_burst: float = 0.0  # 0 = same as the rate
    max_body_bytes: int = 64 * 1024 * 1024
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 5.0
    access_log: bool = False
    threaded: str = "auto"  # run the model in a thread: auto (when a call takes > 0.5 ms), on, off
    otel: bool = True  # spans when opentelemetry is installed
    runtime: str = ""  # force onnx | torchscript | native
    threads: int = 0  # runtime threads; 0 = OMP_NUM_THREADS or 1
    providers: str = "CPUExecutionProvider"
    # security (see the README's Security section): bearer tokens, TLS, connection limits
    token_file: str = ""  # one bearer token per line; "" = no auth. /v2/health/* always stays open
    open_metrics: bool = False  # leave /metrics open when auth is on (for annotation-based scraping)
    tls_cert: str = ""  # PEM certificate (chain) file; with tls_key, serve HTTPS
    tls_key: str = ""
    tls_reload_s: float = 5.0  # check the certificate and key files for changes this often; 0 = never
    header_timeout_s: float = 10.0  # request line + headers must arrive within this: else 408
    body_timeout_s: float = 60.0  # the body must arrive within this after the headers: else 408
    keepalive_timeout_s: float = 30.0  # an idle kept-alive connection is closed after this
    max_header_bytes: int = 64 * 1024  # request line + headers larger than this: 431
    max_headers: int = 100  # more header fields than this: 431
    max_connections: int = 0  # open connections beyond this get 503; 0 = what the open-file limit allows

    def connection_limits(self) -> Any:
        """The per-connection limits as :class:`~jupyter_modelops.serving.protocol.ConnectionLimits`."""
        from .protocol import ConnectionLimits, default_max_connections

        return ConnectionLimits(
            header_timeout_s=self.header_timeout_s,
            body_timeout_s=self.body_timeout_s,
            max_header_bytes=self.max_header_bytes,
            max_headers=self.max_headers,
            max_connections=self.max_connections or default_max_connections(),
        )

    capture: str = ""  # capture store (path, URL, or "default"); "" = off (see jupyter_modelops.capture)
    capture_rate: float = 1.0  # share of requests captured
    capture_deployment: str = ""  # deployment name recorded with captured rows
    capture_roll_seconds: float = 60.0  # a capture file is written at least this often
    capture_queue_rows: int = 100_000  # captured rows waiting for the writer before new ones are dropped
    # live drift (jupyter_modelops.serving.livedrift): windows of the inputs and prediction against the profile
    live_drift: bool = True  # off: --no-live-drift or MODELOPS_SERVING_LIVE_DRIFT=0
    live_drift_rows: int = 1000  # rows of the sliding window, and of each window the alarm adds
    live_drift_seconds: float = 3600.0  # rows older than this leave the window; 0 = by rows only
    live_drift_alpha: float = 0.05  # the alarm's false-alarm probability over its horizon
    live_drift_horizon: int = 720  # windows the alarm's guarantee spans

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides: Any) -> "ServerSettings":
        import os

        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"MODELOPS_SERVING_{f.name.upper()}")
            if raw is None:
                continue
            kind = type(f.default)
            kwargs[f.name] = raw.lower() in ("1", "true", "yes", "on") if kind is bool else kind(raw)
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)


class _Model:
    """One served model: spec, runtime, batcher and precomputed answers."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.version = spec.version
        self.runtime: Any = None
        self.batcher: Batcher | None = None
        self.output_names: list[str] = []
        self.metadata = b""
        self.config = b""
        self.ready = False
        self.error: str | None = None
        self.warm: list[float] | None = None
        self.live: Any = None  # LiveDrift when the directory has a reference profile

    def loaded(self, runtime: Any, settings: ServerSettings) -> None:
        self.runtime = runtime
        self.output_names = [o.name for o in runtime.outputs]
        self.metadata = orjson.dumps(
            {
                "name": self.name,
                "versions": [self.version],
                "platform": runtime.platform,
                "inputs": [i.to_dict() for i in runtime.inputs],
                "outputs": [o.to_dict() for o in runtime.outputs],
                "parameters": {
                    "runtime": runtime.name,
                    "flavor": self.spec.flavor,
                    **({"feature_names": self.spec.feature_names} if self.spec.feature_names else {}),
                },
            }
        )
        self.config = orjson.dumps(
            {
                "name": self.name,
                "platform": runtime.platform,
                "backend": runtime.name,
                "max_batch_size": settings.max_batch_size,
                "dynamic_batching": {"max_queue_delay_microseconds": int(settings.max_delay_ms * 1000)},
                "input": [
                    {"name": i.name, "data_type": "TYPE_" + i.datatype, "dims": list(i.shape)} for i in runtime.inputs
                ],
                "output": [
                    {"name": o.name, "data_type": "TYPE_" + o.datatype, "dims": list(o.shape)} for o in runtime.outputs
                ],
            }
        )


class ModelServerApp:
    """ASGI application serving one or more model directories.

    Parameters
    ----------
    specs : list of ModelSpec
        The models (see :func:`~jupyter_modelops.serving.modeldir.read_model_dir`).
    settings : ServerSettings, optional
    load_in_background : bool, default=True
        Load runtimes in a thread after start-up so that ``/v2/health/live``
        answers at once and ``/v2/health/ready`` turns 200 when all are loaded.
    on_fatal : callable, optional
        Called with a message when a model cannot be loaded (the entry point
        stops the process with a non-zero code).
    """

    def __init__(
        self,
        specs: list[ModelSpec],
        settings: ServerSettings | None = None,
        *,
        load_in_background: bool = True,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings or ServerSettings.from_env()
        self.models = {s.name: _Model(s) for s in specs}
        self.metrics = Metrics()
        self.metrics.queue_depth = lambda: {n: (m.batcher.depth() if m.batcher else 0) for n, m in self.models.items()}
        self.metrics.breaker_state = lambda: {n: m.batcher.breaker.state for n, m in self.models.items() if m.batcher}
        self.limiter = (
            RateLimiter(self.settings.rate_limit, self.settings.rate_burst or None)
            if self.settings.rate_limit > 0
            else None
        )
        self.auth = TokenAuth(self.settings.token_file) if self.settings.token_file else None
        self.open_routes = {"live", "ready"} | ({"metrics"} if self.settings.open_metrics else set())
        self.load_in_background = load_in_background
        self.on_fatal = on_fatal
        self.ready = False
        self.stopping = False
        self.ready_at: float | None = None
        self.inflight = 0
        self.access = self._access_logger() if self.settings.access_log else None
        self.tracer = self._tracer() if self.settings.otel else None
        self.routes: dict[str, tuple[str, _Model | None]] = {}
        self.capture = _capture(self.settings)
        self._build_routes()

    # -- set-up -------------------------------------------------------------------------------
    def _build_routes(self) -> None:
        r = self.routes
        r["/v2/health/live"] = ("live", None)
        r["/v2/health/ready"] = ("ready", None)
        r["/v2"] = ("server", None)
        r["/v2/"] = ("server", None)
        r["/metrics"] = ("metrics", None)
        r["/v2/repository/index"] = ("index", None)
        r["/"] = ("root", None)
        for m in self.models.values():
            for base in (f"/v2/models/{m.name}", f"/v2/models/{m.name}/versions/{m.version}"):
                r[base] = ("metadata", m)
                r[base + "/ready"] = ("model_ready", m)
                r[base + "/infer"] = ("infer", m)
                r[base + "/config"] = ("config", m)
                r[base + "/stats"] = ("stats", m)
                if self.capture is not None:
                    r[base + "/labels"] = ("labels", m)

    @staticmethod
    def _access_logger() -> logging.Logger:
        logger = logging.getLogger("jupyter_modelops.serving.access")
        if not logger.handlers:
            h = logging.StreamHandler(sys.stderr)
            h.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(h)
            logger.propagate = False
        logger.setLevel(logging.INFO)
        return logger

    @staticmethod
    def _tracer() -> Any:
        """The server's spans (:class:`~jupyter_modelops.tracing.ServerTracing`) when tracing is configured,
        else None: then the request path does not look at trace headers at all."""
        from ..tracing import ServerTracing

        return ServerTracing.create()

    def load(self) -> None:
        """Load every model's runtime (blocking)."""
        from .runtimes import RuntimeSettings, choose_runtime

        s = self.settings
        rs = RuntimeSettings(
            threads=s.threads or RuntimeSettings.from_env().threads,
            providers=tuple(p for p in s.providers.split(",") if p),
        )
        for m in self.models.values():
            m.loaded(choose_runtime(m.spec, prefer=s.runtime or None, settings=rs), s)
            m.warm = _warm_up(m.runtime)
            # -- live drift (begin)
            if s.live_drift:
                from .livedrift import for_model

                m.live = for_model(m.spec, m.runtime, s)
            # -- live drift (end)

    def _start_batchers(self) -> None:
        s = self.settings
        for m in self.models.values():
            m.batcher = Batcher(
                m.name,
                m.runtime,
                max_batch_size=s.max_batch_size,
                max_delay_ms=s.max_delay_ms,
                max_queue=s.max_queue,
                timeout_s=s.timeout_ms / 1000.0,
                threaded={"on": True, "off": False}.get(str(s.threaded).lower()),
                breaker=CircuitBreaker(s.breaker_threshold, s.breaker_cooldown_s),
                metrics=self.metrics,
            )
            m.batcher.start()
            if self.tracer is not None:  # tracing: times the model calls, children of the request spans
                self.tracer.attach(m)
            if self.capture is not None:
                self.capture.register(m)
                m.batcher.taps.append(self.capture.tapper(m))  # capture: one queue entry per answered batch
            if m.live is not None:  # -- live drift: each answered batch's arrays, binned per chunk of rows
                m.batcher.taps.append(m.live.tap)
            for seconds in m.warm or ():
                m.batcher._observe(seconds)
            m.ready = True
        self.ready = True
        self.ready_at = time.time()
        log.info("ready: %s", ", ".join(f"{m.name}:{m.version} ({m.runtime.name})" for m in self.models.values()))

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        if not self.load_in_background:
            try:
                self.load()
            except Exception as exc:
                msg = str(exc) if isinstance(exc, ModelOpsError) else f"{type(exc).__name__}: {exc}"
                log.error("could not load the model: %s", msg)
                if self.on_fatal:
                    self.on_fatal(msg)
                raise
            self._start_batchers()
            return

        def work() -> None:
            try:
                self.load()
            except Exception as exc:  # noqa: BLE001 - reported, then the process stops
                msg = str(exc) if isinstance(exc, ModelOpsError) else f"{type(exc).__name__}: {exc}"
                for m in self.models.values():
                    m.error = msg
                log.error("could not load the model: %s", msg)
                if self.on_fatal:
                    loop.call_soon_threadsafe(self.on_fatal, msg)
                return
            loop.call_soon_threadsafe(self._start_batchers)

        threading.Thread(target=work, name="modelops-load", daemon=True).start()

    async def shutdown(self) -> None:
        self.stopping = True
        self.ready = False
        for m in self.models.values():
            if m.batcher is not None:
                await m.batcher.close()
        if self.capture is not None:  # flush captured rows before the process exits
            await asyncio.to_thread(self.capture.close)

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    try:
                        await self.startup()
                    except Exception as exc:  # noqa: BLE001
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await self.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope["path"]
        route = self.routes.get(path)
        t0 = time.perf_counter()
        status = 200
        model_name = ""
        self.inflight += 1
        try:
            if self.auth is not None and (route is None or route[0] not in self.open_routes):
                self._authorize(scope)
            if route is None:
                route = self._unknown(path)
            what, model = route
            if model is not None:
                model_name = model.name
            if what == "infer":
                if scope["method"] != "POST":
                    raise _MethodNotAllowed("POST")
                status = await self._infer(model, scope, receive, send)
            elif what == "labels":
                if scope["method"] != "POST":
                    raise _MethodNotAllowed("POST")
                status = await self._labels(model, scope, receive, send)
            else:
                status, body, headers = self._get(what, model, scope)
                await _answer(send, status, body, headers)
        except ModelOpsError as exc:
            status = exc.http_status
            headers = list(_JSON)
            retry = getattr(exc, "retry_after", None)
            if retry is not None:
                headers.append((b"retry-after", str(int(retry)).encode()))
            if isinstance(exc, _MethodNotAllowed):
                headers.append((b"allow", exc.allow.encode()))
            elif isinstance(exc, Unauthorized):
                headers.append((b"www-authenticate", b'Bearer realm="modelops"'))
            if status < 500 and model_name:  # model failures and timeouts are counted by the batcher
                self.metrics.errors[(model_name, "bad_request" if status == 400 else str(status))] += 1
            await _answer(send, status, orjson.dumps({"error": str(exc)}), headers)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the server down
            status = 500
            log.exception("unexpected error on %s", path)
            if model_name:
                self.metrics.errors[(model_name, "internal")] += 1
            await _answer(send, 500, orjson.dumps({"error": f"Internal error: {type(exc).__name__}: {exc}"}), _JSON)
        finally:
            self.inflight -= 1
        dt = time.perf_counter() - t0
        endpoint = route[0] if route else "unknown"
        self.metrics.request(model_name, endpoint, status, dt if endpoint == "infer" else None)
        if self.access is not None:
            client = scope.get("client") or ("", 0)
            self.access.info(
                orjson.dumps(
                    {
                        "ts": round(time.time(), 6),
                        "client": client[0],
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "ms": round(dt * 1000, 3),
                        "model": model_name or None,
                    }
                ).decode()
            )

    def _authorize(self, scope: dict) -> None:
        """Raise :class:`Unauthorized` unless the request carries one of the server's bearer tokens."""
        value = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                value = v
                break
            if k == PROXY_AUTH_HEADER and value is None:
                value = v  # Kubernetes' pod proxy strips Authorization: this one passes through it
        if not self.auth.allows(value):
            raise Unauthorized(
                "This server requires a bearer token: send the header 'Authorization: Bearer TOKEN' "
                "with a token the server was given."
            )

    def _unknown(self, path: str) -> tuple[str, _Model | None]:
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "v2" and parts[1] == "models":
            name = parts[2]
            m = self.models.get(name)
            if m is None:
                served = ", ".join(sorted(self.models))
                raise UnknownModel(
                    f"Model '{name}' is not served here.{suggest(name, self.models)} This server serves: {served}."
                )
            if len(parts) >= 5 and parts[3] == "versions" and parts[4] != m.version:
                raise UnknownModel(
                    f"Model '{name}' has no version '{parts[4]}' here; this server serves version {m.version}."
                )
        raise UnknownModel(
            f"No such endpoint: {path}. The endpoints are /v2, /v2/health/live, /v2/health/ready, "
            "/v2/models/{name}[/versions/{v}][/ready|/infer] and /metrics."
        )

    def _get(self, what: str, model: _Model | None, scope: dict) -> tuple[int, bytes, list]:
        method = scope["method"]
        if what == "index":
            if method not in ("POST", "GET"):
                raise _MethodNotAllowed("GET, POST")
            return (
                200,
                orjson.dumps(
                    [
                        {
                            "name": m.name,
                            "version": m.version,
                            "state": "READY" if m.ready else ("UNAVAILABLE" if m.error else "LOADING"),
                            "reason": m.error or "",
                        }
                        for m in self.models.values()
                    ]
                ),
                _JSON,
            )
        if method not in ("GET", "HEAD"):
            raise _MethodNotAllowed("GET")
        if what == "live":
            return 200, b'{"live":true}', _JSON
        if what == "ready":
            ok = self.ready and not self.stopping
            return (200 if ok else 503), orjson.dumps({"ready": ok}), _JSON
        if what == "server":
            return (
                200,
                orjson.dumps({"name": "jupyter-modelops", "version": __version__, "extensions": _EXTENSIONS}),
                _JSON,
            )
        if what == "metrics":
            text = self.metrics.render()
            if self.capture is not None:
                text += ("\n".join(self.capture.metrics_lines()) + "\n").encode()
            live = [m.live for m in self.models.values() if m.live is not None]  # -- live drift
            if live:
                from .livedrift import render

                text += render(live)
            return 200, text, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
        if what == "root":
            return (
                200,
                orjson.dumps(
                    {
                        "server": "jupyter-modelops",
                        "models": sorted(self.models),
                        "protocol": "v2",
                        "metadata": "/v2",
                        "metrics": "/metrics",
                    }
                ),
                _JSON,
            )
        assert model is not None
        if what == "model_ready":
            ok = model.ready and not self.stopping
            return (200 if ok else 503), orjson.dumps({"name": model.name, "ready": ok}), _JSON
        if not model.ready:
            raise Overloaded(
                f"Model '{model.name}' is still loading."
                if not model.error
                else f"Model '{model.name}' could not be loaded: {model.error}",
                retry_after=1,
            )
        if what == "metadata":
            return 200, model.metadata, _JSON
        if what == "config":
            return 200, model.config, _JSON
        if what == "stats":
            h = self.metrics.latency.get(model.name)
            ok = sum(
                n for (m, e, s), n in self.metrics.requests.items() if m == model.name and e == "infer" and s == 200
            )
            return (
                200,
                orjson.dumps(
                    {
                        "model_stats": [
                            {
                                "name": model.name,
                                "version": model.version,
                                "inference_count": ok,
                                "execution_count": self.metrics.batch[model.name].count
                                if model.name in self.metrics.batch
                                else 0,
                                "latency_sum_s": h.sum if h else 0.0,
                            }
                        ]
                    }
                ),
                _JSON,
            )
        raise UnknownModel(f"No such endpoint: {scope['path']}.")  # pragma: no cover

    async def _infer(self, model: _Model, scope: dict, receive: Callable, send: Callable) -> int:
        t_infer = time.perf_counter()
        s = self.settings
        hlen = None
        clen = -1
        encoding = None
        client = None
        for k, v in scope["headers"]:
            if k == b"content-length":
                clen = int(v) if v.isdigit() else -1
            elif k == b"inference-header-content-length":
                try:
                    hlen = int(v)
                except ValueError:
                    raise InvalidInput(f"Inference-Header-Content-Length must be an integer; got {v[:40]!r}.") from None
            elif k == b"content-encoding":
                encoding = v.decode("latin-1").strip().lower()
            elif k == b"x-client-id":
                client = v.decode("latin-1")
        if self.limiter is not None:
            key = client or (scope.get("client") or ("?",))[0]
            wait = self.limiter.allow(key)
            if wait:
                self.metrics.shed["rate_limit"] += 1
                err = RateLimited(
                    f"Client '{key}' exceeded its rate limit of {self.limiter.rate:g} requests per second.",
                    hint="Slow down or retry after the time in the Retry-After header.",
                )
                err.retry_after = max(1, int(wait + 0.999))
                raise err
        if clen > s.max_body_bytes:
            raise PayloadTooLarge(
                f"The request body has {clen} bytes; this server accepts at most {s.max_body_bytes}.",
                hint="Send fewer rows per request.",
            )
        if not model.ready:
            raise Overloaded(
                f"Model '{model.name}' is still loading."
                if not model.error
                else f"Model '{model.name}' could not be loaded: {model.error}",
                retry_after=1,
            )
        msg = await receive()
        body = msg.get("body", b"")
        if msg.get("more_body"):
            chunks = [body]
            size = len(body)
            while msg.get("more_body"):
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return 499
                chunk = msg.get("body", b"")
                size += len(chunk)
                if size > s.max_body_bytes:
                    raise PayloadTooLarge(
                        f"The request body is larger than this server's limit of {s.max_body_bytes} bytes.",
                        hint="Send fewer rows per request.",
                    )
                chunks.append(chunk)
            body = b"".join(chunks)
        if encoding and encoding != "identity":
            body = _decompress(body, encoding, s.max_body_bytes)
        request = decode_request(body, hlen, model.runtime.inputs, model.output_names)
        captured = self.capture is not None and self.capture.begin(request)  # capture: request id, sampling
        try:
            if self.tracer is not None:  # tracing: the server span, its parent from the caller's traceparent
                with self.tracer.infer(scope, model, request, t_infer):
                    outputs = await model.batcher.submit(request)
            else:
                outputs = await model.batcher.submit(request)
        except ModelOpsError as exc:
            if captured:
                self.capture.done(model, request, None, t_infer, exc.http_status)
            raise
        body, jlen = encode_response(model.name, model.version, request, outputs)
        if jlen is None:
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        else:
            headers = [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", b"%d" % len(body)),
                (b"inference-header-content-length", b"%d" % jlen),
            ]
        if self.capture is not None:
            headers.append((b"x-request-id", request.id.encode("utf-8", "replace")))
            if captured and not request.nrows:  # answered without the batcher (no rows): not tapped
                self.capture.done(model, request, outputs, t_infer, 200)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return 200

    async def _labels(self, model: _Model, scope: dict, receive: Callable, send: Callable) -> int:
        """``POST /v2/models/{name}/labels``: ground truth for captured requests (see jupyter_modelops.capture)."""
        limit = self.settings.max_body_bytes
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return 499
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"The labels body is larger than this server's limit of {limit} bytes.",
                    hint="Send the labels in several requests.",
                )
            chunks.append(chunk)
            if not msg.get("more_body"):
                break
        await _answer(send, 200, await self.capture.labels(model, b"".join(chunks)), _JSON)
        return 200


def _capture(settings: ServerSettings) -> Any:
    """The server's capture (None when off); imported only when on."""
    if not settings.capture:
        return None
    from ..capture.server import ServerCapture

    return ServerCapture(
        settings.capture,
        rate=settings.capture_rate,
        deployment=settings.capture_deployment,
        roll_seconds=settings.capture_roll_seconds,
        max_queue_rows=settings.capture_queue_rows,
    )


def _warm_up(runtime: Any) -> list[float] | None:
    """Run a zero row through the runtime a few times; returns the calls' seconds (None if it cannot)."""
    import numpy as np

    from .modeldir import V2_TO_NUMPY

    try:
        inputs = {}
        for i in runtime.inputs:
            shape = [1] + [d if d > 0 else 1 for d in i.shape[1:]]
            if i.datatype == "BYTES":
                inputs[i.name] = np.full(shape, b"", dtype=object)
            else:
                inputs[i.name] = np.zeros(shape, dtype=V2_TO_NUMPY[i.datatype])
        runtime.predict(inputs)  # first call: lazy initialisation
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            runtime.predict(inputs)
            times.append(time.perf_counter() - t0)
        return times
    except Exception:  # noqa: BLE001 - a model may refuse zeros; it is measured while serving instead
        return None


class _MethodNotAllowed(ModelOpsError):
    http_status = 405

    def __init__(self, allow: str) -> None:
        self.allow = allow
        super().__init__(f"This endpoint accepts {allow} only.")


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding not in ("gzip", "deflate"):
        raise InvalidInput(f"Content-Encoding '{encoding}' is not supported; use gzip, deflate or none.")
    d = zlib.decompressobj(zlib.MAX_WBITS | 32 if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"The {encoding} request body is corrupt: {exc}.") from None
    if len(out) > limit or d.unconsumed_tail:
        raise PayloadTooLarge(f"The decompressed request body is larger than this server's limit of {limit} bytes.")
    return out


async def _answer(send: Callable, status: int, body: bytes, headers: list) -> None:
    headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
