"""A compact, storable reference profile: compare later without the raw data."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._html import Result, esc, fmt, page, table, to_jsonable
from ..exceptions import ValidationError
from . import _stats
from ._columns import CATEGORICAL, NUMERIC, Table, iter_batches, stream_kind, to_table

SCHEMA = 1  # schema-1 readers ignore the fields added since (m2, approx_bins, fine_edges, fine_counts)
#: number of evenly spaced quantile levels stored per numeric column
QUANTILE_LEVELS = 1001
#: bins of the fine histogram kept per numeric column (edges at the first part's quantiles), which merges exactly
FINE_BINS = 1000
#: distinct categories kept per categorical column; the rarest beyond it are summed into :data:`OTHER`
MAX_CATEGORIES = 10_000
#: the bucket that collects categories beyond :data:`MAX_CATEGORIES`
OTHER = "__other__"


def numeric_side(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Sorted finite values and the number of missing (NaN) ones.

    One sort, no extra pass: NumPy sorts NaN to the end, where a binary search finds them.
    """
    v = np.sort(values)
    n_missing = 0
    if v.size and np.isnan(v[-1]):
        first_nan = int(np.searchsorted(v, np.nan, side="left"))
        n_missing = v.size - first_nan
        v = v[:first_nan]
    if v.size and (np.isinf(v[0]) or np.isinf(v[-1])):
        v = v[np.isfinite(v)]
    return v, n_missing


def category_counts(values: np.ndarray) -> tuple[dict[str, int], int]:
    """Counts per category (keys as strings) and the number of missing values."""
    import pandas as pd

    s = pd.Series(values, dtype=object)
    miss = s.isna()
    n_missing = int(miss.sum())
    vc = s[~miss].map(str).value_counts(sort=False)
    return {str(k): int(v) for k, v in vc.items()}, n_missing


def numeric_summary(
    sorted_v: np.ndarray, n_missing: int, *, bins: int, edges: Any = None, fine_edges: Any = None
) -> dict:
    """Summary of one numeric column from its sorted values (what a profile stores).

    ``edges`` (inner bin edges) and ``fine_edges`` (inner edges of the fine histogram) are taken as
    given when passed, else read off the values' quantiles (``bins`` and :data:`FINE_BINS` of them).
    """
    n = int(sorted_v.size)
    out: dict[str, Any] = {"kind": NUMERIC, "n": n, "n_missing": n_missing}
    if n == 0:
        out.update(
            min=None,
            max=None,
            mean=None,
            std=None,
            m2=0.0,
            levels=QUANTILE_LEVELS,
            quantiles=[],
            edges=[] if edges is None else list(edges),
            counts=[] if edges is None else [0] * (len(edges) + 1),
            fine_edges=[] if fine_edges is None else list(fine_edges),
            fine_counts=[] if fine_edges is None else [0] * (len(fine_edges) + 1),
        )
        return out
    edges = _stats.quantile_edges(sorted_v, bins) if edges is None else np.asarray(edges, dtype=np.float64)
    mean = float(sorted_v.mean())
    m2 = float(np.dot(sorted_v - mean, sorted_v - mean))
    k = min(QUANTILE_LEVELS, max(n, 2))  # small columns need no more levels than values
    levels = np.linspace(0.0, 1.0, k)
    if fine_edges is None:
        fine = np.unique(_stats.quantile_grid(sorted_v, np.linspace(0.0, 1.0, min(FINE_BINS, 4 * n) + 1)[1:-1]))
    else:
        fine = np.asarray(fine_edges, dtype=np.float64)
    out.update(
        min=float(sorted_v[0]),
        max=float(sorted_v[-1]),
        mean=mean,
        std=math.sqrt(m2 / n),
        m2=m2,
        levels=k,
        quantiles=_stats.quantile_grid(sorted_v, levels).tolist(),
        edges=edges.tolist(),
        counts=_stats.bin_counts(sorted_v, edges).tolist(),
        fine_edges=fine.tolist(),
        fine_counts=_stats.bin_counts(sorted_v, fine).tolist(),
    )
    return out


class Profile(Result):
    """Reference statistics per column, small enough to store beside a model.

    Numeric columns keep the count, missing count, min, max, mean, standard
    deviation, 1001 quantiles (fewer for columns with fewer values), a histogram on decile edges
    and a fine histogram of 1000 bins (:data:`FINE_BINS`) on the quantiles of the first part
    profiled; categorical columns keep their category counts. :func:`drift` accepts a profile in
    place of the raw reference: PSI, Jensen-Shannon and chi-squared are then exact (same bins and
    counts); the KS statistic and the Wasserstein distance come from the fine histograms, whose
    CDF is exact at every fine edge and within one bin's mass (:meth:`resolution`, about 0.001)
    in between.

    Profiles merge (:meth:`merge`): counts, moments and both histograms exactly when the parts
    share their edges (``profile(part, like=first)``, as streamed and Dask inputs do), so a profile
    built from 100 or 10,000 parts has the same resolution as one built from 2.

    Attributes
    ----------
    columns : dict
        Column name -> summary dict.
    n_rows : int
        Rows in the reference.
    prediction : dict or None
        Summary of the model's predictions on the reference, when a model was given.
    """

    def __init__(
        self, columns: dict[str, dict], n_rows: int, *, bins: int = 10, prediction: dict | None = None
    ) -> None:
        self.columns = columns
        self.n_rows = int(n_rows)
        self.bins = int(bins)
        self.prediction = prediction

    # -- storage -------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "schema": SCHEMA,
                "kind": "modelops-profile",
                "n_rows": self.n_rows,
                "bins": self.bins,
                "columns": self.columns,
                "prediction": self.prediction,
            }
        )

    @classmethod
    def from_dict(cls, data: dict) -> "Profile":
        """Rebuild a profile from :meth:`to_dict` output."""
        if not isinstance(data, dict) or data.get("kind") != "modelops-profile" or "columns" not in data:
            raise ValidationError("The data is not a reference profile (expected the output of Profile.to_dict()).")
        if int(data.get("schema", 0)) > SCHEMA:
            raise ValidationError(
                f"The profile has schema {data.get('schema')}; this version reads schema {SCHEMA}.",
                hint="Upgrade jupyter-modelops.",
            )
        columns = data["columns"]
        if not isinstance(columns, dict):
            raise ValidationError("The profile's columns are not a mapping of name to summary; the file is damaged.")
        for name, col in list(columns.items()) + [("prediction", data.get("prediction") or {"kind": "none"})]:
            _check_summary(name, col)
        return cls(
            dict(columns), int(data["n_rows"]), bins=int(data.get("bins", 10)), prediction=data.get("prediction")
        )

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> "Profile":
        """Read a profile written by :meth:`save`."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationError(f"The profile file '{path}' does not exist.") from None
        except json.JSONDecodeError as exc:
            raise ValidationError(f"The profile file '{path}' is not valid JSON: {exc}.") from exc
        return cls.from_dict(data)

    # -- merging -------------------------------------------------------------
    def merge(self, other: "Profile") -> "Profile":
        """The profile of the union of both profiles' rows (e.g. daily profiles into a weekly reference).

        Counts, missing counts, min, max and moments (count, mean and M2 by Chan's parallel formula)
        merge exactly; category counts add (beyond :data:`MAX_CATEGORIES` the rarest go to
        :data:`OTHER`). Histograms add exactly when both profiles share their bin edges (make the parts
        with ``profile(part, like=first)``, as :func:`profile` does for streamed input); otherwise the
        other profile's counts are re-binned on this profile's edges through its CDF (approximate,
        and noted in ``approx_bins``). Values outside the edges land in the open outer bins
        ``(-inf, e1]`` and ``(ek, inf)``. The fine histograms add the same way (``approx_fine``
        when re-binned). The merged quantiles follow the mixture of both parts' CDFs, pinned to the
        exact CDF at every fine edge: within :meth:`resolution` of the exact ones in probability
        (the largest share of values in one fine bin, about ``1 / FINE_BINS`` when the parts
        resemble the first), however many merges came before. Counts, moments and histograms do
        not depend on the order or grouping of the merges; quantiles only within that bound.

        Parameters
        ----------
        other : Profile
            A profile with the same columns and column kinds.

        Returns
        -------
        Profile
            A new profile; neither input changes.
        """
        if not isinstance(other, Profile):
            raise ValidationError(f"Only profiles merge with a profile; got {type(other).__name__}.")
        return _merged([self, other])

    def resolution(self, column: str) -> float:
        """The largest share of a numeric column's values in one bin of its fine histogram.

        The profile's CDF is exact at every fine edge, so its quantiles are within this of the exact
        ones in probability (rank / n), however many parts were merged; drift()'s KS bracket from
        two profiles is at most this wide per side. About 0.001 to 0.003 when the first part profiled
        represents the data; larger when later parts fall beyond its range.
        """
        col = self.columns.get(column)
        if col is None or col["kind"] != NUMERIC:
            raise ValidationError(
                f"resolution() takes a numeric column of the profile; '{column}' is "
                + ("not in it." if col is None else "categorical (its counts are exact).")
            )
        return resolution(col)

    # -- as a table for drift() ----------------------------------------------
    def as_table(self) -> Table:
        kinds = {c: d["kind"] for c, d in self.columns.items()}
        return Table(
            list(self.columns),
            {c: np.empty(0) for c in self.columns},
            kinds,
            self.n_rows,
            source="profile",
            extra={"profile": True},
        )

    # -- display -------------------------------------------------------------
    def _summary(self) -> str:
        num = sum(1 for d in self.columns.values() if d["kind"] == NUMERIC)
        return f"Profile {self.n_rows:,} rows, {num} numeric and {len(self.columns) - num} categorical columns"

    def to_html(self) -> str:
        rows = []
        for c, d in self.columns.items():
            if d["kind"] == NUMERIC:
                rows.append([c, d["kind"], d["n"], d["n_missing"], d["mean"], d["std"], d["min"], d["max"]])
            else:
                rows.append([c, d["kind"], d["n"], d["n_missing"], f"{len(d['counts'])} categories", None, None, None])
        body = table(rows, ["column", "kind", "n", "missing", "mean", "std", "min", "max"])
        return page(self._summary(), body, subtitle=f"{esc(fmt(len(self.to_json())))} bytes as JSON")


def profile(
    reference: Any, *, model: Any = None, bins: int = 10, like: Profile | None = None, batch_rows: int | None = None
) -> Profile:
    """Compute a compact reference profile for later drift checks.

    Parameters
    ----------
    reference : numpy.ndarray, pandas.DataFrame, torch.Tensor, or an Arrow-like input
        The reference data (usually the training or validation set). A Parquet file or folder
        path, ``pyarrow.Table``, ``RecordBatchReader``, ``pyarrow.dataset.Dataset``, polars
        ``DataFrame`` or ``LazyFrame`` is streamed in batches with bounded memory: each batch
        is profiled on the bin edges of the first one and the batch profiles are merged.
        A Dask DataFrame or Series is profiled partition by partition on the workers (edges from
        the first partition, or from ``like``), and the partition profiles are merged on the client:
        the result equals the streamed profile of the same parts.
    model : object, optional
        When given, the profile also summarizes the model's predictions on the
        reference, so that :func:`drift` can report prediction drift later.
    bins : int, default=10
        Histogram bins (reference quantiles) used by PSI and Jensen-Shannon.
    like : Profile, optional
        Use this profile's bin edges, so that the new profile merges with it exactly
        (e.g. every day's profile made ``like`` the first day's).
    batch_rows : int, optional
        Rows per batch for streamed inputs (default 1,000,000).

    Returns
    -------
    Profile
        ``to_dict()``/``Profile.from_dict()`` round-trip it through JSON.

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_modelops import profile, drift
    >>> rng = np.random.default_rng(0)
    >>> prof = profile(rng.normal(size=(1000, 2)))
    >>> drift(prof, rng.normal(size=(1000, 2))).dataset_drift
    False
    """
    _check_bins(bins)
    if like is not None and not isinstance(like, Profile):
        raise ValidationError(f"like must be a Profile; got {type(like).__name__}.")
    from .._partitions import is_dask

    if is_dask(reference):
        if model is not None:
            raise ValidationError(
                "A model cannot be profiled over a Dask collection; pass an in-memory table "
                "(or a sample of it) with model=."
            )
        return _dask_profile(reference, bins=bins, like=like)
    if stream_kind(reference) is not None:
        if model is not None:
            raise ValidationError(
                "A model cannot be profiled over a streamed input; pass an in-memory table "
                "(or a sample of it) with model=."
            )
        from ._columns import BATCH_ROWS

        rows = BATCH_ROWS if batch_rows is None else int(batch_rows)
        if rows < 1:
            raise ValidationError(f"batch_rows must be a positive integer; got {batch_rows!r}.")
        return _stream_profile(iter_batches(reference, what="reference", batch_rows=rows), bins=bins, like=like)
    tab = to_table(reference, what="reference")
    prof = _table_profile(tab, bins=bins, like=like)
    pred = None
    if model is not None:
        from ._predcol import prediction_column

        values, kind = prediction_column(model, reference, what="reference")
        pred = _column_summary(values, kind, bins=bins)
    prof.prediction = pred
    return prof


def _stream_profile(tables: Any, *, bins: int, like: Profile | None) -> Profile:
    """Profile an iterable of :class:`Table` batches on shared edges (``like``'s, else the first batch's)."""
    out: Profile | None = None
    for tab in tables:
        part = _table_profile(tab, bins=bins, like=like if out is None else out)
        out = part if out is None else out.merge(part)
    if out is None:
        raise ValidationError("The reference is empty (no rows); expected at least one row.")
    return out


def _partition_profile(part: Any, *, bins: int, like: Profile) -> Profile | None:
    """The profile of one Dask partition (a pandas DataFrame) on ``like``'s edges; None when it has no rows."""
    if len(part) == 0:
        return None
    return _table_profile(to_table(part, what="partition"), bins=bins, like=like)


def _merge_parts(a: Profile | None, b: Profile | None) -> Profile | None:
    if a is None:
        return b
    return a if b is None else a.merge(b)


def _dask_profile(data: Any, *, bins: int, like: Profile | None) -> Profile:
    """Per-partition profiles computed on the workers on shared edges, merged on the client in partition order.

    Merged pairwise, as the batches of a streamed profile are, so both give the same quantiles.
    """
    from functools import partial

    from .._partitions import first_partition, reduce_partitions

    if type(data).__name__ == "Series":
        data = data.to_frame(name=str(data.name) if data.name is not None else "x0")
    if like is None:
        first = first_partition(data)
        if len(first) == 0:
            raise ValidationError(
                "The Dask collection's first partition is empty; repartition it (ddf.repartition) or pass like=."
            )
        like = _table_profile(to_table(first, what="reference"), bins=bins, like=None)
    out = reduce_partitions(data, partial(_partition_profile, bins=bins, like=like), merge=_merge_parts)
    if out is None:
        raise ValidationError("The Dask collection is empty (no rows); expected at least one row.")
    assert isinstance(out, Profile)
    return out


def merge_profiles(profiles: Any) -> Profile:
    """Merge profiles of parts (batches, partitions, days) into the profile of the whole.

    All parts merge in one pass: counts, moments and histograms equal those of merging them one
    by one with :meth:`Profile.merge` (in any order), and every part's quantiles are read once,
    so merging k parts costs about one pairwise merge plus k histogram sums. The quantiles come
    from the mixture of all parts' CDFs pinned to the summed fine histogram: within
    :meth:`Profile.resolution` of the whole data's, as a pairwise fold's are (the two may differ
    from each other within that bound).

    Parameters
    ----------
    profiles : iterable of Profile
        At least one profile, all with the same columns and kinds; see :meth:`Profile.merge`.

    Returns
    -------
    Profile

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_modelops import profile, merge_profiles
    >>> days = [np.random.default_rng(d).normal(size=(100, 2)) for d in range(7)]
    >>> first = profile(days[0])
    >>> merge_profiles([first] + [profile(d, like=first) for d in days[1:]]).n_rows
    700
    """
    items = list(profiles) if not isinstance(profiles, Profile) else [profiles]
    if not items:
        raise ValidationError("merge_profiles got no profiles; pass a list of at least one Profile.")
    for i, p in enumerate(items):
        if not isinstance(p, Profile):
            raise ValidationError(f"Only profiles merge; got {type(p).__name__} at position {i}.")
    return items[0] if len(items) == 1 else _merged(items)


def _merged(profiles: list[Profile]) -> Profile:
    """The profile of the union of ``profiles``' rows, merged in one pass (see :meth:`Profile.merge`)."""
    first = profiles[0]
    a_cols = list(first.columns)
    for i, other in enumerate(profiles[1:], start=2):
        b_cols = list(other.columns)
        which = "the second" if i == 2 else f"profile {i}"
        if set(a_cols) != set(b_cols):
            only_a = [c for c in a_cols if c not in other.columns][:10]
            only_b = [c for c in b_cols if c not in first.columns][:10]
            raise ValidationError(
                f"The profiles have different columns (only in the first: {only_a}, only in "
                f"{which}: {only_b}); merge profiles of tables with the same columns."
            )
        for c in a_cols:
            if first.columns[c]["kind"] != other.columns[c]["kind"]:
                raise ValidationError(
                    f"Column '{c}' is {first.columns[c]['kind']} in one profile and "
                    f"{other.columns[c]['kind']} in the other; cast it to one type before profiling."
                )
    cols = {c: _merge_columns([p.columns[c] for p in profiles]) for c in a_cols}
    pred = None
    preds = [p.prediction for p in profiles]
    if all(d is not None for d in preds):
        if len({d["kind"] for d in preds}) > 1:  # type: ignore[index]
            raise ValidationError(
                "The profiles' predictions are of different kinds (numeric and categorical); "
                "merge profiles made with the same model."
            )
        pred = _merge_columns(preds)  # type: ignore[arg-type]
    return Profile(cols, sum(p.n_rows for p in profiles), bins=first.bins, prediction=pred)


def _table_profile(tab: Table, *, bins: int, like: Profile | None) -> Profile:
    cols: dict[str, dict] = {}
    for c in tab.names:
        edges = fine = None
        ref = like.columns.get(c) if like is not None else None
        if ref is not None and ref["kind"] == NUMERIC and ref["edges"]:
            edges = ref["edges"]
        if ref is not None and ref["kind"] == NUMERIC and int(ref["n"]) > 0:
            fine = fine_histogram(ref)[0]
        cols[c] = _column_summary(tab.columns[c], tab.kinds[c], bins=bins, edges=edges, fine_edges=fine)
    return Profile(cols, tab.n_rows, bins=like.bins if like is not None else bins)


def _column_summary(values: np.ndarray, kind: str, *, bins: int, edges: Any = None, fine_edges: Any = None) -> dict:
    if kind == NUMERIC:
        v, miss = numeric_side(values)
        return numeric_summary(v, miss, bins=bins, edges=edges, fine_edges=fine_edges)
    counts, miss = category_counts(values)
    counts = _cap_categories(counts)
    return {"kind": CATEGORICAL, "n": int(sum(counts.values())), "n_missing": miss, "counts": counts}


_REQUIRED = {
    NUMERIC: ("n", "n_missing", "min", "max", "mean", "std", "levels", "quantiles", "edges", "counts"),
    CATEGORICAL: ("n", "n_missing", "counts"),
}


def _check_summary(name: str, col: Any) -> None:
    """Refuse a stored column summary that lacks a field or holds the wrong types (files come from outside)."""
    if name == "prediction" and isinstance(col, dict) and col.get("kind") == "none":
        return
    kind = col.get("kind") if isinstance(col, dict) else None
    ok = kind in _REQUIRED and all(k in col for k in _REQUIRED[kind])
    if ok:
        ok = isinstance(col["n"], int) and isinstance(col["n_missing"], int)
        if kind == CATEGORICAL:
            ok = ok and isinstance(col["counts"], dict) and all(isinstance(v, int) for v in col["counts"].values())
        else:
            ok = ok and all(isinstance(col[k], list) for k in ("quantiles", "edges", "counts"))
            ok = ok and (col["n"] == 0 or len(col["counts"]) == len(col["edges"]) + 1)
            if "fine_edges" in col or "fine_counts" in col:
                fe, fc = col.get("fine_edges"), col.get("fine_counts")
                ok = ok and isinstance(fe, list) and isinstance(fc, list)
                ok = ok and (col["n"] == 0 or len(fc) == len(fe) + 1)
    if not ok:
        raise ValidationError(
            f"The profile's summary of column '{name}' is damaged (missing or mistyped fields); "
            f"make the profile again with profile()."
        )


def _cap_categories(counts: dict[str, int]) -> dict[str, int]:
    if len(counts) <= MAX_CATEGORIES:
        return counts
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    keep = dict(items[: MAX_CATEGORIES - 1])
    rest = sum(v for _, v in items[MAX_CATEGORIES - 1 :])
    keep[OTHER] = keep.get(OTHER, 0) + rest
    return keep


def _merge_columns(parts: list[dict]) -> dict:
    """One column's summary of the union of ``parts`` (summaries of the same column, in order).

    The first part's edges are the reference: a part on other edges is re-binned through its CDF
    (``approx_bins`` / ``approx_fine``). Counts and moments are exact whatever the grouping; the
    quantiles come from the mixture of all parts' CDFs pinned to the summed fine histogram, so a
    merge of k parts at once reads every part's quantiles once instead of k - 1 times.
    """
    if parts[0]["kind"] == CATEGORICAL:
        cat: dict[str, int] = {}
        for d in parts:
            for key, v in d["counts"].items():
                cat[key] = cat.get(key, 0) + int(v)
        return {
            "kind": CATEGORICAL,
            "n": sum(int(d["n"]) for d in parts),
            "n_missing": sum(int(d["n_missing"]) for d in parts),
            "counts": _cap_categories(cat),
        }
    miss = sum(int(d["n_missing"]) for d in parts)
    full = [d for d in parts if int(d["n"]) > 0]
    ref = parts[0]
    edges_a = list(ref.get("edges") or [])
    if len(full) <= 1:
        src = full[0] if full else ref
        out = dict(src)
        out["n_missing"] = miss
        if src is not ref and edges_a and list(src.get("edges") or []) != edges_a:
            out["edges"], out["counts"] = edges_a, _rebin(src, np.asarray(edges_a)).tolist()
            out["approx_bins"] = True
        fine_a = ref.get("fine_edges")
        if src is not ref and fine_a and list(src.get("fine_edges") or []) != list(fine_a):
            out["fine_edges"] = list(fine_a)
            out["fine_counts"] = _rebin(src, np.asarray(fine_a, dtype=np.float64)).tolist()
            out["approx_fine"] = True
        return out
    if int(ref["n"]) == 0 and not edges_a:
        ref = full[0]
        edges_a = list(ref.get("edges") or [])
    n = mean = m2 = 0.0
    for d in full:  # Chan's parallel update, part by part
        nb, mb = int(d["n"]), float(d["mean"])
        delta, tot = mb - mean, n + nb
        m2 += _m2(d) + delta * delta * n * nb / tot
        mean += delta * nb / tot
        n = tot
    edges = np.asarray(edges_a, dtype=np.float64)
    fe_a = fine_histogram(ref)[0]
    ref_fine = fe_a.tolist()
    counts = np.zeros(len(edges_a) + 1, dtype=np.int64)
    fine_counts = np.zeros(fe_a.size + 1, dtype=np.int64)
    approx = approx_fine = False
    for d in full:
        approx = approx or bool(d.get("approx_bins"))
        if list(d["edges"]) == edges_a:
            counts += np.asarray(d["counts"], dtype=np.int64)
        else:
            counts += _rebin(d, edges)
            approx = True
        if d.get("fine_edges") == ref_fine and len(d.get("fine_counts") or ()) == fine_counts.size:
            fine_counts += np.asarray(d["fine_counts"], dtype=np.int64)  # same edges: no conversion of them
            approx_fine = approx_fine or bool(d.get("approx_fine"))
            continue
        fe, fc, exact = fine_histogram(d)
        approx_fine = approx_fine or not exact
        if np.array_equal(fe, fe_a):
            fine_counts += fc
        else:
            fine_counts += _rebin(d, fe_a)
            approx_fine = True
    lo, hi = min(float(d["min"]) for d in full), max(float(d["max"]) for d in full)
    n_all = int(n)
    k = min(QUANTILE_LEVELS, max(n_all, 2))
    out = {
        "kind": NUMERIC,
        "n": n_all,
        "n_missing": miss,
        "min": lo,
        "max": hi,
        "mean": mean,
        "std": math.sqrt(max(m2, 0.0) / n_all),
        "m2": m2,
        "levels": k,
        "quantiles": _anchored_quantiles(full, fe_a, fine_counts, lo, hi, k).tolist(),
        "edges": edges_a,
        "counts": counts.tolist(),
        "fine_edges": fe_a.tolist(),
        "fine_counts": fine_counts.tolist(),
    }
    if approx:
        out["approx_bins"] = True
    if approx_fine:
        out["approx_fine"] = True
    return out


def _m2(d: dict) -> float:
    if d.get("m2") is not None:
        return float(d["m2"])
    return float(d["std"]) ** 2 * int(d["n"])  # schema-1 profiles stored the population std only


def fine_histogram(d: dict) -> tuple[np.ndarray, np.ndarray, bool]:
    """Inner edges and counts of a numeric summary's fine histogram, and whether its counts are exact.

    Profiles written before the fine histogram existed get one read off their quantiles (approximate).
    """
    if "fine_edges" in d and "fine_counts" in d and len(d["fine_counts"]) == len(d["fine_edges"]) + 1:
        return (
            np.asarray(d["fine_edges"], dtype=np.float64),
            np.asarray(d["fine_counts"], dtype=np.int64),
            not d.get("approx_fine"),
        )
    q = np.asarray(d.get("quantiles") or [], dtype=np.float64)
    edges = np.unique(q[1:-1]) if q.size > 2 else np.empty(0)
    return edges, _rebin(d, edges), False


def knots(d: dict) -> tuple[np.ndarray, np.ndarray]:
    """The piecewise-linear CDF of a numeric summary through its stored quantiles: ``(x, F(x))``."""
    q = np.maximum.accumulate(np.asarray(d["quantiles"], dtype=np.float64))
    return q, np.linspace(0.0, 1.0, q.size)


def resolution(d: dict) -> float:
    """The largest share of a column's values in one bin of its fine histogram (0 when empty).

    The CDF of a profile is exact at every fine edge; so the quantiles of a merged profile are within
    this of the exact ones in probability (rank / n), whatever the number of parts merged.
    """
    n = int(d.get("n") or 0)
    if n == 0:
        return 0.0
    _, counts, _ = fine_histogram(d)
    return float(counts.max()) / n if counts.size else 1.0


def _anchored_quantiles(
    parts: list[dict], edges: np.ndarray, counts: np.ndarray, lo: float, hi: float, k: int
) -> np.ndarray:
    """Quantiles at ``k`` even levels of the merged column.

    The shape comes from the mixture of the parts' CDFs (each interpolated between its stored
    quantiles), which follows data that moves beyond the first part's range; it is then pinned to
    the exact CDF at every fine edge (the merged fine counts), so that the error stays within one
    fine bin's mass however many merges came before.
    """
    kn = [knots(d) for d in parts]
    w = np.asarray([int(d["n"]) for d in parts], dtype=np.float64)
    x = np.unique(np.concatenate([q for q, _ in kn] + [np.clip(edges, lo, hi)]))
    mix = sum(wi * np.interp(x, q, lv, left=0.0, right=1.0) for wi, (q, lv) in zip(w, kn))
    g = np.maximum.accumulate(mix / w.sum())
    n = max(int(counts.sum()), 1)
    ax = np.concatenate(([lo], np.clip(edges, lo, hi), [hi]))
    af = np.minimum(np.concatenate(([0.0], np.cumsum(counts[:-1]) / n, [1.0])), 1.0)
    ga = np.interp(ax, x, g)
    j = np.clip(np.searchsorted(ax, x, side="left") - 1, 0, ax.size - 2)
    gl, gr, xl, xr = ga[j], ga[j + 1], ax[j], ax[j + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(gr > gl, (g - gl) / (gr - gl), np.where(xr > xl, (x - xl) / (xr - xl), 1.0))
    h = np.maximum.accumulate(af[j] + (af[j + 1] - af[j]) * np.clip(t, 0.0, 1.0))
    out = np.interp(np.linspace(0.0, 1.0, k), h, x)
    out[0], out[-1] = lo, hi
    return out


def _cdf(d: dict, x: np.ndarray) -> np.ndarray:
    q, lv = knots(d)
    return np.interp(x, q, lv, left=0.0, right=1.0)


def _rebin(d: dict, edges: np.ndarray) -> np.ndarray:
    """Counts of a summarized column on other edges, from its interpolated CDF (total kept)."""
    n = int(d["n"])
    if n == 0:
        return np.zeros(len(edges) + 1, dtype=np.int64)
    cum = np.concatenate(([0.0], _cdf(d, edges) * n, [float(n)]))
    exact = np.maximum(np.diff(cum), 0.0)
    base = np.floor(exact).astype(np.int64)
    short = n - int(base.sum())
    if short > 0:
        base[np.argsort(-(exact - base))[:short]] += 1
    return base


def _check_bins(bins: Any) -> None:
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or not 2 <= int(bins) <= 1000:
        raise ValidationError(f"bins must be an integer between 2 and 1000; got {bins!r}.")
