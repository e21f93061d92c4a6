"""The clusters this notebook can deploy to: the kubeconfig's contexts (and 'local')."""

from .._io import emit

SUMMARY = "list the clusters (kubeconfig contexts)"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--kubeconfig")


def run(args):
    from ...deployment import clusters

    result = clusters(kubeconfig=args.kubeconfig)
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
