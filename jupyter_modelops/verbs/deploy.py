"""Deploy a model version to a cluster (kubeconfig context) and hardware profile.

Examples: {prog} deploy churn:3 --cluster prod --profile gpu-t4 --replicas 2
          {prog} deploy churn:4 --cluster prod --canary 10
          {prog} deploy churn:4 --cluster prod --canary 10 -a duration 30m -a max_error_rate 0.01 \
                 -a stable_metrics URL -a canary_metrics URL      (promotes or rolls back on its own)
          {prog} deploy churn:3 --cluster prod,dr --dry-run     (shows the YAML)
          {prog} deploy churn:3 --cluster local                 (a model server on this machine)
"""

from ._common import KUBECONFIG, NAMESPACE, TIMEOUT
from ._spec import Flag, Float, Int, Pairs, Param, Path, Ref, Text, Verb, exit_ok

MAGIC_DOC = (
    __doc__
    + """          {prog} deploy [--cluster prod --profile gpu-t4]       (a form, pre-filled)
"""
)


def run(
    face,
    *,
    ref,
    cluster,
    target,
    profile,
    namespace,
    image,
    push,
    replicas,
    canary,
    mode,
    name,
    timeout,
    wait,
    force,
    dry_run,
    kubeconfig,
    auth_secret=None,
    auth_token_file=None,
    capture=None,
    capture_rate=1.0,
    capture_pvc=None,
    capture_size="10Gi",
    capture_secret=None,
    analysis=None,
    otel=None,
    otel_env=False,
):
    if ref is None:
        if face.name == "magic":
            from ..magics._deploy_form import deploy_form

            return deploy_form(
                cluster=cluster or target,
                profile=profile,
                namespace=namespace,
                image=image,
                replicas=replicas,
                canary=canary,
                kubeconfig=kubeconfig,
            )
        from ..exceptions import ValidationError

        raise ValidationError("The model reference is missing.", hint="Pass one such as churn:3.")
    from ..deployment import deploy

    if analysis and face.name != "rest":
        from ..registry import params_from_text

        analysis = params_from_text(analysis.items())  # numbers from text; durations stay text
    if otel and otel_env:
        from ..exceptions import ValidationError

        raise ValidationError("Give --otel NAME VALUE pairs or --otel-env, not both.")
    return deploy(
        ref,
        cluster=cluster,
        target=target,
        profile=profile,
        namespace=namespace,
        image=image,
        push=push,
        replicas=replicas,
        canary=canary,
        mode=mode,
        name=name,
        timeout=timeout,
        wait=wait,
        force=force,
        dry_run=dry_run,
        kubeconfig=kubeconfig,
        auth_secret=auth_secret,
        auth_token_file=auth_token_file,
        capture=capture_value(capture),
        capture_rate=capture_rate,
        capture_pvc=capture_pvc,
        capture_size=capture_size,
        capture_secret=capture_secret,
        analysis=analysis or None,
        otel=True if otel_env else (otel or None),
    )


def capture_value(text):
    """``--capture true`` (the default store) or a store path/URL; None when not given."""
    if text is None or text is True or text is False:
        return text
    low = text.strip().lower()
    if low in ("true", "yes", "on", "1", "default"):
        return True
    if low in ("false", "no", "off", "0", ""):
        return None
    return text


VERB = Verb(
    "deploy",
    "deploy a model version to a cluster and hardware profile (in a notebook, no reference: a form)",
    doc={"magic": MAGIC_DOC, "*": __doc__},
    run=run,
    faces=("magic", "cli", "rest"),
    exit_code=exit_ok,
    params=[
        Param(
            "ref",
            Ref(),
            positional=True,
            optional=True,
            help={
                "magic": "registry reference, e.g. churn:3 (omit for the form)",
                "*": "registry reference, e.g. churn:3",
            },
        ),
        Param("cluster", Text(), help="kubeconfig context(s), comma-separated; 'local' for this machine"),
        Param("target", Text(), help="the same as --cluster"),
        Param("profile", Text(), default="cpu-small", help="hardware profile (see the profiles verb)"),
        NAMESPACE,
        Param("image", Text(), help="image to run (default: the image recorded for the version)"),
        Param("push", Text(), help="registry repository to build and push the image to"),
        Param("replicas", Int(), help="number of replicas (default: the profile's)"),
        Param("canary", Int(), metavar="PERCENT", help="traffic share of a canary (1-99)"),
        Param(
            "analysis",
            Pairs(),
            short="-a",
            help="automated canary analysis (repeatable): duration 30m, max_error_rate 0.01, max_latency_p99_ms 50, "
            "max_prediction_drift 0.2, stable_metrics URL, canary_metrics URL",
        ),
        Param("mode", Text(), default="deployment", choices=("deployment", "kserve"), help="what to create"),
        Param("name", Text(), help="object name (default: from the model name)"),
        TIMEOUT,
        Param("wait", Flag(negate=True), help="apply and return without waiting"),
        Param("force", Flag(), help="take over fields owned by another field manager"),
        Param("dry_run", Flag(), help="render the manifests only (shown as YAML)"),
        KUBECONFIG,
        Param(
            "auth_secret",
            Text(),
            metavar="NAME",
            help="require a bearer token from this Secret (key 'token', one token per line)",
        ),
        Param(
            "auth_token_file",
            Path(),
            help="create the auth Secret from this token file (or, with --cluster local, the server's token file)",
        ),
        Param(
            "capture",
            Text(),
            metavar="URL|true",
            help="record sampled inferences: 'true' (a volume in the cluster, MODELOPS_HOME/captures locally) "
            "or a store URL such as s3://bucket/captures",
        ),
        Param("capture_rate", Float(), default=1.0, help="share of requests captured, in (0, 1]"),
        Param("capture_pvc", Text(), help="capture into this PersistentVolumeClaim (default: one made for it)"),
        Param("capture_size", Text(), default="10Gi", help="size of the capture volume made"),
        Param("capture_secret", Text(), help="Secret with the object store's credentials as environment variables"),
        Param(
            "otel",
            Pairs(),
            help="OpenTelemetry for the pods (repeatable): endpoint URL, service_name NAME, "
            "exporter otlp|console|none, resource_attributes k=v,...",
        ),
        Param("otel_env", Flag(), help="pass this process's OTEL_* tracing settings to the pods"),
    ],
)
