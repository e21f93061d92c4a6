"""Judging a rollout by what really runs, and waiting for it.

A Deployment is rolled out when the controller has seen its latest
generation, every replica runs the new template, the old pods are gone, and
the **new ReplicaSet's** available replicas reach the desired count. It has
failed when the controller reports ``ProgressDeadlineExceeded``, or when a
pod of the new ReplicaSet is crash-looping, cannot pull its image, or fits on
no node (the scheduler's ``PodScheduled=False``, reason ``Unschedulable``)
unless a cluster autoscaler reported that it is adding a node for it. These
never fix themselves; waiting for the deadline would only waste time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from .._progress import bar
from ..exceptions import ModelOpsError
from .kube import Kube
from .manifests import LABEL_PREFIX

__all__ = ["Verdict", "judge", "wait_rollout", "revision", "owned_replicasets", "wait_inference_service"]

REVISION = "deployment.kubernetes.io/revision"
FATAL_WAITING = {
    "CrashLoopBackOff": "is crash-looping",
    "ErrImagePull": "cannot pull its image",
    "ImagePullBackOff": "cannot pull its image",
    "InvalidImageName": "has an invalid image name",
    "CreateContainerConfigError": "has a configuration error",
    "CreateContainerError": "cannot be created",
}


@dataclass
class Verdict:
    state: str  # "progressing" | "done" | "failed"
    message: str
    desired: int = 0
    ready: int = 0
    revision: int = 0
    details: dict = field(default_factory=dict)


def revision(obj: dict) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def owned_replicasets(kube: Kube, dep: dict) -> list[dict]:
    meta = dep["metadata"]
    sel = (dep.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    items = kube.list("ReplicaSet", meta["namespace"], labels=sel)
    uid = meta.get("uid")
    own = [rs for rs in items if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])]
    return sorted(own, key=revision)


def _selectors(spec: dict) -> str:
    """A pod's node selector and required node affinity, in words (``k in (a, b)``)."""
    parts = [f"{k}={v}" for k, v in (spec.get("nodeSelector") or {}).items()]
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    ) or {}
    terms = []
    for term in required.get("nodeSelectorTerms") or []:
        exprs = []
        for e in (term.get("matchExpressions") or []) + (term.get("matchFields") or []):
            key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
            exprs.append(
                {
                    "In": f"{key} in ({', '.join(values)})",
                    "NotIn": f"{key} not in ({', '.join(values)})",
                    "Exists": f"a label {key}",
                    "DoesNotExist": f"no label {key}",
                    "Gt": f"{key} > {values[0] if values else '?'}",
                    "Lt": f"{key} < {values[0] if values else '?'}",
                }.get(op, f"{key} {op} {values}")
            )
        if exprs:
            terms.append(" and ".join(exprs))
    if terms:
        parts.append(" or ".join(terms))
    return " and ".join(parts) or "its node selector"


def _requested(spec: dict, resources: list[str]) -> str:
    """``name=quantity`` of the given resources, as the pod's containers request them."""
    out = []
    for r in resources:
        for c in spec.get("containers") or []:
            res = c.get("resources") or {}
            q = (res.get("requests") or {}).get(r, (res.get("limits") or {}).get(r))
            if q is not None:
                out.append(f"{r}={q}")
    return ", ".join(out)


def _scale_up_triggered(kube: Kube, pod: dict) -> bool:
    """True when a cluster autoscaler's latest word on ``pod`` is that it is adding a node for it."""
    meta = pod["metadata"]
    try:
        events = (
            kube.request(
                "GET",
                "Event",
                namespace=meta["namespace"],
                query=[("fieldSelector", f"involvedObject.name={meta['name']}")],
            ).get("items")
            or []
        )
    except ModelOpsError:  # events may be forbidden: judge by the pod alone
        return False
    verdicts = [e for e in events if e.get("reason") in ("TriggeredScaleUp", "NotTriggerScaleUp")]
    verdicts.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    return bool(verdicts) and verdicts[-1].get("reason") == "TriggeredScaleUp"


def _unschedulable(kube: Kube, pod: dict, rs: dict | None) -> str | None:
    """Why the scheduler finds no node for ``pod``, naming the profile and its selectors; None when it was placed
    (or a cluster autoscaler is adding a node for it)."""
    cond: dict = next(
        (c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"), {}
    )
    if cond.get("status") != "False" or cond.get("reason") != "Unschedulable" or _scale_up_triggered(kube, pod):
        return None
    spec = pod.get("spec") or {}
    ann = (
        pod["metadata"].get("annotations")
        or ((((rs or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations")
        or {}
    )
    profile = ann.get(f"{LABEL_PREFIX}/profile")
    fit = (cond.get("message") or "").split(" preemption:")[0].strip().rstrip(".")
    reasons = fit.split(": ", 1)[1] if ": " in fit else fit
    clauses = []
    if "node affinity/selector" in reasons:
        clauses.append(f"no node matches {_selectors(spec)}")
    short = sorted(set(re.findall(r"Insufficient ([^\s,.]+(?:\.[^\s,.]+)*)", reasons)))
    if short:
        clauses.append(f"no node has enough free {', '.join(short)} (the pod requests {_requested(spec, short)})")
    taints = re.findall(r"untolerated taint(?:\(s\)| (\{[^}]*\}))", reasons)
    if taints:
        shown = ", ".join(sorted({t for t in taints if t}))
        clauses.append("the nodes carry taints it does not tolerate" + (f" ({shown})" if shown else ""))
    if not clauses:
        clauses.append("no node can take it")
    who = f" for profile {profile}" if profile else ""
    return f"pod {pod['metadata']['name']} cannot be scheduled: {' and '.join(clauses)}{who} (Unschedulable: {fit})"


def _pod_problem(kube: Kube, namespace: str, rs: dict | None = None, *, labels: dict | None = None) -> str | None:
    """The first crash loop, image pull failure or unschedulable pod among the pods of ``rs`` (or with ``labels``)."""
    if labels is None:
        labels = ((rs or {}).get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    if not labels:
        return None
    for pod in kube.list("Pod", namespace, labels=labels):
        unplaced = _unschedulable(kube, pod, rs)
        if unplaced:
            return unplaced
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason", "")
            if reason in FATAL_WAITING:
                detail = waiting.get("message") or ""
                last = (cs.get("lastState") or {}).get("terminated") or {}
                if reason == "CrashLoopBackOff" and last:
                    detail = f"last exit code {last.get('exitCode')}" + (
                        f", {last['reason']}" if last.get("reason") else ""
                    )
                image = cs.get("image") or ""
                tail = f" ({reason}{': ' + detail if detail else ''})"
                return (
                    f"container '{cs.get('name')}' of pod {pod['metadata']['name']} "
                    f"{FATAL_WAITING[reason]}{' ' + image if 'image' in FATAL_WAITING[reason] else ''}{tail}"
                )
    return None


def judge(kube: Kube, dep: dict) -> Verdict:
    """Where a Deployment's rollout stands, judged by its new ReplicaSet and pods."""
    meta, spec, status = dep["metadata"], dep.get("spec") or {}, dep.get("status") or {}
    desired = int(spec.get("replicas", 1))
    gen, observed = int(meta.get("generation", 0)), int(status.get("observedGeneration", 0))
    rev = revision(dep)
    if observed < gen:
        return Verdict("progressing", "waiting for the controller to see the new spec", desired, 0, rev)
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "Progressing"
            and cond.get("status") == "False"
            and cond.get("reason") == "ProgressDeadlineExceeded"
        ):
            rsets = owned_replicasets(kube, dep)
            new = [rs for rs in rsets if revision(rs) == rev] or rsets[-1:]
            problem = _pod_problem(kube, meta["namespace"], new[0]) if new else None
            why = f"; {problem}" if problem else ""
            return Verdict(
                "failed",
                f"the rollout exceeded its progress deadline "
                f"({spec.get('progressDeadlineSeconds', 600)} s): "
                f"{cond.get('message', '')}".rstrip(": ")
                + why,
                desired,
                int(status.get("availableReplicas", 0)),
                rev,
            )
    rsets = owned_replicasets(kube, dep)
    new = [rs for rs in rsets if revision(rs) == rev] or rsets[-1:]
    if not new:
        return Verdict("progressing", "waiting for the new ReplicaSet", desired, 0, rev)
    new_rs = new[0]
    new_avail = int((new_rs.get("status") or {}).get("availableReplicas", 0))
    problem = _pod_problem(kube, meta["namespace"], new_rs) if new_avail < desired else None
    if problem:
        return Verdict("failed", problem, desired, new_avail, rev)
    updated = int(status.get("updatedReplicas", 0))
    total = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    if updated < desired:
        msg = f"{updated} of {desired} replicas updated"
    elif available < updated or new_avail < desired:  # before old pods: they wait for the new ones
        msg = f"{min(new_avail, available)} of {desired} updated replicas available"
    elif total > updated:
        msg = f"{total - updated} old replicas are pending termination"
    else:
        return Verdict(
            "done", f"{new_avail} of {desired} replicas of revision {rev} available", desired, new_avail, rev
        )
    return Verdict("progressing", msg, desired, new_avail, rev)


def wait_rollout(
    kube: Kube, name: str, namespace: str, *, timeout: float, progress: bool | None = None, poll: float = 2.0
) -> Verdict:
    """Wait until the rollout of Deployment ``name`` is done or failed, at most ``timeout`` seconds.

    Wakes on watch events of the Deployment, and at least every ``poll``
    seconds to look at the pods.
    """
    deadline = time.monotonic() + timeout
    pbar = None
    shown = 0
    try:
        while True:
            dep = kube.get("Deployment", name, namespace)
            if dep is None:
                return Verdict("failed", f"the Deployment {name} disappeared during the rollout")
            verdict = judge(kube, dep)
            if pbar is None and verdict.desired:
                pbar = bar(total=verdict.desired, desc=f"rollout {name}", unit="pod", progress=progress)
            if pbar is not None:
                if verdict.ready > shown:
                    pbar.update(verdict.ready - shown)
                    shown = verdict.ready
                pbar.set_postfix_str(verdict.message[:60])
            if verdict.state != "progressing":
                return verdict
            left = deadline - time.monotonic()
            if left <= 0:
                verdict.state = "failed"
                verdict.message = f"the rollout did not finish within {timeout:g} s ({verdict.message})"
                return verdict
            rv = dep["metadata"].get("resourceVersion")
            for _ in kube.watch(
                "Deployment", namespace, name=name, resource_version=rv, timeout=max(min(left, poll), 1.0)
            ):
                break
    finally:
        if pbar is not None:
            pbar.close()


def _ready_condition(obj: dict) -> dict:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return {}


def wait_inference_service(kube: Kube, name: str, namespace: str, *, timeout: float, poll: float = 2.0) -> Verdict:
    """Wait until an InferenceService reports Ready=True for its latest generation."""
    deadline = time.monotonic() + timeout
    while True:
        obj = kube.get("InferenceService", name, namespace)
        if obj is None:
            return Verdict("failed", f"the InferenceService {name} disappeared")
        gen = int(obj["metadata"].get("generation", 0))
        observed = int((obj.get("status") or {}).get("observedGeneration", 0))
        cond = _ready_condition(obj)
        if observed >= gen and cond.get("status") == "True":
            # KServe can report Ready while predictor pods crash-loop: look at the pods too
            problem = _pod_problem(kube, namespace, labels={"serving.kserve.io/inferenceservice": name})
            if problem:
                return Verdict("failed", f"the InferenceService reports Ready but {problem}")
            return Verdict("done", "the InferenceService is Ready", 1, 1)
        if observed >= gen and cond.get("status") != "True":
            # a predictor pod that fits on no node (or crash-loops) leaves the revision waiting forever
            problem = _pod_problem(kube, namespace, labels={"serving.kserve.io/inferenceservice": name})
            if problem:
                return Verdict("failed", f"the InferenceService is not ready: {problem}")
        if (
            observed >= gen
            and cond.get("status") == "False"
            and cond.get("reason") in ("RevisionFailed", "ProgressDeadlineExceeded", "ContainerMissing")
        ):
            return Verdict(
                "failed",
                f"the InferenceService is not ready: {cond.get('reason')}: {cond.get('message', '')}".rstrip(": "),
            )
        left = deadline - time.monotonic()
        if left <= 0:
            return Verdict(
                "failed",
                f"the InferenceService was not Ready within {timeout:g} s "
                f"({cond.get('reason') or 'no Ready condition yet'})",
            )
        rv = obj["metadata"].get("resourceVersion")
        for _ in kube.watch(
            "InferenceService", namespace, name=name, resource_version=rv, timeout=max(min(left, poll), 1.0)
        ):
            break
