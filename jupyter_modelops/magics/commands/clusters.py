"""The clusters this notebook can deploy to: the kubeconfig's contexts (and 'local')."""

SUMMARY = "list the clusters (kubeconfig contexts)"


def add_arguments(p):
    p.add_argument("--kubeconfig")


def run(args, shell):
    from ...deployment import clusters

    return clusters(kubeconfig=args.kubeconfig)
