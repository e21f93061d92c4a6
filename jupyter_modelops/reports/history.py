"""The monitoring history of a model: every report run, with trends."""

from __future__ import annotations

from typing import Any

from .._html import Result, esc, fmt, page, table
from .._svg import line_chart


def _runs_of(name: str) -> list[dict]:
    from .. import registry

    base = name.split("@", 1)[0].split(":", 1)[0]
    registry.versions(base)  # raises ModelNotFoundError (with suggestions) for an unknown name
    runs = [rec["data"] for rec in registry.records(base, kind="report")]
    runs.sort(key=lambda r: r.get("started") or "")
    return runs


def _value(v: Any) -> float | None:
    if isinstance(v, dict):
        v = v.get("value")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class ReportHistory(Result):
    """The report runs of one model, oldest first."""

    def __init__(self, name: str, runs: list[dict]) -> None:
        self.name = name
        self.runs = runs

    def __len__(self) -> int:
        return len(self.runs)

    def to_dict(self) -> dict:
        return {"name": self.name, "runs": list(self.runs)}

    def trend(self, metric: str) -> list[tuple[str | None, float]]:
        """(started, value) pairs of one metric across runs that have it."""
        out: list[tuple[str | None, float]] = []
        for r in self.runs:
            v = _value((r.get("metrics") or {}).get(metric))
            if v is not None:
                out.append((r.get("started"), v))
        return out

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for r in self.runs:
            for k, v in (r.get("metrics") or {}).items():
                if _value(v) is not None:
                    names[k] = None
        return list(names)

    def _summary(self) -> str:
        failed = sum(1 for r in self.runs if r.get("status") != "succeeded" or r.get("gates_passed") is False)
        return f"ReportHistory {self.name}: {len(self.runs)} run(s), {failed} failed or with failed gates"

    def to_text(self) -> str:
        lines = [self._summary()]
        for r in self.runs:
            gates = r.get("gates") or []
            bad = sum(1 for g in gates if g.get("status") == "fail")
            lines.append(
                f"  {r.get('started')}  {r.get('ref')}  {r.get('template')}  {r.get('status')}  "
                f"gates {len(gates) - bad}/{len(gates)}  {r.get('html') or ''}"
            )
        return "\n".join(lines)

    def to_html(self) -> str:
        charts = []
        for metric in self.metric_names()[:4]:
            pts = self.trend(metric)
            if len(pts) >= 2:
                charts.append(
                    line_chart(
                        [(metric, list(range(1, len(pts) + 1)), [v for _, v in pts])],
                        title=metric,
                        xlabel="run",
                        ylabel=metric,
                        markers=True,
                    )
                )
        rows = []
        for r in self.runs:
            gates = r.get("gates") or []
            bad = sum(1 for g in gates if g.get("status") == "fail")
            ok = r.get("status") == "succeeded" and not bad
            cls = "pass" if ok else "fail"
            rows.append(
                (
                    esc(r.get("started")),
                    esc(r.get("ref")),
                    esc(r.get("template")),
                    f'<span class="{cls}">{esc(r.get("status"))}</span>',
                    esc(f"{len(gates) - bad}/{len(gates)}"),
                    esc(fmt(r.get("duration_s"))),
                )
            )
        body = (f'<div class="figs">{"".join(charts)}</div>' if charts else "") + (
            table(rows, ["started", "version", "template", "status", "gates", "seconds"], raw_cols=range(6))
            if rows
            else "<div class='note'>no runs yet</div>"
        )
        return page(f"Monitoring history of {self.name}", body)

    def figures(self) -> list:
        import matplotlib.pyplot as plt

        figs = []
        for metric in self.metric_names():
            pts = self.trend(metric)
            fig, ax = plt.subplots(figsize=(4, 2.6))
            ax.plot(range(1, len(pts) + 1), [v for _, v in pts], marker="o")
            ax.set_title(metric)
            ax.set_xlabel("run")
            figs.append(fig)
        return figs


def report_history(name: str) -> ReportHistory:
    """All report runs recorded for a model (any version), oldest first."""
    return ReportHistory(name.split("@", 1)[0].split(":", 1)[0], _runs_of(name))
