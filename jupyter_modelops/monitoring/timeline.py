"""Monitoring over time: a deployment's captures cut into windows, each with traffic, drift, alarm and performance."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .._html import Result, fmt, page, table, to_jsonable
from ..exceptions import ValidationError
from .alarms import SequentialDrift
from .performance import PerformanceEstimator, realized_metrics, realized_multiclass_metrics

#: labelled rows a window needs before its realized metrics are reported
MIN_LABELLED = 20
#: bootstrap resamples behind the realized metrics' intervals
N_BOOT = 200
#: the outputs of a served classifier that hold its class probabilities
PROBABILITY_OUTPUTS = ("predict_proba", "probabilities")
#: at most this many windows (a finer ``every`` over a long ``since`` is refused)
MAX_WINDOWS = 20_000


def monitor(
    ref: Any,
    since: Any = "30d",
    every: Any = "1h",
    *,
    until: Any = None,
    reference: Any = None,
    performance: PerformanceEstimator | None = None,
    score_column: str | None = None,
    alpha: float = 0.05,
    horizon: int | None = None,
    window_rows: int | None = None,
    store: str | None = None,
) -> "MonitorReport":
    """A deployed model's captured traffic as a time series of windows, with drift alarms and performance.

    Parameters
    ----------
    ref : str or ModelVersion
        The model version (``"churn:3"``, ``"churn@production"``) whose captures to read.
    since : str, default="30d"
        Start of the period (a duration before now, a datetime or ISO 8601 time).
    every : str, default="1h"
        Window length (``"15m"``, ``"1h"``, ``"1d"``).
    until : str, optional
        End of the period (default now).
    reference : Profile or dict, optional
        Reference profile of the inputs (default: the version's stored profile).
    performance : PerformanceEstimator, optional
        Calibrated on labelled reference data: each window then has estimated metrics with intervals.
    score_column : str, optional
        The captured output holding the positive class's score, or the class probabilities (a fixed-size list
        column: two for a binary classifier, K >= 3 for a multiclass one, in the order of the estimator's
        ``classes``; default with ``performance``: ``predict_proba`` or ``probabilities``, what a served classifier
        returns). Without ``performance``, a multiclass window's realized metrics need labels that are the column
        indices 0..K-1.
    alpha : float, default=0.05
        The drift alarm's family-wise false-alarm probability over ``horizon`` windows.
    horizon : int, optional
        Windows the alarm's guarantee spans (default: 30 days of windows, or the period if longer).
    window_rows : int, optional
        Rows per window the alarm is calibrated for (default: the median of the non-empty windows).
    store : str, optional
        The capture store (default ``MODELOPS_HOME/captures``).

    Returns
    -------
    MonitorReport
        ``windows`` (one dict per window: start, rows, latency percentiles, error rate, drift per feature,
        alarm statistic and state, estimated and realized performance with intervals), ``to_dict()``,
        ``to_html()`` (static SVG charts) and ``figures()``.
    """
    import pandas as pd

    from ..capture import captures
    from ..capture.read import parse_duration, parse_time

    step = parse_duration(every, arg="every")
    if step <= 0:
        raise ValidationError(f"every must be a positive duration; got {every!r}.")
    if performance is not None and not isinstance(performance, PerformanceEstimator):
        raise ValidationError(f"performance must be a PerformanceEstimator; got {type(performance).__name__}.")
    profile = _reference(ref, reference)
    now = time.time()
    t1 = parse_time(until, arg="until", now=now) or now
    t0 = parse_time(since, arg="since", now=now)
    df = captures(ref, since=since, until=until, store=store)
    if not len(df):
        raise ValidationError(
            f"No request of {ref} was captured in the period.",
            hint="Check that the deployment captures (serve(..., capture=True)) and the period.",
        )
    if t0 is None:
        t0 = float(df["ts"].min().timestamp()) if len(df) else t1 - step
    n_windows = max(1, math.ceil((t1 - t0) / step))
    if n_windows > MAX_WINDOWS:
        raise ValidationError(
            f"{n_windows:,} windows of {every!r} since {since!r} are too many (at most {MAX_WINDOWS:,}).",
            hint="Choose a longer 'every' or a shorter 'since'.",
        )
    features = [c for c in profile.columns if c in df.columns]
    if not features:
        raise ValidationError(
            f"The captures have none of the reference profile's columns {list(profile.columns)[:8]}.",
            hint="Pass reference= the profile of the captured inputs.",
        )
    if performance is not None and score_column is None:
        found = [c for c in PROBABILITY_OUTPUTS if c in df.columns]
        if not found:
            raise ValidationError(
                "performance needs score_column: the captured output with the positive class's "
                f"score (a served classifier's is one of {list(PROBABILITY_OUTPUTS)})."
            )
        score_column = found[0]
    if score_column is not None and score_column not in df.columns:
        raise ValidationError(
            f"The captures have no column {score_column!r}; outputs and inputs are "
            f"{[c for c in df.columns if c not in ('request_id', 'row', 'ts')][:12]}."
        )
    ts = df["ts"].map(lambda t: t.timestamp()).to_numpy(dtype=float) if len(df) else np.empty(0)
    idx = np.floor((ts - t0) / step).astype(np.int64)
    ok = df["status"].to_numpy() == 200 if len(df) else np.empty(0, dtype=bool)
    good_rows = [np.flatnonzero((idx == w) & ok) for w in range(n_windows)]
    sizes = [len(r) for r in good_rows if len(r)]
    if not sizes:
        raise ValidationError(
            f"No request of {ref} was captured with success in the period ({len(df)} captured rows).",
            hint="Check that the deployment captures (serve(..., capture=True)) and the period.",
        )
    rows0 = window_rows or (int(np.median(sizes)) if sizes else 1)
    horizon = horizon or max(n_windows, int(round(30 * 86400 / step)))
    alarm = SequentialDrift(profile, alpha=alpha, horizon=horizon, window_rows=rows0, columns=features)
    counts = {c.name: np.zeros((n_windows, len(c.p))) for c in alarm.cols}
    feat_frame = df[features]
    for w, r in enumerate(good_rows):
        if len(r):
            for name, c in alarm.window_counts(feat_frame.iloc[r]).items():
                counts[name][w] = c
    measures = {c.name: c.measures(counts[c.name], rows0) for c in alarm.cols}
    run = alarm.run(counts)
    windows = []
    rng = np.random.default_rng(0)
    for w in range(n_windows):
        sel = np.flatnonzero(idx == w)
        win: dict[str, Any] = {
            "start": pd.Timestamp(t0 + w * step, unit="s", tz="UTC").isoformat(),
            "rows": int(len(sel)),
            "ok_rows": int(len(good_rows[w])),
        }
        if len(sel):
            req = df.iloc[sel].drop_duplicates("request_id")
            lat = req["latency_ms"].to_numpy(dtype=float)
            win.update(
                requests=int(len(req)),
                latency_p50_ms=float(np.percentile(lat, 50)),
                latency_p95_ms=float(np.percentile(lat, 95)),
                latency_p99_ms=float(np.percentile(lat, 99)),
                error_rate=float(np.mean(req["status"].to_numpy() >= 400)),
            )
        else:
            win.update(requests=0, latency_p50_ms=None, latency_p95_ms=None, latency_p99_ms=None, error_rate=None)
        win["drift"] = {name: {"z": _num(z[w]), "shape": _num(d[w])} for name, (z, d, _) in measures.items()}
        win["alarm_statistic"] = float(run["statistic"][w])
        win["alarm"] = bool(run["statistic"][w] >= alarm.threshold)
        if score_column is not None and len(good_rows[w]):
            part = df.iloc[good_rows[w]]
            scores = _scores(part[score_column], score_column, performance)
            labels = part["y_true"].to_numpy(dtype=object) if "y_true" in part.columns else None
            if performance is not None:
                est = performance.estimate(scores, labels=labels)
                win["estimated"] = {
                    k: {"estimate": v["estimate"], "low": v["low"], "high": v["high"]} for k, v in est.metrics.items()
                }
                win["flags"] = [f["code"] for f in est.flags]
            if labels is not None:
                win["realized"] = _realized(scores, labels, performance, rng)
        windows.append(win)
    return MonitorReport(
        {
            "model": str(ref),
            "since": pd.Timestamp(t0, unit="s", tz="UTC").isoformat(),
            "until": pd.Timestamp(t1, unit="s", tz="UTC").isoformat(),
            "every_seconds": step,
            "features": features,
            "threshold": alarm.threshold,
            "alpha": alpha,
            "horizon": horizon,
            "window_rows": rows0,
            "first_alarm": None if run["first_alarm"] is None else windows[run["first_alarm"]]["start"],
            "windows": windows,
        }
    )


def _scores(col: Any, name: str, performance: PerformanceEstimator | None = None) -> np.ndarray:
    """Scores of the positive class (the column itself, or the second of two class probabilities), or a
    multiclass classifier's K class probabilities as an (n, K) array."""
    values = col.to_numpy()
    if values.dtype == object and len(values) and np.ndim(values[0]) == 1:
        try:
            probs = np.stack([np.asarray(v, dtype=float) for v in values])
        except ValueError:
            raise ValidationError(
                f"The column {name!r} holds lists of different lengths, not class probabilities."
            ) from None
        k = probs.shape[1]
        multiclass = performance is not None and performance.multiclass
        if k == 2 and not multiclass:
            return probs[:, 1]
        if k < 2 or (performance is not None and (not multiclass or k != len(performance.classes))):
            want = "two (a binary classifier)" if performance is None or not multiclass else len(performance.classes)
            raise ValidationError(
                f"The column {name!r} holds {k} class probabilities per row where the performance estimator was "
                f"calibrated for {want}; pass the estimator of this model."
            )
        return probs
    if performance is not None and performance.multiclass:
        raise ValidationError(
            f"The column {name!r} holds one score per row; the performance estimator is multiclass and needs "
            f"the {len(performance.classes)} class probabilities (a list column such as predict_proba)."
        )
    try:
        return values.astype(float)
    except (TypeError, ValueError):
        raise ValidationError(f"The column {name!r} does not hold numeric scores.") from None


def _num(x: float) -> float | None:
    return float(x) if x == x else None


def _reference(ref: Any, reference: Any) -> Any:
    from ..drift_detection.profile import Profile

    if reference is not None:
        return reference if isinstance(reference, Profile) else Profile.from_dict(reference)
    from ..registry import get

    stored = get(ref).profile()
    if stored is None:
        raise ValidationError(
            f"{ref} has no stored reference profile.",
            hint="Snapshot the model with data=X_train, or pass reference=mo.profile(X_ref).",
        )
    return stored


def _realized(
    scores: np.ndarray, labels: np.ndarray, performance: PerformanceEstimator | None, rng: np.random.Generator
) -> dict | None:
    import pandas as pd

    have = ~pd.isna(labels)
    if have.sum() < MIN_LABELLED:
        return {"n": int(have.sum())}
    s = scores[have]
    raw = labels[have]
    if scores.ndim == 2:
        return _realized_multiclass(s, raw, performance, rng)
    if performance is not None:
        y = performance._labels(raw, n=raw.size, what="labels")
        threshold = performance.threshold
    else:
        y = np.asarray(raw, dtype=float) > 0
        threshold = 0.5
    if y.all() or not y.any():
        return {"n": int(y.size)}
    point = realized_metrics(y, s, threshold=threshold)
    boots: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(N_BOOT):
        i = rng.integers(0, y.size, y.size)
        if y[i].all() or not y[i].any():
            continue
        for k, v in realized_metrics(y[i], s[i], threshold=threshold).items():
            boots[k].append(v)
    out: dict[str, Any] = {"n": int(y.size)}
    for k, v in point.items():
        b = np.asarray([x for x in boots[k] if x == x])
        out[k] = {
            "value": v,
            "low": float(np.quantile(b, 0.025)) if b.size else None,
            "high": float(np.quantile(b, 0.975)) if b.size else None,
        }
    return out


def _realized_multiclass(
    s: np.ndarray, raw: np.ndarray, performance: PerformanceEstimator | None, rng: np.random.Generator
) -> dict:
    """Accuracy and macro metrics of a window's labelled rows, with bootstrap intervals (multiclass)."""
    k = s.shape[1]
    if performance is not None:
        y = performance._class_index(raw, n=raw.size, what="labels")
    else:
        try:
            y = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            return {"n": int(raw.size), "note": "labels are not column indices; pass performance= to name classes"}
        if not np.isin(y, np.arange(k)).all():
            return {"n": int(raw.size), "note": "labels are not column indices; pass performance= to name classes"}
        y = y.astype(np.int64)
    if np.unique(y).size < 2:
        return {"n": int(y.size)}
    point = realized_multiclass_metrics(y, s)
    boots: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(N_BOOT):
        i = rng.integers(0, y.size, y.size)
        if np.unique(y[i]).size < 2:
            continue
        for name, v in realized_multiclass_metrics(y[i], s[i]).items():
            boots[name].append(v)
    out: dict[str, Any] = {"n": int(y.size)}
    for name, v in point.items():
        b = np.asarray([x for x in boots[name] if x == x])
        out[name] = {
            "value": v,
            "low": float(np.quantile(b, 0.025)) if b.size else None,
            "high": float(np.quantile(b, 0.975)) if b.size else None,
        }
    return out


class MonitorReport(Result):
    """Windows of a deployment's traffic: rows, latency, errors, drift, alarm, estimated and realized performance."""

    def __init__(self, data: dict) -> None:
        self.data = data

    @property
    def windows(self) -> list[dict]:
        return self.data["windows"]

    def to_dict(self) -> dict:
        return to_jsonable(self.data)

    def frame(self) -> Any:
        """One row per window (nested values flattened to columns), as a pandas DataFrame."""
        import pandas as pd

        return pd.json_normalize(self.to_dict()["windows"])

    def _summary(self) -> str:
        d = self.data
        alarm = f", drift alarm from {d['first_alarm']}" if d["first_alarm"] else ", no drift alarm"
        return f"MonitorReport {d['model']}: {len(d['windows'])} windows, {sum(w['rows'] for w in d['windows']):,} rows{alarm}"

    def _series(self) -> dict[str, Any]:
        ws = self.windows
        x = list(range(len(ws)))
        out: dict[str, Any] = {
            "x": x,
            "rows": [w["rows"] for w in ws],
            "p95": [_nan(w.get("latency_p95_ms")) for w in ws],
            "errors": [_nan(w.get("error_rate")) for w in ws],
            "stat": [w["alarm_statistic"] for w in ws],
        }
        for key in ("estimated", "realized"):
            vals = [w.get(key) or {} for w in ws]
            out[key] = {
                m: (
                    [_nan((v.get(m) or {}).get("estimate" if key == "estimated" else "value")) for v in vals],
                    [_nan((v.get(m) or {}).get("low")) for v in vals],
                    [_nan((v.get(m) or {}).get("high")) for v in vals],
                )
                for m in ("accuracy", "roc_auc")
            }
        return out

    def to_html(self) -> str:
        from .._svg import line_chart

        s = self._series()
        x = s["x"]
        th = self.data["threshold"]
        charts = [
            line_chart([("rows", x, s["rows"])], title="traffic", xlabel="window", ylabel="rows"),
            line_chart([("p95 ms", x, s["p95"])], title="latency p95", xlabel="window", ylabel="ms"),
            line_chart(
                [("statistic", x, s["stat"]), ("threshold", x, [th] * len(x))],
                title="drift alarm",
                xlabel="window",
                ylabel="CUSUM",
            ),
        ]
        for m in ("accuracy", "roc_auc"):
            est, real = s["estimated"][m], s["realized"][m]
            series, bands = [], []
            if any(v == v for v in est[0]):
                series.append(("estimated", x, est[0]))
                bands.append((x, est[1], est[2]))
            if any(v == v for v in real[0]):
                series.append(("realized", x, real[0]))
            if series:
                charts.append(line_chart(series, title=m, xlabel="window", ylabel=m, bands=bands))
        rows = []
        for w in self.windows[-24:]:
            est = (w.get("estimated") or {}).get("accuracy") or {}
            real = (w.get("realized") or {}).get("accuracy") or {}
            rows.append(
                [
                    w["start"],
                    w["rows"],
                    w.get("latency_p95_ms"),
                    w.get("error_rate"),
                    w["alarm_statistic"],
                    "ALARM" if w["alarm"] else "",
                    est.get("estimate"),
                    real.get("value"),
                ]
            )
        body = (
            '<div class="figs">'
            + "".join(charts)
            + "</div>"
            + "<h4>last windows</h4>"
            + table(rows, ["start", "rows", "p95 ms", "error rate", "alarm statistic", "", "est. accuracy", "accuracy"])
        )
        sub = (
            f"windows of {fmt(self.data['every_seconds'] / 3600, 3)} h; alarm threshold {fmt(th, 3)} for at most "
            f"{fmt(self.data['alpha'], 3)} false-alarm probability over {self.data['horizon']} windows"
        )
        return page(self._summary(), body, subtitle=sub)

    def figures(self) -> list:
        """Matplotlib figures: traffic, latency, alarm statistic, estimated and realized accuracy (needs matplotlib)."""
        from .._optional import require

        plt = require("matplotlib.pyplot", purpose="draw figures")
        s = self._series()
        x = s["x"]
        figs = []
        for title, ys, ylabel in (("traffic", s["rows"], "rows"), ("latency p95", s["p95"], "ms")):
            fig, ax = plt.subplots(figsize=(5, 2.5))
            ax.plot(x, ys)
            ax.set_title(title), ax.set_xlabel("window"), ax.set_ylabel(ylabel)
            figs.append(fig)
        fig, ax = plt.subplots(figsize=(5, 2.5))
        ax.plot(x, s["stat"], label="statistic")
        ax.axhline(self.data["threshold"], color="C3", linestyle="--", label="threshold")
        ax.set_title("drift alarm"), ax.set_xlabel("window"), ax.legend()
        figs.append(fig)
        fig, ax = plt.subplots(figsize=(5, 2.5))
        est, real = s["estimated"]["accuracy"], s["realized"]["accuracy"]
        ax.plot(x, est[0], label="estimated")
        ax.fill_between(x, est[1], est[2], alpha=0.2)
        ax.plot(x, real[0], "o", label="realized")
        ax.set_title("accuracy"), ax.set_xlabel("window"), ax.legend()
        figs.append(fig)
        return figs


def _nan(v: Any) -> float:
    return float("nan") if v is None else float(v)
