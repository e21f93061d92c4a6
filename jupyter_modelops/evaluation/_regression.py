"""Regression: exact point values and a cell bootstrap.

Small data: one cell per row (the bootstrap is exact). Large data: cells are
2-D quantile bins of (target, residual), each keeping the mean of ``y``,
``y**2``, ``|r|``, ``r**2``, ``|r| / max(|y|, eps)`` and ``r``. Mean-type
metrics are then exact in expectation and only their within-cell spread is
approximated. The maximum error is bootstrapped separately and exactly from
the order statistics of ``|r|`` (:func:`max_error_replicates`).
"""

from __future__ import annotations

import numpy as np

Y_BINS = 64
R_BINS = 32
#: With row draws, one cell per row up to this many rows (exact); binned cells beyond.
MAX_ROW_CELLS = 20_000


def point_values(y: np.ndarray, yhat: np.ndarray, w: np.ndarray | None) -> dict:
    r = y - yhat
    eps = np.finfo(np.float64).eps
    out = {
        "mean_absolute_error": float(np.average(np.abs(r), weights=w)),
        "mean_squared_error": float(np.average(r ** 2, weights=w)),
    }
    out["root_mean_squared_error"] = float(np.sqrt(out["mean_squared_error"]))
    ybar = np.average(y, weights=w)
    W = np.ones(len(y)) if w is None else w
    num = float((W * r ** 2).sum())
    den = float((W * (y - ybar) ** 2).sum())
    out["r2"] = 1.0 - num / den if den > 0 else float("nan")
    out["mean_absolute_percentage_error"] = float(np.average(np.abs(r) / np.maximum(np.abs(y), eps), weights=w))
    out["max_error"] = float(np.max(np.abs(r)))
    out["mean_residual"] = float(np.average(r, weights=w))
    return out


def _qbin(v: np.ndarray, k: int) -> np.ndarray:
    r = np.argsort(np.argsort(v, kind="stable"), kind="stable")
    return (r * k) // len(v)


def cells(y: np.ndarray, yhat: np.ndarray, *, rows_mode: bool):
    n = len(y)
    r = y - yhat
    eps = np.finfo(np.float64).eps
    if rows_mode and n <= MAX_ROW_CELLS:
        cell = np.arange(n)
        C = n
        binned = False
    else:
        key = _qbin(y, Y_BINS) * R_BINS + _qbin(r, R_BINS)
        uniq, cell = np.unique(key, return_inverse=True)
        C = len(uniq)
        binned = True
    cnt = np.maximum(np.bincount(cell, minlength=C), 1).astype(np.float64)

    def cmean(v):
        return np.bincount(cell, weights=v, minlength=C) / cnt

    F = np.stack([cmean(y), cmean(y * y), cmean(np.abs(r)), cmean(r * r),
                  cmean(np.abs(r) / np.maximum(np.abs(y), eps)), cmean(r)], axis=1)
    cmax = np.zeros(C)
    np.maximum.at(cmax, cell, np.abs(r))

    def stat(W: np.ndarray) -> dict:
        T = W.sum(axis=1)
        S = W @ F
        sy, syy, sabs, ssq, sape, sr = (S[:, i] for i in range(6))
        with np.errstate(divide="ignore", invalid="ignore"):
            mse = ssq / T
            den = syy - sy * sy / T
            out = {
                "mean_absolute_error": sabs / T,
                "mean_squared_error": mse,
                "root_mean_squared_error": np.sqrt(mse),
                "r2": np.where(den > 0, 1.0 - ssq / den, np.nan),
                "mean_absolute_percentage_error": sape / T,
                "max_error": np.where(W > 0, cmax[None, :], 0.0).max(axis=1),
                "mean_residual": sr / T,
            }
        return out

    return cell, C, stat, binned


def residual_summary(y: np.ndarray, yhat: np.ndarray, *, max_points: int = 400, seed: int = 0) -> dict:
    r = y - yhat
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    hist, edges = np.histogram(r, bins=30)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(r), size=min(max_points, len(r)), replace=False)
    return {
        "mean": float(r.mean()),
        "std": float(r.std()),
        "quantiles": {str(q): float(v) for q, v in zip(qs, np.quantile(r, qs))},
        "histogram": {"counts": hist.tolist(), "edges": edges.tolist()},
        "sample": {"predicted": yhat[idx].tolist(), "residual": r[idx].tolist(), "actual": y[idx].tolist()},
    }


def max_error_replicates(abs_residual: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Exact bootstrap draws of the maximum ``|residual|``, without resampling rows.

    In a resample of ``n`` rows the largest value drawn is the ``J``-th largest
    of the data (0-based) where ``P(J >= j) = (1 - j/n)**n`` (none of the ``j``
    largest rows drawn); ``J`` is sampled by inverting that distribution.
    """
    a = np.sort(abs_residual)[::-1]
    n = len(a)
    u = rng.random(n_boot)
    J = np.floor(-n * np.expm1(np.log(u) / n)).astype(np.int64)
    return a[np.clip(J, 0, n - 1)]
