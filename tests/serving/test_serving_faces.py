"""The faces: %modelops serve/predict/stop in a real IPython shell, and the modelops CLI
(serve in the foreground, as in a container; serve --detach; predict; stop)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from realparts import free_port
from IPython.core.error import UsageError


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    ip = InteractiveShell.instance(config=c)
    ip.run_line_magic("load_ext", "jupyter_modelops")
    yield ip
    InteractiveShell.clear_instance()


def test_magics_serve_predict_stop(shell, model_dir, data, hgb):
    from jupyter_modelops.serving.local import LocalDeployment, StopResult

    shell.user_ns["X"] = data[0]
    dep = shell.run_line_magic("modelops", f"serve {model_dir} --name m1 -o dep")
    try:
        assert isinstance(dep, LocalDeployment) and shell.user_ns["dep"] is dep
        assert "m1" in dep._repr_html_() and dep.status()["ready"]
        p = shell.run_line_magic("modelops", "predict dep X[:4]")
        np.testing.assert_array_equal(p["label"], hgb.predict(data[0][:4]))
        assert "probabilities" in p._repr_html_()
        for name in ("m1", "m2"):  # the shell is shared: a variable of that name would win over the deployment
            shell.user_ns.pop(name, None)
        p2 = shell.run_line_magic("modelops", "predict m1 X[:2] --binary")  # by deployment name
        np.testing.assert_array_equal(p2["label"], hgb.predict(data[0][:2]))
        with pytest.raises(UsageError, match="no local deployment named 'm2'"):
            shell.run_line_magic("modelops", "predict m2 X[:2]")
        with pytest.raises(UsageError, match="not defined in this notebook"):
            shell.run_line_magic("modelops", "predict dep Y")
    finally:
        res = shell.run_line_magic("modelops", "stop m1")
    assert isinstance(res, StopResult) and res.statuses[0]["running"] is False


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "jupyter_modelops.cli", *args], capture_output=True, text=True,
                          timeout=180, **kw)


def test_cli_serve_foreground_predict_and_sigterm(model_dir, data, hgb, tmp_path):
    import pandas as pd

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_modelops.cli", "serve", "--model-dir", str(model_dir),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status == 200:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        rows = pd.DataFrame(data[0][:3], columns=[f"f{i}" for i in range(20)])
        rows["target"] = 1
        csv = tmp_path / "rows.csv"
        rows.to_csv(csv, index=False)
        out = _cli("predict", f"http://127.0.0.1:{port}", "--data", str(csv), "--drop", "target", "--json")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["outputs"]["label"] == hgb.predict(data[0][:3]).tolist()
        bad = _cli("predict", f"http://127.0.0.1:{port}", "--data", str(csv))  # 21 columns
        assert bad.returncode == 2 and "expects [-1, 20]" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_cli_detach_and_stop(model_dir):
    out = _cli("serve", str(model_dir), "--detach", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ready"] is True and doc["target"] == "local"
    with urllib.request.urlopen(doc["url"] + "/v2/models/hgb/ready", timeout=5) as r:
        assert r.status == 200
    out = _cli("stop", "hgb")
    assert out.returncode == 0 and "Stopped 1" in out.stdout
    out = _cli("stop", "hbg")
    assert out.returncode == 3 and "Did you mean: hgb" in out.stderr
    out = _cli("serve")
    assert out.returncode == 2 and "either a model reference or --model-dir" in out.stderr
