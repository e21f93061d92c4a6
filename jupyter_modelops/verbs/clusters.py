"""The clusters this notebook can deploy to: the kubeconfig's contexts (and 'local')."""

from ._common import KUBECONFIG
from ._spec import Verb, exit_ok


def run(face, *, kubeconfig):
    from ..deployment import clusters

    return clusters(kubeconfig=kubeconfig)


VERB = Verb(
    "clusters", "list the clusters (kubeconfig contexts)", doc=__doc__, run=run, params=[KUBECONFIG], exit_code=exit_ok
)
