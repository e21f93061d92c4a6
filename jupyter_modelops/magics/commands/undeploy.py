"""Remove a deployment and its objects (Service, HPA, PDB, NetworkPolicy, canary) from a cluster.

Example: %modelops undeploy churn --cluster prod
"""

SUMMARY = "remove a deployment from a cluster"


def add_arguments(p):
    p.add_argument("name")
    p.add_argument("--cluster")
    p.add_argument("--namespace", default="default")
    p.add_argument("--kubeconfig")


def run(args, shell):
    from ...deployment import undeploy

    return undeploy(args.name, cluster=args.cluster, namespace=args.namespace, kubeconfig=args.kubeconfig)
