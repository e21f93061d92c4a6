"""drift() through profiles for data too large to hold: exact on shared bins, and no alarm from the sketch.

Streamed sides are profiled on shared edges (the current on the reference profile's edges) and compared
profile against profile. PSI, Jensen-Shannon and chi-squared are then those of the in-memory path; the
KS statistic is bracketed (lower <= exact <= upper) and its p-value uses the lower end, so a profile never
flags a column that the exact test on the raw rows would not flag.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import jupyter_modelops as mo
from jupyter_modelops.drift_detection.profile import resolution
from jupyter_modelops.exceptions import ValidationError

cols_mod = importlib.import_module("jupyter_modelops.drift_detection._columns")
EXACT = ("n_reference", "n_current", "missing_reference", "missing_current", "chi2", "chi2_p")


def _write_folder(df: pd.DataFrame, folder, parts: int) -> None:
    folder.mkdir()
    for i, idx in enumerate(np.array_split(np.arange(len(df)), parts)):
        pq.write_table(pa.Table.from_pandas(df.iloc[idx], preserve_index=False), folder / f"part-{i:03d}.parquet")


@pytest.fixture
def small_limit(monkeypatch):
    """Make every Parquet side 'too large to hold', so drift() streams it through profiles."""
    monkeypatch.setattr(cols_mod, "MAX_IN_MEMORY_CELLS", 10_000)


@pytest.fixture(scope="module")
def normal_20(tmp_path_factory):
    """Two independent samples of the same distribution (20 normal columns, 1e5 rows each, 5 files each)."""
    root = tmp_path_factory.mktemp("same")
    n, p = 100_000, 20
    ref = pd.DataFrame(np.random.default_rng(11).standard_normal((n, p)), columns=[f"f{i}" for i in range(p)])
    cur = pd.DataFrame(np.random.default_rng(12).standard_normal((n, p)), columns=ref.columns)
    _write_folder(ref, root / "ref", 5)
    _write_folder(cur, root / "cur", 5)
    shifted = cur.copy()
    shifted[["f0", "f5", "f10", "f15", "f19"]] += 0.1
    _write_folder(shifted, root / "shifted", 5)
    return ref, cur, root


def test_same_distribution_never_alarms_through_profiles(normal_20, small_limit):
    ref, cur, root = normal_20
    streamed = mo.drift(root / "ref", root / "cur")
    exact = mo.drift(ref, cur)
    assert streamed.from_profile and (streamed.n_reference, streamed.n_current) == (100_000, 100_000)
    assert streamed.drifted == [] and streamed.dataset_drift is False
    assert [c["column"] for c in streamed.columns if c["ks_p_adj"] < 0.05] == []
    for s, e in zip(streamed.columns, exact.columns):
        # the bracket holds, and the profile's p-value is never below the exact test's
        assert s["ks"] <= e["ks"] + 1e-12 and e["ks"] <= s["ks_upper"] + 1e-12
        assert s["ks_p"] >= e["ks_p"] - 1e-12
        assert s["ks_upper"] - s["ks"] <= 0.004  # the fine histograms' resolution
        assert s["psi"] == pytest.approx(e["psi"], abs=2e-4)  # edges of the first file, not of the whole


def test_a_real_tenth_of_a_standard_deviation_is_still_detected(normal_20, small_limit):
    _, _, root = normal_20
    rep = mo.drift(root / "ref", root / "shifted")
    moved = ["f0", "f5", "f10", "f15", "f19"]
    significant = [c["column"] for c in rep.columns if c["ks_p_adj"] < 0.05]
    assert set(moved) <= set(significant) and set(rep.drifted) <= set(moved)
    # the default effect threshold is 0.1 sd itself; just below it, every moved column drifts
    assert mo.drift(root / "ref", root / "shifted", thresholds={"wasserstein_normed": 0.08}).drifted == moved


def _mixed(seed: int, n: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    x[rng.random(n) < 0.02] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "y": rng.exponential(size=n),
            "k": rng.integers(0, 6, size=n).astype(np.float64),
            "c": rng.choice(["a", "b", "c", None], size=n, p=[0.5, 0.3 - shift / 10, 0.15 + shift / 10, 0.05]),
        }
    )


def test_streamed_drift_equals_in_memory_on_shared_bins(tmp_path, small_limit):
    ref, cur = _mixed(1, 30_000, 0.0), _mixed(2, 20_000, 0.2)
    pq.write_table(pa.Table.from_pandas(ref, preserve_index=False), tmp_path / "ref.parquet")  # one batch
    _write_folder(cur, tmp_path / "cur", 4)
    streamed = mo.drift(tmp_path / "ref.parquet", tmp_path / "cur")
    exact = mo.drift(ref, cur)
    assert [c["column"] for c in streamed.columns] == ["x", "y", "k", "c"]
    assert streamed.drifted == exact.drifted
    for s, e in zip(streamed.columns, exact.columns):
        for key in EXACT:
            if e.get(key) is None:
                assert s.get(key) is None, (s["column"], key)
                continue
            assert s.get(key) == pytest.approx(e.get(key), rel=1e-12), (s["column"], key)
        assert s["psi"] == pytest.approx(e["psi"], rel=1e-12) and s["js"] == pytest.approx(e["js"], rel=1e-12)
        if s["kind"] == "numeric":
            assert s["ks"] <= e["ks"] + 1e-12 <= s["ks_upper"] + 2e-12
            if s["column"] != "k":  # a step CDF read as piecewise linear: Wasserstein is approximate there
                assert s["wasserstein"] == pytest.approx(e["wasserstein"], rel=0.05, abs=2e-3)
            assert s["mean_current"] == pytest.approx(e["mean_current"], rel=1e-12)
    # the discrete column's atoms are fine edges: its KS bracket's lower end is the exact statistic
    assert streamed.column("k")["ks"] == pytest.approx(exact.column("k")["ks"], abs=1e-12)


def _rank_error(q: np.ndarray, s: np.ndarray) -> float:
    lv = np.linspace(0.0, 1.0, q.size)
    lo = np.searchsorted(s, q, side="left") / s.size
    hi = np.searchsorted(s, q, side="right") / s.size
    return float(np.max(np.maximum(0.0, np.maximum(lo - lv, lv - hi))))


def test_a_profile_merged_from_100_batches_keeps_its_quantile_bound():
    rng = np.random.default_rng(7)
    n = 200_000
    trend = rng.normal(size=n) + np.repeat(np.linspace(0.0, 5.0, 100), n // 100)  # moves beyond the first batch
    data = pd.DataFrame(
        {"normal": rng.normal(size=n), "expo": rng.exponential(size=n), "logn": rng.lognormal(size=n), "trend": trend}
    )
    parts = np.array_split(np.arange(n), 100)
    first = mo.profile(data.iloc[parts[0]])
    profs = [first] + [mo.profile(data.iloc[p], like=first) for p in parts[1:]]
    seq = profs[0]
    for p in profs[1:]:
        seq = seq.merge(p)
    while len(profs) > 1:  # the same parts merged as a tree
        profs = [profs[i].merge(profs[i + 1]) if i + 1 < len(profs) else profs[i] for i in range(0, len(profs), 2)]
    for c in data.columns:
        s = np.sort(data[c].to_numpy())
        for merged in (seq, profs[0]):
            col = merged.columns[c]
            err = _rank_error(np.asarray(col["quantiles"]), s)
            assert err <= resolution(col) + 1.0 / n, c  # the stated bound
            assert err < 0.003, c  # and in practice, also where the first batch does not cover the range
        assert seq.columns[c]["fine_counts"] == profs[0].columns[c]["fine_counts"]  # exact in any order
        if c != "trend":
            assert resolution(seq.columns[c]) < 0.01


def test_a_reader_is_gathered_then_streamed_when_it_grows_too_large(tmp_path, monkeypatch):
    ref, cur = _mixed(3, 8000, 0.0), _mixed(4, 8000, 0.5)
    monkeypatch.setattr(cols_mod, "MAX_IN_MEMORY_CELLS", 4 * 3000)  # passed during the second batch
    reader = pa.Table.from_pandas(cur, preserve_index=False).to_reader(max_chunksize=2000)
    via_reader = mo.drift(ref, reader)
    pq.write_table(pa.Table.from_pandas(cur, preserve_index=False), tmp_path / "cur.parquet", row_group_size=2000)
    via_path = mo.drift(ref, tmp_path / "cur.parquet")
    assert via_reader.from_profile and via_reader.n_current == 8000
    for a, b in zip(via_reader.columns, via_path.columns):
        for key in ("psi", "js", "ks", "ks_upper", "chi2_p", "missing_current"):
            assert a.get(key) == b.get(key), (a["column"], key)
    assert "x" in via_reader.drifted


def test_what_cannot_be_streamed_is_one_sentence(tmp_path, small_limit):
    ref = _mixed(5, 4000, 0.0)
    pq.write_table(pa.Table.from_pandas(ref, preserve_index=False), tmp_path / "ref.parquet")
    with pytest.raises(ValidationError, match="A model cannot be applied to the reference when it is streamed"):
        mo.drift(tmp_path / "ref.parquet", ref, model=lambda X: np.zeros(len(X)))
    with pytest.raises(ValidationError, match="The current data is a Profile"):
        mo.drift(ref, mo.profile(ref))
    other = ref.assign(x=ref["c"])  # x numeric in the reference, text in the current
    pq.write_table(pa.Table.from_pandas(other, preserve_index=False), tmp_path / "other.parquet")
    with pytest.raises(ValidationError, match="Column 'x' is numeric in the reference but categorical in the current"):
        mo.drift(ref, tmp_path / "other.parquet")


def test_resolution_is_stated_per_numeric_column():
    prof = mo.profile(_mixed(6, 5000, 0.0))
    assert 0 < prof.resolution("x") < 0.005
    with pytest.raises(ValidationError, match="'c' is categorical"):
        prof.resolution("c")
    with pytest.raises(ValidationError, match="'nope' is not in it"):
        prof.resolution("nope")


def test_a_profile_stored_before_fine_histograms_still_drives_drift_and_says_so():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5000, 2))
    d = mo.profile(x).to_dict()
    for col in d["columns"].values():
        del col["fine_edges"], col["fine_counts"]
    old = mo.Profile.from_dict(d)
    rep = mo.drift(old, rng.normal(size=(3000, 2)) + [0.0, 0.5])
    assert rep.drifted == ["x1"]
    assert any("bounds approximate" in n for n in rep.column("x0")["notes"])
    merged = old.merge(mo.profile(x, like=old))
    assert merged.columns["x0"]["approx_fine"] is True and merged.n_rows == 10_000
