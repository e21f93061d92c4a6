"""Push a registry version to an OCI registry, as an artifact a teammate can pull.

Examples: modelops push churn:3 127.0.0.1:5000/models/churn
          modelops push churn@production registry.example.com/team/churn:prod --json
"""

from .._io import emit

SUMMARY = "push a model version to an OCI registry (as an OCI artifact)"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("ref", help="registry reference, e.g. churn:3")
    p.add_argument("target", metavar="REGISTRY/REPO[:TAG]", help="where to push (the tag defaults to the version)")
    p.add_argument("--insecure", action="store_true", help="allow plain HTTP to a registry off loopback")
    p.add_argument("--chunk-size", type=int, metavar="BYTES", help="upload in chunks of this size")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args):
    from ...images import push

    emit(push(args.ref, args.target, insecure=args.insecure, chunk_size=args.chunk_size,
              progress=not args.no_progress), as_json=args.json)
    return 0
