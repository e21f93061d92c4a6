"""Roll a deployment back: remove a running canary, else go back one revision (or --to N).

Example: modelops rollback churn --cluster prod [--to 3]
"""

from .._io import emit

SUMMARY = "roll a deployment back (drop its canary, or return to an earlier revision)"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("name")
    p.add_argument("--cluster")
    p.add_argument("--namespace", default="default")
    p.add_argument("--to", type=int, metavar="REVISION")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--kubeconfig")


def run(args):
    from ...deployment import rollback

    result = rollback(args.name, cluster=args.cluster, namespace=args.namespace, to=args.to, timeout=args.timeout,
                      kubeconfig=args.kubeconfig)
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
