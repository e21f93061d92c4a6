"""Serve a model version locally over the Open Inference Protocol (V2 REST) on 127.0.0.1.

Serving a model that already runs replaces its version on the same URL
without dropping requests.

Examples: %modelops serve churn:3
          %modelops serve churn@production --port 8080 --workers 2
          %modelops serve ./model-dir -o dep
"""

SUMMARY = "serve a model version locally (V2 REST on 127.0.0.1); replaces a running version"


def add_arguments(p):
    p.add_argument("ref", help="registry reference (churn, churn:3, churn@production) or a model directory")
    p.add_argument("--port", type=int, default=None, help="port (default: the deployment's, else a free one)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--workers", type=int, default=1, help="server processes sharing the port")
    p.add_argument("--name", default=None, help="deployment name (default: the model's name)")
    p.add_argument("--runtime", choices=["onnx", "torchscript", "native"], default=None)
    p.add_argument("--rate-limit", type=float, default=None, help="requests per second per client")


def run(args, shell):
    from ...serving.local import serve

    return serve(args.ref, host=args.host, port=args.port, workers=args.workers, name=args.name,
                 runtime=args.runtime, rate_limit=args.rate_limit)
