"""Sequential drift alarms calibrated to a false-alarm budget over a monitoring horizon.

A check that runs every hour at a 5% level fires on stable traffic within a
day or two. :class:`SequentialDrift` instead accumulates evidence window after
window (a CUSUM per column) and raises an alarm only when the largest
statistic over all columns crosses one threshold, set by simulation under "no
drift" so that the probability of any false alarm within ``horizon`` checks is
at most ``alpha``.

Per window and column, the window is binned on the reference profile's bins
(a mergeable summary: the counts of two windows add). Two standardized
measures are computed from the counts ``c`` (``m`` rows) and the reference
proportions ``p``:

- location ``z`` (numeric columns): the window's mean binned mid-rank score
  ``u_k = p_1 + ... + p_(k-1) + p_k / 2`` minus its reference value ``1/2``,
  over its standard error; about ``N(0, 1)`` without drift, and it moves with a
  shift of the column's location;
- shape ``D``: the Wilson-Hilferty normal score of Pearson's
  ``X = sum (c - m p)^2 / (m p)`` on ``df = bins - 1`` degrees of freedom (about
  ``N(0, 1)`` without drift); it grows with any change of the distribution.

Each feeds a one-sided CUSUM (``S+ = max(0, S+ + z - k)``, ``S- = max(0, S- - z - k)``,
``C = max(0, C + D - k)``); the column's statistic is the largest of them.
"""

from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._html import Result, esc, fmt, page, table, to_jsonable
from ..exceptions import ValidationError

SCHEMA = 1
#: bins are merged until each expects at least this many rows in a window
MIN_EXPECTED = 5.0
#: simulated null streams per calibration group
N_SIM = 20_000
#: fraction of the simulated maxima used for the exponential tail fit
TAIL_FRACTION = 0.05
#: share of alpha the threshold is set for: the simulation's normal limit understates the tails of real
#: (multinomial) counts a little (5.9% instead of 5.4% family-wise in 1,000 exactly simulated streams)
SIMULATION_MARGIN = 0.8


# -- bins ---------------------------------------------------------------------
def _numeric_bins(edges: list[float], counts: list[int], n: int, m0: int) -> tuple[list[float], np.ndarray]:
    """Merge adjacent reference bins until each expects ``MIN_EXPECTED`` rows in a window of ``m0`` rows."""
    need = MIN_EXPECTED * n / m0
    groups: list[list[int]] = [[]]
    acc = 0
    for i, c in enumerate(counts):
        groups[-1].append(i)
        acc += c
        if acc >= need and i < len(counts) - 1:
            groups.append([])
            acc = 0
    if len(groups) > 1 and sum(counts[i] for i in groups[-1]) < need:
        last = groups.pop()
        groups[-1].extend(last)
    new_edges = [edges[g[-1]] for g in groups[:-1]]
    new_counts = np.array([sum(counts[i] for i in g) for g in groups], dtype=float)
    return new_edges, new_counts


def _categorical_bins(counts: dict[str, int], n: int, m0: int) -> tuple[list[str], np.ndarray]:
    """Categories with enough expected rows keep a bin; the rest share one bin with unseen categories."""
    need = MIN_EXPECTED * n / m0
    keep = sorted((k for k, v in counts.items() if v >= need), key=lambda k: -counts[k])
    other = sum(v for k, v in counts.items() if k not in set(keep))
    if keep and other < need:
        # too little left for a bin of its own: fold it (and unseen categories) into the smallest kept one
        smallest = keep[-1]
        return keep, np.array([counts[k] + (other if k == smallest else 0) for k in keep], dtype=float)
    return keep, np.array([counts[k] for k in keep] + [other], dtype=float)


class _Column:
    """One monitored column: its merged bins, reference proportions and CUSUM state."""

    def __init__(
        self,
        name: str,
        kind: str,
        n: int,
        p: np.ndarray,
        *,
        edges: list[float] | None = None,
        categories: list[str] | None = None,
    ) -> None:
        self.name, self.kind, self.n = name, kind, int(n)
        self.p = p / p.sum()
        self.edges = edges
        self.categories = categories
        self.df = len(self.p) - 1
        u = np.cumsum(self.p) - self.p / 2.0
        self.u = u
        self.u_var = float(np.dot(self.p, u * u) - 0.25)
        self.s_pos = self.s_neg = self.s_shape = 0.0
        self.last: dict[str, Any] = {}

    @property
    def has_location(self) -> bool:
        return self.kind == "numeric" and self.df >= 1 and self.u_var > 0

    def counts(self, values: np.ndarray) -> np.ndarray:
        if self.kind == "numeric":
            v = np.asarray(values, dtype=float)
            v = v[~np.isnan(v)]
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), v, side="left")
            return np.bincount(idx, minlength=len(self.p)).astype(float)
        cats = {c: i for i, c in enumerate(self.categories or [])}
        other = len(self.p) - 1  # the shared bin, or the smallest category when there is none
        out = np.zeros(len(self.p))
        for val in values:
            if val is None or (isinstance(val, float) and math.isnan(val)):
                continue
            out[cats.get(str(val), other)] += 1
        return out

    def measures(self, c: np.ndarray, m0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Location z and shape D of windows' counts ``c`` (windows x bins), down-weighted above ``m0`` rows.

        Empty windows give NaN (they add no evidence); ``z`` is NaN for columns without a location.
        """
        c = np.atleast_2d(np.asarray(c, dtype=float))
        m = c.sum(axis=1)
        ok = m > 0
        ms = np.where(ok, m, 1.0)
        eff = np.minimum(ms, m0) / ms
        x = np.sum((c - ms[:, None] * self.p) ** 2 / (ms[:, None] * self.p), axis=1) * eff
        d = np.where(ok, shape_score(x, self.df), np.nan)
        if self.has_location:
            z = (c @ self.u / ms - 0.5) / np.sqrt(self.u_var / ms) * np.sqrt(eff)
            z = np.where(ok, z, np.nan)
        else:
            z = np.full(m.shape, np.nan)
        return z, d, m

    def statistic(self) -> float:
        return max(self.s_pos, self.s_neg, self.s_shape)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "n": self.n,
            "p": self.p.tolist(),
            "edges": self.edges,
            "categories": self.categories,
            "state": [self.s_pos, self.s_neg, self.s_shape],
            "last": self.last,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "_Column":
        col = cls(
            str(d["name"]),
            str(d["kind"]),
            int(d["n"]),
            np.asarray(d["p"], dtype=float),
            edges=None if d.get("edges") is None else [float(e) for e in d["edges"]],
            categories=None if d.get("categories") is None else [str(c) for c in d["categories"]],
        )
        col.s_pos, col.s_neg, col.s_shape = (float(s) for s in d["state"])
        col.last = dict(d.get("last") or {})
        return col


def shape_score(x: Any, df: int) -> Any:
    """Wilson-Hilferty normal score of a chi-squared value on ``df`` degrees of freedom (about N(0, 1) without drift)."""
    a = 2.0 / (9.0 * df)
    return (np.cbrt(np.asarray(x, dtype=float) / df) - (1.0 - a)) / math.sqrt(a)


# -- calibration ----------------------------------------------------------------
def simulate_maxima(
    df: int, ratio: float, *, location: bool, k: float, horizon: int, n_sim: int = N_SIM, seed: int = 0
) -> np.ndarray:
    """Largest CUSUM statistic over ``horizon`` windows of ``n_sim`` simulated stable streams of one column.

    A parametric bootstrap from the reference, in the normal limit of its
    multinomial counts. A window's bin counts, in the coordinates that whiten
    their covariance, are ``g_t ~ N(0, I_df)`` (each bin expects ``MIN_EXPECTED``
    rows or more). The reference proportions are themselves an estimate from
    ``n`` rows: each stream is compared with a reference off by ``sqrt(m / n) r``,
    ``r ~ N(0, I_df)``, the same offset in every window of the stream (``ratio = m / n``),
    which is what makes repeated comparisons with a finite reference drift upward.
    Then ``z = Y_1`` and Pearson's ``X = |Y|^2`` with ``Y = g_t - sqrt(ratio) r``.
    (Drawing the multinomial counts themselves gives the same thresholds within
    simulation noise, twenty times slower.)
    """
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((n_sim, df)) * math.sqrt(ratio)
    s_pos = np.zeros(n_sim)
    s_neg = np.zeros(n_sim)
    s_shape = np.zeros(n_sim)
    best = np.zeros(n_sim)
    # |Y|^2 splits into (g_1 - r_1)^2 and a noncentral chi-squared on df - 1 degrees of freedom
    # with noncentrality |r_2..|^2: two draws per stream and window instead of df
    rest = df - 1 if location else df
    offset = r[:, 0] if location else np.zeros(n_sim)
    nonc = np.einsum("ij,ij->i", r[:, df - rest :], r[:, df - rest :])
    for _ in range(horizon):
        y1 = rng.standard_normal(n_sim) - offset if location else 0.0
        x = rng.noncentral_chisquare(rest, np.maximum(nonc, 1e-12)) if rest > 0 else np.zeros(n_sim)
        d = shape_score(x + y1 * y1, df)
        np.maximum(s_shape + d - k, 0.0, out=s_shape)
        np.maximum(best, s_shape, out=best)
        if location:
            z = y1
            np.maximum(s_pos + z - k, 0.0, out=s_pos)
            np.maximum(s_neg - z - k, 0.0, out=s_neg)
            np.maximum(best, s_pos, out=best)
            np.maximum(best, s_neg, out=best)
    return best


def tail_model(maxima: np.ndarray) -> dict:
    """Empirical law of the simulated maxima, with an exponential upper tail (CUSUM maxima have one)."""
    q = np.sort(maxima)
    u0 = float(np.quantile(q, 1.0 - TAIL_FRACTION))
    excess = q[q > u0] - u0
    # the mean excess's upper 97.5% bound (relative standard error 1/sqrt(count)): simulation noise errs on the safe side
    mean_excess = float(excess.mean()) * (1.0 + 1.96 / math.sqrt(excess.size)) if excess.size else 1.0
    grid = np.quantile(q, np.linspace(0.0, 1.0 - TAIL_FRACTION, 96)).tolist()
    return {"u0": u0, "scale": max(mean_excess, 1e-9), "grid": grid}


def tail_prob(model: dict, h: float) -> float:
    """P(max > h) under the tail model."""
    if h >= model["u0"]:
        return TAIL_FRACTION * math.exp(-(h - model["u0"]) / model["scale"])
    grid = np.asarray(model["grid"])
    levels = np.linspace(0.0, 1.0 - TAIL_FRACTION, grid.size)
    return float(1.0 - np.interp(h, grid, levels))


@functools.lru_cache(maxsize=64)
def _cached_tail(df: int, ratio: float, location: bool, k: float, horizon: int, seed: int) -> dict:
    """Tail model of one calibration group (the same settings give the same simulation: computed once)."""
    return tail_model(simulate_maxima(df, ratio, location=location, k=k, horizon=horizon, seed=seed))


def family_threshold(models: list[dict], alpha: float) -> float:
    """Smallest threshold whose family-wise probability of any crossing is at most ``alpha`` (columns independent)."""

    def fwer(h: float) -> float:
        return 1.0 - math.prod(1.0 - tail_prob(mo, h) for mo in models)

    lo, hi = 0.0, max(mo["u0"] for mo in models) + 1.0
    while fwer(hi) > alpha:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if fwer(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


# -- the detector -----------------------------------------------------------------
class SequentialDrift:
    """Sequential drift alarm over all columns of a reference profile.

    Parameters
    ----------
    reference : Profile or dict
        The version's reference profile (:func:`jupyter_modelops.profile`), or its ``to_dict()``.
    alpha : float, default=0.05
        Largest probability of any false alarm, over all columns, within ``horizon`` checks of stable traffic.
    horizon : int, default=720
        Checks the guarantee spans (720 = 30 days of hourly checks). The expected number of checks
        before a false alarm is then about ``horizon / -log(1 - alpha)`` (14,000 for the defaults).
    shift : float, default=4.0
        The change to catch quickly, in standard errors of one window's measure; the CUSUM's
        allowance is ``shift / 2``. Smaller values catch smaller drifts, but later (the reference's own
        noise makes a small allowance costly); larger ones catch big drifts sooner.
    window_rows : int, optional
        Typical rows per check. Calibration assumes windows of at most this size; a larger window is
        down-weighted to it, so it never raises the false-alarm rate. Default: the first window's rows.
    columns : list of str, optional
        Columns to monitor (default: all columns of the profile).
    seed : int, default=0
        Seed of the calibration simulation.

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_modelops import profile, SequentialDrift
    >>> rng = np.random.default_rng(0)
    >>> alarm = SequentialDrift(profile(rng.normal(size=(5000, 3))), window_rows=500)
    >>> alarm.update(rng.normal(size=(500, 3))).alarm
    False
    """

    def __init__(
        self,
        reference: Any,
        *,
        alpha: float = 0.05,
        horizon: int = 720,
        shift: float = 4.0,
        window_rows: int | None = None,
        columns: list[str] | None = None,
        seed: int = 0,
    ) -> None:
        from ..drift_detection.profile import Profile

        if isinstance(reference, dict):
            reference = Profile.from_dict(reference)
        if not isinstance(reference, Profile):
            raise ValidationError(
                f"reference must be a Profile (from profile(...)) or its to_dict(); got {type(reference).__name__}.",
                hint="Compute one with mo.profile(reference_data).",
            )
        _check_float("alpha", alpha, 1e-6, 0.5)
        _check_int("horizon", horizon, 1, 1_000_000)
        _check_float("shift", shift, 0.05, 20.0)
        if window_rows is not None:
            _check_int("window_rows", window_rows, 1, 10**9)
        _check_int("seed", seed, 0, 2**32 - 1)
        names = list(reference.columns)
        if columns is not None:
            if not isinstance(columns, (list, tuple)) or not columns:
                raise ValidationError(f"columns must be a non-empty list of column names; got {columns!r}.")
            unknown = [c for c in columns if c not in reference.columns]
            if unknown:
                raise ValidationError(f"The profile has no column {unknown[0]!r}; it has {names[:10]}.")
            names = [str(c) for c in columns]
        self.profile = reference
        self.alpha, self.horizon, self.shift = float(alpha), int(horizon), float(shift)
        self.window_rows = None if window_rows is None else int(window_rows)
        self.seed = int(seed)
        self.names = names
        self.cols: list[_Column] = []
        self.threshold: float | None = None
        self.calibration: dict[str, Any] = {}
        self.windows = 0
        self.reset_at: float | None = None
        self.alarm_at_window: int | None = None
        if self.window_rows is not None:
            self._calibrate()

    # -- set-up ------------------------------------------------------------------
    @property
    def k(self) -> float:
        return self.shift / 2.0

    def _calibrate(self) -> None:
        t0 = time.perf_counter()
        m0 = int(self.window_rows or 1)
        cols = []
        for name in self.names:
            d = self.profile.columns[name]
            n = int(d.get("n") or 0)
            if n == 0:
                continue
            if d["kind"] == "numeric":
                edges, counts = _numeric_bins(list(d["edges"]), list(d["counts"]), n, m0)
                col = _Column(name, "numeric", n, counts, edges=edges)
            else:
                cats, counts = _categorical_bins(dict(d["counts"]), n, m0)
                col = _Column(name, "categorical", n, counts, categories=cats)
            if col.df >= 1:
                cols.append(col)
        if not cols:
            raise ValidationError(
                "No column of the profile can be monitored (each needs two or more bins).",
                hint="Profile data with more distinct values, or a smaller window_rows.",
            )
        groups: dict[tuple, dict] = {}
        models = []
        for col in cols:
            key = (col.df, round(m0 / col.n, 4), col.has_location)
            if key not in groups:
                groups[key] = _cached_tail(col.df, key[1], col.has_location, self.k, self.horizon, self.seed)
            models.append(groups[key])
        self.cols = cols
        self.threshold = family_threshold(models, self.alpha * SIMULATION_MARGIN)
        self.calibration = {
            "groups": len(groups),
            "simulated_streams_per_group": N_SIM,
            "seconds": round(time.perf_counter() - t0, 3),
            "window_rows": m0,
        }

    # -- use -----------------------------------------------------------------------
    def update(
        self, window: Any = None, *, counts: dict[str, Any] | None = None, at: float | None = None
    ) -> "AlarmStatus":
        """Add one window (a table of rows, or its bin counts) and return the alarm state.

        Parameters
        ----------
        window : numpy.ndarray or pandas.DataFrame, optional
            The window's rows, with the profile's columns.
        counts : dict, optional
            Instead of rows: column -> counts on this detector's bins (:meth:`window_counts`), which add up across
            partitions or servers.
        at : float, optional
            The window's end as a POSIX timestamp (default: now); gives ``seconds_since_reset``.
        """
        if (window is None) == (counts is None):
            raise ValidationError("Give either a window of rows or its bin counts (counts=...), not both or neither.")
        if counts is None:
            counts = self.window_counts(window)
        elif self.threshold is None:
            raise ValidationError(
                "Bin counts need the detector's bins, which are set by window_rows.",
                hint="Create it with window_rows=..., or pass the first window's rows.",
            )
        counts = self._check_counts(counts)
        now = time.time() if at is None else float(at)
        if self.reset_at is None:
            self.reset_at = now
        self.run({name: c[None, :] for name, c in counts.items()})
        return self.status(at=now)

    def run(self, counts: dict[str, Any]) -> dict[str, Any]:
        """Advance over many windows at once: column -> array (windows x bins) of counts on this detector's bins.

        Returns the largest statistic after each window (``statistic``, an array), the threshold, and
        ``first_alarm``: the index of the first window whose statistic reached the threshold (None when none did).
        Replaying stored windows (a backfill, or a simulation) this way is as exact as calling :meth:`update`
        per window, and much faster.
        """
        if self.threshold is None:
            raise ValidationError(
                "The detector is not calibrated yet (its bins depend on window_rows).",
                hint="Create it with window_rows=..., or pass the first window's rows to update().",
            )
        m0 = int(self.window_rows or 1)
        arrays = {}
        for col in self.cols:
            if col.name not in counts:
                continue
            c = np.asarray(counts[col.name], dtype=float)
            if c.ndim != 2 or c.shape[1] != len(col.p) or not np.isfinite(c).all() or (c < 0).any():
                raise ValidationError(
                    f"counts[{col.name!r}] must be windows x {len(col.p)} finite, non-negative "
                    f"counts; got shape {c.shape}.",
                    hint="Compute them with window_counts(rows).",
                )
            arrays[col.name] = c
        n_windows = {a.shape[0] for a in arrays.values()}
        if len(n_windows) > 1:
            raise ValidationError(f"Every column needs the same number of windows; got {sorted(n_windows)}.")
        t = n_windows.pop() if n_windows else 0
        n_cols = len(self.cols)
        zs = np.full((t, n_cols), np.nan)
        ds = np.full((t, n_cols), np.nan)
        for j, col in enumerate(self.cols):
            if col.name in arrays and t:
                z, d, m = col.measures(arrays[col.name], m0)
                zs[:, j], ds[:, j] = z, d
                col.last = {
                    "rows": int(m[-1]),
                    "z": None if z[-1] != z[-1] else float(z[-1]),
                    "shape": None if d[-1] != d[-1] else float(d[-1]),
                }
        # the CUSUMs of every column at once, window after window; NaN (no rows) leaves a CUSUM as it was
        sp = np.array([c.s_pos for c in self.cols])
        sn = np.array([c.s_neg for c in self.cols])
        ss = np.array([c.s_shape for c in self.cols])
        k = self.k
        best = np.zeros(t)
        with np.errstate(invalid="ignore"):
            for i in range(t):
                z, d = zs[i], ds[i]
                ss = np.where(d == d, np.maximum(ss + d - k, 0.0), ss)
                sp = np.where(z == z, np.maximum(sp + z - k, 0.0), sp)
                sn = np.where(z == z, np.maximum(sn - z - k, 0.0), sn)
                best[i] = max(float(sp.max(initial=0.0)), float(sn.max(initial=0.0)), float(ss.max(initial=0.0)))
        for j, col in enumerate(self.cols):
            col.s_pos, col.s_neg, col.s_shape = float(sp[j]), float(sn[j]), float(ss[j])
        hits = np.flatnonzero(best >= self.threshold)
        first = int(hits[0]) if hits.size else None
        if first is not None and self.alarm_at_window is None:
            self.alarm_at_window = self.windows + first + 1
        self.windows += t
        return {"statistic": best, "threshold": self.threshold, "first_alarm": first}

    def window_counts(self, window: Any) -> dict[str, list[float]]:
        """Counts of a window's rows on this detector's bins, per column (mergeable: add them)."""
        from ..drift_detection._columns import to_table

        tab = to_table(window, what="window")
        if self.threshold is None:
            # the bins depend on the window size: settle them on this first window
            self.window_rows = max(1, tab.n_rows)
            self._calibrate()
        missing = [c.name for c in self.cols if c.name not in tab.columns]
        if missing:
            raise ValidationError(
                f"The window has no column {missing[0]!r}; the reference profile has "
                f"{[c.name for c in self.cols][:10]}.",
                hint="Pass rows with the profile's columns.",
            )
        return {c.name: c.counts(tab.columns[c.name]).tolist() for c in self.cols}

    def _check_counts(self, counts: Any) -> dict[str, np.ndarray]:
        if not isinstance(counts, dict):
            raise ValidationError(f"counts must be a dict column -> list of bin counts; got {type(counts).__name__}.")
        out = {}
        for col in self.cols:
            if col.name not in counts:
                continue
            try:
                c = np.asarray(counts[col.name], dtype=float)
            except (TypeError, ValueError):
                raise ValidationError(f"counts[{col.name!r}] must be a list of numbers.") from None
            if c.shape != (len(col.p),) or not np.isfinite(c).all() or (c < 0).any():
                raise ValidationError(
                    f"counts[{col.name!r}] must be {len(col.p)} finite, non-negative counts; got shape {c.shape}.",
                    hint="Compute them with window_counts(rows).",
                )
            out[col.name] = c
        return out

    def reset(self, *, at: float | None = None) -> None:
        """Start again from zero evidence (after an alarm was handled, or a new reference)."""
        for col in self.cols:
            col.s_pos = col.s_neg = col.s_shape = 0.0
            col.last = {}
        self.windows = 0
        self.alarm_at_window = None
        self.reset_at = time.time() if at is None else float(at)

    def status(self, *, at: float | None = None) -> "AlarmStatus":
        """The current alarm state (no new data)."""
        now = time.time() if at is None else float(at)
        cols = {}
        for col in self.cols:
            cols[col.name] = {
                "statistic": col.statistic(),
                "alarm": bool(self.threshold is not None and col.statistic() >= self.threshold),
                "cusum_up": col.s_pos if col.has_location else None,
                "cusum_down": col.s_neg if col.has_location else None,
                "cusum_shape": col.s_shape,
                "bins": len(col.p),
                **col.last,
            }
        stat = max((c["statistic"] for c in cols.values()), default=0.0)
        return AlarmStatus(
            {
                "alarm": bool(self.threshold is not None and stat >= self.threshold),
                "statistic": stat,
                "threshold": self.threshold,
                "windows_since_reset": self.windows,
                "seconds_since_reset": None if self.reset_at is None else max(0.0, now - self.reset_at),
                "alarm_since_window": self.alarm_at_window,
                "alpha": self.alpha,
                "horizon": self.horizon,
                "shift": self.shift,
                "window_rows": self.window_rows,
                "expected_checks_to_false_alarm": self.horizon / -math.log1p(-self.alpha),
                "columns": cols,
                "calibration": self.calibration,
                "method": "CUSUM per column on binned location and chi-squared measures; threshold by simulation "
                "under no drift with the reference's own noise, family-wise over columns",
            }
        )

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The detector's settings, calibration and running state, as JSON-able data."""
        return to_jsonable(
            {
                "kind": "modelops-sequential-drift",
                "schema": SCHEMA,
                "alpha": self.alpha,
                "horizon": self.horizon,
                "shift": self.shift,
                "window_rows": self.window_rows,
                "seed": self.seed,
                "names": self.names,
                "threshold": self.threshold,
                "calibration": self.calibration,
                "windows": self.windows,
                "reset_at": self.reset_at,
                "alarm_at_window": self.alarm_at_window,
                "profile": self.profile.to_dict(),
                "columns": [c.to_dict() for c in self.cols],
            }
        )

    @classmethod
    def from_dict(cls, data: Any) -> "SequentialDrift":
        """Rebuild a detector from :meth:`to_dict` (checked: it may come from a file)."""
        if not isinstance(data, dict) or data.get("kind") != "modelops-sequential-drift":
            raise ValidationError("The data is not a sequential drift state (expected SequentialDrift.to_dict()).")
        if int(data.get("schema", 0)) > SCHEMA:
            raise ValidationError(
                f"The state has schema {data.get('schema')}; this version reads schema {SCHEMA}.",
                hint="Upgrade jupyter-modelops.",
            )
        try:
            det = cls(
                data["profile"],
                alpha=data["alpha"],
                horizon=data["horizon"],
                shift=data["shift"],
                window_rows=None,
                columns=data["names"],
                seed=data["seed"],
            )
            det.window_rows = None if data["window_rows"] is None else int(data["window_rows"])
            det.threshold = None if data["threshold"] is None else float(data["threshold"])
            if det.threshold is not None and not (math.isfinite(det.threshold) and det.threshold > 0):
                raise ValueError("threshold")
            det.calibration = dict(data.get("calibration") or {})
            det.windows = int(data["windows"])
            det.reset_at = None if data["reset_at"] is None else float(data["reset_at"])
            det.alarm_at_window = None if data["alarm_at_window"] is None else int(data["alarm_at_window"])
            det.cols = [_Column.from_dict(c) for c in data["columns"]]
            for col in det.cols:
                if (
                    col.name not in det.names
                    or not np.isfinite(col.p).all()
                    or (col.p <= 0).any()
                    or not all(math.isfinite(s) and s >= 0 for s in (col.s_pos, col.s_neg, col.s_shape))
                ):
                    raise ValueError(col.name)
                if col.kind == "numeric":
                    e = np.asarray(col.edges if col.edges is not None else [None], dtype=float)
                    if e.size + 1 != col.p.size or not np.isfinite(e).all() or (np.diff(e) <= 0).any():
                        raise ValueError(f"bins of {col.name}")
                elif col.kind != "categorical" or col.categories is None or len(col.categories) > col.p.size:
                    raise ValueError(f"bins of {col.name}")
        except ValidationError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"The sequential drift state is damaged or incomplete ({exc}).",
                hint="Start a new detector from the reference profile.",
            ) from None
        return det

    def save(self, path: str | Path) -> Path:
        """Write the state as JSON (so hourly checks in separate processes continue the same test)."""
        return _write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "SequentialDrift":
        """Read a state written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationError(f"The alarm state file '{path}' does not exist.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"The alarm state file '{path}' is not valid JSON ({exc}).") from None
        return cls.from_dict(data)


class AlarmStatus(Result):
    """The alarm state after a window: ``alarm``, ``statistic``, ``threshold``, time since the last reset, columns."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict:
        return to_jsonable(self.data)

    def _summary(self) -> str:
        d = self.data
        state = "ALARM" if d["alarm"] else "no alarm"
        return (
            f"SequentialDrift {state}: statistic {fmt(d['statistic'], 3)} / threshold {fmt(d['threshold'], 3)} "
            f"after {d['windows_since_reset']} windows"
        )

    def to_html(self) -> str:
        th = self.data["threshold"]
        rows = []
        for name, c in sorted(self.data["columns"].items(), key=lambda kv: -kv[1]["statistic"]):
            flag = '<span class="fail">alarm</span>' if c["alarm"] else ""
            rows.append(
                [
                    esc(name),
                    esc(fmt(c["statistic"], 3)),
                    esc(fmt(c.get("z"), 3)),
                    esc(fmt(c.get("shape"), 3)),
                    esc(fmt(c.get("rows"))),
                    flag,
                ]
            )
        body = table(rows, ["column", "statistic", "location z", "shape D", "rows", ""], raw_cols=range(6))
        sub = (
            f"threshold {fmt(th, 3)} for at most {fmt(self.data['alpha'], 3)} probability of a false alarm in "
            f"{self.data['horizon']} checks"
        )
        return page(self._summary(), body, subtitle=sub)


def _check_float(name: str, value: Any, lo: float, hi: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not (lo <= float(value) <= hi)
    ):
        raise ValidationError(f"{name} must be a number between {lo:g} and {hi:g}; got {value!r}.")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (lo <= int(value) <= hi):
        raise ValidationError(f"{name} must be an integer between {lo} and {hi}; got {value!r}.")


def alarm(
    ref: Any,
    data: Any,
    *,
    state: str | Path,
    reference: Any = None,
    alpha: float = 0.05,
    horizon: int = 720,
    shift: float = 4.0,
    window_rows: int | None = None,
    reset: bool = False,
    at: float | None = None,
) -> AlarmStatus:
    """One check of a recurring drift alarm: add a window to the stored test, save it, return the alarm state.

    Each scheduled run (an hourly report, a cron line) calls this with the new window; the sequential
    test continues across runs through the ``state`` file, so the false-alarm budget holds over them all.

    Parameters
    ----------
    ref : str or ModelVersion
        The model version watched; its stored reference profile starts the test (unless ``reference`` is given).
    data : pandas.DataFrame, numpy.ndarray or str
        The new window's rows, or a CSV/Parquet file of them.
    state : str or Path
        A ``.json`` file holding the test between checks (created on the first check).
    reference : Profile or dict, optional
        The reference profile, instead of the version's stored one (first check only).
    alpha, horizon, shift, window_rows
        As in :class:`SequentialDrift` (first check only; later checks keep the stored settings).
    reset : bool, default=False
        Start the test again from zero evidence before adding the window (after an alarm was handled).
    at : float, optional
        The window's end as a POSIX timestamp (default: now).

    Returns
    -------
    AlarmStatus
    """
    from ..io import read_table

    path = Path(state)
    if path.suffix.lower() != ".json":
        raise ValidationError(
            f"state must be a .json file; got '{state}'.", hint="For example state='churn-alarm.json'."
        )
    if isinstance(data, (str, Path)):
        data = read_table(str(data), what="window")
    name = str(getattr(ref, "ref", ref))
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"The alarm state file '{state}' is not valid JSON ({exc}).") from None
        if isinstance(stored, dict) and stored.get("model") not in (None, name):
            raise ValidationError(
                f"The alarm state '{state}' belongs to {stored.get('model')!r}, not {name!r}.",
                hint="Use one state file per model.",
            )
        det = SequentialDrift.from_dict(stored)
    else:
        if reference is None:
            from ..registry import get

            reference = get(ref).profile()
            if reference is None:
                raise ValidationError(
                    f"{name} has no stored reference profile.",
                    hint="Snapshot the model with data=X_train, or pass reference=mo.profile(X_ref).",
                )
        det = SequentialDrift(reference, alpha=alpha, horizon=horizon, shift=shift, window_rows=window_rows)
    if reset:
        det.reset(at=at)
    status = det.update(data, at=at)
    _write_json(path, {**det.to_dict(), "model": name})
    return status


def _write_json(path: Path, doc: dict) -> Path:
    """Write JSON atomically (a temporary file renamed over the old one): a reader never sees half a state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(path)
    return path
