"""Run the model server in the foreground (for containers), or start a local deployment with --detach.

The server speaks the Open Inference Protocol (V2 REST): /v2/health/live,
/v2/health/ready, /v2/models/NAME[/versions/V][/ready|/infer], and Prometheus
/metrics. SIGTERM drains in-flight requests, then exits 0.

Examples:
  modelops serve churn:3 --port 8080
  modelops serve --model-dir /opt/model --host 0.0.0.0 --port 8080
  modelops serve churn@production --detach
"""

SUMMARY = "serve a model over V2 REST (foreground; --detach for a local deployment)"


def add_arguments(p):
    p.add_argument("ref", nargs="?", help="registry reference (churn:3, churn@production) or a model directory")
    p.add_argument("--model-dir", action="append", default=None, metavar="DIR",
                   help="serve this model directory (repeat to serve several)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default 8080 (foreground) or a free port (--detach)")
    p.add_argument("--detach", action="store_true", help="start a managed local deployment and return")
    p.add_argument("--workers", type=int, default=1, help="server processes (--detach)")
    p.add_argument("--runtime", choices=["onnx", "torchscript", "native"], default=None)
    p.add_argument("--max-batch-size", type=int, default=None)
    p.add_argument("--max-delay-ms", type=float, default=None)
    p.add_argument("--rate-limit", type=float, default=None, help="requests per second per client")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--access-log", action="store_true")
    p.add_argument("--json", action="store_true", help="print the deployment as JSON (--detach)")


def run(args) -> int:
    from ...exceptions import ValidationError
    from .._io import emit

    if bool(args.ref) == bool(args.model_dir):
        raise ValidationError("Give either a model reference or --model-dir DIR (not both, not neither).")
    if args.detach:
        from ...serving.local import serve

        if args.model_dir and len(args.model_dir) > 1:
            raise ValidationError("--detach serves one model directory; got several.")
        dep = serve(args.ref or args.model_dir[0], host=args.host, port=args.port, workers=args.workers,
                    runtime=args.runtime, max_batch_size=args.max_batch_size, max_delay_ms=args.max_delay_ms,
                    rate_limit=args.rate_limit, threads=args.threads, access_log=args.access_log)
        emit(dep, as_json=args.json)
        return 0
    import logging
    import sys

    from ...serving.__main__ import run as run_server
    from ...serving.app import ServerSettings
    from ...serving.local import materialize_for_foreground
    from ...serving.modeldir import read_model_dir

    dirs = args.model_dir or [str(materialize_for_foreground(args.ref))]
    specs = [read_model_dir(d) for d in dirs]
    settings = ServerSettings.from_env(runtime=args.runtime, max_batch_size=args.max_batch_size,
                                       max_delay_ms=args.max_delay_ms, rate_limit=args.rate_limit,
                                       threads=args.threads, access_log=args.access_log or None)
    logging.basicConfig(level="INFO", stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"serving {', '.join(f'{s.name}:{s.version}' for s in specs)} on http://{args.host}:{args.port or 8080}",
          file=sys.stderr, flush=True)
    return run_server(specs, settings, host=args.host, port=args.port or 8080)
