"""Build an OCI image that serves a model version, without a Docker daemon.

Examples: {prog} build churn:3
          {prog} build churn:3 --push 127.0.0.1:5000/churn
          {prog} build churn@production --base oci:./bases:python311 --tag prod
"""

from ._common import INSECURE, PROGRESS
from ._spec import Int, Param, Path, Ref, Text, Verb


def run(
    face, *, ref, push, base, tag, platform, profile, python_version, insecure, chunk_size, progress, dockerfile=None
):
    from ..images import DEFAULT_BASE, build
    from ..images import dockerfile as write_context

    if dockerfile:
        return write_context(
            ref,
            dockerfile,
            base=base or DEFAULT_BASE,
            platform=platform,
            profile=profile,
            python_version=python_version,
            insecure=insecure,
        )
    return build(
        ref,
        base=base or DEFAULT_BASE,
        tag=tag,
        push=push,
        platform=platform,
        profile=profile,
        insecure=insecure,
        python_version=python_version,
        chunk_size=chunk_size,
        progress=progress,
    )


VERB = Verb(
    "build",
    "build a model image (OCI layout under MODELOPS_HOME, or --push to a registry)",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    params=[
        Param(
            "ref", Ref(), positional=True, help="registry reference (churn:3, churn@production) or a model directory"
        ),
        Param("push", Text(), metavar="REGISTRY/REPO[:TAG]", help="push the image to this registry repository"),
        Param("base", Text(), help="base image: registry reference, oci:DIR[:TAG], or 'scratch'"),
        Param("tag", Text(), help="image tag (default: the model version)"),
        Param("platform", Text(), default="linux/amd64", help="target platform"),
        Param("profile", Text(), help="hardware profile (a GPU profile uses onnxruntime-gpu and a CUDA base)"),
        Param("python_version", Text(), flag="--python", help="Python of the base, e.g. 3.11"),
        INSECURE,
        Param("chunk_size", Int(), metavar="BYTES", help="upload in chunks of this size"),
        PROGRESS,
        Param(
            "dockerfile",
            Path(),
            metavar="DIR",
            faces=("magic", "cli"),
            help="write an equivalent Dockerfile build context here instead",
        ),
    ],
)
