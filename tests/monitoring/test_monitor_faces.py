"""monitor and alarm on the faces: the command line as a subprocess, the magic in a real IPython shell, REST jobs.

monitor reads what a real model server captured from real requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError

import jupyter_modelops as mo


@pytest.fixture
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
        cwd=cwd,
    )


@pytest.fixture
def cancer():
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer(as_frame=True)
    X, y = data.data.iloc[:, :6], data.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=5000).fit(X[:300], y[:300])
    mo.snapshot(model, "cancer", data=X[:300], alias="production")
    return model, X, y


def _infer(url: str, X: np.ndarray) -> str:
    body = {"inputs": [{"name": "input", "datatype": "FP64", "shape": list(X.shape), "data": X.ravel().tolist()}]}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["id"]


@pytest.fixture
def captured(cancer):
    """40 requests of 5 rows each, answered and captured by a real local model server."""
    model, X, y = cancer
    dep = mo.serve("cancer@production", capture=True)
    ids = []
    try:
        rows = X.to_numpy()[300:500]
        for i in range(0, 200, 5):
            ids.append(_infer(dep.infer_url, rows[i : i + 5]))
    finally:
        mo.stop(dep)
    return model, X, y, ids


def test_monitor_on_the_command_line_and_in_the_magic(captured, ip, tmp_path):
    model, X, y, ids = captured
    r = cli("monitor", "cancer@production", "--since", "1h", "--every", "20m", "--alpha", "0.01", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert sum(w["rows"] for w in doc["windows"]) == 200
    assert sum(w["requests"] for w in doc["windows"]) == 40
    assert doc["alpha"] == 0.01 and len(doc["windows"]) == 3
    assert doc["features"] == list(X.columns)
    html = tmp_path / "monitor.html"
    r = cli(
        "monitor",
        "cancer@production",
        "--since",
        "1h",
        "--every",
        "1h",
        "--horizon",
        "48",
        "--window-rows",
        "100",
        "--html",
        str(html),
    )
    assert r.returncode == 0, r.stderr
    page = html.read_text()
    assert "MonitorReport cancer@production: 1 windows, 200 rows" in page and "<table" in page
    assert "cancer@production" in r.stdout

    # the magic: a PerformanceEstimator from the notebook gives estimated performance per window
    ip.user_ns["est"] = mo.PerformanceEstimator(model.predict_proba(X[:300])[:, 1], y[:300])
    rep = ip.run_line_magic("modelops", "monitor cancer@production --since 1h --every 1h --performance est -o rep")
    assert ip.user_ns["rep"] is rep
    win = [w for w in rep.windows if w["rows"]]
    assert len(win) == 1 and win[0]["rows"] == 200
    acc = win[0]["estimated"]["accuracy"]
    assert 0 <= acc["low"] <= acc["estimate"] <= acc["high"] <= 1


def test_monitor_refuses_bad_input_in_one_sentence(captured, ip):
    r = cli("monitor", "cancer@production", "--since", "1h", "--every", "soon")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "every" in r.stderr
    r = cli("monitor", "cancer@production", "--since", "1h", "--score-column", "nope")
    assert r.returncode == 2 and "nope" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(UsageError, match="alpha"):
        ip.run_line_magic("modelops", "monitor cancer@production --since 1h --alpha 3")


def test_alarm_exit_codes_state_and_reset(cancer, ip, tmp_path):
    model, X, y = cancer
    ref_rows = X[:300]
    stable = tmp_path / "stable.csv"
    ref_rows.sample(100, random_state=1).to_csv(stable, index=False)
    drifted = tmp_path / "drifted.csv"
    shifted = ref_rows.sample(100, random_state=2).copy()
    shifted["mean radius"] += 3 * ref_rows["mean radius"].std()
    shifted.to_csv(drifted, index=False)
    state = tmp_path / "alarm.json"

    r = cli("alarm", "cancer@production", "--data", str(stable), "--state", str(state), "--horizon", "100", "--json")
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert first["alarm"] is False and first["windows_since_reset"] == 1 and first["horizon"] == 100
    assert json.loads(state.read_text())["model"] == "cancer@production"
    r = cli("alarm", "cancer@production", "--data", str(drifted), "--state", str(state), "--json")
    assert r.returncode == 1, r.stderr
    fired = json.loads(r.stdout)
    assert fired["alarm"] is True and fired["windows_since_reset"] == 2
    assert fired["columns"]["mean radius"]["alarm"] is True
    r = cli("alarm", "cancer@production", "--data", str(stable), "--state", str(state), "--reset", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["windows_since_reset"] == 1

    # the magic reads the window from a notebook variable and continues the same state
    ip.user_ns["w"] = shifted
    status = ip.run_line_magic("modelops", f"alarm cancer@production --data w --state {state} -o st")
    assert ip.user_ns["st"] is status and status.alarm is True and status.windows_since_reset == 2


def test_alarm_refuses_a_state_file_it_cannot_trust(cancer, tmp_path):
    model, X, y = cancer
    data = tmp_path / "w.csv"
    X[:50].to_csv(data, index=False)
    r = cli("alarm", "cancer@production", "--data", str(data), "--state", str(tmp_path / "state.txt"))
    assert r.returncode == 2 and ".json" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps({"kind": "modelops-sequential-drift", "schema": 1, "threshold": -1}))
    r = cli("alarm", "cancer@production", "--data", str(data), "--state", str(damaged))
    assert r.returncode == 2 and "damaged" in r.stderr and "Traceback" not in r.stderr
    assert json.loads(damaged.read_text())["threshold"] == -1  # left as it was
    other = tmp_path / "other.json"
    assert cli("alarm", "cancer@production", "--data", str(data), "--state", str(other)).returncode == 0
    r = cli("alarm", "cancer:1", "--data", str(data), "--state", str(other))
    assert r.returncode == 2 and "belongs to" in r.stderr
