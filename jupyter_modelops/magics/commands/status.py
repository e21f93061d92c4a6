"""What runs for a deployment: version, replicas, revisions, canary, conditions.

Example: %modelops status churn --cluster prod
"""

SUMMARY = "show what runs for a deployment on a cluster"


def add_arguments(p):
    p.add_argument("name", help="deployment name (%%modelops deployments)")
    p.add_argument("--cluster")
    p.add_argument("--namespace", default="default")
    p.add_argument("--kubeconfig")


def run(args, shell):
    from ...deployment import status

    return status(args.name, cluster=args.cluster, namespace=args.namespace, kubeconfig=args.kubeconfig)
