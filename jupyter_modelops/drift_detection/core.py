"""``drift(reference, current)``: per-column distribution shift with effect sizes and tests."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Sequence

import numpy as np

from .. import _progress
from ..exceptions import ValidationError, suggest
from . import _stats
from ._columns import CATEGORICAL, NUMERIC, Table, align, to_table
from .profile import (
    Profile,
    _rebin,
    _stream_profile,
    _table_profile,
    category_counts,
    fine_histogram,
    knots,
    numeric_side,
    numeric_summary,
)
from .report import THRESHOLDS, DriftReport

METHODS = ("psi", "ks", "wasserstein", "js", "chi2")
#: quantile levels kept per column for the ECDF plots
PLOT_LEVELS = np.linspace(0.0, 1.0, 101)


def drift(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    methods: Iterable[str] = METHODS,
    model: Any = None,
    bins: int = 10,
    alpha: float = 0.05,
    drift_share: float = 0.5,
    thresholds: dict[str, float] | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> DriftReport:
    """Compare the distribution of every column of ``current`` with ``reference``.

    Parameters
    ----------
    reference : numpy.ndarray, pandas.DataFrame, torch.Tensor, Arrow-like input, Dask collection or Profile
        The reference data (training or validation set), or its :func:`profile` (a merged one too).
        Arrow-like inputs: a Parquet file or folder path, ``pyarrow.Table``, ``RecordBatchReader``,
        ``pyarrow.dataset.Dataset``, polars ``DataFrame`` or ``LazyFrame``. Up to 5e7 values
        (``MAX_IN_MEMORY_CELLS``) they are read into memory and compared exactly; larger ones, and
        Dask DataFrames or Series, are profiled in bounded memory (batch by batch, or partition by
        partition on the Dask workers) and compared profile against profile (see Notes).
    current : numpy.ndarray, pandas.DataFrame, torch.Tensor, Arrow-like input or Dask collection
        The data to compare (e.g. last week's production inputs), same columns. When it is too large
        to hold (or a Dask collection), it is profiled on the reference profile's edges.
    columns : sequence of str, optional
        Only compare these columns (default: all).
    methods : iterable of str, default=("psi", "ks", "wasserstein", "js", "chi2")
        ``psi`` population stability index on reference-quantile bins (numeric)
        or categories; ``ks`` two-sample Kolmogorov-Smirnov test (numeric);
        ``wasserstein`` Wasserstein-1 distance, also divided by the reference
        standard deviation ("normed"; numeric); ``js`` Jensen-Shannon distance
        (natural log) of the same bins or categories; ``chi2`` chi-squared test
        of homogeneity (categorical).
    model : object, optional
        When given, prediction drift is reported too (the model's scores or
        labels on both sides; with a :class:`Profile` reference, the profile
        must have been made with the model).
    bins : int, default=10
        Histogram bins for PSI and Jensen-Shannon (edges at reference quantiles).
    alpha : float, default=0.05
        Significance level of the KS and chi-squared tests, after
        Benjamini-Hochberg control of the false discovery rate across columns.
    drift_share : float, default=0.5
        The dataset drifts when at least this share of the columns drift.
    thresholds : dict, optional
        Override effect-size thresholds: ``psi`` (0.1; 0.25 is "major"),
        ``wasserstein_normed`` (0.1), ``js`` (0.1).
    n_jobs : int, optional
        Threads over columns (NumPy releases the GIL while sorting); default
        ``min(4, cpu count)``.
    progress : bool, optional
        Show a progress bar (default: only in notebooks and terminals).

    Returns
    -------
    DriftReport

    Notes
    -----
    A column drifts when its test is significant (BH-adjusted p < ``alpha``:
    KS for numeric columns, chi-squared for categorical ones) **and** at least
    one effect size reaches its threshold (PSI >= 0.1, normed Wasserstein >=
    0.1, Jensen-Shannon >= 0.1). The test alone flags trivial shifts on large
    samples; the effect size alone flags noise on small ones. When only test
    methods or only effect-size methods are requested, that part decides alone.

    With raw reference data every number is exact: KS statistic and p-value
    equal ``scipy.stats.ks_2samp`` (exact p-value up to 10,000 rows per side,
    asymptotic above, as scipy's ``method="auto"``; above an effective n of
    1e6 the limiting Kolmogorov distribution, within about 1e-3 relative), Wasserstein equals
    ``scipy.stats.wasserstein_distance``, Jensen-Shannon equals
    ``scipy.spatial.distance.jensenshannon`` on the bin counts, chi-squared
    equals ``scipy.stats.chi2_contingency``. With a :class:`Profile` (given,
    or made from a side too large to hold), PSI, Jensen-Shannon and
    chi-squared stay exact (the current is counted on the reference's bins),
    KS and Wasserstein are approximate.

    **KS from profiles never alarms because of the summary's own error.** Both
    sides are counted on the same fine edges (1000 bins at the quantiles of the
    reference's first batch), where both empirical CDFs are exact. The exact KS
    statistic ``D`` of the raw rows therefore lies in ``[ks, ks_upper]``: ``ks``
    is the largest CDF gap at the edges, ``ks_upper`` the largest gap the CDFs
    could reach inside a bin, and ``ks_upper - ks`` is at most the largest
    share of either side in one fine bin (about 0.001 to 0.003 when the first
    batch represents the data). The p-value is computed from the lower end
    ``ks``, so it is never smaller than the exact test's: two samples of the
    same distribution flag no more columns through profiles than through the
    raw rows, at any n, and a real shift loses at most that resolution in
    power.

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_modelops import drift
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(5000, 3))
    >>> cur = ref + [0.0, 0.0, 1.0]
    >>> drift(ref, cur).drifted
    ['x2']
    """
    methods = _check_methods(methods)
    _check_level("alpha", alpha)
    _check_level("drift_share", drift_share)
    th = dict(THRESHOLDS)
    if thresholds:
        unknown = [k for k in thresholds if k not in THRESHOLDS]
        if unknown:
            raise ValidationError(f"thresholds has unknown keys {unknown}; known keys: {', '.join(THRESHOLDS)}.")
        th.update({k: float(v) for k, v in thresholds.items()})
    from .profile import _check_bins

    _check_bins(bins)
    if columns is not None:
        columns = [columns] if isinstance(columns, str) else [str(c) for c in columns]
        if not columns:
            raise ValidationError("columns is empty; pass at least one column name, or None for all.")

    ref_mode, ref_obj = _open_side(reference, what="reference")
    if model is not None and ref_mode in ("stream", "dask"):
        raise _model_on_stream("reference")
    ref_prof: Profile | None = None
    if ref_mode == "profile":
        ref_prof = ref_obj
        bins = ref_prof.bins
    elif ref_mode == "dask":
        ref_prof = _dask_profile(ref_obj, bins=bins, like=None)
    elif ref_mode == "stream":
        ref_prof = _stream_profile(ref_obj, bins=bins, like=None)
    cur_mode, cur_obj = _open_side(current, what="current")
    if cur_mode == "profile":
        raise ValidationError(
            "The current data is a Profile; pass the current rows (a table, Parquet path, dataset or Dask "
            "DataFrame), which are profiled on the reference's edges when they are too large to hold."
        )
    cur_prof: Profile | None = None
    if cur_mode in ("dask", "stream"):
        if model is not None:
            raise _model_on_stream("current")
        like = ref_prof if ref_prof is not None else _table_profile(ref_obj, bins=bins, like=None)
        if cur_mode == "dask":
            cur_prof = _dask_profile(cur_obj, bins=bins, like=like)
        else:
            cur_prof = _stream_profile(cur_obj, bins=bins, like=like)
        ref_prof = like
    is_profile = ref_prof is not None
    ref_tab = ref_prof.as_table() if ref_prof is not None else ref_obj
    cur_tab = cur_prof.as_table() if cur_prof is not None else cur_obj
    names = align(ref_tab, cur_tab, columns=columns)

    jobs = min(4, os.cpu_count() or 1) if n_jobs is None else max(1, int(n_jobs))
    ctx = dict(methods=methods, bins=bins, th=th, profile=ref_prof)
    results: dict[str, dict] = {}
    pbar = _progress.bar(
        total=len(names),
        desc="drift",
        progress=progress if progress is not None else (None if ref_tab.n_rows * len(names) > 2_000_000 else False),
        unit="col",
    )
    try:

        def work(c: str) -> tuple[str, dict]:
            return c, _column(c, ref_tab, cur_tab, cur_profile=cur_prof, **ctx)

        if jobs > 1 and len(names) > 1:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for c, res in pool.map(work, names):
                    results[c] = res
                    pbar.update(1)
        else:
            for c in names:
                results[c] = work(c)[1]
                pbar.update(1)
    finally:
        pbar.close()
    cols = [results[c] for c in names]

    prediction = None
    if model is not None:
        prediction = _prediction_drift(model, reference, current, is_profile=isinstance(reference, Profile), ctx=ctx)

    # Benjamini-Hochberg across columns, per test
    for test in ("ks", "chi2"):
        if test not in methods:
            continue
        rows = [r for r in cols if r.get(f"{test}_p") is not None]
        adj = _stats.benjamini_hochberg([r[f"{test}_p"] for r in rows])
        for r, a in zip(rows, adj):
            r[f"{test}_p_adj"] = a
    if prediction is not None:
        for test in ("ks", "chi2"):
            if prediction.get(f"{test}_p") is not None:
                prediction[f"{test}_p_adj"] = prediction[f"{test}_p"]  # one test: nothing to adjust
    for r in cols + ([prediction] if prediction else []):
        _verdict(r, methods=methods, alpha=alpha, th=th)

    from ..integrations.mlflow import log_to_active_run  # opt-in: configure(mlflow=True) or MODELOPS_MLFLOW=1

    return log_to_active_run(
        DriftReport(
            cols,
            prediction=prediction,
            methods=methods,
            thresholds=th,
            alpha=alpha,
            drift_share_threshold=drift_share,
            n_reference=ref_tab.n_rows,
            n_current=cur_tab.n_rows,
            from_profile=is_profile,
            bins=bins,
        ),
        "drift",
    )


def _open_side(data: Any, *, what: str) -> tuple[str, Any]:
    """``("profile", Profile)``, ``("dask", collection)``, ``("stream", batches)`` for an Arrow-like input too
    large to hold (more than ``MAX_IN_MEMORY_CELLS`` values), or ``("table", Table)``."""
    from .._partitions import is_dask
    from ._columns import gather_or_stream, stream_kind

    if isinstance(data, Profile):
        return "profile", data
    if is_dask(data):
        return "dask", data
    kind = stream_kind(data)
    if kind is None:
        return "table", to_table(data, what=what)
    return gather_or_stream(data, kind, what=what)


def _dask_profile(data: Any, *, bins: int, like: Profile | None) -> Profile:
    from .profile import _dask_profile as run

    return run(data, bins=bins, like=like)


def _model_on_stream(what: str) -> ValidationError:
    return ValidationError(
        f"A model cannot be applied to the {what} when it is streamed or a Dask collection; compare the "
        f"model's predictions by passing them as a column, or pass an in-memory {what} with model=."
    )


def _check_methods(methods: Iterable[str]) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    out = []
    for m in methods:
        if m not in METHODS:
            raise ValidationError(
                f"Unknown drift method '{m}'.{suggest(str(m), METHODS)} Known methods: {', '.join(METHODS)}."
            )
        if m not in out:
            out.append(m)
    if not out:
        raise ValidationError(f"methods is empty; choose from {', '.join(METHODS)}.")
    return tuple(out)


def _check_level(name: str, value: Any) -> None:
    upper_ok = (lambda v: v <= 1) if name == "drift_share" else (lambda v: v < 1)
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not (0 < float(value) and upper_ok(float(value)))
    ):
        bounds = "(0, 1]" if name == "drift_share" else "(0, 1)"
        raise ValidationError(f"{name} must be a number in {bounds}; got {value!r}.")


def _numeric(
    c: str,
    ref_v: np.ndarray | None,
    ref_sum: dict | None,
    cur_values: np.ndarray | None,
    *,
    methods: tuple,
    bins: int,
    cur_sum: dict | None = None,
) -> dict:
    """One numeric column: raw reference (ref_v sorted) or a profile summary (ref_sum); raw current
    values or the current's profile summary (cur_sum, made on the reference's edges)."""
    if cur_sum is None:
        assert cur_values is not None
        cur_v, cur_miss = numeric_side(cur_values)
        n_cur_total = cur_values.size
    else:
        cur_v, cur_miss = None, int(cur_sum["n_missing"])
        n_cur_total = int(cur_sum["n"]) + cur_miss
    if ref_sum is None:
        ref_sum = numeric_summary(ref_v, 0, bins=bins)
    n1 = int(ref_sum["n"])
    n2 = int(cur_v.size) if cur_v is not None else int(cur_sum["n"])  # type: ignore[index]
    r: dict[str, Any] = {
        "column": c,
        "kind": NUMERIC,
        "n_reference": n1,
        "n_current": n2,
        "missing_current": cur_miss / max(n_cur_total, 1),
        "notes": [],
    }
    if n1 == 0 or n2 == 0:
        side = "reference" if n1 == 0 else "current"
        r["notes"].append(f"all values are missing in the {side}; nothing to compare")
        r["status"] = "empty"
        return r
    std = float(ref_sum["std"])
    if std == 0:
        r["notes"].append(f"constant in the reference (every value is {ref_sum['min']:g})")
    edges = np.asarray(ref_sum["edges"], dtype=np.float64)
    if ref_v is None and cur_v is not None:
        # a profile reference: summarize the current on the reference's edges, then compare summaries
        cur_sum = numeric_summary(cur_v, cur_miss, bins=bins, edges=edges, fine_edges=fine_histogram(ref_sum)[0])
    rc = np.asarray(ref_sum["counts"], dtype=np.int64)
    if cur_sum is None:
        assert cur_v is not None
        cc = _stats.bin_counts(cur_v, edges)
    elif list(cur_sum["edges"]) == list(ref_sum["edges"]):
        cc = np.asarray(cur_sum["counts"], dtype=np.int64)
    else:
        cc = _rebin(cur_sum, edges)
        r["notes"].append("the current's profile has other bin edges: its counts were re-binned (approximate)")
    if "psi" in methods:
        r["psi"] = _stats.psi(rc, cc)
    if "js" in methods:
        r["js"] = _stats.jensen_shannon(rc, cc)
    if "ks" in methods or "wasserstein" in methods:
        if ref_v is not None and cur_v is not None:
            d, loc, w = _stats.merged_cdf_stats(ref_v, cur_v)
            p = _stats.ks_pvalue(d, n1, n2, ref_v, cur_v)
        else:
            assert cur_sum is not None
            d, d_hi, loc, exact, w = _summary_cdf_stats(ref_sum, cur_sum)
            p = _stats.ks_pvalue(d, n1, n2)
            r["ks_upper"] = d_hi
            if d_hi - d > 0.02:
                r["notes"].append(
                    f"the KS bracket is wide ({d_hi - d:.3f}): the reference's first batch does not cover these "
                    "values, so the test has less power here (no more false alarms)"
                )
            r["notes"].append(
                "KS and Wasserstein approximated from the profile's fine histogram: the exact KS statistic "
                f"lies in [{d:.4g}, {d_hi:.4g}] and the p-value uses the lower end, so the summary's own "
                "resolution cannot raise an alarm"
                + ("" if exact else " (bounds approximate: a profile made on other edges or by an older version)")
            )
        if "ks" in methods:
            r["ks"] = d
            r["ks_location"] = loc
            r["ks_p"] = p
        if "wasserstein" in methods:
            r["wasserstein"] = w
            r["wasserstein_normed"] = (w / std) if std > 0 else (0.0 if w == 0 else None)
    r["mean_reference"] = ref_sum["mean"]
    r["mean_current"] = float(cur_v.mean()) if cur_v is not None else cur_sum["mean"]  # type: ignore[index]
    cur_plot = (
        _stats.quantile_grid(cur_v, PLOT_LEVELS)
        if cur_v is not None
        else np.interp(PLOT_LEVELS, np.linspace(0, 1, int(cur_sum["levels"])), np.asarray(cur_sum["quantiles"]))  # type: ignore[index]
    )
    r["plot"] = {
        "reference": np.interp(
            PLOT_LEVELS, np.linspace(0, 1, int(ref_sum["levels"])), np.asarray(ref_sum["quantiles"])
        ).tolist(),
        "current": cur_plot.tolist(),
    }
    return r


def _summary_cdf_stats(ref_sum: dict, cur_sum: dict) -> tuple[float, float, float, bool, float]:
    """KS bounds (lower, upper), KS location, whether the bounds are exact, and Wasserstein-1 of two summaries."""
    fe, fr, exact_r = fine_histogram(ref_sum)
    fe_c, fc, exact_c = fine_histogram(cur_sum)
    exact = exact_r and exact_c
    if not np.array_equal(fe, fe_c):
        fc, exact = _rebin(cur_sum, fe), False
    d, d_hi, at = _stats.hist_ks(fe, fr, fc)
    loc = float(fe[at]) if at >= 0 else float(ref_sum["min"])
    w = _stats.cdf_l1(*knots(ref_sum), *knots(cur_sum))
    return d, d_hi, loc, exact, w


def _categorical(
    c: str,
    ref_counts: dict[str, int],
    cur_values: np.ndarray | None,
    *,
    methods: tuple,
    cur_summary: dict | None = None,
) -> dict:
    if cur_summary is None:
        assert cur_values is not None
        cur_counts, cur_miss = category_counts(cur_values)
        n_cur_total = cur_values.size
    else:
        cur_counts, cur_miss = dict(cur_summary["counts"]), int(cur_summary["n_missing"])
        n_cur_total = int(cur_summary["n"]) + cur_miss
    cats = list(ref_counts) + [k for k in cur_counts if k not in ref_counts]
    rc = np.array([ref_counts.get(k, 0) for k in cats], dtype=np.int64)
    cc = np.array([cur_counts.get(k, 0) for k in cats], dtype=np.int64)
    n1, n2 = int(rc.sum()), int(cc.sum())
    r: dict[str, Any] = {
        "column": c,
        "kind": CATEGORICAL,
        "n_reference": n1,
        "n_current": n2,
        "missing_current": cur_miss / max(n_cur_total, 1),
        "notes": [],
    }
    new = [k for k in cur_counts if k not in ref_counts]
    if new:
        r["new_categories"] = new[:20]
        r["notes"].append(f"{len(new)} categories not seen in the reference")
    if n1 == 0 or n2 == 0:
        side = "reference" if n1 == 0 else "current"
        r["notes"].append(f"all values are missing in the {side}; nothing to compare")
        r["status"] = "empty"
        return r
    if len(ref_counts) == 1:
        r["notes"].append(f"constant in the reference (every value is {next(iter(ref_counts))!r})")
    if "psi" in methods:
        r["psi"] = _stats.psi(rc, cc)
    if "js" in methods:
        r["js"] = _stats.jensen_shannon(rc, cc)
    if "chi2" in methods:
        r["chi2"], r["chi2_p"] = _stats.chi2_counts(rc, cc)
    order = np.argsort(-(rc / n1 + cc / n2))[:12]
    r["plot"] = {
        "categories": [cats[i] for i in order],
        "reference": (rc[order] / n1).tolist(),
        "current": (cc[order] / n2).tolist(),
    }
    return r


def _column(
    c: str,
    ref: Table,
    cur: Table,
    *,
    methods: tuple,
    bins: int,
    th: dict,
    profile: Profile | None,
    cur_profile: Profile | None = None,
) -> dict:
    kind = ref.kinds[c]
    cur_sum = cur_profile.columns[c] if cur_profile is not None else None
    cur_values = None if cur_profile is not None else cur.columns[c]
    if kind == NUMERIC:
        if profile is not None:
            r = _numeric(c, None, profile.columns[c], cur_values, methods=methods, bins=bins, cur_sum=cur_sum)
            r["missing_reference"] = profile.columns[c]["n_missing"] / max(profile.n_rows, 1)
            if profile.columns[c].get("approx_bins"):
                r["notes"].append(
                    "the merged profile re-binned parts made on other edges: PSI and Jensen-Shannon "
                    "are approximate (make parts with profile(part, like=first))"
                )
        else:
            ref_v, ref_miss = numeric_side(ref.columns[c])
            r = _numeric(c, ref_v, None, cur_values, methods=methods, bins=bins)
            r["missing_reference"] = ref_miss / max(ref.n_rows, 1)
        return r
    if profile is not None:
        counts = profile.columns[c]["counts"]
        r = _categorical(c, counts, cur_values, methods=methods, cur_summary=cur_sum)
        r["missing_reference"] = profile.columns[c]["n_missing"] / max(profile.n_rows, 1)
    else:
        counts, miss = category_counts(ref.columns[c])
        r = _categorical(c, counts, cur_values, methods=methods)
        r["missing_reference"] = miss / max(ref.n_rows, 1)
    return r


def _prediction_drift(model: Any, reference: Any, current: Any, *, is_profile: bool, ctx: dict) -> dict:
    from ._predcol import prediction_column

    cur_vals, cur_kind = prediction_column(model, current, what="current")
    methods, bins = ctx["methods"], ctx["bins"]
    if is_profile:
        summ = reference.prediction
        if summ is None:
            raise ValidationError(
                "A model was given but the reference profile holds no predictions.",
                hint="Make the profile with profile(reference, model=model), or pass the raw reference.",
            )
        if summ["kind"] == NUMERIC:
            r = _numeric("prediction", None, summ, cur_vals, methods=methods, bins=bins)
        else:
            r = _categorical("prediction", summ["counts"], cur_vals, methods=methods)
    else:
        ref_vals, _ = prediction_column(model, reference, what="reference")
        if cur_kind == NUMERIC:
            ref_v, _ = numeric_side(ref_vals)
            r = _numeric("prediction", ref_v, None, cur_vals, methods=methods, bins=bins)
        else:
            counts, _ = category_counts(ref_vals)
            r = _categorical("prediction", counts, cur_vals, methods=methods)
    return r


def _verdict(r: dict, *, methods: tuple, alpha: float, th: dict) -> None:
    if r.get("status") == "empty":
        r["drift"] = None
        r["reasons"] = []
        r["score"] = 0.0
        return
    reasons: list[str] = []
    effect_methods = [m for m in ("psi", "wasserstein", "js") if m in methods]
    test = "ks" if r["kind"] == NUMERIC else "chi2"
    if r["kind"] == CATEGORICAL:
        effect_methods = [m for m in effect_methods if m != "wasserstein"]
    effect = None
    if effect_methods:
        effect = False
        if r.get("psi") is not None and r["psi"] >= th["psi"]:
            effect = True
            reasons.append(f"PSI {r['psi']:.3f} >= {th['psi']:g}" + (" (major)" if r["psi"] >= th["psi_major"] else ""))
        wn = r.get("wasserstein_normed")
        if (
            "wasserstein" in methods
            and r["kind"] == NUMERIC
            and (wn is None and r.get("wasserstein", 0) > 0 or wn is not None and wn >= th["wasserstein_normed"])
        ):
            effect = True
            reasons.append(
                "normed Wasserstein "
                + ("(constant reference)" if wn is None else f"{wn:.3f}")
                + f" >= {th['wasserstein_normed']:g}"
            )
        if r.get("js") is not None and math.isfinite(r["js"]) and r["js"] >= th["js"]:
            effect = True
            reasons.append(f"Jensen-Shannon {r['js']:.3f} >= {th['js']:g}")
    significant = None
    if test in methods and r.get(f"{test}_p_adj") is not None:
        significant = r[f"{test}_p_adj"] < alpha
        if significant:
            reasons.append(f"{'KS' if test == 'ks' else 'chi2'} p_adj {r[f'{test}_p_adj']:.2g} < {alpha:g}")
    if effect is None and significant is None:
        drifted = False
    else:
        drifted = (effect is not False) and (significant is not False)
    r["drift"] = bool(drifted)
    r["reasons"] = reasons if drifted else []
    # a ranking score: the largest effect size relative to its threshold
    rel = []
    if r.get("psi") is not None:
        rel.append(r["psi"] / th["psi"])
    if r.get("wasserstein_normed") is not None:
        rel.append(r["wasserstein_normed"] / th["wasserstein_normed"])
    if r.get("js") is not None and math.isfinite(r["js"]):
        rel.append(r["js"] / th["js"])
    if not rel and r.get("ks") is not None:
        rel.append(r["ks"] * 10)
    r["score"] = float(max(rel)) if rel else 0.0
