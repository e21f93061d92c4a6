"""A compact, storable reference profile: compare later without the raw data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .._html import Result, esc, fmt, page, table, to_jsonable
from ..exceptions import ValidationError
from . import _stats
from ._columns import CATEGORICAL, NUMERIC, Table, to_table

SCHEMA = 1
#: number of evenly spaced quantile levels stored per numeric column
QUANTILE_LEVELS = 1001


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


def numeric_summary(sorted_v: np.ndarray, n_missing: int, *, bins: int) -> dict:
    """Summary of one numeric column from its sorted values (what a profile stores)."""
    n = int(sorted_v.size)
    out: dict[str, Any] = {"kind": NUMERIC, "n": n, "n_missing": n_missing}
    if n == 0:
        out.update(min=None, max=None, mean=None, std=None, levels=QUANTILE_LEVELS, quantiles=[], edges=[], counts=[])
        return out
    edges = _stats.quantile_edges(sorted_v, bins)
    k = min(QUANTILE_LEVELS, max(n, 2))  # small columns need no more levels than values
    levels = np.linspace(0.0, 1.0, k)
    out.update(
        min=float(sorted_v[0]), max=float(sorted_v[-1]), mean=float(sorted_v.mean()), std=float(sorted_v.std()),
        levels=k, quantiles=_stats.quantile_grid(sorted_v, levels).tolist(),
        edges=edges.tolist(), counts=_stats.bin_counts(sorted_v, edges).tolist(),
    )
    return out


class Profile(Result):
    """Reference statistics per column, small enough to store beside a model.

    Numeric columns keep the count, missing count, min, max, mean, standard
    deviation, 1001 quantiles (fewer for columns with fewer values) and a histogram on decile edges; categorical
    columns keep their category counts. :func:`drift` accepts a profile in place
    of the raw reference: PSI, Jensen-Shannon and chi-squared are then exact
    (same bins and counts); the KS statistic and the Wasserstein distance are
    approximate (the reference CDF is interpolated between the stored
    quantiles: within about 0.001 for a continuous column).

    Attributes
    ----------
    columns : dict
        Column name -> summary dict.
    n_rows : int
        Rows in the reference.
    prediction : dict or None
        Summary of the model's predictions on the reference, when a model was given.
    """

    def __init__(self, columns: dict[str, dict], n_rows: int, *, bins: int = 10, prediction: dict | None = None) -> None:
        self.columns = columns
        self.n_rows = int(n_rows)
        self.bins = int(bins)
        self.prediction = prediction

    # -- storage -------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_jsonable({"schema": SCHEMA, "kind": "modelops-profile", "n_rows": self.n_rows, "bins": self.bins,
                            "columns": self.columns, "prediction": self.prediction})

    @classmethod
    def from_dict(cls, data: dict) -> "Profile":
        """Rebuild a profile from :meth:`to_dict` output."""
        if not isinstance(data, dict) or data.get("kind") != "modelops-profile" or "columns" not in data:
            raise ValidationError("The data is not a reference profile (expected the output of Profile.to_dict()).")
        if int(data.get("schema", 0)) > SCHEMA:
            raise ValidationError(f"The profile has schema {data.get('schema')}; this version reads schema {SCHEMA}.",
                                  hint="Upgrade jupyter-modelops.")
        return cls(dict(data["columns"]), int(data["n_rows"]), bins=int(data.get("bins", 10)),
                   prediction=data.get("prediction"))

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

    # -- as a table for drift() ----------------------------------------------
    def as_table(self) -> Table:
        kinds = {c: d["kind"] for c, d in self.columns.items()}
        return Table(list(self.columns), {c: np.empty(0) for c in self.columns}, kinds, self.n_rows,
                     source="profile", extra={"profile": True})

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


def profile(reference: Any, *, model: Any = None, bins: int = 10) -> Profile:
    """Compute a compact reference profile for later drift checks.

    Parameters
    ----------
    reference : numpy.ndarray, pandas.DataFrame or torch.Tensor
        The reference data (usually the training or validation set).
    model : object, optional
        When given, the profile also summarizes the model's predictions on the
        reference, so that :func:`drift` can report prediction drift later.
    bins : int, default=10
        Histogram bins (reference quantiles) used by PSI and Jensen-Shannon.

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
    tab = to_table(reference, what="reference")
    cols: dict[str, dict] = {}
    for c in tab.names:
        cols[c] = _column_summary(tab.columns[c], tab.kinds[c], bins=bins)
    pred = None
    if model is not None:
        from ._predcol import prediction_column

        values, kind = prediction_column(model, reference, what="reference")
        pred = _column_summary(values, kind, bins=bins)
    return Profile(cols, tab.n_rows, bins=bins, prediction=pred)


def _column_summary(values: np.ndarray, kind: str, *, bins: int) -> dict:
    if kind == NUMERIC:
        v, miss = numeric_side(values)
        return numeric_summary(v, miss, bins=bins)
    counts, miss = category_counts(values)
    return {"kind": CATEGORICAL, "n": int(sum(counts.values())), "n_missing": miss, "counts": counts}


def _check_bins(bins: Any) -> None:
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or not 2 <= int(bins) <= 1000:
        raise ValidationError(f"bins must be an integer between 2 and 1000; got {bins!r}.")
