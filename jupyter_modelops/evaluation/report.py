"""``EvaluationReport``: metrics with intervals, static HTML, matplotlib figures, gates."""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple

from .. import _svg
from .._html import Result, esc, fmt, page, table, to_jsonable
from ..gates import GateReport, GateSpec, check, lower_is_better

SCHEMA = "jupyter-modelops/evaluation-report"
SCHEMA_VERSION = 1

LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "precision_macro": "precision (macro)",
    "recall_macro": "recall (macro)",
    "f1_macro": "F1 (macro)",
    "precision_weighted": "precision (weighted)",
    "recall_weighted": "recall (weighted)",
    "f1_weighted": "F1 (weighted)",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC (average precision)",
    "ks_statistic": "KS statistic",
    "log_loss": "log loss",
    "brier_score_loss": "Brier score",
    "calibration_error": "expected calibration error",
    "mean_absolute_error": "MAE",
    "mean_squared_error": "MSE",
    "root_mean_squared_error": "RMSE",
    "r2": "R²",
    "mean_absolute_percentage_error": "MAPE",
    "max_error": "max error",
    "mean_residual": "mean residual (bias)",
}

#: Other names accepted by :meth:`EvaluationReport.check`.
ALIASES = {
    "auc": "roc_auc",
    "roc": "roc_auc",
    "ap": "pr_auc",
    "average_precision": "pr_auc",
    "ks": "ks_statistic",
    "brier": "brier_score_loss",
    "brier_score": "brier_score_loss",
    "ece": "calibration_error",
    "acc": "accuracy",
    "f1_score": "f1",
    "mae": "mean_absolute_error",
    "mse": "mean_squared_error",
    "rmse": "root_mean_squared_error",
    "mape": "mean_absolute_percentage_error",
    "r2_score": "r2",
}
THRESHOLD_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1")


class Metric(NamedTuple):
    """A point value and its interval (``low``/``high`` are None without a bootstrap)."""

    value: float
    low: float | None
    high: float | None


def _clean(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class EvaluationReport(Result):
    """Metrics of a model on a data set, each with a bootstrap confidence interval.

    Attributes
    ----------
    task : str
        "binary", "multiclass" or "regression".
    metrics : dict
        ``name -> Metric(value, low, high)``. Names follow scikit-learn:
        ``*_error`` and ``*_loss`` are lower-is-better.
    confusion, curves, calibration, residuals : dict or None
        Plot data (decimated curves).
    notes : list of str
        What is approximate in this report, and why.
    alerts : list of str
        What changes how the whole report must be read (e.g. scores taken as
        decision values); shown first, in the header.
    gates : GateReport or None
        The last :meth:`check`.
    """

    def __init__(
        self,
        *,
        task: str,
        n_rows: int,
        ci: float,
        n_boot: int,
        threshold: float | None,
        metrics: Mapping[str, tuple],
        classes: list | None = None,
        pos_label: Any = None,
        method: str | None = None,
        binned: bool = False,
        notes: list[str] | None = None,
    ) -> None:
        self.task = task
        self.n_rows = int(n_rows)
        self.ci = ci
        self.n_boot = n_boot
        self.threshold = threshold
        self.metrics = {k: Metric(_clean(v[0]), _clean(v[1]), _clean(v[2])) for k, v in metrics.items()}
        self.classes = classes
        self.pos_label = pos_label
        self.method = method
        self.binned = binned
        self.notes = list(notes or [])
        self.alerts: list[str] = []
        self.interval_notes: dict[str, str] = {}
        self.confusion: dict | None = None
        self.curves: dict | None = None
        self.calibration: dict | None = None
        self.residuals: dict | None = None
        self.gates: GateReport | None = None
        self.model: dict = {}
        self.timing: dict = {}
        self._levels = None
        self._dists = None

    # ------------------------------------------------------------------ access
    def __getitem__(self, name: str) -> Metric:
        return self.metrics[ALIASES.get(name, name)]

    def value(self, name: str) -> float:
        """The point value of a metric (aliases such as ``"auc"`` accepted)."""
        return self[name].value

    def check(self, gates: GateSpec, *, on: str = "bound") -> GateReport:
        """Judge gates such as ``{"f1": ">= 0.8"}`` or ``["roc_auc >= 0.9", "log_loss <= 0.3"]``.

        By default ``>=`` gates are judged on the interval's lower bound and
        ``<=`` gates on its upper bound; ``on="value"`` uses the point value.
        The result is returned and kept in ``.gates`` (shown in the HTML).
        """
        self.gates = check(self.metrics, gates, on=on, aliases=ALIASES)
        return self.gates

    def at_threshold(self, threshold: float) -> dict:
        """Threshold-dependent metrics (point values) at another decision threshold (binary, with scores)."""
        from .._validation import check_fraction
        from ..exceptions import ValidationError
        from . import _binary

        if self._levels is None:
            raise ValidationError("at_threshold needs a binary report computed from scores.")
        t = check_fraction(threshold, "threshold")
        lv, proba = self._levels
        thr = _binary.threshold_on_scale(t, proba)
        pv = _binary.point_values_threshold(lv, thr)
        return pv

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        d = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "task": self.task,
            "n_rows": self.n_rows,
            "ci": self.ci,
            "n_boot": self.n_boot,
            "bootstrap": {"method": self.method, "binned": self.binned},
            "threshold": self.threshold,
            "classes": self.classes if self.classes is None or len(self.classes) <= 100 else None,
            "pos_label": self.pos_label,
            "metrics": {
                k: {"value": m.value, "low": m.low, "high": m.high, "lower_is_better": lower_is_better(k)}
                for k, m in self.metrics.items()
            },
            "confusion_matrix": self.confusion if self.confusion and len(self.confusion["labels"]) <= 40 else None,
            "curves": _round(self.curves),
            "calibration": _round(self.calibration),
            "residuals": _round(self.residuals),
            "gates": None if self.gates is None else self.gates.to_dict(),
            "notes": self.notes,
            "alerts": self.alerts,
            "interval_notes": self.interval_notes,
            "model": self.model,
            "timing": self.timing,
        }
        return to_jsonable(d)

    def _summary(self) -> str:
        key = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "root_mean_squared_error"}[self.task]
        m = self.metrics.get(key) or next(iter(self.metrics.values()))
        name = key if key in self.metrics else next(iter(self.metrics))
        ci = f" [{fmt(m.low)}, {fmt(m.high)}]" if m.low is not None else ""
        return f"EvaluationReport {self.task}, n={self.n_rows:,}: {name}={fmt(m.value)}{ci}"

    def to_text(self) -> str:
        lines = [self._summary()] + [f"WARNING: {a}" for a in self.alerts] + [""]
        pct = f"{self.ci:.0%}"
        lines.append(f"  {'metric':<32} {'value':>10}   {pct} interval")
        for k, m in self.metrics.items():
            iv = f"[{fmt(m.low)}, {fmt(m.high)}]" if m.low is not None else ""
            if iv and k in self.interval_notes:
                iv += f"  ({self.interval_notes[k]})"
            lines.append(f"  {k:<32} {fmt(m.value):>10}   {iv}")
        if self.gates is not None:
            lines += ["", "Gates:", self.gates.to_text()]
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)

    def metrics_table(self) -> str:
        rows = []
        pct = f"{self.ci:.0%}"
        for k, m in self.metrics.items():
            iv = f'<span class="ci">[{esc(fmt(m.low))}, {esc(fmt(m.high))}]</span>' if m.low is not None else "–"
            if m.low is not None and k in self.interval_notes:
                iv += f' <span class="note">{esc(self.interval_notes[k])}</span>'

            arrow = "best at 0" if k == "mean_residual" else ("↓" if lower_is_better(k) else "↑")
            rows.append((f'{esc(LABELS.get(k, k))} <span class="note">{esc(k)} {arrow}</span>', esc(fmt(m.value)), iv))
        return table(rows, ["metric", "value", f"{pct} interval"], raw_cols=(0, 1, 2))

    def svg_figures(self) -> list[str]:
        figs: list[str] = []
        if self.curves:
            roc = self.curves["roc"]
            auc = self.metrics.get("roc_auc")
            figs.append(
                _svg.line_chart(
                    [(f"AUC {fmt(auc.value, 3)}" if auc else "", roc["fpr"], roc["tpr"])],
                    title="ROC curve",
                    xlabel="false positive rate",
                    ylabel="true positive rate",
                    xlim=(0, 1),
                    ylim=(0, 1),
                    diagonal=True,
                )
            )
            pr = self.curves["pr"]
            ap = self.metrics.get("pr_auc")
            figs.append(
                _svg.line_chart(
                    [
                        (f"AP {fmt(ap.value, 3)}" if ap else "", pr["recall"], pr["precision"]),
                        ("prevalence", [0, 1], [self.curves["prevalence"]] * 2),
                    ],
                    title="Precision-recall curve",
                    xlabel="recall",
                    ylabel="precision",
                    xlim=(0, 1),
                    ylim=(0, 1.02),
                )
            )
        if self.confusion:
            labels = [str(x) for x in self.confusion["labels"]]
            if len(labels) <= 40:
                figs.append(_svg.heatmap(self.confusion["matrix"], labels, title="Confusion matrix"))
        if self.calibration:
            c = self.calibration
            figs.append(
                _svg.line_chart(
                    [("model", c["prob_pred"], c["prob_true"])],
                    title="Calibration (reliability)",
                    xlabel="mean predicted probability" if self.task == "binary" else "mean confidence",
                    ylabel="fraction positive" if self.task == "binary" else "accuracy",
                    xlim=(0, 1),
                    ylim=(0, 1),
                    diagonal=True,
                    markers=True,
                )
            )
        if self.residuals:
            r = self.residuals
            e, cnt = r["histogram"]["edges"], r["histogram"]["counts"]
            xs, ys = [], []
            for i, c in enumerate(cnt):
                xs += [e[i], e[i + 1]]
                ys += [c, c]
            figs.append(
                _svg.line_chart(
                    [("", xs, ys)],
                    title="Residuals (y - prediction)",
                    xlabel="residual",
                    ylabel="rows",
                    ylim=(0, max(cnt) * 1.05 if cnt else 1),
                )
            )
            figs.append(
                _scatter(
                    r["sample"]["predicted"],
                    r["sample"]["residual"],
                    title="Residual vs prediction",
                    xlabel="prediction",
                    ylabel="residual",
                )
            )
        return figs

    def to_html(self) -> str:
        parts = [
            (
                f'<div class="alert" role="alert" style="border:2px solid #b00020;padding:6px 10px;margin:0 0 10px">'
                f"<b>Warning:</b> {esc(a)}</div>"
            )
            for a in self.alerts
        ]
        parts.append(self.metrics_table())
        if self.gates is not None:
            parts.append("<h4>Gates</h4>" + self.gates.html_table())
        figs = self.svg_figures()
        if figs:
            parts.append('<div class="figs">' + "".join(figs) + "</div>")
        for n in self.notes:
            parts.append(f'<div class="note">{esc(n)}</div>')
        sub = (
            f"{self.n_rows:,} rows · {self.ci:.0%} percentile bootstrap intervals from {self.n_boot:,} replicates"
            if self.n_boot
            else f"{self.n_rows:,} rows · point values only (n_boot=0)"
        )
        if self.task == "binary" and self.threshold is not None:
            sub += f" · threshold {self.threshold:g} (positive: {self.pos_label})"
        title = {
            "binary": "Binary classification",
            "multiclass": "Multiclass classification",
            "regression": "Regression",
        }[self.task]
        return page(f"Evaluation: {title}", "".join(parts), subtitle=sub)

    def figures(self) -> dict:
        """matplotlib figures of the same plots: ``{"roc": Figure, ...}`` (matplotlib imported here)."""
        from .._optional import require

        plt = require("matplotlib.pyplot", purpose="draw figures", extra="plots")
        out = {}
        if self.curves:
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.plot(self.curves["roc"]["fpr"], self.curves["roc"]["tpr"], label="model")
            ax.plot([0, 1], [0, 1], "--", color="grey")
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
            out["roc"] = fig
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.plot(self.curves["pr"]["recall"], self.curves["pr"]["precision"])
            ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
            out["pr"] = fig
        if self.confusion:
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.imshow(self.confusion["matrix"], cmap="Blues")
            labels = [str(x) for x in self.confusion["labels"]]
            ax.set_xticks(range(len(labels)), labels)
            ax.set_yticks(range(len(labels)), labels)
            ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
            out["confusion"] = fig
        if self.calibration:
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.plot(self.calibration["prob_pred"], self.calibration["prob_true"], "o-")
            ax.plot([0, 1], [0, 1], "--", color="grey")
            ax.set(xlabel="mean predicted probability", ylabel="observed frequency", title="Calibration")
            out["calibration"] = fig
        if self.residuals:
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.scatter(self.residuals["sample"]["predicted"], self.residuals["sample"]["residual"], s=6)
            ax.axhline(0, color="grey", ls="--")
            ax.set(xlabel="prediction", ylabel="residual", title="Residual vs prediction")
            out["residuals"] = fig
        return out


def _round(obj, digits: int = 6):
    if obj is None:
        return None
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v, digits) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else None
    return obj


def _scatter(xs, ys, *, title: str, xlabel: str, ylabel: str) -> str:
    x0, x1 = _svg._limits(xs, 0.05)
    y0, y1 = _svg._limits(list(ys) + [0.0], 0.05)
    f = _svg._Frame(title, xlabel, ylabel, (x0, x1), (y0, y1))
    f.axes()
    f.parts.append(
        f'<line x1="{f.X(x0):.1f}" y1="{f.Y(0):.1f}" x2="{f.X(x1):.1f}" y2="{f.Y(0):.1f}" '
        'stroke="#8c959f" stroke-dasharray="3,3"/>'
    )
    for x, y in zip(xs, ys):
        f.parts.append(
            f'<circle cx="{f.X(x):.1f}" cy="{f.Y(y):.1f}" r="1.6" fill="{_svg.PALETTE[0]}" fill-opacity="0.6"/>'
        )
    return f.svg()
