"""profile() and drift() over Dask collections on a real LocalCluster with 2 worker processes.

Each partition is profiled on its worker on shared edges and the small profiles are merged on the client:
the result equals the single-machine streamed profile of the same parts.
"""

from __future__ import annotations

import importlib

import dask.dataframe as dd
import numpy as np
import pandas as pd
import polars as pl
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError


def _frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    x[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "age": x,
            "income": rng.exponential(size=n),
            "count": rng.integers(0, 9, size=n),
            "city": rng.choice(["a", "b", "c"], size=n),
        }
    )


@pytest.fixture(scope="module")
def parquet(tmp_path_factory, dask_client):
    """The same rows as a Dask DataFrame read from Parquet (one partition per file) and as the folder itself."""
    root = tmp_path_factory.mktemp("dask")
    ref, cur = _frame(0, 24_000), _frame(1, 12_000, shift=0.4)
    dd.from_pandas(ref, npartitions=4).to_parquet(root / "ref", write_index=False)
    dd.from_pandas(cur, npartitions=3).to_parquet(root / "cur", write_index=False)
    return ref, cur, root


def _same_profile(a: mo.Profile, b: mo.Profile) -> None:
    assert list(a.columns) == list(b.columns) and a.n_rows == b.n_rows
    for c, x in a.columns.items():
        y = b.columns[c]
        assert (x["kind"], x["n"], x["n_missing"], x["counts"]) == (y["kind"], y["n"], y["n_missing"], y["counts"])
        if x["kind"] == "numeric":
            assert x["fine_edges"] == y["fine_edges"] and x["fine_counts"] == y["fine_counts"]
            assert (x["min"], x["max"], x["quantiles"]) == (y["min"], y["max"], y["quantiles"])
            assert x["mean"] == pytest.approx(y["mean"], rel=1e-12) and x["m2"] == pytest.approx(y["m2"], rel=1e-10)


def test_dask_profile_equals_the_streamed_profile_of_the_same_parts(parquet, dask_client):
    ref, _, root = parquet
    ddf = dd.read_parquet(root / "ref")
    assert ddf.npartitions == 4
    on_dask = mo.profile(ddf)
    local = mo.profile(root / "ref", batch_rows=100_000)  # one batch per file: the same parts
    _same_profile(on_dask, local)
    assert list(on_dask.columns) == ["age", "income", "count", "city"] and on_dask.n_rows == 24_000
    # and on the edges of a given reference profile
    like = mo.profile(ref.iloc[:5000])
    _same_profile(mo.profile(ddf, like=like), mo.profile(root / "ref", like=like, batch_rows=100_000))


def test_dask_drift_equals_the_streamed_drift(parquet, dask_client, monkeypatch):
    ref, cur, root = parquet
    on_dask = mo.drift(dd.read_parquet(root / "ref"), dd.read_parquet(root / "cur"))
    cols_mod = importlib.import_module("jupyter_modelops.drift_detection._columns")
    monkeypatch.setattr(cols_mod, "MAX_IN_MEMORY_CELLS", 1000)  # the single-machine path streams both sides too
    local = mo.drift(root / "ref", root / "cur")
    assert on_dask.from_profile and [c["column"] for c in on_dask.columns] == ["age", "income", "count", "city"]
    for a, b in zip(on_dask.columns, local.columns):
        for key in ("n_reference", "n_current", "psi", "js", "ks", "ks_upper", "ks_p", "wasserstein", "chi2_p"):
            assert a.get(key) == pytest.approx(b.get(key), rel=1e-12) if b.get(key) is not None else a.get(key) is None
    assert on_dask.drifted == local.drifted == mo.drift(ref, cur).drifted == ["age"]


def test_dask_series_polars_and_profiles_mix(parquet, dask_client):
    ref, cur, root = parquet
    rep = mo.drift(dd.read_parquet(root / "ref")["age"], dd.from_pandas(cur["age"], npartitions=2))
    assert [c["column"] for c in rep.columns] == ["age"] and rep.drifted == ["age"]
    prof = mo.profile(dd.read_parquet(root / "ref"))
    mixed = mo.drift(pl.from_pandas(ref), dd.read_parquet(root / "cur"))
    assert mixed.drifted == ["age"] and mixed.n_current == 12_000
    assert mo.drift(prof, dd.read_parquet(root / "cur")).drifted == ["age"]
    with pytest.raises(ValidationError, match="A model cannot be profiled over a Dask collection"):
        mo.profile(dd.read_parquet(root / "ref"), model=lambda X: X)
    with pytest.raises(ValidationError, match="A model cannot be applied to the current"):
        mo.drift(ref, dd.read_parquet(root / "cur"), model=lambda X: np.zeros(len(X)))
