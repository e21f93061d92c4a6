"""Numeric kernels of drift detection, on sorted NumPy arrays.

Each numeric column is sorted once per side. The two-sample
Kolmogorov-Smirnov statistic and the Wasserstein-1 distance are then computed
exactly from the merged order (one ``np.searchsorted`` of the sorted current
values into the sorted reference, then a linear pass), PSI and Jensen-Shannon
from one shared histogram whose edges are reference quantiles (read off the
sorted reference, counts by ``np.searchsorted``). Results equal
``scipy.stats.ks_2samp``, ``scipy.stats.wasserstein_distance`` and
``scipy.spatial.distance.jensenshannon`` on the same data up to floating-point
summation order.
"""

from __future__ import annotations

import math

import numpy as np

#: Two-sample KS p-values switch from scipy's exact method to the asymptotic
#: Kolmogorov distribution above this sample size, as ``ks_2samp(method="auto")``.
KS_EXACT_MAX_N = 10_000

#: Above this effective sample size the KS p-value uses the limiting Kolmogorov distribution.
KS_LIMIT_N = 1_000_000

#: Floor for empty histogram bins in PSI (the log of 0 is undefined).
PSI_EPS = 1e-4


def merged_cdf_stats(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """KS statistic, its location and the Wasserstein-1 distance of two sorted samples.

    Parameters
    ----------
    a, b : numpy.ndarray
        Sorted 1-D float arrays without NaN (reference and current).

    Returns
    -------
    (ks_statistic, ks_location, wasserstein)

    Notes
    -----
    The merged order of the two sorted runs comes from a stable argsort of
    their concatenation, which NumPy's timsort does as one linear merge
    (equal values of ``a`` first). One cumulative sum then gives
    ``F_a - F_b`` at every merged point: the KS statistic is its largest
    absolute value at the ends of tie groups, the Wasserstein-1 distance the
    sum of ``|F_a - F_b|`` times the gaps between consecutive merged values.
    """
    n1, n2 = a.size, b.size
    n = n1 + n2
    both = np.concatenate((a, b))
    order = np.argsort(both, kind="stable")
    merged = both[order]
    del both
    is_b = order >= n1
    del order
    # F_a - F_b at merged position k: (k + 1 - cum_b) / n1 - cum_b / n2
    diff = np.cumsum(is_b, dtype=np.int64).astype(np.float64)
    del is_b
    diff *= -(1.0 / n1 + 1.0 / n2)
    diff += np.arange(1, n + 1, dtype=np.float64) * (1.0 / n1)
    gaps = np.diff(merged)
    np.abs(diff, out=diff)
    # zero-width gaps inside tie groups contribute nothing to the integral
    wass = float(np.dot(diff[:-1], gaps))
    ends = gaps != 0
    if ends.all():
        k = int(np.argmax(diff))
    else:
        idx = np.append(np.flatnonzero(ends), n - 1)
        k = int(idx[np.argmax(diff[idx])])
    return float(diff[k]), float(merged[k]), wass


def ks_pvalue(d: float, n1: int, n2: int, a: np.ndarray | None = None, b: np.ndarray | None = None) -> float:
    """Two-sided p-value of the two-sample KS statistic, as ``scipy.stats.ks_2samp(method="auto")``.

    Small samples use scipy's exact distribution (``a`` and ``b`` are passed to
    scipy); large ones the asymptotic Kolmogorov distribution ``kstwo.sf(d, round(n1*n2/(n1+n2)))``.
    """
    from scipy import stats

    if n1 == 0 or n2 == 0:
        return float("nan")
    if max(n1, n2) <= KS_EXACT_MAX_N and a is not None and b is not None:
        return float(stats.ks_2samp(a, b).pvalue)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = float(np.round(m * n / (m + n)))
    return float(np.clip(kstwo_sf(d, en), 0.0, 1.0))


def kstwo_sf(x: float, n: float) -> float:
    """``scipy.stats.kstwo.sf(x, n)``, with a fast exact Smirnov sum on the branch where scipy is slow.

    For ``n > 140`` and ``2.2 <= n x^2 < 370`` scipy evaluates ``2 * smirnov(n, x)``
    with a scalar loop that takes about a second at ``n = 250,000``; the same
    exact sum (Birnbaum-Tingey) is computed here vectorized in log space.
    Above ``n = KS_LIMIT_N`` (1e6) the limiting Kolmogorov distribution is used.
    Every other branch is scipy's own.
    """
    from scipy import stats

    if n > KS_LIMIT_N:
        # the limiting Kolmogorov distribution (relative error about 1e-3 at n = 1e6, shrinking as
        # 1/sqrt(n)); the exact sum costs seconds and gigabytes at n = 5e7 (1e8 rows per side)
        return float(stats.kstwobign.sf(x * math.sqrt(n)))
    t = n * x
    if n > 140 and 0 < x < 0.5 and 1.0 < t < n - 1 and 2.2 <= t * x < 370.0 and n == int(n):
        return min(1.0, max(0.0, 2.0 * smirnov_sf(int(n), float(x))))
    return float(stats.kstwo.sf(x, n))


def smirnov_sf(n: int, x: float) -> float:
    """One-sided exact Smirnov survival ``P(D+_n >= x)`` (``scipy.special.smirnov``) by the Birnbaum-Tingey sum."""
    from scipy.special import gammaln, logsumexp

    jmax = int(math.floor(n * (1.0 - x)))

    def logterms(j: np.ndarray) -> np.ndarray:
        base1 = 1.0 - x - j / n
        base2 = x + j / n
        with np.errstate(divide="ignore", invalid="ignore"):
            lt = (
                gammaln(n + 1.0)
                - gammaln(j + 1.0)
                - gammaln(n - j + 1.0)
                + (n - j) * np.log(base1)
                + (j - 1.0) * np.log(base2)
            )
        return np.where(base1 > 0, lt, np.where(n - j == 0, 0.0, -np.inf))

    # The summand is smooth (analytic) in j and spreads over thousands of
    # terms, so a step-h sum times h equals the unit-step sum up to terms of
    # order exp(-2 pi^2 sigma^2 / h^2) (Poisson summation). Use it when the
    # step-h and step-2h sums agree to 1e-10 (relative), else sum every term.
    step = jmax // 4000
    if step >= 2:
        grid = np.arange(0, jmax + 1, step, dtype=np.float64)
        lt = logterms(grid)
        fine = logsumexp(lt) + math.log(step)
        coarse = logsumexp(lt[::2]) + math.log(2 * step)
        if abs(fine - coarse) < 1e-10 and lt[0] < lt.max() - 60 and lt[-1] < lt.max() - 60:
            return float(x * math.exp(fine))
        # The summand is unimodal: sum every term of the window around its peak, widened until the terms at
        # both ends are below exp(-60) of the peak (a few sigma wide, not the n terms at large n).
        center = int(grid[int(np.argmax(lt))])
        half = 2 * step
        while half <= jmax:
            lo_j, hi_j = max(0, center - half), min(jmax, center + half)
            lw = logterms(np.arange(lo_j, hi_j + 1, dtype=np.float64))
            top = lw.max()
            if (lo_j == 0 or lw[0] < top - 60) and (hi_j == jmax or lw[-1] < top - 60):
                return float(x * math.exp(logsumexp(lw)))
            half *= 2
    # every term, in chunks so that memory stays small at large n
    parts = [
        logsumexp(logterms(np.arange(j, min(j + 1_000_000, jmax + 1), dtype=np.float64)))
        for j in range(0, jmax + 1, 1_000_000)
    ]
    return float(x * math.exp(logsumexp(parts)))


def quantile_edges(sorted_ref: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's ``1/bins ... (bins-1)/bins`` quantiles (linear), de-duplicated."""
    n = sorted_ref.size
    if n == 0:
        return np.empty(0)
    pos = (n - 1) * np.arange(1, bins) / bins
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    q = sorted_ref[lo] * (1 - frac) + sorted_ref[hi] * frac
    return np.unique(q)


def bin_counts(sorted_x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e1], (e1, e2], ..., (ek, inf) of a sorted array."""
    cum = np.searchsorted(sorted_x, edges, side="right")
    return np.diff(np.concatenate(([0], cum, [sorted_x.size]))).astype(np.int64)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index: sum((c - r) * ln(c / r)) over bins, proportions floored at ``eps``."""
    r = ref_counts / max(ref_counts.sum(), 1)
    c = cur_counts / max(cur_counts.sum(), 1)
    r = np.maximum(r, eps)
    c = np.maximum(c, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log), as ``scipy.spatial.distance.jensenshannon``."""
    from scipy.spatial.distance import jensenshannon

    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return float("nan")
    return float(jensenshannon(ref_counts.astype(float), cur_counts.astype(float)))


def chi2_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity on a 2 x k table, as ``scipy.stats.chi2_contingency``."""
    from scipy.stats import chi2_contingency

    table = np.vstack([ref_counts, cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    res = chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN), as ``scipy.stats.false_discovery_control``."""
    from scipy.stats import false_discovery_control

    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = false_discovery_control(p[ok], method="bh")
    return [float(v) for v in out]


def quantile_grid(sorted_x: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear-interpolated quantiles of a sorted array at ``levels`` in [0, 1] (as ``np.quantile``)."""
    n = sorted_x.size
    pos = (n - 1) * levels
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    return sorted_x[lo] * (1 - frac) + sorted_x[hi] * frac


def profile_cdf_stats(levels: np.ndarray, quantiles: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Approximate KS statistic, location and Wasserstein-1 from a reference quantile sketch.

    The reference CDF is taken as piecewise linear between the stored
    quantiles; the current sample ``b`` (sorted) is exact. With ``k`` evenly
    spaced levels the KS statistic is within about ``1/(k-1)`` of the exact
    value for a continuous reference; the Wasserstein distance compares the
    quantile functions at the current sample's plotting positions.
    """
    n2 = b.size
    q, lv = np.maximum.accumulate(quantiles), levels
    # F_ref at current points (upper CDF at ends of tie groups)
    f_ref = np.interp(b, q, lv, left=0.0, right=1.0)
    f_cur_hi = np.arange(1, n2 + 1) / n2
    f_cur_lo = np.arange(0, n2) / n2
    d1 = np.abs(f_ref - f_cur_hi)
    ends = np.append(b[1:] != b[:-1], True)
    d1 = np.where(ends, d1, 0.0)
    d2 = np.abs(f_ref - f_cur_lo)
    starts = np.insert(b[1:] != b[:-1], 0, True)
    d2 = np.where(starts, d2, 0.0)
    # and at the reference quantiles
    f_cur_at_q = np.searchsorted(b, q, side="right") / n2
    d3 = np.abs(lv - f_cur_at_q)
    cands = [
        (float(d1.max()), b[int(d1.argmax())]),
        (float(d2.max()), b[int(d2.argmax())]),
        (float(d3.max()), q[int(d3.argmax())]),
    ]
    d, loc = max(cands, key=lambda t: t[0])
    mid = (np.arange(n2) + 0.5) / n2
    qref = np.interp(mid, lv, q)
    wass = float(np.mean(np.abs(b - qref)))
    return d, float(loc), wass


def finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    return float(x) if math.isfinite(x) else None


def hist_ks(edges: np.ndarray, ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float, int]:
    """Bounds of the exact two-sample KS statistic from two histograms on the same edges.

    Both empirical CDFs are known exactly at every edge, and inside a bin each lies between its
    values at the bin's two ends. So the exact statistic ``D`` satisfies ``lower <= D <= upper``
    with ``lower`` the largest CDF gap at the edges and ``upper`` the largest gap that the two
    CDFs could reach inside a bin. ``upper - lower`` is at most the largest share of either
    sample in one bin.

    Returns
    -------
    (lower, upper, index of the edge where ``lower`` is reached, or -1 without edges)
    """
    na, nb = max(int(ref_counts.sum()), 1), max(int(cur_counts.sum()), 1)
    fa = np.concatenate(([0.0], np.cumsum(ref_counts) / na))
    fb = np.concatenate(([0.0], np.cumsum(cur_counts) / nb))
    fa[-1] = fb[-1] = 1.0
    gaps = np.abs(fa[1:-1] - fb[1:-1])
    lower = float(gaps.max()) if gaps.size else 0.0
    at = int(gaps.argmax()) if gaps.size else -1
    upper = float(max(np.max(fa[1:] - fb[:-1]), np.max(fb[1:] - fa[:-1])))
    return lower, max(upper, lower), at


def cdf_l1(xa: np.ndarray, fa: np.ndarray, xb: np.ndarray, fb: np.ndarray) -> float:
    """Wasserstein-1 distance of two piecewise-linear CDFs given by their knots ``(x, F(x))``.

    The integral of ``|Fa - Fb|`` is exact for the piecewise-linear CDFs (a sign change inside a
    segment is integrated as two triangles).
    """
    x = np.union1d(xa, xb)
    if x.size < 2:
        return 0.0
    d = np.interp(x, xa, fa, left=0.0, right=1.0) - np.interp(x, xb, fb, left=0.0, right=1.0)
    dx = np.diff(x)
    d0, d1 = d[:-1], d[1:]
    a0, a1 = np.abs(d0), np.abs(d1)
    same = d0 * d1 >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(a0 + a1 > 0, (d0 * d0 + d1 * d1) / (2.0 * (a0 + a1)), 0.0)
    return float(np.sum(np.where(same, (a0 + a1) / 2.0, cross) * dx))
