"""Render the Kubernetes objects of one model deployment, as plain dicts.

Plain mode (``mode="deployment"``) renders, for the stable track: a
ServiceAccount, a Deployment (rolling update, V2 health probes, Prometheus
scrape annotations, the restricted Pod Security Standard), a Service, a
HorizontalPodAutoscaler (autoscaling/v2), a PodDisruptionBudget (policy/v1)
and a NetworkPolicy. A canary is one more Deployment (``NAME-canary``) whose
pods carry the same ``app.kubernetes.io/name`` label, so the one Service
sends it a share of requests equal to its share of ready pods. Every derived
name stays a DNS label (:func:`object_name` cuts a long one and adds a short hash).

KServe mode (``mode="kserve"``) renders a ServiceAccount and a
``serving.kserve.io/v1beta1`` InferenceService with a custom predictor
container, the same profile, and ``canaryTrafficPercent`` for a canary.

Nothing here talks to a cluster; the functions are pure and deterministic.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import re

from ..exceptions import ValidationError
from .profiles import HardwareProfile

__all__ = [
    "DeploySpec",
    "render",
    "object_name",
    "canary_name",
    "check_object_name",
    "NAME_LIMITS",
    "to_yaml",
    "LABEL_PREFIX",
    "FIELD_MANAGER",
    "PORT",
]

LABEL_PREFIX = "modelops.jupyter.org"
FIELD_MANAGER = "jupyter-modelops"
PORT = 8080
UID = 65532  # the image runs as this non-root user
MODES = ("deployment", "kserve")


@dataclasses.dataclass(frozen=True)
class DeploySpec:
    """Everything :func:`render` needs; built by :func:`jupyter_modelops.deployment.deploy`."""

    name: str
    namespace: str
    model: str
    version: str
    ref: str
    image: str
    profile: HardwareProfile
    replicas: int
    digest: str = ""
    mode: str = "deployment"
    canary: int | None = None  # percent of traffic for the new version
    canary_replicas: int = 0
    progress_deadline: int = 600
    auth_secret: str = ""  # Secret (key "token") mounted as the server's token file; "" = no auth
    auth_token: str = dataclasses.field(default="", repr=False)  # when set, render that Secret with it
    # inference capture (see jupyter_modelops.capture): "" = off, "pvc" = a PersistentVolumeClaim, else a URL
    capture: str = ""
    capture_rate: float = 1.0
    capture_claim: str = ""  # the claim's name (mode "pvc")
    capture_claim_size: str = ""  # when set, render the claim with this size; else it must exist
    capture_secret: str = ""  # Secret whose keys become the environment (object-storage credentials)
    cluster: str = ""  # recorded with captured rows
    otel: dict = dataclasses.field(default_factory=dict)  # OTEL_* environment of the pods (checked by tracing)


#: where the pods read the bearer token(s) from the auth Secret
AUTH_DIR = "/var/run/modelops/auth"
#: where the pods write captures when they go to a PersistentVolumeClaim
CAPTURE_DIR = "/var/lib/modelops/captures"


#: longest name per kind. Kubernetes validates a Service name as a DNS-1035 label (63) and the other kinds
#: here as DNS-1123 subdomains (253), but their names end up in labels, host names and generated names:
#: every name is kept a label of at most 63 characters; a CronJob's at most 52, since each Job it creates
#: adds 11 characters (the API server refuses longer CronJob names).
NAME_LIMITS = {"CronJob": 52}
DNS_LABEL = 63
_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_HASH_LEN = 8


def object_name(model: str, *, suffix: str = "", limit: int = DNS_LABEL) -> str:
    """A DNS-1035 label from a model name plus ``suffix``, at most ``limit`` characters.

    Lower case, ``[a-z0-9-]``, starting with a letter. A name that does not fit is cut and
    given ``-`` and a short hash of the whole name before ``suffix``, so two long names that
    share their beginning stay apart, and the same input always gives the same name.

    Parameters
    ----------
    model : str
        The model (or base object) name.
    suffix : str, optional
        What the derived object adds (``"-canary"``), kept whole.
    limit : int, default 63
        Longest name the object's kind allows (see :data:`NAME_LIMITS`).
    """
    base = re.sub(r"[^a-z0-9-]+", "-", str(model).lower()).strip("-")
    if not base or not base[0].isalpha():
        base = f"m-{base}".strip("-")
    if len(base) + len(suffix) <= limit:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:_HASH_LEN]
    room = limit - len(suffix) - _HASH_LEN - 1
    if room < 1:
        raise ValidationError(f"The suffix {suffix!r} leaves no room for a name within {limit} characters.")
    return f"{base[:room].rstrip('-')}-{digest}{suffix}"


def canary_name(name: str) -> str:
    """The canary Deployment's name beside deployment ``name`` (``NAME-canary``, capped at 63 characters)."""
    return object_name(name, suffix="-canary")


#: kinds whose names a user may choose (``auth_secret=``, a claim): any DNS-1123 subdomain, as Kubernetes allows
SUBDOMAIN_KINDS = frozenset({"Secret", "ConfigMap", "PersistentVolumeClaim"})
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def check_object_name(kind: str, name: str) -> str:
    """Return ``name`` when it is a valid name for ``kind`` here (a DNS-1035 label within
    :data:`NAME_LIMITS`; a DNS-1123 subdomain for :data:`SUBDOMAIN_KINDS`), else raise
    :class:`ValidationError`."""
    if kind in SUBDOMAIN_KINDS:
        if not isinstance(name, str) or len(name) > 253 or not _SUBDOMAIN_RE.match(name):
            raise ValidationError(
                f"The {kind} name {name!r} is not a DNS subdomain of at most 253 characters "
                "(lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)."
            )
        return name
    limit = NAME_LIMITS.get(kind, DNS_LABEL)
    if not isinstance(name, str) or len(name) > limit or not _LABEL_RE.match(name):
        raise ValidationError(
            f"The {kind} name {name!r} is not a DNS label of at most {limit} characters "
            "(lower-case letters, digits and '-', starting with a letter, ending with a letter or digit)."
        )
    return name


def _label_value(value: str) -> str:
    v = re.sub(r"[^A-Za-z0-9._-]+", "-", str(value))[:63]
    return v.strip("-._")


def labels(spec: DeploySpec, track: str) -> dict:
    return {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/version": _label_value(spec.version),
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/managed-by": "jupyter-modelops",
        f"{LABEL_PREFIX}/model": _label_value(spec.model),
        f"{LABEL_PREFIX}/version": _label_value(spec.version),
        f"{LABEL_PREFIX}/track": track,
    }


def annotations(spec: DeploySpec, track: str) -> dict:
    ann = {
        f"{LABEL_PREFIX}/ref": spec.ref,
        f"{LABEL_PREFIX}/model": spec.model,
        f"{LABEL_PREFIX}/version": str(spec.version),
        f"{LABEL_PREFIX}/image": spec.image,
        f"{LABEL_PREFIX}/profile": spec.profile.name,
        f"{LABEL_PREFIX}/mode": spec.mode,
    }
    if spec.digest:
        ann[f"{LABEL_PREFIX}/digest"] = spec.digest
    if spec.auth_secret:  # a rollback or promotion renders from these annotations: it keeps the auth
        ann[f"{LABEL_PREFIX}/auth-secret"] = spec.auth_secret
    if spec.capture:  # ... and the capture
        ann[f"{LABEL_PREFIX}/capture"] = spec.capture
        ann[f"{LABEL_PREFIX}/capture-rate"] = repr(float(spec.capture_rate))
        if spec.capture_claim:
            ann[f"{LABEL_PREFIX}/capture-claim"] = spec.capture_claim
        if spec.capture_secret:
            ann[f"{LABEL_PREFIX}/capture-secret"] = spec.capture_secret
    if track == "canary" and spec.canary is not None:
        ann[f"{LABEL_PREFIX}/canary-percent"] = str(spec.canary)
    return ann


def _resources(p: HardwareProfile) -> dict:
    out = {}
    if p.requests:
        out["requests"] = {k: str(v) for k, v in p.requests.items()}
    if p.limits:
        out["limits"] = {k: str(v) for k, v in p.limits.items()}
    return out


def _probe(path: str, *, period: int, failures: int, initial: int = 0) -> dict:
    probe = {
        "httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
        "successThreshold": 1,
    }
    if initial:
        probe["initialDelaySeconds"] = initial
    return probe


def _container(spec: DeploySpec, name: str) -> dict:
    env = {"MODELOPS_MODEL_NAME": spec.model, "MODELOPS_MODEL_VERSION": str(spec.version), "HOME": "/tmp"}
    env.update(spec.profile.runtime_env())
    env.update(spec.otel)  # OpenTelemetry: the server sends its spans there
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if spec.auth_secret:  # the server requires the Secret's token; /v2/health/* (the probes) stays open
        env["MODELOPS_SERVING_TOKEN_FILE"] = f"{AUTH_DIR}/token"
        mounts.append({"name": "auth", "mountPath": AUTH_DIR, "readOnly": True})
    env_from = []
    downward = []
    if spec.capture:  # the server records sampled inferences (jupyter_modelops.capture)
        env["MODELOPS_SERVING_CAPTURE"] = CAPTURE_DIR if spec.capture == "pvc" else spec.capture
        env["MODELOPS_SERVING_CAPTURE_RATE"] = repr(float(spec.capture_rate))
        env["MODELOPS_SERVING_CAPTURE_DEPLOYMENT"] = spec.name
        if spec.cluster:
            env["MODELOPS_CLUSTER"] = spec.cluster
        downward = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        if spec.capture == "pvc":
            mounts.append({"name": "captures", "mountPath": CAPTURE_DIR})
        if spec.capture_secret:
            env_from = [{"secretRef": {"name": spec.capture_secret}}]
    container = {
        "name": name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [{"name": k, "value": v} for k, v in env.items()] + downward,
        "resources": _resources(spec.profile),
        "startupProbe": _probe("/v2/health/live", period=2, failures=60),
        "readinessProbe": _probe("/v2/health/ready", period=5, failures=3),
        "livenessProbe": _probe("/v2/health/live", period=10, failures=3),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }
    if env_from:
        container["envFrom"] = env_from
    return container


def _pod_spec(spec: DeploySpec, container_name: str) -> dict:
    p = spec.profile
    pod = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(spec, container_name)],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
        + (
            [
                {
                    "name": "auth",
                    "secret": {
                        "secretName": spec.auth_secret,
                        "defaultMode": 0o440,
                        "items": [{"key": "token", "path": "token"}],
                    },
                }
            ]
            if spec.auth_secret
            else []
        ),
        "terminationGracePeriodSeconds": 30,
    }
    if spec.capture == "pvc":
        pod["volumes"].append({"name": "captures", "persistentVolumeClaim": {"claimName": spec.capture_claim}})
    if p.node_selector:
        pod["nodeSelector"] = {k: str(v) for k, v in p.node_selector.items()}
    if p.affinity:
        pod["affinity"] = copy.deepcopy(p.affinity)
    if p.tolerations:
        pod["tolerations"] = copy.deepcopy(p.tolerations)
    return pod


def _meta(spec: DeploySpec, name: str, track: str) -> dict:
    return {
        "name": name,
        "namespace": spec.namespace,
        "labels": labels(spec, track),
        "annotations": annotations(spec, track),
    }


def deployment(spec: DeploySpec, *, track: str = "stable") -> dict:
    name = spec.name if track == "stable" else canary_name(spec.name)
    replicas = spec.replicas if track == "stable" else spec.canary_replicas
    selector = {"app.kubernetes.io/name": spec.name, f"{LABEL_PREFIX}/track": track}
    template_ann = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(PORT),
        "prometheus.io/path": "/metrics",
        **annotations(spec, track),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(spec, name, track),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": spec.progress_deadline,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels(spec, track), "annotations": template_ann},
                "spec": _pod_spec(spec, "model-server"),
            },
        },
    }


def service(spec: DeploySpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec, spec.name, "stable"),
        "spec": {
            "type": "ClusterIP",
            # no track label: stable and canary pods share the traffic by their number of ready pods
            "selector": {"app.kubernetes.io/name": spec.name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def auth_secret(spec: DeploySpec) -> dict | None:
    """The Secret holding the server's bearer token(s), when the spec carries them (else None: the
    Secret ``spec.auth_secret`` must exist already)."""
    if not spec.auth_secret or not spec.auth_token:
        return None
    meta = _meta(spec, spec.auth_secret, "stable")
    meta.pop("annotations", None)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": {"token": spec.auth_token},
    }


def capture_claim(spec: DeploySpec) -> dict | None:
    """The PersistentVolumeClaim the pods write captures to, when deploy creates it (else None)."""
    if spec.capture != "pvc" or not spec.capture_claim_size:
        return None
    meta = _meta(spec, spec.capture_claim, "stable")
    meta.pop("annotations", None)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": spec.capture_claim_size}}},
    }


def service_account(spec: DeploySpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(spec, spec.name, "stable"),
        "automountServiceAccountToken": False,
    }


def hpa(spec: DeploySpec) -> dict | None:
    auto = spec.profile.autoscaling
    if not auto:
        return None
    lo = max(int(auto.get("min_replicas", 1)), 1)
    lo = max(lo, spec.replicas) if spec.replicas else lo
    hi = max(int(auto["max_replicas"]), lo)
    metrics = [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": int(auto.get("target_cpu_utilization", 70))},
            },
        }
    ]
    if auto.get("metric"):
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": str(auto["metric"])},
                    "target": {"type": "AverageValue", "averageValue": str(auto["target_average_value"])},
                },
            }
        )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(spec, spec.name, "stable"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": lo,
            "maxReplicas": hi,
            "metrics": metrics,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def pdb(spec: DeploySpec) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(spec, spec.name, "stable"),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": spec.name}}},
    }


def network_policy(spec: DeploySpec) -> dict:
    dns = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(spec, spec.name, "stable"),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
            "policyTypes": ["Ingress", "Egress"],
            # inference and metrics on the server port only; the server needs no egress but DNS
            "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],
            "egress": [{"ports": dns}]
            + (
                [{"ports": [{"protocol": "TCP", "port": 443}]}]  # object storage
                if spec.capture and spec.capture != "pvc"
                else []
            ),
        },
    }


def inference_service(spec: DeploySpec) -> dict:
    p = spec.profile
    pod = _pod_spec(spec, "kserve-container")
    auto = p.autoscaling or {}
    lo = max(spec.replicas, 1)
    predictor: dict = {"minReplicas": lo, "maxReplicas": max(int(auto.get("max_replicas", lo)), lo)}
    if auto:
        predictor["scaleMetric"] = "cpu"
        predictor["scaleTarget"] = int(auto.get("target_cpu_utilization", 70))
    if spec.canary is not None:
        predictor["canaryTrafficPercent"] = int(spec.canary)
    predictor.update(pod)
    meta = _meta(spec, spec.name, "stable")
    meta["annotations"]["serving.kserve.io/enable-prometheus-scraping"] = "true"
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": predictor},
    }


def render(spec: DeploySpec) -> list[dict]:
    """Return the objects to apply, in apply order.

    With ``spec.canary`` in plain mode only the canary Deployment is returned
    (the stable objects stay as they are).
    """
    if spec.mode not in MODES:
        raise ValidationError(f"mode is {spec.mode!r}; expected one of {', '.join(MODES)}.")
    if spec.mode == "kserve":
        return [
            o
            for o in (service_account(spec), auth_secret(spec), capture_claim(spec), inference_service(spec))
            if o is not None
        ]
    if spec.canary is not None:
        objs = [auth_secret(spec), deployment(spec, track="canary")]
    else:
        objs = [
            service_account(spec),
            auth_secret(spec),
            capture_claim(spec),
            deployment(spec),
            service(spec),
            hpa(spec),
            pdb(spec),
            network_policy(spec),
        ]
    objs = [o for o in objs if o is not None]
    for o in objs:
        check_object_name(o["kind"], o["metadata"]["name"])
    return objs


def to_yaml(objs: list[dict]) -> str:
    """Multi-document YAML, keys in render order."""
    import yaml

    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objs)
