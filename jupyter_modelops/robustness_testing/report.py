"""``RobustnessReport``: metric drop, flip rate and score movement per perturbation and severity."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .. import _svg
from .._html import Result, esc, fmt, page, table, to_jsonable
from ..exceptions import ValidationError, suggest

SCHEMA = 1

#: Row metrics a gate can name, with their aliases.
GATE_METRICS = {
    "flip_rate": "flip_rate",
    "metric_drop": "metric_drop",
    "accuracy_drop": "metric_drop",
    "mae_increase": "metric_drop",
    "mean_abs_delta": "mean_abs_delta",
    "delta_score": "mean_abs_delta",
}

_AT = re.compile(
    r"^(?P<gate>.+?)\s+at\s+(?P<pert>[A-Za-z_][\w\-]*)(?:\s+(?P<sev>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?\s*$"
)


class RobustnessReport(Result):
    """The result of :func:`jupyter_modelops.robustness`.

    Attributes
    ----------
    rows : list of dict
        One per perturbation x severity: ``flip_rate`` (+ ``_low``/``_high``),
        ``metric_drop`` (+ interval; accuracy drop for classifiers, MAE
        increase for regressors, when labels were given), ``mean_abs_delta``
        (mean absolute change of the score: half the L1 distance between class
        probability vectors, or the absolute change of the prediction),
        ``status`` (``ok``, ``skipped``, ``unsupported``, ``error``) and ``note``.
    features : list of dict
        Per-feature sensitivity, most sensitive first.
    """

    def __init__(
        self,
        rows: list[dict],
        *,
        features: list[dict],
        task: str,
        n_rows: int,
        n_boot: int,
        ci: float,
        base_metric: dict | None,
        model_seconds: float,
        total_seconds: float,
        has_labels: bool,
    ) -> None:
        self.rows = rows
        self.features = features
        self.task = task
        self.n_rows = n_rows
        self.n_boot = n_boot
        self.ci = ci
        self.base_metric = base_metric
        self.model_seconds = model_seconds
        self.total_seconds = total_seconds
        self.has_labels = has_labels
        self.gates = None

    # -- access --------------------------------------------------------------
    @property
    def ok_rows(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") == "ok"]

    def row(self, perturbation: str, severity: float) -> dict:
        """The row of one perturbation at one severity."""
        for r in self.rows:
            if (
                r["perturbation"] == perturbation
                and r.get("severity") is not None
                and abs(r["severity"] - severity) < 1e-12
            ):
                return r
        names = sorted({r["perturbation"] for r in self.rows})
        if perturbation not in names:
            raise ValidationError(
                f"No perturbation '{perturbation}' in this report.{suggest(perturbation, names)} "
                f"Perturbations run: {', '.join(names)}."
            )
        sevs = [r["severity"] for r in self.rows if r["perturbation"] == perturbation and r.get("severity") is not None]
        raise ValidationError(f"The perturbation '{perturbation}' ran at severities {sevs}, not {severity:g}.")

    def summary(self) -> dict:
        """Headline numbers: the most damaging perturbation, the most sensitive features, problems."""
        ok = self.ok_rows
        key = "metric_drop" if self.has_labels else ("flip_rate" if self.task == "classification" else "mean_abs_delta")
        worst = max(ok, key=lambda r: r.get(key) if r.get(key) is not None else -1e300, default=None)
        mild = {}
        for r in ok:  # each perturbation at its mildest severity
            if r["perturbation"] not in mild:
                mild[r["perturbation"]] = r
        out = {
            "task": self.task,
            "rows": self.n_rows,
            "judged_by": key,
            "worst": None
            if worst is None
            else {"perturbation": worst["perturbation"], "severity": worst["severity"], key: worst.get(key)},
            "mean_flip_rate_mildest": (
                sum(r["flip_rate"] for r in mild.values()) / len(mild)
                if mild and self.task == "classification"
                else None
            ),
            "most_sensitive_features": [f["feature"] for f in self.features[:5]],
            "unsupported": [
                f"{r['perturbation']} {r['severity']:g}: {r['note']}"
                for r in self.rows
                if r.get("status") in ("unsupported", "error")
            ],
            "skipped": [f"{r['perturbation']}: {r['note']}" for r in self.rows if r.get("status") == "skipped"],
            "model_seconds": self.model_seconds,
            "total_seconds": self.total_seconds,
            "overhead_seconds": max(self.total_seconds - self.model_seconds, 0.0),
        }
        if self.base_metric:
            out["base_metric"] = self.base_metric
        return out

    # -- gates ---------------------------------------------------------------
    def check(self, gates: Any, *, on: str = "bound", raise_on_failure: bool = False):
        """Judge gates such as ``"flip_rate <= 0.05 at noise 0.05"``.

        A gate is ``METRIC OP NUMBER at PERTURBATION [SEVERITY]``; without a
        severity, every severity of that perturbation must pass. Metrics:
        ``flip_rate``, ``metric_drop`` (alias ``accuracy_drop``,
        ``mae_increase``), ``mean_abs_delta``. Judged on the interval's upper
        bound for ``<=``/``<`` (lower for ``>=``/``>``) unless ``on="value"``.

        Returns
        -------
        jupyter_modelops.gates.GateReport
        """
        from ..gates import GateReport, check, parse_gate

        if isinstance(gates, str):
            specs = [g.strip() for g in re.split(r"[;\n]", gates) if g.strip()]
        elif isinstance(gates, dict):
            specs = [f"{k} {v}" if not re.match(r"^\s*[A-Za-z_]", str(v)) else str(v) for k, v in gates.items()]
        else:
            specs = [str(g).strip() for g in gates]
        results = []
        for text in specs:
            m = _AT.match(text)
            if not m:
                raise ValidationError(
                    f"Could not read the gate {text!r}; expected 'METRIC OP NUMBER at PERTURBATION "
                    "[SEVERITY]', such as 'flip_rate <= 0.05 at noise 0.05'."
                )
            g = parse_gate(m.group("gate"))
            metric = GATE_METRICS.get(g.metric)
            if metric is None:
                raise ValidationError(
                    f"The gate {text!r} names '{g.metric}'.{suggest(g.metric, GATE_METRICS)} "
                    f"Known metrics: {', '.join(GATE_METRICS)}."
                )
            pert, sev = m.group("pert"), m.group("sev")
            rows = (
                [self.row(pert, float(sev))] if sev is not None else [r for r in self.rows if r["perturbation"] == pert]
            )
            if not rows:
                self.row(pert, 0.0)  # raises with the list of perturbations run
            for r in rows:
                if r.get("status") != "ok" or r.get(metric) is None:
                    why = r.get("note") or f"{metric} is not available (labels given: {self.has_labels})"
                    raise ValidationError(f"The gate {text!r} cannot be judged at {pert} {r.get('severity')}: {why}.")
                triple = (r[metric], r.get(f"{metric}_low"), r.get(f"{metric}_high"))
                res = check({g.metric: triple}, [g], on=on).results[0]
                label = f"{g} at {pert} {r['severity']:g}"
                results.append(dataclasses.replace(res, gate=label))
        rep = GateReport(results, on=on)
        self.gates = rep
        return rep.raise_for_failure() if raise_on_failure else rep

    # -- output --------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "schema": SCHEMA,
                "kind": "robustness",
                "task": self.task,
                "n_rows": self.n_rows,
                "n_boot": self.n_boot,
                "ci": self.ci,
                "base_metric": self.base_metric,
                "summary": self.summary(),
                "rows": self.rows,
                "features": self.features,
                "gates": None if self.gates is None else self.gates.to_dict(),
            }
        )

    def _summary(self) -> str:
        s = self.summary()
        w = s["worst"]
        worst = (
            ""
            if w is None
            else f"; worst: {w['perturbation']} {w['severity']:g} ({s['judged_by']} {fmt(w[s['judged_by']])})"
        )
        return f"RobustnessReport {len(self.ok_rows)} runs on {self.n_rows:,} rows{worst}"

    def to_text(self) -> str:
        pct = int(round(self.ci * 100))
        lines = [self._summary()]
        if self.base_metric:
            lines.append(f"  clean {self.base_metric['name']}: {fmt(self.base_metric['value'])}")
        lines.append(
            f"  {'perturbation':<12} {'severity':>8} {'flip rate [' + str(pct) + '% CI]':>28} "
            f"{'metric drop [CI]':>30} {'mean |dscore|':>13}"
        )
        for r in self.rows:
            if r.get("status") != "ok":
                sev = "" if r.get("severity") is None else f"{r['severity']:g}"
                lines.append(f"  {r['perturbation']:<12} {sev:>8}  {r.get('status')}: {r.get('note')}")
                continue
            fr = _ci(r, "flip_rate")
            md = _ci(r, "metric_drop")
            lines.append(
                f"  {r['perturbation']:<12} {r['severity']:>8g} {fr:>28} {md:>30} {fmt(r.get('mean_abs_delta')):>13}"
            )
        if self.features:
            lines.append(
                "  most sensitive features: "
                + ", ".join(f"{f['feature']} ({fmt(f.get('dropout_mean_abs_delta'))})" for f in self.features[:5])
            )
        if self.gates is not None:
            lines += ["Gates:", self.gates.to_text()]
        return "\n".join(lines)

    def to_html(self) -> str:
        pct = int(round(self.ci * 100))
        head = ""
        if self.base_metric:
            head = f"<p>Clean {esc(self.base_metric['name'])}: <b>{esc(fmt(self.base_metric['value']))}</b>.</p>"
        rows = []
        for r in self.rows:
            if r.get("status") != "ok":
                rows.append(
                    [
                        esc(r["perturbation"]),
                        esc("" if r.get("severity") is None else f"{r['severity']:g}"),
                        "",
                        "",
                        "",
                        f'<span class="warn">{esc(r.get("status"))}</span> '
                        f'<span class="note">{esc(r.get("note"))}</span>',
                    ]
                )
                continue
            rows.append(
                [
                    esc(r["perturbation"]),
                    esc(f"{r['severity']:g}"),
                    esc(_ci(r, "flip_rate")),
                    esc(_ci(r, "metric_drop")),
                    esc(fmt(r.get("mean_abs_delta"))),
                    f'<span class="note">{esc(r.get("description", ""))}'
                    + (f"; imputed with {esc(r['imputed'])}" if r.get("imputed") else "")
                    + "</span>",
                ]
            )
        metric = (self.base_metric or {}).get("name", "metric")
        headers = [
            "perturbation",
            "severity",
            f"flip rate [{pct}% CI]",
            f"{metric} {'drop' if metric == 'accuracy' else 'increase'} [{pct}% CI]",
            "mean |Δscore|",
            "what",
        ]
        # only the columns this run measured: no labels, no metric column; classification only, no score column
        keep = [
            i
            for i in range(6)
            if i not in (2, 3, 4)
            or any(r.get(("flip_rate", "metric_drop", "mean_abs_delta")[i - 2]) is not None for r in self.ok_rows)
        ]
        rows = [[row[i] for i in keep] for row in rows]
        body = head + table(rows, [headers[i] for i in keep], raw_cols=range(len(keep)))
        if self.gates is not None:
            body += "<h4>Gates</h4>" + self.gates.html_table()
        figs = self._curves()
        if self.features:
            top = self.features[:15]
            figs.append(
                _svg.bar_chart(
                    [f["feature"] for f in top],
                    [f.get("dropout_mean_abs_delta") or 0.0 for f in top],
                    title="Feature sensitivity (dropout)",
                    ylabel="mean |Δscore|",
                )
            )
        if figs:
            title = "Degradation curves and sensitivity" if self.features else "Degradation curves"
            body += f'<h4>{title}</h4><div class="figs">' + "".join(figs) + "</div>"
        s = self.summary()
        body += (
            f'<p class="note">{self.n_rows:,} rows, {self.n_boot} paired bootstrap replicates. Model time '
            f"{s['model_seconds']:.1f} s, overhead {s['overhead_seconds']:.1f} s.</p>"
        )
        return page("Robustness report", body, subtitle=self.task)

    def _curves(self) -> list[str]:
        by: dict[str, list[dict]] = {}
        for r in self.ok_rows:
            by.setdefault(r["perturbation"], []).append(r)
        figs = []
        for key, label in (
            ("flip_rate", "flip rate"),
            ("metric_drop", "metric drop"),
            ("mean_abs_delta", "mean |Δscore|"),
        ):
            series, bands = [], []
            for name, rs in by.items():
                rs = sorted((r for r in rs if r.get(key) is not None), key=lambda r: r["severity"])
                if len(rs) < 1:
                    continue
                # severities differ in meaning between perturbations: plot against the level index
                xs = list(range(1, len(rs) + 1))
                series.append((name, xs, [r[key] for r in rs]))
                if rs[0].get(f"{key}_low") is not None:
                    bands.append((xs, [r[f"{key}_low"] for r in rs], [r[f"{key}_high"] for r in rs]))
            if series and (key != "mean_abs_delta" or not any(s for s in figs)):
                figs.append(
                    _svg.line_chart(
                        series,
                        title=f"{label} by severity level",
                        xlabel="severity level (1 = mildest)",
                        ylabel=label,
                        bands=bands if len(bands) == len(series) else (),
                        markers=True,
                    )
                )
        return figs[:2]

    def figures(self) -> list:
        """Matplotlib degradation curves (needs matplotlib)."""
        from .._optional import require

        plt = require("matplotlib.pyplot", purpose="draw figures")
        figs = []
        for key in ("flip_rate", "metric_drop"):
            by: dict[str, list[dict]] = {}
            for r in self.ok_rows:
                if r.get(key) is not None:
                    by.setdefault(r["perturbation"], []).append(r)
            if not by:
                continue
            fig, ax = plt.subplots(figsize=(5, 3.5))
            for name, rs in by.items():
                rs.sort(key=lambda r: r["severity"])
                ax.errorbar(
                    [r["severity"] for r in rs],
                    [r[key] for r in rs],
                    yerr=[
                        [r[key] - (r.get(f"{key}_low") or r[key]) for r in rs],
                        [(r.get(f"{key}_high") or r[key]) - r[key] for r in rs],
                    ],
                    marker="o",
                    label=name,
                )
            ax.set_xscale("log")
            ax.set_xlabel("severity")
            ax.set_ylabel(key)
            ax.legend(fontsize=7)
            figs.append(fig)
        return figs


def _ci(r: dict, key: str) -> str:
    v = r.get(key)
    if v is None:
        return "–"
    lo, hi = r.get(f"{key}_low"), r.get(f"{key}_high")
    if lo is None:
        return fmt(v)
    return f"{fmt(v)} [{fmt(lo)}, {fmt(hi)}]"
