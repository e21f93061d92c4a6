"""Push a registry version to an OCI registry, as an artifact a teammate can pull.

Examples: {prog} push churn:3 127.0.0.1:5000/models/churn
          {prog} push churn@production registry.example.com/team/churn:prod
"""

from ._common import INSECURE, PROGRESS
from ._spec import Int, Param, Ref, Text, Verb


def run(face, *, ref, target, insecure, chunk_size, progress):
    from ..images import push

    return push(ref, target, insecure=insecure, chunk_size=chunk_size, progress=progress)


VERB = Verb(
    "push",
    "push a model version to an OCI registry (as an OCI artifact)",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    params=[
        Param("ref", Ref(), positional=True, help="registry reference, e.g. churn:3"),
        Param(
            "target",
            Text(),
            positional=True,
            metavar="REGISTRY/REPO[:TAG]",
            help="where to push (the tag defaults to the version)",
        ),
        INSECURE,
        Param("chunk_size", Int(), metavar="BYTES", help="upload in chunks of this size"),
        PROGRESS,
    ],
)
