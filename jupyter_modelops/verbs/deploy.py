"""Deploy a model version to a cluster (kubeconfig context) and hardware profile.

Examples: {prog} deploy churn:3 --cluster prod --profile gpu-t4 --replicas 2
          {prog} deploy churn:4 --cluster prod --canary 10
          {prog} deploy churn:3 --cluster prod,dr --dry-run     (shows the YAML)
          {prog} deploy churn:3 --cluster local                 (a model server on this machine)
"""

from ._common import KUBECONFIG, NAMESPACE, TIMEOUT
from ._spec import Flag, Int, Param, Ref, Text, Verb, exit_ok

MAGIC_DOC = __doc__ + """          {prog} deploy [--cluster prod --profile gpu-t4]       (a form, pre-filled)
"""


def run(face, *, ref, cluster, target, profile, namespace, image, push, replicas, canary, mode, name, timeout,
        wait, force, dry_run, kubeconfig):
    if ref is None:
        if face.name == "magic":
            from ..magics._deploy_form import deploy_form

            return deploy_form(cluster=cluster or target, profile=profile, namespace=namespace, image=image,
                               replicas=replicas, canary=canary, kubeconfig=kubeconfig)
        from ..exceptions import ValidationError

        raise ValidationError("The model reference is missing.", hint="Pass one such as churn:3.")
    from ..deployment import deploy

    return deploy(ref, cluster=cluster, target=target, profile=profile, namespace=namespace, image=image, push=push,
                  replicas=replicas, canary=canary, mode=mode, name=name, timeout=timeout, wait=wait, force=force,
                  dry_run=dry_run, kubeconfig=kubeconfig)


VERB = Verb(
    "deploy", "deploy a model version to a cluster and hardware profile (in a notebook, no reference: a form)",
    doc={"magic": MAGIC_DOC, "*": __doc__}, run=run, faces=("magic", "cli", "rest"), exit_code=exit_ok,
    params=[
        Param("ref", Ref(), positional=True, optional=True,
              help={"magic": "registry reference, e.g. churn:3 (omit for the form)",
                    "*": "registry reference, e.g. churn:3"}),
        Param("cluster", Text(), help="kubeconfig context(s), comma-separated; 'local' for this machine"),
        Param("target", Text(), help="the same as --cluster"),
        Param("profile", Text(), default="cpu-small", help="hardware profile (see the profiles verb)"),
        NAMESPACE,
        Param("image", Text(), help="image to run (default: the image recorded for the version)"),
        Param("push", Text(), help="registry repository to build and push the image to"),
        Param("replicas", Int(), help="number of replicas (default: the profile's)"),
        Param("canary", Int(), metavar="PERCENT", help="traffic share of a canary (1-99)"),
        Param("mode", Text(), default="deployment", choices=("deployment", "kserve"), help="what to create"),
        Param("name", Text(), help="object name (default: from the model name)"),
        TIMEOUT,
        Param("wait", Flag(negate=True), help="apply and return without waiting"),
        Param("force", Flag(), help="take over fields owned by another field manager"),
        Param("dry_run", Flag(), help="render the manifests only (shown as YAML)"),
        KUBECONFIG,
    ],
)
