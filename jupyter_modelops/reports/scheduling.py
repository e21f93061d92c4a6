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
import re
import shlex
import shutil
import subprocess
import sys
import unicodedata
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping

from .._html import RecordResult, Result, esc, page, table
from ..exceptions import ModelNotFoundError, ReportError, ValidationError, suggest
from . import cron as _cron

MARKER = "# jupyter-modelops:schedule:"
MAX_COMMAND = 998  # bytes after the five time fields; a longer line is "command too long" to crontab(1)
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
        rows = [
            ("id", d["id"]),
            ("model", d.get("ref")),
            ("when", f"{d['cron']} ({d['description']})"),
            ("target", d["target"]),
            ("template", d["template"]),
            ("data", d.get("data")),
        ]
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
        return "\n".join(
            f"{s['id']}  {s.get('ref')}  '{s['cron']}'  {s['target']}  {s['template']}" for s in self.items
        )

    def to_html(self) -> str:
        rows = [(s["id"], s.get("ref"), s["cron"], s["description"], s["target"], s["template"]) for s in self.items]
        return page("Schedules", table(rows, ["id", "model", "cron", "when", "target", "template"]) if rows else "none")


# -- the index -------------------------------------------------------------------------------


def _index_path() -> Path:
    from .. import config

    return config.home() / "schedules.json"


@contextlib.contextmanager
def _locked_index(path: Path | None = None) -> Iterator[list[dict]]:
    """Read-modify-write the index (default: the schedules') under an exclusive lock, replaced atomically."""
    path = path or _index_path()
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
        raise ReportError(
            "The 'crontab' command is not installed, so a local schedule cannot be made.",
            hint="Install cron (Debian: apt-get install cron) or use target='kubernetes'.",
        )
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


# -- what may reach a crontab line or a CronJob command -------------------------------------------

# bidirectional overrides and isolates: they make 'crontab -l' show a line other than the one cron runs
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CONTROL_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL character"}
# argparse reads a value that starts with '-' as an option unless it looks like a negative number
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


def _control_char(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI:
            return ch
    return None


def check_command_value(value: Any, what: str, *, option_value: bool = False) -> str:
    """Refuse text that could not travel safely in a scheduled command.

    A control character (newline, carriage return, tab, NUL, DEL, C1 controls), a lone surrogate, a Unicode line
    or paragraph separator or a bidirectional override would split a crontab line into two
    entries or make ``crontab -l`` show something other than what runs. With
    ``option_value=True`` a value that the command line would read as an option (it starts
    with ``-`` and is not a negative number) is refused too.

    Parameters
    ----------
    value : str
        The text.
    what : str
        What it is, for the message (``"The parameter 'label_column'"``).
    option_value : bool, default False
        The text follows an option on the command line.

    Returns
    -------
    str
        ``value``, unchanged.

    Raises
    ------
    ValidationError
        One sentence naming ``what`` and the character.
    """
    text = str(value)
    ch = _control_char(text)
    if ch is not None:
        name = _CONTROL_NAMES.get(ch, f"the control character U+{ord(ch):04X}")
        raise ValidationError(
            f"{what} contains {name}, which a scheduled command cannot carry: it would split the crontab "
            f"line or hide part of it.",
            hint="Remove control characters and line breaks from it.",
        )
    if option_value and text.startswith("-") and not _NEGATIVE_NUMBER.match(text):
        raise ValidationError(
            f"{what} is {text!r}, which starts with '-': the scheduled command line would read it as an option.",
            hint="Pass a value that does not start with '-' (a number may be negative).",
        )
    return text


def report_command(
    ref: str | None,
    *,
    data: str | None,
    template: str,
    params: Mapping[str, Any] | None,
    notify: str | None,
    python: str | None = None,
) -> list[str]:
    """The argv a schedule runs: ``python -m jupyter_modelops.cli report run ...``.

    Every value is checked with :func:`check_command_value` (no control characters; no value
    that would be read as an option), so one argv is one crontab line and one CronJob command.
    """
    argv = [
        check_command_value(python or sys.executable, "The Python interpreter path"),
        "-m",
        "jupyter_modelops.cli",
        "report",
        "run",
    ]
    if ref:
        argv.append(check_command_value(ref, "The model reference", option_value=True))
    argv += ["--template", check_command_value(template, "The template", option_value=True)]
    if data:
        argv += ["--data", check_command_value(data, "The data path", option_value=True)]
    for k, v in (params or {}).items():
        key = check_command_value(k, f"The parameter name {str(k)!r}", option_value=True)
        text = v if isinstance(v, str) else json.dumps(v)  # JSON escapes every control character
        argv += ["-p", key, check_command_value(text, f"The parameter '{key}'", option_value=True)]
    if notify:
        argv += ["--notify", check_command_value(notify, "The notify URL", option_value=True)]
    return argv


def cron_quote(text: str) -> str:
    """Quote ``text`` as one shell word that survives cron's ``%`` handling.

    crontab(5) turns an unescaped ``%`` into a newline (the rest goes to standard input) and
    ``\\%`` into ``%``, in the whole command before the shell reads it. Each piece between
    ``%`` signs is quoted with :func:`shlex.quote` and the pieces are joined with ``\\%``
    outside any quotes, so the shell receives the exact text, whatever it holds (``$(...)``,
    backticks, ``;``, quotes, backslashes). ``text`` must hold no control character.
    """
    pieces = str(text).split("%")
    quoted = "\\%".join(shlex.quote(p) if p else "" for p in pieces)
    return quoted or "''"


def crontab_line(cron: str, argv: list[str], *, schedule_id: str, log: Path, home: Path) -> str:
    """One crontab(5) line: the schedule, ``MODELOPS_HOME``, the quoted command, its log and our marker.

    Raises :class:`ValidationError` when any value holds a control character (it could
    not be one line).
    """
    from .cron import parse

    parse(cron)  # five fields or a macro: no room for a second entry
    env = f"MODELOPS_HOME={cron_quote(check_command_value(str(home), 'MODELOPS_HOME'))}"
    cmd = " ".join(cron_quote(check_command_value(a, f"The command argument {a!r}")) for a in argv)
    log_word = cron_quote(check_command_value(str(log), "The log path"))
    check_command_value(schedule_id, "The schedule id")
    command = f"{env} {cmd} >> {log_word} 2>&1 {MARKER}{schedule_id}"
    size = len(command.encode())
    if size > MAX_COMMAND:
        raise ValidationError(
            f"The scheduled command would be {size} bytes long, and cron accepts at most {MAX_COMMAND}.",
            hint="Shorten the longest values (parameters, paths, the notify URL) or use a template default.",
        )
    line = f"{cron} {command}"
    if "\n" in line or "\r" in line:  # pragma: no cover - every piece was checked above
        raise ReportError("A scheduled command would not fit on one crontab line; nothing was installed.")
    return line


# -- kubernetes: CronJob ---------------------------------------------------------------------


def cronjob_manifest(
    *,
    name: str,
    cron: str,
    image: str,
    argv: list[str],
    namespace: str = "default",
    pvc: str = "modelops-reports",
    labels: Mapping[str, str] | None = None,
) -> dict:
    """A batch/v1 CronJob that runs the report in the model's image."""
    lab = {
        "app.kubernetes.io/name": "modelops-report",
        "app.kubernetes.io/managed-by": "jupyter-modelops",
        **dict(labels or {}),
    }
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
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": 65532,
                                "runAsGroup": 65532,
                                "fsGroup": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "containers": [
                                {
                                    "name": "report",
                                    "image": image,
                                    "command": ["python", *argv[1:]],
                                    "env": [
                                        {"name": "MODELOPS_HOME", "value": "/data/modelops-home"},
                                        {"name": "HOME", "value": "/tmp"},
                                    ],
                                    "resources": {
                                        "requests": {"cpu": "500m", "memory": "1Gi"},
                                        "limits": {"cpu": "2", "memory": "4Gi"},
                                    },
                                    "securityContext": {
                                        "allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True,
                                        "runAsNonRoot": True,
                                        "capabilities": {"drop": ["ALL"]},
                                        "seccompProfile": {"type": "RuntimeDefault"},
                                    },
                                    "volumeMounts": [
                                        {"name": "data", "mountPath": "/data"},
                                        {"name": "tmp", "mountPath": "/tmp"},
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "data", "persistentVolumeClaim": {"claimName": pvc}},
                                {"name": "tmp", "emptyDir": {}},
                            ],
                        },
                    },
                },
            },
        },
    }


def _k8s_name(ref: str | None, schedule_id: str) -> str:
    """The CronJob's name: ``report-MODEL-VERSION-ID``, at most 52 characters (its Jobs add 11).

    A long model name is cut and given a short hash of the whole name; the schedule id is always kept.
    """
    from ..deployment.manifests import NAME_LIMITS, object_name

    return object_name(f"report-{ref or 'model'}", suffix=f"-{schedule_id[:6]}", limit=NAME_LIMITS["CronJob"])


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


def _command_params(template: Path, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters as the scheduled command passes them: a text value of a parameter not declared ``str``
    is JSON-quoted, since ``report run`` reads such text as JSON (``"[1]"`` must stay text)."""
    from . import params as _params

    decl = _params.declared(template)
    out: dict[str, Any] = {}
    for k, v in (params or {}).items():
        typ = _params._inner(decl[k].type)[0] if k in decl else "Any"
        out[k] = json.dumps(v) if isinstance(v, str) and typ != "str" else v
    return out


# -- the API ---------------------------------------------------------------------------------


def schedule(
    ref: str | None,
    *,
    cron: str,
    data: str | None = None,
    template: str = "monitoring",
    params: Mapping[str, Any] | None = None,
    target: str = "local",
    cluster: str | None = None,
    namespace: str = "default",
    image: str | None = None,
    pvc: str = "modelops-reports",
    notify: str | None = None,
    dry_run: bool = False,
    kubeconfig: str | None = None,
) -> Schedule:
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
    from . import params as _params
    from .notify import check_url
    from .run import resolve_template

    parsed = _cron.parse(cron)
    if target not in TARGETS:
        raise ValidationError(
            f"The schedule target '{target}' is unknown.{suggest(target, TARGETS)}",
            hint=f"Use one of: {', '.join(TARGETS)}.",
        )
    if notify:
        check_url(notify)
    tpl = resolve_template(template)
    _params.validate(tpl, params)  # types checked now, not at 6 a.m.
    cmd_params = _command_params(tpl, params)
    if ref is not None:
        from .. import registry

        ref = registry.get(str(ref)).ref
    if target == "local" and data is not None and not Path(data).expanduser().is_file():
        raise ValidationError(
            f"The data file '{data}' does not exist.",
            hint="A local schedule reads this file at every run; pass an existing path.",
        )
    sid = uuid.uuid4().hex[:10]
    template_arg = tpl.stem if tpl.parent == resolve_template("monitoring").parent else str(tpl.resolve())
    entry: dict[str, Any] = {
        "id": sid,
        "ref": ref,
        "cron": parsed.expression,
        "description": parsed.describe(),
        "target": target,
        "template": template_arg,
        "data": str(Path(data).expanduser().resolve()) if (data and target == "local") else data,
        "params": dict(params or {}),
        "notify": notify,
        "dry_run": dry_run,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if target == "local":
        argv = report_command(ref, data=entry["data"], template=template_arg, params=cmd_params, notify=notify)
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

        img = check_command_value(image or _image_for(ref), "The image reference")
        argv = report_command(ref, data=data, template=template_arg, params=cmd_params, notify=notify, python="python")
        name = _k8s_name(ref, sid)
        manifest = cronjob_manifest(
            name=name,
            cron=parsed.expression,
            image=img,
            argv=argv,
            namespace=namespace,
            pvc=pvc,
            labels={"modelops.jupyter.org/schedule": sid},
        )
        entry.update(
            cluster=cluster,
            kubeconfig=kubeconfig,
            namespace=namespace,
            image=img,
            name=name,
            manifest=manifest,
            manifest_yaml=yaml.safe_dump(manifest, sort_keys=False),
        )
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
            raise ModelNotFoundError(
                f"There is no schedule with id '{schedule_id}'.{suggest(schedule_id, [s['id'] for s in items])}",
                hint="List them with: modelops report schedules.",
            )
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
