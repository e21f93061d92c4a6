"""Serve a model over the Open Inference Protocol (V2 REST) on 127.0.0.1.

The server speaks /v2/health/live, /v2/health/ready,
/v2/models/NAME[/versions/V][/ready|/infer] and Prometheus /metrics. Serving
a model that already runs as a local deployment replaces its version on the
same URL without dropping requests.
"""

from ._spec import Flag, Float, Int, Param, Path, Ref, Text, Verb

DOC = {
    "magic": __doc__
    + """

Examples: {prog} serve churn:3
          {prog} serve churn@production --port 8080 --workers 2
          {prog} serve ./model-dir -o dep
""",
    "cli": __doc__
    + """

On the command line the server runs in the foreground (for containers; SIGTERM
drains in-flight requests, then exits 0); --detach starts a local deployment.

Examples:
  {prog} serve churn:3 --port 8080
  {prog} serve --model-dir /opt/model --host 0.0.0.0 --port 8080
  {prog} serve churn@production --detach
""",
}


class Exited:
    """The foreground server's exit status (the command line exits with it)."""

    def __init__(self, code: int) -> None:
        self.code = code


#: connection limits and security settings given to the server only when set (name, kind, default, help)
LIMITS = (
    ("tls_reload_s", Float(), 5.0, "check the certificate and key for changes this often, in seconds (0 = never)"),
    ("header_timeout_s", Float(), 10.0, "408 when the request line and headers take longer, in seconds"),
    ("body_timeout_s", Float(), 60.0, "408 when the body takes longer after the headers, in seconds"),
    ("keepalive_timeout_s", Float(), 30.0, "close a kept-alive connection idle this long, in seconds"),
    ("max_header_bytes", Int(), 65536, "431 when the request line and headers are larger"),
    ("max_headers", Int(), 100, "431 when a request has more header fields"),
    ("max_connections", Int(), 0, "503 for connections beyond this many (0 = what the open-file limit allows)"),
)


def run(
    face,
    *,
    ref,
    host,
    port,
    workers,
    name,
    runtime,
    max_batch_size,
    max_delay_ms,
    rate_limit,
    threads,
    access_log,
    model_dir=None,
    detach=True,
    token_file=None,
    tls_cert=None,
    tls_key=None,
    open_metrics=False,
    capture=None,
    capture_rate=1.0,
    **limit_values,
):
    from ..exceptions import ValidationError
    from .deploy import capture_value

    if face.name == "cli" and bool(ref) == bool(model_dir):
        raise ValidationError("Give either a model reference or --model-dir DIR (not both, not neither).")
    options = dict(max_batch_size=max_batch_size, max_delay_ms=max_delay_ms, rate_limit=rate_limit, threads=threads)
    limits = {k: v for k, v in limit_values.items() if v is not None}
    if open_metrics:
        limits["open_metrics"] = True
    capture = capture_value(capture)
    if detach:
        from ..serving.local import serve

        if model_dir and len(model_dir) > 1:
            raise ValidationError("--detach serves one model directory; got several.")
        return serve(
            ref or model_dir[0],
            host=host,
            port=port,
            workers=workers,
            name=name,
            runtime=runtime,
            access_log=access_log,
            token_file=token_file,
            tls_cert=tls_cert,
            tls_key=tls_key,
            limits=limits or None,
            capture=capture,
            capture_rate=capture_rate,
            **options,
        )
    import logging
    import sys

    from ..serving.__main__ import run as run_server
    from ..serving.__main__ import with_security
    from ..serving.app import ServerSettings
    from ..serving.local import materialize_for_foreground
    from ..serving.modeldir import read_model_dir

    dirs = model_dir or [str(materialize_for_foreground(ref))]
    specs = [read_model_dir(d) for d in dirs]
    store = None
    if capture is not None and capture is not False:
        from ..capture.store import resolve_location

        if not 0 < capture_rate <= 1:
            raise ValidationError(
                f"--capture-rate is {capture_rate:g}; expected a share of requests in (0, 1], e.g. 0.1."
            )
        store = resolve_location(None if capture is True else capture)
    settings = ServerSettings.from_env(
        runtime=runtime,
        access_log=access_log or None,
        token_file=token_file,
        tls_cert=tls_cert,
        tls_key=tls_key,
        capture=store,
        capture_rate=capture_rate if store else None,
        capture_deployment=(name or specs[0].name) if store else None,
        **limits,
        **options,
    )
    settings = with_security(settings)
    logging.basicConfig(level="INFO", stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheme = "https" if settings.tls_cert else "http"
    print(
        f"serving {', '.join(f'{s.name}:{s.version}' for s in specs)} on {scheme}://{host}:{port or 8080}",
        file=sys.stderr,
        flush=True,
    )
    return Exited(run_server(specs, settings, host=host, port=port or 8080))


VERB = Verb(
    "serve",
    "serve a model version over V2 REST (a local deployment; the command line: foreground or --detach)",
    doc=DOC,
    run=run,
    exit_code=lambda result: result.code if isinstance(result, Exited) else 0,
    text=lambda result: None if isinstance(result, Exited) else result.to_text(),
    params=[
        Param(
            "ref",
            Ref(),
            positional=True,
            optional=True,
            help="registry reference (churn, churn:3, churn@production) or a model directory",
        ),
        Param(
            "model_dir",
            Path(),
            faces=("cli",),
            repeat=True,
            metavar="DIR",
            help="serve this model directory (repeat to serve several)",
        ),
        Param("host", Text(), default="127.0.0.1", help="the address to listen on"),
        Param(
            "port",
            Int(),
            help={
                "cli": "default 8080 (foreground) or a free port (--detach)",
                "*": "port (default: the deployment's, else a free one)",
            },
        ),
        Param("detach", Flag(), faces=("cli",), help="start a managed local deployment and return"),
        Param("workers", Int(), default=1, help="server processes sharing the port"),
        Param("name", Text(), help="deployment name (default: the model's name)"),
        Param("runtime", Text(), choices=("onnx", "torchscript", "native"), help="the runtime (default: the best)"),
        Param("max_batch_size", Int(), help="largest batch the server forms from concurrent requests"),
        Param("max_delay_ms", Float(), help="longest wait for a batch to fill, in milliseconds"),
        Param("rate_limit", Float(), help="requests per second per client"),
        Param("threads", Int(), help="inference threads per process"),
        Param("access_log", Flag(), help="log every request"),
        Param(
            "token_file",
            Path(),
            help="require 'Authorization: Bearer TOKEN' with a token from this file "
            "(one per line); /v2/health/* stays open",
        ),
        Param("open_metrics", Flag(), help="leave /metrics open when --token-file is set"),
        Param("tls_cert", Path(), metavar="PEM", help="serve HTTPS with this certificate (chain)"),
        Param("tls_key", Path(), metavar="PEM", help="the certificate's private key"),
        *(
            Param(n, kind, metavar="S" if isinstance(kind, Float) else "N", help=f"{text} (default {default})")
            for n, kind, default, text in LIMITS
        ),
        Param(
            "capture",
            Text(),
            metavar="URL|true",
            help="record sampled inferences as Parquet: 'true' (MODELOPS_HOME/captures) or a path or URL "
            "such as s3://bucket/captures",
        ),
        Param("capture_rate", Float(), default=1.0, help="share of requests captured, in (0, 1]"),
    ],
)
