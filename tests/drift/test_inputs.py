"""drift() and profile() over Parquet paths, pyarrow tables/readers/datasets and polars frames.

Every kind keeps its column names and gives the in-memory result: exactly for drift(), and for profile()
exactly in counts and moments (on the first batch's edges) and within 0.002 in probability for quantiles.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError

cols_mod = importlib.import_module("jupyter_modelops.drift_detection._columns")
KEYS = (
    "n_reference",
    "n_current",
    "psi",
    "js",
    "ks",
    "ks_p",
    "wasserstein",
    "chi2",
    "chi2_p",
    "drift",
    "missing_reference",
    "missing_current",
)


def _frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    x[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "age": x,
            "income": rng.exponential(size=n).astype(np.float32),
            "count": rng.integers(0, 9, size=n),
            "city": rng.choice(["a", "b", "c"], size=n),
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    ref, cur = _frame(0, 6000), _frame(1, 4000, shift=0.5)
    root = tmp_path_factory.mktemp("pq")
    pq.write_table(pa.Table.from_pandas(ref, preserve_index=False), root / "ref.parquet", row_group_size=1000)
    folder = root / "cur"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(cur)), 3)):
        pq.write_table(pa.Table.from_pandas(cur.iloc[part], preserve_index=False), folder / f"part-{i}.parquet")
    return ref, cur, root / "ref.parquet", folder


def _same(a, b) -> None:
    assert [c["column"] for c in a.columns] == [c["column"] for c in b.columns] == ["age", "income", "count", "city"]
    for ca, cb in zip(a.columns, b.columns):
        for k in KEYS:
            assert ca.get(k) == cb.get(k), (ca["column"], k)


def _kinds(ref, cur, ref_path, cur_folder):
    at_ref, at_cur = pa.Table.from_pandas(ref, preserve_index=False), pa.Table.from_pandas(cur, preserve_index=False)
    return {
        "arrow_table": (at_ref, at_cur),
        "parquet_paths": (str(ref_path), cur_folder),
        "dataset": (pads.dataset(ref_path), pads.dataset(cur_folder)),
        "reader": (at_ref.to_reader(max_chunksize=700), at_cur.to_reader(max_chunksize=900)),
        "polars": (pl.from_pandas(ref), pl.from_pandas(cur)),
        "polars_lazy": (pl.from_pandas(ref).lazy(), pl.scan_parquet(cur_folder / "*.parquet")),
    }


@pytest.mark.parametrize("kind", ["arrow_table", "parquet_paths", "dataset", "reader", "polars", "polars_lazy"])
def test_drift_over_every_input_kind_equals_pandas(data, kind):
    ref, cur, ref_path, cur_folder = data
    expected = mo.drift(ref, cur)
    assert "age" in expected.drifted
    r, c = _kinds(ref, cur, ref_path, cur_folder)[kind]
    _same(mo.drift(r, c), expected)


@pytest.mark.parametrize("kind", ["arrow_table", "parquet_paths", "dataset", "reader", "polars", "polars_lazy"])
def test_profile_streams_in_batches_and_equals_the_in_memory_profile(data, kind):
    ref, cur, ref_path, cur_folder = data
    r, _ = _kinds(ref, cur, ref_path, cur_folder)[kind]
    streamed = mo.profile(r, batch_rows=1000)
    first = mo.profile(ref.iloc[:1000] if kind not in ("reader",) else ref.iloc[:700])
    whole = mo.profile(ref, like=first)
    assert list(streamed.columns) == ["age", "income", "count", "city"] and streamed.n_rows == 6000
    for c, a in streamed.columns.items():
        b = whole.columns[c]
        assert (a["n"], a["n_missing"]) == (b["n"], b["n_missing"])
        if a["kind"] == "categorical":
            assert a["counts"] == b["counts"]
            continue
        assert a["edges"] == b["edges"] and a["counts"] == b["counts"]
        assert (a["min"], a["max"]) == (b["min"], b["max"])
        assert a["mean"] == pytest.approx(b["mean"], rel=1e-12) and a["m2"] == pytest.approx(b["m2"], rel=1e-10)
        if c == "count":  # discrete: the quantile tolerance is stated for continuous columns
            continue
        s = np.sort(ref[c].dropna().to_numpy(dtype=np.float64))
        q = np.asarray(a["quantiles"])
        lv = np.linspace(0, 1, q.size)
        lo, hi = np.searchsorted(s, q, "left") / s.size, np.searchsorted(s, q, "right") / s.size
        assert np.max(np.maximum(0, np.maximum(lo - lv, lv - hi))) <= 0.002
    # and the streamed profile drives drift() on the same verdicts as the raw reference
    assert mo.drift(streamed, cur).drifted == mo.drift(ref, cur).drifted


def test_arrow_table_keeps_its_column_names():
    t = pa.table({"height": [1.0, 2.0, None, 4.0], "color": ["r", "g", "b", None]})
    rep = mo.drift(t, t)
    assert [c["column"] for c in rep.columns] == ["height", "color"]
    assert rep.column("height")["missing_reference"] == 0.25


def test_polars_frames_no_longer_crash_drift():
    a = pl.DataFrame({"x": [1.0, 2.0, 3.0, None] * 50, "s": ["u", "v", None, "u"] * 50})
    rep = mo.drift(a, a.lazy())
    assert rep.drifted == [] and [c["column"] for c in rep.columns] == ["x", "s"]


def test_paths_that_are_not_parquet_get_one_sentence(tmp_path):
    with pytest.raises(ValidationError, match=r"path '.*nope.parquet' does not exist; expected a Parquet file"):
        mo.drift(str(tmp_path / "nope.parquet"), np.zeros((3, 1)))
    csv = tmp_path / "data.csv"
    csv.write_text("a\n1\n")
    with pytest.raises(ValidationError, match="is not a Parquet file"):
        mo.profile(csv)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(ValidationError, match="could not be read as Parquet"):
        mo.profile(junk)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="holds no Parquet files"):
        mo.profile(tmp_path / "empty")


def test_too_large_for_memory_streams_through_profiles(data, monkeypatch):
    ref, cur, ref_path, cur_folder = data
    monkeypatch.setattr(cols_mod, "MAX_IN_MEMORY_CELLS", 10_000)
    rep = mo.drift(str(ref_path), cur_folder)  # both sides too large to hold: profiled on shared edges
    assert rep.from_profile and (rep.n_reference, rep.n_current) == (6000, 4000)
    assert rep.drifted == mo.drift(ref, cur).drifted == ["age"]
    prof = mo.profile(str(ref_path))  # profiling streams, so the limit does not apply
    assert prof.n_rows == 6000 and mo.drift(prof, cur).column("age")["drift"] is True


def test_streamed_profile_refuses_a_model_and_a_bad_batch_size(data):
    ref, _, ref_path, _ = data
    with pytest.raises(ValidationError, match="A model cannot be profiled over a streamed input"):
        mo.profile(str(ref_path), model=lambda X: X)
    with pytest.raises(ValidationError, match="batch_rows must be a positive integer"):
        mo.profile(str(ref_path), batch_rows=0)
