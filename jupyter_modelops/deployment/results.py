"""Result objects of the deploy verbs: text, HTML and dict views."""

from __future__ import annotations

import time
from typing import Any

from .._html import Result, esc, page, table
from .manifests import LABEL_PREFIX, DeploySpec, to_yaml

__all__ = ["Deployment", "DeploymentSet", "DeploymentStatus", "DeploymentList"]

_STATE_CLASS = {
    "deployed": "pass",
    "canary": "warn",
    "rolled-back": "warn",
    "failed": "fail",
    "error": "fail",
    "dry-run": "",
    "applied": "",
    "removed": "",
}


_DEFAULT: Any = object()


class Deployment(Result):
    """One deployment of a model version to one cluster (or a dry run of it).

    Attributes
    ----------
    name, namespace, cluster, ref, model, version, image, digest, profile, mode : str
    replicas : int
    canary : int or None
        Asked traffic percent of a canary.
    state : str
        ``dry-run``, ``applied``, ``deployed``, ``canary``, ``rolled-back``, ``failed``, ``removed`` or
        ``error`` (this cluster could not be reached or refused; see ``reason``).
    reason : str
        What happened, in one sentence.
    track : str
        ``stable`` or ``canary``.
    running : str or None
        The version that runs on this track after this event (after an automatic rollback, the
        earlier version; None when nothing runs there any more).
    revision : int or None
        Deployment revision (plain mode).
    manifests : list of dict
        The objects rendered (and applied unless a dry run); ``yaml`` gives them as YAML.
    analysis : dict or None
        After an automated canary analysis: its decision, criteria and evidence (numbers and intervals).
    """

    def __init__(
        self,
        spec: DeploySpec,
        *,
        cluster: str,
        state: str,
        manifests: list[dict],
        reason: str = "",
        revision: int | None = None,
        traffic_share: float | None = None,
        running: Any = _DEFAULT,
        closes_canary: bool = False,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.namespace = spec.namespace
        self.cluster = cluster
        self.ref = spec.ref
        self.model = spec.model
        self.version = spec.version
        self.image = spec.image
        self.digest = spec.digest
        self.profile = spec.profile.name
        self.mode = spec.mode
        self.replicas = spec.canary_replicas if spec.canary is not None and spec.mode == "deployment" else spec.replicas
        self.canary = spec.canary
        self.state = state
        self.reason = reason
        self.revision = revision
        self.traffic_share = traffic_share
        self.manifests = manifests
        self.elapsed: float | None = None
        self.at = time.time()
        self.kubeconfig: str | None = None  # the kubeconfig used, for the verbs below
        self.track = "canary" if spec.canary is not None else "stable"
        # the version that runs on this track after this event (None: nothing runs there)
        self.running = (
            (spec.ref if state in ("deployed", "applied", "canary") else None) if running is _DEFAULT else running
        )
        self.closes_canary = closes_canary
        self.analysis: dict | None = None

    def with_analysis(self, analysis: dict) -> "Deployment":
        """Attach a canary analysis that decided this event; its decision leads the reason."""
        self.analysis = analysis
        self.reason = f"canary analysis decided to {analysis['decision']} ({analysis['reason']}); {self.reason}"
        return self

    @classmethod
    def from_error(cls, spec: DeploySpec, cluster: str, exc: Exception) -> "Deployment":
        return cls(spec, cluster=cluster, state="error", manifests=[], reason=str(exc))

    @property
    def ok(self) -> bool:
        return self.state in ("dry-run", "applied", "deployed", "canary", "removed")

    @property
    def yaml(self) -> str:
        return to_yaml(self.manifests)

    @property
    def url(self) -> str:
        return f"http://{self.name}.{self.namespace}.svc.cluster.local"

    # -- verbs on this deployment -------------------------------------------------------------
    def promote(self, **kwargs: Any) -> "Deployment":
        from .core import promote

        kwargs.setdefault("kubeconfig", self.kubeconfig)
        return promote(self.name, cluster=self.cluster, namespace=self.namespace, **kwargs)

    def rollback(self, **kwargs: Any) -> "Deployment":
        from .core import rollback

        kwargs.setdefault("kubeconfig", self.kubeconfig)
        return rollback(self.name, cluster=self.cluster, namespace=self.namespace, **kwargs)

    def status(self, **kwargs: Any) -> "DeploymentStatus":
        from .core import status

        kwargs.setdefault("kubeconfig", self.kubeconfig)
        return status(self.name, cluster=self.cluster, namespace=self.namespace, **kwargs)

    def undeploy(self, **kwargs: Any) -> "Deployment":
        from .core import undeploy

        kwargs.setdefault("kubeconfig", self.kubeconfig)
        return undeploy(self.name, cluster=self.cluster, namespace=self.namespace, **kwargs)

    # -- views ----------------------------------------------------------------------------------
    def record(self) -> dict:
        """What the registry keeps about this event."""
        return {k: v for k, v in self.to_dict().items() if k != "manifests"}

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "cluster": self.cluster,
            "ref": self.ref,
            "model": self.model,
            "version": self.version,
            "image": self.image,
            "digest": self.digest,
            "profile": self.profile,
            "mode": self.mode,
            "replicas": self.replicas,
            "canary": self.canary,
            "traffic_share": self.traffic_share,
            "state": self.state,
            "reason": self.reason,
            "revision": self.revision,
            "elapsed_s": self.elapsed,
            "at": self.at,
            "track": self.track,
            "running": self.running,
            "closes_canary": self.closes_canary,
            "manifests": self.manifests,
            "analysis": self.analysis,
        }

    def _rows(self) -> list[list]:
        rows = [
            ["state", self.state],
            ["cluster", self.cluster],
            ["namespace", self.namespace],
            ["model", self.ref],
            ["image", self.image],
            ["profile", self.profile],
            ["mode", self.mode],
            ["replicas", self.replicas],
        ]
        if self.canary is not None:
            rows.append(["canary", f"{self.canary}%"])
        if self.revision:
            rows.append(["revision", self.revision])
        rows.append(["why", self.reason])
        for check in (self.analysis or {}).get("checks") or []:
            rows.append([check["name"], f"{check['verdict']}: {check['detail']}"])
        return rows

    def to_html(self) -> str:
        cls = _STATE_CLASS.get(self.state, "")
        rows = [[k, f'<span class="{cls}">{esc(v)}</span>' if k == "state" else esc(v)] for k, v in self._rows()]
        body = table(rows, ["", ""], raw_cols=[1])
        if self.manifests:  # one folded block per manifest: the kinds at a glance, any YAML a click away
            body += f"<h4>{len(self.manifests)} manifests</h4>" + "".join(
                f"<details><summary>{esc(o['kind'])}/{esc(o['metadata']['name'])}</summary>"
                f"<pre>{esc(to_yaml([o]))}</pre></details>"
                for o in self.manifests
            )
        return page(f"Deployment {self.name}", body, subtitle=f"{self.ref} on {self.cluster}")

    def to_text(self) -> str:
        text = "\n".join(f"{k:>10}: {v}" for k, v in self._rows())
        if self.state == "dry-run":
            text += "\n" + self.yaml
        return text

    def _summary(self) -> str:
        return f"Deployment {self.name} {self.ref} on {self.cluster}/{self.namespace}: {self.state}"


class DeploymentSet(Result):
    """The same version deployed to several clusters; one :class:`Deployment` per cluster."""

    def __init__(self, items: list[Deployment]) -> None:
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, cluster: str) -> Deployment:
        for d in self.items:
            if d.cluster == cluster:
                return d
        raise KeyError(cluster)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.items)

    @property
    def yaml(self) -> str:
        return "".join(f"# cluster: {d.cluster}\n{d.yaml}" for d in self.items)

    def to_dict(self) -> dict:
        return {"deployments": [d.to_dict() for d in self.items], "ok": self.ok}

    def _rows(self) -> list[list]:
        return [[d.cluster, d.name, d.ref, d.profile, d.state, d.reason] for d in self.items]

    def to_html(self) -> str:
        return page(
            "Deployments",
            table(self._rows(), ["cluster", "name", "model", "profile", "state", "why"]),
            subtitle=f"{sum(d.ok for d in self.items)} of {len(self.items)} clusters ok",
        )

    def to_text(self) -> str:
        return "\n".join(f"{d.cluster}: {d.state} - {d.reason}" for d in self.items) + (
            "\n" + self.yaml if any(d.state == "dry-run" for d in self.items) else ""
        )

    def _summary(self) -> str:
        return f"DeploymentSet {len(self.items)} clusters, {sum(d.ok for d in self.items)} ok"


class DeploymentStatus(Result):
    """What runs for one deployment, read from the cluster."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    @classmethod
    def from_deployment(
        cls, cluster: str, dep: dict, verdict: Any, revisions: list[dict], canary: dict | None
    ) -> "DeploymentStatus":
        meta, spec, st = dep["metadata"], dep.get("spec") or {}, dep.get("status") or {}
        ann = meta.get("annotations") or {}
        can = None
        if canary is not None:
            cst = canary.get("status") or {}
            can = {
                "ref": (canary["metadata"].get("annotations") or {}).get(f"{LABEL_PREFIX}/ref", ""),
                "replicas": (canary.get("spec") or {}).get("replicas", 0),
                "available": cst.get("availableReplicas", 0),
            }
            total = int(st.get("availableReplicas", 0)) + int(can["available"])
            can["traffic_share"] = (int(can["available"]) / total) if total else 0.0
        return cls(
            cluster=cluster,
            name=meta["name"],
            namespace=meta["namespace"],
            kind="Deployment",
            ref=ann.get(f"{LABEL_PREFIX}/ref", ""),
            image=ann.get(f"{LABEL_PREFIX}/image", ""),
            profile=ann.get(f"{LABEL_PREFIX}/profile", ""),
            rollout=verdict.state,
            message=verdict.message,
            revision=verdict.revision,
            desired=int(spec.get("replicas", 0)),
            ready=int(st.get("readyReplicas", 0)),
            available=int(st.get("availableReplicas", 0)),
            updated=int(st.get("updatedReplicas", 0)),
            revisions=revisions,
            canary=can,
            conditions=[
                {k: c.get(k) for k in ("type", "status", "reason", "message")} for c in st.get("conditions") or []
            ],
        )

    @classmethod
    def from_inference_service(cls, cluster: str, isvc: dict) -> "DeploymentStatus":
        meta, st = isvc["metadata"], isvc.get("status") or {}
        ann = meta.get("annotations") or {}
        pred = (isvc.get("spec") or {}).get("predictor") or {}
        conds = st.get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
        pct = pred.get("canaryTrafficPercent")
        return cls(
            cluster=cluster,
            name=meta["name"],
            namespace=meta["namespace"],
            kind="InferenceService",
            ref=ann.get(f"{LABEL_PREFIX}/ref", ""),
            image=ann.get(f"{LABEL_PREFIX}/image", ""),
            profile=ann.get(f"{LABEL_PREFIX}/profile", ""),
            rollout="done" if ready else "progressing",
            message="Ready" if ready else "not ready",
            revision=None,
            desired=pred.get("minReplicas"),
            ready=None,
            available=None,
            updated=None,
            revisions=[],
            canary={"traffic_percent": pct} if pct is not None else None,
            url=st.get("url"),
            traffic=((st.get("components") or {}).get("predictor") or {}).get("traffic"),
            conditions=[{k: c.get(k) for k in ("type", "status", "reason", "message")} for c in conds],
        )

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def to_html(self) -> str:
        rows = [
            [k, self.__dict__.get(k)]
            for k in ("ref", "image", "profile", "rollout", "message", "revision", "desired", "ready", "available")
        ]
        body = table(rows, ["", ""])
        if self.revisions:
            body += "<h4>Revisions</h4>" + table(
                [[r["revision"], r["ref"], r["image"], r["replicas"], r["available"]] for r in self.revisions],
                ["revision", "model", "image", "pods", "available"],
            )
        if self.canary:
            body += "<h4>Canary</h4>" + table([[k, v] for k, v in self.canary.items()], ["", ""])
        return page(f"Status of {self.name}", body, subtitle=f"{self.kind} on {self.cluster}/{self.namespace}")

    def to_text(self) -> str:
        lines = [
            f"{self.kind} {self.name} on {self.cluster}/{self.namespace}: {self.rollout} - {self.message}",
            f"  model {self.ref}  image {self.image}  profile {self.profile}",
        ]
        if self.available is not None:
            lines.append(f"  replicas: {self.available} available of {self.desired} (revision {self.revision})")
        for r in self.revisions:
            lines.append(f"  revision {r['revision']}: {r['ref']} ({r['available']}/{r['replicas']} available)")
        if self.canary:
            lines.append(f"  canary: {self.canary}")
        analysis = self.__dict__.get("analysis")
        if analysis:
            lines.append(f"  last canary analysis ({analysis.get('ref')}): {analysis['decision']}")
            lines += [f"    {c['verdict']}: {c['detail']}" for c in analysis.get("checks") or []]
        return "\n".join(lines)

    def _summary(self) -> str:
        return f"DeploymentStatus {self.name} {self.ref} on {self.cluster}: {self.rollout}"


class DeploymentList(Result):
    """Deployments, live from a cluster or from the registry's records."""

    def __init__(self, rows: list[dict], *, source: str) -> None:
        self.rows = rows
        self.source = source

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def _header(self) -> list[str]:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        return keys

    def to_dict(self) -> dict:
        return {"deployments": self.rows, "source": self.source}

    def to_html(self) -> str:
        head = self._header()
        return page(
            "Deployments",
            table([[r.get(k) for k in head] for r in self.rows], head) if self.rows else "<p>None.</p>",
            subtitle=self.source,
        )

    def to_text(self) -> str:
        if not self.rows:
            return f"no deployments ({self.source})"
        head = self._header()
        rows = [head] + [["" if r.get(k) is None else str(r.get(k)) for k in head] for r in self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def _summary(self) -> str:
        return f"DeploymentList {len(self.rows)} from {self.source}"
