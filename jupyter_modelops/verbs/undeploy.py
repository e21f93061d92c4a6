"""Remove a deployment and its objects (Service, HPA, PDB, NetworkPolicy, canary) from a cluster.

Example: {prog} undeploy churn --cluster prod
"""

from ._common import CLUSTER, KUBECONFIG, NAMESPACE, deployment_name
from ._spec import Verb, exit_ok


def run(face, *, name, cluster, namespace, kubeconfig):
    from ..deployment import undeploy

    return undeploy(name, cluster=cluster, namespace=namespace, kubeconfig=kubeconfig)


VERB = Verb(
    "undeploy",
    "remove a deployment from a cluster",
    doc=__doc__,
    run=run,
    exit_code=exit_ok,
    faces=("magic", "cli", "rest"),
    params=[deployment_name(), CLUSTER, NAMESPACE, KUBECONFIG],
)
