"""``python -m jupyter_modelops.serving --model-dir DIR --host 127.0.0.1 --port P``: run the model server.

The process serves the Open Inference Protocol (V2) REST on uvicorn (httptools
and uvloop when installed). ``/v2/health/live`` answers as soon as the port is
open; ``/v2/health/ready`` turns 200 once every model is loaded. A model that
cannot be loaded stops the process with exit code 3. SIGTERM drains in-flight
requests before the process exits. Every option also reads an environment
variable ``MODELOPS_SERVING_<OPTION>`` (e.g. ``MODELOPS_SERVING_MAX_BATCH_SIZE``).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m jupyter_modelops.serving",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model-dir",
        action="append",
        required=True,
        metavar="DIR",
        help="a model directory (modelops-model.json + artifacts); repeat to serve several",
    )
    p.add_argument("--host", default=os.environ.get("MODELOPS_SERVING_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("MODELOPS_SERVING_PORT", "8080")))
    p.add_argument("--fd", type=int, default=None, help="serve on this inherited listening socket instead")
    p.add_argument("--ready-file", default=None, help="write this file (with the pid) once ready")
    p.add_argument(
        "--runtime",
        choices=["onnx", "torchscript", "native"],
        default=None,
        help="force a runtime (default: onnx > torchscript > native)",
    )
    p.add_argument("--threads", type=int, default=None, help="runtime threads (default: OMP_NUM_THREADS or 1)")
    p.add_argument("--providers", default=None, help="onnxruntime execution providers, comma-separated")
    p.add_argument("--max-batch-size", type=int, default=None, help="rows per merged runtime call (1 = off)")
    p.add_argument("--max-delay-ms", type=float, default=None, help="wait up to this long to fill a batch")
    p.add_argument("--max-queue", type=int, default=None, help="waiting requests before shedding with 503")
    p.add_argument("--timeout-ms", type=float, default=None, help="answer 504 after waiting this long")
    p.add_argument("--rate-limit", type=float, default=None, help="requests per second per client (0 = off)")
    p.add_argument("--rate-burst", type=float, default=None, help="burst size of the rate limit")
    p.add_argument("--max-body-bytes", type=int, default=None, help="larger requests get 413")
    p.add_argument("--access-log", action="store_true", default=None, help="one JSON line per request on stderr")
    p.add_argument(
        "--threaded",
        choices=["auto", "on", "off"],
        default=None,
        help="run the model in a thread: auto (default) does so when a call takes more than 0.5 ms",
    )
    p.add_argument(
        "--capture",
        default=None,
        metavar="URL",
        help="record sampled inferences as Parquet in this store: a path, a file://, s3://, gs:// or "
        "abfs:// URL, or 'default' (MODELOPS_HOME/captures)",
    )
    p.add_argument(
        "--capture-rate",
        type=float,
        default=None,
        metavar="R",
        help="share of requests captured, in (0, 1] (default 1)",
    )
    p.add_argument(
        "--capture-deployment", default=None, metavar="NAME", help="deployment name recorded with captured rows"
    )
    live = p.add_argument_group("live drift (when a model directory holds its reference profile)")
    live.add_argument(
        "--no-live-drift",
        dest="live_drift",
        action="store_false",
        default=None,
        help="do not keep drift windows of the inputs and prediction (no drift gauges on /metrics)",
    )
    live.add_argument(
        "--live-drift-rows",
        type=int,
        default=None,
        metavar="N",
        help="rows of the sliding drift window and of each window the alarm adds (default 1000)",
    )
    live.add_argument(
        "--live-drift-seconds",
        type=float,
        default=None,
        metavar="S",
        help="rows older than this leave the drift window (default 3600; 0 = by rows only)",
    )
    sec = p.add_argument_group("security (see the README's Security section)")
    sec.add_argument(
        "--token-file",
        default=None,
        metavar="FILE",
        help="require 'Authorization: Bearer TOKEN' with a token from this file (one per line, reread "
        "on change); /v2/health/* stays open",
    )
    sec.add_argument(
        "--open-metrics",
        action="store_true",
        default=None,
        help="leave /metrics open when --token-file is set (by default it needs the token too)",
    )
    sec.add_argument("--tls-cert", default=None, metavar="PEM", help="serve HTTPS with this certificate (chain)")
    sec.add_argument("--tls-key", default=None, metavar="PEM", help="the certificate's private key")
    sec.add_argument(
        "--tls-reload-s",
        type=float,
        default=None,
        metavar="S",
        help="check the certificate and key for changes this often, load new ones (default 5; 0 = never)",
    )
    sec.add_argument(
        "--header-timeout-s",
        type=float,
        default=None,
        metavar="S",
        help="408 and close when the request line and headers take longer (default 10)",
    )
    sec.add_argument(
        "--body-timeout-s",
        type=float,
        default=None,
        metavar="S",
        help="408 and close when the body takes longer after the headers (default 60)",
    )
    sec.add_argument(
        "--keepalive-timeout-s",
        type=float,
        default=None,
        metavar="S",
        help="close a kept-alive connection idle this long (default 30)",
    )
    sec.add_argument(
        "--max-header-bytes",
        type=int,
        default=None,
        metavar="N",
        help="431 when the request line and headers are larger (default 65536)",
    )
    sec.add_argument(
        "--max-headers",
        type=int,
        default=None,
        metavar="N",
        help="431 when a request has more header fields (default 100)",
    )
    sec.add_argument(
        "--max-connections",
        type=int,
        default=None,
        metavar="N",
        help="503 for connections beyond this many (default: what the open-file limit allows)",
    )
    p.add_argument("--log-level", default=os.environ.get("MODELOPS_SERVING_LOG_LEVEL", "info"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from ..exceptions import ModelOpsError
    from .app import ServerSettings
    from .modeldir import read_model_dir

    try:
        specs = [read_model_dir(d) for d in args.model_dir]
        settings = ServerSettings.from_env(
            runtime=args.runtime,
            threads=args.threads,
            providers=args.providers,
            max_batch_size=args.max_batch_size,
            max_delay_ms=args.max_delay_ms,
            max_queue=args.max_queue,
            timeout_ms=args.timeout_ms,
            rate_limit=args.rate_limit,
            rate_burst=args.rate_burst,
            max_body_bytes=args.max_body_bytes,
            access_log=args.access_log,
            threaded=args.threaded,
            capture=args.capture,
            capture_rate=args.capture_rate,
            capture_deployment=args.capture_deployment,
            live_drift=args.live_drift,
            live_drift_rows=args.live_drift_rows,
            live_drift_seconds=args.live_drift_seconds,
        )
        if not 16 <= settings.live_drift_rows <= 10_000_000 or settings.live_drift_seconds < 0:
            raise ValueError(
                f"--live-drift-rows is {settings.live_drift_rows} and --live-drift-seconds "
                f"{settings.live_drift_seconds:g}; expected 16 to 10,000,000 rows and seconds >= 0."
            )
        if settings.capture:  # check the store and the rate before serving
            from ..capture.store import resolve_location

            if settings.capture not in ("default", "true", "1"):
                resolve_location(settings.capture)
            if not 0 < settings.capture_rate <= 1:
                raise ValueError(f"--capture-rate is {settings.capture_rate:g}; expected a share in (0, 1].")
    except (ModelOpsError, ValueError, TypeError) as exc:
        print(f"modelops serving: error: {exc}", file=sys.stderr)
        return 2
    try:
        settings = with_security(settings, args)
    except (ModelOpsError, ValueError) as exc:
        print(f"modelops serving: error: {exc}", file=sys.stderr)
        return 2
    return run(
        specs,
        settings,
        host=args.host,
        port=args.port,
        fd=args.fd,
        ready_file=args.ready_file,
        log_level=args.log_level,
    )


_SECURITY = (
    "token_file",
    "open_metrics",
    "tls_cert",
    "tls_key",
    "tls_reload_s",
    "header_timeout_s",
    "body_timeout_s",
    "keepalive_timeout_s",
    "max_header_bytes",
    "max_headers",
    "max_connections",
)


def with_security(settings, args=None):
    """``settings`` with the security flags of ``args`` applied, checked before anything is served.

    The token file must hold valid tokens, the certificate and key must load
    together, and every limit must be non-negative; else one sentence (a
    :class:`~jupyter_modelops.exceptions.ValidationError`) says what to fix.
    """
    import dataclasses

    from ..exceptions import ValidationError
    from .governance import TokenAuth

    if args is not None:
        given = {k: getattr(args, k) for k in _SECURITY if getattr(args, k, None) is not None}
        settings = dataclasses.replace(settings, **given)
    for name in _SECURITY[4:]:
        if getattr(settings, name) < 0:
            raise ValidationError(f"--{name.replace('_', '-')} is {getattr(settings, name)}; expected 0 or more.")
    if settings.token_file:
        TokenAuth(settings.token_file)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ValidationError("TLS needs both --tls-cert and --tls-key (PEM files); got only one of them.")
    if settings.tls_cert:
        import ssl

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.tls_cert, settings.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ValidationError(
                f"The TLS certificate {settings.tls_cert} and key {settings.tls_key} cannot be "
                f"loaded together ({getattr(exc, 'strerror', None) or exc}); give a PEM "
                "certificate and its matching unencrypted private key."
            ) from None
    return settings


async def _watch_tls(context, cert: str, key: str, every: float) -> None:
    """Load the certificate and key again into the live SSL context when either file changes.

    New connections get the new certificate; open ones keep theirs. A pair that
    does not load (say, the certificate was replaced but not yet its key) keeps
    the one in force and is tried again on the next change.
    """
    import asyncio
    import ssl

    log = logging.getLogger("jupyter_modelops.serving")

    def stamp():
        out = []
        for f in (cert, key):
            try:
                st = os.stat(f)
                out.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return out

    seen = stamp()
    while True:
        await asyncio.sleep(every)
        now = stamp()
        if now == seen:
            continue
        seen = now
        try:
            context.load_cert_chain(cert, key)
            log.info("TLS certificate reloaded from %s", cert)
        except (OSError, ssl.SSLError) as exc:
            log.warning("kept the TLS certificate in force: %s and %s do not load together (%s)", cert, key, exc)


#: seconds between "stop accepting" and "close idle connections" on SIGTERM
ACCEPT_GRACE_S = 0.5


def _draining_server_class(uvicorn):
    """A uvicorn Server whose shutdown does not drop a connection accepted a moment before it.

    uvicorn's shutdown closes every connection that has no request in progress,
    which includes one accepted just before the signal whose request bytes have
    not arrived yet: its client sees a reset. Here the listening sockets are
    closed first (other workers on a shared socket take new connections), then
    already-accepted connections get a short grace to send their request, and
    only then does uvicorn's usual drain run.
    """
    import asyncio
    import functools

    class DrainingServer(uvicorn.Server):
        tls_watch = None
        handshake_timeout = 0.0
        _tls_task = None

        async def startup(self, sockets=None):
            loop = asyncio.get_running_loop()
            patched = False
            if self.handshake_timeout > 0 and self.config.ssl is not None:
                # uvicorn does not pass a TLS handshake timeout (asyncio's default is 60 s): a client that
                # connects and never completes the handshake gets no longer than a slow request head
                loop.create_server = functools.partial(loop.create_server, ssl_handshake_timeout=self.handshake_timeout)
                patched = True
            try:
                await super().startup(sockets=sockets)
            finally:
                if patched:
                    del loop.create_server
            watch = self.tls_watch
            if watch and watch[2] > 0 and self.config.ssl is not None:
                self._tls_task = asyncio.get_running_loop().create_task(_watch_tls(self.config.ssl, *watch))

        async def shutdown(self, sockets=None):
            if self._tls_task is not None:
                self._tls_task.cancel()
            for srv in self.servers:
                srv.close()
            for sock in sockets or []:
                sock.close()
            await asyncio.sleep(ACCEPT_GRACE_S)
            await super().shutdown(sockets=None)

    return DrainingServer


def run(
    specs,
    settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    fd: int | None = None,
    ready_file: str | None = None,
    log_level: str = "info",
) -> int:
    """Serve ``specs`` with uvicorn until SIGTERM/SIGINT; returns the exit code."""
    from .._optional import require

    uvicorn = require("uvicorn", purpose="run the model server", extra="serve")

    from .app import ModelServerApp, ServerSettings

    settings = with_security(settings or ServerSettings.from_env())
    state = {"code": 0}
    server: uvicorn.Server | None = None

    def fatal(message: str) -> None:
        print(f"modelops serving: error: {message}", file=sys.stderr)
        state["code"] = 3
        if server is not None:
            server.should_exit = True

    # on a shared socket (a local deployment) a worker must not take connections before its model is
    # loaded: the old workers serve until then. Alone, it answers /v2/health/live while loading.
    app = ModelServerApp(specs, settings, on_fatal=fatal, load_in_background=fd is None)
    if ready_file:
        original = app._start_batchers

        def started() -> None:
            original()
            tmp = Path(ready_file + ".tmp")
            tmp.write_text(str(os.getpid()))
            tmp.replace(ready_file)

        app._start_batchers = started  # type: ignore[method-assign]
    have = importlib.util.find_spec
    s = app.settings
    limits = s.connection_limits()
    from .protocol import guarded_protocol

    tls = {"ssl_certfile": s.tls_cert, "ssl_keyfile": s.tls_key} if s.tls_cert else {}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if have("uvloop") else "asyncio",
        http=guarded_protocol(limits, app.metrics.shed) if have("httptools") else "h11",
        h11_max_incomplete_event_size=limits.max_header_bytes or None,
        lifespan="on",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        log_level="warning" if log_level.lower() in ("info", "debug") else log_level.lower(),
        timeout_graceful_shutdown=30,
        timeout_keep_alive=s.keepalive_timeout_s,
        backlog=4096,
        **tls,
    )
    server = _draining_server_class(uvicorn)(config)
    if s.tls_cert:
        server.tls_watch = (s.tls_cert, s.tls_key, s.tls_reload_s)
        server.handshake_timeout = limits.header_timeout_s
    # uvicorn drains, then raises the captured SIGTERM again: that is a clean stop, exit 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(state["code"]))
    if fd is not None:  # an inherited listening socket (family detected from the descriptor)
        import socket

        server.run(sockets=[socket.socket(fileno=fd)])
    else:
        server.run()
    if state["code"] == 0 and getattr(server, "started", True) is False:
        return 1
    return state["code"]


if __name__ == "__main__":
    raise SystemExit(main())
