"""deploy, promote, rollback, status, undeploy, deployments: the verbs on a cluster.

Each verb resolves its cluster (a kubeconfig context), talks to it through
:class:`~jupyter_modelops.deployment.kube.Kube`, and records what it did in the
registry (record kind ``"deployment"``), so the CLI, the panel and a report
see one history.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import time
from typing import Any, Sequence

from .. import tracing
from ..exceptions import DeployError, ModelNotFoundError, ModelOpsError, ValidationError
from .clusters import LOCAL, Cluster, get_cluster
from .kube import Kube
from .manifests import LABEL_PREFIX, MODES, DeploySpec, canary_name, object_name, render
from .profiles import HardwareProfile, get_profile
from .results import Deployment, DeploymentList, DeploymentSet, DeploymentStatus
from .rollout import owned_replicasets, revision, wait_inference_service, wait_rollout

__all__ = ["deploy", "promote", "rollback", "status", "undeploy", "deployments"]

PREVIOUS = f"{LABEL_PREFIX}/previous"
PLAIN_KINDS = (
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "ServiceAccount",
)


# -- registry (records) -----------------------------------------------------------------------------
def _registry() -> Any:
    from .. import registry

    return registry


def _record(ref: str | None, data: dict) -> None:
    if not ref:
        return
    try:
        _registry().add_record(ref, "deployment", data)
    except ModelNotFoundError:
        # objects deployed from another machine's registry: the cluster itself is the record
        pass


def _resolve(ref: Any) -> tuple[str, str, str]:
    """(model name, version, canonical ref) of a registry reference or ModelVersion."""
    if not isinstance(ref, str) and not (hasattr(ref, "name") and hasattr(ref, "version")):
        raise ValidationError(
            f"ref must be a model reference such as 'churn:3' or a ModelVersion; got {type(ref).__name__} {ref!r}."
        )
    mv = _registry().get(ref)
    return str(mv.name), str(mv.version), f"{mv.name}:{mv.version}"


def _image_for(ref: str, *, dry_run: bool, push: str | None, profile: HardwareProfile) -> tuple[str, str]:
    """(image reference, digest): with ``push``, build and push now; else the latest pushed image
    recorded for ``ref`` (in a dry run also a local one); else build locally for a dry run."""
    recs = [] if push is not None else _registry().records(ref, kind="image")
    for rec in reversed(recs or []):
        data = rec.get("data") or {}
        image = data.get("reference") or data.get("image")
        if image and (data.get("pushed", True) or dry_run):
            if data.get("base") == "scratch" and not dry_run:
                raise ValidationError(
                    f"The latest image recorded for {ref} ({image}) was built on scratch: it has no Python for "
                    "its entrypoint and its pods could not start.",
                    hint="Build and push it on a base with Python 3.11 (the default base), or pass image=...",
                )
            return str(image), str(data.get("digest", ""))
    if push is None and not dry_run:
        raise ValidationError(
            f"No pushed image is recorded for {ref}, and a cluster cannot pull a local image layout.",
            hint="Pass image='registry/repo@sha256:...', or push='registry/repo' to build and push one now.",
        )
    from ..images import build

    built = build(ref, push=push, profile=profile)  # a GPU profile gets onnxruntime-gpu on a CUDA base
    digest = str(getattr(built, "digest", "") or "")
    image = getattr(built, "reference", None) or getattr(built, "ref", None)
    if not image:
        repo = push or ref.split(":")[0]
        image = f"{repo}@{digest}" if digest else repo
    return str(image), digest


def _digest_of(image: str) -> str:
    return image.split("@", 1)[1] if "@sha256:" in image else ""


# -- argument checks ---------------------------------------------------------------------------------
def _check_int(value: Any, name: str, *, lo: int, hi: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ValidationError(f"{name} is {value!r}; expected an integer {rng}.")
    return value


def _clusters(cluster: Any, target: Any) -> list[str | None]:
    if target is not None and cluster is not None and target != cluster:
        raise ValidationError(f"target={target!r} and cluster={cluster!r} disagree; pass only one of them.")
    value = cluster if cluster is not None else target
    if value is None:
        return [None]
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)):
        names = [str(v) for v in value]
    else:
        raise ValidationError(f"cluster must be a context name or a list of them; got {type(value).__name__}.")
    if not names:
        raise ValidationError("cluster is empty; pass a kubeconfig context name (see clusters()).")
    return names


# -- deploy ------------------------------------------------------------------------------------------
def deploy(
    ref: Any,
    *,
    cluster: str | Sequence[str] | None = None,
    target: str | Sequence[str] | None = None,
    profile: str | HardwareProfile = "cpu-small",
    namespace: str = "default",
    image: str | None = None,
    replicas: int | None = None,
    canary: int | None = None,
    mode: str = "deployment",
    wait: bool = True,
    timeout: float = 600,
    dry_run: bool = False,
    name: str | None = None,
    force: bool = False,
    auto_rollback: bool = True,
    kubeconfig: str | None = None,
    push: str | None = None,
    progress: bool | None = None,
    auth_secret: str | None = None,
    auth_token_file: str | None = None,
    capture: bool | str | None = None,
    capture_rate: float = 1.0,
    capture_pvc: str | None = None,
    capture_size: str = "10Gi",
    capture_secret: str | None = None,
    analysis: dict | None = None,
    otel: dict | bool | None = None,
) -> Deployment | DeploymentSet:
    """Deploy a model version to a Kubernetes cluster and hardware profile (or to this machine).

    Parameters
    ----------
    ref : str or ModelVersion
        The model version (``"churn:3"``, ``"churn@prod"``).
    cluster, target : str or list of str, optional
        Kubeconfig context(s) (see :func:`clusters`); ``"local"`` runs a model server process on
        this machine instead. Several clusters (a list or ``"a,b"``) deploy the same version to
        each and return a :class:`DeploymentSet`. Default: the current context.
    profile : str or HardwareProfile, default="cpu-small"
        Hardware profile (see :func:`profiles`).
    namespace : str, default="default"
        Namespace; it must exist.
    image : str, optional
        Image to run. Default: the latest pushed image recorded for ``ref``, else one built by
        :func:`jupyter_modelops.images.build` and pushed to ``push``.
    replicas : int, optional
        Replicas (default from the profile).
    canary : int, optional
        Percent of traffic (1-99) for this version beside the running one; then :func:`promote`
        or :func:`rollback`.
    mode : {"deployment", "kserve"}, default="deployment"
        Plain Kubernetes objects, or a KServe ``InferenceService``.
    wait : bool, default=True
        Wait for the rollout (a progress bar), judging the new pods' readiness.
    timeout : float, default=600
        Seconds to wait for the rollout.
    dry_run : bool, default=False
        Render only; nothing is sent to a cluster. ``.yaml`` holds the manifests.
    name : str, optional
        Object name (default: derived from the model name).
    force : bool, default=False
        Take over fields that another field manager owns (server-side apply ``force``).
    auto_rollback : bool, default=True
        Roll a failed rollout back to the previous revision.
    kubeconfig : str, optional
        Kubeconfig file (default ``$KUBECONFIG`` or ``~/.kube/config``).
    push : str, optional
        Registry repository to push a freshly built image to.
    progress : bool, optional
        Show a progress bar (default: in notebooks and terminals).
    auth_secret : str, optional
        Require a bearer token on the model endpoints (``/v2/health/*``, which the
        probes use, stays open): the pods mount this Secret's key ``token`` (one
        token per line) as the server's token file. With ``auth_token_file`` the
        Secret is rendered and applied from that file; without it, it must exist.
    auth_token_file : str, optional
        A local token file to put in the Secret (default name ``NAME-auth``); for
        ``cluster="local"``, the server's token file.
    capture : bool or str, optional
        Record sampled inferences as Parquet (see :func:`jupyter_modelops.captures`).
        ``True``: on a PersistentVolumeClaim (``capture_pvc``, else one named
        ``NAME-captures`` of ``capture_size`` that deploy creates); a URL
        (``s3://``, ``gs://``, ``abfs://``): object storage, with credentials from
        the environment the Secret ``capture_secret`` gives. For ``cluster="local"``,
        as :func:`jupyter_modelops.serve`.
    capture_rate : float, default=1.0
        Share of requests captured, in (0, 1].
    capture_pvc, capture_size, capture_secret : str, optional
        An existing claim to write to; the size of the claim deploy creates;
        a Secret with the object store's credentials (e.g. ``AWS_ACCESS_KEY_ID``).
    analysis : dict, optional
        With ``canary``: automated canary analysis. Over ``duration`` (``"30m"``, or seconds) the
        canary's live metrics are compared with the stable version's, then the canary is promoted or
        rolled back on its own (see :mod:`jupyter_modelops.deployment.analysis`). Criteria:
        ``max_error_rate`` (tolerated increase of the error rate), ``max_latency_p99_ms``,
        ``max_prediction_drift``; settings: ``interval``, ``min_requests``, ``confidence``, and
        ``stable_metrics`` / ``canary_metrics``, ``/metrics`` URLs to read instead of every pod's
        (through the API server's pod proxy, the default). The decision and its evidence are in ``.analysis``, in the registry
        records and in :func:`status`.
    otel : dict or True, optional
        OpenTelemetry for the served model: ``{"endpoint": "http://otel-collector:4318",
        "service_name": "churn"}`` (also ``exporter``, ``resource_attributes``) becomes the pods'
        ``OTEL_*`` environment, so that the server sends its spans there; ``True`` passes this
        process's own ``OTEL_*`` tracing settings through (see :mod:`jupyter_modelops.tracing`).

    Returns
    -------
    Deployment or DeploymentSet

    Examples
    --------
    >>> d = deploy("churn:3", cluster="prod", profile="gpu-t4", dry_run=True)  # doctest: +SKIP
    >>> print(d.yaml)  # doctest: +SKIP
    """
    names = _clusters(cluster, target)
    criteria = _check_analysis(analysis, canary=canary, wait=wait, clusters=names)
    otel_env = tracing.otel_environment(otel)
    if names == [LOCAL] and otel_env and otel is not True:  # a local server inherits this process's environment
        raise ValidationError(
            "otel={...} sets the pods' environment on Kubernetes; a local server takes the OTEL_* "
            "settings of this process's environment instead, so set those (or pass otel=True)."
        )
    if names == [LOCAL]:
        return _deploy_local(
            ref,
            timeout=timeout,
            wait=wait,
            name=name,
            token_file=auth_token_file,
            capture=capture,
            capture_rate=capture_rate,
        )
    if LOCAL in names:
        raise ValidationError("cluster 'local' cannot be mixed with Kubernetes clusters in one call.")
    prof = get_profile(profile)
    replicas = _check_int(replicas, "replicas", lo=0)
    canary = _check_int(canary, "canary", lo=1, hi=99)
    if mode not in MODES:
        raise ValidationError(f"mode is {mode!r}; expected one of {', '.join(MODES)}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValidationError(f"timeout is {timeout!r}; expected a positive number of seconds.")
    if not isinstance(namespace, str) or not namespace:
        raise ValidationError(f"namespace is {namespace!r}; expected a namespace name such as 'default'.")
    if image is not None and (not isinstance(image, str) or not image.strip() or " " in image):
        raise ValidationError(f"image is {image!r}; expected an image reference such as 'registry/repo@sha256:...'.")
    model, version, ref_s = _resolve(ref)
    digest = ""
    if image is None:
        image, digest = _image_for(ref_s, dry_run=dry_run, push=push, profile=prof)
    digest = digest or _digest_of(image)
    obj_name = object_name(name or model)
    if name is not None and obj_name != name:
        raise ValidationError(f"name is {name!r}, which is not a DNS-1123 label; expected e.g. {obj_name!r}.")
    base = DeploySpec(
        name=obj_name,
        namespace=namespace,
        model=model,
        version=version,
        ref=ref_s,
        image=image,
        digest=digest,
        profile=prof,
        replicas=prof.replicas if replicas is None else replicas,
        mode=mode,
        canary=canary,
        canary_replicas=1 if canary else 0,
        **dict(zip(("auth_secret", "auth_token"), _auth(auth_secret, auth_token_file, obj_name))),
        **_capture(capture, capture_rate, capture_pvc, capture_size, capture_secret, obj_name),
        otel=otel_env,
    )
    results = []
    for cname in names:
        try:
            with tracing.span(
                "modelops.deploy",
                {
                    "modelops.model": model,
                    "modelops.model_version": version,
                    "modelops.cluster": cname,
                    "modelops.namespace": namespace,
                    "modelops.image": image,
                    "modelops.dry_run": dry_run,
                },
            ):
                one = _deploy_one(
                    base,
                    cname,
                    wait=wait,
                    timeout=float(timeout),
                    dry_run=dry_run,
                    force=force,
                    auto_rollback=auto_rollback,
                    kubeconfig=kubeconfig,
                    progress=progress,
                    explicit_replicas=replicas is not None,
                )
            if criteria is not None and one.state == "canary":
                one = _analyze_canary(one, criteria, timeout=float(timeout), progress=progress)
            results.append(one)
        except ModelOpsError as exc:
            if len(names) == 1:
                raise
            results.append(Deployment.from_error(base, cname or "", exc))
    return results[0] if len(results) == 1 else DeploymentSet(results)


def _check_analysis(analysis: Any, *, canary: Any, wait: bool, clusters: list) -> dict | None:
    """The canary analysis settings of :func:`deploy`, checked before anything is deployed."""
    from .analysis import check_analysis

    criteria = check_analysis(analysis)
    if criteria is None:
        return None
    if canary is None:
        raise ValidationError("analysis= judges a canary; pass canary=PERCENT too (e.g. canary=10).")
    if not wait:
        raise ValidationError("analysis= needs wait=True: the analysis starts once the canary is ready.")
    if clusters == [LOCAL] or len(clusters) != 1:
        raise ValidationError(
            "analysis= needs exactly one Kubernetes cluster: the metrics of a canary are "
            "read on the cluster it runs in."
        )
    if ("stable_metrics" in criteria) != ("canary_metrics" in criteria):
        raise ValidationError(
            "analysis has only one of stable_metrics and canary_metrics; give both URLs, or "
            "neither to read every pod's /metrics through the API server."
        )
    return criteria


def _secret_token(kube: Any, secret: str, namespace: str) -> str:
    """The first token of a deployment's auth Secret (key ``token``), to read its pods' ``/metrics``."""
    import base64

    obj = kube.get("Secret", secret, namespace)
    raw = ((obj or {}).get("data") or {}).get("token")
    if not raw:
        raise DeployError(
            f"The canary analysis needs the servers' token, but Secret '{secret}' in namespace '{namespace}' "
            "has no key 'token'; recreate it with one token per line."
        )
    try:
        text = base64.b64decode(raw).decode("utf-8")
    except ValueError:
        raise DeployError(f"The key 'token' of Secret '{secret}' is not base64 text; recreate the Secret.") from None
    token = next((t.strip() for t in text.splitlines() if t.strip() and not t.lstrip().startswith("#")), "")
    if not token:
        raise DeployError(f"Secret '{secret}' holds no token; put one token per line under the key 'token'.")
    return token


def _analyze_canary(dep: Deployment, criteria: dict, *, timeout: float, progress: bool | None) -> Deployment:
    """Run the canary analysis of a ready canary, then promote or roll it back; the result carries the evidence."""
    from .analysis import run_analysis, track_reader

    if "stable_metrics" in criteria:
        result = run_analysis(criteria["stable_metrics"], criteria["canary_metrics"], criteria)
    elif dep.mode != "deployment":
        raise ValidationError(
            "In KServe mode the canary analysis reads the URLs analysis['stable_metrics'] and "
            "analysis['canary_metrics']; give both."
        )
    else:
        with Kube(_cluster(dep.cluster, dep.kubeconfig)) as kube:
            token = _secret_token(kube, dep.spec.auth_secret, dep.namespace) if dep.spec.auth_secret else None
            result = run_analysis(
                track_reader(kube, dep.name, dep.namespace, "stable", token=token),
                track_reader(kube, dep.name, dep.namespace, "canary", token=token),
                criteria,
            )
    evidence = result.to_dict()
    evidence["ref"] = dep.ref
    if result.decision == "promote":
        out = promote(
            dep.name,
            cluster=dep.cluster,
            namespace=dep.namespace,
            timeout=timeout,
            kubeconfig=dep.kubeconfig,
            progress=progress,
            _analysis=evidence,
        )
    else:
        out = rollback(
            dep.name,
            cluster=dep.cluster,
            namespace=dep.namespace,
            timeout=timeout,
            kubeconfig=dep.kubeconfig,
            progress=progress,
            _analysis=evidence,
        )
    return out


def _deploy_local(
    ref: Any,
    *,
    timeout: float,
    wait: bool,
    name: str | None,
    token_file: str | None = None,
    capture: bool | str | None = None,
    capture_rate: float = 1.0,
) -> Any:
    """``cluster="local"``: a model server process on this machine (see :mod:`jupyter_modelops.serving.local`)."""
    from ..serving.local import deploy_local

    return deploy_local(
        ref, timeout=timeout, wait=wait, name=name, token_file=token_file, capture=capture, capture_rate=capture_rate
    )


_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")


def _capture(capture: Any, rate: Any, pvc: str | None, size: Any, secret: str | None, obj_name: str) -> dict:
    """DeploySpec fields for inference capture in Kubernetes, checked (one sentence when wrong)."""
    if capture is None or capture is False:
        if pvc is not None or secret is not None:
            raise ValidationError("capture_pvc and capture_secret need capture=True or capture='s3://...'.")
        return {}
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise ValidationError(f"capture_rate is {rate!r}; expected a share of requests in (0, 1], e.g. 0.1.")
    for arg, value in (("capture_pvc", pvc), ("capture_secret", secret)):
        if value is not None and (not isinstance(value, str) or not _SECRET_NAME.match(value) or len(value) > 253):
            raise ValidationError(
                f"{arg} is {value!r}; expected a Kubernetes object name (lower-case letters, digits, '-' and '.')."
            )
    out: dict = {"capture_rate": float(rate), "capture_secret": secret or ""}
    if capture is True:
        if not isinstance(size, str) or not _QUANTITY.match(size):
            raise ValidationError(f"capture_size is {size!r}; expected a storage quantity such as '10Gi'.")
        out.update(
            capture="pvc",
            capture_claim=pvc or object_name(obj_name, suffix="-captures"),
            capture_claim_size="" if pvc else size,
        )
        return out
    from ..capture.store import resolve_location

    url = resolve_location(capture)
    if "://" not in url or url.startswith(("file://", "memory://")):
        raise ValidationError(
            f"capture is {capture!r}; in Kubernetes, captures go to a PersistentVolumeClaim "
            "(capture=True) or to object storage (capture='s3://bucket/prefix')."
        )
    out["capture"] = url
    return out


_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _auth(secret: str | None, token_file: str | None, obj_name: str) -> tuple[str, str]:
    """``(Secret name, token file text)`` for :func:`deploy`, checked (one sentence when wrong)."""
    if secret is None and token_file is None:
        return "", ""
    if secret is not None and (not isinstance(secret, str) or not _SECRET_NAME.match(secret)):
        raise ValidationError(
            f"auth_secret is {secret!r}; expected a Secret name (lower-case letters, digits, "
            "'-' and '.') such as 'churn-auth'."
        )
    text = ""
    if token_file is not None:
        from ..serving.governance import TokenAuth

        TokenAuth(token_file)  # the same checks as the server's
        with open(token_file, encoding="ascii") as fh:
            text = fh.read()
    return secret or object_name(obj_name, suffix="-auth"), text


def _cluster(name: str | None, kubeconfig: str | None) -> Cluster:
    return get_cluster(name, kubeconfig=kubeconfig)


def _deploy_one(
    base: DeploySpec,
    cname: str | None,
    *,
    wait: bool,
    timeout: float,
    dry_run: bool,
    force: bool,
    auto_rollback: bool,
    kubeconfig: str | None,
    progress: bool | None,
    explicit_replicas: bool,
) -> Deployment:
    t0 = time.monotonic()
    if dry_run:
        label = cname or "(current context)"
        try:  # a named cluster must exist when a kubeconfig is there; a dry run needs none
            label = _cluster(cname, kubeconfig).name
        except DeployError:
            pass
        base = dataclasses.replace(base, cluster=label if base.capture else "")  # recorded with captured rows
        objs = render(base)
        return Deployment(
            base, cluster=label, state="dry-run", manifests=objs, reason="rendered only; nothing was sent to a cluster"
        )
    cluster = _cluster(cname, kubeconfig)
    if base.capture:  # recorded with captured rows
        base = dataclasses.replace(base, cluster=cluster.name)
    with Kube(cluster) as kube:
        kube.require_namespace(base.namespace)
        if base.mode == "kserve":
            dep = _deploy_kserve(kube, base, wait=wait, timeout=timeout, force=force, auto_rollback=auto_rollback)
        else:
            dep = _deploy_plain(
                kube,
                base,
                wait=wait,
                timeout=timeout,
                force=force,
                auto_rollback=auto_rollback,
                progress=progress,
                explicit_replicas=explicit_replicas,
            )
    dep.elapsed = time.monotonic() - t0
    dep.kubeconfig = kubeconfig
    _record(base.ref, dep.record())
    return dep


def _deploy_plain(
    kube: Kube,
    spec: DeploySpec,
    *,
    wait: bool,
    timeout: float,
    force: bool,
    auto_rollback: bool,
    progress: bool | None,
    explicit_replicas: bool,
) -> Deployment:
    cname = kube.cluster.name
    current = kube.get("Deployment", spec.name, spec.namespace)
    if spec.canary is not None:
        if current is None:
            raise ValidationError(
                f"There is no stable deployment '{spec.name}' in namespace '{spec.namespace}' on cluster "
                f"'{cname}' to put a canary beside.",
                hint="Deploy without canary first.",
            )
        stable_n = int((current.get("spec") or {}).get("replicas", 1))
        pct = spec.canary
        n_canary = spec.replicas if explicit_replicas else max(1, round(stable_n * pct / (100 - pct)))
        spec = DeploySpec(**{**spec.__dict__, "canary_replicas": n_canary})
        objs = render(spec)
        for obj in objs:
            kube.apply(obj, force=force)
        share = n_canary / max(stable_n + n_canary, 1)
        note = (
            f"canary {spec.version}: {n_canary} pod(s) beside {stable_n} stable pod(s) behind one Service, "
            f"about {share:.0%} of requests (asked {pct}%)"
        )
        if not wait:
            return Deployment(spec, cluster=cname, state="canary", manifests=objs, reason=note + "; not waited for")
        verdict = wait_rollout(kube, canary_name(spec.name), spec.namespace, timeout=timeout, progress=progress)
        if verdict.state == "done":
            return Deployment(
                spec,
                cluster=cname,
                state="canary",
                manifests=objs,
                reason=note,
                revision=verdict.revision,
                traffic_share=share,
            )
        if auto_rollback:
            kube.delete("Deployment", canary_name(spec.name), spec.namespace)
            return Deployment(
                spec,
                cluster=cname,
                state="rolled-back",
                manifests=objs,
                reason=f"the canary failed ({verdict.message}); it was removed and all traffic "
                f"stays on the stable version",
            )
        return Deployment(spec, cluster=cname, state="failed", manifests=objs, reason=verdict.message)

    previous_rev = revision(current) if current else 0
    auto = spec.profile.autoscaling
    if current is not None and auto and not explicit_replicas:
        # keep the replica count the HorizontalPodAutoscaler chose (within its bounds): re-applying the
        # profile's minimum would scale a busy deployment down on every release
        live = int((current.get("spec") or {}).get("replicas", spec.replicas))
        lo = max(int(auto.get("min_replicas", 1)), spec.replicas, 1)
        hi = max(int(auto["max_replicas"]), lo)
        spec = DeploySpec(**{**spec.__dict__, "replicas": min(max(live, lo), hi)})
    objs = render(spec)
    for obj in objs:
        kube.apply(obj, force=force)
    if not wait:
        return Deployment(spec, cluster=cname, state="applied", manifests=objs, reason="applied; not waited for")
    verdict = wait_rollout(kube, spec.name, spec.namespace, timeout=timeout, progress=progress)
    if verdict.state == "done":
        return Deployment(
            spec, cluster=cname, state="deployed", manifests=objs, reason=verdict.message, revision=verdict.revision
        )
    if auto_rollback and previous_rev:
        back = _rollback_plain(kube, spec.name, spec.namespace, to=None, timeout=timeout, progress=progress)
        return Deployment(
            spec,
            cluster=cname,
            state="rolled-back",
            manifests=objs,
            revision=back.revision,
            running=back.running,
            reason=f"the rollout of {spec.ref} failed: {verdict.message}; rolled back to revision "
            f"{back.revision} ({back.ref}): {back.reason}",
        )
    extra = "" if previous_rev else " (no earlier revision to roll back to; undeploy() removes it)"
    return Deployment(
        spec,
        cluster=cname,
        state="failed",
        manifests=objs,
        revision=verdict.revision,
        reason=f"the rollout of {spec.ref} failed: {verdict.message}{extra}",
    )


def _spec_from_annotations(
    ann: dict, *, name: str, namespace: str, replicas: int, mode: str, canary: int | None = None
) -> DeploySpec:
    try:
        prof = get_profile(ann.get(f"{LABEL_PREFIX}/profile", "cpu-small"))
    except ValidationError:
        prof = get_profile("cpu-small")
    return DeploySpec(
        name=name,
        namespace=namespace,
        model=ann.get(f"{LABEL_PREFIX}/model", name),
        version=ann.get(f"{LABEL_PREFIX}/version", "?"),
        ref=ann.get(f"{LABEL_PREFIX}/ref", name),
        image=ann.get(f"{LABEL_PREFIX}/image", ""),
        digest=ann.get(f"{LABEL_PREFIX}/digest", ""),
        profile=prof,
        replicas=replicas,
        mode=mode,
        canary=canary,
        auth_secret=ann.get(f"{LABEL_PREFIX}/auth-secret", ""),
        capture=ann.get(f"{LABEL_PREFIX}/capture", ""),
        capture_rate=float(ann.get(f"{LABEL_PREFIX}/capture-rate", "1.0")),
        capture_claim=ann.get(f"{LABEL_PREFIX}/capture-claim", ""),
        capture_secret=ann.get(f"{LABEL_PREFIX}/capture-secret", ""),
    )


def _deploy_kserve(
    kube: Kube, spec: DeploySpec, *, wait: bool, timeout: float, force: bool, auto_rollback: bool
) -> Deployment:
    cname = kube.cluster.name
    if not kube.has_api("serving.kserve.io", "v1beta1"):
        raise DeployError(
            f"KServe is not installed on cluster '{cname}' (no serving.kserve.io/v1beta1 API).",
            hint="Install KServe there, or deploy with mode='deployment'.",
        )
    current = kube.get("InferenceService", spec.name, spec.namespace)
    if spec.canary is not None and current is None:
        raise ValidationError(
            f"There is no InferenceService '{spec.name}' in namespace '{spec.namespace}' on cluster '{cname}' to "
            f"put a canary beside.",
            hint="Deploy without canary first.",
        )
    objs = render(spec)
    if current is not None:
        ann = current["metadata"].get("annotations") or {}
        if ann.get(f"{LABEL_PREFIX}/ref") != spec.ref or ann.get(f"{LABEL_PREFIX}/image") != spec.image:
            prev = {k.split("/", 1)[1]: v for k, v in ann.items() if k.startswith(LABEL_PREFIX + "/") and k != PREVIOUS}
            objs[-1]["metadata"]["annotations"][PREVIOUS] = json.dumps(prev, sort_keys=True)
        elif ann.get(PREVIOUS):
            objs[-1]["metadata"]["annotations"][PREVIOUS] = ann[PREVIOUS]
    for obj in objs:
        kube.apply(obj, force=force)
    state = "canary" if spec.canary is not None else "deployed"
    if not wait:
        return Deployment(spec, cluster=cname, state="applied", manifests=objs, reason="applied; not waited for")
    verdict = wait_inference_service(kube, spec.name, spec.namespace, timeout=timeout)
    if verdict.state == "done":
        note = verdict.message + (f"; {spec.canary}% of traffic on {spec.ref}" if spec.canary is not None else "")
        return Deployment(
            spec,
            cluster=cname,
            state=state,
            manifests=objs,
            reason=note,
            traffic_share=(spec.canary / 100 if spec.canary is not None else None),
        )
    if auto_rollback and current is not None and PREVIOUS in objs[-1]["metadata"]["annotations"]:
        back = _rollback_kserve(kube, spec.name, spec.namespace, timeout=timeout)
        return Deployment(
            spec,
            cluster=cname,
            state="rolled-back",
            manifests=objs,
            running=back.running,
            closes_canary=True,
            reason=f"{spec.ref} did not become ready: {verdict.message}; {back.reason}",
        )
    return Deployment(spec, cluster=cname, state="failed", manifests=objs, reason=verdict.message)


# -- rollback / promote ------------------------------------------------------------------------------
def _rollback_plain(
    kube: Kube, name: str, namespace: str, *, to: int | None, timeout: float, progress: bool | None
) -> Deployment:
    cname = kube.cluster.name
    dep = kube.get("Deployment", name, namespace)
    if dep is None:
        raise ValidationError(f"There is no deployment '{name}' in namespace '{namespace}' on cluster '{cname}'.")
    current = revision(dep)
    rsets = owned_replicasets(kube, dep)
    revs = {revision(rs): rs for rs in rsets}
    if to is None:
        older = [r for r in revs if r < current]
        if not older:
            raise ValidationError(
                f"Deployment '{name}' on cluster '{cname}' has no earlier revision to roll back to "
                f"(current revision {current})."
            )
        to = max(older)
    if to not in revs:
        raise ValidationError(
            f"Deployment '{name}' has no revision {to}; known revisions: {', '.join(map(str, sorted(revs)))}."
        )
    template = copy.deepcopy(revs[to]["spec"]["template"])
    template["metadata"].get("labels", {}).pop("pod-template-hash", None)
    tmeta = template["metadata"]
    ann = {k: v for k, v in (tmeta.get("annotations") or {}).items() if k.startswith(LABEL_PREFIX + "/")}
    spec = dep["spec"]
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": ann,
        },
        "spec": {
            "replicas": spec.get("replicas", 1),
            "revisionHistoryLimit": spec.get("revisionHistoryLimit", 10),
            "progressDeadlineSeconds": spec.get("progressDeadlineSeconds", 600),
            "selector": spec["selector"],
            "strategy": spec.get("strategy") or {"type": "RollingUpdate"},
            "template": {"metadata": tmeta, "spec": template["spec"]},
        },
    }
    # a rollback must win over whoever touched the template during the failed rollout
    kube.apply(body, force=True)
    back = _spec_from_annotations(
        ann, name=name, namespace=namespace, replicas=int(spec.get("replicas", 1)), mode="deployment"
    )
    verdict = wait_rollout(kube, name, namespace, timeout=timeout, progress=progress)
    state = "rolled-back" if verdict.state == "done" else "failed"
    reason = (
        f"revision {verdict.revision} runs {back.ref} again ({verdict.message})"
        if verdict.state == "done"
        else f"the rollback to revision {to} failed too: {verdict.message}"
    )
    return Deployment(
        back,
        cluster=cname,
        state=state,
        manifests=[body],
        reason=reason,
        revision=verdict.revision,
        running=back.ref if verdict.state == "done" else None,
    )


def _rollback_kserve(kube: Kube, name: str, namespace: str, *, timeout: float) -> Deployment:
    cname = kube.cluster.name
    obj = kube.get("InferenceService", name, namespace)
    if obj is None:
        raise ValidationError(f"There is no InferenceService '{name}' in namespace '{namespace}' on cluster '{cname}'.")
    ann = obj["metadata"].get("annotations") or {}
    prev = ann.get(PREVIOUS)
    if not prev:
        raise ValidationError(f"InferenceService '{name}' on cluster '{cname}' has no earlier version to roll back to.")
    prev_ann = {f"{LABEL_PREFIX}/{k}": v for k, v in json.loads(prev).items()}
    pred = (obj.get("spec") or {}).get("predictor") or {}
    spec = _spec_from_annotations(
        prev_ann, name=name, namespace=namespace, replicas=int(pred.get("minReplicas", 1)), mode="kserve"
    )
    objs = render(spec)
    for o in objs:
        kube.apply(o, force=True)
    verdict = wait_inference_service(kube, name, namespace, timeout=timeout)
    state = "rolled-back" if verdict.state == "done" else "failed"
    return Deployment(
        spec,
        cluster=cname,
        state=state,
        manifests=objs,
        closes_canary=True,
        running=spec.ref if verdict.state == "done" else None,
        reason=f"rolled back to {spec.ref} ({verdict.message})",
    )


def rollback(
    name: str,
    *,
    cluster: str | None = None,
    namespace: str = "default",
    to: int | None = None,
    timeout: float = 600,
    kubeconfig: str | None = None,
    progress: bool | None = None,
    _analysis: dict | None = None,
) -> Deployment:
    """Roll a deployment back: drop a running canary, else return to revision ``to`` (default: the previous one).

    Parameters
    ----------
    name : str
        The deployment's name (see :func:`deployments`).
    cluster : str, optional
        Kubeconfig context (default: current).
    namespace : str, default="default"
    to : int, optional
        Revision number (see :func:`status`); default the one before the current.
    timeout : float, default=600
        Seconds to wait for the rollback's rollout.

    Returns
    -------
    Deployment
    """
    _check_int(to, "to", lo=1)
    with Kube(_cluster(cluster, kubeconfig)) as kube:
        kube.require_namespace(namespace)
        if (
            kube.get("Deployment", name, namespace) is None
            and kube.has_api("serving.kserve.io", "v1beta1")
            and kube.get("InferenceService", name, namespace) is not None
        ):
            result = _rollback_kserve(kube, name, namespace, timeout=timeout)
        elif to is None and kube.get("Deployment", canary_name(name), namespace) is not None:
            canary = kube.get("Deployment", canary_name(name), namespace)
            kube.delete("Deployment", canary_name(name), namespace)
            ann = canary["metadata"].get("annotations") or {}
            spec = _spec_from_annotations(
                ann,
                name=name,
                namespace=namespace,
                replicas=0,
                mode="deployment",
                canary=int(ann.get(f"{LABEL_PREFIX}/canary-percent", "1")),
            )
            result = Deployment(
                spec,
                cluster=kube.cluster.name,
                state="rolled-back",
                manifests=[],
                reason=f"the canary {spec.ref} was removed; all traffic is on the stable version",
            )
        else:
            result = _rollback_plain(kube, name, namespace, to=to, timeout=timeout, progress=progress)
    if _analysis is not None:
        result.with_analysis(_analysis)
    _record(result.ref, result.record())
    return result


def promote(
    name: str,
    *,
    cluster: str | None = None,
    namespace: str = "default",
    timeout: float = 600,
    kubeconfig: str | None = None,
    progress: bool | None = None,
    _analysis: dict | None = None,
) -> Deployment:
    """Make a canary the stable version: roll the stable deployment to it, then remove the canary.

    In KServe mode, the InferenceService is applied again without ``canaryTrafficPercent``.

    Parameters
    ----------
    name : str
        The deployment's name.
    cluster : str, optional
        Kubeconfig context (default: current).
    namespace : str, default="default"
    timeout : float, default=600
        Seconds to wait for the stable rollout; if it fails, the stable deployment is rolled back
        and the canary keeps running.
    kubeconfig : str, optional
    progress : bool, optional

    Returns
    -------
    Deployment
    """
    with Kube(_cluster(cluster, kubeconfig)) as kube:
        kube.require_namespace(namespace)
        canary = kube.get("Deployment", canary_name(name), namespace)
        if canary is None:
            isvc = None
            if kube.has_api("serving.kserve.io", "v1beta1"):
                isvc = kube.get("InferenceService", name, namespace)
            pred = ((isvc or {}).get("spec") or {}).get("predictor") or {}
            if isvc is None or pred.get("canaryTrafficPercent") is None:
                raise ValidationError(
                    f"There is no canary of '{name}' in namespace '{namespace}' on cluster "
                    f"'{kube.cluster.name}' to promote.",
                    hint="Start one with deploy(..., canary=10).",
                )
            ann = isvc["metadata"].get("annotations") or {}
            spec = _spec_from_annotations(
                ann, name=name, namespace=namespace, replicas=int(pred.get("minReplicas", 1)), mode="kserve"
            )
            objs = render(spec)
            if ann.get(PREVIOUS):
                objs[-1]["metadata"]["annotations"][PREVIOUS] = ann[PREVIOUS]
            for o in objs:
                kube.apply(o)
            verdict = wait_inference_service(kube, name, namespace, timeout=timeout)
            result = Deployment(
                spec,
                cluster=kube.cluster.name,
                closes_canary=verdict.state == "done",
                state="deployed" if verdict.state == "done" else "failed",
                manifests=objs,
                reason=f"promoted {spec.ref} to 100% of traffic ({verdict.message})",
            )
        else:
            stable = kube.get("Deployment", name, namespace)
            replicas = int(((stable or {}).get("spec") or {}).get("replicas", 1))
            ann = canary["metadata"].get("annotations") or {}
            spec = _spec_from_annotations(ann, name=name, namespace=namespace, replicas=replicas, mode="deployment")
            objs = render(spec)
            for o in objs:
                kube.apply(o)
            verdict = wait_rollout(kube, name, namespace, timeout=timeout, progress=progress)
            if verdict.state == "done":
                kube.delete("Deployment", canary_name(name), namespace)
                result = Deployment(
                    spec,
                    cluster=kube.cluster.name,
                    state="deployed",
                    manifests=objs,
                    revision=verdict.revision,
                    closes_canary=True,
                    reason=f"promoted {spec.ref}: the stable deployment runs it "
                    f"({verdict.message}); the canary was removed",
                )
            else:
                back = _rollback_plain(kube, name, namespace, to=None, timeout=timeout, progress=progress)
                result = Deployment(
                    spec,
                    cluster=kube.cluster.name,
                    state="rolled-back",
                    manifests=objs,
                    running=back.running,
                    reason=f"promoting {spec.ref} failed ({verdict.message}); {back.reason}; "
                    f"the canary is still running",
                )
    if _analysis is not None:
        result.with_analysis(_analysis)
    _record(result.ref, result.record())
    return result


# -- status / undeploy / deployments -----------------------------------------------------------------
def status(
    name: str, *, cluster: str | None = None, namespace: str = "default", kubeconfig: str | None = None
) -> DeploymentStatus:
    """What runs for deployment ``name``: version, replicas, revisions, canary, conditions, pod problems.

    Parameters
    ----------
    name : str
    cluster : str, optional
        Kubeconfig context (default: current).
    namespace : str, default="default"
    kubeconfig : str, optional

    Returns
    -------
    DeploymentStatus
        ``rollout`` is ``done``, ``progressing`` or ``failed``, judged like :func:`deploy` does. With
        ``cluster="local"``: the model server process of that name on this machine (``rollout`` is
        ``done`` when it answers ready, ``progressing`` while it starts, ``stopped`` otherwise).
    """
    if cluster == LOCAL:
        return _status_local(name)
    with Kube(_cluster(cluster, kubeconfig)) as kube:
        kube.require_namespace(namespace)
        dep = kube.get("Deployment", name, namespace)
        if dep is not None:
            from .rollout import judge

            verdict = judge(kube, dep)
            rsets = owned_replicasets(kube, dep)
            revisions = []
            for rs in rsets:
                ann = rs["spec"]["template"]["metadata"].get("annotations") or {}
                revisions.append(
                    {
                        "revision": revision(rs),
                        "ref": ann.get(f"{LABEL_PREFIX}/ref", ""),
                        "image": rs["spec"]["template"]["spec"]["containers"][0].get("image", ""),
                        "replicas": int((rs.get("status") or {}).get("replicas", 0)),
                        "available": int((rs.get("status") or {}).get("availableReplicas", 0)),
                    }
                )
            canary = kube.get("Deployment", canary_name(name), namespace)
            st = DeploymentStatus.from_deployment(kube.cluster.name, dep, verdict, revisions, canary)
            st.analysis = _last_analysis(kube.cluster.name, namespace, name)
            return st
        if kube.has_api("serving.kserve.io", "v1beta1"):
            isvc = kube.get("InferenceService", name, namespace)
            if isvc is not None:
                st = DeploymentStatus.from_inference_service(kube.cluster.name, isvc)
                st.analysis = _last_analysis(kube.cluster.name, namespace, name)
                return st
    raise ModelNotFoundError(
        f"There is no deployment '{name}' in namespace '{namespace}' on cluster '{cluster or 'current'}'.",
        hint="List them with deployments(cluster=...).",
    )


def _last_analysis(cluster: str, namespace: str, name: str) -> dict | None:
    """The latest canary analysis recorded for this deployment (None when there is none)."""
    for rec in reversed(_registry().records(kind="deployment")):
        data = rec.get("data") or {}
        if (data.get("cluster"), data.get("namespace"), data.get("name")) == (cluster, namespace, name) and data.get(
            "analysis"
        ):
            return data["analysis"]
    return None


def undeploy(
    name: str, *, cluster: str | None = None, namespace: str = "default", kubeconfig: str | None = None
) -> Deployment:
    """Remove every object of deployment ``name`` (stable, canary, Service, HPA, PDB, NetworkPolicy, ...).

    Parameters
    ----------
    name : str
    cluster : str, optional
        Kubeconfig context (default: current).
    namespace : str, default="default"
    kubeconfig : str, optional

    Returns
    -------
    Deployment
        ``state == "removed"``; ``reason`` lists what was deleted. With ``cluster="local"`` the model
        server process of that name on this machine is stopped (it finishes the requests it holds)
        and its directory removed.
    """
    if cluster == LOCAL:
        return _undeploy_local(name)
    with Kube(_cluster(cluster, kubeconfig)) as kube:
        kube.require_namespace(namespace)
        found = kube.get("Deployment", name, namespace)
        kserve = kube.has_api("serving.kserve.io", "v1beta1")
        if found is None and kserve:
            found = kube.get("InferenceService", name, namespace)
        if found is None:
            raise ModelNotFoundError(
                f"There is no deployment '{name}' in namespace '{namespace}' on cluster '{kube.cluster.name}'.",
                hint="List them with deployments(cluster=...).",
            )
        ann = found["metadata"].get("annotations") or {}
        removed = []
        targets = [("Deployment", canary_name(name))] + [(k, name) for k in PLAIN_KINDS]
        if kserve:
            targets.append(("InferenceService", name))
        for kind, obj_name in targets:
            if kube.delete(kind, obj_name, namespace):
                removed.append(f"{kind}/{obj_name}")
        kept = _undeploy_owned(kube, name, namespace, ann, removed)
        spec = _spec_from_annotations(
            ann, name=name, namespace=namespace, replicas=0, mode=ann.get(f"{LABEL_PREFIX}/mode", "deployment")
        )
        result = Deployment(
            spec,
            cluster=kube.cluster.name,
            state="removed",
            manifests=[],
            closes_canary=True,
            reason=f"deleted {', '.join(removed)}" + (f"; kept {'; '.join(kept)}" if kept else ""),
        )
    _record(result.ref, result.record())
    return result


def _undeploy_owned(kube: Any, name: str, namespace: str, ann: dict, removed: list[str]) -> list[str]:
    """Delete the auth Secret deploy created for ``name`` (appended to ``removed``); say what is kept and why.

    A Secret is deploy's when it carries this deployment's managed-by and name labels (rendered from
    ``auth_token_file``); one the user made and named with ``auth_secret`` stays. The capture claim always
    stays: it holds the captured traffic.
    """
    kept = []
    secret_name = ann.get(f"{LABEL_PREFIX}/auth-secret", "")
    if secret_name:
        secret = kube.get("Secret", secret_name, namespace)
        lab = ((secret or {}).get("metadata") or {}).get("labels") or {}
        if lab.get("app.kubernetes.io/managed-by") == "jupyter-modelops" and lab.get("app.kubernetes.io/name") == name:
            if kube.delete("Secret", secret_name, namespace):
                removed.append(f"Secret/{secret_name}")
        elif secret is not None:
            kept.append(f"Secret/{secret_name} (not created by deploy)")
    claim = ann.get(f"{LABEL_PREFIX}/capture-claim", "")
    if claim and kube.get("PersistentVolumeClaim", claim, namespace) is not None:
        kept.append(f"PersistentVolumeClaim/{claim} (captured traffic; delete it when no longer needed)")
    return kept


def _local_spec(local: Any) -> DeploySpec:
    st = local.state
    ref = str(local.ref or "")
    model, _, version = ref.rpartition(":") if ":" in ref else (local.model, "", "")
    return DeploySpec(
        name=local.name,
        namespace="-",
        model=model or local.name,
        version=version or "?",
        ref=ref,
        image="",
        profile=HardwareProfile(name="local", description="a process on this machine"),
        replicas=int(st.get("workers", 1) or 1),
    )


def _status_local(name: str) -> DeploymentStatus:
    from ..serving.local import get_deployment

    local = get_deployment(name)  # one sentence naming the known ones when there is none
    st = local.status()
    rollout = "done" if st["ready"] else ("progressing" if st["running"] else "stopped")
    message = {
        "done": f"ready at {st['url']}",
        "progressing": f"starting ({st['status']})",
        "stopped": f"not running{': ' + st['error'] if st.get('error') else ''}",
    }[rollout]
    return DeploymentStatus(
        cluster=LOCAL,
        name=local.name,
        namespace="-",
        kind="LocalDeployment",
        ref=st["ref"] or "",
        image="",
        profile="local",
        rollout=rollout,
        message=message,
        revision=None,
        desired=1,
        ready=1 if st["ready"] else 0,
        available=None,
        updated=None,
        revisions=[],
        canary=None,
        url=st["url"],
        pid=st["pid"],
        logs=st["logs"],
        conditions=[],
    )


def _undeploy_local(name: str) -> Deployment:
    import shutil

    from ..serving.local import get_deployment

    local = get_deployment(name)
    spec = _local_spec(local)
    final = local.stop()
    if final["running"]:
        raise DeployError(
            f"The local deployment '{name}' (process {final['pid']}) did not stop; it was left in place.",
            hint="Stop it with modelops stop NAME, then undeploy again.",
        )
    shutil.rmtree(local.directory, ignore_errors=True)
    result = Deployment(
        spec,
        cluster=LOCAL,
        state="removed",
        manifests=[],
        closes_canary=True,
        reason=f"stopped the model server process {final['pid']} and removed {local.directory}",
    )
    _record(spec.ref, result.record())
    return result


def deployments(
    *, cluster: str | None = None, namespace: str | None = None, kubeconfig: str | None = None
) -> DeploymentList:
    """List deployments: live from ``cluster`` when given, else from the registry's records.

    Parameters
    ----------
    cluster : str, optional
        Ask this cluster (kubeconfig context) what it runs (objects labelled as ours).
    namespace : str, optional
        Only this namespace (default: all).
    kubeconfig : str, optional

    Returns
    -------
    DeploymentList
        From a cluster: one row per Deployment (or InferenceService) labelled as ours. From the
        records: one row per deployment and track (``stable``, ``canary``) with the version that
        ``running`` there after the last recorded event.
    """
    rows: list[dict] = []
    if cluster is not None:
        with Kube(_cluster(cluster, kubeconfig)) as kube:
            sel = {"app.kubernetes.io/managed-by": "jupyter-modelops"}
            kinds = ["Deployment"] + (["InferenceService"] if kube.has_api("serving.kserve.io", "v1beta1") else [])
            for kind in kinds:
                for obj in kube.list(kind, namespace, labels=sel):
                    meta = obj["metadata"]
                    ann = meta.get("annotations") or {}
                    st = obj.get("status") or {}
                    ready = (
                        st.get("availableReplicas", 0)
                        if kind == "Deployment"
                        else (
                            "Ready"
                            if any(
                                c.get("type") == "Ready" and c.get("status") == "True"
                                for c in st.get("conditions") or []
                            )
                            else "not ready"
                        )
                    )
                    rows.append(
                        {
                            "cluster": kube.cluster.name,
                            "namespace": meta.get("namespace"),
                            "name": meta["name"],
                            "kind": kind,
                            "ref": ann.get(f"{LABEL_PREFIX}/ref", ""),
                            "profile": ann.get(f"{LABEL_PREFIX}/profile", ""),
                            "track": (meta.get("labels") or {}).get(f"{LABEL_PREFIX}/track", ""),
                            "replicas": (obj.get("spec") or {}).get("replicas"),
                            "ready": ready,
                            "revision": revision(obj) or None,
                        }
                    )
        return DeploymentList(rows, source=f"cluster {cluster}")
    # replay the history: what runs on each track of each deployment after the last event
    tracks: dict[tuple, dict] = {}
    for rec in _registry().records(kind="deployment"):
        data = {**(rec.get("data") or {}), "at": rec.get("created")}
        if namespace and data.get("namespace") != namespace or data.get("state") == "dry-run":
            continue
        key = (data.get("cluster"), data.get("namespace"), data.get("name"))
        track = data.get("track", "stable")
        if data.get("closes_canary"):
            tracks.pop(key + ("canary",), None)
        if data.get("running"):
            tracks[key + (track,)] = data
        elif data.get("state") == "removed":
            tracks.pop(key + ("stable",), None)
        elif track == "canary":
            tracks.pop(key + ("canary",), None)
        elif data.get("state") == "failed":
            tracks[key + (track,)] = data
    for (cl, ns, nm, track), data in sorted(tracks.items(), key=lambda kv: tuple(map(str, kv[0]))):
        rows.append(
            {
                "cluster": cl,
                "namespace": ns,
                "name": nm,
                "track": track,
                "running": data.get("running") or "-",
                "state": data.get("state"),
                "profile": data.get("profile"),
                "mode": data.get("mode"),
                "revision": data.get("revision"),
                "at": data.get("at"),
            }
        )
    return DeploymentList(rows, source="registry records")
