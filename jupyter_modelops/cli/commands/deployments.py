"""List deployments: live from --cluster, else from the registry's records.

Example: modelops deployments --cluster prod
"""

from .._io import emit

SUMMARY = "list what runs where"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--cluster", help="ask this cluster (default: the registry's records)")
    p.add_argument("--namespace")
    p.add_argument("--kubeconfig")


def run(args):
    from ...deployment import deployments

    result = deployments(cluster=args.cluster, namespace=args.namespace, kubeconfig=args.kubeconfig)
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
