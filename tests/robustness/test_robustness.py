"""robustness(): numbers checked independently, intervals, NaN handling, gates, torch FGSM/PGD, input forms."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_modelops import robustness
from jupyter_modelops.exceptions import ValidationError


def test_default_suite_on_mixed_dataframe(mixed):
    model, df, y = mixed
    rep = robustness(model, df, y, n_boot=200)
    by = {(r["perturbation"], r.get("severity")): r for r in rep.rows}
    assert {r["perturbation"] for r in rep.rows} >= {
        "noise",
        "missing",
        "flip",
        "shift",
        "scale",
        "extremes",
        "dropout",
        "fgsm",
        "pgd",
    }
    assert by[("fgsm", None)]["status"] == "skipped" and "torch" in by[("fgsm", None)]["note"]
    for r in rep.ok_rows:
        assert r["flip_rate_low"] <= r["flip_rate"] <= r["flip_rate_high"]
        assert r["metric_drop_low"] <= r["metric_drop"] <= r["metric_drop_high"]
        assert r["metric_drop"] == pytest.approx(r["metric_clean"] - r["metric_perturbed"])
    # stronger noise moves more predictions (common random numbers across severities)
    flips = [by[("noise", s)]["flip_rate"] for s in (0.01, 0.05, 0.1, 0.2)]
    assert flips == sorted(flips) and flips[-1] > flips[0]
    # the feature the model leans on ranks first
    assert rep.features[0]["feature"] == "x0"
    html = rep.to_html()
    assert "data:image/svg+xml;base64," in html and "<script" not in html and "Robustness report" in html
    d = rep.to_dict()
    assert d["summary"]["worst"] is not None and d["base_metric"]["name"] == "accuracy"


def test_flip_rate_and_drop_match_a_direct_computation(mixed):
    model, df, y = mixed

    def plus_one_std(X, rng, severity):
        X = X.copy()
        X["x0"] = X["x0"] + severity * 3.0
        return X

    rep = robustness(
        model, df, y, perturbations={"bump": plus_one_std}, severities={"bump": [1.0]}, n_boot=300, sensitivity=False
    )
    r = rep.row("bump", 1.0)
    clean = model.predict(df)
    moved = model.predict(plus_one_std(df, None, 1.0))
    assert r["flip_rate"] == pytest.approx(np.mean(clean != moved), abs=1e-12)
    assert r["metric_drop"] == pytest.approx(np.mean(clean == y) - np.mean(moved == y), abs=1e-12)
    p0, p1 = model.predict_proba(df)[:, 1], model.predict_proba(plus_one_std(df, None, 1.0))[:, 1]
    assert r["mean_abs_delta"] == pytest.approx(np.mean(np.abs(p0 - p1)), rel=1e-9)
    # the paired interval is close to a naive paired bootstrap
    rng = np.random.default_rng(0)
    drops = []
    c0, c1 = clean == y, moved == y
    for _ in range(300):
        i = rng.integers(0, len(y), len(y))
        drops.append(c0[i].mean() - c1[i].mean())
    lo, hi = np.percentile(drops, [2.5, 97.5])
    assert r["metric_drop_low"] == pytest.approx(lo, abs=0.01) and r["metric_drop_high"] == pytest.approx(hi, abs=0.01)


def test_model_without_nan_support_says_so_and_impute_works():
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(800, 4, random_state=0)
    lr = LogisticRegression().fit(X, y)
    rep = robustness(lr, X, y, perturbations="missing", n_boot=100, sensitivity=False)
    r = rep.row("missing", 0.05)
    assert r["status"] == "unsupported"
    assert "cannot take missing values" in r["note"] and "impute='mean'" in r["note"]
    rep2 = robustness(lr, X, y, perturbations="missing", impute="mean", n_boot=100, sensitivity=False)
    assert rep2.row("missing", 0.2)["status"] == "ok" and rep2.row("missing", 0.2)["imputed"] == "mean"
    hgb = HistGradientBoostingClassifier(max_iter=20).fit(X, y)
    rep3 = robustness(hgb, X, y, perturbations="missing", n_boot=100, sensitivity=False)
    assert rep3.row("missing", 0.2)["status"] == "ok" and rep3.row("missing", 0.2)["imputed"] is None
    with pytest.raises(ValidationError, match="impute must be one of mean, median, most_frequent"):
        robustness(lr, X, y, impute="zero")


def test_gates(mixed):
    model, df, y = mixed
    rep = robustness(model, df, y, perturbations="noise,shift", n_boot=200, sensitivity=False)
    g = rep.check("flip_rate <= 0.05 at noise 0.01")
    assert g.passed and g.results[0].judged_on == "high"
    assert rep.check(["flip_rate <= 0.01 at shift 1.0"]).passed is False
    allsev = rep.check("accuracy_drop <= 0.5 at noise")
    assert len(allsev.results) == 4
    assert rep.gates is allsev and "Gates" in rep.to_text()
    with pytest.raises(ValidationError, match="expected 'METRIC OP NUMBER at PERTURBATION"):
        rep.check("flip_rate <= 0.05")
    with pytest.raises(ValidationError, match="No perturbation 'nois'"):
        rep.check("flip_rate <= 0.05 at nois 0.05")
    with pytest.raises(ValidationError, match="ran at severities"):
        rep.check("flip_rate <= 0.05 at noise 0.3")
    with pytest.raises(ValidationError, match="Known metrics"):
        rep.check("flipz <= 0.05 at noise 0.05")


def test_without_labels_and_regression():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    yv = X @ [2.0, 0.5, 0.0] + rng.normal(scale=0.1, size=1000)
    model = Ridge().fit(X, yv)
    rep = robustness(model, X, yv, perturbations="noise", n_boot=200)
    r = rep.row("noise", 0.2)
    assert rep.task == "regression" and r["flip_rate"] is None and r["metric"] == "mae"
    (e0,) = [np.mean(np.abs(model.predict(X) - yv))]
    assert r["metric_clean"] == pytest.approx(e0)
    assert r["metric_drop_low"] <= r["metric_drop"] <= r["metric_drop_high"] and r["metric_drop"] > 0
    assert rep.features[0]["feature"] == "x0"
    nolab = robustness(model, X, perturbations="noise", n_boot=100)
    assert nolab.row("noise", 0.1)["mean_abs_delta"] > 0 and "metric_drop" not in nolab.row("noise", 0.1)


def test_unknown_perturbation_and_bad_options(mixed):
    model, df, y = mixed
    with pytest.raises(ValidationError, match=r"Unknown perturbation 'noize'.*Known perturbations: noise, missing"):
        robustness(model, df, y, perturbations="noise,noize")
    with pytest.raises(ValidationError, match="needs a differentiable torch.nn.Module"):
        robustness(model, df, y, perturbations="fgsm")
    with pytest.raises(ValidationError, match="y has 5 rows but X has 3,000"):
        robustness(model, df, y[:5])
    with pytest.raises(ValidationError, match="severities names"):
        robustness(model, df, y, perturbations="noise", severities={"shift": [1]})
    with pytest.raises(ValidationError, match="X is empty"):
        robustness(model, df.iloc[:0], None)


torch = pytest.importorskip("torch")  # noqa: E402


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

    def forward(self, x):
        return self.net(x)


@pytest.fixture(scope="module")
def torch_model():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 4)).astype(np.float32) * [1, 10, 0.1, 1]
    y = ((X[:, 0] + X[:, 1] / 10) > 0).astype(np.int64)
    net = _Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    for _ in range(80):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    return net, xt, y


def test_fgsm_and_pgd_on_a_torch_model(torch_model):
    net, X, y = torch_model
    net.train()  # the caller's mode must come back
    rep = robustness(net, X, y, perturbations="noise,fgsm,pgd", n_boot=200, sensitivity=False)
    assert net.training is True
    f = [rep.row("fgsm", e)["flip_rate"] for e in (0.01, 0.05, 0.1)]
    p = [rep.row("pgd", e)["flip_rate"] for e in (0.01, 0.05, 0.1)]
    assert f == sorted(f) and p == sorted(p) and f[-1] > 0.05
    # adversarial steps hurt more than random noise of the same size, PGD at least as much as FGSM
    assert f[-1] > rep.row("noise", 0.1)["flip_rate"]
    assert rep.row("pgd", 0.1)["metric_drop"] >= rep.row("fgsm", 0.1)["metric_drop"] - 0.01


def test_attack_stays_in_the_box(torch_model):
    from jupyter_modelops.drift_detection._columns import to_table
    from jupyter_modelops.robustness_testing.adversarial import attack
    from jupyter_modelops.robustness_testing.core import column_stats
    from jupyter_modelops.robustness_testing.perturbations import Context

    net, X, y = torch_model
    tab = to_table(X, what="X")
    st = column_stats(tab)
    out = attack(tab, Context(stats=st, model=net, y=y, task="classification"), eps=0.05, steps=10)
    for c in tab.names:
        d = np.abs(out.columns[c] - tab.columns[c])
        assert d.max() <= 0.05 * st[c]["std"] * (1 + 1e-5) + 1e-6
        assert d.max() > 0


def test_numpy_and_tensor_inputs_give_the_same_numbers(torch_model):
    net, X, y = torch_model
    a = robustness(net, X, y, perturbations="noise", n_boot=100, sensitivity=False)
    b = robustness(net, X.numpy(), y, perturbations="noise", n_boot=100, sensitivity=False)
    assert a.row("noise", 0.1)["flip_rate"] == pytest.approx(b.row("noise", 0.1)["flip_rate"], abs=1e-3)


def test_public_names_stay_callable_whatever_is_imported_first():
    import subprocess
    import sys

    code = (
        "import jupyter_modelops.robustness_testing, jupyter_modelops.drift_detection\n"
        "import jupyter_modelops as mo\n"
        "from jupyter_modelops import robustness, drift\n"
        "assert callable(robustness) and robustness is mo.robustness\n"
        "assert robustness.__name__ == 'robustness'\n"
        "assert callable(drift) and drift is mo.drift and drift.__name__ == 'drift'\n"
        "assert callable(mo.slices) and callable(mo.profile)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
