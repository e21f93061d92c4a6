"""Watch policies: act on a deployment's alarms, on a schedule, with the evidence on record.

:func:`watch` installs a policy for one deployment, run by the same scheduler
as the reports (a crontab line, or a Kubernetes CronJob); :func:`watches` lists
them and :func:`unwatch` removes one. Each run (``python -m
jupyter_modelops.monitoring.watch run ...``, the command the schedule holds)
reads the deployment's current health from its model server's ``/metrics``
and acts only on an alarm:

- ``modelops_drift_alarm`` at 1 (the server's sequential drift alarm),
- ``modelops_circuit_open`` at 1 (the model keeps failing),
- with ``max_error_rate``: the error rate of the requests answered since the
  previous run, when its Wilson interval lies wholly above the limit.

The action is one of ``notify`` (post the evidence to a webhook), ``rollback``
(the deployment returns to the version it ran before) or ``alias:NAME`` (the
registry alias NAME moves to that earlier version, so whatever follows
``model@NAME`` picks it up). One alarm on one version is acted on once. Every
action is recorded in the registry (record kind ``watch``) with its evidence.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Sequence

from .._html import Result, esc, page, table
from ..exceptions import ModelNotFoundError, ModelOpsError, ValidationError, suggest

__all__ = ["Watch", "WatchList", "WatchRun", "run_watch", "unwatch", "watch", "watches"]

ACTIONS = ("notify", "rollback", "alias:NAME")
TARGETS = ("local", "kubernetes")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- results -----------------------------------------------------------------------------------------
class Watch(Result):
    """A watch policy (as installed, or removed)."""

    def __init__(self, entry: dict) -> None:
        self.entry = entry
        self.id = entry["id"]

    def to_dict(self) -> dict:
        return {k: v for k, v in self.entry.items() if k != "manifest"}

    def to_text(self) -> str:
        e = self.entry
        lines = [self._summary()]
        if e.get("crontab_line"):
            lines.append(e["crontab_line"])
        return "\n".join(lines)

    def to_html(self) -> str:
        e = self.entry
        rows = [
            [k, e.get(k)]
            for k in ("id", "deployment", "cluster", "ref", "on_alarm", "notify", "max_error_rate", "cron", "target")
        ]
        return page("Watch" + (" (removed)" if e.get("removed") else ""), table(rows, ["", ""]))

    def _summary(self) -> str:
        e = self.entry
        state = "removed" if e.get("removed") else ("dry run" if e.get("dry_run") else "installed")
        return (
            f"Watch {e['id']} of {e['deployment']} on {e['cluster']}: on alarm {e['on_alarm']}, "
            f"'{e['cron']}' ({e['description']}) target={e['target']} {state}"
        )


class WatchList(Result):
    """The installed watch policies."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict:
        return {"watches": [{k: v for k, v in w.items() if k != "manifest"} for w in self.items]}

    def to_text(self) -> str:
        if not self.items:
            return "no watches"
        return "\n".join(
            f"{w['id']}  {w['deployment']}  {w['cluster']}  {w['on_alarm']}  '{w['cron']}'  {w['target']}"
            for w in self.items
        )

    def to_html(self) -> str:
        rows = [[w["id"], w["deployment"], w["cluster"], w["on_alarm"], w["cron"], w["target"]] for w in self.items]
        return page(
            "Watches", table(rows, ["id", "deployment", "cluster", "on alarm", "cron", "target"]) if rows else "none"
        )

    def _summary(self) -> str:
        return f"{len(self.items)} watch(es)"


class WatchRun(Result):
    """One run of a watch: the alarms seen (with their evidence) and the action taken, if any."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.alarm = bool(data["alarms"])
        self.action = data.get("action")
        self.outcome = data.get("outcome")

    def to_dict(self) -> dict:
        return dict(self.data)

    def to_text(self) -> str:
        lines = [self._summary()]
        lines += [f"  alarm: {a['detail']}" for a in self.data["alarms"]]
        return "\n".join(lines)

    def to_html(self) -> str:
        rows = [[a["signal"], a["detail"]] for a in self.data["alarms"]]
        return page(
            f"Watch run of {esc(self.data['deployment'])}",
            table(rows, ["signal", "evidence"]) if rows else "no alarm",
            subtitle=esc(self.outcome or "no action"),
        )

    def _summary(self) -> str:
        d = self.data
        if not self.alarm:
            return f"WatchRun {d['deployment']} ({d.get('ref')}): healthy, no action"
        return f"WatchRun {d['deployment']} ({d.get('ref')}): alarm; {d.get('action')}: {d.get('outcome')}"


# -- checks ------------------------------------------------------------------------------------------
def _check_action(on_alarm: Any) -> tuple[str, str | None]:
    if isinstance(on_alarm, str) and on_alarm in ("notify", "rollback"):
        return on_alarm, None
    if isinstance(on_alarm, str) and on_alarm.startswith("alias:"):
        from ..registry._refs import check_alias

        return "alias", check_alias(on_alarm.split(":", 1)[1], arg="on_alarm")
    raise ValidationError(f"on_alarm is {on_alarm!r}; expected one of {', '.join(ACTIONS)} (e.g. 'alias:production').")


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValidationError(f"{what} is {value!r}; expected a deployment name (letters, digits, '-', '_', '.').")
    return value


def _check_rate(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValidationError(f"max_error_rate is {value!r}; expected a number in [0, 1) such as 0.05.")
    return float(value)


def _check_metrics(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+\S*$", value):
        raise ValidationError(f"metrics is {value!r}; expected the http(s) URL of the model server's /metrics.")
    return value


def _index_path() -> Path:
    from ..config import home

    return home() / "watches.json"


def _command(entry: dict, *, python: str | None = None) -> list[str]:
    """The argv a schedule runs; every value checked so one argv is one crontab line and one CronJob command."""
    from ..reports.scheduling import check_command_value as ok

    argv = [
        ok(python or sys.executable, "The Python interpreter path"),
        "-m",
        "jupyter_modelops.monitoring.watch",
        "run",
        "--id",
        ok(entry["id"], "The watch id", option_value=True),
        "--deployment",
        ok(entry["deployment"], "The deployment name", option_value=True),
        "--cluster",
        ok(entry["cluster"], "The cluster", option_value=True),
        "--namespace",
        ok(entry["namespace"], "The namespace", option_value=True),
        "--on-alarm",
        ok(entry["on_alarm"], "on_alarm", option_value=True),
    ]
    for key, flag in (("notify", "--notify"), ("metrics", "--metrics"), ("kubeconfig", "--kubeconfig")):
        if entry.get(key):
            argv += [flag, ok(entry[key], f"The {key} value", option_value=True)]
    if entry.get("max_error_rate") is not None:
        argv += ["--max-error-rate", repr(float(entry["max_error_rate"]))]
    return argv


# -- the API -----------------------------------------------------------------------------------------
def watch(
    deployment: Any,
    *,
    on_alarm: str = "notify",
    notify: str | None = None,
    cron: str = "*/5 * * * *",
    cluster: str = "local",
    namespace: str = "default",
    metrics: str | None = None,
    max_error_rate: float | None = None,
    target: str = "local",
    image: str | None = None,
    pvc: str = "modelops-reports",
    service_account: str | None = None,
    rbac: bool = False,
    kubeconfig: str | None = None,
    dry_run: bool = False,
) -> Watch:
    """Install an alert policy for a deployment, run on a schedule (crontab line or CronJob).

    Parameters
    ----------
    deployment : str or Deployment or LocalDeployment
        The deployment to watch (its name, or what :func:`deploy` returned).
    on_alarm : {"notify", "rollback", "alias:NAME"}, default="notify"
        What to do on an alarm (see the module's docstring).
    notify : str, optional
        Webhook URL posted the alarm, its evidence and the action's outcome; needed for ``"notify"``.
    cron : str, default="``*/5 * * * *``"
        When to check (five cron fields or a macro such as ``@hourly``).
    cluster : str, default="local"
        ``"local"`` for a model server process on this machine, else a kubeconfig context.
    namespace : str, default="default"
    metrics : str, optional
        URL of the model server's ``/metrics`` (default: the local deployment's; in Kubernetes, its
        Service inside the cluster).
    max_error_rate : float, optional
        Also raise an alarm when the error rate since the previous run is above this, with 95% confidence.
    target : {"local", "kubernetes"}, default="local"
        Where the schedule runs: a crontab line here, or a CronJob in ``cluster``.
    image : str, optional
        Image of the CronJob (default: the deployed version's latest pushed image).
    pvc : str, default="modelops-reports"
        Claim mounted at ``/data`` by the CronJob (its ``MODELOPS_HOME``).
    service_account : str, optional
        The CronJob's ServiceAccount (``target="kubernetes"``, required): it must be allowed to get and list
        pods, get ``pods/proxy``, and (for ``rollback``) get, list, patch and delete Deployments and list
        ReplicaSets in the namespace.
    rbac : bool, default=False
        Also apply the ServiceAccount ``service_account`` (default ``watch-<deployment>``), a Role that grants
        exactly what a watch uses (see :func:`watch_role`) and its RoleBinding; :func:`unwatch` removes them.
    kubeconfig : str, optional
    dry_run : bool, default=False
        Return what would be installed, installing nothing.

    Returns
    -------
    Watch
    """
    from ..config import home, subdir
    from ..reports import cron as _cron
    from ..reports import scheduling as sch
    from ..reports.notify import check_url

    if not isinstance(deployment, str):
        deployment = getattr(deployment, "name", deployment)
    name = _check_name(deployment, "deployment")
    _check_action(on_alarm)
    if notify is not None:
        check_url(notify)
    elif on_alarm == "notify":
        raise ValidationError("on_alarm='notify' needs notify=URL, the webhook to post the alarm to.")
    parsed = _cron.parse(cron)
    if target not in TARGETS:
        raise ValidationError(
            f"target is {target!r}; expected one of {', '.join(TARGETS)}.{suggest(str(target), TARGETS)}"
        )
    _check_name(cluster, "cluster")
    if not isinstance(namespace, str) or not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", namespace):
        raise ValidationError(f"namespace is {namespace!r}; expected a namespace name such as 'default'.")
    if target == "kubernetes" and cluster == "local":
        raise ValidationError(
            "target='kubernetes' runs the watch as a CronJob in a cluster; a local deployment is "
            "watched from this machine's crontab (target='local')."
        )
    if target == "kubernetes" and rbac and service_account is None:
        from ..deployment.manifests import object_name

        service_account = object_name(f"watch-{name}")
    if target == "kubernetes" and (
        not isinstance(service_account, str) or not re.match(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", service_account)
    ):
        raise ValidationError(
            f"service_account is {service_account!r}; a watch CronJob needs the name of a "
            "ServiceAccount allowed to read the pods (and pods/proxy) and to roll the Deployment "
            "back in its namespace (or rbac=True to create one)."
        )
    if rbac and target != "kubernetes":
        raise ValidationError(
            "rbac=True creates a ServiceAccount and Role for a CronJob; it needs target='kubernetes'."
        )
    wid = uuid.uuid4().hex[:10]
    entry: dict[str, Any] = {
        "id": wid,
        "deployment": name,
        "cluster": cluster,
        "namespace": namespace,
        "on_alarm": on_alarm,
        "notify": notify,
        "metrics": _check_metrics(metrics),
        "max_error_rate": _check_rate(max_error_rate),
        "kubeconfig": kubeconfig if target == "local" else None,
        "cron": parsed.expression,
        "description": parsed.describe(),
        "target": target,
        "dry_run": bool(dry_run),
        "created": _now(),
        "ref": _current_ref(name, cluster, namespace),
    }
    if target == "local":
        argv = _command(entry)
        log = subdir("watches") / f"{wid}.log"
        line = sch.crontab_line(parsed.expression, argv, schedule_id=f"watch-{wid}", log=log, home=home())
        entry.update(argv=argv, crontab_line=line, log=str(log))
        if not dry_run:
            current = sch._crontab_read()
            if current and not current.endswith("\n"):
                current += "\n"
            sch._crontab_write(current + line + "\n")
    else:
        if image is None and not entry["ref"]:
            raise ValidationError(
                f"No version is recorded for deployment '{name}', so the CronJob has no image.",
                hint="Pass image='registry/repo@sha256:...'.",
            )
        img = sch.check_command_value(image or sch._image_for(entry["ref"]), "The image reference")
        argv = _command({**entry, "cluster": "in-cluster", "kubeconfig": None}, python="python")
        from ..deployment.manifests import NAME_LIMITS, object_name

        cj = object_name(f"watch-{name}", suffix=f"-{wid[:6]}", limit=NAME_LIMITS["CronJob"])
        manifest = sch.cronjob_manifest(
            name=cj,
            cron=parsed.expression,
            image=img,
            argv=argv,
            namespace=namespace,
            pvc=pvc,
            labels={"modelops.jupyter.org/watch": wid},
        )
        manifest["metadata"]["labels"]["app.kubernetes.io/name"] = "modelops-watch"
        pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        pod.update(serviceAccountName=service_account, automountServiceAccountToken=True)  # in-cluster credentials
        entry.update(argv=argv, image=img, name=cj, manifest=manifest, kubeconfig=kubeconfig)
        if not dry_run or rbac:
            with sch._kube(cluster, kubeconfig) as kube:
                kube.require_namespace(namespace)
                rbac_objs = []
                if rbac:
                    assert service_account is not None  # set above
                    rbac_objs = watch_role(
                        name, namespace, service_account, role=cj, secret=_auth_secret(kube, name, namespace)
                    )
                    entry["rbac"] = [[o["kind"], o["metadata"]["name"]] for o in rbac_objs]
                    entry["rbac_manifests"] = rbac_objs
                if not dry_run:
                    for obj in rbac_objs:
                        kube.apply(obj)
                    kube.apply(manifest)
    if not dry_run:
        with sch._locked_index(_index_path()) as items:
            items.append({k: v for k, v in entry.items() if k not in ("manifest", "rbac_manifests")})
        _record(
            entry["ref"],
            {"event": "created", **{k: v for k, v in entry.items() if k not in ("manifest", "rbac_manifests")}},
        )
    return Watch(entry)


def watches() -> WatchList:
    """The watch policies installed with :func:`watch`."""
    path = _index_path()
    return WatchList(json.loads(path.read_text()) if path.is_file() else [])


def _auth_secret(kube: Any, name: str, namespace: str) -> str | None:
    """The auth Secret a deployment's pods mount (its annotation), if any."""
    from ..deployment.manifests import LABEL_PREFIX

    found = kube.get("Deployment", name, namespace)
    ann = ((found or {}).get("metadata") or {}).get("annotations") or {}
    return ann.get(f"{LABEL_PREFIX}/auth-secret") or None


def watch_role(name: str, namespace: str, service_account: str, *, role: str, secret: str | None = None) -> list[dict]:
    """ServiceAccount, Role and RoleBinding for a watch CronJob of deployment ``name``: least privilege.

    The Role grants what a check and its actions call, in that namespace only: read pods and their
    ``/metrics`` through the API server's pod proxy (``pods/proxy`` get), read events (rollout diagnosis),
    get/list/patch/delete Deployments and get/list ReplicaSets (a rollback applies the earlier revision and
    removes a canary), get/patch InferenceServices (KServe mode), and get the deployment's auth Secret by
    name when its pods need a token.
    """
    labels = {"app.kubernetes.io/name": "modelops-watch", "app.kubernetes.io/managed-by": "jupyter-modelops"}
    meta = {"namespace": namespace, "labels": labels}
    rules: list[dict] = [
        {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch", "delete"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list"]},
        {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": ["get", "patch"]},
    ]
    if secret:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret], "verbs": ["get"]})
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": service_account, **meta}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": role, **meta},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": role, **meta},
            "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        },
    ]


def unwatch(watch_id: str) -> Watch:
    """Remove one watch policy: exactly its crontab line, or its CronJob."""
    from ..reports import scheduling as sch

    with sch._locked_index(_index_path()) as items:
        match = [w for w in items if w["id"] == watch_id]
        if not match:
            raise ModelNotFoundError(
                f"There is no watch with id {watch_id!r}.{suggest(str(watch_id), [w['id'] for w in items])}",
                hint="List them with watches().",
            )
        entry = match[0]
        if entry["target"] == "local":
            marker = f"{sch.MARKER}watch-{watch_id}"
            kept = [ln for ln in sch._crontab_read().splitlines() if not ln.rstrip().endswith(marker)]
            sch._crontab_write("\n".join(kept) + ("\n" if kept else ""))
        else:
            with sch._kube(entry["cluster"], entry.get("kubeconfig")) as kube:
                kube.delete("CronJob", entry["name"], entry["namespace"])
                for kind, obj_name in reversed(entry.get("rbac") or []):  # what rbac=True created
                    kube.delete(kind, obj_name, entry["namespace"])
        items.remove(entry)
    entry = dict(entry, removed=True)
    _record(entry.get("ref"), {"event": "removed", "id": watch_id, "deployment": entry["deployment"]})
    return Watch(entry)


# -- a run -------------------------------------------------------------------------------------------
def _record(ref: str | None, data: dict) -> None:
    if not ref:
        return
    from .. import registry

    try:
        registry.add_record(ref, "watch", data)
    except ModelNotFoundError:
        pass  # a version deployed from another machine's registry


def _current_ref(name: str, cluster: str, namespace: str) -> str | None:
    """The version a deployment runs, from the machine (local) or the registry's records."""
    if cluster == "local":
        from ..serving.local import _root

        state = _root() / name / "state.json"
        if state.is_file():
            try:
                return json.loads(state.read_text()).get("ref") or None
            except (OSError, ValueError):
                return None
        return None
    from ..deployment import deployments

    for row in deployments():
        if (row["cluster"], row["namespace"], row["name"], row["track"]) == (cluster, namespace, name, "stable"):
            return row["running"] if row["running"] != "-" else None
    return None


def _previous_ref(name: str, cluster: str, namespace: str, current: str | None) -> str | None:
    """The version the deployment ran before ``current`` (from the registry's deployment records), passing over
    versions a watch has already acted against (a rollback must not return to a version it left)."""
    from .. import registry

    bad = {
        r["ref"]
        for r in registry.records(kind="watch")
        if (r.get("data") or {}).get("event") == "action"
        and r["data"].get("deployment") == name
        and r["data"].get("cluster") == cluster
    }
    seen: list[str] = []
    for rec in registry.records(kind="deployment"):
        d = rec.get("data") or {}
        if d.get("name") != name:
            continue
        if cluster == "local":
            if d.get("target") != "local" and d.get("cluster") != "local":
                continue
            ref = rec["ref"]
        else:
            if (d.get("cluster"), d.get("namespace"), d.get("track", "stable")) != (
                cluster,
                namespace,
                "stable",
            ) or not d.get("running"):
                continue
            ref = d["running"]
        if not seen or seen[-1] != ref:
            seen.append(ref)
    left = [ref for ref in seen if ref != current and ref not in bad]
    return left[-1] if left else None


def _state_path(watch_id: str) -> Path:
    from ..config import subdir

    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", str(watch_id)):
        raise ValidationError(f"The watch id {watch_id!r} is not valid; expected letters, digits, '-' and '_'.")
    return subdir("watches") / f"{watch_id}.state.json"


def _alarms(samples: list, state: dict, max_error_rate: float | None) -> tuple[list[dict], dict]:
    """The alarms in one scrape, each with its evidence, and the counters to keep for the next run."""
    from ..deployment.analysis import wilson

    alarms = []
    for name, labels, value in samples:
        if name == "modelops_drift_alarm" and value >= 1:
            alarms.append(
                {
                    "signal": "drift_alarm",
                    "labels": labels,
                    "value": value,
                    "detail": f"modelops_drift_alarm{labels} is {value:g}",
                }
            )
        elif name == "modelops_circuit_open" and value >= 1:
            alarms.append(
                {
                    "signal": "circuit_open",
                    "labels": labels,
                    "value": value,
                    "detail": f"the circuit breaker of model {labels.get('model')} is open",
                }
            )
    total = errors = 0.0
    for name, labels, value in samples:
        if (
            name == "modelops_requests_total"
            and labels.get("endpoint") == "infer"
            and labels.get("code") not in ("401", "403", "429")
        ):
            total += value
            errors += value if not str(labels.get("code", "")).startswith("2") else 0
    prev = state.get("counters") or {}
    restarted = total < prev.get("requests", 0) or errors < prev.get("errors", 0)
    n = total if restarted else total - prev.get("requests", 0)
    k = errors if restarted else errors - prev.get("errors", 0)
    if max_error_rate is not None and n > 0:
        lo, hi = wilson(k, n)
        if lo > max_error_rate:
            alarms.append(
                {
                    "signal": "error_rate",
                    "value": k / n,
                    "interval": [lo, hi],
                    "errors": int(k),
                    "requests": int(n),
                    "limit": max_error_rate,
                    "detail": f"{int(k)} of {int(n)} requests failed since the previous check "
                    f"({k / n:.1%}, 95% Wilson interval [{lo:.1%}, {hi:.1%}]), above "
                    f"{max_error_rate:.1%}",
                }
            )
    return alarms, {"requests": total, "errors": errors}


def _post(url: str, body: dict) -> dict:
    from ..reports.notify import check_url

    req = urllib.request.Request(
        check_url(url),
        data=json.dumps(body, default=str).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the user's webhook
            return {"url": url, "status": resp.status}
    except urllib.error.HTTPError as exc:
        return {"url": url, "status": exc.code, "error": str(exc)}
    except (urllib.error.URLError, OSError) as exc:
        return {"url": url, "status": None, "error": str(exc)}


def _act(
    action: str, alias: str | None, *, name: str, cluster: str, namespace: str, ref: str | None, kubeconfig: str | None
) -> str:
    """Do ``action``; one sentence saying what was done (raises ModelOpsError when it could not be)."""
    if action == "notify":
        return "notified"
    previous = _previous_ref(name, cluster, namespace, ref)
    if action == "alias":
        if previous is None:
            raise ValidationError(f"There is no earlier version of deployment '{name}' to point alias '{alias}' at.")
        from .. import registry

        registry.alias(previous, alias)
        return f"alias '{alias}' now points at {previous} (was running {ref})"
    if cluster == "local":
        if previous is None:
            raise ValidationError(f"The local deployment '{name}' has no earlier version to roll back to.")
        from ..serving.local import serve

        serve(previous, name=name)
        return f"rolled back: the local deployment '{name}' serves {previous} again instead of {ref}"
    from ..deployment import rollback

    back = rollback(name, cluster=cluster, namespace=namespace, kubeconfig=kubeconfig)
    return f"rolled back: {back.reason}"


def run_watch(
    watch_id: str,
    *,
    deployment: str,
    cluster: str = "local",
    namespace: str = "default",
    on_alarm: str = "notify",
    notify: str | None = None,
    metrics: str | None = None,
    max_error_rate: float | None = None,
    kubeconfig: str | None = None,
) -> WatchRun:
    """One check of a watch policy: read the deployment's ``/metrics`` and act only on an alarm.

    The schedule that :func:`watch` installs runs this (through ``python -m
    jupyter_modelops.monitoring.watch run``). Returns what was seen and done; an action is
    recorded in the registry with its evidence, and taken once per alarmed version.
    """
    from ..deployment.analysis import scrape

    path = _state_path(watch_id)
    name = _check_name(deployment, "deployment")
    action, alias = _check_action(on_alarm)
    url, token = _check_metrics(metrics), None
    rate = _check_rate(max_error_rate)
    if cluster == "local":
        from ..serving.client import _read_token
        from ..serving.local import get_deployment

        local = get_deployment(name)
        ref = local.ref
        url = url or local.url + "/metrics"
        if local.state.get("token_file"):
            token = _read_token(local.state["token_file"])
        read = lambda: scrape(url, token=token)  # noqa: E731
    else:
        from ..deployment import status
        from ..deployment.analysis import track_reader
        from ..deployment.clusters import get_cluster
        from ..deployment.kube import Kube

        ref = status(name, cluster=cluster, namespace=namespace, kubeconfig=kubeconfig).ref or None
        if url:
            read = lambda: scrape(url, token=token)  # noqa: E731
        else:  # every stable pod's counters, summed, through the API server (a Service would pick one pod)
            url = f"pods of {name} (stable) through the API server"

            def read() -> list:
                from ..deployment.core import _secret_token

                with Kube(get_cluster(cluster, kubeconfig=kubeconfig)) as kube:
                    secret = _auth_secret(kube, name, namespace)
                    tok = _secret_token(kube, secret, namespace) if secret else None
                    return track_reader(kube, name, namespace, "stable", token=tok)()

    try:
        state = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        state = {}  # a damaged state: counted again from the server's totals
    if not isinstance(state, dict):
        state = {}
    alarms, counters = _alarms(read(), state, rate)
    data: dict[str, Any] = {
        "event": "check",
        "watch": watch_id,
        "deployment": name,
        "cluster": cluster,
        "namespace": namespace,
        "ref": ref,
        "metrics": url,
        "alarms": alarms,
        "at": _now(),
        "action": None,
        "outcome": None,
    }
    if alarms:
        if state.get("acted_on") == ref:
            data["outcome"] = f"already acted on {ref} ({state.get('action')}); no new action"
        else:
            data["action"] = on_alarm
            try:
                data["outcome"] = _act(
                    action, alias, name=name, cluster=cluster, namespace=namespace, ref=ref, kubeconfig=kubeconfig
                )
                state.update(acted_on=ref, action=on_alarm)
            except ModelOpsError as exc:
                data["outcome"] = f"failed: {exc}"
            if notify:
                text = (
                    f"Deployment {name} ({ref}) on {cluster}: alarm ({'; '.join(a['detail'] for a in alarms)}). "
                    f"Action {on_alarm}: {data['outcome']}"
                )
                data["notified"] = _post(notify, {"text": text, "modelops": data})
            data["event"] = "action"
            _record(ref, data)
    state["counters"] = counters
    state["checked"] = data["at"]
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)
    return WatchRun(data)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jupyter_modelops.monitoring.watch run --id ID --deployment NAME ...`` (what a schedule runs)."""
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m jupyter_modelops.monitoring.watch",
        description="One check of a watch policy (installed by watch()).",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--id", required=True)
    r.add_argument("--deployment", required=True)
    r.add_argument("--cluster", default="local")
    r.add_argument("--namespace", default="default")
    r.add_argument("--on-alarm", default="notify")
    r.add_argument("--notify")
    r.add_argument("--metrics")
    r.add_argument("--kubeconfig")
    r.add_argument("--max-error-rate", type=float)
    r.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    try:
        res = run_watch(
            args.id,
            deployment=args.deployment,
            cluster=args.cluster,
            namespace=args.namespace,
            on_alarm=args.on_alarm,
            notify=args.notify,
            metrics=args.metrics,
            max_error_rate=args.max_error_rate,
            kubeconfig=args.kubeconfig,
        )
    except ModelOpsError as exc:
        if args.debug:
            raise
        print(f"{_now()} watch {args.id}: {exc}", file=sys.stderr)
        return 1
    print(f"{_now()} {res._summary()} ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
