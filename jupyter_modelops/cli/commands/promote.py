"""Make a deployment's canary the stable version.

Example: modelops promote churn --cluster prod
"""

from .._io import emit

SUMMARY = "promote a canary to the stable version"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("name")
    p.add_argument("--cluster")
    p.add_argument("--namespace", default="default")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--kubeconfig")


def run(args):
    from ...deployment import promote

    result = promote(args.name, cluster=args.cluster, namespace=args.namespace, timeout=args.timeout,
                     kubeconfig=args.kubeconfig)
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
