"""What runs for a deployment: version, replicas, revisions, canary, conditions.

Example: {prog} status churn --cluster prod
"""

from ._common import CLUSTER, KUBECONFIG, NAMESPACE, deployment_name
from ._spec import Verb, exit_ok


def run(face, *, name, cluster, namespace, kubeconfig):
    from ..deployment import status

    return status(name, cluster=cluster, namespace=namespace, kubeconfig=kubeconfig)


VERB = Verb(
    "status",
    "show what runs for a deployment on a cluster",
    doc=__doc__,
    run=run,
    exit_code=exit_ok,
    params=[deployment_name("deployment name (see the deployments verb)"), CLUSTER, NAMESPACE, KUBECONFIG],
)
