"""Parameters that several verbs share (a cluster, a namespace, gates...)."""

from __future__ import annotations

from ._spec import Flag, Float, Gates, Param, Path, Text

CLUSTER = Param("cluster", help="kubeconfig context (default: the current one)")
NAMESPACE = Param("namespace", default="default", help="Kubernetes namespace")
KUBECONFIG = Param("kubeconfig", Path(), help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
TIMEOUT = Param("timeout", Float(), default=600, help="seconds to wait for the rollout")
INSECURE = Param("insecure", Flag(), help="allow plain HTTP to a registry off loopback")
PROGRESS = Param("progress", Flag(negate=True), help="hide the progress bars")
TRUST = Param(
    "trust",
    Flag(),
    faces=("cli",),
    aliases=("--trusted",),  # the spelling of snapshot, load and predict-batch
    to_core=False,
    help="trust the model file: load .joblib/.pkl, and skops types beyond skops' defaults (tree ensembles)",
)


def gates(example: str, *, precheck: bool = False) -> Param:
    """``--check GATE`` (repeatable); the command line exits 1 when one fails."""
    return Param(
        "check",
        Gates(precheck=precheck),
        repeat=True,
        help={
            "cli": f'a gate such as "{example}" (repeatable); exit code 1 when one fails',
            "*": f'a gate such as "{example}" (repeatable)',
        },
    )


def deployment_name(help: str = "deployment name") -> Param:
    return Param("name", Text(), positional=True, help=help)
