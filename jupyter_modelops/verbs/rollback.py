"""Roll a deployment back: remove a running canary, else go back one revision (or --to N).

Example: {prog} rollback churn --cluster prod [--to 3]
"""

from ._common import CLUSTER, KUBECONFIG, NAMESPACE, TIMEOUT, deployment_name
from ._spec import Int, Param, Verb, exit_ok


def run(face, *, name, cluster, namespace, to, timeout, kubeconfig):
    from ..deployment import rollback

    return rollback(name, cluster=cluster, namespace=namespace, to=to, timeout=timeout, kubeconfig=kubeconfig)


VERB = Verb(
    "rollback",
    "roll a deployment back (drop its canary, or return to an earlier revision)",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    exit_code=exit_ok,
    params=[
        deployment_name(),
        CLUSTER,
        NAMESPACE,
        Param("to", Int(), metavar="REVISION", help="the revision to return to (default: the previous one)"),
        TIMEOUT,
        KUBECONFIG,
    ],
)
