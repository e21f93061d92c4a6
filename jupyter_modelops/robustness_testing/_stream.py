"""``robustness()`` over data larger than memory: Parquet, Arrow, polars and Dask inputs, batch by batch.

Two passes over the data. The first gathers the column statistics the perturbations need (count, mean,
sum of squared deviations, min and max of every numeric column; the row count of every category), which
merge exactly. The second, batch by batch (or partition by partition on the Dask workers), predicts on the
clean rows, applies every perturbation at every severity with its own random stream, seeded from
``random_state``, the perturbation's position, the batch (or partition) and the sub-batch inside it, and
keeps only mergeable cells:

* classification: the row counts of the 8 cells (correct before, correct after, flipped) or of the 2 flip
  cells without labels: exact, so the paired bootstrap equals the in-memory one on the same rows;
* the mean absolute score change (classification) and the MAE of the clean predictions: sums;
* regression (MAE increase and mean absolute change, with intervals): :func:`._paired.exponent_cells`.

A seeded uniform sample of ``sensitivity_rows`` rows (the rows with the smallest per-row random keys, which
merge across batches and partitions) feeds the per-feature sensitivity ranking. With the row count known
from the first pass, each batch keeps only the rows whose key can still be among the smallest, so a Dask
partition sends about its share of the sample, not a whole sample.

Tolerance of the regression intervals: their ends agree with a naive row bootstrap within 10% of the
interval's width (measured within 3%, heavy tails included); every point value is exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .. import _progress
from .._optional import is_torch_module
from .._partitions import is_dask, reduce_partitions
from ..drift_detection._columns import CATEGORICAL, NUMERIC, Table, iter_batches, stream_kind, to_table
from ..exceptions import ValidationError
from . import perturbations as P
from ._model import Former, Predictor, infer_task
from ._paired import (
    N_EXP_CELLS,
    exponent_cells,
    flip_interval_counts,
    mean_interval_moments,
    paired_classification_counts,
)
from .report import RobustnessReport

#: rows per batch when streaming (a Dask partition larger than this is cut into batches of this size)
BATCH_ROWS = 250_000
#: distinct label values kept to infer the task (classification with at most 50 integer labels)
_Y_UNIQUE = 64


def is_streamed(X: Any, y: Any) -> bool:
    """Whether :func:`robustness` streams ``X``: a Dask DataFrame, or an Arrow-like input whose labels
    are one of its columns (``y`` a column name, or None)."""
    if is_dask(X):
        return True
    return stream_kind(X) is not None and (y is None or isinstance(y, str))


# -- pass 1: column statistics ---------------------------------------------------------------------------------


def _column_stats_part(table: Table, features: list[str], y: str | None) -> dict:
    import pandas as pd

    cols: dict[str, Any] = {}
    for c in features:
        v = table.columns[c]
        if table.kinds[c] == NUMERIC:
            fin = v[np.isfinite(v)]
            if fin.size:
                m = float(fin.mean())
                cols[c] = (NUMERIC, fin.size, m, float(((fin - m) ** 2).sum()), float(fin.min()), float(fin.max()))
            else:
                cols[c] = (NUMERIC, 0, 0.0, 0.0, np.inf, -np.inf)
        else:
            vc = pd.Series(v, dtype=object).value_counts(sort=False, dropna=True)
            cols[c] = (CATEGORICAL, dict(zip(vc.index.tolist(), vc.to_numpy().tolist())))
    out: dict[str, Any] = {"rows": table.n_rows, "columns": cols, "y": None}
    if y is not None:
        yv = table.columns[y]
        if table.kinds[y] == NUMERIC:
            fin = yv[np.isfinite(yv)]
            integral = bool(np.all(fin == np.round(fin)))
            u = np.unique(fin)[:_Y_UNIQUE]
            out["y"] = {"kind": "f", "integral": integral, "unique": set(u.tolist())}
        else:
            out["y"] = {"kind": "O", "integral": False, "unique": set()}
    return out


def _merge_column_stats(a: dict, b: dict) -> dict:
    cols = {}
    for c, sa in a["columns"].items():
        sb = b["columns"][c]
        if sa[0] == NUMERIC and sb[0] == NUMERIC:
            _, na, ma, qa, lo_a, hi_a = sa
            _, nb, mb, qb, lo_b, hi_b = sb
            n = na + nb
            if n == 0:
                cols[c] = sa
                continue
            d = mb - ma
            cols[c] = (NUMERIC, n, ma + d * nb / n, qa + qb + d * d * na * nb / n, min(lo_a, lo_b), max(hi_a, hi_b))
        elif sa[0] == CATEGORICAL and sb[0] == CATEGORICAL:
            merged = dict(sa[1])
            for k, v in sb[1].items():
                merged[k] = merged.get(k, 0) + v
            cols[c] = (CATEGORICAL, merged)
        else:
            raise ValidationError(
                f"Column '{c}' holds numbers in some batches and text in others; cast it to one type in the data."
            )
    ya, yb = a["y"], b["y"]
    ym = ya
    if ya is not None and yb is not None:
        ym = {
            "kind": ya["kind"] if ya["kind"] == yb["kind"] else "O",
            "integral": ya["integral"] and yb["integral"],
            "unique": set(sorted(ya["unique"] | yb["unique"])[:_Y_UNIQUE]),
        }
    return {"rows": a["rows"] + b["rows"], "columns": cols, "y": ym}


def _final_stats(merged: dict) -> dict[str, dict]:
    """The statistics :func:`.core.column_stats` gives for the whole data."""
    out: dict[str, dict] = {}
    for c, s in merged["columns"].items():
        if s[0] == NUMERIC:
            _, n, m, q, lo, hi = s
            if n:
                out[c] = {"mean": float(m), "std": float(np.sqrt(q / n)), "min": float(lo), "max": float(hi)}
            else:
                out[c] = {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
        else:
            # most frequent first; ties in order of first appearance
            cats = [k for k, _ in sorted(s[1].items(), key=lambda kv: -kv[1])]
            out[c] = {"categories": cats, "mode": cats[0] if cats else None}
    return out


def _y_sample(ys: dict | None) -> np.ndarray | None:
    """A small array that :func:`._model.infer_task` judges as it would the whole label column."""
    if ys is None:
        return None
    if ys["kind"] == "O":
        return np.array(["a"], dtype=object)
    u = np.array(sorted(ys["unique"]), dtype=np.float64)
    if ys["integral"] and len(u) < _Y_UNIQUE:
        return u.astype(np.int64) if len(u) else u
    return np.append(u, 0.5) if not ys["integral"] else u


# -- pass 2: cells per batch ---------------------------------------------------------------------------------------


@dataclass
class _Job:
    """Everything a batch (on the client or a worker) needs; it pickles with the model."""

    model: Any
    features: list[str]
    kinds: dict[str, str]
    form: str  # numpy | pandas | torch
    y: str | None
    task: str
    plan: list
    stats: dict
    impute: Any
    random_state: int
    batch_rows: int
    sample_rows: int
    sample_below: float = 1.0  # rows whose key is at least this cannot be among the sample_rows smallest
    seeds: list = field(default_factory=list)

    def former(self) -> Former:
        stub = Table(list(self.features), {}, dict(self.kinds), 0, source=self.form)
        if self.form == "pandas":
            import pandas as pd

            X: Any = pd.DataFrame(
                {c: pd.Series([], dtype=np.float64 if self.kinds[c] == NUMERIC else object) for c in self.features}
            )
        elif self.form == "torch":
            import torch

            X = torch.empty((0, len(self.features)), dtype=torch.float32)
        else:
            X = np.empty((0, len(self.features)), dtype=np.float64)
        return Former(X, stub)


def _new_state(job: _Job) -> dict:
    cells: dict[tuple[int, int], dict] = {}
    for k, (_, sevs, skip) in enumerate(job.plan):
        if skip:
            continue
        for j in range(len(sevs)):
            cells[(k, j)] = {
                "status": "ok",
                "note": None,
                "imputed": None,
                "counts": np.zeros(8 if job.y is not None else 2, dtype=np.int64),
                "delta_sum": 0.0,
                "delta_n": 0,
                "diff": np.zeros((3, N_EXP_CELLS)),
                "delta": np.zeros((3, N_EXP_CELLS)),
                "err_clean": 0.0,
                "err_perturbed": 0.0,
            }
    return {"rows": 0, "base": 0.0, "cells": cells, "seconds": 0.0, "sample": None}


def _note_failure(acc: dict, status: str, note: str) -> None:
    if acc["status"] == "ok":
        acc["status"], acc["note"] = status, note


def _batch(job: _Job, table: Table, unit: int, sub: int, state: dict, former: Former, predictor: Predictor) -> None:
    """Add one batch's cells to ``state`` (in place)."""
    from .core import _align_labels, _apply, _check_outputs, _delta

    n = table.n_rows
    feats = Table(list(job.features), {c: table.columns[c] for c in job.features}, dict(job.kinds), n, source=job.form)
    yv = None if job.y is None else table.columns[job.y]
    if former._buffers and next(iter(former._buffers))[0] != n:
        former._buffers.clear()  # one reused input buffer per batch size, not one per size ever seen
    t0 = time.perf_counter()
    clean = predictor.predict(former(feats), n)
    state["seconds"] += time.perf_counter() - t0
    _check_outputs(clean, yv, job.task)
    if job.task == "classification" and yv is not None:
        yv = _align_labels(yv, clean.labels)
        c0 = clean.labels == yv
        state["base"] += float(np.count_nonzero(c0))
    elif yv is not None:
        e0 = np.abs(clean.labels.astype(np.float64) - yv)
        state["base"] += float(e0.sum())
    state["rows"] += n
    ctx = P.Context(stats=job.stats, model=job.model, y=yv, task=job.task, block=former.block(feats))
    user_X = None
    for k, (pert, sevs, skip) in enumerate(job.plan):
        if skip:
            continue
        if not pert.table and user_X is None:
            user_X = former(feats)
            user_X = user_X.copy() if hasattr(user_X, "copy") else user_X.clone()
        rng = np.random.default_rng([int(job.random_state), k, unit, sub])
        ctx.noise = {}
        for j, s in enumerate(sevs):
            acc = state["cells"][(k, j)]
            try:
                Xp = _apply(pert, feats, former, user_X, rng, s, ctx)
            except ValidationError:
                raise
            except Exception as exc:
                _note_failure(acc, "error", f"the perturbation failed: {type(exc).__name__}: {exc}")
                continue
            t1 = time.perf_counter()
            try:
                out = predictor.predict(Xp, n)
                state["seconds"] += time.perf_counter() - t1
            except Exception as exc:
                state["seconds"] += time.perf_counter() - t1
                if pert.name == "missing" and job.impute is not None:
                    Xi = _impute_named(Xp, job, former) if isinstance(job.impute, str) else job.impute(Xp)
                    t1 = time.perf_counter()
                    out = predictor.predict(Xi, n)
                    state["seconds"] += time.perf_counter() - t1
                    acc["imputed"] = (
                        job.impute if isinstance(job.impute, str) else getattr(job.impute, "__name__", "callable")
                    )
                else:
                    root = exc.__cause__ or exc
                    msg = (str(root).splitlines() or [""])[0] or type(root).__name__
                    if pert.name == "missing":
                        note = (
                            f"the model cannot take missing values ({msg}); pass impute='mean' "
                            "(or a function) to fill them before predicting"
                        )
                    else:
                        note = f"the model failed on the perturbed data: {msg}"
                    _note_failure(acc, "unsupported", note)
                    continue
            d = _delta(clean, out, job.task)
            if job.task == "classification":
                flipped = clean.labels != out.labels
                if yv is not None:
                    cells = c0.astype(np.intp) * 4 + (out.labels == yv).astype(np.intp) * 2 + flipped
                    acc["counts"] += np.bincount(cells, minlength=8)
                else:
                    acc["counts"] += np.bincount(flipped.astype(np.intp), minlength=2)
                fin = d[~np.isnan(d)]
                acc["delta_sum"] += float(fin.sum())
                acc["delta_n"] += int(fin.size)
            else:
                if yv is not None:
                    e1 = np.abs(out.labels.astype(np.float64) - yv)
                    acc["diff"] += exponent_cells(e1 - e0)
                    acc["err_clean"] += float(e0.sum())
                    acc["err_perturbed"] += float(e1.sum())
                acc["delta"] += exponent_cells(d)
    if job.sample_rows:
        keys = np.random.default_rng([int(job.random_state), 991, unit, sub]).random(n)
        take = np.flatnonzero(keys < job.sample_below)
        part = {
            "keys": keys[take],
            "pos": np.column_stack([np.full(take.size, unit), np.full(take.size, sub), take]),
            "columns": {c: feats.columns[c][take] for c in job.features},
        }
        state["sample"] = _merge_samples(state["sample"], part, job.sample_rows)


def _impute_named(Xp: Any, job: _Job, former: Former) -> Any:
    """Fill the missing cells of a perturbed batch with the column means (``impute="mean"``)."""
    t = to_table(Xp, what="X")
    cols = {}
    for name, own in zip(job.features, t.names):  # NumPy and torch batches come back with positional names
        v = t.columns[own]
        if job.kinds[name] == NUMERIC:
            v = np.where(np.isnan(v), job.stats[name]["mean"], v)
        else:
            v = np.where(np.array([x is None for x in v], dtype=bool), job.stats[name]["mode"], v)
        cols[name] = v
    return former(Table(list(job.features), cols, dict(job.kinds), t.n_rows, source=job.form))


def _merge_samples(a: dict | None, b: dict | None, rows: int) -> dict | None:
    """The ``rows`` rows with the smallest keys of two samples (bottom-k sampling: uniform, mergeable)."""
    if a is None or b is None:
        s = a if b is None else b
        if s is None or len(s["keys"]) <= rows:
            return s
        a, b = s, None
    parts = [p for p in (a, b) if p is not None]
    keys = np.concatenate([p["keys"] for p in parts])
    keep = np.arange(len(keys)) if len(keys) <= rows else np.argpartition(keys, rows - 1)[:rows]
    keep.sort()
    pos = np.concatenate([p["pos"] for p in parts])
    cols = {c: np.concatenate([p["columns"][c] for p in parts])[keep] for c in parts[0]["columns"]}
    return {"keys": keys[keep], "pos": pos[keep], "columns": cols}


def _merge_states(a: dict, b: dict, rows: int) -> dict:
    cells = {}
    for key, x in a["cells"].items():
        y = b["cells"][key]
        m = {
            "status": x["status"],
            "note": x["note"],
            "imputed": x["imputed"] or y["imputed"],
        }
        if x["status"] == "ok" and y["status"] != "ok":
            m["status"], m["note"] = y["status"], y["note"]
        for f in ("counts", "delta_sum", "delta_n", "diff", "delta", "err_clean", "err_perturbed"):
            m[f] = x[f] + y[f]
        cells[key] = m
    return {
        "rows": a["rows"] + b["rows"],
        "base": a["base"] + b["base"],
        "cells": cells,
        "seconds": a["seconds"] + b["seconds"],
        "sample": _merge_samples(a["sample"], b["sample"], rows),
    }


def _run_partition(df: Any, unit: int, *, job: _Job) -> dict:
    """Pass 2 on one Dask partition (a pandas DataFrame on its worker), cut into batches."""
    state = _new_state(job)
    if len(df) == 0:
        return state
    former, predictor = job.former(), _predictor(job)
    for sub, start in enumerate(range(0, len(df), job.batch_rows)):
        table = to_table(df[_wanted(job.features, job.y)].iloc[start : start + job.batch_rows], what="X")
        _batch(job, table, unit, sub, state, former, predictor)
    return state


def _stats_partition(df: Any, *, features: list[str], y: str | None) -> dict | None:
    if len(df) == 0:
        return None
    return _column_stats_part(to_table(df[_wanted(features, y)], what="X"), features, y)


def _wanted(features: list[str], y: str | None) -> list[str]:
    return list(features) if y is None else [*features, y]


def _predictor(job: _Job) -> Predictor:
    p = Predictor(job.model)
    p.task = job.task
    return p


# -- the entry point -------------------------------------------------------------------------------------------------


def robustness_streamed(
    model: Any,
    X: Any,
    y: str | None,
    *,
    perturbations: Any,
    severities: Any,
    n_boot: int,
    ci: float,
    random_state: int,
    task: str,
    impute: Any,
    sensitivity: bool,
    sensitivity_rows: int,
    progress: bool | None,
    batch_rows: int,
) -> RobustnessReport:
    """:func:`.core.robustness` on a streamed input (arguments checked there)."""
    from .core import _plan, _sensitivity

    t_start = time.perf_counter()
    dask = is_dask(X)
    kind = None if dask else stream_kind(X)
    if kind == "reader":
        raise ValidationError(
            "robustness() reads X twice (column statistics, then the perturbed predictions) and a "
            "RecordBatchReader can be read only once; pass a Parquet path, a pyarrow Dataset or Table instead."
        )
    if y is not None and not isinstance(y, str):
        raise ValidationError(
            f"With a Dask DataFrame X, y must be the name of its label column (or None); got {type(y).__name__}."
        )
    if isinstance(impute, str) and impute != "mean":
        raise ValidationError(
            f"impute='{impute}' needs whole columns in memory; for a streamed X pass impute='mean' or a function."
        )
    if dask and type(X).__name__ != "DataFrame":
        raise ValidationError("robustness() needs a Dask DataFrame X (columns of features); got a Dask Series.")

    # names and kinds from the first batch (or the Dask meta)
    if dask:
        names = [str(c) for c in X.columns]
        first = to_table(X._meta_nonempty, what="X")
    else:
        first = next(iter(iter_batches(X, what="X", batch_rows=min(batch_rows, 1000))))
        names = list(first.names)
    if y is not None and y not in names:
        raise ValidationError(
            f"The label column '{y}' is not in X (columns: {', '.join(names[:20])}); "
            "pass y= as the name of one of its columns, or y=None for flip rates only."
        )
    features = [c for c in names if c != y]
    wanted = getattr(model, "feature_names_in_", None)
    if wanted is not None and all(str(c) in names for c in wanted):
        features = [str(c) for c in wanted]
    if not features:
        raise ValidationError(f"X holds only the label column '{y}'; expected feature columns besides it.")
    kinds = {c: first.kinds[c] for c in features}
    if is_torch_module(model):
        form = "torch"
    elif wanted is not None or any(k == CATEGORICAL for k in kinds.values()):
        form = "pandas"
    else:
        form = "numpy"

    # pass 1: column statistics
    if dask:
        parts = reduce_partitions(X, partial(_stats_partition, features=features, y=y))
        merged = None
        for p in parts:  # type: ignore[union-attr]
            if p is not None:
                merged = p if merged is None else _merge_column_stats(merged, p)
    else:
        merged = None
        for tab in iter_batches(X, what="X", batch_rows=batch_rows):
            s = _column_stats_part(tab, features, y)
            merged = s if merged is None else _merge_column_stats(merged, s)
    if merged is None or merged["rows"] == 0:
        raise ValidationError("X is empty (no rows); expected at least one row.")
    stats = _final_stats(merged)
    if task == "auto":
        task = infer_task(model, _y_sample(merged["y"]))
        if task == "auto":
            task = "classification"
    if task == "regression" and merged["y"] is not None and merged["y"]["kind"] == "O":
        raise ValidationError(
            "y holds non-numeric values but the task is regression; pass numbers or task='classification'."
        )

    stub = Table(features, {}, kinds, 0, source=form)
    plan = _plan(perturbations, severities, stub, model)
    explicit = not (isinstance(perturbations, str) and perturbations.strip() == "default")
    for i, (pert, sevs, skip) in enumerate(plan):
        if pert.adversarial and not skip:
            if explicit:
                raise ValidationError(
                    f"The perturbation '{pert.name}' needs the whole input in memory for the torch model's "
                    "gradients; it does not run on a streamed X: pass a tensor or a smaller in-memory sample."
                )
            plan[i] = (pert, sevs, "not run on streamed input (needs the whole input in memory)")
    sample_rows = sensitivity_rows if sensitivity else 0
    job = _Job(model, features, kinds, form, y, task, plan, stats, impute, int(random_state), batch_rows, sample_rows)
    total = int(merged["rows"])
    if sample_rows and total > sample_rows:
        # the sample_rows smallest of `total` uniform keys lie below this bound but for a chance of about 1e-15
        # (8 standard deviations of the count below it): batches and partitions keep only those candidates, so
        # what crosses the network is about sample_rows rows in all, not sample_rows per partition
        job.sample_below = min(1.0, (sample_rows + 8 * np.sqrt(sample_rows) + 16) / total)

    # pass 2: cells per batch
    if dask:
        state = reduce_partitions(
            X, partial(_run_partition, job=job), partial(_merge_states, rows=sample_rows), indexed=True
        )
    else:
        state = _new_state(job)
        former, predictor = job.former(), _predictor(job)
        pbar = _progress.bar(total=None, desc="robustness", progress=progress, unit="batch")
        try:
            for b, tab in enumerate(iter_batches(X, what="X", batch_rows=batch_rows)):
                _batch(job, tab, b, 0, state, former, predictor)
                pbar.update(1)
        finally:
            pbar.close()
    assert isinstance(state, dict)
    n = int(state["rows"])
    model_seconds = float(state["seconds"])

    rows: list[dict] = []
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
        for j, s in enumerate(sevs):
            acc = state["cells"][(k, j)]
            row: dict[str, Any] = {"perturbation": pert.name, "severity": s, "description": pert.description}
            if acc["status"] != "ok":
                row.update(status=acc["status"], note=acc["note"])
                rows.append(row)
                continue
            row["imputed"] = acc["imputed"]
            row["status"] = "ok"
            row.update(_finish_row(acc, job, n, n_boot=n_boot, ci=ci, seed=[int(random_state), k, len(rows)]))
            rows.append(row)

    features_out: list[dict] = []
    if sensitivity and state["sample"] is not None:
        smp = state["sample"]
        order = np.lexsort((smp["pos"][:, 2], smp["pos"][:, 1], smp["pos"][:, 0]))  # the data's own row order
        m = len(order)
        sub = Table(list(features), {c: smp["columns"][c][order] for c in features}, dict(kinds), m, source=form)
        former, predictor = job.former(), _predictor(job)
        t1 = time.perf_counter()
        base = predictor.predict(former(sub), m)
        model_seconds += time.perf_counter() - t1
        features_out, secs = _sensitivity(
            predictor, sub, former, None, base, stats, task, rows=sensitivity_rows, random_state=random_state
        )
        model_seconds += secs
    base_metric = None
    if y is not None:
        name = "accuracy" if task == "classification" else "mae"
        base_metric = {"name": name, "value": float(state["base"] / n)}
    from ..integrations.mlflow import log_to_active_run

    report = RobustnessReport(
        rows,
        features=features_out,
        task=task,
        n_rows=n,
        n_boot=n_boot,
        ci=ci,
        base_metric=base_metric,
        model_seconds=model_seconds,
        total_seconds=time.perf_counter() - t_start,
        has_labels=y is not None,
    )
    return log_to_active_run(report, "robustness")


def _finish_row(acc: dict, job: _Job, n: int, *, n_boot: int, ci: float, seed: Any) -> dict:
    res: dict[str, Any] = {}
    if job.task == "classification":
        res["mean_abs_delta"] = acc["delta_sum"] / acc["delta_n"] if acc["delta_n"] else None
        if job.y is not None:
            res.update(paired_classification_counts(acc["counts"], n_boot=n_boot, ci=ci, random_state=seed))
        else:
            fr = flip_interval_counts(acc["counts"], n_boot=n_boot, ci=ci, random_state=seed)
            res.update(flip_rate=fr[0], flip_rate_low=fr[1], flip_rate_high=fr[2])
        return res
    res["mean_abs_delta"] = None
    res["flip_rate"] = None
    if job.y is not None:
        v, lo, hi = mean_interval_moments(acc["diff"], n_boot=n_boot, ci=ci, random_state=seed)
        res.update(
            metric="mae",
            metric_clean=acc["err_clean"] / n,
            metric_perturbed=acc["err_perturbed"] / n,
            metric_drop=v,
            metric_drop_low=lo,
            metric_drop_high=hi,
        )
    v, lo, hi = mean_interval_moments(acc["delta"], n_boot=n_boot, ci=ci, random_state=seed)
    res.update(mean_abs_delta=v, mean_abs_delta_low=lo, mean_abs_delta_high=hi)
    return res
