"""What runs for a deployment: version, replicas, revisions, canary, conditions.

Example: modelops status churn --cluster prod
"""

from .._io import emit

SUMMARY = "show what runs for a deployment on a cluster"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("name", help="deployment name (modelops deployments)")
    p.add_argument("--cluster")
    p.add_argument("--namespace", default="default")
    p.add_argument("--kubeconfig")


def run(args):
    from ...deployment import status

    result = status(args.name, cluster=args.cluster, namespace=args.namespace, kubeconfig=args.kubeconfig)
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
