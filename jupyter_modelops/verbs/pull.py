"""Pull a model version pushed with the push verb into the local registry.

Example: {prog} pull 127.0.0.1:5000/models/churn:3
"""

from ._common import INSECURE, PROGRESS
from ._spec import Param, Text, Verb


def run(face, *, source, insecure, progress):
    from ..images import pull

    return pull(source, insecure=insecure, progress=progress)


VERB = Verb(
    "pull",
    "pull a model version from an OCI registry into the local registry",
    doc=__doc__,
    run=run,
    params=[
        Param(
            "source",
            Text(),
            positional=True,
            metavar="REGISTRY/REPO:TAG",
            help="what to pull (a tag or @sha256:digest)",
        ),
        INSECURE,
        PROGRESS,
    ],
)
