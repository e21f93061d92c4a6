"""Pull a model version pushed with `modelops push` into the local registry.

Examples: modelops pull 127.0.0.1:5000/models/churn:3
"""

from .._io import emit

SUMMARY = "pull a model version from an OCI registry into the local registry"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("source", metavar="REGISTRY/REPO:TAG", help="what to pull (a tag or @sha256:digest)")
    p.add_argument("--insecure", action="store_true", help="allow plain HTTP to a registry off loopback")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args):
    from ...images import pull

    emit(pull(args.source, insecure=args.insecure, progress=not args.no_progress), as_json=args.json)
    return 0
