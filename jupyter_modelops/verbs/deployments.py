"""List deployments: live from --cluster, else from the registry's records.

Example: {prog} deployments --cluster prod
"""

from ._common import KUBECONFIG
from ._spec import Param, Text, Verb, exit_ok


def run(face, *, cluster, namespace, kubeconfig):
    from ..deployment import deployments

    return deployments(cluster=cluster, namespace=namespace, kubeconfig=kubeconfig)


VERB = Verb(
    "deployments",
    "list what runs where",
    doc=__doc__,
    run=run,
    exit_code=exit_ok,
    params=[
        Param("cluster", Text(), help="ask this cluster (default: the registry's records)"),
        Param("namespace", Text(), help="only this namespace (default: all)"),
        KUBECONFIG,
    ],
)
