"""drift() and profile(): agreement with scipy, verdicts, profiles, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from jupyter_modelops import Profile
from jupyter_modelops.drift_detection import drift, profile
from jupyter_modelops.exceptions import ValidationError


def _edges(ref, bins=10):
    return np.unique(np.quantile(ref, np.arange(1, bins) / bins))


def _hist(x, edges):
    return np.histogram(x, bins=np.concatenate(([-np.inf], edges, [np.inf])))[0]


@pytest.mark.parametrize("n1,n2,shift", [(300, 450, 0.3), (30_000, 30_000, 0.05), (20_000, 12_000, 0.0)])
def test_numeric_methods_agree_with_scipy(n1, n2, shift):
    rng = np.random.default_rng(n1)
    ref = rng.normal(size=(n1, 2))
    cur = rng.normal(size=(n2, 2)) + [shift, 0.0]
    rep = drift(ref, cur)
    for j in range(2):
        r = rep.column(f"x{j}")
        ks = stats.ks_2samp(ref[:, j], cur[:, j])
        assert r["ks"] == pytest.approx(ks.statistic, abs=1e-12)
        assert r["ks_p"] == pytest.approx(ks.pvalue, rel=1e-8, abs=1e-300)
        assert r["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref[:, j], cur[:, j]), rel=1e-9)
        assert r["wasserstein_normed"] == pytest.approx(r["wasserstein"] / ref[:, j].std(), rel=1e-9)
        e = _edges(ref[:, j])
        hr, hc = _hist(ref[:, j], e), _hist(cur[:, j], e)
        assert r["js"] == pytest.approx(jensenshannon(hr, hc), rel=1e-9)
        pr, pc = np.maximum(hr / hr.sum(), 1e-4), np.maximum(hc / hc.sum(), 1e-4)
        assert r["psi"] == pytest.approx(np.sum((pc - pr) * np.log(pc / pr)), rel=1e-9)
    # Benjamini-Hochberg across the columns, as scipy
    adj = stats.false_discovery_control([rep.column("x0")["ks_p"], rep.column("x1")["ks_p"]], method="bh")
    assert [rep.column("x0")["ks_p_adj"], rep.column("x1")["ks_p_adj"]] == pytest.approx(list(adj))


def test_ties_agree_with_scipy():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 6, 4000).astype(float)
    cur = rng.integers(0, 7, 3000).astype(float)
    r = drift(ref, cur).column("x0")
    ks = stats.ks_2samp(ref, cur)
    assert r["ks"] == pytest.approx(ks.statistic, abs=1e-12)
    assert r["ks_p"] == pytest.approx(ks.pvalue, rel=1e-8)
    assert r["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)


def test_categorical_chi2_psi_js_agree_with_scipy():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"c": rng.choice(["a", "b", "c"], 2000, p=[0.5, 0.3, 0.2])})
    cur = pd.DataFrame({"c": rng.choice(["a", "b", "c", "d"], 1500, p=[0.3, 0.3, 0.3, 0.1])})
    r = drift(ref, cur).column("c")
    cats = ["a", "b", "c", "d"]
    rc = np.array([(ref.c == k).sum() for k in cats])
    cc = np.array([(cur.c == k).sum() for k in cats])
    res = stats.chi2_contingency(np.vstack([rc, cc]))
    assert r["chi2"] == pytest.approx(res.statistic, rel=1e-10)
    assert r["chi2_p"] == pytest.approx(res.pvalue, rel=1e-8, abs=1e-300)
    assert r["js"] == pytest.approx(jensenshannon(rc, cc), rel=1e-10)
    assert r["new_categories"] == ["d"]
    assert r["drift"] is True and "ks" not in r


def test_verdict_thresholds_and_dataset_drift():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(5000, 4))
    cur = rng.normal(size=(5000, 4))
    cur[:, 0] += 1.0
    rep = drift(ref, cur)
    assert rep.drifted == ["x0"]
    assert rep.share == pytest.approx(0.25) and rep.dataset_drift is False
    assert rep.column("x0")["psi"] >= 0.25 and any("PSI" in s for s in rep.column("x0")["reasons"])
    cur[:, 1] += 1.0
    rep2 = drift(ref, cur)
    assert rep2.dataset_drift is True and set(rep2.drifted) == {"x0", "x1"}
    d = rep2.to_dict()
    assert d["thresholds"]["psi"] == 0.1 and d["thresholds"]["psi_major"] == 0.25
    assert d["thresholds"]["wasserstein_normed"] == 0.1 and d["thresholds"]["js"] == 0.1
    assert d["thresholds"]["alpha"] == 0.05 and d["thresholds"]["p_adjust"] == "benjamini-hochberg"
    json.dumps(d)
    # a tiny shift on a large sample is significant but not a drift: effect sizes stay below thresholds
    big = rng.normal(size=(200_000, 1))
    small = rng.normal(size=(200_000, 1)) + 0.03
    r = drift(big, small).column("x0")
    assert r["ks_p_adj"] < 0.05 and r["drift"] is False


def test_gates():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(3000, 3))
    cur = ref + [0, 0, 2.0]
    rep = drift(ref, cur)
    assert rep.check("max_psi < 0.25").passed is False
    assert rep.check(["drift_share <= 0.5", "psi.x0 < 0.1"]).passed is True
    assert rep.gates is not None and "Gates" in rep.to_html()
    with pytest.raises(ValidationError, match="psi.x0"):
        rep.check("psi.nope < 0.1")


def test_profile_round_trip_and_comparison():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame(
        {"a": rng.normal(size=20_000), "b": rng.exponential(size=20_000), "c": rng.choice(["x", "y", "z"], 20_000)}
    )
    cur = pd.DataFrame(
        {"a": rng.normal(0.2, 1, size=8_000), "b": rng.exponential(1.3, size=8_000), "c": rng.choice(["x", "y"], 8_000)}
    )
    prof = profile(ref)
    text = json.dumps(prof.to_dict())
    assert len(text) < 200_000
    back = Profile.from_dict(json.loads(text))
    raw, viap = drift(ref, cur), drift(back, cur)
    for c in ("a", "b", "c"):
        r, p = raw.column(c), viap.column(c)
        assert p["psi"] == pytest.approx(r["psi"], rel=1e-12)
        assert p["js"] == pytest.approx(r["js"], rel=1e-12)
        assert p["drift"] == r["drift"]
    assert viap.column("c")["chi2_p"] == pytest.approx(raw.column("c")["chi2_p"], rel=1e-12)
    for c in ("a", "b"):  # approximate from the 1001 stored quantiles
        assert abs(viap.column(c)["ks"] - raw.column(c)["ks"]) < 2e-3
        assert viap.column(c)["wasserstein"] == pytest.approx(raw.column(c)["wasserstein"], rel=0.05)
        assert any("approximated" in n for n in viap.column(c)["notes"])
    assert viap.from_profile and viap.to_dict()["from_profile"] is True


def test_prediction_drift_with_model(tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    X = rng.normal(size=(4000, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    cur = rng.normal(size=(3000, 3)) + [1.5, 0, 0]
    rep = drift(X, cur, model=model)
    assert rep.prediction is not None and rep.prediction["drift"] is True
    assert "prediction" in rep.to_text()
    prof = profile(X, model=model)
    prof.save(tmp_path / "p.json")
    rep2 = drift(Profile.load(tmp_path / "p.json"), cur, model=model)
    assert rep2.prediction["psi"] == pytest.approx(rep.prediction["psi"], rel=1e-9)
    with pytest.raises(ValidationError, match="profile holds no predictions"):
        drift(profile(X), cur, model=model)


def test_torch_tensor_input_and_html():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ref = torch.tensor(rng.normal(size=(2000, 3)), dtype=torch.float32)
    cur = ref + torch.tensor([0.0, 0.0, 1.0])
    rep = drift(ref, cur)
    assert rep.drifted == ["x2"]
    html = rep.to_html()
    assert "data:image/svg+xml;base64," in html and "<script" not in html and len(html) < 200_000
    assert "PSI &gt;= 0.1" in html or "PSI >= 0.1" in html


# -- bad input: one clear sentence each ---------------------------------------


def test_different_columns():
    a = pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]})
    b = pd.DataFrame({"x": [1.0, 2.0], "z": [1.0, 2.0]})
    with pytest.raises(
        ValidationError, match=r"different columns: the current lacks \['y'\] and the current has extra \['z'\]"
    ):
        drift(a, b)
    assert drift(a, b, columns=["x"]).columns[0]["column"] == "x"


def test_different_dtypes_and_non_numeric_values():
    a = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    b = pd.DataFrame({"x": ["1", "2", "oops"]})
    with pytest.raises(
        ValidationError,
        match=r"Column 'x' is numeric in the reference but the current holds "
        r"non-numeric values \(e.g. 'oops' in 1 rows\)",
    ):
        drift(a, b)
    # numbers stored as text are read as numbers
    ok = drift(a, pd.DataFrame({"x": ["1", "2", "3"]}))
    assert ok.column("x")["ks"] == 0.0


def test_all_nan_and_constant_columns_are_reported():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"nan": np.full(500, np.nan), "const": np.ones(500), "ok": rng.normal(size=500)})
    cur = pd.DataFrame({"nan": np.full(400, np.nan), "const": np.ones(400), "ok": rng.normal(size=400)})
    rep = drift(ref, cur)
    r = rep.column("nan")
    assert r["drift"] is None and "all values are missing in the reference" in r["notes"][0]
    c = rep.column("const")
    assert c["drift"] is False and "constant in the reference" in c["notes"][0]
    assert rep.to_html() and len(rep.comparable) == 2
    moved = drift(ref, cur.assign(const=2.0)).column("const")
    assert moved["drift"] is True and moved["wasserstein_normed"] is None


def test_empty_data():
    with pytest.raises(ValidationError, match=r"The current is empty \(shape \(0, 2\)\)"):
        drift(np.ones((5, 2)), np.ones((0, 2)))
    with pytest.raises(ValidationError, match="The reference is empty"):
        drift(pd.DataFrame({"a": []}), pd.DataFrame({"a": [1.0]}))


def test_unknown_method_lists_known():
    with pytest.raises(ValidationError, match=r"Unknown drift method 'kss'. Did you mean: ks\? Known methods: psi, ks"):
        drift(np.ones((5, 1)), np.ones((5, 1)), methods=("kss",))


def test_bad_options():
    with pytest.raises(ValidationError, match="alpha must be a number in"):
        drift(np.ones((5, 1)), np.ones((5, 1)), alpha=5)
    with pytest.raises(ValidationError, match="thresholds has unknown keys"):
        drift(np.ones((5, 1)), np.ones((5, 1)), thresholds={"kl": 1})
    with pytest.raises(ValidationError, match="not a reference profile"):
        Profile.from_dict({"columns": {}})
