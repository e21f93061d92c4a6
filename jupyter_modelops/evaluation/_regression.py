"""Regression: exact point values and a cell bootstrap.

Small data: one cell per row (the bootstrap is exact). Large data: the
rows holding the largest values of any term are cells of their own (exact),
the others are grouped into 2-D quantile bins of (target, residual), each
keeping the count, mean and covariance of the per-row terms ``w * (1, y,
y**2, |r|, r**2, |r| / max(|y|, eps), r)``; a replicate draws the cell counts
and then each cell's sums with those moments
(:func:`~.bootstrap.bootstrap_moments`), so the within-cell variance of
heavy-tailed losses and of the weights is kept. The maximum error is bootstrapped separately and exactly from
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
        "mean_squared_error": float(np.average(r**2, weights=w)),
    }
    out["root_mean_squared_error"] = float(np.sqrt(out["mean_squared_error"]))
    ybar = np.average(y, weights=w)
    W = np.ones(len(y)) if w is None else w
    num = float((W * r**2).sum())
    den = float((W * (y - ybar) ** 2).sum())
    live = y if w is None else y[w > 0]
    if live.size == 0 or np.ptp(live) == 0 or den <= 0:  # constant target: scikit-learn's r2_score
        out["r2"] = 1.0 if num == 0 else 0.0
    else:
        out["r2"] = 1.0 - num / den
    out["mean_absolute_percentage_error"] = float(np.average(np.abs(r) / np.maximum(np.abs(y), eps), weights=w))
    out["max_error"] = float(np.max(np.abs(r)))
    out["mean_residual"] = float(np.average(r, weights=w))
    return out


def _qbin(v: np.ndarray, k: int) -> np.ndarray:
    r = np.argsort(np.argsort(v, kind="stable"), kind="stable")
    return (r * k) // len(v)


#: Per-row terms whose sums give every mean-type metric (``w`` times each).
TERMS = ("weight", "y", "y2", "abs_r", "r2", "ape", "r")


def terms(y: np.ndarray, yhat: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Per-row terms ``(n, 7)``: ``w * (1, yc, yc**2, |r|, r**2, |r| / max(|y|, eps), r)``.

    ``yc`` is ``y`` minus its (weighted) mean, so that R² from sums does not
    lose precision when the targets are far from 0.
    """
    r = y - yhat
    eps = np.finfo(np.float64).eps
    yc = y - np.average(y, weights=w)
    ar = np.abs(r)
    G = np.stack([np.ones(len(y)), yc, yc * yc, ar, r * r, ar / np.maximum(np.abs(y), eps), r], axis=1)
    if w is not None:
        G *= w[:, None]
    return G


def stat_from_sums(S: np.ndarray) -> dict:
    """Metrics of every replicate from its sums of :data:`TERMS` (``(b, 7)``)."""
    T, sy, syy, sabs, ssq, sape, sr = (S[:, i] for i in range(7))
    with np.errstate(divide="ignore", invalid="ignore"):
        mse = np.maximum(ssq / T, 0.0)
        den = syy - sy * sy / T
        const = den <= 1e-12 * np.maximum(syy, np.finfo(np.float64).tiny)
        # scikit-learn's r2_score for a constant target: 1.0 for a perfect fit, else 0.0
        r2 = np.where(const, np.where(ssq <= 0, 1.0, 0.0), 1.0 - ssq / den)
        return {
            "mean_absolute_error": sabs / T,
            "mean_squared_error": mse,
            "root_mean_squared_error": np.sqrt(mse),
            "r2": r2,
            "mean_absolute_percentage_error": sape / T,
            "mean_residual": sr / T,
        }


#: Rows with one of the ``TAIL_ROWS`` largest values of a term (per term) are cells of their own.
TAIL_ROWS = 256


def cells(y: np.ndarray, yhat: np.ndarray, w: np.ndarray | None = None, *, rows_mode: bool):
    """The bootstrap plan: ``("rows", cell, C, stat)`` or ``("moments", counts, means, roots, stat)``.

    Small data drawn by rows: one cell per row, exact. Otherwise cells are
    the rows in the tails of any term (one cell each, exact) and 2-D quantile
    bins of (target, residual) of the other rows, each keeping the count,
    mean and covariance of the terms (see
    :func:`~.bootstrap.bootstrap_moments`).
    """
    from .bootstrap import moment_roots

    n = len(y)
    G = terms(y, yhat, w)
    if rows_mode and n <= MAX_ROW_CELLS:
        F = G if w is None else G / w[:, None]  # per unit weight: the row draws carry the weights

        ar = np.abs(y - yhat)

        def stat(W: np.ndarray) -> dict:
            out = stat_from_sums(W @ F)
            out["max_error"] = np.where(W > 0, ar[None, :], 0.0).max(axis=1)
            return out

        return "rows", np.arange(n), n, stat
    k = min(TAIL_ROWS, max(1, n // 100))
    tail = np.zeros(n, dtype=bool)
    for j in range(G.shape[1]):
        col = np.abs(G[:, j])
        if col.max() > col.min():
            tail[np.argpartition(col, n - k)[n - k :]] = True
    bulk = np.flatnonzero(~tail)
    t_idx = np.flatnonzero(tail)
    r = y - yhat
    key = _qbin(y[bulk], Y_BINS) * R_BINS + _qbin(r[bulk], R_BINS)
    uniq, bcell = np.unique(key, return_inverse=True)
    Cb = len(uniq)
    cell = np.empty(n, dtype=np.intp)
    cell[bulk] = bcell
    cell[t_idx] = Cb + np.arange(len(t_idx))
    C = Cb + len(t_idx)
    m = G.shape[1]
    scale = np.abs(G).max(axis=0)
    scale[scale == 0] = 1.0
    Gs = G / scale
    counts = np.bincount(cell, minlength=C).astype(np.float64)
    cnt = np.maximum(counts, 1.0)
    means = np.stack([np.bincount(cell, weights=Gs[:, j], minlength=C) for j in range(m)], axis=1) / cnt[:, None]
    cov = np.zeros((Cb, m, m))
    bc = cnt[:Cb]
    for a in range(m):
        for b in range(a, m):
            v = np.bincount(bcell, weights=Gs[bulk, a] * Gs[bulk, b], minlength=Cb) / bc
            cov[:, a, b] = cov[:, b, a] = v - means[:Cb, a] * means[:Cb, b]
    roots = np.zeros((C, m, m))
    roots[:Cb] = moment_roots(cov) * scale[None, :, None]
    means *= scale

    return "moments", counts, means, roots, stat_from_sums


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
