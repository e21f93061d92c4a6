"""Paired bootstrap intervals on the evaluation core's cell engine.

Clean and perturbed predictions of a row are resampled together: each row
falls in a cell that records both outcomes, and
:func:`jupyter_modelops.evaluation.bootstrap.bootstrap_cells` draws cell
counts from a multinomial, which is exactly the distribution of resampling
rows when the cells are exact (accuracy, flip rate). Means of continuous
per-row values use equal-count bins of the sorted values as cells (1024 by
default), shifted to the exact point value.

Streamed inputs (batches of a Parquet dataset, partitions of a Dask DataFrame)
carry the same cells as counts, which add up exactly over batches
(:func:`paired_classification_counts`, :func:`flip_interval_counts`). Their
continuous per-row values go to fixed cells that do not depend on the data, one
per sign and power of two (:func:`exponent_cells`), holding the row count, sum
and sum of squares; :func:`mean_interval_moments` draws the cell counts from a
multinomial and each cell's sum from a normal with its own variance
(:func:`~jupyter_modelops.evaluation.bootstrap.bootstrap_moments`). The point
value is the exact mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..evaluation.bootstrap import bootstrap_cells, bootstrap_moments

BINS = 1024
#: powers of two kept apart by :func:`exponent_cells` (values below 2**-EXP or above 2**EXP share the end cells)
EXP = 60
#: fixed cells of :func:`exponent_cells`: zero, then one per power of two for positive and negative values
N_EXP_CELLS = 1 + 2 * (2 * EXP + 1)


def paired_classification(
    c0: np.ndarray, c1: np.ndarray, flipped: np.ndarray, *, n_boot: int, ci: float, random_state: Any
) -> dict:
    """Accuracy before/after, its drop and the flip rate, with joint bootstrap intervals."""
    cells = c0.astype(np.intp) * 4 + c1.astype(np.intp) * 2 + flipped.astype(np.intp)
    return paired_classification_counts(
        np.bincount(cells, minlength=8), n_boot=n_boot, ci=ci, random_state=random_state
    )


def paired_classification_counts(counts: np.ndarray, *, n_boot: int, ci: float, random_state: Any) -> dict:
    """:func:`paired_classification` from the row counts of its 8 cells
    (``correct_clean * 4 + correct_perturbed * 2 + flipped``), which add up over batches."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum()

    def stat(W: np.ndarray) -> dict:
        tot = W.sum(axis=1)
        acc0 = W[:, 4:8].sum(axis=1) / tot
        acc1 = (W[:, 2] + W[:, 3] + W[:, 6] + W[:, 7]) / tot
        flip = (W[:, 1] + W[:, 3] + W[:, 5] + W[:, 7]) / tot
        return {"drop": acc0 - acc1, "flip": flip, "acc1": acc1}

    r = bootstrap_cells(stat, None, 8, n_boot=n_boot, ci=ci, random_state=random_state, counts=counts)
    return {
        "metric": "accuracy",
        "metric_clean": float(counts[4:8].sum() / n),
        "metric_perturbed": r.point["acc1"],
        "metric_perturbed_low": r.low["acc1"],
        "metric_perturbed_high": r.high["acc1"],
        "metric_drop": r.point["drop"],
        "metric_drop_low": r.low["drop"],
        "metric_drop_high": r.high["drop"],
        "flip_rate": r.point["flip"],
        "flip_rate_low": r.low["flip"],
        "flip_rate_high": r.high["flip"],
    }


def mean_interval(
    values: np.ndarray, *, n_boot: int, ci: float, random_state: Any, binary: bool = False, bins: int = BINS
) -> tuple[float, float, float]:
    """Mean of per-row values with a bootstrap percentile interval: (value, low, high)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    if binary:
        cells = v.astype(np.intp)
        means = np.array([0.0, 1.0])
        k = 2
    else:
        k = min(n, bins)
        order = np.argsort(v, kind="stable")
        cells = np.empty(n, dtype=np.intp)
        cells[order] = (np.arange(n, dtype=np.int64) * k) // n
        sums = np.bincount(cells, weights=v, minlength=k)
        counts = np.bincount(cells, minlength=k)
        means = sums / np.maximum(counts, 1)

    def stat(W: np.ndarray) -> dict:
        return {"mean": (W @ means) / W.sum(axis=1)}

    r = bootstrap_cells(
        stat,
        cells,
        k,
        n_boot=n_boot,
        ci=ci,
        random_state=random_state,
        method="multinomial",
        point={"mean": float(v.mean())},
    )
    return r.point["mean"], r.low["mean"], r.high["mean"]


def flip_interval_counts(
    counts: np.ndarray, *, n_boot: int, ci: float, random_state: Any
) -> tuple[float, float, float]:
    """:func:`mean_interval` of a 0/1 value from its two counts (rows with 0, rows with 1)."""
    counts = np.asarray(counts, dtype=np.float64)
    means = np.array([0.0, 1.0])

    def stat(W: np.ndarray) -> dict:
        return {"mean": (W @ means) / W.sum(axis=1)}

    r = bootstrap_cells(
        stat,
        None,
        2,
        n_boot=n_boot,
        ci=ci,
        random_state=random_state,
        counts=counts,
        point={"mean": float(counts[1] / counts.sum())},
    )
    return r.point["mean"], r.low["mean"], r.high["mean"]


def exponent_cells(values: np.ndarray) -> np.ndarray:
    """Row count, sum and sum of squares of finite ``values`` in fixed cells, shape ``(3, N_EXP_CELLS)``.

    Cell 0 holds zeros; the others hold the values of one sign whose magnitude lies in
    ``[2**e, 2**(e+1))``, so that within a cell the largest value is at most twice the smallest and its
    variance is small next to its mean. The cells do not depend on the data: those of two batches add up.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    _, e = np.frexp(np.abs(v))  # |v| = m * 2**e with 0.5 <= m < 1
    cell = np.clip(e.astype(np.int64) - 1, -EXP, EXP) + EXP + 1
    cell = np.where(v < 0, cell + 2 * EXP + 1, cell)
    cell[v == 0] = 0
    out = np.empty((3, N_EXP_CELLS), dtype=np.float64)
    out[0] = np.bincount(cell, minlength=N_EXP_CELLS)
    out[1] = np.bincount(cell, weights=v, minlength=N_EXP_CELLS)
    out[2] = np.bincount(cell, weights=v * v, minlength=N_EXP_CELLS)
    return out


def mean_interval_moments(
    cells: np.ndarray, *, n_boot: int, ci: float, random_state: Any
) -> tuple[float, float, float]:
    """Mean with a bootstrap interval from :func:`exponent_cells` (merged over batches): (value, low, high)."""
    counts, sums, sq = (np.asarray(a, dtype=np.float64) for a in cells)
    n = counts.sum()
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    used = counts > 0
    k, s1, s2 = counts[used], sums[used], sq[used]
    mean = s1 / k
    var = s2 / k - mean * mean
    var[var <= 1e-10 * mean * mean] = 0.0  # rounding of sum-of-squares minus squared mean, not spread
    roots = np.sqrt(var)[:, None, None]

    def stat(S: np.ndarray) -> dict:
        return {"mean": S[:, 0] / n}

    r = bootstrap_moments(
        stat,
        k,
        mean[:, None],
        roots,
        n_boot=n_boot,
        ci=ci,
        random_state=random_state,
        point={"mean": float(s1.sum() / n)},
    )
    return r.point["mean"], r.low["mean"], r.high["mean"]
