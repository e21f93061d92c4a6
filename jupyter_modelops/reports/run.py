"""Run a report template with papermill and record what happened, truthfully.

Recipe: resolve the template -> check the parameters against its declared
types (no kernel yet) -> execute with papermill in a fresh kernel -> export
static HTML (inputs hidden) -> read the summary the template published ->
write ``summary.json`` -> record the run in the registry -> notify on failure.
A failing cell, a timeout or a dead kernel gives status ``failed`` and keeps
the executed notebook; such a run is never reported as a success.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

from .. import tracing
from .._html import RecordResult, esc, fmt, page, table, to_jsonable
from ..exceptions import ModelNotFoundError, ReportError, ValidationError, suggest
from . import params as _params
from .summary import MIME

BUILTIN = ("monitoring", "evaluation", "drift")


def templates_dir() -> Path:
    """The folder of the built-in templates (inside the wheel, or the source checkout)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "monitoring.ipynb").is_file():
            return candidate
    raise ReportError(
        "The built-in report templates are missing from this installation.", hint="Reinstall jupyter-modelops."
    )


def templates() -> dict[str, Path]:
    """Built-in template name -> path."""
    d = templates_dir()
    return {p.stem: p for p in sorted(d.glob("*.ipynb"))}


def resolve_template(template: str | Path) -> Path:
    """A built-in name (``monitoring``, ``evaluation``, ``drift``) or a notebook path."""
    t = str(template)
    if not t.endswith(".ipynb") and "/" not in t:
        known = templates()
        if t in known:
            return known[t]
        raise ValidationError(
            f"There is no built-in report template named '{t}'.{suggest(t, known)}",
            hint=f"Use one of {', '.join(known)} or the path of your own .ipynb template.",
        )
    path = Path(t).expanduser()
    if not path.is_file():
        raise ValidationError(f"The report template '{t}' does not exist.", hint="Check the path.")
    return path


class ReportRun(RecordResult):
    """One run of a report template."""

    @property
    def ok(self) -> bool:
        """True when the notebook ran and no gate failed."""
        return self.data["status"] == "succeeded" and self.data.get("gates_passed") is not False

    def _summary(self) -> str:
        d = self.data
        gates = d.get("gates") or []
        failed = sum(1 for g in gates if g.get("status") == "fail")
        return (
            f"ReportRun {d['id']} {d.get('ref') or ''} template={d['template']} status={d['status']} "
            f"gates={len(gates) - failed}/{len(gates)} passed"
        ).replace("  ", " ")

    def to_text(self) -> str:
        d = self.data
        lines = [self._summary()]
        if d.get("error"):
            lines.append(f"error: {d['error']}")
        for g in d.get("gates") or []:
            lines.append(f"  [{g.get('status', '?'):>4}] {g.get('name', '')} {g.get('detail', '')}".rstrip())
        for k in ("html", "notebook", "summary_path"):
            if d.get(k):
                lines.append(f"{k}: {d[k]}")
        return "\n".join(lines)

    def to_html(self) -> str:
        d = self.data
        status_cls = "pass" if self.ok else "fail"
        body = [
            f'<div>status: <span class="{status_cls}">{esc(d["status"])}</span>'
            f" &middot; {esc(fmt(d.get('duration_s')))} s &middot; template {esc(d['template'])}</div>"
        ]
        if d.get("error"):
            body.append(f'<div class="fail">{esc(d["error"])}</div>')
        gates = d.get("gates") or []
        if gates:
            rows = [
                (
                    f'<span class="{esc(g.get("status"))}">{esc(g.get("status"))}</span>',
                    esc(g.get("name", "")),
                    esc(g.get("detail", "")),
                )
                for g in gates
            ]
            body.append("<h4>Gates</h4>" + table(rows, ["status", "gate", "detail"], raw_cols=(0, 1, 2)))
        metrics = d.get("metrics") or {}
        if metrics:
            figures: list[tuple[str, Any, str]] = []
            for k, v in metrics.items():
                if isinstance(v, dict):
                    figures.append((k, v.get("value"), f"[{fmt(v.get('low'))}, {fmt(v.get('high'))}]"))
                else:
                    figures.append((k, v, ""))
            body.append("<h4>Key figures</h4>" + table(figures, ["metric", "value", "interval"]))
        if d.get("html"):
            body.append(f'<div class="note">HTML: {esc(d["html"])}<br>notebook: {esc(d["notebook"])}</div>')
        return page(f"Report {d.get('title') or d['template']}", "".join(body), subtitle=d.get("ref"))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _read_summary(nb: Any) -> dict | None:
    found = None
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            if MIME in data:
                found = data[MIME]
    return found


def _error_of(nb: Any) -> str | None:
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {cell.get('execution_count') or i}: {out.get('ename')}: {out.get('evalue')}"
    return None


def _export_html(nb: Any, path: Path) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")


def report(
    ref: str | None = None,
    *,
    template: str | Path = "monitoring",
    data: str | Path | None = None,
    params: Mapping[str, Any] | None = None,
    output_dir: str | Path | None = None,
    notify: str | None = None,
    timeout: float = 600,
    kernel_name: str = "python3",
    params_from_text: bool = False,
    window: str | None = None,
) -> ReportRun:
    """Run a report template for a model version and record the run.

    Parameters
    ----------
    ref : str, optional
        Registry reference (``churn``, ``churn:3``, ``churn@production``), passed
        to the template as ``model_ref``.
    template : str or path, default "monitoring"
        A built-in template name or the path of a notebook with a ``parameters`` cell.
    data : path, optional
        Current data (CSV or Parquet), passed as ``data_path``. Without it the
        monitoring template reads what the deployed version saw (inference
        capture, see :func:`jupyter_modelops.captures`) in the last ``window``.
    params : mapping, optional
        More template parameters; checked against the declared types before
        any kernel starts.
    output_dir : path, optional
        Where to write ``report.ipynb``, ``report.html`` and ``summary.json``
        (default: ``MODELOPS_HOME/reports/<name>/<run id>``).
    notify : str, optional
        A webhook URL (Slack-compatible) posted to when the run or a gate fails.
    timeout : float, default 600
        Seconds a single cell may run.
    window : str, optional
        Span of captured requests to report on when no data is given, e.g.
        ``"24h"`` (the template's ``window`` parameter; its default otherwise).

    Returns
    -------
    ReportRun
        ``status`` is ``"succeeded"`` or ``"failed"``; ``gates_passed`` says
        whether every gate passed.
    """
    from .. import config

    path = resolve_template(template)
    if notify:
        from .notify import check_url

        check_url(notify)  # refused before the run, not after it
    given: dict[str, Any] = dict(params or {})
    decl = _params.declared(path)
    if window is not None:
        if "window" not in decl:
            raise ValidationError(f"The template '{path.name}' takes no window parameter, but window was given.")
        from ..capture.read import parse_duration

        parse_duration(window, arg="window")  # refused before any kernel starts
        given["window"] = window
    if ref is not None and "model_ref" in decl:
        given.setdefault("model_ref", str(ref))
    if data is not None:
        dpath = Path(data).expanduser()
        if not dpath.is_file():
            raise ValidationError(
                f"The data file '{data}' does not exist.", hint="Pass the path of a CSV or Parquet file."
            )
        if "data_path" not in decl:
            raise ValidationError(f"The template '{path.name}' takes no data_path parameter, but data was given.")
        given["data_path"] = str(dpath.resolve())
    checked = _params.validate(path, given, from_text=params_from_text)

    version_info = None
    if ref is not None:
        from .. import registry

        try:
            version_info = registry.get(str(ref))
        except ModelNotFoundError:
            raise
    name = version_info.name if version_info is not None else path.stem
    run_id = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    out = Path(output_dir).expanduser() if output_dir else config.subdir("reports", name) / run_id
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    nb_path, html_path, summary_path = out / "report.ipynb", out / "report.html", out / "summary.json"

    record: dict[str, Any] = {
        "id": run_id,
        "ref": version_info.ref if version_info is not None else None,
        "template": path.stem,
        "template_path": str(path),
        "params": to_jsonable(checked),
        "started": _now(),
        "user": getpass.getuser(),
        "notebook": str(nb_path),
        "html": str(html_path),
        "summary_path": str(summary_path),
    }
    t0 = time.perf_counter()
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    error = None
    with tracing.span(
        "modelops.report",
        {"modelops.template": path.stem, "modelops.model_ref": record["ref"], "modelops.report_id": run_id},
    ) as span:
        try:
            # the kernel's own log (e.g. "[IPKernelApp] WARNING | Kernel is running over TCP ...") is
            # not the report's business (a failed cell is in the notebook and run.error): the calling cell stays clean
            pm.execute_notebook(
                str(path),
                str(nb_path),
                parameters=checked,
                kernel_name=kernel_name,
                progress_bar=False,
                cwd=str(out),
                execution_timeout=timeout,
                start_timeout=120,
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        except Exception as exc:  # dead kernel, timeout, kernel that would not start
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}"
        if span is not None and error:
            span.set_attribute("modelops.error", error)
    duration = time.perf_counter() - t0

    summary = None
    if nb_path.is_file():
        nb = nbformat.read(nb_path, as_version=4)
        error = error or _error_of(nb)
        summary = _read_summary(nb)
        try:
            _export_html(nb, html_path)
        except Exception as exc:  # the run's status must not depend on the HTML export
            record["html_error"] = str(exc)
            record["html"] = None
    else:
        record["notebook"] = None
        record["html"] = None
    if error is None and summary is None:
        error = "the template ran but published no summary (call publish_summary() in its last cell)"
    gates = (summary or {}).get("gates") or []
    record.update(
        status="failed" if error else "succeeded",
        error=error,
        title=(summary or {}).get("title"),
        metrics=(summary or {}).get("metrics") or {},
        gates=gates,
        gates_passed=(all(g.get("status") != "fail" for g in gates) if summary else None),
        finished=_now(),
        duration_s=round(duration, 3),
    )
    summary_path.write_text(json.dumps(to_jsonable(record), indent=2), encoding="utf-8")
    if version_info is not None:
        from .. import registry

        registry.add_record(version_info.ref, "report", to_jsonable(record))
    run = ReportRun(record)
    if notify and not run.ok:
        from .notify import post_webhook

        record["notified"] = post_webhook(notify, run)
        summary_path.write_text(json.dumps(to_jsonable(record), indent=2), encoding="utf-8")
    from ..integrations.mlflow import log_to_active_run  # opt-in: configure(mlflow=True) or MODELOPS_MLFLOW=1

    return log_to_active_run(run, "report")
