"""Profiles built from parts merge into the profile of the whole (counts and moments exactly, quantiles within 0.002)."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError

profmod = importlib.import_module("jupyter_modelops.drift_detection.profile")

#: a merged quantile at level p is a value whose whole-data ECDF interval lies within this of p
QUANTILE_TOL = 0.002


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {"x": x, "y": rng.exponential(size=n), "c": rng.choice(["a", "b", "c", None], size=n, p=[0.5, 0.3, 0.15, 0.05])}
    )


def _exact_equal(m: mo.Profile, w: mo.Profile) -> None:
    assert m.n_rows == w.n_rows
    for c, a in m.columns.items():
        b = w.columns[c]
        assert (a["kind"], a["n"], a["n_missing"]) == (b["kind"], b["n"], b["n_missing"])
        if a["kind"] == "numeric":
            assert a["counts"] == b["counts"] and a["edges"] == b["edges"]
            assert (a["min"], a["max"]) == (b["min"], b["max"])
            assert a["mean"] == pytest.approx(b["mean"], rel=1e-12, abs=1e-12)
            assert a["m2"] == pytest.approx(b["m2"], rel=1e-10)
            assert a["std"] == pytest.approx(b["std"], rel=1e-10)
        else:
            assert a["counts"] == b["counts"]


def _quantile_error(prof: mo.Profile, column: str, values: np.ndarray) -> float:
    s = np.sort(values[np.isfinite(values)])
    q = np.asarray(prof.columns[column]["quantiles"])
    lv = np.linspace(0.0, 1.0, q.size)
    lo = np.searchsorted(s, q, side="left") / s.size
    hi = np.searchsorted(s, q, side="right") / s.size
    return float(np.max(np.maximum(0.0, np.maximum(lo - lv, lv - hi))))


def test_merged_parts_equal_the_whole():
    rng = np.random.default_rng(1)
    df = _frame(rng, 20_000)
    parts = np.array_split(np.arange(len(df)), 7)
    first = mo.profile(df.iloc[parts[0]])
    merged = mo.merge_profiles([first] + [mo.profile(df.iloc[p], like=first) for p in parts[1:]])
    whole = mo.profile(df, like=first)
    _exact_equal(merged, whole)
    for c in ("x", "y"):
        assert _quantile_error(merged, c, df[c].to_numpy()) <= QUANTILE_TOL
    # the merged profile drives drift() as a raw one does
    cur = _frame(np.random.default_rng(2), 5000)
    cur["y"] = cur["y"] + 1.0
    assert mo.drift(merged, cur).drifted == ["y"] == mo.drift(whole, cur).drifted


def test_daily_profiles_merge_into_a_weekly_reference_that_survives_json(tmp_path):
    rng = np.random.default_rng(3)
    days = [_frame(rng, 3000) for _ in range(7)]
    first = mo.profile(days[0])
    daily = [first] + [mo.profile(d, like=first) for d in days[1:]]
    paths = [p.save(tmp_path / f"day{i}.json") for i, p in enumerate(daily)]
    week = mo.merge_profiles([mo.Profile.load(p) for p in paths])
    _exact_equal(week, mo.profile(pd.concat(days, ignore_index=True), like=first))


def test_parts_with_their_own_edges_are_rebinned_and_say_so():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(5000, 1)), rng.normal(loc=3.0, size=(5000, 1))  # b lies mostly beyond a's edges
    m = mo.profile(a).merge(mo.profile(b))
    col = m.columns["x0"]
    assert col["approx_bins"] is True
    assert col["edges"] == mo.profile(a).columns["x0"]["edges"]
    assert sum(col["counts"]) == 10_000 and col["counts"][-1] > 5000  # b's values above a's edges: last open bin
    assert col["max"] == pytest.approx(float(b.max()))
    note = mo.drift(m, np.vstack([a, b])).column("x0")["notes"]
    assert any("PSI and Jensen-Shannon are approximate" in n for n in note)


def test_schema_1_profiles_still_merge():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 1))
    d = mo.profile(x).to_dict()
    d["schema"] = 1
    del d["columns"]["x0"]["m2"]
    old = mo.Profile.from_dict(json.loads(json.dumps(d)))
    m = old.merge(mo.profile(x, like=old))
    assert m.columns["x0"]["m2"] == pytest.approx(2 * 2000 * float(x.var()), rel=1e-9)


def test_categories_beyond_the_cap_go_to_other(monkeypatch):
    monkeypatch.setattr(profmod, "MAX_CATEGORIES", 5)
    a = mo.profile(pd.DataFrame({"c": list("aaabbcd")}))
    b = mo.profile(pd.DataFrame({"c": list("aeeffg")}))
    counts = a.merge(b).columns["c"]["counts"]
    assert len(counts) == 5 and counts[profmod.OTHER] == 3  # c, d, g: the rarest, summed
    assert counts["a"] == 4 and sum(counts.values()) == 13


def test_incompatible_profiles_are_one_sentence():
    num = mo.profile(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValidationError, match=r"different columns .*only in the second: \['y'\]"):
        num.merge(mo.profile(pd.DataFrame({"y": [1.0, 2.0]})))
    with pytest.raises(ValidationError, match="Column 'x' is numeric in one profile and categorical in the other"):
        num.merge(mo.profile(pd.DataFrame({"x": ["a", "b"]})))
    with pytest.raises(ValidationError, match="Only profiles merge"):
        num.merge({"columns": {}})
    with pytest.raises(ValidationError, match="no profiles"):
        mo.merge_profiles([])


_part = st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=0, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_part, min_size=3, max_size=3),
    st.lists(st.sampled_from(["u", "v", "w", None]), min_size=3, max_size=30),
    st.randoms(use_true_random=False),
)
def test_merge_is_associative_and_commutative(parts, cats, rnd):
    base = np.arange(40, dtype=np.float64)  # the part that defines the edges
    frames = [pd.DataFrame({"x": base, "c": ["u"] * 40})]
    for vals in parts:
        c = [cats[rnd.randrange(len(cats))] for _ in vals]
        frames.append(
            pd.DataFrame({"x": np.asarray(vals, dtype=np.float64), "c": c})
            if vals
            else pd.DataFrame({"x": [np.nan], "c": [None]})
        )
    first = mo.profile(frames[0])
    a, b, c = (mo.profile(f, like=first) for f in frames[1:])
    left = first.merge(a).merge(b).merge(c)
    right = first.merge(a.merge(b.merge(c)))
    swapped = first.merge(c).merge(b).merge(a)
    at_once = mo.merge_profiles([first, a, b, c])  # one pass over all parts
    whole = mo.profile(pd.concat(frames, ignore_index=True), like=first)
    for m in (left, right, swapped, at_once):
        _exact_equal(m, whole)
        assert m.columns["x"]["fine_counts"] == whole.columns["x"]["fine_counts"]


def test_merging_many_at_once_keeps_quantiles_within_the_resolution():
    # thirty daily parts whose location drifts beyond the first day's range: the one-pass merge
    # and the pairwise fold agree exactly on counts and moments, and both keep their quantiles
    # within the merged resolution of the whole data's (in rank / n), and within QUANTILE_TOL here
    rng = np.random.default_rng(7)
    days = [pd.DataFrame({"x": rng.normal(0.05 * d, 1.0 + 0.02 * d, size=3000)}) for d in range(30)]
    first = mo.profile(days[0])
    parts = [first] + [mo.profile(d, like=first) for d in days[1:]]
    at_once = mo.merge_profiles(parts)
    fold = parts[0]
    for p in parts[1:]:
        fold = fold.merge(p)
    _exact_equal(at_once, fold)
    values = pd.concat(days)["x"].to_numpy()
    for m in (at_once, fold):
        assert _quantile_error(m, "x", values) <= min(m.resolution("x"), QUANTILE_TOL)
    with pytest.raises(ValidationError, match=r"only in profile 3: \['z'\]"):
        mo.merge_profiles([first, parts[1], mo.profile(pd.DataFrame({"x": [1.0], "z": [2.0]}))])


def test_a_damaged_profile_file_is_refused_before_merging(tmp_path):
    d = mo.profile(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})).to_dict()
    d["columns"]["x"]["counts"] = "many"
    with pytest.raises(ValidationError, match="summary of column 'x' is damaged"):
        mo.Profile.from_dict(d)
    d = mo.profile(pd.DataFrame({"c": ["a", "b"]})).to_dict()
    d["columns"]["c"]["counts"] = {"a": "1"}
    with pytest.raises(ValidationError, match="summary of column 'c' is damaged"):
        mo.Profile.from_dict(d)
