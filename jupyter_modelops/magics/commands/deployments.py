"""List deployments: live from --cluster, else from the registry's records.

Example: %modelops deployments --cluster prod
"""

SUMMARY = "list what runs where"


def add_arguments(p):
    p.add_argument("--cluster", help="ask this cluster (default: the registry's records)")
    p.add_argument("--namespace")
    p.add_argument("--kubeconfig")


def run(args, shell):
    from ...deployment import deployments

    return deployments(cluster=args.cluster, namespace=args.namespace, kubeconfig=args.kubeconfig)
