"""The faces: %modelops robustness|drift|slices in a real IPython shell; modelops CLI in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError


@pytest.fixture(scope="module")
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


@pytest.fixture(scope="module")
def data():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=1200), "b": rng.normal(size=1200), "g": rng.choice(["u", "v"], 1200)})
    y = (X.a + 0.5 * X.b > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(X[["a", "b"]], y)
    return model, X, y


def test_magic_robustness(ip, data):
    model, X, y = data
    ip.user_ns.update(m=model, Xn=X[["a", "b"]], yy=y)
    rep = ip.run_line_magic(
        "modelops",
        'robustness m Xn yy --perturb noise,shift --n-boot 100 --check "flip_rate<=0.05 at noise 0.01" -o rob',
    )
    assert ip.user_ns["rob"] is rep
    assert rep.gates.passed and "flip rate" in rep._repr_html_()
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("modelops", "robustness m Xn yy --perturb nosie")
    assert "Unknown perturbation 'nosie'" in str(info.value) and "Known perturbations" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match="The X 'nope' is not defined"):
        ip.run_line_magic("modelops", "robustness m nope")


def test_magic_drift_and_slices(ip, data):
    model, X, y = data
    cur = X.assign(a=X.a + 1.0)
    ip.user_ns.update(m=model, ref=X[["a", "b"]], cur=cur[["a", "b"]], Xa=X, yy=y)
    rep = ip.run_line_magic("modelops", "drift ref cur --model m -o d")
    assert ip.user_ns["d"] is rep and rep.drifted == ["a"] and rep.prediction["drift"] is True
    assert "Drift report" in rep._repr_html_()
    with pytest.raises(UsageError, match="different columns"):
        ip.run_line_magic("modelops", "drift Xa cur")
    ip.user_ns["m2"] = lambda X: (X["a"] > 0).astype(int).to_numpy()
    s = ip.run_line_magic("modelops", "slices m2 Xa yy --by g --n-boot 100")
    assert {seg["segment"] for seg in s.segments} == {"u", "v"}


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_cli_drift_profile_gates_and_bad_input(tmp_path, data):
    _, X, _ = data
    X.to_csv(tmp_path / "ref.csv", index=False)
    X.assign(a=X.a + 1.0).to_csv(tmp_path / "cur.csv", index=False)
    out = _cli("drift", "--reference", "ref.csv", "--current", "cur.csv", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["drifted"] == ["a"] and d["kind"] == "drift"
    out = _cli("drift", "--reference", "ref.csv", "--save-profile", "ref.json", cwd=tmp_path)
    assert out.returncode == 0 and (tmp_path / "ref.json").exists()
    out = _cli(
        "drift",
        "--reference",
        "ref.json",
        "--current",
        "cur.csv",
        "--check",
        "drift_share<=0.2",
        "--html",
        "d.html",
        cwd=tmp_path,
    )
    assert (
        out.returncode == 1
        and "FAIL" in out.stdout
        and (tmp_path / "d.html").read_text().count("data:image/svg+xml;base64,") >= 1
    )
    X.drop(columns=["b"]).to_csv(tmp_path / "bad.csv", index=False)
    out = _cli("drift", "--reference", "ref.csv", "--current", "bad.csv", cwd=tmp_path)
    assert out.returncode == 2 and "different columns" in out.stderr and "Traceback" not in out.stderr


def test_cli_robustness_and_slices(tmp_path, data):
    # a joblib file (loaded with --trust): importing skops pulls in all of scikit-learn and torch per call
    import joblib

    model, X, y = data
    joblib.dump(model, tmp_path / "m.joblib")
    X[["a", "b"]].assign(label=y).to_csv(tmp_path / "test.csv", index=False)
    out = _cli(
        "robustness",
        "--model",
        "m.joblib",
        "--trust",
        "--data",
        "test.csv",
        "--target",
        "label",
        "--perturb",
        "noise,missing",
        "--impute",
        "mean",
        "--n-boot",
        "100",
        "--json",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert {r["perturbation"] for r in d["rows"]} == {"noise", "missing"}
    assert all(r["status"] == "ok" for r in d["rows"])
    out = _cli(
        "robustness",
        "--model",
        "m.joblib",
        "--trust",
        "--data",
        "test.csv",
        "--target",
        "label",
        "--perturb",
        "shift",
        "--n-boot",
        "100",
        "--check",
        "flip_rate<=0.01 at shift 1",
        cwd=tmp_path,
    )
    assert out.returncode == 1 and "FAIL" in out.stdout
    out = _cli("robustness", "--model", "m.joblib", "--trust", "--data", "test.csv", "--perturb", "nosie", cwd=tmp_path)
    assert out.returncode == 2 and "Known perturbations" in out.stderr
    out = _cli(
        "slices",
        "--model",
        "m.joblib",
        "--trust",
        "--data",
        "test.csv",
        "--target",
        "label",
        "--by",
        "a",
        "--n-boot",
        "100",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "SliceReport 4 segments" in out.stdout
