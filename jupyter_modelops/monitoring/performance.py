"""A binary classifier's performance on unlabelled windows, estimated from its scores, with intervals.

Confidence-based performance estimation: the reference's scores and labels
teach a calibration map ``score -> P(y = 1 | score)`` (Platt scaling or
isotonic regression, whichever predicts held-out reference labels better,
bagged over bootstrap resamples).
On a window without labels, each row's calibrated probability says how likely
it is to be a positive; the expected confusion matrix and the expected ROC AUC
follow. This stays right under covariate shift (the inputs move, ``P(y | x)``
does not) as long as the score carries what the model knows about ``y``;
it is wrong under concept shift, which only labels can show.

The interval is for the metric the window will show once its labels arrive:
labels are drawn as independent Bernoulli variables from the calibrated
probabilities, each draw with a calibration map refitted on a bootstrap
resample of the reference (so the reference's own finite size is counted),
and the metric is computed on each draw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._html import Result, esc, fmt, page, table, to_jsonable
from ..exceptions import ValidationError

METRICS = ("accuracy", "roc_auc", "f1", "precision", "recall")
#: label draws behind each interval
N_DRAWS = 1000
#: calibration maps refitted on bootstrap resamples of the reference
N_CALIBRATORS = 25
#: a window with more than this share of scores outside the reference's central 99% is flagged
EXTRAPOLATION_SHARE = 0.05
#: |z| of (observed - expected positives) above which calibration is declared broken
CALIBRATION_Z = 3.0


def _as_scores(values: Any, *, what: str) -> np.ndarray:
    try:
        s = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be numbers (the model's scores for the positive class).") from None
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if s.ndim != 1 or s.size == 0:
        raise ValidationError(
            f"{what} must be a non-empty 1-D array of scores; got shape {s.shape}.",
            hint="Pass model.predict_proba(X)[:, 1].",
        )
    if not np.isfinite(s).all():
        raise ValidationError(f"{what} contains NaN or infinite scores.", hint="Drop or fix those rows first.")
    return s


class _Calibrator:
    """A monotone map score -> P(y = 1): Platt scaling (a logistic fit on the score's logit) or isotonic regression."""

    def __init__(self, method: str) -> None:
        self.method = method

    @staticmethod
    def _feature(s: np.ndarray) -> np.ndarray:
        if s.min() >= 0.0 and s.max() <= 1.0:
            c = np.clip(s, 1e-9, 1 - 1e-9)
            return np.log(c / (1 - c))[:, None]
        return s[:, None]

    def fit(self, s: np.ndarray, y: np.ndarray) -> "_Calibrator":
        if self.method == "platt":
            from sklearn.linear_model import LogisticRegression

            self.model = LogisticRegression(C=1e6, max_iter=1000).fit(self._feature(s), y)
        else:
            from sklearn.isotonic import IsotonicRegression

            self.model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y.astype(float))
        return self

    def predict(self, s: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            return self.model.predict_proba(self._feature(s))[:, 1]
        return np.clip(self.model.predict(s), 0.0, 1.0)


def _choose_calibration(s: np.ndarray, y: np.ndarray, *, seed: int) -> str:
    """Platt scaling or isotonic regression, whichever predicts held-out reference labels better (5-fold log loss).

    Isotonic regression adapts to any monotone miscalibration but claims near certainty at the ends of the score
    range, which overstates performance on windows shifted there; Platt scaling is smooth but assumes a logistic
    shape. The reference decides.
    """
    folds = np.random.default_rng(seed).integers(0, 5, s.size)
    loss = {}
    for method in ("platt", "isotonic"):
        total = 0.0
        for f in range(5):
            tr, te = folds != f, folds == f
            if te.sum() == 0 or y[tr].all() or not y[tr].any():
                continue
            p = np.clip(_Calibrator(method).fit(s[tr], y[tr]).predict(s[te]), 1e-4, 1 - 1e-4)
            total -= float(np.sum(np.where(y[te], np.log(p), np.log1p(-p))))
        loss[method] = total
    return min(loss, key=lambda k: loss[k])


def _midranks(s: np.ndarray) -> np.ndarray:
    order = np.argsort(s, kind="stable")
    ranks = np.empty(s.size)
    sorted_s = s[order]
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], s.size]
    mid = (starts + ends + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(mid, ends - starts)
    return ranks


def expected_auc(s: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC expected when row ``i`` is a positive with probability ``p_i`` (ratio of expectations over pairs)."""
    w1, w0 = p, 1.0 - p
    uniq, inv = np.unique(s, return_inverse=True)
    g1 = np.bincount(inv, weights=w1, minlength=uniq.size)
    g0 = np.bincount(inv, weights=w0, minlength=uniq.size)
    self_pairs = np.bincount(inv, weights=w1 * w0, minlength=uniq.size)
    above = np.cumsum(g1[::-1])[::-1] - g1  # positive weight at strictly higher scores
    num = float(np.sum(g0 * above) + 0.5 * np.sum(g0 * g1 - self_pairs))
    den = float(w1.sum() * w0.sum() - np.sum(w1 * w0))
    return num / den if den > 0 else float("nan")


def _metrics_from_draws(y: np.ndarray, pred: np.ndarray, ranks: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of each row of a label matrix ``y`` (draws x rows) against fixed predictions and score ranks."""
    n = y.shape[1]
    yf = y.astype(np.float64)
    pos = yf.sum(axis=1)
    tp = yf @ pred
    n_pred = float(pred.sum())
    fp = n_pred - tp
    fn = pos - tp
    tn = n - tp - fp - fn
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (yf @ ranks - pos * (pos + 1) / 2.0) / (pos * (n - pos))
        return {
            "accuracy": (tp + tn) / n,
            "roc_auc": auc,
            "f1": 2 * tp / (2 * tp + fp + fn),
            "precision": tp / n_pred if n_pred else np.full(pos.shape, np.nan),
            "recall": tp / pos,
        }


def realized_metrics(y: np.ndarray, s: np.ndarray, *, threshold: float) -> dict[str, float]:
    """The metrics of a labelled window (the same definitions as the estimates)."""
    pred = (s >= threshold).astype(np.float64)
    m = _metrics_from_draws(y[None, :].astype(bool), pred, _midranks(s))
    return {k: float(v[0]) for k, v in m.items()}


class PerformanceEstimator:
    """Calibrate a binary classifier's scores on labelled reference data; estimate its metrics on new windows.

    Parameters
    ----------
    reference_scores : array-like
        The model's score for the positive class on the reference rows (``predict_proba(X)[:, 1]``),
        or the two-column ``predict_proba`` output.
    reference_labels : array-like
        The reference's true labels (two classes).
    threshold : float, default=0.5
        A row is predicted positive when its score is at least this.
    pos_label : optional
        The positive class (default: the larger of the two labels).
    confidence : float, default=0.95
        Level of the intervals.
    seed : int, default=0
        Seed of the bootstrap and of the label draws.

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_modelops import PerformanceEstimator
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(size=5000)
    >>> est = PerformanceEstimator(s, rng.uniform(size=5000) < s)
    >>> e = est.estimate(rng.uniform(size=1000))      # a calibrated score s is right with probability max(s, 1 - s)
    >>> bool(0.70 < e.accuracy["estimate"] < 0.80 and e.accuracy["low"] < e.accuracy["estimate"] < e.accuracy["high"])
    True
    """

    def __init__(
        self,
        reference_scores: Any,
        reference_labels: Any,
        *,
        threshold: float = 0.5,
        pos_label: Any = None,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> None:
        s = _as_scores(reference_scores, what="reference_scores")
        y = self._labels(reference_labels, n=s.size, what="reference_labels", pos_label=pos_label, fit=True)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float, np.floating))
            or not math.isfinite(float(threshold))
        ):
            raise ValidationError(f"threshold must be a finite number; got {threshold!r}.")
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
            raise ValidationError(f"confidence must be a number in [0.5, 1); got {confidence!r}.")
        if y.sum() < 10 or (~y).sum() < 10:
            raise ValidationError(
                f"The reference needs at least 10 rows of each class to calibrate scores; it has "
                f"{int(y.sum())} positive and {int((~y).sum())} negative."
            )
        self.threshold, self.confidence, self.seed = float(threshold), float(confidence), int(seed)
        self.n_reference = int(s.size)
        rng = np.random.default_rng(self.seed)

        self.method = _choose_calibration(s, y, seed=self.seed)
        self.bootstrap = [
            _Calibrator(self.method).fit(s[idx], y[idx])
            for idx in (rng.integers(0, s.size, s.size) for _ in range(N_CALIBRATORS))
        ]
        self.score_range = (float(np.quantile(s, 0.005)), float(np.quantile(s, 0.995)))
        self.reference = realized_metrics(y, s, threshold=self.threshold)

    def _labels(self, labels: Any, *, n: int, what: str, pos_label: Any = None, fit: bool = False) -> np.ndarray:
        arr = np.asarray(labels, dtype=object).ravel()
        if arr.size != n:
            raise ValidationError(f"{what} has {arr.size} values for {n} scores; give one label per row.")
        if fit:
            import pandas as pd

            present = arr[~pd.isna(arr)]
            classes = sorted({v.item() if hasattr(v, "item") else v for v in present}, key=repr)
            try:
                classes = sorted(classes)
            except TypeError:
                pass
            if len(classes) != 2 or present.size != n:
                raise ValidationError(
                    f"{what} must hold exactly two classes and no missing values; found "
                    f"{len(classes)} class(es){'' if present.size == n else ' and missing values'}.",
                    hint="Performance is estimated for binary classifiers only; regression and "
                    "multiclass are not estimated.",
                )
            if pos_label is None:
                pos_label = classes[-1]
            elif pos_label not in classes:
                raise ValidationError(f"pos_label {pos_label!r} is not one of the labels {classes}.")
            self.classes, self.pos_label = classes, pos_label
        known = set(self.classes)
        bad = [v for v in arr if v not in known]
        if bad:
            raise ValidationError(
                f"{what} holds {bad[0]!r}, which is not one of the reference's labels {self.classes}."
            )
        return np.array([v == self.pos_label for v in arr], dtype=bool)

    def probabilities(self, scores: Any) -> np.ndarray:
        """Calibrated ``P(y = positive | score)`` for each score (bagged: the mean of the bootstrap maps)."""
        s = _as_scores(scores, what="scores")
        return np.clip(np.mean([c.predict(s) for c in self.bootstrap], axis=0), 0.0, 1.0)

    def estimate(self, scores: Any, *, labels: Any = None) -> "PerformanceEstimate":
        """Estimate accuracy, ROC AUC, F1, precision and recall on a window, with intervals.

        Parameters
        ----------
        scores : array-like
            The model's scores on the window's rows.
        labels : array-like, optional
            Labels of the window, when they have arrived (``None``/NaN for rows still without one). They give the
            realized metrics beside the estimates, and a check of the calibration that the estimate relies on.

        Returns
        -------
        PerformanceEstimate
        """
        s = _as_scores(scores, what="scores")
        p = self.probabilities(s)
        pred = (s >= self.threshold).astype(np.float64)
        tp = float(pred @ p)
        fp = float(pred.sum() - tp)
        fn = float(p.sum() - tp)
        n = s.size
        point = {
            "accuracy": (tp + (n - pred.sum() - fn)) / n,
            "roc_auc": expected_auc(s, p),
            "f1": 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else float("nan"),
            "precision": tp / (tp + fp) if (tp + fp) > 0 else float("nan"),
            "recall": tp / (tp + fn) if (tp + fn) > 0 else float("nan"),
        }
        draws = self._draws(s, pred)
        lo_q, hi_q = (1 - self.confidence) / 2, 1 - (1 - self.confidence) / 2
        metrics: dict[str, dict] = {}
        for name in METRICS:
            d = draws[name]
            d = d[np.isfinite(d)]
            low, high = (float(np.quantile(d, lo_q)), float(np.quantile(d, hi_q))) if d.size else (None, None)
            metrics[name] = {"estimate": point[name], "low": low, "high": high, "reference": self.reference[name]}
        flags = []
        outside = float(np.mean((s < self.score_range[0]) | (s > self.score_range[1])))
        if outside > EXTRAPOLATION_SHARE:
            flags.append(
                {
                    "code": "extrapolation",
                    "message": f"{outside:.0%} of the window's scores lie outside the reference's central 99%: "
                    "their calibration is extrapolated, so the estimate may be off.",
                }
            )
        labelled: dict[str, Any] = {"n": 0}
        if labels is not None:
            labelled = self._check_labels(labels, s, p, metrics, flags)
        return PerformanceEstimate(
            {
                "n": n,
                "confidence": self.confidence,
                "threshold": self.threshold,
                "metrics": metrics,
                "expected_positive_rate": float(p.mean()),
                "scores_outside_reference": outside,
                "labelled": labelled,
                "flags": flags,
                "method": f"confidence-based ({self.method} calibration on the reference)",
                "n_reference": self.n_reference,
            }
        )

    def _draws(self, s: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(self.seed + 1)
        ranks = _midranks(s)
        probs = np.stack([c.predict(s) for c in self.bootstrap])
        out: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
        per_chunk = max(1, min(N_DRAWS, 20_000_000 // max(s.size, 1)))
        done = 0
        while done < N_DRAWS:
            b = min(per_chunk, N_DRAWS - done)
            which = rng.integers(0, len(self.bootstrap), b)
            y = rng.random((b, s.size)) < probs[which]
            for k, v in _metrics_from_draws(y, pred, ranks).items():
                out[k].append(v)
            done += b
        return {k: np.concatenate(v) for k, v in out.items()}

    def _check_labels(self, labels: Any, s: np.ndarray, p: np.ndarray, metrics: dict, flags: list) -> dict:
        import pandas as pd

        arr = np.asarray(labels, dtype=object).ravel()
        if arr.size != s.size:
            raise ValidationError(f"labels has {arr.size} values for {s.size} scores; use None for rows without one.")
        have = ~pd.isna(arr)
        k = int(have.sum())
        out: dict[str, Any] = {"n": k}
        if k == 0:
            return out
        y = self._labels(arr[have], n=k, what="labels")
        ps = p[have]
        sd = math.sqrt(max(float(np.sum(ps * (1 - ps))), 1e-12))
        z = (float(y.sum()) - float(ps.sum())) / sd
        out.update(positives=int(y.sum()), expected_positives=float(ps.sum()), calibration_z=z)
        if abs(z) > CALIBRATION_Z:
            flags.append(
                {
                    "code": "calibration",
                    "message": f"The labelled rows have {int(y.sum())} positives where the calibrated scores "
                    f"expect {ps.sum():.1f} (z = {z:.1f}): P(y | score) has changed (concept shift), "
                    "so estimates without labels are not to be trusted.",
                }
            )
        if 0 < y.sum() < k:
            real = realized_metrics(y, s[have], threshold=self.threshold)
            out["metrics"] = real
            for name, v in real.items():
                metrics[name]["realized"] = v
            if k == s.size:
                missed = [
                    name
                    for name, v in real.items()
                    if metrics[name]["low"] is not None
                    and math.isfinite(v)
                    and not metrics[name]["low"] <= v <= metrics[name]["high"]
                ]
                out["outside_interval"] = missed
                if len(missed) >= 2:
                    flags.append(
                        {
                            "code": "realized_outside",
                            "message": f"The realized {', '.join(missed)} fall outside the estimate's intervals: "
                            "the estimate's assumptions do not hold for this window.",
                        }
                    )
        return out


class PerformanceEstimate(Result):
    """Estimated metrics of one window, with intervals, realized values when labels arrived, and flags."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__["data"]
        if name in data:
            return data[name]
        if name in data["metrics"]:
            return data["metrics"][name]
        raise AttributeError(name)

    def to_dict(self) -> dict:
        return to_jsonable(self.data)

    def _summary(self) -> str:
        m = self.data["metrics"]
        flag = f", {len(self.data['flags'])} flag(s)" if self.data["flags"] else ""
        name = next(iter(m))
        auc = f", ROC AUC {fmt(m['roc_auc']['estimate'], 3)}" if "roc_auc" in m else ""
        return (
            f"PerformanceEstimate n={self.data['n']:,}: {name} {fmt(m[name]['estimate'], 3)} "
            f"[{fmt(m[name]['low'], 3)}, {fmt(m[name]['high'], 3)}]{auc}{flag}"
        )

    def to_html(self) -> str:
        rows = [
            [name, d["estimate"], f"[{fmt(d['low'], 3)}, {fmt(d['high'], 3)}]", d["reference"], d.get("realized")]
            for name, d in self.data["metrics"].items()
        ]
        body = table(rows, ["metric", "estimate", f"{self.data['confidence']:.0%} interval", "reference", "realized"])
        for f in self.data["flags"]:
            body += f'<div class="warn">{esc(f["message"])}</div>'
        return page(self._summary(), body, subtitle="estimated from calibrated scores, without labels")


def estimate_performance(
    reference_scores: Any,
    reference_labels: Any,
    scores: Any,
    *,
    labels: Any = None,
    threshold: float = 0.5,
    pos_label: Any = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> PerformanceEstimate:
    """Estimate a binary classifier's metrics on a window without labels, with intervals.

    Shorthand for ``PerformanceEstimator(reference_scores, reference_labels, ...).estimate(scores, labels=labels)``;
    keep the estimator to estimate many windows against one calibration.

    Parameters
    ----------
    reference_scores, reference_labels : array-like
        Scores for the positive class and true labels on the reference rows.
    scores : array-like
        Scores on the window to estimate.
    labels : array-like, optional
        The window's labels where they arrived (None/NaN elsewhere): realized metrics and a calibration check.
    threshold, pos_label, confidence, seed
        As in :class:`PerformanceEstimator`.

    Returns
    -------
    PerformanceEstimate
        ``metrics[name]`` has ``estimate``, ``low``, ``high``, ``reference`` and, with labels, ``realized``;
        ``flags`` lists broken assumptions (extrapolated calibration, calibration drift, realized outside).
    """
    est = PerformanceEstimator(
        reference_scores, reference_labels, threshold=threshold, pos_label=pos_label, confidence=confidence, seed=seed
    )
    return est.estimate(scores, labels=labels)
