"""A classifier's performance on unlabelled windows, estimated from its scores, with intervals.

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

A multiclass classifier (``predict_proba`` with K >= 3 columns) is calibrated
one-vs-rest: per class a map ``score_k -> P(y = k | score_k)``, the K values of
a row renormalized to sum 1. The prediction is the argmax of the raw scores;
accuracy and the macro averages of precision, recall, F1 and one-vs-rest ROC
AUC are estimated, their intervals from labels drawn as categorical variables.

Regression is not estimated: a regressor's output carries no probability of
its own error, so nothing in the scores says how large the loss is.
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


class _NewtonCalibrator(_Calibrator):
    """The same two maps; Platt scaling fitted by Newton's method (the multiclass path fits K maps per resample).

    The fit is the maximum-likelihood logistic curve on the score's logit, with the slope penalized as
    scikit-learn's ``LogisticRegression(C=1e6)`` does, in a fraction of the time.
    """

    def fit(self, s: np.ndarray, y: np.ndarray) -> "_NewtonCalibrator":
        if self.method != "platt":
            return super().fit(s, y)  # type: ignore[return-value]
        f = self._feature(s)[:, 0]
        t = y.astype(np.float64)
        a, b = 0.0, math.log((t.sum() + 0.5) / (t.size - t.sum() + 0.5))
        for _ in range(50):
            p = 1.0 / (1.0 + np.exp(-(a * f + b)))
            w = p * (1 - p)
            g = np.array([f @ (p - t) + 1e-6 * a, np.sum(p - t)])
            h = np.array([[f @ (w * f) + 1e-6, f @ w], [f @ w, w.sum() + 1e-12]])
            step = np.linalg.solve(h, g)
            a, b = a - step[0], b - step[1]
            if abs(step).max() < 1e-10:
                break
        self.coef = (float(a), float(b))
        return self

    def predict(self, s: np.ndarray) -> np.ndarray:
        if self.method != "platt":
            return super().predict(s)
        a, b = self.coef
        return 1.0 / (1.0 + np.exp(-(a * self._feature(s)[:, 0] + b)))


def _choose_calibration(s: np.ndarray, y: np.ndarray, *, seed: int, calibrator: type = _Calibrator) -> str:
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
            p = np.clip(calibrator(method).fit(s[tr], y[tr]).predict(s[te]), 1e-4, 1 - 1e-4)
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


def _as_proba(values: Any, *, what: str, k: int | None = None) -> np.ndarray:
    """Class scores of shape (n, K): ``predict_proba``'s columns (rows need not sum to 1, NaN is refused)."""
    try:
        s = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be numbers (the model's predict_proba, one column per class).") from None
    if s.ndim != 2 or s.shape[0] == 0 or (k is not None and s.shape[1] != k) or s.shape[1] < 3:
        want = f"{k}" if k is not None else "K >= 3"
        raise ValidationError(
            f"{what} must be a non-empty 2-D array with {want} columns (one per class); got shape {s.shape}.",
            hint="Pass model.predict_proba(X), its columns in the order of classes=.",
        )
    if not np.isfinite(s).all():
        raise ValidationError(f"{what} contains NaN or infinite scores.", hint="Drop or fix those rows first.")
    return s


def _renormalize(q: np.ndarray) -> np.ndarray:
    """Rows of one-vs-rest probabilities rescaled to sum 1 (a row of zeros becomes uniform)."""
    total = q.sum(axis=-1, keepdims=True)
    k = q.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, q / np.where(total > 0, total, 1.0), 1.0 / k)


def _multiclass_metrics_from_draws(y: np.ndarray, pred: np.ndarray, ranks: np.ndarray) -> dict[str, np.ndarray]:
    """Macro metrics of each row of a class-index matrix ``y`` (draws x rows) against fixed predictions.

    ``ranks`` (K x rows) are the midranks of each class's score column (one-vs-rest ROC AUC). Precision, recall
    and F1 are averaged over all K classes, a class's value 0 where undefined (scikit-learn with ``labels=`` all
    classes and ``zero_division=0``); the ROC AUC over the classes present and absent in the draw.
    """
    k, n = ranks.shape
    b = y.shape[0]
    prec, rec, f1, auc = (np.empty((k, b)) for _ in range(4))
    for c in range(k):
        yk = y == c
        pos = yk.sum(axis=1).astype(np.float64)
        mask = pred == c
        n_pred = float(mask.sum())
        tp = yk[:, mask].sum(axis=1).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            prec[c] = tp / n_pred if n_pred else 0.0
            rec[c] = np.where(pos > 0, tp / pos, 0.0)
            f1[c] = np.where(pos + n_pred > 0, 2 * tp / (pos + n_pred), 0.0)
            auc[c] = (yk.astype(np.float64) @ ranks[c] - pos * (pos + 1) / 2.0) / (pos * (n - pos))
    defined = np.isfinite(auc)
    with np.errstate(invalid="ignore"):
        auc_mean = np.where(defined, auc, 0.0).sum(axis=0) / defined.sum(axis=0)
    return {
        "accuracy": (y == pred).mean(axis=1),
        "roc_auc": auc_mean,
        "f1": f1.mean(axis=0),
        "precision": prec.mean(axis=0),
        "recall": rec.mean(axis=0),
    }


def realized_multiclass_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Accuracy and macro precision, recall, F1 and one-vs-rest ROC AUC of a labelled window.

    ``y`` holds class indices (the columns of ``scores``); the prediction is the argmax of the scores. The same
    definitions as the multiclass estimates (a class's ROC AUC is left out of the mean when the window has no
    row, or only rows, of that class).
    """
    scores = np.asarray(scores, dtype=float)
    ranks = np.stack([_midranks(scores[:, c]) for c in range(scores.shape[1])])
    m = _multiclass_metrics_from_draws(np.asarray(y)[None, :], scores.argmax(axis=1), ranks)
    return {k: float(v[0]) for k, v in m.items()}


class PerformanceEstimator:
    """Calibrate a classifier's scores on labelled reference data; estimate its metrics on new windows.

    Binary classifiers get accuracy, ROC AUC, F1, precision and recall at ``threshold``; multiclass
    classifiers (``predict_proba`` with K >= 3 columns) accuracy and the macro averages of precision, recall,
    F1 and one-vs-rest ROC AUC, the prediction being the argmax of the scores. Regression is refused: a
    regressor's output says nothing of its own error, so there is no probability to calibrate.

    Parameters
    ----------
    reference_scores : array-like
        Binary: the model's score for the positive class on the reference rows (``predict_proba(X)[:, 1]``),
        or the two-column ``predict_proba`` output. Multiclass: ``predict_proba(X)``, shape (n, K).
    reference_labels : array-like
        The reference's true labels.
    classes : list, optional
        The classes in the order of the score columns (a scikit-learn model's ``classes_``; default the sorted
        labels). Needed when the reference lacks a class the model predicts.
    threshold : float, default=0.5
        Binary only: a row is predicted positive when its score is at least this.
    pos_label : optional
        Binary only: the positive class (default: the larger of the two labels, or ``classes[1]``).
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

    threshold: Any  # a float for a binary classifier, None for a multiclass one

    def __init__(
        self,
        reference_scores: Any,
        reference_labels: Any,
        *,
        classes: Any = None,
        threshold: float = 0.5,
        pos_label: Any = None,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> None:
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
            raise ValidationError(f"confidence must be a number in [0.5, 1); got {confidence!r}.")
        if classes is not None:
            classes = [v.item() if hasattr(v, "item") else v for v in np.asarray(classes, dtype=object).ravel()]
            if len(classes) < 2 or len(set(classes)) != len(classes):
                raise ValidationError(f"classes must list at least two distinct classes; got {classes!r}.")
        width = np.shape(reference_scores)
        if (len(width) == 2 and width[1] >= 3) or (classes is not None and len(classes) >= 3):
            if pos_label is not None:
                raise ValidationError(
                    "pos_label applies to binary classifiers; a multiclass one has no positive class."
                )
            self._init_multiclass(reference_scores, reference_labels, classes, float(confidence), int(seed))
            return
        self.multiclass = False
        s = _as_scores(reference_scores, what="reference_scores")
        if classes is not None and pos_label is None:
            pos_label = classes[1]
        y = self._labels(
            reference_labels, n=s.size, what="reference_labels", pos_label=pos_label, fit=True, given=classes
        )
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float, np.floating))
            or not math.isfinite(float(threshold))
        ):
            raise ValidationError(f"threshold must be a finite number; got {threshold!r}.")
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

    def _init_multiclass(self, scores: Any, labels: Any, classes: list | None, confidence: float, seed: int) -> None:
        self.multiclass = True
        raw = np.asarray(labels, dtype=object).ravel()
        _refuse_regression(raw, what="reference_labels")
        rows = np.shape(scores)[0]
        if raw.size != rows:
            raise ValidationError(f"reference_labels has {raw.size} values for {rows} scores; give one label per row.")
        if classes is None:
            classes = _sorted_classes(raw, what="reference_labels")
            if np.ndim(scores) == 2 and np.shape(scores)[1] != len(classes):
                raise ValidationError(
                    f"reference_labels hold {len(classes)} classes but reference_scores has {np.shape(scores)[1]} "
                    "columns; pass classes= (the model's classes_, in the order of its columns)."
                )
        p = _as_proba(scores, what="reference_scores", k=len(classes))
        self.classes, self.pos_label, self.threshold = classes, None, None
        y = self._class_index(raw, n=p.shape[0], what="reference_labels")
        counts = np.bincount(y, minlength=len(classes))
        few = [c for c, m in zip(classes, counts) if m < 10 or p.shape[0] - m < 10]
        if few:
            raise ValidationError(
                f"The reference needs at least 10 rows of each class (and of the others) to calibrate scores; "
                f"class(es) {few[:5]} have {[int(counts[classes.index(c)]) for c in few[:5]]}."
            )
        self.confidence, self.seed = confidence, seed
        self.n_reference = int(p.shape[0])
        rng = np.random.default_rng(self.seed)
        k = len(classes)
        self.methods = [
            _choose_calibration(p[:, c], y == c, seed=self.seed + c, calibrator=_NewtonCalibrator) for c in range(k)
        ]
        self.method = self.methods[0] if len(set(self.methods)) == 1 else "per-class " + "/".join(self.methods)
        self.maps: list[list[_NewtonCalibrator]] = []
        for _ in range(N_CALIBRATORS):
            while True:  # every class present and absent in the resample (the reference has >= 10 of each)
                idx = rng.integers(0, p.shape[0], p.shape[0])
                if (np.bincount(y[idx], minlength=k) > 0).all() and (np.bincount(y[idx], minlength=k) < idx.size).all():
                    break
            self.maps.append([_NewtonCalibrator(self.methods[c]).fit(p[idx, c], y[idx] == c) for c in range(k)])
        top = p.max(axis=1)
        self.score_range = (float(np.quantile(top, 0.005)), float(np.quantile(top, 0.995)))
        self.reference = realized_multiclass_metrics(y, p)

    def _labels(
        self, labels: Any, *, n: int, what: str, pos_label: Any = None, fit: bool = False, given: list | None = None
    ) -> np.ndarray:
        arr = np.asarray(labels, dtype=object).ravel()
        if arr.size != n:
            raise ValidationError(f"{what} has {arr.size} values for {n} scores; give one label per row.")
        if fit:
            import pandas as pd

            present = arr[~pd.isna(arr)]
            classes = given or _sorted_classes(present, what=what, missing_ok=True)
            if len(classes) != 2 or present.size != n:
                if len(classes) > 2:
                    _refuse_regression(present, what=what)
                    raise ValidationError(
                        f"{what} hold {len(classes)} classes but the scores are one column; a multiclass "
                        f"classifier's estimate needs predict_proba(X), one column per class.",
                    )
                raise ValidationError(
                    f"{what} must hold two classes or more and no missing values; found "
                    f"{len(classes)} class(es){'' if present.size == n else ' and missing values'}.",
                    hint="Regression is not estimated: a regressor's output carries no probability of its error.",
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

    def _class_index(self, labels: Any, *, n: int, what: str) -> np.ndarray:
        """Labels as indices into ``classes`` (the score columns); an unknown label is refused."""
        arr = np.asarray(labels, dtype=object).ravel()
        if arr.size != n:
            raise ValidationError(f"{what} has {arr.size} values for {n} scores; give one label per row.")
        index = {c: i for i, c in enumerate(self.classes)}
        out = np.empty(arr.size, dtype=np.int64)
        for i, v in enumerate(arr):
            j = index.get(v.item() if hasattr(v, "item") else v)
            if j is None:
                raise ValidationError(
                    f"{what} holds {v!r}, which is not one of the classes {self.classes[:10]}."
                    + (" Pass classes= when the reference lacks a class." if what == "reference_labels" else "")
                )
            out[i] = j
        return out

    def _multiclass_probabilities(self, p: np.ndarray) -> np.ndarray:
        """Per bootstrap map: the one-vs-rest calibrated probabilities, renormalized (maps x rows x K)."""
        return np.stack(
            [
                _renormalize(np.clip(np.column_stack([c.predict(p[:, j]) for j, c in enumerate(maps)]), 0.0, 1.0))
                for maps in self.maps
            ]
        )

    def probabilities(self, scores: Any) -> np.ndarray:
        """Calibrated probabilities (bagged: the mean of the bootstrap maps).

        Binary: ``P(y = positive | score)`` per row. Multiclass: an (n, K) array, each row summing to 1.
        """
        if self.multiclass:
            return self._multiclass_probabilities(_as_proba(scores, what="scores", k=len(self.classes))).mean(axis=0)
        s = _as_scores(scores, what="scores")
        return np.clip(np.mean([c.predict(s) for c in self.bootstrap], axis=0), 0.0, 1.0)

    def estimate(self, scores: Any, *, labels: Any = None) -> "PerformanceEstimate":
        """Estimate the metrics of a window, with intervals.

        Binary: accuracy, ROC AUC, F1, precision and recall. Multiclass: accuracy and the macro averages of
        ROC AUC (one-vs-rest), F1, precision and recall.

        Parameters
        ----------
        scores : array-like
            The model's scores on the window's rows (multiclass: ``predict_proba``, one column per class).
        labels : array-like, optional
            Labels of the window, when they have arrived (``None``/NaN for rows still without one). They give the
            realized metrics beside the estimates, and a check of the calibration that the estimate relies on.

        Returns
        -------
        PerformanceEstimate
        """
        if self.multiclass:
            return self._estimate_multiclass(scores, labels)
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
        metrics = self._intervals(point, draws)
        flags: list[dict] = []
        outside = float(np.mean((s < self.score_range[0]) | (s > self.score_range[1])))
        self._extrapolation(outside, flags, "scores")
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

    def _intervals(self, point: dict, draws: dict) -> dict[str, dict]:
        lo_q, hi_q = (1 - self.confidence) / 2, 1 - (1 - self.confidence) / 2
        metrics: dict[str, dict] = {}
        for name in METRICS:
            d = draws[name]
            d = d[np.isfinite(d)]
            low, high = (float(np.quantile(d, lo_q)), float(np.quantile(d, hi_q))) if d.size else (None, None)
            metrics[name] = {"estimate": point[name], "low": low, "high": high, "reference": self.reference[name]}
        return metrics

    @staticmethod
    def _extrapolation(outside: float, flags: list, what: str) -> None:
        if outside > EXTRAPOLATION_SHARE:
            flags.append(
                {
                    "code": "extrapolation",
                    "message": f"{outside:.0%} of the window's {what} lie outside the reference's central 99%: "
                    "their calibration is extrapolated, so the estimate may be off.",
                }
            )

    def _estimate_multiclass(self, scores: Any, labels: Any) -> "PerformanceEstimate":
        s = _as_proba(scores, what="scores", k=len(self.classes))
        n, k = s.shape
        per_map = self._multiclass_probabilities(s)
        p = per_map.mean(axis=0)
        pred = s.argmax(axis=1)
        n_pred = np.bincount(pred, minlength=k).astype(np.float64)
        tp = np.bincount(pred, weights=p[np.arange(n), pred], minlength=k)
        pos = p.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            prec = np.where(n_pred > 0, tp / n_pred, 0.0)
            rec = np.where(pos > 0, tp / pos, 0.0)
            f1 = np.where(n_pred + pos > 0, 2 * tp / (n_pred + pos), 0.0)
        aucs = np.array([expected_auc(s[:, c], p[:, c]) for c in range(k)])
        point = {
            "accuracy": float(tp.sum() / n),
            "roc_auc": float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan"),
            "f1": float(f1.mean()),
            "precision": float(prec.mean()),
            "recall": float(rec.mean()),
        }
        metrics = self._intervals(point, self._multiclass_draws(s, pred, per_map))
        flags: list[dict] = []
        top = s.max(axis=1)
        outside = float(np.mean((top < self.score_range[0]) | (top > self.score_range[1])))
        self._extrapolation(outside, flags, "top-class scores")
        labelled: dict[str, Any] = {"n": 0}
        if labels is not None:
            labelled = self._check_multiclass_labels(labels, s, p, metrics, flags)
        return PerformanceEstimate(
            {
                "n": n,
                "confidence": self.confidence,
                "classes": list(self.classes),
                "average": "macro",
                "metrics": metrics,
                "expected_class_shares": {str(c): float(v) for c, v in zip(self.classes, p.mean(axis=0))},
                "scores_outside_reference": outside,
                "labelled": labelled,
                "flags": flags,
                "method": f"confidence-based ({self.method} one-vs-rest calibration on the reference, renormalized)",
                "n_reference": self.n_reference,
            }
        )

    def _multiclass_draws(self, s: np.ndarray, pred: np.ndarray, per_map: np.ndarray) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(self.seed + 1)
        n, k = s.shape
        ranks = np.stack([_midranks(s[:, c]) for c in range(k)])
        cum = np.cumsum(per_map, axis=2)[:, :, :-1]  # maps x rows x (K - 1)
        out: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
        per_chunk = max(1, min(N_DRAWS, 5_000_000 // max(n, 1)))
        done = 0
        while done < N_DRAWS:
            b = min(per_chunk, N_DRAWS - done)
            counts = np.bincount(rng.integers(0, len(self.maps), b), minlength=len(self.maps))
            y = np.zeros((b, n), dtype=np.int16)
            row = 0
            for m, c in enumerate(counts):  # y ~ Categorical(p) of the drawn map, row by row: y = #{j: u >= cum_j}
                if c:
                    u = rng.random((c, n))
                    for j in range(k - 1):
                        y[row : row + c] += u >= cum[m, :, j]
                    row += c
            for name, v in _multiclass_metrics_from_draws(y, pred, ranks).items():
                out[name].append(v)
            done += b
        return {name: np.concatenate(v) for name, v in out.items()}

    def _check_multiclass_labels(self, labels: Any, s: np.ndarray, p: np.ndarray, metrics: dict, flags: list) -> dict:
        from statistics import NormalDist

        import pandas as pd

        arr = np.asarray(labels, dtype=object).ravel()
        if arr.size != s.shape[0]:
            raise ValidationError(
                f"labels has {arr.size} values for {s.shape[0]} rows of scores; use None for rows without one."
            )
        have = ~pd.isna(arr)
        m = int(have.sum())
        out: dict[str, Any] = {"n": m}
        if m == 0:
            return out
        y = self._class_index(arr[have], n=m, what="labels")
        k = len(self.classes)
        ps = p[have]
        observed = np.bincount(y, minlength=k).astype(np.float64)
        expected = ps.sum(axis=0)
        sd = np.sqrt(np.maximum((ps * (1 - ps)).sum(axis=0), 1e-12))
        z = (observed - expected) / sd
        # Bonferroni over the K classes, at the binary check's two-sided level (|z| > 3)
        level = 2 * (1 - NormalDist().cdf(CALIBRATION_Z))
        limit = NormalDist().inv_cdf(1 - level / (2 * k))
        names = [str(c) for c in self.classes]
        out.update(
            counts=dict(zip(names, observed.astype(int).tolist())),
            expected_counts=dict(zip(names, expected.tolist())),
            calibration_z=dict(zip(names, z.tolist())),
            calibration_z_limit=limit,
        )
        worst = int(np.argmax(np.abs(z)))
        if abs(z[worst]) > limit:
            flags.append(
                {
                    "code": "calibration",
                    "message": f"The labelled rows have {int(observed[worst])} of class {self.classes[worst]!r} "
                    f"where the calibrated scores expect {expected[worst]:.1f} (z = {z[worst]:.1f}, limit "
                    f"{limit:.1f} over {k} classes): P(y | scores) has changed (concept shift), so estimates "
                    "without labels are not to be trusted.",
                }
            )
        real = realized_multiclass_metrics(y, s[have])
        out["metrics"] = real
        for name, v in real.items():
            metrics[name]["realized"] = v
        if m == s.shape[0]:
            self._outside(real, metrics, out, flags)
        return out

    @staticmethod
    def _outside(real: dict, metrics: dict, out: dict, flags: list) -> None:
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
                self._outside(real, metrics, out, flags)
        return out


def _sorted_classes(arr: np.ndarray, *, what: str, missing_ok: bool = False) -> list:
    import pandas as pd

    missing = pd.isna(arr)
    if missing.any() and not missing_ok:
        raise ValidationError(f"{what} has {int(missing.sum())} missing labels; the reference needs every label.")
    classes = sorted({v.item() if hasattr(v, "item") else v for v in arr[~missing]}, key=repr)
    try:
        classes = sorted(classes)
    except TypeError:
        pass
    return classes


def _refuse_regression(arr: np.ndarray, *, what: str) -> None:
    """Labels that are non-integer numbers are a regression target: refused, there is no probability to calibrate."""
    for v in arr:
        if isinstance(v, (float, np.floating)) and math.isfinite(v) and not float(v).is_integer():
            raise ValidationError(
                f"{what} holds non-integer numbers such as {float(v)!r}: regression is not estimated (a "
                "regressor's output carries no probability of its error); pass class labels of a classifier."
            )


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
        sub = "estimated from calibrated scores, without labels"
        if "classes" in self.data:
            sub += f"; {len(self.data['classes'])} classes, precision, recall, F1 and ROC AUC are macro averages"
        return page(self._summary(), body, subtitle=sub)


def estimate_performance(
    reference_scores: Any,
    reference_labels: Any,
    scores: Any,
    *,
    labels: Any = None,
    classes: Any = None,
    threshold: float = 0.5,
    pos_label: Any = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> PerformanceEstimate:
    """Estimate a classifier's metrics on a window without labels, with intervals.

    Shorthand for ``PerformanceEstimator(reference_scores, reference_labels, ...).estimate(scores, labels=labels)``;
    keep the estimator to estimate many windows against one calibration.

    Parameters
    ----------
    reference_scores, reference_labels : array-like
        Scores for the positive class (multiclass: ``predict_proba``, one column per class) and true labels on
        the reference rows.
    scores : array-like
        Scores on the window to estimate.
    labels : array-like, optional
        The window's labels where they arrived (None/NaN elsewhere): realized metrics and a calibration check.
    classes, threshold, pos_label, confidence, seed
        As in :class:`PerformanceEstimator`.

    Returns
    -------
    PerformanceEstimate
        ``metrics[name]`` has ``estimate``, ``low``, ``high``, ``reference`` and, with labels, ``realized``;
        ``flags`` lists broken assumptions (extrapolated calibration, calibration drift, realized outside).
    """
    est = PerformanceEstimator(
        reference_scores,
        reference_labels,
        classes=classes,
        threshold=threshold,
        pos_label=pos_label,
        confidence=confidence,
        seed=seed,
    )
    return est.estimate(scores, labels=labels)
