"""A fast bootstrap over *cells*: sufficient statistics instead of rows.

Most evaluation metrics depend on the rows only through a few sums per
*cell*, a group of rows that the metric cannot tell apart: the (label,
prediction) pair for a confusion matrix, the (label, score level) pair for
ROC AUC, average precision and KS, (label, score) bins for log loss and
Brier score. A bootstrap replicate is then fully described by how much
weight it draws from each cell, a row of a ``(n_boot, n_cells)`` matrix, and
each metric is computed for all replicates at once from that matrix.

How replicates are drawn (``method``):

``"rows"``
    Exactly what a naive bootstrap does: for each replicate
    ``idx = rng.integers(0, n, n)`` (the same random stream, in the same
    order, as a loop calling ``numpy.random.default_rng(random_state)``),
    then the weight of each cell is summed with ``bincount``. Cost
    ``O(n_boot * n)``; chosen when that product is small.
``"multinomial"``
    The cell counts of one replicate are ``Multinomial(n, counts / n)``, which
    is the same distribution as resampling rows, drawn in ``O(n_cells)``
    instead of ``O(n)`` per replicate. With sample weights, a cell that
    draws ``k`` rows gets the weight of ``k`` rows drawn from its weight
    distribution: a gamma variate with mean ``k * mean(w)`` and variance
    ``k * var(w)`` (the first two moments of that sum, exactly). The cell
    needs only its row count, weight sum and sum of squared weights, which
    add up over batches of rows.
``moments`` (:func:`bootstrap_moments`)
    For statistics that are functions of a few *sums* over rows (regression):
    per cell the row count, the mean vector and covariance matrix of the
    per-row terms; a replicate draws multinomial counts ``k`` and then the
    sums from a normal with mean ``k @ mean`` and covariance
    ``sum_c k_c cov_c``, so the within-cell variance is kept. Rows in the tails are their own cells
    (exact), the normal approximation only covers bounded bulk cells.

The bootstrap is exact whenever the cells are exact (every row of a cell is
interchangeable for every metric). When rows are *binned* to keep the number
of cells small, the statistics computed from binned cells are slightly
biased (scores inside one bin count as ties); :func:`bootstrap_cells`
removes that bias by shifting each replicate by ``exact point - binned
point`` before taking percentiles. The spread is then a very close
approximation of the exact bootstrap's (see the evaluation benchmark).

Reuse for paired intervals (a metric drop after a perturbation, a flip rate):
put both predictions of a row into its cell id, e.g. ``cell = y * 4 +
pred_before * 2 + pred_after``, and let ``stat`` return the difference for
every replicate; the rows are then resampled *jointly*.

Examples
--------
>>> import numpy as np
>>> from jupyter_modelops.evaluation.bootstrap import bootstrap_cells
>>> y = np.array([0, 1, 1, 0, 1, 1, 0, 1])
>>> pred = np.array([0, 1, 0, 0, 1, 1, 1, 1])
>>> cells = y * 2 + pred                      # 4 cells: (y, pred)
>>> def accuracy(W):                          # W: (n_replicates, 4) cell weights
...     return {"accuracy": (W[:, 0] + W[:, 3]) / W.sum(axis=1)}
>>> res = bootstrap_cells(accuracy, cells, 4, n_boot=200, random_state=0)
>>> round(res.point["accuracy"], 3)
0.75
>>> res.low["accuracy"] <= 0.75 <= res.high["accuracy"]
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

__all__ = [
    "ROWS_BUDGET",
    "choose_method",
    "cell_totals",
    "resample_cells",
    "percentile_interval",
    "bootstrap_cells",
    "bootstrap_moments",
    "bias_correct",
    "BootstrapResult",
]

#: ``n_rows * n_boot`` up to which ``method="auto"`` draws row indices (exactly as a naive loop).
ROWS_BUDGET = 10_000_000
#: Largest number of matrix entries (replicates x cells) computed at once; bounds memory.
CHUNK_ENTRIES = 2_000_000

Stat = Callable[[Any], Mapping[str, Any]]


def choose_method(n: int, n_boot: int, method: str = "auto") -> str:
    """``"rows"`` when ``n * n_boot <= ROWS_BUDGET``, else ``"multinomial"``."""
    if method not in ("auto", "rows", "multinomial"):
        from ..exceptions import ValidationError

        raise ValidationError(f"method must be 'auto', 'rows' or 'multinomial'; got {method!r}.")
    if method != "auto":
        return method
    return "rows" if n * n_boot <= ROWS_BUDGET else "multinomial"


def cell_totals(cell_ids, n_cells: int, weights=None):
    """Weight (or row count) of every cell in the full data: shape ``(n_cells,)``."""
    import numpy as np

    return np.bincount(cell_ids, weights=weights, minlength=n_cells).astype(np.float64)


#: Replicates x work units above which ``progress=None`` shows a bar (about a second of work).
PROGRESS_WORK = 5_000_000


def resample_cells(
    cell_ids,
    n_cells: int,
    *,
    n_boot: int,
    random_state: Any = 0,
    weights=None,
    method: str = "auto",
    chunk_size: int | None = None,
    progress: bool | None = None,
    counts=None,
    totals=None,
    sq_totals=None,
) -> Iterator[Any]:
    """Yield ``(b, n_cells)`` float arrays of resampled cell weights, chunk by chunk.

    Parameters
    ----------
    cell_ids : ndarray of int, shape (n,)
        The cell of every row, in ``range(n_cells)``.
    n_cells : int
        Number of cells.
    n_boot : int
        Total number of replicates over all chunks.
    random_state : int, numpy Generator or None
        Seed. With ``method="rows"`` the draws equal those of a naive loop
        ``rng = np.random.default_rng(random_state); idx = rng.integers(0, n, n)``.
    weights : ndarray of float, shape (n,), optional
        Sample weights; cells then hold resampled weight sums instead of counts.
    method : {"auto", "rows", "multinomial"}
        See the module docstring.
    chunk_size : int, optional
        Replicates per chunk; by default bounded so a chunk has about two
        million entries.
    progress : bool, optional
        Show a ``tqdm.auto`` bar. By default (None) only for long runs (more
        than ``PROGRESS_WORK`` row draws, or 40x fewer cell draws), and only in a
        notebook kernel or when stderr is a terminal.
    counts, totals : ndarray of shape (n_cells,), optional
        Instead of ``cell_ids``: the number of rows in each cell (and, with
        sample weights, each cell's weight total). Only the multinomial method
        can draw from these.
    sq_totals : ndarray of shape (n_cells,), optional
        With ``totals``: each cell's sum of squared weights (the weight
        variance inside the cell). Without it the weights of a cell are taken
        as constant.
    """
    import numpy as np

    if cell_ids is None:
        if counts is None:
            from ..exceptions import ValidationError

            raise ValidationError("resample_cells needs cell_ids, or counts for the multinomial method.")
        counts = np.asarray(counts, dtype=np.float64)
        n = int(round(counts.sum()))
        method = "multinomial"
    else:
        cell_ids = np.asarray(cell_ids, dtype=np.intp)
        n = len(cell_ids)
        method = choose_method(n, n_boot, method)
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    if chunk_size is None:
        chunk_size = max(1, min(n_boot, CHUNK_ENTRIES // max(n_cells, 1)))
    if counts is None:
        counts = np.bincount(cell_ids, minlength=n_cells).astype(np.float64)
    mean_w = None
    if method == "multinomial":
        if totals is None and weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            totals = np.bincount(cell_ids, weights=weights, minlength=n_cells)
            sq_totals = np.bincount(cell_ids, weights=weights * weights, minlength=n_cells)
        if totals is not None:
            mean_w = np.divide(totals, counts, out=np.zeros(n_cells), where=counts > 0)
            gshape = gscale = None
            if sq_totals is not None:
                var_w = np.divide(sq_totals, counts, out=np.zeros(n_cells), where=counts > 0) - mean_w**2
                var_w[var_w <= 1e-12 * mean_w**2] = 0.0
                noisy = (var_w > 0) & (mean_w > 0)
                if noisy.any():
                    gshape = np.where(noisy, mean_w**2 / np.where(noisy, var_w, 1.0), 0.0)
                    gscale = np.where(noisy, var_w / np.where(mean_w > 0, mean_w, 1.0), 0.0)
    p = counts / n if n else counts
    work = float(n_boot) * (n if method == "rows" else n_cells * 40)
    if progress is None and work < PROGRESS_WORK:
        progress = False
    from .._progress import bar as progress_bar

    bar = progress_bar(total=n_boot, desc="bootstrap", progress=progress, unit="replicate")
    try:
        done = 0
        while done < n_boot:
            b = min(chunk_size, n_boot - done)
            if method == "rows":
                out = np.empty((b, n_cells), dtype=np.float64)
                for i in range(b):
                    idx = rng.integers(0, n, n)
                    out[i] = np.bincount(
                        cell_ids[idx], weights=None if weights is None else weights[idx], minlength=n_cells
                    )
            else:
                out = rng.multinomial(n, p, size=b).astype(np.float64)
                if mean_w is not None:
                    if gshape is None:
                        out *= mean_w
                    else:
                        draw = (out > 0) & (gshape > 0)
                        k = out[draw]
                        cols = np.nonzero(draw)[1]
                        out *= mean_w
                        out[draw] = rng.gamma(k * gshape[cols], gscale[cols])
            done += b
            bar.update(b)
            yield out
    finally:
        bar.close()


def percentile_interval(dist, ci: float = 0.95):
    """Percentile interval of replicates, ignoring NaN (undefined) replicates.

    ``dist`` has shape ``(n_boot,)`` or ``(n_boot, m)``; returns ``(low, high)``
    as floats or arrays of shape ``(m,)``. Uses numpy's default (linear)
    percentile, like ``np.percentile`` on a naive bootstrap.
    """
    import warnings

    import numpy as np

    a = (1.0 - ci) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices -> NaN
        lo, hi = np.nanpercentile(np.asarray(dist, dtype=np.float64), [100 * a, 100 * (1 - a)], axis=0)
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return lo, hi


@dataclass
class BootstrapResult:
    """Point values, interval bounds and replicate distributions, by statistic name."""

    point: dict = field(default_factory=dict)
    low: dict = field(default_factory=dict)
    high: dict = field(default_factory=dict)
    distributions: dict = field(default_factory=dict)
    shift: dict = field(default_factory=dict)
    n_boot: int = 0
    n_valid: dict = field(default_factory=dict)
    method: str = "rows"
    ci: float = 0.95


def bootstrap_cells(
    stat: Stat,
    cell_ids,
    n_cells: int,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: Any = 0,
    weights=None,
    point: Mapping[str, float] | None = None,
    method: str = "auto",
    progress: bool | None = None,
    chunk_size: int | None = None,
    counts=None,
    totals=None,
    sq_totals=None,
) -> BootstrapResult:
    """Bootstrap the statistics ``stat`` computes from cell weights.

    Parameters
    ----------
    stat : callable
        ``stat(W) -> {name: values}`` where ``W`` is a ``(b, n_cells)`` float
        array of cell weights and each value has shape ``(b,)`` (NaN where the
        statistic is undefined for a replicate, e.g. a single class drawn).
    cell_ids, n_cells, n_boot, random_state, weights, method, progress, chunk_size, counts, totals, sq_totals
        See :func:`resample_cells` (``cell_ids=None`` with ``counts`` draws multinomially
        from per-cell row counts, without a per-row pass).
    ci : float, default=0.95
        Confidence level of the percentile intervals.
    point : mapping, optional
        Exact point values. When given (because the cells are binned), every
        replicate of a statistic is shifted by ``point - stat(full data)`` to
        remove the binning bias. Without it the point is ``stat(full data)``.

    Returns
    -------
    BootstrapResult
    """
    import numpy as np

    if cell_ids is None:
        full = np.asarray(totals if totals is not None else counts, dtype=np.float64)[None, :]
        used = "multinomial"
    else:
        full = cell_totals(cell_ids, n_cells, weights)[None, :]
        used = choose_method(len(cell_ids), n_boot, method)
    binned_point = {k: float(np.asarray(v)[0]) for k, v in stat(full).items()}
    parts: dict[str, list] = {k: [] for k in binned_point}
    for W in resample_cells(
        cell_ids,
        n_cells,
        n_boot=n_boot,
        random_state=random_state,
        weights=weights,
        method=used,
        chunk_size=chunk_size,
        progress=progress,
        counts=counts,
        totals=totals,
        sq_totals=sq_totals,
    ):
        for k, v in stat(W).items():
            parts.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
    return _finish(parts, binned_point, point, n_boot=n_boot, method=used, ci=ci)


def _finish(parts: dict, binned_point: dict, point, *, n_boot: int, method: str, ci: float) -> BootstrapResult:
    import numpy as np

    res = BootstrapResult(n_boot=n_boot, method=method, ci=ci)
    for k, chunks in parts.items():
        dist = np.concatenate(chunks) if chunks else np.empty(0)
        exact = binned_point[k] if point is None or k not in point else float(point[k])
        shift = exact - binned_point[k] if np.isfinite(exact) and np.isfinite(binned_point[k]) else 0.0
        if shift:
            dist = dist + shift
        lo, hi = percentile_interval(dist, ci) if len(dist) else (float("nan"), float("nan"))
        res.point[k] = exact
        res.low[k] = lo
        res.high[k] = hi
        res.shift[k] = shift
        res.distributions[k] = dist
        res.n_valid[k] = int(np.isfinite(dist).sum())
    return res


def moment_roots(cov):
    """Symmetric square roots ``L`` (``L @ L.T == cov``) of a stack of covariance matrices ``(C, m, m)``."""
    import numpy as np

    vals, vecs = np.linalg.eigh(cov)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]


def bootstrap_moments(
    stat: Stat,
    counts,
    means,
    roots=None,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: Any = 0,
    point: Mapping[str, float] | None = None,
    progress: bool | None = None,
) -> BootstrapResult:
    """Bootstrap statistics of row *sums* from per-cell moments (the ``moments`` method).

    Parameters
    ----------
    stat : callable
        ``stat(S) -> {name: values}`` where ``S`` is a ``(b, m)`` array of
        resampled sums of the ``m`` per-row terms.
    counts : ndarray of shape (C,)
        Rows in each cell.
    means : ndarray of shape (C, m)
        Mean of the per-row terms in each cell.
    roots : ndarray of shape (C, m, m), optional
        Square roots of the per-cell covariance matrices (:func:`moment_roots`);
        None (or a zero matrix) for cells whose rows are identical, e.g. single rows.
    n_boot, ci, random_state, point, progress
        As in :func:`bootstrap_cells`.

    Returns
    -------
    BootstrapResult
        ``method`` is ``"moments"``.

    Notes
    -----
    Given the drawn counts ``k``, the sum of ``k_c`` rows drawn from cell ``c``
    has mean ``k_c * mean_c`` and covariance ``k_c * cov_c``; the sum over the
    cells is drawn as one normal vector with the summed moments. Counts, sums and sums of outer products
    of the terms add up over batches of rows.
    """
    import numpy as np

    counts = np.asarray(counts, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    C, m = means.shape
    n = int(round(counts.sum()))
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    binned_point = {k: float(np.asarray(v)[0]) for k, v in stat((counts @ means)[None, :]).items()}
    noisy = np.zeros(C, dtype=bool) if roots is None else np.abs(roots).reshape(C, -1).max(axis=1) > 0
    cn = int(noisy.sum())
    # given the counts, the sum over cells is normal with covariance sum_c k_c cov_c: one m x m root per replicate
    covs = None if not cn else np.einsum("cij,ckj->cik", roots[noisy], roots[noisy]).reshape(cn, m * m)
    chunk = max(1, min(n_boot, CHUNK_ENTRIES // max(C, 1)))
    p = counts / n if n else counts
    from .._progress import bar as progress_bar

    work = float(n_boot) * C * 40
    bar = progress_bar(
        total=n_boot,
        desc="bootstrap",
        progress=False if progress is None and work < PROGRESS_WORK else progress,
        unit="replicate",
    )
    parts: dict[str, list] = {k: [] for k in binned_point}
    try:
        done = 0
        while done < n_boot:
            b = min(chunk, n_boot - done)
            k = rng.multinomial(n, p, size=b).astype(np.float64)
            S = k @ means
            if cn:
                Sig = (k[:, noisy] @ covs).reshape(b, m, m)
                vals, vecs = np.linalg.eigh(Sig)
                z = rng.standard_normal((b, m)) * np.sqrt(np.clip(vals, 0.0, None))
                S += np.einsum("bij,bj->bi", vecs, z)
            for name, v in stat(S).items():
                parts.setdefault(name, []).append(np.asarray(v, dtype=np.float64))
            done += b
            bar.update(b)
    finally:
        bar.close()
    return _finish(parts, binned_point, point, n_boot=n_boot, method="moments", ci=ci)


def bias_correct(res: BootstrapResult, names, *, low: float | None = 0.0, high: float | None = 1.0) -> list[str]:
    """Shift the intervals of biased statistics by twice their bootstrap bias estimate.

    For an estimator biased upward (the KS statistic, the expected calibration
    error), replicates centre near ``point + bias`` while the truth is near
    ``point - bias``; the percentile interval is moved down by
    ``2 * (mean(replicates) - point)`` and clipped to ``[low, high]``. The
    point value itself is unchanged (it may then lie above its interval).
    Returns the names that were corrected.
    """
    import numpy as np

    done = []
    for k in names:
        dist = res.distributions.get(k)
        if dist is None or not np.isfinite(res.point.get(k, np.nan)) or not np.isfinite(dist).any():
            continue
        bias = float(np.nanmean(dist)) - res.point[k]
        lo, hi = res.low[k] - 2 * bias, res.high[k] - 2 * bias
        if low is not None:
            lo, hi = max(lo, low), max(hi, low)
        if high is not None:
            lo, hi = min(lo, high), min(hi, high)
        res.low[k], res.high[k] = lo, hi
        done.append(k)
    return done
