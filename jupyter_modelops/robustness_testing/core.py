"""``robustness(model, X, y)``: how predictions and accuracy move when inputs go wrong."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import _progress
from .._optional import is_torch_module
from .._validation import as_1d, check_fraction, check_int
from ..drift_detection._columns import CATEGORICAL, NUMERIC, Table, to_table
from ..exceptions import ValidationError
from . import perturbations as P
from ._model import Former, Output, Predictor, infer_task
from ._paired import mean_interval, paired_classification
from .report import RobustnessReport

IMPUTE = ("mean", "median", "most_frequent")


def robustness(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    perturbations: Any = "default",
    severities: Mapping[str, Sequence[float]] | Sequence[float] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: int = 0,
    task: str = "auto",
    impute: str | Callable[[Any], Any] | None = None,
    sensitivity: bool = True,
    sensitivity_rows: int = 100_000,
    progress: bool | None = None,
    batch_rows: int = 250_000,
) -> RobustnessReport:
    """Perturb the inputs at several severities and measure how the model's output moves.

    Parameters
    ----------
    model : object
        A fitted scikit-learn style model, a ``torch.nn.Module`` or a callable ``f(X)``.
    X : numpy.ndarray, pandas.DataFrame, torch.Tensor, or a streamed input
        Inputs (numeric and categorical columns), in the form the model takes.
        A Parquet file or folder path, a ``pyarrow.Table`` or ``pyarrow.dataset.Dataset``,
        a polars ``DataFrame`` or ``LazyFrame`` (with ``y`` a column name or None) or a
        Dask DataFrame is streamed in batches of ``batch_rows`` rows with bounded
        memory (Dask partitions on their workers): the model gets a DataFrame of the
        columns it was fitted on (``feature_names_in_``), or else a NumPy array of
        every column but ``y`` (a DataFrame when some are categorical).
    y : array-like or str, optional
        True labels or values; for a streamed ``X``, the name of its label column.
        With ``y``, the metric drop (accuracy for classifiers, MAE increase for
        regressors) is reported with a paired bootstrap interval.
    perturbations : "default", str, sequence or mapping, default="default"
        Names from the registry (``"noise,missing"`` or ``["noise", "missing"]``),
        callables ``(X, rng, severity) -> X'``, or a mapping name -> callable.
        ``"default"`` runs every built-in that applies to the data and model
        (FGSM and PGD only for torch modules). See
        :mod:`jupyter_modelops.robustness_testing.perturbations`.
    severities : mapping or sequence of float, optional
        Severity levels per perturbation name, or one list for all of them.
    n_boot : int, default=1000
        Bootstrap replicates for the intervals (rows are resampled jointly for
        the clean and perturbed predictions).
    ci : float, default=0.95
        Confidence level.
    random_state : int, default=0
        Seed; every perturbation draws from its own stream derived from it.
    task : {"auto", "classification", "regression"}
        Inferred from ``y`` and the model by default.
    impute : {"mean", "median", "most_frequent"} or callable, optional
        Fill injected missing values before predicting, for models that cannot
        take NaN. Without it, such a model's ``missing`` rows say so.
    sensitivity : bool, default=True
        Rank features by how much replacing each one by its mean/mode (and
        adding noise to it) moves the predictions.
    sensitivity_rows : int, default=100000
        Rows used for the per-feature ranking (a seeded sample when X is larger).
    progress : bool, optional
        Progress bar (default: in notebooks and terminals only).
    batch_rows : int, default=250000
        Rows per batch for a streamed ``X``. Each batch (and each perturbation
        in it) draws from its own random stream, seeded from ``random_state``,
        the perturbation and the batch's position, so a rerun gives the same
        report. Accuracy drops and flip rates are exact cell counts merged over
        the batches; regression intervals come from fixed per-magnitude cells
        (see :mod:`jupyter_modelops.robustness_testing._stream`). The
        sensitivity ranking uses a seeded uniform sample of ``sensitivity_rows``
        rows; FGSM and PGD do not run on streamed input.

    Returns
    -------
    RobustnessReport

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from jupyter_modelops import robustness
    >>> X, y = make_classification(500, 5, random_state=0)
    >>> rep = robustness(LogisticRegression().fit(X, y), X, y, perturbations="noise", n_boot=200)
    >>> rep.row("noise", 0.2)["flip_rate"] >= rep.row("noise", 0.01)["flip_rate"]
    True
    """
    n_boot = check_int(n_boot, "n_boot", minimum=10)
    ci = check_fraction(ci, "ci")
    check_int(sensitivity_rows, "sensitivity_rows", minimum=10)
    if task not in ("auto", "classification", "regression"):
        raise ValidationError(f"task must be 'auto', 'classification' or 'regression'; got {task!r}.")
    if impute is not None and not callable(impute) and impute not in IMPUTE:
        raise ValidationError(f"impute must be one of {', '.join(IMPUTE)} or a callable; got {impute!r}.")
    from ._stream import is_streamed, robustness_streamed

    if is_streamed(X, y):
        return robustness_streamed(
            model,
            X,
            y,
            perturbations=perturbations,
            severities=severities,
            n_boot=n_boot,
            ci=ci,
            random_state=random_state,
            task=task,
            impute=impute,
            sensitivity=sensitivity,
            sensitivity_rows=sensitivity_rows,
            progress=progress,
            batch_rows=check_int(batch_rows, "batch_rows", minimum=1),
        )
    table = to_table(X, what="X")
    n = table.n_rows
    # every perturbation reads whole columns: make them contiguous once (a column of a row-major
    # array is strided, and each pass over it would pull in eight times the memory)
    for c in table.numeric():
        if not table.columns[c].flags.c_contiguous:
            table.columns[c] = np.ascontiguousarray(table.columns[c])
    yv = None
    if y is not None:
        yv = as_1d(y, "y")
        if len(yv) != n:
            raise ValidationError(f"y has {len(yv):,} rows but X has {n:,}; they must have the same number of rows.")
    predictor = Predictor(model)
    if task == "auto":
        task = infer_task(model, yv)
        if task == "auto":
            task = "classification"
    predictor.task = task
    former = Former(X, table)
    stats = column_stats(table)
    plan = _plan(perturbations, severities, table, model)

    t0 = time.perf_counter()
    clean = predictor.predict(X, n)
    model_seconds = time.perf_counter() - t0
    _check_outputs(clean, yv, task)
    if task == "classification" and yv is not None:
        yv = _align_labels(yv, clean.labels)

    ctx = P.Context(stats=stats, model=model, y=yv, task=task, block=former.block(table))
    rows: list[dict] = []
    total = sum(len(sev) for _, sev, _ in plan)
    pbar = _progress.bar(
        total=total,
        desc="robustness",
        progress=progress if progress is not None else (None if n * total > 2_000_000 else False),
        unit="run",
    )
    try:
        for k, (pert, sevs, skip) in enumerate(plan):
            if skip:
                rows.append(
                    {
                        "perturbation": pert.name,
                        "severity": None,
                        "status": "skipped",
                        "note": skip,
                        "description": pert.description,
                    }
                )
                continue
            rng = np.random.default_rng([int(random_state), k])
            ctx.noise = {}  # common random numbers across the severities of one perturbation
            for s in sevs:
                row = {"perturbation": pert.name, "severity": s, "description": pert.description}
                try:
                    Xp = _apply(pert, table, former, X, rng, s, ctx)
                except ValidationError:
                    raise
                except Exception as exc:
                    row.update(status="error", note=f"the perturbation failed: {type(exc).__name__}: {exc}")
                    rows.append(row)
                    pbar.update(1)
                    continue
                t1 = time.perf_counter()
                try:
                    out = predictor.predict(Xp, n)
                    model_seconds += time.perf_counter() - t1
                    row["imputed"] = None
                except Exception as exc:  # e.g. a model that cannot take NaN
                    model_seconds += time.perf_counter() - t1
                    if pert.name == "missing" and impute is not None:
                        Xi = _impute(Xp, table, former, impute, stats)
                        t1 = time.perf_counter()
                        out = predictor.predict(Xi, n)
                        model_seconds += time.perf_counter() - t1
                        row["imputed"] = impute if isinstance(impute, str) else getattr(impute, "__name__", "callable")
                    else:
                        root = exc.__cause__ or exc
                        msg = (str(root).splitlines() or [""])[0] or type(root).__name__
                        if pert.name == "missing":
                            note = (
                                f"the model cannot take missing values ({msg}); pass impute='mean' "
                                "(or 'median', 'most_frequent', or a function) to fill them before predicting"
                            )
                        else:
                            note = f"the model failed on the perturbed data: {msg}"
                        row.update(status="unsupported", note=note)
                        rows.append(row)
                        pbar.update(1)
                        continue
                row["status"] = "ok"
                row.update(_measure(clean, out, yv, task, n_boot=n_boot, ci=ci, seed=[int(random_state), k, len(rows)]))
                rows.append(row)
                pbar.update(1)
    finally:
        pbar.close()

    features = []
    if sensitivity:
        features, sens_seconds = _sensitivity(
            predictor, table, former, X, clean, stats, task, rows=sensitivity_rows, random_state=random_state
        )
        model_seconds += sens_seconds
    base_metric = None
    if yv is not None:
        if task == "classification":
            base_metric = {"name": "accuracy", "value": float(np.mean(clean.labels == yv))}
        else:
            base_metric = {"name": "mae", "value": float(np.mean(np.abs(clean.labels.astype(np.float64) - yv)))}
    from ..integrations.mlflow import log_to_active_run  # opt-in: configure(mlflow=True) or MODELOPS_MLFLOW=1

    return log_to_active_run(
        RobustnessReport(
            rows,
            features=features,
            task=task,
            n_rows=n,
            n_boot=n_boot,
            ci=ci,
            base_metric=base_metric,
            model_seconds=model_seconds,
            total_seconds=time.perf_counter() - t0,
            has_labels=yv is not None,
        ),
        "robustness",
    )


# -- planning ----------------------------------------------------------------


def _plan(perturbations: Any, severities: Any, table: Table, model: Any) -> list[tuple[P.Perturbation, tuple, str]]:
    """Resolve names/callables to (perturbation, severities, skip-reason) triples."""
    explicit = True
    items: list[tuple[str, Any]] = []
    if isinstance(perturbations, str):
        if perturbations.strip() == "default":
            explicit = False
            items = [(nm, None) for nm in P.DEFAULT]
        else:
            items = [(nm.strip(), None) for nm in perturbations.split(",") if nm.strip()]
    elif isinstance(perturbations, Mapping):
        items = [(str(k), v) for k, v in perturbations.items()]
    elif callable(perturbations):
        items = [(getattr(perturbations, "__name__", "custom"), perturbations)]
    elif isinstance(perturbations, Sequence):
        for p in perturbations:
            if isinstance(p, str):
                items.append((p, None))
            elif isinstance(p, P.Perturbation):
                items.append((p.name, p))
            elif callable(p):
                items.append((getattr(p, "__name__", "custom"), p))
            else:
                raise ValidationError(
                    f"perturbations holds {p!r}; expected names or callables (X, rng, severity) -> X."
                )
    else:
        raise ValidationError(
            f"perturbations must be 'default', a comma-separated string, a list or a mapping; "
            f"got {type(perturbations).__name__}."
        )
    if not items:
        raise ValidationError(f"perturbations is empty; known perturbations: {', '.join(P.registry.names())}.")
    plan = []
    names = set()
    for name, obj in items:
        if obj is None:
            pert = P.registry.get(name)
        elif isinstance(obj, P.Perturbation):
            pert = obj
        elif callable(obj):
            pert = P.Perturbation(name, obj, (0.05,), (getattr(obj, "__doc__", "") or "").strip().split("\n")[0])
        else:
            raise ValidationError(f"The perturbation '{name}' must be callable as (X, rng, severity) -> X.")
        names.add(name)
        sev = _severities(name, pert, severities)
        skip = ""
        if pert.adversarial and not is_torch_module(model):
            if explicit:
                raise ValidationError(
                    f"The perturbation '{name}' needs a differentiable torch.nn.Module model; "
                    f"got {type(model).__name__}."
                )
            skip = "needs a differentiable torch model"
        elif pert.adversarial and table.categorical():
            skip = "needs all-numeric inputs"
        elif pert.needs == NUMERIC and not table.numeric():
            skip = "no numeric columns"
        elif pert.needs == CATEGORICAL and not table.categorical():
            skip = "no categorical columns"
        plan.append((pert, sev, skip))
    if isinstance(severities, Mapping):
        unknown = [k for k in severities if k not in names]
        if unknown:
            raise ValidationError(
                f"severities names {unknown}, which are not among the perturbations run ({', '.join(sorted(names))})."
            )
    return plan


def _severities(name: str, pert: P.Perturbation, severities: Any) -> tuple:
    if severities is None:
        sev = pert.severities
    elif isinstance(severities, Mapping):
        sev = severities.get(name, pert.severities)
    else:
        sev = severities
    try:
        sev = tuple(float(s) for s in (sev if isinstance(sev, (list, tuple, np.ndarray)) else [sev]))
    except (TypeError, ValueError):
        raise ValidationError(f"severities for '{name}' must be numbers; got {sev!r}.") from None
    if not sev or not all(np.isfinite(sev)):
        raise ValidationError(f"severities for '{name}' must be finite numbers; got {sev!r}.")
    return sev


def column_stats(table: Table) -> dict[str, dict]:
    """Mean, std, min, max (numeric) and categories by frequency and mode (categorical)."""
    import warnings

    out = {}
    for c in table.names:
        v = table.columns[c]
        if table.kinds[c] == NUMERIC:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fin = v[np.isfinite(v)]
                if fin.size:
                    out[c] = {
                        "mean": float(fin.mean()),
                        "std": float(fin.std()),
                        "min": float(fin.min()),
                        "max": float(fin.max()),
                    }
                else:
                    out[c] = {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
        else:
            import pandas as pd

            vc = pd.Series(v, dtype=object).dropna().value_counts()
            cats = list(vc.index)
            out[c] = {"categories": cats, "mode": cats[0] if cats else None}
    return out


# -- running -----------------------------------------------------------------


def _apply(
    pert: P.Perturbation, table: Table, former: Former, X: Any, rng: np.random.Generator, s: float, ctx: P.Context
) -> Any:
    if pert.table:
        return former(pert.fn(table, rng, s, ctx))
    Xc = X.copy() if hasattr(X, "copy") else (X.clone() if hasattr(X, "clone") else np.array(X, copy=True))
    Xp = pert.fn(Xc, rng, s)
    if Xp is None:
        raise ValidationError(f"The perturbation '{pert.name}' returned None; it must return the perturbed X.")
    shape = getattr(Xp, "shape", None)
    if shape is None or tuple(shape)[:1] != (table.n_rows,):
        raise ValidationError(
            f"The perturbation '{pert.name}' returned {type(Xp).__name__} of shape {shape}; "
            f"expected the same rows as X ({table.n_rows:,})."
        )
    return Xp


def _impute(Xp: Any, table: Table, former: Former, impute: Any, stats: dict) -> Any:
    if callable(impute):
        return impute(Xp)
    t = to_table(Xp, what="X")
    for c in t.names:
        v = t.columns[c]
        if t.kinds[c] == NUMERIC:
            miss = np.isnan(v)
            if miss.any():
                fill = (
                    stats[c]["mean"]
                    if impute == "mean"
                    else float(np.nanmedian(table.columns[c]))
                    if impute == "median"
                    else _numeric_mode(table.columns[c])
                )
                v = v.copy()
                v[miss] = fill
        else:
            miss = np.array([x is None for x in v])
            if miss.any():
                v = v.copy()
                v[miss] = stats[c]["mode"]
        t.columns[c] = v
    return former(t)


def _numeric_mode(v: np.ndarray) -> float:
    fin = v[np.isfinite(v)]
    if fin.size == 0:
        return 0.0
    vals, counts = np.unique(fin, return_counts=True)
    return float(vals[np.argmax(counts)])


def _check_outputs(clean: Output, y: np.ndarray | None, task: str) -> None:
    if len(clean.labels) == 0:
        raise ValidationError("The model returned no predictions for X.")
    if y is not None and task == "regression" and np.asarray(y).dtype.kind not in "biuf":
        raise ValidationError(
            "y holds non-numeric values but the task is regression; pass numbers or task='classification'."
        )


def _align_labels(y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Compare labels by value when the model returns another dtype (1 vs 1.0 vs '1')."""
    if y.dtype == labels.dtype or (y.dtype.kind in "biuf" and labels.dtype.kind in "biuf"):
        return y
    return y.astype(labels.dtype) if labels.dtype.kind in "US" else y


def _delta(clean: Output, out: Output, task: str) -> np.ndarray:
    if clean.proba is not None and out.proba is not None and clean.proba.shape == out.proba.shape:
        if clean.proba.shape[1] == 2:  # half the L1 distance of two-class vectors
            return np.abs(clean.proba[:, 1] - out.proba[:, 1])
        return 0.5 * np.abs(clean.proba - out.proba).sum(axis=1)
    return np.abs(clean.score - out.score)


def _measure(clean: Output, out: Output, y: np.ndarray | None, task: str, *, n_boot: int, ci: float, seed: Any) -> dict:
    d = _delta(clean, out, task)
    res: dict[str, Any] = {"mean_abs_delta": float(np.nanmean(d)) if d.size else None}
    if task == "classification":
        flipped = clean.labels != out.labels
        if y is not None:
            res.update(
                paired_classification(
                    clean.labels == y, out.labels == y, flipped, n_boot=n_boot, ci=ci, random_state=seed
                )
            )
        else:
            fr = mean_interval(flipped.astype(np.float64), n_boot=n_boot, ci=ci, random_state=seed, binary=True)
            res.update(flip_rate=fr[0], flip_rate_low=fr[1], flip_rate_high=fr[2])
    else:
        res.update(flip_rate=None)
        if y is not None:
            e0 = np.abs(clean.labels.astype(np.float64) - y)
            e1 = np.abs(out.labels.astype(np.float64) - y)
            diff = e1 - e0
            v, lo, hi = mean_interval(diff, n_boot=n_boot, ci=ci, random_state=seed)
            res.update(
                metric="mae",
                metric_clean=float(e0.mean()),
                metric_perturbed=float(e1.mean()),
                metric_drop=v,
                metric_drop_low=lo,
                metric_drop_high=hi,
            )
        v, lo, hi = mean_interval(d, n_boot=n_boot, ci=ci, random_state=seed)
        res.update(mean_abs_delta=v, mean_abs_delta_low=lo, mean_abs_delta_high=hi)
    return res


def _sensitivity(
    predictor: Predictor,
    table: Table,
    former: Former,
    X: Any,
    clean: Output,
    stats: dict,
    task: str,
    *,
    rows: int,
    random_state: int,
) -> tuple[list[dict], float]:
    """Per feature: replace it by its mean/mode (dropout) and add noise / flips at 0.1; measure the movement."""
    n = table.n_rows
    idx = None
    if n > rows:
        idx = np.sort(np.random.default_rng([int(random_state), 991]).choice(n, rows, replace=False))
        sub = Table(
            table.names,
            {c: table.columns[c][idx] for c in table.names},
            dict(table.kinds),
            rows,
            table.source,
            dict(table.extra),
        )
        base = Output(clean.labels[idx], None if clean.proba is None else clean.proba[idx], clean.score[idx])
    else:
        sub, base = table, clean
    m = sub.n_rows
    seconds = 0.0
    out = []
    for j, c in enumerate(table.names):
        rng = np.random.default_rng([int(random_state), 7, j])
        ctx = P.Context(stats=stats, columns=[c])
        entry: dict[str, Any] = {"feature": c, "kind": table.kinds[c]}
        for label, fn, sev in (
            ("dropout", P.dropout, 1.0),
            ("noise" if table.kinds[c] == NUMERIC else "flip", P.noise if table.kinds[c] == NUMERIC else P.flip, 0.1),
        ):
            try:
                Xp = former(fn(sub, rng, sev, ctx))
                t1 = time.perf_counter()
                o = predictor.predict(Xp, m)
                seconds += time.perf_counter() - t1
            except Exception as exc:
                entry[f"{label}_error"] = f"{type(exc).__name__}: {exc}"
                continue
            key = "dropout" if label == "dropout" else "noise"
            entry[f"{key}_mean_abs_delta"] = float(np.mean(_delta(base, o, task)))
            entry[f"{key}_flip_rate"] = float(np.mean(base.labels != o.labels)) if task == "classification" else None
        out.append(entry)
    out.sort(key=lambda e: (e.get("dropout_mean_abs_delta") or 0.0, e.get("noise_mean_abs_delta") or 0.0), reverse=True)
    for r, e in enumerate(out, 1):
        e["rank"] = r
    return out, seconds
