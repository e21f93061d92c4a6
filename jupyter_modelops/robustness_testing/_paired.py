"""Paired bootstrap intervals on the evaluation core's cell engine.

Clean and perturbed predictions of a row are resampled together: each row
falls in a cell that records both outcomes, and
:func:`jupyter_modelops.evaluation.bootstrap.bootstrap_cells` draws cell
counts from a multinomial, which is exactly the distribution of resampling
rows when the cells are exact (accuracy, flip rate). Means of continuous
per-row values use equal-count bins of the sorted values as cells (1024 by
default), shifted to the exact point value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..evaluation.bootstrap import bootstrap_cells

BINS = 1024


def paired_classification(
    c0: np.ndarray, c1: np.ndarray, flipped: np.ndarray, *, n_boot: int, ci: float, random_state: Any
) -> dict:
    """Accuracy before/after, its drop and the flip rate, with joint bootstrap intervals."""
    cells = c0.astype(np.intp) * 4 + c1.astype(np.intp) * 2 + flipped.astype(np.intp)

    def stat(W: np.ndarray) -> dict:
        tot = W.sum(axis=1)
        acc0 = W[:, 4:8].sum(axis=1) / tot
        acc1 = (W[:, 2] + W[:, 3] + W[:, 6] + W[:, 7]) / tot
        flip = (W[:, 1] + W[:, 3] + W[:, 5] + W[:, 7]) / tot
        return {"drop": acc0 - acc1, "flip": flip, "acc1": acc1}

    r = bootstrap_cells(stat, cells, 8, n_boot=n_boot, ci=ci, random_state=random_state, method="multinomial")
    return {
        "metric": "accuracy",
        "metric_clean": float(c0.mean()),
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
