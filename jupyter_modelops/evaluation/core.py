"""``evaluate`` and ``evaluate_predictions``: metrics with bootstrap confidence intervals."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import _validation as V
from ..exceptions import ValidationError
from . import _binary, _multiclass, _regression
from ._models import ROUNDING_TOL, Outputs, as_probabilities, describe_scores, estimator_type, predict
from .bootstrap import bias_correct, bootstrap_cells, bootstrap_moments, choose_method, percentile_interval
from .report import EvaluationReport

TASKS = ("auto", "binary", "multiclass", "classification", "regression")


def _check_options(task, ci, n_boot, threshold, random_state):
    V.check_choice(task, "task", TASKS)
    ci = V.check_fraction(ci, "ci")
    n_boot = V.check_int(n_boot, "n_boot", minimum=0)
    if 0 < n_boot < 10:
        raise ValidationError(f"n_boot must be 0 (no intervals) or at least 10; got {n_boot}.")
    threshold = V.check_fraction(threshold, "threshold")
    if random_state is not None and not isinstance(random_state, (int, np.integer, np.random.Generator)):
        raise ValidationError(
            f"random_state must be an integer, a numpy Generator or None; got {V.describe(random_state)}."
        )
    return ci, n_boot, threshold


def _check_labels(y: np.ndarray, name: str = "y") -> np.ndarray:
    V.check_not_empty(y, name)
    if y.dtype.kind in "fc":
        V.check_finite(y, name)
    elif y.dtype.kind == "O":
        missing = [i for i, v in enumerate(y) if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise ValidationError(
                f"{name} contains {len(missing):,} missing values (first at row {missing[0]}); expected every label to be present.",
                hint="Drop or impute those rows first.",
            )
    return y


def _is_continuous(y: np.ndarray) -> bool:
    if y.dtype.kind != "f":
        return False
    return bool(np.any(y != np.round(y)))


def evaluate(
    model: Any,
    X: Any,
    y: Any,
    *,
    task: str = "auto",
    ci: float = 0.95,
    n_boot: int = 1000,
    threshold: float = 0.5,
    sample_weight: Any = None,
    random_state: Any = 0,
    pos_label: Any = None,
    progress: bool | None = None,
) -> EvaluationReport:
    """Evaluate a model on ``(X, y)``: metrics, each with a bootstrap confidence interval.

    Parameters
    ----------
    model : estimator, torch.nn.Module or callable
        Anything with ``predict_proba``, ``decision_function`` or ``predict``
        (scikit-learn API; the first available is used, in that order), a
        ``torch.nn.Module`` (run in batches under ``torch.no_grad()`` in eval
        mode, its train/eval mode restored afterwards), or a function
        ``f(X) -> array``. Outputs of modules and functions are read as
        probabilities (floats in [0, 1], or rows summing to 1), logits (other
        floats; softmax for several columns) or labels (integers, strings).
    X : array-like, DataFrame or tensor of shape (n_samples, n_features), or a table larger than memory
        The inputs, passed to the model unchanged. Or a Parquet file or folder
        path, a ``pyarrow`` Table, RecordBatchReader or Dataset, a polars
        DataFrame or LazyFrame, or a Dask DataFrame holding the target too
        (with ``y`` naming it): the model is then applied batch by batch (on
        Dask, partition by partition on the workers) to the columns in its
        ``feature_names_in_``, or to every other column in order, and each
        batch is reduced to mergeable statistics (see
        :func:`evaluate_predictions` for what is exact and the tolerance).
    y : array-like of shape (n_samples,), or a column name of ``X``
        True labels (classification) or values (regression).
    task : {"auto", "binary", "multiclass", "classification", "regression"}, default="auto"
        Inferred from the model's outputs and ``y`` when "auto".
    ci : float, default=0.95
        Confidence level of the intervals.
    n_boot : int, default=1000
        Bootstrap replicates; 0 gives point values only.
    threshold : float, default=0.5
        Decision threshold on the probability of the positive class (binary):
        a row is predicted positive when its probability is ``>= threshold``
        (for decision-function scores, when the score is ``>= logit(threshold)``).
    sample_weight : array-like of shape (n_samples,), optional
        Row weights, used by every metric and by the bootstrap.
    random_state : int, numpy Generator or None, default=0
        Seed of the bootstrap.
    pos_label : label, optional
        The positive class of a binary task. Default: ``1`` when the labels are
        {0, 1} or {-1, 1} (as scikit-learn), otherwise the larger of the two
        labels, whatever their order in ``labels``.
    progress : bool, optional
        Show a progress bar; by default only for long bootstraps in a notebook or terminal.

    Returns
    -------
    EvaluationReport
        ``.metrics`` maps each metric name to ``(value, low, high)``.

    Notes
    -----
    Point values equal scikit-learn's (``accuracy_score``, ``roc_auc_score``,
    ``average_precision_score``, ``log_loss``, ...). Intervals are percentile
    bootstrap intervals computed from per-cell sufficient statistics (see
    :mod:`jupyter_modelops.evaluation.bootstrap`): exact for small data and for
    few distinct scores; on large data with continuous scores, ROC AUC,
    average precision and KS use score-quantile bins with a bias shift, which
    the report states in ``notes``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> import jupyter_modelops as mo
    >>> X, y = make_classification(2000, random_state=0)
    >>> model = LogisticRegression().fit(X[:1000], y[:1000])
    >>> report = mo.evaluate(model, X[1000:], y[1000:], n_boot=200)
    >>> value, low, high = report.metrics["roc_auc"]
    >>> low <= value <= high
    True
    """
    ci, n_boot, threshold = _check_options(task, ci, n_boot, threshold, random_state)
    t0 = time.perf_counter()
    from . import _stream

    if isinstance(y, str) or _stream.is_table_input(X):
        if not isinstance(y, str):
            raise ValidationError(
                f"X is {V.describe(X)}, read in batches; pass y as the name of its target column (e.g. y='label'), "
                f"not {V.describe(y)}."
            )
        if not (_stream.is_table_input(X) or type(X).__name__ == "DataFrame"):
            raise ValidationError(
                f"y is the column name {y!r} but X is {V.describe(X)}; expected X to be a table holding that column "
                "(a Parquet path, a pyarrow, polars, pandas or Dask table)."
            )
        rep = _stream.evaluate_model_data(
            model,
            X,
            y,
            task=task,
            ci=ci,
            n_boot=n_boot,
            threshold=threshold,
            sample_weight=sample_weight,
            random_state=random_state,
            pos_label=pos_label,
            progress=progress,
        )
        from ..integrations.mlflow import log_to_active_run

        return log_to_active_run(rep, "evaluation")
    if X is None:
        raise ValidationError("X is None; expected the inputs as an array or table with one row per sample.")
    ya = V.as_1d(y, "y")
    V.check_not_empty(X, "X")
    V.check_not_empty(ya, "y")
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 1 and not _is_plain_callable(model):
        raise ValidationError(
            f"X has shape {tuple(shape)}; expected 2-D (n_samples, n_features). "
            "For a single feature use X.reshape(-1, 1) or df[['col']]."
        )
    V.check_same_length(("X", X), ("y", ya))
    if len(ya) > _stream.MAX_IN_MEMORY_ROWS:
        raise ValidationError(_stream.TOO_LARGE_MODEL.format(what="y", n=len(ya), limit=_stream.MAX_IN_MEMORY_ROWS))
    if task == "regression":
        predict_task = "regression"
    elif task != "auto":
        predict_task = "classification"
    else:
        predict_task = _guess_predict_task(model, ya)
    try:
        out: Outputs = predict(model, X, task=predict_task)
    except MemoryError:
        raise ValidationError(_stream.OUT_OF_MEMORY_MODEL.format(n=len(ya))) from None
    V.check_same_length(("y", ya), ("the model's predictions", out.values))
    t_pred = time.perf_counter() - t0
    kw = dict(
        task=task,
        ci=ci,
        n_boot=n_boot,
        threshold=threshold,
        sample_weight=sample_weight,
        random_state=random_state,
        pos_label=pos_label,
        progress=progress,
    )
    if out.kind in ("proba", "decision"):
        rep = _evaluate_in_memory(
            ya,
            None,
            out.values,
            classes=out.classes,
            score_kind=out.kind,
            y_score_name="the model's output",
            score_for_pos=False,
            **kw,
        )
    else:
        rep = _evaluate_in_memory(ya, out.values, None, classes=out.classes, score_kind=None, **kw)
    if out.source != "decision_function":  # the scale was read from the values: say so
        _say_score_scale(
            rep, out.kind, out.values if out.kind in ("proba", "decision") else None, out.clipped, "the model's output"
        )
    rep.model = {"type": type(model).__name__, "output": out.source or out.kind}
    rep.timing["predict_s"] = round(t_pred, 4)
    rep.timing["total_s"] = round(time.perf_counter() - t0, 4)
    from ..integrations.mlflow import log_to_active_run  # opt-in: configure(mlflow=True) or MODELOPS_MLFLOW=1

    return log_to_active_run(rep, "evaluation")


def _say_score_scale(rep: EvaluationReport, score_kind, scores, clipped: int, name: str) -> None:
    """Note clipped probabilities; put scores read as decision values in the report's alerts."""
    if scores is None:
        return
    if clipped:
        rep.notes.insert(
            0,
            f"{clipped:,} value(s) of {name} were outside [0, 1] by at most {ROUNDING_TOL:g} "
            "(rounding) and were clipped to [0, 1].",
        )
    if score_kind == "decision" and rep.task == "binary":
        rep.alerts.append(describe_scores(scores, name))


def _is_plain_callable(model) -> bool:
    return callable(model) and not any(hasattr(model, m) for m in ("predict", "predict_proba", "decision_function"))


def _guess_predict_task(model, y) -> str:
    et = estimator_type(model)
    if et == "regressor":
        return "regression"
    if et == "classifier":
        return "classification"
    if _is_continuous(y) or (y.dtype.kind == "f" and len(np.unique(y)) > 20):
        return "regression"
    return "classification"


def evaluate_predictions(
    y_true: Any,
    y_pred: Any = None,
    y_score: Any = None,
    *,
    task: str = "auto",
    ci: float = 0.95,
    n_boot: int = 1000,
    threshold: float = 0.5,
    sample_weight: Any = None,
    random_state: Any = 0,
    labels: Any = None,
    pos_label: Any = None,
    progress: bool | None = None,
    data: Any = None,
) -> EvaluationReport:
    """Evaluate precomputed predictions: the same report as :func:`evaluate`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), or a column name with ``data``
        True labels or values.
    y_pred : array-like of shape (n_samples,), optional
        Predicted labels (classification) or values (regression).
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes), optional
        Scores: the probability (or decision score) of the positive class for
        a binary task, or one probability column per class (in the order of
        ``labels``, sorted by default). Needed for ROC AUC, average precision,
        KS, log loss, Brier score and calibration. With ``data``: a column
        name, or a list of names (one column per class).
    labels : array-like, optional
        All class labels, in the column order of ``y_score``.
    task, ci, n_boot, threshold, sample_weight, random_state, pos_label, progress
        As in :func:`evaluate`.
    data : table larger than memory, optional
        A Parquet file or folder path, a ``pyarrow`` Table, RecordBatchReader
        or Dataset, a polars DataFrame or LazyFrame, or a Dask DataFrame (a
        pandas DataFrame works too); ``y_true``, ``y_pred``, ``y_score`` and
        ``sample_weight`` then name its columns. It is read in batches of a
        million rows (on Dask, partition by partition on the workers), each
        reduced to mergeable cell statistics, so memory stays bounded. Dask
        Series passed directly as ``y_true``, ``y_pred``, ``y_score`` or
        ``sample_weight`` (same partitions) are evaluated the same way.

    Returns
    -------
    EvaluationReport

    Notes
    -----
    Streamed results (``data=``, Dask) equal the in-memory ones exactly for
    the confusion counts and every metric derived from them (accuracy,
    precision, recall, F1...), log loss, Brier score, calibration error and
    every regression point value. ROC AUC, average precision and KS count
    scores within one fixed score cell as ties: they are within ``1e-3`` of
    the in-memory values (fixed cells that do not depend on the data: grids of
    16,384 uniform on [0, 1], uniform in logit and in log-magnitude, so
    partitions merge in any order; scores packed into a few cells are read
    again with those cells split). Intervals come from the same bootstrap on
    the merged cells (multinomial draws), so they match the in-memory ones up
    to Monte Carlo error. In memory, at most 50,000,000 rows are evaluated;
    larger inputs are refused with a pointer to ``data=``.

    Examples
    --------
    >>> import jupyter_modelops as mo
    >>> r = mo.evaluate_predictions([0, 1, 1, 0, 1, 0], y_score=[.1, .8, .6, .4, .9, .7], n_boot=0)
    >>> r.metrics["roc_auc"].value
    0.8888888888888888
    """
    ci, n_boot, threshold = _check_options(task, ci, n_boot, threshold, random_state)
    t0 = time.perf_counter()
    from . import _stream

    stream_kw = dict(
        task=task,
        ci=ci,
        n_boot=n_boot,
        threshold=threshold,
        random_state=random_state,
        labels=labels,
        pos_label=pos_label,
        progress=progress,
    )
    if data is not None:
        return _stream.evaluate_data(data, y_true, y_pred, y_score, sample_weight, **stream_kw)
    given = {"y_true": y_true, "y_pred": y_pred, "y_score": y_score, "sample_weight": sample_weight}
    if any(_stream.is_dask(v) for v in given.values()):
        frame = _stream.dask_series_frame(given)
        names = {k: (k if v is not None else None) for k, v in given.items()}
        return _stream.evaluate_data(
            frame, names["y_true"], names["y_pred"], names["y_score"], names["sample_weight"], **stream_kw
        )
    if isinstance(y_true, str):
        raise ValidationError(
            f"y_true is the column name {y_true!r} but no data= was given; pass the table as data= "
            "(a Parquet path, a pyarrow, polars, pandas or Dask table) or y_true as an array."
        )
    if y_pred is None and y_score is None:
        raise ValidationError(
            "Neither y_pred nor y_score was given; expected predicted labels/values, scores, or both."
        )
    ya = V.as_1d(y_true, "y_true")
    if len(ya) > _stream.MAX_IN_MEMORY_ROWS:
        raise ValidationError(_stream.TOO_LARGE.format(what="y_true", n=len(ya), limit=_stream.MAX_IN_MEMORY_ROWS))
    score_kind = None
    if y_score is not None:
        ys = V.as_2d_or_1d(y_score, "y_score")
        ys = V.check_numeric(ys, "y_score")
        V.check_same_length(("y_true", ya), ("y_score", ys))
        V.check_finite(ys, "y_score")
        probs, clipped = as_probabilities(ys)
        y_score = ys if probs is None else probs
        score_kind = "decision" if probs is None else "proba"
    if y_pred is not None:
        y_pred = V.as_1d(y_pred, "y_pred")
        V.check_same_length(("y_true", ya), ("y_pred", y_pred))
    rep = _evaluate_in_memory(
        ya,
        y_pred,
        y_score,
        classes=None if labels is None else np.asarray(labels),
        score_kind=score_kind,
        task=task,
        ci=ci,
        n_boot=n_boot,
        threshold=threshold,
        sample_weight=sample_weight,
        random_state=random_state,
        pos_label=pos_label,
        progress=progress,
        y_name="y_true",
    )
    _say_score_scale(
        rep, score_kind, ys if y_score is not None else None, clipped if y_score is not None else 0, "y_score"
    )
    rep.model = {"type": "predictions", "output": score_kind or "label"}
    rep.timing["total_s"] = round(time.perf_counter() - t0, 4)
    return rep


def _evaluate_in_memory(y, *args, **kwargs) -> EvaluationReport:
    """``_evaluate``, with running out of memory said in one sentence (never a raw MemoryError)."""
    try:
        return _evaluate(y, *args, **kwargs)
    except MemoryError:
        from ._stream import OUT_OF_MEMORY

        raise ValidationError(OUT_OF_MEMORY.format(n=len(y))) from None


def _evaluate(
    y,
    y_pred,
    y_score,
    *,
    classes,
    score_kind,
    task,
    ci,
    n_boot,
    threshold,
    sample_weight,
    random_state,
    pos_label,
    progress,
    y_name="y",
    y_score_name="y_score",
    score_for_pos=True,
) -> EvaluationReport:
    """``score_for_pos``: a 1-D score is that of the positive class (user scores) rather than
    that of the second class (model outputs, scikit-learn's convention)."""
    _check_labels(y, y_name)
    n = len(y)
    w = V.check_sample_weight(sample_weight, n)
    # ---- task
    if task == "auto":
        if score_kind is not None:
            task = "classification"
        elif y_pred is not None and (
            _is_continuous(np.asarray(y_pred)) if np.asarray(y_pred).dtype.kind == "f" else False
        ):
            task = "regression"
        elif _is_continuous(y):
            task = "regression"
        else:
            task = "classification"
    if task == "regression":
        return _regression_report(
            y,
            y_pred if y_pred is not None else y_score,
            w,
            ci=ci,
            n_boot=n_boot,
            random_state=random_state,
            progress=progress,
            y_name=y_name,
        )
    # ---- classification: labels and classes
    if y_pred is not None:
        _check_labels(y_pred, "y_pred")
    observed = np.unique(y)
    if classes is None:
        classes = np.unique(np.concatenate([observed, np.unique(y_pred)])) if y_pred is not None else observed
        if y_score is not None and y_score.ndim == 2 and y_score.shape[1] != len(classes):
            raise ValidationError(
                f"{y_score_name} has {y_score.shape[1]} columns but {y_name} has {len(classes)} classes "
                f"({', '.join(map(str, classes[:10]))}); expected one column per class (pass labels= to name them)."
            )
    known = set(classes.tolist())
    unseen = [v for v in observed.tolist() if v not in known]
    if unseen:
        raise ValidationError(
            f"{y_name} contains labels the model never saw: {', '.join(map(repr, unseen[:5]))}; "
            f"the model knows {', '.join(map(repr, classes.tolist()[:10]))}.",
            hint="Check the target column, or its encoding.",
        )
    if len(observed) < 2:
        raise ValidationError(
            f"{y_name} contains only one class ({observed.tolist()[0]!r}); expected at least two classes to evaluate a classifier.",
            hint="Use a larger or stratified sample.",
        )
    K = len(classes)
    if task == "binary" and K != 2:
        raise ValidationError(f"task='binary' but there are {K} classes; expected exactly 2.")
    if task == "multiclass" and K < 3:
        raise ValidationError(f"task='multiclass' but there are only {K} classes; use task='binary'.")
    if K == 2:
        return _binary_report(
            y,
            y_pred,
            y_score,
            classes,
            score_kind,
            w,
            score_for_pos,
            ci=ci,
            n_boot=n_boot,
            threshold=threshold,
            random_state=random_state,
            pos_label=pos_label,
            progress=progress,
            y_name=y_name,
        )
    return _multiclass_report(
        y,
        y_pred,
        y_score,
        classes,
        w,
        ci=ci,
        n_boot=n_boot,
        random_state=random_state,
        progress=progress,
        y_name=y_name,
    )


def default_pos_label(classes: np.ndarray) -> Any:
    """The positive class of a binary task when none is given.

    ``1`` when the labels are {0, 1} or {-1, 1} (scikit-learn's
    ``pos_label=1``, booleans included), otherwise the larger of the two labels,
    whatever order ``labels`` lists them in.
    """
    values = classes.tolist()
    try:
        if set(values) in ({0, 1}, {-1, 1}):
            return classes[values.index(1)]
        return classes[values.index(max(values))]
    except TypeError:  # labels of mixed types: their sorted order
        return classes[values.index(sorted(values, key=str)[-1])]


def _interval_metrics(res, point: dict, order: list[str]) -> dict:
    out = {}
    for k in order:
        if k not in point:
            continue
        if res is None:
            out[k] = (point[k], None, None)
        else:
            out[k] = (point[k], res.low.get(k), res.high.get(k))
    return out


BINARY_ORDER = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "ks_statistic",
    "log_loss",
    "brier_score_loss",
    "calibration_error",
]


#: Estimators biased upward at small n (a maximum / sum of absolute deviations): bias-corrected intervals.
BIASED = ("ks_statistic", "calibration_error")
BIAS_NOTE = (
    "The KS statistic and the expected calibration error are biased upward (most at small n and near 0): "
    "their intervals are bootstrap percentile intervals moved down by twice the bootstrap estimate of that "
    "bias (clipped to [0, 1]), so the point value can lie above its interval; near 0 even these intervals "
    "are approximate (see the coverage table in the README)."
)


CALIBRATED_NOTE = (
    "The calibration error is within what sampling noise alone gives a perfectly calibrated model "
    "with these scores (below its {ci:.0%} quantile): its interval starts at 0."
)


def _binary_report(
    y,
    y_pred,
    y_score,
    classes,
    score_kind,
    w,
    score_for_pos,
    *,
    ci,
    n_boot,
    threshold,
    random_state,
    pos_label,
    progress,
    y_name,
) -> EvaluationReport:
    if pos_label is None:
        pos_label = default_pos_label(classes)
    elif pos_label not in set(classes.tolist()):
        raise ValidationError(
            f"pos_label {pos_label!r} is not one of the classes {', '.join(map(repr, classes.tolist()))}."
        )
    pos_idx = int(np.flatnonzero(classes == pos_label)[0])
    y01 = y == pos_label
    notes = []
    if y_score is not None:
        if y_score.ndim == 2:
            if y_score.shape[1] != 2:
                raise ValidationError(f"y_score has {y_score.shape[1]} columns; expected 1 or 2 for a binary task.")
            score = y_score[:, pos_idx]
        else:
            score = y_score
            if pos_idx == 0 and not score_for_pos:  # a model's 1-D output scores the second class
                score = -y_score if score_kind == "decision" else 1.0 - y_score
        proba = score_kind == "proba"
        if not proba:
            notes.append(
                "Scores are decision values, not probabilities: log loss, Brier score and calibration are "
                "not computed; the threshold applies to logit(threshold)."
            )
    else:
        score = (np.asarray(y_pred) == pos_label).astype(np.float64)
        proba = False
        notes.append(
            "Only predicted labels were available: ROC AUC, average precision, KS, log loss, Brier score "
            "and calibration need scores."
        )
    thr = _binary.threshold_on_scale(threshold, proba) if y_score is not None else 0.5
    lv = _binary.make_levels(y01, np.ascontiguousarray(score, dtype=np.float64), w)
    return _binary_from_levels(
        lv,
        thr,
        proba,
        y_score is not None,
        classes,
        pos_label,
        pos_idx,
        notes,
        n=len(y),
        rows=(y01, w),
        ci=ci,
        n_boot=n_boot,
        threshold=threshold,
        random_state=random_state,
        progress=progress,
    )


def _binary_from_levels(
    lv,
    thr: float,
    proba: bool,
    has_scores: bool,
    classes,
    pos_label,
    pos_idx: int,
    notes: list,
    *,
    n: int,
    rows,
    ci,
    n_boot,
    threshold,
    random_state,
    progress,
    streamed: bool = False,
) -> EvaluationReport:
    """The binary report from a level table: ``rows=(y01, w)`` for in-memory data (row draws possible),
    None for merged streamed statistics (multinomial draws from the cells)."""
    point = _binary.point_values(lv, thr, proba)
    if not has_scores:
        for k in ("roc_auc", "pr_auc", "ks_statistic"):
            point.pop(k, None)
    res = None
    method = None
    binned = False
    if n_boot:
        method = choose_method(n, n_boot) if rows is not None else "multinomial"
        group_of_level, G, stat, binned = _binary.cells(lv, thr, proba, rows_mode=method == "rows")
        if method == "rows":  # draw row indices, as a naive loop would
            y01, w = rows
            cell = y01.astype(np.intp) * G + group_of_level[lv.level_of_row]
            res = bootstrap_cells(
                stat,
                cell,
                2 * G,
                n_boot=n_boot,
                ci=ci,
                random_state=random_state,
                weights=w,
                point=point,
                method=method,
                progress=progress,
            )
        else:  # multinomial draws need only the row count (and weight) of each cell

            def per_cell(neg, pos):
                return np.concatenate(
                    [
                        np.bincount(group_of_level, weights=neg, minlength=G),
                        np.bincount(group_of_level, weights=pos, minlength=G),
                    ]
                )

            counts = per_cell(lv.count - lv.pos_count, lv.pos_count)
            totals = None if lv.sq is None else per_cell(lv.neg, lv.pos)
            sq_totals = None if lv.sq is None else per_cell(*lv.sq)
            res = bootstrap_cells(
                stat,
                None,
                2 * G,
                n_boot=n_boot,
                ci=ci,
                random_state=random_state,
                point=point,
                progress=progress,
                counts=counts,
                totals=totals,
                sq_totals=sq_totals,
            )
        if binned and not streamed:
            notes.append(
                f"Many distinct scores: the bootstrap groups scores into {G} quantile bins "
                "(threshold and calibration edges kept exact); intervals of ROC AUC, average precision and "
                "KS are shifted to the exact point value to remove the binning bias."
            )
        corrected = bias_correct(res, BIASED)
        if corrected:
            notes.append(BIAS_NOTE)
        if "calibration_error" in corrected:
            # the ECE of a calibrated model is not 0 in a sample: reach 0 when the data cannot tell it apart
            null = _binary.calibration_null(
                lv,
                max(n_boot, 200),
                np.random.default_rng([2, int(random_state) if isinstance(random_state, (int, np.integer)) else 0]),
            )
            if point["calibration_error"] <= float(np.quantile(null, ci)):
                res.low["calibration_error"] = 0.0
                notes.append(CALIBRATED_NOTE.format(ci=ci))
    rep = EvaluationReport(
        task="binary",
        n_rows=n,
        ci=ci,
        n_boot=n_boot,
        threshold=threshold,
        metrics=_interval_metrics(res, point, BINARY_ORDER),
        classes=classes.tolist(),
        pos_label=pos_label,
        method=method,
        binned=binned or streamed,
        notes=notes,
    )
    cm = _binary.confusion(lv, thr)
    neg_label = classes[1 - pos_idx]
    if res is not None:
        rep.interval_notes.update({k: "bias-corrected" for k in corrected})
    rep.confusion = {"labels": [neg_label, pos_label], "matrix": _counts([[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]])}
    if has_scores:
        rep.curves = _binary.curves(lv)
        if proba:
            rep.calibration = _binary.calibration(lv)
        rep._levels = (lv, proba)
    rep._dists = None if res is None else res.distributions
    return rep


MULTI_ORDER = [
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier_score_loss",
    "calibration_error",
]


def _multiclass_report(y, y_pred, y_score, classes, w, *, ci, n_boot, random_state, progress, y_name):
    K = len(classes)
    index = {c: i for i, c in enumerate(classes.tolist())}
    yt = np.fromiter((index[v] for v in y.tolist()), dtype=np.intp, count=len(y))
    notes = []
    proba = None
    if y_score is not None:
        if y_score.ndim != 2 or y_score.shape[1] != K:
            raise ValidationError(
                f"y_score has shape {y_score.shape}; expected ({len(y)}, {K}), one probability column per class."
            )
        sums = y_score.sum(axis=1)
        if not np.allclose(sums, 1.0, atol=1e-6) or (y_score < 0).any():
            raise ValidationError(
                f"y_score rows must be probabilities summing to 1; got row sums from {sums.min():.4g} to {sums.max():.4g}.",
                hint="Apply a softmax to logits first.",
            )
        proba = y_score
        pred = proba.argmax(axis=1)
    else:
        unknown = [v for v in np.unique(y_pred).tolist() if v not in index]
        if unknown:
            raise ValidationError(f"y_pred contains labels that are not classes: {', '.join(map(repr, unknown[:5]))}.")
        pred = np.fromiter((index[v] for v in np.asarray(y_pred).tolist()), dtype=np.intp, count=len(y))
        notes.append(
            "Only predicted labels were available: ROC AUC, average precision, log loss, Brier score and "
            "calibration need class probabilities."
        )
    point = _multiclass.point_values(yt, pred, proba, K, w)
    res = None
    method = None
    binned = False
    if n_boot:
        method = choose_method(len(y), n_boot)
        cell, C, stat, binned = _multiclass.cells(yt, pred, proba, K, rows_mode=method == "rows")
        res = bootstrap_cells(
            stat,
            cell,
            C,
            n_boot=n_boot,
            ci=ci,
            random_state=random_state,
            weights=w,
            point=point,
            method=method,
            progress=progress,
        )
        if binned:
            notes.append(
                f"Large data: the bootstrap groups rows into {C} cells (true class, predicted class, bin of the "
                "true class's probability); one-vs-rest ROC AUC, average precision and calibration error use "
                "cell means, shifted to the exact point value."
            )
        corrected = bias_correct(res, BIASED)
        if corrected:
            notes.append(BIAS_NOTE)
        if "calibration_error" in corrected:
            null = _multiclass.calibration_null(
                proba,
                w,
                max(n_boot, 200),
                np.random.default_rng([2, int(random_state) if isinstance(random_state, (int, np.integer)) else 0]),
            )
            if point["calibration_error"] <= float(np.quantile(null, ci)):
                res.low["calibration_error"] = 0.0
                notes.append(CALIBRATED_NOTE.format(ci=ci))
    rep = EvaluationReport(
        task="multiclass",
        n_rows=len(y),
        ci=ci,
        n_boot=n_boot,
        threshold=None,
        metrics=_interval_metrics(res, point, MULTI_ORDER),
        classes=classes.tolist(),
        method=method,
        binned=binned,
        notes=notes,
    )
    if res is not None:
        rep.interval_notes.update({k: "bias-corrected" for k in corrected})
    W = np.ones(len(y)) if w is None else w
    cm = np.bincount(yt * K + pred, weights=W, minlength=K * K).reshape(K, K)
    rep.confusion = {"labels": classes.tolist(), "matrix": _counts(cm.tolist())}
    if proba is not None:
        rep.calibration = _multiclass.calibration(proba, yt, pred, w)
    rep._dists = None if res is None else res.distributions
    return rep


REG_ORDER = [
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "r2",
    "mean_absolute_percentage_error",
    "max_error",
    "mean_residual",
]


def _regression_report(y, yhat, w, *, ci, n_boot, random_state, progress, y_name):
    if yhat is None:
        raise ValidationError("No predictions were given; expected y_pred with one value per row.")
    yv = V.check_numeric(np.asarray(y), y_name)
    V.check_finite(yv, y_name)
    yh = V.check_numeric(V.as_1d(yhat, "y_pred"), "y_pred")
    V.check_finite(yh, "y_pred")
    point = _regression.point_values(yv, yh, w)
    res = None
    method = None
    binned = False
    notes = []
    if n_boot:
        method = choose_method(len(yv), n_boot)
        plan = _regression.cells(yv, yh, w, rows_mode=method == "rows")
        if plan[0] == "rows":
            _, cell, C, stat = plan
            res = bootstrap_cells(
                stat,
                cell,
                C,
                n_boot=n_boot,
                ci=ci,
                random_state=random_state,
                weights=w,
                point=point,
                method=method,
                progress=progress,
            )
        else:
            _, counts, means, roots, stat = plan
            binned = True
            C = len(counts)
            res = bootstrap_moments(
                stat,
                counts,
                means,
                roots,
                n_boot=n_boot,
                ci=ci,
                random_state=random_state,
                point=point,
                progress=progress,
            )
            method = res.method
        if plan[0] != "rows":
            seed = (
                random_state
                if isinstance(random_state, np.random.Generator)
                else np.random.default_rng(None if random_state is None else [int(random_state), 1])
            )
            res.low["max_error"], res.high["max_error"] = percentile_interval(
                _regression.max_error_replicates(np.abs(yv - yh), n_boot, seed), ci
            )
            n_tail = int((counts == 1).sum())
            notes.append(
                f"Large data: the bootstrap draws {C} cells: the {n_tail} rows in the tails of any loss term "
                "one by one (exact), the others grouped into quantile bins of target x residual that keep the "
                "mean and covariance of their terms (within-cell variance kept); the max error interval is "
                "drawn exactly from the order statistics of |residual|."
            )
    rep = EvaluationReport(
        task="regression",
        n_rows=len(yv),
        ci=ci,
        n_boot=n_boot,
        threshold=None,
        metrics=_interval_metrics(res, point, REG_ORDER),
        method=method,
        binned=binned,
        notes=notes,
    )
    rep.residuals = _regression.residual_summary(yv, yh)
    rep._dists = None if res is None else res.distributions
    return rep


def _counts(matrix: list[list[float]]) -> list[list[float]]:
    """Counts as integers when they are whole (no sample weights); weighted sums stay floats."""
    if all(float(v).is_integer() for row in matrix for v in row):
        return [[int(v) for v in row] for row in matrix]
    return [[float(v) for v in row] for row in matrix]
