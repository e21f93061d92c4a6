"""A Grafana dashboard for a deployment: its model server's Prometheus series, importable as is.

The dashboard has a Prometheus data source variable (so it imports into any
Grafana without editing), a ``model`` variable set to the deployment's model
and an ``instance`` variable (every scraped pod or process by default), and
rows of panels: traffic, latency, errors, drift per feature, alarms and the
estimated performance. Every query names only series the model server
exposes (:data:`SERIES`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .._html import Result, esc, page, table
from ..exceptions import ValidationError

__all__ = ["SERIES", "GrafanaDashboard", "dashboard", "grafana_dashboard"]

SCHEMA_VERSION = 39
#: the series the dashboard reads, as the model server names them
SERIES = (
    "modelops_requests_total",
    "modelops_request_duration_seconds_bucket",
    "modelops_errors_total",
    "modelops_shed_total",
    "modelops_queue_depth",
    "modelops_circuit_open",
    "modelops_inference_duration_seconds_bucket",
    "modelops_batch_size_bucket",
    "modelops_feature_drift_psi",
    "modelops_feature_drift_js",
    "modelops_prediction_drift_psi",
    "modelops_drift_window_rows",
    "modelops_drift_alarm",
    "modelops_drift_statistic",
    "modelops_drift_threshold",
    "modelops_estimated_performance",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _panel(
    pid: int,
    title: str,
    kind: str,
    targets: list[tuple[str, str]],
    grid: tuple[int, int, int, int],
    *,
    unit: str = "short",
    description: str = "",
) -> dict:
    x, y, w, h = grid
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _row(pid: int, title: str, y: int) -> dict:
    return {
        "id": pid,
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
    }


def dashboard(name: str, model: str, *, title: str | None = None) -> dict:
    """The dashboard JSON (a dict) for deployment ``name`` serving ``model``."""
    for what, value in (("deployment name", name), ("model name", model)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValidationError(
                f"The {what} {value!r} cannot name a dashboard: expected letters, digits, '_', "
                "'.' and '-' (at most 128)."
            )
    sel = 'model="$model",instance=~"$instance"'
    rate = "[$__rate_interval]"
    panels: list[dict] = []
    y = 0

    def row(title: str) -> None:
        nonlocal y
        panels.append(_row(len(panels) + 1, title, y))
        y += 1

    def add(title: str, kind: str, targets: list[tuple[str, str]], x: int, w: int, **kw: Any) -> None:
        panels.append(_panel(len(panels) + 1, title, kind, targets, (x, y, w, 8), **kw))

    row("Traffic")
    add(
        "Requests per second by status",
        "timeseries",
        [(f'sum by (code) (rate(modelops_requests_total{{{sel},endpoint="infer"}}{rate}))', "{{code}}")],
        0,
        12,
        unit="reqps",
    )
    add(
        "Queue depth and batch size",
        "timeseries",
        [
            (f"sum(modelops_queue_depth{{{sel}}})", "waiting requests"),
            (
                f"histogram_quantile(0.5, sum by (le) (rate(modelops_batch_size_bucket{{{sel}}}{rate})))",
                "median batch size",
            ),
        ],
        12,
        12,
    )
    y += 8
    row("Latency")
    add(
        "Request latency",
        "timeseries",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(modelops_request_duration_seconds_bucket{{{sel}}}{rate})))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.9, 0.99)
        ],
        0,
        12,
        unit="s",
    )
    add(
        "Runtime call latency (one batch)",
        "timeseries",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(modelops_inference_duration_seconds_bucket{{{sel}}}{rate})))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
        12,
        12,
        unit="s",
    )
    y += 8
    row("Errors")
    add(
        "Error rate",
        "timeseries",
        [
            (
                f'sum(rate(modelops_requests_total{{{sel},endpoint="infer",code!~"2..|401|403|429"}}{rate})) / '
                f'sum(rate(modelops_requests_total{{{sel},endpoint="infer",code!~"401|403|429"}}{rate}))',
                "error rate",
            )
        ],
        0,
        8,
        unit="percentunit",
    )
    add(
        "Errors by kind",
        "timeseries",
        [(f"sum by (kind) (rate(modelops_errors_total{{{sel}}}{rate}))", "{{kind}}")],
        8,
        8,
        unit="reqps",
    )
    add(
        "Refused and circuit breaker",
        "timeseries",
        [
            (f'sum by (reason) (rate(modelops_shed_total{{instance=~"$instance"}}{rate}))', "shed: {{reason}}"),
            (f"max(modelops_circuit_open{{{sel}}})", "circuit open"),
        ],
        16,
        8,
    )
    y += 8
    row("Drift")
    add(
        "Feature drift (PSI) per feature",
        "timeseries",
        [(f"max by (feature) (modelops_feature_drift_psi{{{sel}}})", "{{feature}}")],
        0,
        12,
        description="Population stability index of each feature's live window against the version's profile; "
        "0.1 and 0.25 are the usual attention and action levels.",
    )
    add(
        "Prediction drift (PSI)",
        "timeseries",
        [(f"max by (version) (modelops_prediction_drift_psi{{{sel}}})", "version {{version}}")],
        12,
        12,
    )
    y += 8
    add(
        "Feature drift (Jensen-Shannon distance)",
        "timeseries",
        [(f"max by (feature) (modelops_feature_drift_js{{{sel}}})", "{{feature}}")],
        0,
        12,
    )
    add(
        "Rows in the drift window",
        "timeseries",
        [(f"sum by (version) (modelops_drift_window_rows{{{sel}}})", "version {{version}}")],
        12,
        12,
    )
    y += 8
    row("Alarms and performance")
    add(
        "Drift alarm",
        "stat",
        [(f"max(modelops_drift_alarm{{{sel}}})", "alarm")],
        0,
        6,
        description="1 while the sequential drift alarm of the model is raised.",
    )
    add(
        "Sequential alarm statistic and threshold",
        "timeseries",
        [
            (f"max by (version) (modelops_drift_statistic{{{sel}}})", "statistic {{version}}"),
            (f"max by (version) (modelops_drift_threshold{{{sel}}})", "threshold {{version}}"),
        ],
        6,
        9,
    )
    add(
        "Estimated performance (no labels)",
        "timeseries",
        [(f"max by (metric) (modelops_estimated_performance{{{sel}}})", "{{metric}}")],
        15,
        9,
        unit="percentunit",
    )
    uid = "modelops-" + hashlib.sha256(f"{name}\0{model}".encode()).hexdigest()[:16]
    return {
        "id": None,
        "uid": uid,
        "title": title or f"{name} ({model}) - jupyter-modelops",
        "description": f"Model server metrics of deployment {name} (model {model}).",
        "tags": ["jupyter-modelops", model],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 0,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "links": [],
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                    "options": [],
                },
                {
                    "name": "model",
                    "label": "model",
                    "type": "custom",
                    "query": model,
                    "current": {"text": model, "value": model},
                    "options": [{"text": model, "value": model, "selected": True}],
                    "hide": 0,
                },
                {
                    "name": "instance",
                    "label": "instance",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "definition": 'label_values(modelops_requests_total{model="$model"}, instance)',
                    "query": {
                        "query": 'label_values(modelops_requests_total{model="$model"}, instance)',
                        "refId": "instances",
                    },
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "refresh": 2,
                    "sort": 1,
                    "current": {"text": "All", "value": "$__all"},
                    "options": [],
                    "hide": 0,
                },
            ]
        },
        "panels": panels,
    }


class GrafanaDashboard(Result):
    """A written dashboard: ``path`` and the JSON as ``dashboard``."""

    def __init__(self, path: str, board: dict) -> None:
        self.path = path
        self.dashboard = board

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "uid": self.dashboard["uid"],
            "title": self.dashboard["title"],
            "panels": [p["title"] for p in self.dashboard["panels"] if p["type"] != "row"],
        }

    def to_text(self) -> str:
        return f"wrote {self.path}: Grafana dashboard '{self.dashboard['title']}' (import it as is)"

    def to_html(self) -> str:
        rows = [[p["title"], p["targets"][0]["expr"]] for p in self.dashboard["panels"] if p["type"] != "row"]
        return page(
            f"Grafana dashboard {esc(self.dashboard['title'])}",
            table(rows, ["panel", "query"]),
            subtitle=esc(self.path),
        )

    def _summary(self) -> str:
        return f"GrafanaDashboard {self.dashboard['uid']} at {self.path}"


def _model_of(deployment: Any) -> tuple[str, str]:
    """(deployment name, model name) of a deployment object or name."""
    if not isinstance(deployment, str):
        name, model = getattr(deployment, "name", None), getattr(deployment, "model", None)
        if isinstance(name, str) and isinstance(model, str):
            return name, model
        raise ValidationError(
            f"deployment is a {type(deployment).__name__}; expected a deployment name or the result of deploy()."
        )
    from ..serving.local import _root

    state = _root() / deployment / "state.json"
    if _NAME.match(deployment) and state.is_file():
        try:
            data = json.loads(state.read_text())
        except (OSError, ValueError):
            data = {}
        model = data.get("model_name") or str(data.get("ref") or "").rpartition(":")[0]
        if model:
            return deployment, str(model)
    from .. import registry

    for rec in reversed(registry.records(kind="deployment")):
        data = rec.get("data") or {}
        if data.get("name") == deployment and data.get("model"):
            return deployment, str(data["model"])
    return deployment, deployment


def grafana_dashboard(
    deployment: Any, *, output: str | os.PathLike | None = None, model: str | None = None, title: str | None = None
) -> GrafanaDashboard:
    """Write a Grafana dashboard JSON for a deployment's Prometheus series.

    Parameters
    ----------
    deployment : str or Deployment or LocalDeployment
        The deployment (its name, or what :func:`deploy` returned).
    output : str or path, optional
        File to write (default ``DEPLOYMENT.grafana.json`` in the current directory); replaced atomically.
    model : str, optional
        The model name as the server labels its series (default: the deployment's model).
    title : str, optional
        Dashboard title.

    Returns
    -------
    GrafanaDashboard
        ``path`` and ``dashboard`` (the JSON as a dict). Import the file in Grafana
        (Dashboards > New > Import) and choose the Prometheus data source.
    """
    name, found = _model_of(deployment)
    board = dashboard(name, model or found, title=title)
    if title is not None and (not isinstance(title, str) or not title.strip() or len(title) > 200):
        raise ValidationError(f"title is {title!r}; expected a non-empty text of at most 200 characters.")
    path = Path(output) if output is not None else Path(f"{name}.grafana.json")
    if path.is_dir():
        raise ValidationError(
            f"output {str(path)!r} is a directory; expected a file name such as '{name}.grafana.json'."
        )
    if not path.parent.is_dir():
        raise ValidationError(f"The directory of output {str(path)!r} does not exist; create it first.")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(board, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return GrafanaDashboard(str(path), board)
