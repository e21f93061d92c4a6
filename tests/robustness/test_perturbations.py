"""Every built-in perturbation does what it says, on a mixed table; plugins register by entry point."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from jupyter_modelops.drift_detection._columns import to_table
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.robustness_testing import perturbations as P
from jupyter_modelops.robustness_testing.core import column_stats


@pytest.fixture()
def tab(mixed):
    _, df, _ = mixed
    return to_table(df, what="X")


def _run(name, tab, s, seed=0):
    ctx = P.Context(stats=column_stats(tab))
    return P.registry.get(name).fn(tab, np.random.default_rng(seed), s, ctx), ctx


def test_noise_is_scaled_to_each_feature_std(tab):
    out, ctx = _run("noise", tab, 0.1)
    for c in ("x0", "x1", "x2"):
        d = out.columns[c] - tab.columns[c]
        assert d.std() == pytest.approx(0.1 * ctx.stats[c]["std"], rel=0.08)
    assert out.columns["city"] is tab.columns["city"]
    # the input is never changed
    assert not np.shares_memory(out.columns["x0"], tab.columns["x0"])


def test_missing_share(tab):
    out, _ = _run("missing", tab, 0.2)
    assert np.isnan(out.columns["x1"]).mean() == pytest.approx(0.2, abs=0.03)
    assert np.mean([v is None for v in out.columns["city"]]) == pytest.approx(0.2, abs=0.03)
    assert not np.isnan(tab.columns["x1"]).any()


def test_flip_moves_to_another_seen_category(tab):
    out, _ = _run("flip", tab, 0.3)
    before, after = tab.columns["city"], out.columns["city"]
    changed = before != after
    assert changed.mean() == pytest.approx(0.3, abs=0.04)
    assert set(after) <= {"a", "b", "c"}
    assert np.array_equal(out.columns["x0"], tab.columns["x0"])


def test_shift_and_scale(tab):
    out, ctx = _run("shift", tab, 0.5)
    assert np.allclose(out.columns["x2"] - tab.columns["x2"], 0.5 * ctx.stats["x2"]["std"])
    out, _ = _run("scale", tab, 10.0)
    assert np.allclose(out.columns["x1"], tab.columns["x1"] * 10)


def test_extremes_are_out_of_range(tab):
    out, ctx = _run("extremes", tab, 0.05)
    v, st = out.columns["x0"], ctx.stats["x0"]
    moved = v != tab.columns["x0"]
    assert moved.mean() == pytest.approx(0.05, abs=0.02)
    assert ((v[moved] > st["max"]) | (v[moved] < st["min"])).all()


def test_dropout_uses_mean_and_mode(tab):
    out, ctx = _run("dropout", tab, 1.0)
    assert np.all(out.columns["x0"] == ctx.stats["x0"]["mean"])
    assert set(out.columns["city"]) == {ctx.stats["city"]["mode"]}
    out, _ = _run("dropout", tab, 0.1)
    assert (out.columns["x1"] != tab.columns["x1"]).mean() == pytest.approx(0.1, abs=0.03)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ValidationError,
        match=r"Unknown perturbation 'nosie'. Did you mean: noise\? Known perturbations: "
        r"noise, missing, flip",
    ):
        P.registry.get("nosie")


def test_register_and_entry_point(tmp_path, monkeypatch):
    # a real distribution on sys.path declaring the entry point group
    pkg = tmp_path / "site"
    (pkg / "jmo_plugin_demo").mkdir(parents=True)
    (pkg / "jmo_plugin_demo" / "__init__.py").write_text(
        "import numpy as np\n"
        "def sign_flip(X, rng, severity):\n"
        "    '''negate a share of the values'''\n"
        "    X = np.array(X, dtype=float, copy=True)\n"
        "    X[rng.random(X.shape) < severity] *= -1\n"
        "    return X\n"
    )
    dist = pkg / "jmo_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: jmo-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[jupyter_modelops.perturbations]\nsign_flip = jmo_plugin_demo:sign_flip\n")
    monkeypatch.syspath_prepend(str(pkg))
    reg = P.PerturbationRegistry()
    assert "sign_flip" in reg.names()
    assert reg.get("sign_flip").description == "negate a share of the values"
    sys.modules.pop("jmo_plugin_demo", None)
    with pytest.raises(ValidationError, match="must be callable"):
        reg.register("bad", 42)
