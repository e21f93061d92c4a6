"""Run reports on a schedule, whether or not Jupyter is up.

Two targets:

``local``
    One line in the user's crontab that runs ``modelops report run ...``.
    Each line carries a marker comment with the schedule id, so
    :func:`unschedule` removes exactly that line and nothing else.
``kubernetes``
    A ``batch/v1`` CronJob that runs the same command in the model's image
    (concurrency policy Forbid, bounded history, restricted security context),
    writing results to a persistent volume.

Schedules are listed in ``MODELOPS_HOME/schedules.json``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping

from .._html import RecordResult, Result, esc, page, table
from ..exceptions import ModelNotFoundError, ReportError, ValidationError, suggest
from . import cron as _cron

MARKER = "# jupyter-modelops:schedule:"
TARGETS = ("local", "kubernetes")


class Schedule(RecordResult):
    """A scheduled report."""

    def _summary(self) -> str:
        d = self.data
        state = "dry run" if d.get("dry_run") else "installed"
        return f"Schedule {d['id']} {d.get('ref')} '{d['cron']}' ({d['description']}) target={d['target']} {state}"

    def to_text(self) -> str:
        d = self.data
        lines = [self._summary()]
        if d.get("crontab_line"):
            lines.append(d["crontab_line"])
        if d.get("manifest_yaml"):
            lines.append(d["manifest_yaml"])
        return "\n".join(lines)

    def to_html(self) -> str:
        d = self.data
        rows = [("id", d["id"]), ("model", d.get("ref")), ("when", f"{d['cron']} ({d['description']})"),
                ("target", d["target"]), ("template", d["template"]), ("data", d.get("data"))]
        body = table(rows, ["", ""])
        if d.get("crontab_line"):
            body += f"<h4>crontab line</h4><pre>{esc(d['crontab_line'])}</pre>"
        if d.get("manifest_yaml"):
            body += f"<h4>CronJob</h4><pre>{esc(d['manifest_yaml'])}</pre>"
        return page("Scheduled report" + (" (dry run)" if d.get("dry_run") else ""), body)


class ScheduleList(Result):
    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def to_dict(self) -> dict:
        return {"schedules": list(self.items)}

    def __len__(self) -> int:
        return len(self.items)

    def _summary(self) -> str:
        return f"{len(self.items)} schedule(s)"

    def to_text(self) -> str:
        if not self.items:
            return "no schedules"
        return "\n".join(f"{s['id']}  {s.get('ref')}  '{s['cron']}'  {s['target']}  {s['template']}" for s in self.items)

    def to_html(self) -> str:
        rows = [(s["id"], s.get("ref"), s["cron"], s["description"], s["target"], s["template"]) for s in self.items]
        return page("Schedules", table(rows, ["id", "model", "cron", "when", "target", "template"]) if rows else "none")


# -- the index -------------------------------------------------------------------------------

def _index_path() -> Path:
    from .. import config

    return config.home() / "schedules.json"


@contextlib.contextmanager
def _locked_index() -> Iterator[list[dict]]:
    """Read-modify-write the index under an exclusive lock, replaced atomically."""
    path = _index_path()
    lock = path.with_suffix(".lock")
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        items = json.loads(path.read_text()) if path.is_file() else []
        before = json.dumps(items)
        yield items
        if json.dumps(items) != before:
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(items, indent=2))
            os.replace(tmp, path)


def schedules() -> ScheduleList:
    """All schedules made with :func:`schedule` (dry runs are not kept)."""
    path = _index_path()
    return ScheduleList(json.loads(path.read_text()) if path.is_file() else [])


# -- local: crontab --------------------------------------------------------------------------

def _crontab_bin() -> str:
    exe = shutil.which("crontab")
    if not exe:
        raise ReportError("The 'crontab' command is not installed, so a local schedule cannot be made.",
                          hint="Install cron (Debian: apt-get install cron) or use target='kubernetes'.")
    return exe


def _crontab_read() -> str:
    res = subprocess.run([_crontab_bin(), "-l"], capture_output=True, text=True)
    if res.returncode != 0:
        if "no crontab" in res.stderr.lower():
            return ""
        raise ReportError(f"Could not read the crontab: {res.stderr.strip()}.")
    return res.stdout


def _crontab_write(text: str) -> None:
    res = subprocess.run([_crontab_bin(), "-"], input=text, capture_output=True, text=True)
    if res.returncode != 0:
        raise ReportError(f"Could not write the crontab: {res.stderr.strip()}.")


def report_command(ref: str | None, *, data: str | None, template: str, params: Mapping[str, Any] | None,
                   notify: str | None, python: str | None = None) -> list[str]:
    """The argv a schedule runs: ``python -m jupyter_modelops.cli report run ...``."""
    argv = [python or sys.executable, "-m", "jupyter_modelops.cli", "report", "run"]
    if ref:
        argv.append(str(ref))
    argv += ["--template", str(template)]
    if data:
        argv += ["--data", str(data)]
    for k, v in (params or {}).items():
        argv += ["-p", str(k), v if isinstance(v, str) else json.dumps(v)]
    if notify:
        argv += ["--notify", notify]
    return argv


def crontab_line(cron: str, argv: list[str], *, schedule_id: str, log: Path, home: Path) -> str:
    env = f"MODELOPS_HOME={shlex.quote(str(home))}"
    cmd = " ".join(shlex.quote(a) for a in argv)
    # '%' ends the command in crontab(5) unless escaped.
    line = f"{cron} {env} {cmd} >> {shlex.quote(str(log))} 2>&1 {MARKER}{schedule_id}"
    return line.replace("%", r"\%")


# -- kubernetes: CronJob ---------------------------------------------------------------------

def cronjob_manifest(*, name: str, cron: str, image: str, argv: list[str], namespace: str = "default",
                     pvc: str = "modelops-reports", labels: Mapping[str, str] | None = None) -> dict:
    """A batch/v1 CronJob that runs the report in the model's image."""
    lab = {"app.kubernetes.io/name": "modelops-report", "app.kubernetes.io/managed-by": "jupyter-modelops",
           **dict(labels or {})}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": lab},
        "spec": {
            "schedule": cron,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": lab},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 3600,
                    "template": {
                        "metadata": {"labels": lab},
                        "spec": {
                            "restartPolicy": "Never",
                            "automountServiceAccountToken": False,
                            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                                "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                            "containers": [{
                                "name": "report",
                                "image": image,
                                "command": ["python", *argv[1:]],
                                "env": [{"name": "MODELOPS_HOME", "value": "/data/modelops-home"},
                                        {"name": "HOME", "value": "/tmp"}],
                                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                              "limits": {"cpu": "2", "memory": "4Gi"}},
                                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                                                    "seccompProfile": {"type": "RuntimeDefault"}},
                                "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                                 {"name": "tmp", "mountPath": "/tmp"}],
                            }],
                            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": pvc}},
                                        {"name": "tmp", "emptyDir": {}}],
                        },
                    },
                },
            },
        },
    }


def _k8s_name(text: str) -> str:
    import re

    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (s or "report")[:52].rstrip("-")


def _kube(cluster: str | None, kubeconfig: str | None):
    from ..deployment.clusters import get_cluster
    from ..deployment.kube import Kube

    return Kube(get_cluster(cluster, kubeconfig=kubeconfig))


def _image_for(ref: str) -> str:
    from .. import registry

    imgs = [r for r in registry.records(ref, kind="image") if r.get("data", r).get("reference") or r.get("reference")]
    if not imgs:
        raise ValidationError(
            f"No pushed image is recorded for '{ref}', and the CronJob needs one.",
            hint=f"Build and push it first (modelops build {ref} --push REGISTRY/REPO:TAG) or pass image=.",
        )
    last = imgs[-1]
    data = last.get("data", last)
    return data.get("reference")


# -- the API ---------------------------------------------------------------------------------

def schedule(ref: str | None, *, cron: str, data: str | None = None, template: str = "monitoring",
             params: Mapping[str, Any] | None = None, target: str = "local", cluster: str | None = None,
             namespace: str = "default", image: str | None = None, pvc: str = "modelops-reports",
             notify: str | None = None, dry_run: bool = False, kubeconfig: str | None = None) -> Schedule:
    """Run a report on a schedule.

    Parameters
    ----------
    ref : str
        Registry reference of the model to watch.
    cron : str
        Five-field cron expression (``"0 6 * * *"``) or a macro (``@daily``).
    data : str
        Path (local) or in-cluster path/URI of the current data, read at each run.
    target : {"local", "kubernetes"}
        ``local`` installs a crontab line; ``kubernetes`` applies a CronJob.
    cluster : str, optional
        Kubeconfig context (target kubernetes; default: the current context).
    image : str, optional
        Image to run the report in (default: the version's last pushed image).
    pvc : str, default "modelops-reports"
        PersistentVolumeClaim mounted at /data for the results (target kubernetes).
    notify : str, optional
        Webhook URL posted to when a run or a gate fails.
    dry_run : bool
        Return what would be installed without installing it.
    kubeconfig : str, optional
        Path of the kubeconfig (default: ``$KUBECONFIG`` or ``~/.kube/config``).
    """
    from .. import config
    from .run import resolve_template
    from . import params as _params
    from .notify import check_url

    parsed = _cron.parse(cron)
    if target not in TARGETS:
        raise ValidationError(f"The schedule target '{target}' is unknown.{suggest(target, TARGETS)}",
                              hint=f"Use one of: {', '.join(TARGETS)}.")
    if notify:
        check_url(notify)
    tpl = resolve_template(template)
    _params.validate(tpl, params)  # types checked now, not at 6 a.m.
    if ref is not None:
        from .. import registry

        ref = registry.get(str(ref)).ref
    if target == "local" and data is not None and not Path(data).expanduser().is_file():
        raise ValidationError(f"The data file '{data}' does not exist.",
                              hint="A local schedule reads this file at every run; pass an existing path.")
    sid = uuid.uuid4().hex[:10]
    template_arg = tpl.stem if tpl.parent == resolve_template("monitoring").parent else str(tpl.resolve())
    entry: dict[str, Any] = {
        "id": sid, "ref": ref, "cron": parsed.expression, "description": parsed.describe(), "target": target,
        "template": template_arg, "data": str(Path(data).expanduser().resolve()) if (data and target == "local") else data,
        "params": dict(params or {}), "notify": notify, "dry_run": dry_run,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if target == "local":
        argv = report_command(ref, data=entry["data"], template=template_arg, params=params, notify=notify)
        log = config.subdir("schedules") / f"{sid}.log"
        line = crontab_line(parsed.expression, argv, schedule_id=sid, log=log, home=config.home())
        entry.update(argv=argv, crontab_line=line, log=str(log))
        if not dry_run:
            current = _crontab_read()
            if current and not current.endswith("\n"):
                current += "\n"
            _crontab_write(current + line + "\n")
    else:
        import yaml

        img = image or _image_for(ref)
        argv = report_command(ref, data=data, template=template_arg, params=params, notify=notify, python="python")
        name = _k8s_name(f"report-{ref or 'model'}-{sid[:6]}")
        manifest = cronjob_manifest(name=name, cron=parsed.expression, image=img, argv=argv, namespace=namespace,
                                    pvc=pvc, labels={"modelops.jupyter.org/schedule": sid})
        entry.update(cluster=cluster, kubeconfig=kubeconfig, namespace=namespace, image=img, name=name, manifest=manifest,
                     manifest_yaml=yaml.safe_dump(manifest, sort_keys=False))
        if not dry_run:
            with _kube(cluster, kubeconfig) as kube:
                kube.require_namespace(namespace)
                kube.apply(manifest)
    if not dry_run:
        with _locked_index() as items:
            items.append({k: v for k, v in entry.items() if k not in ("manifest_yaml",)})
        if ref is not None:
            from .. import registry

            registry.add_record(ref, "schedule", {k: v for k, v in entry.items() if k != "manifest_yaml"})
    return Schedule(entry)


def unschedule(schedule_id: str) -> Schedule:
    """Remove one schedule: exactly its crontab line, or its CronJob."""
    with _locked_index() as items:
        match = [s for s in items if s["id"] == schedule_id]
        if not match:
            raise ModelNotFoundError(f"There is no schedule with id '{schedule_id}'."
                                     f"{suggest(schedule_id, [s['id'] for s in items])}",
                                     hint="List them with: modelops report schedules.")
        entry = match[0]
        if entry["target"] == "local":
            current = _crontab_read()
            kept = [ln for ln in current.splitlines() if not ln.rstrip().endswith(f"{MARKER}{schedule_id}")]
            _crontab_write("\n".join(kept) + ("\n" if kept else ""))
        else:
            with _kube(entry.get("cluster"), entry.get("kubeconfig")) as kube:
                kube.delete("CronJob", entry["name"], entry.get("namespace", "default"))
        items.remove(entry)
    entry = dict(entry, removed=True)
    return Schedule(entry)
