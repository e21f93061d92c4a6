"""A fake Kubernetes API server speaking real HTTP on 127.0.0.1.

Real clients (the official ``kubernetes`` Python client, ``kubectl``) talk to
it exactly as to a cluster. What it does for real:

- discovery (``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/G/V``);
- CRUD with ``uid``, ``resourceVersion`` (one counter), ``generation`` (bumped
  on spec changes), ``409 Conflict`` on stale writes, ``409 AlreadyExists``,
  ``404`` for missing objects and namespaces, ``403`` for scripted RBAC rules,
  ``401`` for a wrong bearer token;
- ``422 Invalid`` Status bodies from the official OpenAPI schemas of
  Kubernetes 1.32 (``kubernetes-validate``); ``fieldValidation=Strict``
  turns unknown fields into ``400`` "strict decoding error";
- JSON merge patch, JSON patch, strategic merge patch (merge keys for the
  usual lists, ``$patch``, ``$setElementOrder``, ``$retainKeys``,
  ``$deleteFromPrimitiveList``), and server-side apply with field managers,
  ``managedFields`` and conflicts (``force`` takes fields over);
- chunked ``watch`` streams (``resourceVersion``, ``timeoutSeconds``, field
  and label selectors), list ``resourceVersion``;
- a scriptable Deployment controller: ReplicaSets with revisions (a rollback
  reuses the old ReplicaSet and bumps its revision), pods, step-wise status
  (``updatedReplicas``, ``readyReplicas``, ``availableReplicas``, conditions),
  crash loops, image pull errors, ``ProgressDeadlineExceeded``; garbage
  collection of owned objects; a minimal InferenceService controller;
- once nodes are added (``add_node``), a scheduler: the filters of
  kube-scheduler in its order (unschedulable nodes, taints and tolerations,
  node selector and required node affinity, resource requests against
  allocatable minus the pods bound there); a pod that fits nowhere stays
  ``Pending`` with ``PodScheduled=False``, reason ``Unschedulable`` and the
  scheduler's message (``0/2 nodes are available: 2 node(s) didn't match
  Pod's node affinity/selector. preemption: ...``), and a ``FailedScheduling``
  event. Without nodes every pod is placed nowhere in particular, as before.
- Jobs are checked as Kubernetes' ValidateJob checks them: restart policy
  ``Never``/``OnFailure``, ``completions`` required for ``completionMode:
  Indexed``, ``backoffLimitPerIndex`` only there with ``Never``; the pod
  template, completion mode and per-index limit are immutable, and
  ``completions`` changes only with ``parallelism`` on an Indexed Job. There
  is no Job controller: no pods, no status (a test writes the status itself).

What it cannot show (a real cluster can): admission webhooks and Pod Security
admission, defaulting beyond what is listed above, the scheduler's scoring,
preemption, pod (anti-)affinity, topology spread, node ports and volumes, a
cluster autoscaler, real containers and probes, Services routing traffic, the HPA and PDB controllers,
CEL validation rules, aggregated discovery, protobuf, OpenAPI schemas (its
``/openapi/v3`` only tells kubectl that the server validates fields itself),
authentication other than one bearer token, the ``scale`` subresource
(``kubectl scale``), paused rollouts, ``410 Gone`` for expired watch
versions, finalizers and foreground deletion, and exact ``managedFields``
bookkeeping for every list type (lists merge by ``name``, ``mountPath``,
``containerPort``/``port``, ``type`` or ``uid``; other lists are atomic).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = ["FakeKube", "Resource", "RESOURCES"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    status_sub: bool = False
    short: tuple = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version


RESOURCES = [
    Resource("", "v1", "Namespace", "namespaces", namespaced=False, status_sub=True, short=("ns",)),
    Resource("", "v1", "Node", "nodes", namespaced=False, status_sub=True, short=("no",)),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    Resource("", "v1", "Service", "services", status_sub=True, short=("svc",)),
    Resource("", "v1", "Pod", "pods", status_sub=True, short=("po",)),
    Resource("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    Resource("", "v1", "Secret", "secrets"),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", status_sub=True, short=("pvc",)),
    Resource("", "v1", "Event", "events", short=("ev",)),
    Resource("apps", "v1", "Deployment", "deployments", status_sub=True, short=("deploy",)),
    Resource("apps", "v1", "ReplicaSet", "replicasets", status_sub=True, short=("rs",)),
    Resource(
        "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", status_sub=True, short=("hpa",)
    ),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", status_sub=True, short=("pdb",)),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    Resource("batch", "v1", "CronJob", "cronjobs", status_sub=True, short=("cj",)),
    Resource("batch", "v1", "Job", "jobs", status_sub=True),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
]
KSERVE = Resource(
    "serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices", status_sub=True, short=("isvc",)
)

# list fields merged by key (strategic merge patch and server-side apply); other lists are atomic
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": None,
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
}
PORT_KEYS = ("containerPort", "port")
META_SYSTEM = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "selfLink",
)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def body(self) -> dict:
        out = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        return out


# -- field paths (server-side apply) ----------------------------------------------------------------
def _item_key(list_name: str, item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    key = MERGE_KEYS.get(list_name, "-")
    if key == "-":
        return None
    if key is None:  # ports: containerPort or port, with protocol
        for k in PORT_KEYS:
            if k in item:
                return "k:" + json.dumps(
                    {k: item[k], "protocol": item.get("protocol", "TCP")}, sort_keys=True, separators=(",", ":")
                )
        return None
    if key in item:
        return "k:" + json.dumps({key: item[key]}, separators=(",", ":"))
    return None


def _assoc(list_name: str, value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_item_key(list_name, i) for i in value)


def leaves(obj: Any, prefix: tuple = ()) -> set:
    """Field paths set by ``obj``: leaves, and the items of associative lists."""
    out: set = set()
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        p = prefix + ("f:" + k,)
        if isinstance(v, dict) and v:
            out |= leaves(v, p)
        elif _assoc(k, v):
            for item in v:
                ip = p + (_item_key(k, item),)
                out.add(ip)
                out |= leaves(item, ip)
        else:
            out.add(p)
    return out


def _object_fields(obj: dict, status_sub: bool) -> set:
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in META_SYSTEM + ("name", "namespace")}
    body["metadata"] = meta
    if status_sub:
        body.pop("status", None)
    if not meta:
        body.pop("metadata")
    return leaves(body)


def _get(obj: Any, path: tuple) -> Any:
    cur = obj
    for el in path:
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return _MISSING
            cur = cur[el[2:]]
        else:  # k:{...}
            if not isinstance(cur, list):
                return _MISSING
            want = json.loads(el[2:])
            match = [
                i
                for i in cur
                if isinstance(i, dict)
                and all(i.get(k, "TCP" if k == "protocol" else None) == v for k, v in want.items())
            ]
            if not match:
                return _MISSING
            cur = match[0]
    return cur


def _delete(obj: Any, path: tuple) -> None:
    parent = _get(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if parent is _MISSING:
        return
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        target = _get(obj, path)
        if target is not _MISSING:
            parent.remove(target)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _drop_nulls(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_nulls(v) for v in obj]
    return obj


def _field_text(path: tuple) -> str:
    """``.spec.template.spec.containers[name="c"].image``, as the API server writes field paths."""
    out = ""
    for el in path:
        if el.startswith("f:"):
            out += "." + el[2:]
        else:
            keys = json.loads(el[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
    return out


def _fields_v1(paths: set) -> dict:
    tree: dict = {}
    for p in sorted(paths):
        node = tree
        for el in p:
            node = node.setdefault(el, {})
        if p and p[-1].startswith("k:"):
            node.setdefault(".", {})
    return tree


# -- merges -------------------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(target: Any, ops: list) -> Any:
    """RFC 6902 (add, remove, replace, test, move, copy)."""
    doc = copy.deepcopy(target)

    def split(ptr: str) -> list:
        if ptr == "":
            return []
        return [p.replace("~1", "/").replace("~0", "~") for p in ptr.lstrip("/").split("/")]

    def parent(parts: list) -> tuple:
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    for op in ops:
        kind, parts = op.get("op"), split(op.get("path", ""))
        try:
            if kind == "test":
                cur = doc
                for p in parts:
                    cur = cur[int(p)] if isinstance(cur, list) else cur[p]
                if cur != op.get("value"):
                    raise ApiError(
                        422,
                        "Invalid",
                        f"the server rejected our request due to an error in our "
                        f"request: testing value {op.get('path')} failed",
                    )
                continue
            if kind in ("move", "copy"):
                src = split(op["from"])
                cur = doc
                for p in src:
                    cur = cur[int(p)] if isinstance(cur, list) else cur[p]
                value = copy.deepcopy(cur)
                if kind == "move":
                    c, last = parent(src)
                    c.pop(int(last)) if isinstance(c, list) else c.pop(last)
                kind, op = "add", {"value": value}
            c, last = parent(parts)
            if kind == "add":
                if isinstance(c, list):
                    c.insert(len(c) if last == "-" else int(last), copy.deepcopy(op["value"]))
                else:
                    c[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                c.pop(int(last)) if isinstance(c, list) else c.pop(last)
            elif kind == "replace":
                if isinstance(c, list):
                    c[int(last)] = copy.deepcopy(op["value"])
                else:
                    if last not in c:
                        raise KeyError(last)
                    c[last] = copy.deepcopy(op["value"])
            else:
                raise ApiError(422, "Invalid", f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: "
                f"json patch {kind} operation does not apply: {exc}",
            ) from None
    return doc


def strategic_merge(target: Any, patch: Any, list_name: str = "") -> Any:
    """Strategic merge patch, for the lists Kubernetes merges by key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            out[name] = [i for i in out.get(name) or [] if i not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and (k in MERGE_KEYS) and all(isinstance(i, dict) for i in v):
            out[k] = _merge_list(out.get(k) or [], v, k, order=patch.get(f"$setElementOrder/{k}"))
        elif isinstance(v, dict):
            out[k] = strategic_merge(out.get(k), v, k)
        else:
            out[k] = copy.deepcopy(v)
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(current: list, patch: list, name: str, order: list | None) -> list:
    result = copy.deepcopy(current)
    for item in patch:
        key = _item_key(name, {k: v for k, v in item.items() if not k.startswith("$")})
        idx = next((i for i, c in enumerate(result) if _item_key(name, c) == key), None) if key else None
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            result.append(strategic_merge({}, item, name))
        else:
            result[idx] = strategic_merge(result[idx], item, name)
    if order:
        keys = [_item_key(name, o) for o in order]
        result.sort(key=lambda c: keys.index(_item_key(name, c)) if _item_key(name, c) in keys else len(keys))
    return result


def apply_merge(current: dict, applied: dict) -> dict:
    """Merge an applied configuration into the live object (maps merge; keyed lists merge by key)."""
    out = copy.deepcopy(current)
    for k, v in applied.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = apply_merge(out[k], v)
        elif _assoc(k, v) and isinstance(out.get(k), list):
            merged = copy.deepcopy(out[k])
            for item in v:
                key = _item_key(k, item)
                idx = next((i for i, c in enumerate(merged) if _item_key(k, c) == key), None)
                if idx is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[idx] = apply_merge(merged[idx], item)
            out[k] = merged
        else:
            out[k] = copy.deepcopy(v)
    return out


# -- label and field selectors --------------------------------------------------------------------------
def _selector(raw: str | None) -> list:
    reqs = []
    if not raw:
        return reqs
    for part in re.split(r",(?![^()]*\))", raw):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)", part)
        if m:
            reqs.append((m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", v.strip()))
        elif "=" in part:
            k, v = part.replace("==", "=").split("=", 1)
            reqs.append((k.strip(), "=", v.strip()))
        elif part.startswith("!"):
            reqs.append((part[1:], "!", None))
        else:
            reqs.append((part, "exists", None))
    return reqs


def _matches(labels: dict, reqs: list) -> bool:
    for key, op, value in reqs:
        have = labels.get(key)
        if op == "=" and have != value:
            return False
        if op == "!=" and have == value:
            return False
        if op == "in" and have not in value:
            return False
        if op == "notin" and have in value:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


def _field_ok(obj: dict, raw: str | None) -> bool:
    if not raw:
        return True
    for part in raw.split(","):
        if "=" not in part:
            continue
        neg = "!=" in part
        key, value = part.replace("==", "=").replace("!=", "=").split("=", 1)
        cur: Any = obj
        for el in key.split("."):
            cur = cur.get(el) if isinstance(cur, dict) else None
        if (str(cur) == value) == neg:
            return False
    return True


# -- the scheduler's filters -----------------------------------------------------------------------------
_SUFFIX = {
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity(value: Any) -> float:
    """A Kubernetes resource quantity as a number (``"250m"`` -> 0.25, ``"16Gi"`` -> 17179869184)."""
    m = re.fullmatch(r"([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)", str(value).strip())
    if not m or m.group(2) not in ("", *_SUFFIX):
        raise ValueError(f"not a quantity: {value!r}")
    return float(m.group(1)) * _SUFFIX.get(m.group(2), 1)


def pod_requests(spec: dict) -> dict[str, float]:
    """Summed container requests; a resource with a limit but no request requests its limit (API defaulting)."""
    out: dict[str, float] = {}
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        for k, v in req.items():
            out[k] = out.get(k, 0.0) + quantity(v)
    return out


def _tolerates(tolerations: list, taint: dict) -> bool:
    for t in tolerations or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _expression_ok(expr: dict, labels: dict) -> bool:
    op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and key in labels:
        try:
            have, want = int(labels[key]), int(values[0])
        except (ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def _node_affinity_ok(spec: dict, node: dict) -> bool:
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    for term in required.get("nodeSelectorTerms") or []:  # terms are ORed, expressions ANDed
        exprs = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if not exprs and not fields:
            continue
        if all(_expression_ok(e, labels) for e in exprs) and all(
            _expression_ok(f, {"metadata.name": node["metadata"]["name"]}) for f in fields
        ):
            return True
    return False


def filter_node(spec: dict, node: dict, used: dict[str, float]) -> tuple[list[str], bool]:
    """kube-scheduler's Filter plugins in their default order, stopping at the first that fails.

    Returns the failure reasons (empty: the pod fits) and whether preemption could help.
    """
    if (node.get("spec") or {}).get("unschedulable"):
        return ["node(s) were unschedulable"], False
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(spec.get("tolerations"), taint):
            return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"], False
    if not _node_affinity_ok(spec, node):
        return ["node(s) didn't match Pod's node affinity/selector"], False
    alloc = (node.get("status") or {}).get("allocatable") or {}
    short = [
        f"Insufficient {r}"
        for r, q in sorted(pod_requests(spec).items())
        if q > 0 and used.get(r, 0.0) + q > quantity(alloc.get(r, 0)) + 1e-9
    ]
    return short, True


def _histogram(counts: dict[str, int]) -> str:
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


# -- scripted behaviour of the controllers -------------------------------------------------------------
@dataclass
class Script:
    image: str  # substring of a container image
    behaviour: str  # ok | stall | crashloop | imagepull | unready
    deadline: float | None = None  # seconds before ProgressDeadlineExceeded (None: progressDeadlineSeconds)


@dataclass
class _Watcher:
    cond: threading.Condition = field(default_factory=threading.Condition)


# -- the server -----------------------------------------------------------------------------------------
class FakeKube:
    """The fake API server. Use as a context manager; ``kubeconfig(path)`` writes a kubeconfig for it.

    Parameters
    ----------
    kserve : bool
        Serve the ``serving.kserve.io/v1beta1`` InferenceService API (and its tiny controller).
    step : float
        Seconds between controller steps (one more pod ready per step).
    validate_version : str or None
        Kubernetes version whose OpenAPI schemas validate writes (None: no schema validation).
    token : str
        Bearer token the server expects.
    tls : bool
        Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (made with the ``openssl``
        tool); the kubeconfig then carries it as the certificate authority. kubectl sends a bearer
        token only over TLS.
    """

    def __init__(
        self,
        *,
        kserve: bool = False,
        step: float = 0.03,
        validate_version: str | None = "1.32",
        token: str = "fake-token",
        namespaces: tuple = ("default", "kube-system"),
        tls: bool = False,
    ) -> None:
        self.tls = tls
        self.ca_pem = b""
        self.resources = list(RESOURCES) + ([KSERVE] if kserve else [])
        self.by_plural = {(r.group, r.plural): r for r in self.resources}
        self.step = step
        self.validate_version = validate_version
        self.token = token
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0
        self.objects: dict[tuple, dict] = {}  # (group, plural, ns, name) -> object
        self.managers: dict[tuple, dict] = {}  # same key -> {manager: {"op", "apiVersion", "fields", "time"}}
        self.events: list[tuple[int, str, tuple, dict]] = []
        self.forbidden: list[tuple[str, str, str | None]] = []
        self.scripts: list[Script] = []
        self.backends: list[tuple[dict, str]] = []  # (pod labels, base URL) the pod proxy forwards to
        self.requests: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._started: dict[tuple, float] = {}
        self._unschedulable: set[tuple] = set()  # ReplicaSets with a pod that fits on no node
        self.node_groups: list[dict] = []  # cluster autoscaler node groups (see autoscaler())
        self._new_nodes: list[tuple] = []  # (due time, name, add_node keywords)
        self._scale_up_seen: set[tuple] = set()  # pods the autoscaler has answered
        for ns in namespaces:
            self.create_namespace(ns)

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self) -> "FakeKube":
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if self.tls:
            import ssl
            import subprocess
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run(
                    [
                        "openssl",
                        "req",
                        "-x509",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:prime256v1",
                        "-nodes",
                        "-keyout",
                        f"{tmp}/key.pem",
                        "-out",
                        f"{tmp}/cert.pem",
                        "-days",
                        "1",
                        "-subj",
                        "/CN=127.0.0.1",
                        "-addext",
                        "subjectAltName=IP:127.0.0.1",
                    ],
                    check=True,
                    capture_output=True,
                )
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(f"{tmp}/cert.pem", f"{tmp}/key.pem")
                self.ca_pem = Path(f"{tmp}/cert.pem").read_bytes()
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
            self.url = f"https://127.0.0.1:{self.port}"
        self._threads = [
            threading.Thread(target=self.httpd.serve_forever, daemon=True),
            threading.Thread(target=self._controller_loop, daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self.cond:
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeKube":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def kubeconfig(
        self,
        path: str | Path,
        *,
        context: str = "fake",
        namespace: str = "default",
        token: str | None = None,
        extra: dict | None = None,
    ) -> Path:
        """Write a kubeconfig whose context ``context`` points at this server; ``extra`` adds contexts
        {name: server_url}."""
        import yaml

        contexts = {context: self.url, **(extra or {})}
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "preferences": {},
            "clusters": [{"name": n, "cluster": {"server": u, **self._ca(u)}} for n, u in contexts.items()],
            "users": [{"name": "tester", "user": {"token": token or self.token}}],
            "contexts": [
                {"name": n, "context": {"cluster": n, "user": "tester", "namespace": namespace}} for n in contexts
            ],
        }
        path = Path(path)
        path.write_text(yaml.safe_dump(cfg))
        return path

    def _ca(self, url: str) -> dict:
        import base64

        if self.ca_pem and url == self.url:
            return {"certificate-authority-data": base64.b64encode(self.ca_pem).decode()}
        return {}

    # -- scripting --------------------------------------------------------------------------------------
    def proxy_to(self, labels: dict, url: str) -> None:
        """A real process behind the fake pods: the API server's pod proxy (``GET pods/NAME[:PORT]/proxy/PATH``)
        forwards to ``url`` + PATH for the pods that carry ``labels``."""
        self.backends.append((dict(labels), url.rstrip("/")))

    def script(self, image: str, behaviour: str, *, deadline: float | None = None) -> None:
        """Pods whose image contains ``image`` behave as ``behaviour``: ok, stall (never ready), unready
        (never ready, no deadline ever), crashloop, imagepull. The progress deadline passes after
        ``deadline`` seconds (default: the Deployment's ``progressDeadlineSeconds``)."""
        assert behaviour in ("ok", "stall", "unready", "crashloop", "imagepull")
        self.scripts.insert(0, Script(image, behaviour, deadline))

    def forbid(self, verb: str, plural: str, namespace: str | None = None) -> None:
        """Make RBAC refuse ``verb`` (get, list, watch, create, update, patch, delete) on ``plural``."""
        self.forbidden.append((verb, plural, namespace))

    def create_namespace(self, name: str) -> None:
        with self.lock:
            self._store(
                ("", "namespaces", None, name),
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
                "ADDED",
            )

    def autoscaler(
        self,
        group: str,
        *,
        labels: dict | None = None,
        allocatable: dict | None = None,
        taints: list | None = None,
        max_nodes: int = 1,
        delay: float = 0.5,
    ) -> None:
        """A cluster autoscaler node group: a pod that fits on no node but would fit on a node of ``group``
        gets a ``TriggeredScaleUp`` event and the node joins ``delay`` seconds later (at most ``max_nodes``);
        a pod that would fit on no group's node gets ``NotTriggerScaleUp``."""
        self.node_groups.append(
            {
                "name": group,
                "labels": labels or {},
                "allocatable": allocatable or {},
                "taints": taints or [],
                "max": max_nodes,
                "count": 0,
                "delay": delay,
            }
        )

    def _event(
        self, pod: dict, reason: str, message: str, *, kind: str = "Warning", component: str = "default-scheduler"
    ) -> None:
        meta = pod["metadata"]
        now = _now()
        name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        self._store(
            ("", "events", meta["namespace"], name),
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta.get("uid", ""),
                },
                "type": kind,
                "reason": reason,
                "message": message,
                "reportingComponent": component,
                "source": {"component": component},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
            "ADDED",
        )

    def _autoscale(self, pod: dict) -> None:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if not self.node_groups or key in self._scale_up_seen:
            return
        self._scale_up_seen.add(key)
        why: dict[str, int] = {}
        for g in self.node_groups:
            alloc = {"cpu": "4", "memory": "16Gi", "pods": "110", **{k: str(v) for k, v in g["allocatable"].items()}}
            template = {
                "metadata": {"name": g["name"], "labels": dict(g["labels"])},
                "spec": {"taints": g["taints"]},
                "status": {"allocatable": alloc},
            }
            reasons, _ = filter_node(pod["spec"], template, {})
            if not reasons and g["count"] < g["max"]:
                n = g["count"]
                g["count"] += 1
                self._new_nodes.append(
                    (
                        time.monotonic() + g["delay"],
                        f"{g['name']}-{n}",
                        {"labels": g["labels"], "allocatable": g["allocatable"], "taints": g["taints"]},
                    )
                )
                self._event(
                    pod,
                    "TriggeredScaleUp",
                    f"pod triggered scale-up: [{{{g['name']} {n}->{n + 1} (max: {g['max']})}}]",
                    kind="Normal",
                    component="cluster-autoscaler",
                )
                return
            for r in reasons or ["max node group size reached"]:
                why[r] = why.get(r, 0) + 1
        self._event(
            pod,
            "NotTriggerScaleUp",
            f"pod didn't trigger scale-up: {_histogram(why)}",
            kind="Normal",
            component="cluster-autoscaler",
        )

    def add_node(
        self,
        name: str,
        *,
        labels: dict | None = None,
        allocatable: dict | None = None,
        taints: list | None = None,
        unschedulable: bool = False,
    ) -> None:
        """Add a Ready node; from the first one on, pods are scheduled onto nodes (see the module doc).

        ``allocatable`` holds quantities (``{"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}``);
        ``taints`` are Kubernetes taints (``{"key": ..., "value": ..., "effect": "NoSchedule"}``).
        """
        alloc = {"cpu": "4", "memory": "16Gi", "pods": "110", **{k: str(v) for k, v in (allocatable or {}).items()}}
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})},
            },
            "spec": {"taints": list(taints or []), **({"unschedulable": True} if unschedulable else {})},
            "status": {
                "capacity": dict(alloc),
                "allocatable": dict(alloc),
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                    }
                ],
            },
        }
        with self.lock:
            self._store(("", "nodes", None, name), node, "ADDED")

    def get(
        self, kind_plural: str, name: str, namespace: str | None = "default", group: str | None = None
    ) -> dict | None:
        with self.lock:
            for (g, p, ns, n), obj in self.objects.items():
                if p == kind_plural and n == name and (ns == namespace or ns is None) and (group is None or g == group):
                    return copy.deepcopy(obj)
        return None

    def list(self, plural: str, namespace: str | None = "default") -> list[dict]:
        with self.lock:
            return [
                copy.deepcopy(o)
                for (g, p, ns, n), o in sorted(self.objects.items(), key=lambda kv: kv[0][3])
                if p == plural and (namespace is None or ns == namespace)
            ]

    def managers_of(self, plural: str, name: str, namespace: str = "default") -> dict:
        with self.lock:
            for key, mgrs in self.managers.items():
                if key[1] == plural and key[2] == namespace and key[3] == name:
                    return {m: sorted(info["fields"]) for m, info in mgrs.items()}
        return {}

    # -- storage ----------------------------------------------------------------------------------------
    def _store(self, key: tuple, obj: dict, event: str) -> dict:
        obj = _drop_nulls(obj)  # typed decoding on a real server leaves no nulls behind
        if key[1] == "secrets" and "stringData" in obj:
            # a Secret's stringData is merged into data (base64) on write and never read back (core/v1 Secret)
            import base64

            data = dict(obj.get("data") or {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
        self.rv += 1
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta.setdefault("generation", 1)
        if key in self.managers:
            meta["managedFields"] = [
                {
                    "manager": m.split("\x00")[0],
                    "operation": info["op"],
                    "apiVersion": info["apiVersion"],
                    "time": info["time"],
                    "fieldsType": "FieldsV1",
                    "fieldsV1": _fields_v1(info["fields"]),
                    **({"subresource": info["sub"]} if info.get("sub") else {}),
                }
                for m, info in self.managers[key].items()
                if info["fields"]
            ]
            if not meta["managedFields"]:
                meta.pop("managedFields")
        self.objects[key] = obj
        self.events.append((self.rv, event, key, copy.deepcopy(obj)))
        if len(self.events) > 20000:
            del self.events[:10000]
        self.cond.notify_all()
        return obj

    def _remove(self, key: tuple) -> dict | None:
        obj = self.objects.pop(key, None)
        self.managers.pop(key, None)
        if obj is None:
            return None
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append((self.rv, "DELETED", key, copy.deepcopy(obj)))
        self.cond.notify_all()
        uid = obj["metadata"].get("uid")
        for k, o in list(self.objects.items()):  # garbage collection of dependents
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                self._remove(k)
        return obj

    def _validate(self, res: Resource, obj: dict, strict: bool, old: dict | None = None) -> None:
        name = obj.get("metadata", {}).get("name", "")
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name or "") or len(name) > 253:
            raise ApiError(
                422,
                "Invalid",
                f'{res.kind} "{name}" is invalid: metadata.name: Invalid value: '
                f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                f"alphanumeric characters, '-' or '.'",
                {
                    "name": name,
                    "group": res.group,
                    "kind": res.kind,
                    "causes": [{"reason": "FieldValueInvalid", "field": "metadata.name"}],
                },
            )
        # kinds with a stricter name rule than a subdomain (Kubernetes' ValidateServiceName, ValidateCronJob)
        longest = {"Service": 63, "Namespace": 63, "CronJob": 52}.get(res.kind)
        if longest is not None and len(name) > longest:
            raise ApiError(
                422,
                "Invalid",
                f'{res.kind} "{name}" is invalid: metadata.name: Invalid value: '
                f'"{name}": must be no more than {longest} characters',
                {
                    "name": name,
                    "group": res.group,
                    "kind": res.kind,
                    "causes": [{"reason": "FieldValueInvalid", "field": "metadata.name"}],
                },
            )
        if res.kind == "Service" and not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name):
            raise ApiError(
                422,
                "Invalid",
                f'Service "{name}" is invalid: metadata.name: Invalid value: "{name}": '
                "a DNS-1035 label must consist of lower case alphanumeric characters or "
                "'-', start with an alphabetic character, and end with an alphanumeric "
                "character",
                {
                    "name": name,
                    "group": res.group,
                    "kind": res.kind,
                    "causes": [{"reason": "FieldValueInvalid", "field": "metadata.name"}],
                },
            )
        if res.kind == "Deployment":
            spec = obj.get("spec") or {}
            sel = (spec.get("selector") or {}).get("matchLabels") or {}
            tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not sel or any(tl.get(k) != v for k, v in sel.items()):
                raise ApiError(
                    422,
                    "Invalid",
                    f'Deployment.apps "{name}" is invalid: spec.template.metadata.labels: '
                    f"Invalid value: {json.dumps(tl)}: `selector` does not match "
                    f"template `labels`",
                    {
                        "name": name,
                        "group": "apps",
                        "kind": "Deployment",
                        "causes": [{"reason": "FieldValueInvalid", "field": "spec.template.metadata.labels"}],
                    },
                )
        if res.kind == "Job":
            self._validate_job(name, obj, old)
        if self.validate_version is None or res is KSERVE:
            return
        import kubernetes_validate

        doc = copy.deepcopy(obj)
        doc["metadata"].pop("managedFields", None)
        doc.pop("status", None)  # status is written by controllers; the schema checks what users send
        try:
            kubernetes_validate.validate(doc, self.validate_version, strict=strict)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "<root>"
            if exc.validator == "additionalProperties":
                m = re.search(r"'([^']+)' was unexpected", exc.message)
                fieldname = f"{where}.{m.group(1)}" if m else where
                raise ApiError(400, "BadRequest", f'strict decoding error: unknown field "{fieldname}"') from None
            raise ApiError(
                422,
                "Invalid",
                f'{res.kind} "{name}" is invalid: {where}: Invalid value: {exc.message}',
                {
                    "name": name,
                    "group": res.group,
                    "kind": res.kind,
                    "causes": [{"reason": "FieldValueInvalid", "message": exc.message, "field": where}],
                },
            ) from None

    @staticmethod
    def _validate_job(name: str, obj: dict, old: dict | None) -> None:
        """The rules of Kubernetes' ValidateJob that a client meets: restart policy, Indexed completions, and
        the fields that cannot change once the Job exists (its pod template, completion mode, per-index limit)."""
        spec = obj.get("spec") or {}
        causes = []
        policy = (((spec.get("template") or {}).get("spec")) or {}).get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            causes.append(
                (
                    "spec.template.spec.restartPolicy",
                    f'Unsupported value: "{policy or "Always"}": supported values: "OnFailure", "Never"',
                )
            )
        indexed = spec.get("completionMode") == "Indexed"
        if indexed and spec.get("completions") is None:
            causes.append(("spec.completions", "Required value: when completion mode is Indexed"))
        if spec.get("backoffLimitPerIndex") is not None and (not indexed or policy != "Never"):
            causes.append(
                ("spec.backoffLimitPerIndex", "Invalid value: requires completionMode Indexed and restartPolicy Never")
            )
        if old is not None:
            was = old.get("spec") or {}
            for f in ("template", "completionMode", "backoffLimitPerIndex"):
                if was.get(f) != spec.get(f):
                    causes.append((f"spec.{f}", "Invalid value: field is immutable"))
            # completions may change only on an Indexed Job, together with parallelism (elastic Indexed Jobs)
            if was.get("completions") != spec.get("completions") and not (
                indexed and spec.get("completions") == spec.get("parallelism")
            ):
                causes.append(("spec.completions", "Invalid value: field is immutable"))
        if causes:
            raise ApiError(
                422,
                "Invalid",
                f'Job.batch "{name}" is invalid: ' + ", ".join(f"{f}: {m}" for f, m in causes),
                {
                    "name": name,
                    "group": "batch",
                    "kind": "Job",
                    "causes": [{"reason": "FieldValueInvalid", "field": f, "message": m} for f, m in causes],
                },
            )

    def _set_fields(
        self, key: tuple, res: Resource, old: dict | None, new: dict, manager: str, *, sub: str = ""
    ) -> None:
        """Ownership after an Update: changed fields go to ``manager``."""
        if sub == "status":
            return
        before = _object_fields(old, res.status_sub) if old else set()
        after = _object_fields(new, res.status_sub)
        # a list item's own path ("k:{...}") marks membership: it changes only when the item appears
        changed = {p for p in after if p not in before or (not p[-1].startswith("k:") and _get(old, p) != _get(new, p))}
        mgrs = self.managers.setdefault(key, {})
        for info in mgrs.values():
            info["fields"] = {p for p in info["fields"] if p in after and p not in changed}
        if changed:
            info = mgrs.setdefault(
                manager, {"op": "Update", "apiVersion": res.api_version, "fields": set(), "time": _now()}
            )
            if info["op"] == "Apply":  # an Update by an applier is tracked separately, as in Kubernetes
                info = mgrs.setdefault(
                    manager + "\x00update",
                    {"op": "Update", "apiVersion": res.api_version, "fields": set(), "time": _now()},
                )
            info["fields"] |= changed
            info["time"] = _now()

    # -- verbs --------------------------------------------------------------------------------------------
    def _check_ns(self, res: Resource, ns: str | None) -> None:
        if res.namespaced and ns is not None and ("", "namespaces", None, ns) not in self.objects:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})

    def _not_found(self, res: Resource, name: str) -> ApiError:
        gr = f"{res.plural}.{res.group}" if res.group else res.plural
        return ApiError(
            404, "NotFound", f'{gr} "{name}" not found', {"name": name, "group": res.group, "kind": res.plural}
        )

    def _bump_generation(self, res: Resource, old: dict, new: dict) -> None:
        def body(o: dict) -> dict:
            return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}

        gen = int(old["metadata"].get("generation", 1))
        new["metadata"]["generation"] = gen + 1 if body(old) != body(new) else gen

    def create(self, res: Resource, ns: str | None, body: dict, manager: str, strict: bool, dry: bool) -> dict:
        name = (body.get("metadata") or {}).get("name")
        if not name and (body.get("metadata") or {}).get("generateName"):
            name = body["metadata"]["generateName"] + uuid.uuid4().hex[:5]
            body["metadata"]["name"] = name
        with self.lock:
            self._check_ns(res, ns)
            key = (res.group, res.plural, ns if res.namespaced else None, name)
            if key in self.objects:
                gr = f"{res.plural}.{res.group}" if res.group else res.plural
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{gr} "{name}" already exists',
                    {"name": name, "group": res.group, "kind": res.plural},
                )
            obj = copy.deepcopy(body)
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            meta = obj.setdefault("metadata", {})
            for k in META_SYSTEM:
                meta.pop(k, None)
            if res.namespaced:
                meta["namespace"] = ns
            if res.status_sub:
                obj["status"] = {}
            self._defaults(res, obj)
            self._validate(res, obj, strict)
            if dry:
                return obj
            self._set_fields(key, res, None, obj, manager)
            return copy.deepcopy(self._store(key, obj, "ADDED"))

    def _defaults(self, res: Resource, obj: dict) -> None:
        spec = obj.get("spec")
        if res.kind == "Deployment" and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault(
                "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
            )
        if res.kind == "Service" and isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("clusterIP", "10.96.0." + str(1 + self.rv % 250))

    def update(
        self, res: Resource, ns: str | None, name: str, body: dict, manager: str, strict: bool, dry: bool, sub: str = ""
    ) -> dict:
        with self.lock:
            self._check_ns(res, ns)
            key = (res.group, res.plural, ns if res.namespaced else None, name)
            old = self.objects.get(key)
            if old is None:
                raise self._not_found(res, name)
            want_rv = (body.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                gr = f"{res.plural}.{res.group}" if res.group else res.plural
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {gr} "{name}": the object has '
                    f"been modified; please apply your changes to the latest version "
                    f"and try again",
                    {"name": name, "group": res.group, "kind": res.plural},
                )
            return self._replace(res, key, old, body, manager, strict, dry, sub)

    def _replace(
        self, res: Resource, key: tuple, old: dict, body: dict, manager: str, strict: bool, dry: bool, sub: str = ""
    ) -> dict:
        new = copy.deepcopy(body)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = new.setdefault("metadata", {})
        for k in META_SYSTEM:
            if k in old["metadata"]:
                meta[k] = copy.deepcopy(old["metadata"][k])
        meta["name"] = old["metadata"]["name"]
        if res.namespaced:
            meta["namespace"] = old["metadata"]["namespace"]
        if sub == "status":
            status = new.get("status", {})
            new = copy.deepcopy(old)
            new["status"] = status
        elif res.status_sub:
            new["status"] = copy.deepcopy(old.get("status", {}))
        self._defaults(res, new)
        self._bump_generation(res, old, new)
        self._validate(res, new, strict, old)
        if dry:
            return new
        self._set_fields(key, res, old, new, manager, sub=sub)
        if new == old:
            return copy.deepcopy(old)
        return copy.deepcopy(self._store(key, new, "MODIFIED"))

    def patch(
        self,
        res: Resource,
        ns: str | None,
        name: str,
        ctype: str,
        patch: Any,
        manager: str | None,
        force: bool,
        strict: bool,
        dry: bool,
        sub: str = "",
    ) -> dict:
        with self.lock:
            self._check_ns(res, ns)
            key = (res.group, res.plural, ns if res.namespaced else None, name)
            old = self.objects.get(key)
            if ctype.startswith("application/apply-patch"):
                return self._apply(res, key, ns, name, old, patch, manager, force, strict, dry)
            if old is None:
                raise self._not_found(res, name)
            if ctype.startswith("application/json-patch+json"):
                new = json_patch(old, patch)
            elif ctype.startswith("application/merge-patch+json"):
                new = merge_patch(old, patch)
            elif ctype.startswith("application/strategic-merge-patch+json"):
                if res is KSERVE:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        "strategic merge patch is not supported for custom resources; use a merge patch",
                    )
                new = strategic_merge(old, patch)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - "
                    "accepted media types include: application/json-patch+json, "
                    "application/merge-patch+json, application/apply-patch+yaml",
                )
            want_rv = (new.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                gr = f"{res.plural}.{res.group}" if res.group else res.plural
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {gr} "{name}": the object has '
                    f"been modified; please apply your changes to the latest version "
                    f"and try again",
                )
            return self._replace(res, key, old, new, manager or "unknown", strict, dry, sub)

    def _apply(
        self,
        res: Resource,
        key: tuple,
        ns: str | None,
        name: str,
        old: dict | None,
        applied: Any,
        manager: str | None,
        force: bool,
        strict: bool,
        dry: bool,
    ) -> dict:
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH /apply requires a non-empty fieldManager query parameter")
        if not isinstance(applied, dict):
            raise ApiError(400, "BadRequest", "error decoding YAML: the applied configuration is not an object")
        if applied.get("kind") != res.kind or applied.get("apiVersion") != res.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the applied configuration is a {applied.get('apiVersion')}/"
                f"{applied.get('kind')}; the path is for {res.api_version}/{res.kind}",
            )
        if (applied.get("metadata") or {}).get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the applied object does not match the URL")
        new_fields = _object_fields(applied, res.status_sub)
        mgrs = self.managers.setdefault(key, {}) if not dry else copy.deepcopy(self.managers.get(key, {}))
        if old is None:
            self._check_ns(res, ns)
            obj = copy.deepcopy(applied)
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            obj["metadata"] = {
                **copy.deepcopy(applied.get("metadata") or {}),
                **({"namespace": ns} if res.namespaced else {}),
            }
            if res.status_sub:
                obj["status"] = {}
            self._defaults(res, obj)
            self._validate(res, obj, strict)
            if dry:
                return obj
            mgrs[manager] = {"op": "Apply", "apiVersion": res.api_version, "fields": new_fields, "time": _now()}
            return copy.deepcopy(self._store(key, obj, "ADDED"))
        conflicts = []
        for m, info in mgrs.items():
            if m == manager:
                continue
            for p in new_fields & info["fields"]:
                if not p[-1].startswith("k:") and _get(old, p) != _get(applied, p):
                    conflicts.append((m, info, p))
        if conflicts and not force:
            causes = [
                {
                    "type": "FieldManagerConflict",
                    "message": f'conflict with "{m.split(chr(0))[0]}" using {info["apiVersion"]}',
                    "field": _field_text(p),
                }
                for m, info, p in sorted(conflicts, key=lambda c: c[2])
            ]
            lines = "\n".join(f"- {c['message'].replace('conflict with ', '')}: {c['field']}" for c in causes)
            raise ApiError(
                409,
                "Conflict",
                f"Apply failed with {len(causes)} conflict{'s' if len(causes) > 1 else ''}: {lines}",
                {"name": name, "group": res.group, "kind": res.plural, "causes": causes},
            )
        for _m, info, p in conflicts:
            info["fields"].discard(p)
        previous = mgrs.get(manager, {}).get("fields", set())
        others = set().union(*(i["fields"] for m, i in mgrs.items() if m != manager)) if len(mgrs) > 1 else set()
        new = copy.deepcopy(old)
        # fields this manager no longer applies and nobody else owns go; a list item of an associative list
        # (its "k:{...}" path) goes whole, before its fields (which include the key that identifies it)
        kept = new_fields | others
        for p in sorted(previous - new_fields - others, key=len):
            if any(q[: len(p)] == p for q in kept):
                continue
            if len(p) > 1 and p[-2].startswith("k:") and p[-1][2:] in json.loads(p[-2][2:]):
                continue  # the key of an item that stays (owned by someone, or gone with the item)
            _delete(new, p)
        meta_keep = {k: new["metadata"][k] for k in META_SYSTEM + ("name", "namespace") if k in new["metadata"]}
        new = apply_merge(new, {k: v for k, v in applied.items() if not (k == "status" and res.status_sub)})
        new["metadata"].update(meta_keep)
        self._defaults(res, new)
        self._bump_generation(res, old, new)
        self._validate(res, new, strict, old)
        if dry:
            return new
        mgrs[manager] = {"op": "Apply", "apiVersion": res.api_version, "fields": new_fields, "time": _now()}
        if new == old:
            return copy.deepcopy(self._store(key, new, "MODIFIED")) if previous != new_fields else copy.deepcopy(old)
        return copy.deepcopy(self._store(key, new, "MODIFIED"))

    def delete(self, res: Resource, ns: str | None, name: str) -> dict:
        with self.lock:
            self._check_ns(res, ns)
            key = (res.group, res.plural, ns if res.namespaced else None, name)
            obj = self._remove(key)
            if obj is None:
                raise self._not_found(res, name)
            return obj

    def list_objects(self, res: Resource, ns: str | None, labels: str | None, fields: str | None) -> tuple[list, int]:
        reqs = _selector(labels)
        with self.lock:
            items = [
                copy.deepcopy(o)
                for (g, p, n, _), o in self.objects.items()
                if g == res.group
                and p == res.plural
                and (ns is None or n == ns)
                and _matches(o["metadata"].get("labels") or {}, reqs)
                and _field_ok(o, fields)
            ]
            return sorted(items, key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"])), self.rv

    # -- controllers ---------------------------------------------------------------------------------------
    def _script_for(self, template: dict) -> Script:
        images = [c.get("image", "") for c in (template.get("spec") or {}).get("containers") or []]
        for s in self.scripts:
            if any(s.image in i for i in images):
                return s
        return Script("", "ok")

    def _controller_loop(self) -> None:
        while not self._stop.wait(self.step):
            try:
                with self.lock:
                    due = [n for n in self._new_nodes if n[0] <= time.monotonic()]
                    for n in due:  # the autoscaler's nodes join the cluster
                        self._new_nodes.remove(n)
                        self.add_node(n[1], **n[2])
                    for key in [k for k in self.objects if k[1] == "deployments"]:
                        if key in self.objects:
                            self._reconcile_deployment(key)
                    for key in [k for k in self.objects if k[1] == "inferenceservices"]:
                        self._reconcile_isvc(key)
            except Exception as exc:  # keep the controller alive; the test sees the error in the log
                self.requests.append(("CONTROLLER-ERROR", repr(exc)))

    def _write_status(self, key: tuple, obj: dict, status: dict, meta_ann: dict | None = None) -> None:
        old = self.objects[key]
        new = copy.deepcopy(old)
        new["status"] = status
        if meta_ann:
            new["metadata"].setdefault("annotations", {}).update(meta_ann)
        if new != old:
            res = self.by_plural[(key[0], key[1])]
            if meta_ann and meta_ann.items() - (old["metadata"].get("annotations") or {}).items():
                self._set_fields(key, res, old, new, "kube-controller-manager")
            self._store(key, new, "MODIFIED")

    def _reconcile_deployment(self, key: tuple) -> None:
        dep = self.objects[key]
        ns, name = key[2], key[3]
        spec = dep["spec"]
        desired = int(spec.get("replicas", 1))
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {}).pop("pod-template-hash", None)
        thash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        uid = dep["metadata"]["uid"]
        rsets = {
            k: o
            for k, o in self.objects.items()
            if k[1] == "replicasets"
            and k[2] == ns
            and any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        }

        def rev(o: dict) -> int:
            return int((o["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"))

        max_rev = max([rev(o) for o in rsets.values()] or [0])
        new_key = ("apps", "replicasets", ns, f"{name}-{thash}")
        if new_key not in self.objects:
            tl = dict(template["metadata"]["labels"], **{"pod-template-hash": thash})
            rs_template = copy.deepcopy(template)
            rs_template["metadata"]["labels"] = tl
            rs = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": new_key[3],
                    "namespace": ns,
                    "labels": tl,
                    "annotations": {
                        "deployment.kubernetes.io/revision": str(max_rev + 1),
                        "deployment.kubernetes.io/desired-replicas": str(desired),
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": name,
                            "uid": uid,
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {**spec["selector"]["matchLabels"], "pod-template-hash": thash}},
                    "template": rs_template,
                },
                "status": {"replicas": 0, "observedGeneration": 1},
            }
            self._store(new_key, rs, "ADDED")
            self._started[new_key] = time.monotonic()
            rsets[new_key] = rs
        elif rev(self.objects[new_key]) < max_rev:  # a rollback: the old ReplicaSet becomes the newest revision
            rs = copy.deepcopy(self.objects[new_key])
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(max_rev + 1)
            self._store(new_key, rs, "MODIFIED")
            self._started[new_key] = time.monotonic()
            rsets[new_key] = rs
        new_rs = self.objects[new_key]
        new_rev = rev(new_rs)
        script = self._script_for(template)
        nst = new_rs.get("status") or {}
        ready = int(nst.get("readyReplicas", 0))
        healthy = script.behaviour == "ok"
        # one step: scale the new ReplicaSet up by one (surge), make one more pod ready, scale old ones down
        new_replicas = min(desired, max(int(new_rs["spec"].get("replicas", 0)), ready + 1)) if desired else 0
        if healthy:
            ready = min(new_replicas, ready + 1)
        else:
            ready = 0
        ready = self._scale_rs(new_key, new_replicas, ready, script)  # pods that fit on no node are not ready
        old_total = 0
        for k, o in rsets.items():
            if k == new_key:
                continue
            cur = int(o["spec"].get("replicas", 0))
            want = max(0, min(cur, desired - ready)) if healthy else cur
            if ready >= desired:
                want = 0
            self._scale_rs(k, want, want, Script("", "ok"))
            old_total += want
        total = new_replicas + old_total
        available = ready + old_total
        conds = []
        started = self._started.get(new_key, time.monotonic())
        done = ready >= desired and old_total == 0
        prog = {"type": "Progressing", "status": "True", "lastUpdateTime": _now(), "lastTransitionTime": _now()}
        old_conds = {c["type"]: c for c in (dep.get("status") or {}).get("conditions") or []}
        if done:
            prog.update(
                reason="NewReplicaSetAvailable", message=f'ReplicaSet "{new_key[3]}" has successfully progressed.'
            )
        elif (
            script.behaviour in ("stall", "crashloop", "imagepull") or new_key in self._unschedulable
        ) and time.monotonic() - started > (
            script.deadline if script.deadline is not None else float(spec.get("progressDeadlineSeconds", 600))
        ):
            prog.update(
                status="False",
                reason="ProgressDeadlineExceeded",
                message=f'ReplicaSet "{new_key[3]}" has timed out progressing.',
            )
        else:
            prog.update(reason="ReplicaSetUpdated", message=f'ReplicaSet "{new_key[3]}" is progressing.')
        avail = {
            "type": "Available",
            "status": "True" if available >= desired else "False",
            "reason": "MinimumReplicasAvailable" if available >= desired else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if available >= desired
            else "Deployment does not have minimum availability.",
            "lastUpdateTime": _now(),
            "lastTransitionTime": _now(),
        }
        for c in (avail, prog):
            prev = old_conds.get(c["type"])
            if prev and all(prev.get(k) == c.get(k) for k in ("status", "reason", "message")):
                c = prev
            conds.append(c)
        status = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": new_replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": conds,
        }
        if total - available:
            status["unavailableReplicas"] = total - available
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        self._write_status(key, dep, status, {"deployment.kubernetes.io/revision": str(new_rev)})

    def _schedule(self, spec: dict) -> tuple[str | None, str | None]:
        """(node name, None) for the first node the pod fits on, else (None, the scheduler's message)."""
        nodes = [o for k, o in sorted(self.objects.items(), key=lambda kv: kv[0][3]) if k[1] == "nodes"]
        used: dict[str, dict[str, float]] = {}
        for k, o in self.objects.items():
            bound = (o.get("spec") or {}).get("nodeName") if k[1] == "pods" else None
            if bound:
                for r, q in pod_requests(o["spec"]).items():
                    used.setdefault(bound, {})[r] = used.get(bound, {}).get(r, 0.0) + q
        reasons: dict[str, int] = {}
        preemption: dict[str, int] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            why, helpful = filter_node(spec, node, used.get(name, {}))
            if not why:
                return name, None
            for w in why:
                reasons[w] = reasons.get(w, 0) + 1
            p = (
                "No preemption victims found for incoming pod"
                if helpful
                else "Preemption is not helpful for scheduling"
            )
            preemption[p] = preemption.get(p, 0) + 1
        n = len(nodes)
        return None, (
            f"0/{n} nodes are available: {_histogram(reasons)}. "
            f"preemption: 0/{n} nodes are available: {_histogram(preemption)}."
        )

    def _scale_rs(self, key: tuple, replicas: int, ready: int, script: Script) -> int:
        """Scale ReplicaSet ``key`` and write its pods; return how many are ready (a pod that fits on no
        node never is)."""
        rs = self.objects[key]
        ns = key[2]
        # pods of this ReplicaSet
        labels = rs["spec"]["template"]["metadata"]["labels"]
        template_ann = rs["spec"]["template"]["metadata"].get("annotations") or {}
        pods = sorted(
            k
            for k, o in self.objects.items()
            if k[1] == "pods"
            and k[2] == ns
            and any(r.get("uid") == rs["metadata"]["uid"] for r in o["metadata"].get("ownerReferences") or [])
        )
        for k in pods[replicas:]:
            self._remove(k)
        has_nodes = any(k[1] == "nodes" for k in self.objects)
        n_ready = 0
        self._unschedulable.discard(key)
        for i in range(replicas):
            pkey = ("", "pods", ns, f"{key[3]}-{i:05d}")
            old = self.objects.get(pkey)
            node_name = ((old or {}).get("spec") or {}).get("nodeName")
            unfit = None
            if has_nodes and not node_name:
                node_name, unfit = self._schedule(rs["spec"]["template"]["spec"])
            if unfit is not None:
                self._unschedulable.add(key)
                prev = [
                    c
                    for c in ((old or {}).get("status") or {}).get("conditions") or []
                    if c.get("type") == "PodScheduled"
                ]
                if prev and prev[0].get("message") == unfit:
                    continue  # the scheduler tried again and failed the same way
                cond = {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": unfit,
                    "lastProbeTime": None,
                    "lastTransitionTime": _now(),
                }
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": pkey[3],
                        "namespace": ns,
                        "labels": dict(labels),
                        "annotations": dict(template_ann),
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "ReplicaSet",
                                "name": key[3],
                                "uid": rs["metadata"]["uid"],
                                "controller": True,
                            }
                        ],
                    },
                    "spec": copy.deepcopy(rs["spec"]["template"]["spec"]),
                    "status": {"phase": "Pending", "conditions": [cond], "qosClass": "Burstable"},
                }
                if old is None:
                    pod = self._store(pkey, pod, "ADDED")
                else:
                    upd = copy.deepcopy(old)
                    upd["status"] = pod["status"]
                    pod = self._store(pkey, upd, "MODIFIED")
                self._event(pod, "FailedScheduling", unfit)
                self._autoscale(pod)
                continue
            is_ready = i < ready
            n_ready += is_ready
            containers = rs["spec"]["template"]["spec"].get("containers") or []
            statuses = []
            for c in containers:
                cs = {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "ready": is_ready,
                    "restartCount": 0,
                    "started": is_ready,
                    "imageID": "",
                    "containerID": "",
                }
                started_at = rs["metadata"].get("creationTimestamp", "")
                if is_ready:
                    cs["state"] = {"running": {"startedAt": started_at}}
                elif script.behaviour == "crashloop":
                    old = self.objects.get(pkey)
                    restarts = 1 + max(
                        [
                            s.get("restartCount", 0)
                            for s in ((old or {}).get("status") or {}).get("containerStatuses") or []
                        ]
                        or [0]
                    )
                    cs.update(
                        restartCount=min(restarts, 5),
                        state={
                            "waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": f"back-off restarting failed container {c['name']}",
                            }
                        },
                        lastState={"terminated": {"exitCode": 1, "reason": "Error"}},
                    )
                elif script.behaviour == "imagepull":
                    cs["state"] = {
                        "waiting": {
                            "reason": "ErrImagePull",
                            "message": f'failed to pull image "{c.get("image")}": not found',
                        }
                    }
                else:
                    cs["state"] = {"running": {"startedAt": started_at}}
                statuses.append(cs)
            conditions = [{"type": "Ready", "status": "True" if is_ready else "False"}]
            if node_name:
                conditions.insert(0, {"type": "PodScheduled", "status": "True"})
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pkey[3],
                    "namespace": ns,
                    "labels": dict(labels),
                    "annotations": dict(template_ann),
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": key[3],
                            "uid": rs["metadata"]["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    **copy.deepcopy(rs["spec"]["template"]["spec"]),
                    **({"nodeName": node_name} if node_name else {}),
                },
                "status": {
                    "phase": "Running" if script.behaviour != "imagepull" else "Pending",
                    "conditions": conditions,
                    "containerStatuses": statuses,
                },
            }
            if old is None:
                self._store(pkey, pod, "ADDED")
            elif old.get("status") != pod["status"] or old["spec"].get("nodeName") != node_name:
                upd = copy.deepcopy(old)
                upd["status"] = pod["status"]
                if node_name:
                    upd["spec"]["nodeName"] = node_name
                self._store(pkey, upd, "MODIFIED")
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = replicas
        st = {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": n_ready,
            "availableReplicas": n_ready,
            "observedGeneration": new["metadata"].get("generation", 1),
        }
        new["status"] = {k: v for k, v in st.items() if v or k in ("replicas", "observedGeneration")}
        if new != rs:
            self._store(key, new, "MODIFIED")
        return n_ready

    def _reconcile_isvc(self, key: tuple) -> None:
        obj = self.objects[key]
        gen = int(obj["metadata"].get("generation", 1))
        st = obj.get("status") or {}
        if int(st.get("observedGeneration", 0)) >= gen:
            return
        pred = obj["spec"].get("predictor") or {}
        script = self._script_for({"spec": pred})
        pct = pred.get("canaryTrafficPercent")
        # "crashloop" reproduces a known KServe complaint: Ready=True while the predictor pods crash-loop
        ok = script.behaviour in ("ok", "crashloop")
        unfit = self._isvc_pods(key, gen, pred, script)
        rev = f"{key[3]}-predictor-{gen:05d}"
        prev_rev = ((st.get("components") or {}).get("predictor") or {}).get("latestReadyRevision")
        if unfit:  # the revision waits for its pod, which fits on no node
            ready = {
                "type": "Ready",
                "status": "False",
                "reason": "RevisionMissing",
                "message": f'Configuration "{key[3]}-predictor" is waiting for a Revision to become ready.',
                "lastTransitionTime": _now(),
            }
            comp = {"latestCreatedRevision": rev, **({"latestReadyRevision": prev_rev} if prev_rev else {})}
        elif ok:
            traffic = [{"latestRevision": True, "percent": 100 if pct is None else pct, "revisionName": rev}]
            if pct is not None and prev_rev:
                traffic.append({"latestRevision": False, "percent": 100 - pct, "revisionName": prev_rev, "tag": "prev"})
            ready = {"type": "Ready", "status": "True", "lastTransitionTime": _now()}
            comp = {"latestCreatedRevision": rev, "latestReadyRevision": rev, "traffic": traffic}
        else:
            ready = {
                "type": "Ready",
                "status": "False",
                "reason": "RevisionFailed",
                "message": f'Revision "{rev}" failed with message: back-off pulling image.',
                "lastTransitionTime": _now(),
            }
            comp = (
                {
                    "latestCreatedRevision": rev,
                    "latestReadyRevision": prev_rev,
                    "traffic": [{"latestRevision": False, "percent": 100, "revisionName": prev_rev}],
                }
                if prev_rev
                else {"latestCreatedRevision": rev}
            )
        status = {
            "observedGeneration": gen,
            "url": f"http://{key[3]}.{key[2]}.example.com",
            "conditions": [{"type": "PredictorReady", "status": ready["status"], "lastTransitionTime": _now()}, ready],
            "components": {"predictor": comp},
        }
        self._write_status(key, obj, status)

    def _isvc_pods(self, key: tuple, gen: int, pred: dict, script: Script) -> str | None:
        """The predictor pod of generation ``gen``; returns the scheduler's message when it fits on no node."""
        ns, name = key[2], key[3]
        for k, o in list(self.objects.items()):
            if (
                k[1] == "pods"
                and k[2] == ns
                and (o["metadata"].get("labels") or {}).get("serving.kserve.io/inferenceservice") == name
            ):
                self._remove(k)
        meta = {
            "name": f"{name}-predictor-{gen:05d}-0",
            "namespace": ns,
            "labels": {"serving.kserve.io/inferenceservice": name, "component": "predictor"},
            "annotations": dict(self.objects[key]["metadata"].get("annotations") or {}),
        }
        spec = {
            k: copy.deepcopy(v)
            for k, v in pred.items()
            if k in ("containers", "nodeSelector", "affinity", "tolerations")
        }
        if any(k[1] == "nodes" for k in self.objects):
            node, unfit = self._schedule(spec)
            if unfit:
                pod = self._store(
                    ("", "pods", ns, meta["name"]),
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": meta,
                        "spec": spec,
                        "status": {
                            "phase": "Pending",
                            "conditions": [
                                {
                                    "type": "PodScheduled",
                                    "status": "False",
                                    "reason": "Unschedulable",
                                    "message": unfit,
                                    "lastTransitionTime": _now(),
                                }
                            ],
                        },
                    },
                    "ADDED",
                )
                self._event(pod, "FailedScheduling", unfit)
                return unfit
            spec["nodeName"] = node
        crash = script.behaviour == "crashloop"
        statuses = [
            {
                "name": c.get("name", "kserve-container"),
                "image": c.get("image", ""),
                "ready": not crash,
                "restartCount": 4 if crash else 0,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting"}}
                if crash
                else {"running": {}},
                **({"lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}} if crash else {}),
            }
            for c in pred.get("containers") or []
        ]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
            "status": {"phase": "Running", "containerStatuses": statuses},
        }
        self._store(("", "pods", ns, pod["metadata"]["name"]), pod, "ADDED")
        return None

    # -- watch ---------------------------------------------------------------------------------------------
    def watch_events(
        self, res: Resource, ns: str | None, since: int | None, labels: str | None, fields: str | None, deadline: float
    ):
        reqs = _selector(labels)

        def ok(key: tuple, obj: dict) -> bool:
            return (
                key[0] == res.group
                and key[1] == res.plural
                and (ns is None or key[2] == ns)
                and _matches(obj["metadata"].get("labels") or {}, reqs)
                and _field_ok(obj, fields)
            )

        with self.lock:
            if since is None:
                initial = [("ADDED", o) for k, o in sorted(self.objects.items()) if ok(k, o)]
                since = self.rv
            else:
                initial = []
        for ev in initial:
            yield ev[0], copy.deepcopy(ev[1])
        last = since
        while not self._stop.is_set():
            with self.cond:
                pending = [(rv, t, k, o) for rv, t, k, o in self.events if rv > last]
                if not pending:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self.cond.wait(min(left, 0.5))
                    continue
            for rv, t, k, o in pending:
                last = rv
                if ok(k, o):
                    yield t, o
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeKube

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------------------
    def _proxy(self, method: str, ns: str, target: str, rest: str) -> None:
        """The pod proxy: ``[scheme:]NAME[:PORT]``; a GET forwarded to the backend of the pod's labels."""
        import urllib.error
        import urllib.request

        fake = self.server_fake
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed", "the fake's pod proxy forwards GET only")
        parts = target.split(":")
        name = parts[1] if len(parts) == 3 else parts[0]
        with fake.lock:
            pod = fake.objects.get(("", "pods", ns, name))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
        labels = pod["metadata"].get("labels") or {}
        url = next((u for sel, u in fake.backends if all(labels.get(k) == v for k, v in sel.items())), None)
        if url is None:
            raise ApiError(
                503,
                "ServiceUnavailable",
                f"error trying to reach service: dial tcp {name}: connect: connection refused",
            )
        # the API server forwards the caller's headers but its own credentials (Authorization) and hop-by-hop ones
        skip = {"authorization", "host", "connection", "keep-alive", "transfer-encoding", "upgrade", "content-length"}
        forwarded = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        try:
            with urllib.request.urlopen(urllib.request.Request(url + rest, headers=forwarded), timeout=10) as r:
                code, ctype, data = r.status, r.headers.get("Content-Type", "text/plain"), r.read()
        except urllib.error.HTTPError as exc:
            code, ctype, data = exc.code, exc.headers.get("Content-Type", "text/plain"), exc.read()
        except OSError as exc:
            raise ApiError(503, "ServiceUnavailable", f"error trying to reach service: {exc}") from None
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        ctype = self.headers.get("Content-Type", "")
        try:
            if "yaml" in ctype:
                import yaml

                return yaml.safe_load(raw)
            return json.loads(raw)
        except Exception as exc:
            raise ApiError(400, "BadRequest", f"the request body could not be decoded: {exc}") from None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.server_fake
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fake.requests.append((method, self.path))
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            if method in ("POST", "PUT") and not isinstance(body, dict):
                raise ApiError(400, "BadRequest", f"the request body is a {type(body).__name__}, not an object")
            scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
            if fake.token and (scheme.lower() != "bearer" or given != fake.token):  # the scheme is case-insensitive
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self._route(method, url.path.rstrip("/") or "/", q, body)
        except ApiError as exc:
            self._send(exc.code, exc.body())
        except OSError:  # the client went away
            self.close_connection = True
        except Exception as exc:  # a bug of the fake: answer 500 (and keep it visible) rather than hang up
            fake.requests.append(("SERVER-ERROR", repr(exc)))
            self._send(500, ApiError(500, "InternalError", f"fake API server error: {exc!r}").body())

    def _discovery(self, path: str) -> Any:
        fake = self.server_fake
        if path == "/version":
            return {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "platform": "linux/amd64"}
        if path == "/openapi/v3":  # only what kubectl needs to trust the server's field validation
            gvs = sorted({(r.group, r.version) for r in fake.resources})
            return {
                "paths": {
                    (f"apis/{g}/{v}" if g else f"api/{v}"): {
                        "serverRelativeURL": f"/openapi/v3/{'apis/' + g if g else 'api'}/{v}?hash=0"
                    }
                    for g, v in gvs
                }
            }
        m3 = re.fullmatch(r"/openapi/v3/(?:api/(v1)|apis/([^/]+)/([^/]+))", path)
        if m3:
            group, version = ("", "v1") if m3.group(1) else (m3.group(2), m3.group(3))
            params = [
                {"name": n, "in": "query", "schema": {"type": "string"}}
                for n in ("dryRun", "fieldManager", "fieldValidation", "force")
            ]
            paths = {}
            for r in fake.resources:
                if r.group != group or r.version != version:
                    continue
                base = f"/apis/{group}/{version}" if group else f"/api/{version}"
                scope = "/namespaces/{namespace}" if r.namespaced else ""
                gvk = {"group": group, "version": version, "kind": r.kind}
                paths[f"{base}{scope}/{r.plural}/{{name}}"] = {
                    "patch": {
                        "operationId": f"patch{r.kind}",
                        "parameters": params,
                        "x-kubernetes-group-version-kind": gvk,
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            if not paths:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes (fake)", "version": "v1.32.0"},
                "paths": paths,
                "components": {"schemas": {}},
            }
        if path == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            }
        if path == "/apis":
            groups: dict[str, set] = {}
            for r in fake.resources:
                if r.group:
                    groups.setdefault(r.group, set()).add(r.version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in sorted(vs)],
                        "preferredVersion": {"groupVersion": f"{g}/{sorted(vs)[0]}", "version": sorted(vs)[0]},
                    }
                    for g, vs in sorted(groups.items())
                ],
            }
        m = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
        if m:
            group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
            rs = [r for r in fake.resources if r.group == group and r.version == version]
            if not rs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            resources = []
            for r in rs:
                resources.append(
                    {
                        "name": r.plural,
                        "singularName": r.kind.lower(),
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": verbs,
                        **({"shortNames": list(r.short)} if r.short else {}),
                    }
                )
                if r.status_sub:
                    resources.append(
                        {
                            "name": f"{r.plural}/status",
                            "singularName": "",
                            "namespaced": r.namespaced,
                            "kind": r.kind,
                            "verbs": ["get", "patch", "update"],
                        }
                    )
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources,
            }
        if m is None and re.fullmatch(r"/apis/[^/]+", path):
            g = path.split("/")[2]
            vs = sorted({r.version for r in fake.resources if r.group == g})
            if not vs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return {
                "kind": "APIGroup",
                "apiVersion": "v1",
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
            }
        return None

    def _route(self, method: str, path: str, q: dict, body: Any) -> None:
        fake = self.server_fake
        proxied = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/proxy(/.*)?", path)
        if proxied:
            return self._proxy(method, proxied.group(1), proxied.group(2), proxied.group(3) or "/")
        if method == "GET":
            disc = self._discovery(path)
            if disc is not None:
                return self._send(200, disc)
        m = re.fullmatch(
            r"/(?:api/(v1)|apis/([^/]+)/([^/]+))(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?(?:/([^/]+))?", path
        )
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
        ns, plural, name, sub = m.group(4), m.group(5), m.group(6), m.group(7)
        # /api/v1/namespaces/NAME (a namespace itself) parses as ns=None, plural=namespaces, name=NAME
        res = fake.by_plural.get((group, plural))
        if res is None or res.version != version:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not res.namespaced:
            ns = None
        if sub and sub != "status":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        watch = q.get("watch") in ("1", "true")
        verb = {
            "GET": "watch" if watch else ("get" if name else "list"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete",
        }[method]
        for fverb, fplural, fns in fake.forbidden:
            if fverb == verb and fplural == plural and (fns is None or fns == ns):
                gr = f"{plural}.{group}" if group else plural
                what = f'{gr} "{name}"' if name else gr
                scope = f' in the namespace "{ns}"' if ns else " at the cluster scope"
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{what} is forbidden: User "system:serviceaccount:ci:deployer" cannot {verb} resource '
                    f'"{plural}" in API group "{group}"{scope}',
                    {"name": name or "", "group": group, "kind": plural},
                )
        manager = q.get("fieldManager") or (self.headers.get("User-Agent", "unknown").split("/")[0])
        strict = q.get("fieldValidation") == "Strict"
        dry = q.get("dryRun") == "All"
        if method == "GET" and watch:
            return self._watch(res, ns, q)
        if method == "GET" and name:
            with fake.lock:
                fake._check_ns(res, ns)
                obj = fake.objects.get((group, plural, ns, name))
                if obj is None:
                    raise fake._not_found(res, name)
                return self._send(200, copy.deepcopy(obj))
        if method == "GET":
            if ns is not None:
                with fake.lock:
                    fake._check_ns(res, ns)
            items, rv = fake.list_objects(res, ns, q.get("labelSelector"), q.get("fieldSelector"))
            return self._send(
                200,
                {
                    "kind": f"{res.kind}List",
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(rv)},
                    "items": items,
                },
            )
        if method == "POST" and not name:
            return self._send(201, fake.create(res, ns, body or {}, manager, strict, dry))
        if method == "PUT" and name:
            return self._send(200, fake.update(res, ns, name, body or {}, manager, strict, dry, sub or ""))
        if method == "PATCH" and name:
            force = q.get("force") in ("true", "1")
            ctype = self.headers.get("Content-Type", "")
            with fake.lock:
                existed = (group, plural, ns, name) in fake.objects
                out = fake.patch(res, ns, name, ctype, body, q.get("fieldManager"), force, strict, dry, sub or "")
            return self._send(200 if existed else 201, out)
        if method == "DELETE" and name:
            obj = fake.delete(res, ns, name)
            return self._send(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": name, "group": group, "kind": plural, "uid": obj["metadata"].get("uid")},
                },
            )
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {path}")

    def _watch(self, res: Resource, ns: str | None, q: dict) -> None:
        fake = self.server_fake
        if ns is not None:
            with fake.lock:
                fake._check_ns(res, ns)
        since = q.get("resourceVersion")
        since_rv = int(since) if since not in (None, "", "0") else None
        timeout = min(float(q.get("timeoutSeconds") or 60), 300)
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for etype, obj in fake.watch_events(
                res, ns, since_rv, q.get("labelSelector"), q.get("fieldSelector"), deadline
            ):
                line = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away (ssl.SSLError is an OSError too)
            self.close_connection = True
