"""``DriftReport``: per-column drift with effect sizes, tests, thresholds and a verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _svg
from .._html import Result, esc, fmt, page, table, to_jsonable

if TYPE_CHECKING:
    from ..gates import GateReport

SCHEMA = 1

#: Effect-size thresholds (the defaults users know from Evidently and credit-risk practice).
THRESHOLDS = {"psi": 0.1, "psi_major": 0.25, "wasserstein_normed": 0.1, "js": 0.1}

#: How many of the most drifted columns get a plot.
PLOTS = 6


class DriftReport(Result):
    """The result of :func:`jupyter_modelops.drift`.

    Attributes
    ----------
    columns : list of dict
        One entry per column: kind, sizes, missing shares, ``psi``, ``ks``,
        ``ks_p``, ``ks_p_adj``, ``wasserstein``, ``wasserstein_normed``, ``js``,
        ``chi2``, ``chi2_p``, ``chi2_p_adj`` (those that apply), ``drift``
        (bool, or None when the column could not be compared), ``reasons`` and
        ``notes``.
    prediction : dict or None
        The same for the model's predictions, when a model was given.
    drifted : list of str
        Columns that drift.
    share : float
        Share of the comparable columns that drift.
    dataset_drift : bool
        ``share >= drift_share_threshold``.
    """

    def __init__(
        self,
        columns: list[dict],
        *,
        prediction: dict | None,
        methods: tuple,
        thresholds: dict,
        alpha: float,
        drift_share_threshold: float,
        n_reference: int,
        n_current: int,
        from_profile: bool,
        bins: int,
    ) -> None:
        self.columns = columns
        self.prediction = prediction
        self.methods = tuple(methods)
        self.thresholds = dict(thresholds)
        self.alpha = alpha
        self.drift_share_threshold = drift_share_threshold
        self.n_reference = n_reference
        self.n_current = n_current
        self.from_profile = from_profile
        self.bins = bins
        self.gates: GateReport | None = None

    # -- verdicts ------------------------------------------------------------
    @property
    def drifted(self) -> list[str]:
        return [r["column"] for r in self.columns if r.get("drift")]

    @property
    def comparable(self) -> list[dict]:
        return [r for r in self.columns if r.get("drift") is not None]

    @property
    def share(self) -> float:
        comp = self.comparable
        return len(self.drifted) / len(comp) if comp else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.comparable) and self.share >= self.drift_share_threshold

    def column(self, name: str) -> dict:
        """The entry of one column."""
        for r in self.columns:
            if r["column"] == name:
                return r
        if name == "prediction" and self.prediction is not None:
            return self.prediction
        from ..exceptions import ValidationError, suggest

        names = [r["column"] for r in self.columns]
        raise ValidationError(f"No column '{name}' in this report.{suggest(name, names)}")

    def ranked(self) -> list[dict]:
        """Columns from the most to the least drifted (by effect size relative to its threshold)."""
        return sorted(self.columns, key=lambda r: (bool(r.get("drift")), r.get("score", 0.0)), reverse=True)

    # -- gates ---------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """Numbers a gate can name: ``drift_share``, ``n_drifted``, ``dataset_drift``, ``max_psi``,
        ``max_js``, ``max_wasserstein_normed``, ``prediction_psi`` ... and per column ``psi.COL``,
        ``js.COL``, ``wasserstein_normed.COL``, ``ks.COL``, ``ks_p_adj.COL``, ``chi2_p_adj.COL``."""
        out: dict[str, float] = {
            "drift_share": self.share,
            "n_drifted": float(len(self.drifted)),
            "dataset_drift": float(self.dataset_drift),
        }
        keys = ("psi", "js", "wasserstein_normed", "ks", "ks_p_adj", "chi2_p_adj", "wasserstein")
        for k in keys:
            vals = [r[k] for r in self.columns if r.get(k) is not None]
            if vals and k in ("psi", "js", "wasserstein_normed", "ks"):
                out[f"max_{k}"] = max(vals)
            for r in self.columns:
                if r.get(k) is not None:
                    out[f"{k}.{r['column']}"] = r[k]
            if self.prediction is not None and self.prediction.get(k) is not None:
                out[f"prediction_{k}"] = self.prediction[k]
        if self.prediction is not None:
            out["prediction_drift"] = float(bool(self.prediction.get("drift")))
        return out

    def check(self, gates: Any, *, raise_on_failure: bool = False):
        """Judge gates such as ``"drift_share <= 0.3"``, ``"max_psi < 0.25"`` or ``"psi.age < 0.1"``.

        Returns
        -------
        jupyter_modelops.gates.GateReport
        """
        from ..gates import check

        rep = check(self.metrics(), gates, on="value")
        self.gates = rep
        return rep.raise_for_failure() if raise_on_failure else rep

    # -- output --------------------------------------------------------------
    def to_dict(self) -> dict:
        cols = [{k: v for k, v in r.items() if k != "plot"} for r in self.columns]
        pred = None if self.prediction is None else {k: v for k, v in self.prediction.items() if k != "plot"}
        return to_jsonable(
            {
                "schema": SCHEMA,
                "kind": "drift",
                "n_reference": self.n_reference,
                "n_current": self.n_current,
                "from_profile": self.from_profile,
                "methods": list(self.methods),
                "bins": self.bins,
                "thresholds": {
                    **self.thresholds,
                    "alpha": self.alpha,
                    "p_adjust": "benjamini-hochberg",
                    "drift_share": self.drift_share_threshold,
                },
                "rule": self.rule(),
                "dataset_drift": self.dataset_drift,
                "drift_share": self.share,
                "drifted": self.drifted,
                "columns": cols,
                "prediction": pred,
                "gates": None if self.gates is None else self.gates.to_dict(),
            }
        )

    def rule(self) -> str:
        th = self.thresholds
        return (
            f"a column drifts when its test is significant (KS or chi2, Benjamini-Hochberg adjusted p < {self.alpha:g}) "
            f"and an effect size reaches its threshold (PSI >= {th['psi']:g}, major >= {th['psi_major']:g}; "
            f"normed Wasserstein >= {th['wasserstein_normed']:g}; Jensen-Shannon >= {th['js']:g}); "
            f"the dataset drifts when >= {self.drift_share_threshold:.0%} of the columns drift"
        )

    def _summary(self) -> str:
        verdict = "DATASET DRIFT" if self.dataset_drift else "no dataset drift"
        comp = len(self.comparable)
        pred = ""
        if self.prediction is not None:
            pred = ", prediction drift" if self.prediction.get("drift") else ", predictions stable"
        return f"DriftReport {verdict}: {len(self.drifted)}/{comp} columns drift ({self.share:.0%}){pred}"

    def to_text(self) -> str:
        lines = [
            self._summary(),
            f"  reference {self.n_reference:,} rows, current {self.n_current:,} rows",
            f"  {'column':<22} {'drift':<6} {'PSI':>8} {'KS':>8} {'KS p_adj':>9} {'W/std':>8} {'JS':>8} {'chi2 p_adj':>10}",
        ]
        rows = self.ranked() + ([self.prediction] if self.prediction else [])
        for r in rows:
            d = "n/a" if r.get("drift") is None else ("YES" if r["drift"] else "no")
            lines.append(
                f"  {str(r['column'])[:22]:<22} {d:<6} {fmt(r.get('psi')):>8} {fmt(r.get('ks')):>8} "
                f"{fmt(r.get('ks_p_adj'), 2):>9} {fmt(r.get('wasserstein_normed')):>8} {fmt(r.get('js')):>8} "
                f"{fmt(r.get('chi2_p_adj'), 2):>10}"
            )
            for note in r.get("notes", []):
                lines.append(f"      note: {note}")
        lines.append("  rule: " + self.rule())
        if self.gates is not None:
            lines += ["Gates:", self.gates.to_text()]
        return "\n".join(lines)

    def to_html(self) -> str:
        badge = (
            '<span class="fail">dataset drift</span>'
            if self.dataset_drift
            else '<span class="pass">no dataset drift</span>'
        )
        head = (
            f"<p>{badge}: {len(self.drifted)} of {len(self.comparable)} columns drift "
            f"({self.share:.0%}; threshold {self.drift_share_threshold:.0%}). Reference {self.n_reference:,} rows"
            f"{' (profile)' if self.from_profile else ''}, current {self.n_current:,} rows.</p>"
        )
        rows = []
        for r in self.ranked() + ([self.prediction] if self.prediction else []):
            d = r.get("drift")
            mark = (
                '<span class="warn">n/a</span>'
                if d is None
                else '<span class="fail">drift</span>'
                if d
                else '<span class="pass">ok</span>'
            )
            psi = r.get("psi")
            psi_cell = esc(fmt(psi))
            # the colour follows the verdict: a PSI above its threshold on a column that does not
            # drift (its test is not significant, as on small data) is said, not painted red
            if d and psi is not None and psi >= self.thresholds["psi_major"]:
                psi_cell = f'<span class="fail">{psi_cell}</span>'
            elif d and psi is not None and psi >= self.thresholds["psi"]:
                psi_cell = f'<span class="warn">{psi_cell}</span>'
            extra = []
            if not d and psi is not None and psi >= self.thresholds["psi"]:
                extra.append(
                    f"PSI {psi:.3f} >= {self.thresholds['psi']:g} but the test is not significant "
                    f"(too few rows to tell)"
                )
            notes = "; ".join(r.get("reasons", []) + extra + r.get("notes", []))
            rows.append(
                [
                    esc(r["column"]),
                    esc(r["kind"]),
                    mark,
                    psi_cell,
                    esc(fmt(r.get("ks"))),
                    esc(fmt(r.get("ks_p_adj"), 2)),
                    esc(fmt(r.get("wasserstein_normed"))),
                    esc(fmt(r.get("js"))),
                    esc(fmt(r.get("chi2_p_adj"), 2)),
                    f'<span class="note">{esc(notes)}</span>',
                ]
            )
        body = head + table(
            rows,
            ["column", "kind", "", "PSI", "KS", "KS p (BH)", "Wasserstein/std", "JS", "chi2 p (BH)", "why"],
            raw_cols=range(10),
        )
        body += f'<p class="note">Rule: {esc(self.rule())}.</p>'
        if self.gates is not None:
            body += "<h4>Gates</h4>" + self.gates.html_table()
        figs = [
            self._plot(r)
            for r in (self.ranked()[:PLOTS] + ([self.prediction] if self.prediction else []))
            if r.get("plot")
        ]
        if figs:
            body += '<h4>Most drifted columns</h4><div class="figs">' + "".join(figs) + "</div>"
        return page("Drift report", body, subtitle=", ".join(self.methods))

    def _plot(self, r: dict) -> str:
        p = r["plot"]
        if r["kind"] == "numeric":
            levels = [i / (len(p["reference"]) - 1) for i in range(len(p["reference"]))]
            return _svg.line_chart(
                [("reference", p["reference"], levels), ("current", p["current"], levels)],
                title=f"{r['column']}: CDF",
                xlabel=str(r["column"]),
                ylabel="share <= x",
                ylim=(0.0, 1.0),
            )
        labels = [f"{c} ref" if i % 2 == 0 else f"{c} cur" for c in p["categories"] for i in range(2)]
        values = [v for pair in zip(p["reference"], p["current"]) for v in pair]
        return _svg.bar_chart(labels, values, title=f"{r['column']}: category shares", ylabel="share")

    def figures(self) -> list:
        """Matplotlib figures of the most drifted columns (needs matplotlib)."""
        from .._optional import require

        plt = require("matplotlib.pyplot", purpose="draw figures")
        figs = []
        for r in self.ranked()[:PLOTS]:
            p = r.get("plot")
            if not p:
                continue
            fig, ax = plt.subplots(figsize=(4, 3))
            if r["kind"] == "numeric":
                levels = [i / (len(p["reference"]) - 1) for i in range(len(p["reference"]))]
                ax.plot(p["reference"], levels, label="reference")
                ax.plot(p["current"], levels, label="current")
                ax.set_ylabel("share <= x")
            else:
                import numpy as np

                x = np.arange(len(p["categories"]))
                ax.bar(x - 0.2, p["reference"], 0.4, label="reference")
                ax.bar(x + 0.2, p["current"], 0.4, label="current")
                ax.set_xticks(x, p["categories"], rotation=45)
            ax.set_title(str(r["column"]))
            ax.legend()
            figs.append(fig)
        return figs
