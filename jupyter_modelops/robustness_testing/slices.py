"""``slices(model, X, y, by=...)``: where the model is worse, with intervals and a multiple-comparison rule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import _svg
from .._html import Result, esc, fmt, page, table, to_jsonable
from .._validation import as_1d, check_fraction, check_int
from ..drift_detection._columns import NUMERIC, to_table
from ..exceptions import ValidationError, suggest
from ._model import Predictor, infer_task
from ._paired import mean_interval

if TYPE_CHECKING:
    from ..gates import GateReport

SCHEMA = 1
MAX_CATEGORIES = 30


def slices(
    model: Any,
    X: Any,
    y: Any,
    *,
    by: str | Sequence[str] | None = None,
    bins: int = 4,
    task: str = "auto",
    ci: float = 0.95,
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_size: int = 30,
    random_state: int = 0,
) -> "SliceReport":
    """Evaluate the model per segment and flag the segments where it is significantly worse.

    Parameters
    ----------
    model : object
        A fitted model, a torch module or a callable.
    X : numpy.ndarray, pandas.DataFrame or torch.Tensor
        Inputs.
    y : array-like
        True labels (classification: accuracy per segment) or values
        (regression: mean absolute error per segment).
    by : str or sequence of str, optional
        Columns to slice by (default: every column). Categorical columns give
        one segment per category (the 30 most frequent; the rest is
        ``"(other)"``); numeric ones ``bins`` quantile bins. Missing values
        form their own segment.
    bins : int, default=4
        Quantile bins per numeric column.
    ci : float, default=0.95
        Level of the bootstrap intervals of each segment's metric.
    alpha : float, default=0.05
        False discovery rate for flagging: a segment is flagged when Welch's
        one-sided t-test of its per-row loss against the rest of the data,
        Benjamini-Hochberg adjusted over all segments tested, is below
        ``alpha`` (only segments with at least ``min_size`` rows are tested).

    Returns
    -------
    SliceReport
    """
    from scipy import stats as st

    from ..drift_detection._stats import benjamini_hochberg

    ci = check_fraction(ci, "ci")
    alpha = check_fraction(alpha, "alpha")
    n_boot = check_int(n_boot, "n_boot", minimum=10)
    bins = check_int(bins, "bins", minimum=2)
    min_size = check_int(min_size, "min_size", minimum=2)
    tab = to_table(X, what="X")
    yv = as_1d(y, "y")
    if len(yv) != tab.n_rows:
        raise ValidationError(
            f"y has {len(yv):,} rows but X has {tab.n_rows:,}; they must have the same number of rows."
        )
    cols = tab.names if by is None else ([by] if isinstance(by, str) else [str(b) for b in by])
    for c in cols:
        if c not in tab.columns:
            raise ValidationError(
                f"by names the column '{c}', which X does not have.{suggest(c, tab.names)} "
                f"Columns: {', '.join(tab.names[:20])}."
            )
    if task == "auto":
        task = infer_task(model, yv)
        task = "classification" if task == "auto" else task
    pred = Predictor(model, task=task).predict(X, tab.n_rows)
    if task == "classification":
        yy = yv.astype(pred.labels.dtype) if pred.labels.dtype.kind in "US" and yv.dtype != pred.labels.dtype else yv
        good = (pred.labels == yy).astype(np.float64)
        loss = 1.0 - good
        metric, higher_better = "accuracy", True
        per_row = good
    else:
        loss = np.abs(pred.labels.astype(np.float64) - yv.astype(np.float64))
        metric, higher_better = "mae", False
        per_row = loss
    overall = float(per_row.mean())
    segs: list[dict] = []
    for c in cols:
        for label, mask in _segments(tab.columns[c], tab.kinds[c], bins):
            m = int(mask.sum())
            if m == 0:
                continue
            v, lo, hi = mean_interval(
                per_row[mask],
                n_boot=n_boot,
                ci=ci,
                random_state=[int(random_state), len(segs)],
                binary=task == "classification",
            )
            seg = {
                "column": c,
                "segment": label,
                "n": m,
                metric: v,
                f"{metric}_low": lo,
                f"{metric}_high": hi,
                "p_value": None,
            }
            rest = loss[~mask]
            if m >= min_size and rest.size >= 2:
                a = loss[mask]
                if a.std() == 0 and rest.std() == 0:
                    p = 0.0 if a.mean() > rest.mean() else 1.0
                else:
                    p = float(st.ttest_ind(a, rest, equal_var=False, alternative="greater").pvalue)
                seg["p_value"] = p if np.isfinite(p) else 1.0
            segs.append(seg)
    tested = [s for s in segs if s["p_value"] is not None]
    for s, a in zip(tested, benjamini_hochberg([s["p_value"] for s in tested])):
        s["p_adj"] = a
    for s in segs:
        s["flagged"] = bool(s.get("p_adj") is not None and s["p_adj"] < alpha)
    segs.sort(key=lambda s: (not s["flagged"], s[metric] if higher_better else -s[metric]))
    return SliceReport(
        segs,
        metric=metric,
        overall=overall,
        higher_better=higher_better,
        alpha=alpha,
        ci=ci,
        n_rows=tab.n_rows,
        by=cols,
    )


def _segments(values: np.ndarray, kind: str, bins: int):
    if kind == NUMERIC:
        miss = np.isnan(values)
        fin = values[~miss]
        if fin.size:
            edges = np.unique(np.quantile(fin, np.linspace(0, 1, bins + 1)))
            if edges.size == 1:
                yield f"= {edges[0]:g}", ~miss
            else:
                inner = edges[1:-1]
                idx = np.searchsorted(inner, values, side="right")
                for i in range(edges.size - 1):
                    lo, hi = edges[i], edges[i + 1]
                    label = f"[{lo:.4g}, {hi:.4g}]" if i == edges.size - 2 else f"[{lo:.4g}, {hi:.4g})"
                    yield label, (idx == i) & ~miss
        if miss.any():
            yield "(missing)", miss
        return
    import pandas as pd

    s = pd.Series(values, dtype=object)
    miss = s.isna().to_numpy()
    keys = s.map(lambda v: None if v is None else str(v))
    vc = keys.dropna().value_counts()
    top = list(vc.index[:MAX_CATEGORIES])
    arr = keys.to_numpy()
    for k in top:
        yield str(k), arr == k
    if len(vc) > MAX_CATEGORIES:
        yield "(other)", ~np.isin(arr, top) & ~miss
    if miss.any():
        yield "(missing)", miss


class SliceReport(Result):
    """The result of :func:`jupyter_modelops.slices`: segments, worst first, flagged ones marked."""

    def __init__(
        self,
        segments: list[dict],
        *,
        metric: str,
        overall: float,
        higher_better: bool,
        alpha: float,
        ci: float,
        n_rows: int,
        by: list[str],
    ) -> None:
        self.segments = segments
        self.metric = metric
        self.overall = overall
        self.higher_better = higher_better
        self.alpha = alpha
        self.ci = ci
        self.n_rows = n_rows
        self.by = by
        self.gates: GateReport | None = None

    @property
    def flagged(self) -> list[dict]:
        return [s for s in self.segments if s["flagged"]]

    def rule(self) -> str:
        return (
            f"a segment is flagged when Welch's one-sided t-test of its per-row "
            f"{'error' if self.metric == 'accuracy' else 'absolute error'} against the rest, "
            f"Benjamini-Hochberg adjusted over {sum(1 for s in self.segments if s.get('p_adj') is not None)} "
            f"segments, is below {self.alpha:g}"
        )

    def metrics(self) -> dict:
        vals = [(s[self.metric], s[f"{self.metric}_low"], s[f"{self.metric}_high"]) for s in self.segments]
        worst = (min if self.higher_better else max)(vals, key=lambda t: t[0]) if vals else (None, None, None)
        return {f"worst_{self.metric}": worst, "n_flagged": float(len(self.flagged)), self.metric: self.overall}

    def check(self, gates: Any, *, on: str = "bound", raise_on_failure: bool = False):
        """Gates on ``worst_accuracy`` / ``worst_mae`` (with interval), ``n_flagged`` and the overall metric."""
        from ..gates import check

        rep = check(self.metrics(), gates, on=on)
        self.gates = rep
        return rep.raise_for_failure() if raise_on_failure else rep

    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "schema": SCHEMA,
                "kind": "slices",
                "metric": self.metric,
                "overall": self.overall,
                "alpha": self.alpha,
                "ci": self.ci,
                "n_rows": self.n_rows,
                "by": self.by,
                "rule": self.rule(),
                "segments": self.segments,
                "gates": None if self.gates is None else self.gates.to_dict(),
            }
        )

    def _summary(self) -> str:
        return (
            f"SliceReport {len(self.segments)} segments of {', '.join(self.by[:4])}"
            f"{'...' if len(self.by) > 4 else ''}: {len(self.flagged)} flagged (overall {self.metric} "
            f"{fmt(self.overall)})"
        )

    def to_text(self) -> str:
        m = self.metric
        lines = [self._summary(), f"  {'column':<16} {'segment':<24} {'n':>8} {m + ' [CI]':>30} {'p_adj':>8}"]
        for s in self.segments:
            mark = " <- worse" if s["flagged"] else ""
            lines.append(
                f"  {str(s['column'])[:16]:<16} {str(s['segment'])[:24]:<24} {s['n']:>8,} "
                f"{fmt(s[m]) + ' [' + fmt(s[m + '_low']) + ', ' + fmt(s[m + '_high']) + ']':>30} "
                f"{fmt(s.get('p_adj'), 2):>8}{mark}"
            )
        lines.append("  rule: " + self.rule())
        if self.gates is not None:
            lines += ["Gates:", self.gates.to_text()]
        return "\n".join(lines)

    def to_html(self) -> str:
        m = self.metric
        rows = []
        for s in self.segments:
            mark = '<span class="fail">worse</span>' if s["flagged"] else ""
            rows.append(
                [
                    esc(s["column"]),
                    esc(s["segment"]),
                    esc(fmt(s["n"])),
                    esc(f"{fmt(s[m])} [{fmt(s[m + '_low'])}, {fmt(s[m + '_high'])}]"),
                    esc(fmt(s.get("p_adj"), 2)),
                    mark,
                ]
            )
        pct = int(round(self.ci * 100))
        body = (
            f"<p>Overall {esc(m)}: <b>{esc(fmt(self.overall))}</b> on {self.n_rows:,} rows; "
            f"{len(self.flagged)} segments flagged.</p>"
            + table(rows, ["column", "segment", "n", f"{m} [{pct}% CI]", "p (BH)", ""], raw_cols=range(6))
            + f'<p class="note">Rule: {esc(self.rule())}.</p>'
        )
        if self.gates is not None:
            body += "<h4>Gates</h4>" + self.gates.html_table()
        top = self.segments[:20]
        if top:
            body += (
                '<div class="figs">'
                + _svg.bar_chart(
                    [f"{s['column']}={s['segment']}" for s in top],
                    [s[m] for s in top],
                    errors=[(s[m + "_low"], s[m + "_high"]) for s in top],
                    title=f"{m} by segment",
                    ylabel=m,
                )
                + "</div>"
            )
        return page("Slices", body, subtitle=", ".join(self.by[:10]))
