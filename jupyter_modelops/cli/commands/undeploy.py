"""Remove a deployment and its objects (Service, HPA, PDB, NetworkPolicy, canary) from a cluster.

Example: modelops undeploy churn --cluster prod
"""

from .._io import emit

SUMMARY = "remove a deployment from a cluster"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("name")
    p.add_argument("--cluster")
    p.add_argument("--namespace", default="default")
    p.add_argument("--kubeconfig")


def run(args):
    from ...deployment import undeploy

    result = undeploy(args.name, cluster=args.cluster, namespace=args.namespace, kubeconfig=args.kubeconfig)
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
