"""Make a deployment's canary the stable version.

Example: {prog} promote churn --cluster prod
"""

from ._common import CLUSTER, KUBECONFIG, NAMESPACE, TIMEOUT, deployment_name
from ._spec import Verb, exit_ok


def run(face, *, name, cluster, namespace, timeout, kubeconfig):
    from ..deployment import promote

    return promote(name, cluster=cluster, namespace=namespace, timeout=timeout, kubeconfig=kubeconfig)


VERB = Verb(
    "promote",
    "promote a canary to the stable version",
    doc=__doc__,
    run=run,
    exit_code=exit_ok,
    faces=("magic", "cli", "rest"),
    params=[deployment_name(), CLUSTER, NAMESPACE, TIMEOUT, KUBECONFIG],
)
