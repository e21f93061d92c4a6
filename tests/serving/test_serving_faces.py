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
from IPython.core.error import UsageError

from realparts import free_port


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
    return subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", *args], capture_output=True, text=True, timeout=180, **kw
    )


def test_cli_serve_foreground_predict_and_sigterm(model_dir, data, hgb, tmp_path):
    import pandas as pd

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_modelops.cli", "serve", "--model-dir", str(model_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
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


def _secure_pair(tmp_path):
    from test_serving_security import TOKEN, _cert, _token_file

    cert, key = _cert(tmp_path, "faces")
    return TOKEN, _token_file(tmp_path, TOKEN), cert, key


def test_magic_serve_with_token_tls_limits_capture_then_predict_captures_labels(shell, model_dir, data, hgb, tmp_path):
    import socket
    import ssl

    import pandas as pd

    from jupyter_modelops.capture import CaptureSummary, LabelsResult

    token, tf, cert, key = _secure_pair(tmp_path)
    store = tmp_path / "captures"
    shell.user_ns["X"] = data[0]
    with pytest.raises(UsageError, match="both --tls-cert and --tls-key"):
        shell.run_line_magic("modelops", f"serve {model_dir} --name fsec --tls-cert {cert}")
    with pytest.raises(UsageError, match="capture_rate"):
        shell.run_line_magic("modelops", f"serve {model_dir} --name fsec --capture true --capture-rate 2")
    dep = shell.run_line_magic(
        "modelops",
        f"serve {model_dir} --name fsec --token-file {tf} --tls-cert {cert} --tls-key {key} "
        f"--max-headers 20 --header-timeout-s 2 --open-metrics --capture {store} --capture-rate 1 -o dep",
    )
    try:
        assert dep.url.startswith("https://127.0.0.1:") and dep.status()["ready"]
        ctx = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", int(dep.port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:  # --max-headers reached the server
                s.sendall(
                    b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"
                    + b"".join(b"X-N%d: 1\r\n" % i for i in range(30))
                    + b"\r\n"
                )
                assert s.recv(64).startswith(b"HTTP/1.1 431")
        with urllib.request.urlopen(dep.url + "/metrics", context=ctx, timeout=10) as r:  # --open-metrics
            assert r.status == 200
        url = dep.url
        p = shell.run_line_magic("modelops", f"predict {url} X[:3] --token={token} --ca-file {cert}")
        np.testing.assert_array_equal(p["label"], hgb.predict(data[0][:3]))
        p = shell.run_line_magic("modelops", f"predict {url} X[3:5] --token-file {tf} --insecure")
        np.testing.assert_array_equal(p["label"], hgb.predict(data[0][3:5]))
        with pytest.raises(UsageError, match="HTTP 401"):
            shell.run_line_magic("modelops", f"predict {url} X[:1] --ca-file {cert}")
        with pytest.raises(UsageError, match="(?i)certificate"):
            shell.run_line_magic("modelops", f"predict {url} X[:1] --token={token}")
        with pytest.raises(UsageError, match="contradict"):
            shell.run_line_magic("modelops", f"predict {url} X[:1] --ca-file {cert} --insecure")
    finally:
        shell.run_line_magic("modelops", "stop fsec")  # the capture writer flushes as the server drains
    summary = shell.run_line_magic("modelops", f"captures hgb --since 1h --store {store} -o s")
    assert isinstance(summary, CaptureSummary) and shell.user_ns["s"] is summary
    assert summary.rows == 5 and summary.requests == 2 and summary.sampling == [1.0] and summary.labelled == 0
    ids = summary.frame.drop_duplicates("request_id")["request_id"].tolist()
    shell.user_ns["truth"] = pd.DataFrame({"rid": ids, "y": [1, 0]})
    res = shell.run_line_magic("modelops", f"labels add hgb truth --id-column rid --label-column y --store {store}")
    assert isinstance(res, LabelsResult) and res.written == 2 and res.unknown == 0
    again = shell.run_line_magic("modelops", f"captures hgb --store {store} --columns label")
    assert again.labelled == 2 and again.rows == 5  # row 0 of each request is labelled
    assert "label" in again.frame.columns and "probabilities" not in again.frame.columns
    with pytest.raises(UsageError, match="'nothing_such'"):
        shell.run_line_magic("modelops", f"captures hgb --store {store} --columns nothing_such")
    with pytest.raises(UsageError, match="'rid'.*not in the labels data|not in the labels data"):
        shell.run_line_magic("modelops", f"labels add hgb truth --id-column request --label-column y --store {store}")
    with pytest.raises(UsageError, match="since"):
        shell.run_line_magic("modelops", f"captures hgb --since yesterday --store {store}")


def test_cli_serve_foreground_with_token_tls_and_capture_then_predict_flags(model_dir, data, hgb, tmp_path):
    import ssl

    import pandas as pd

    token, tf, cert, key = _secure_pair(tmp_path)
    store = tmp_path / "captures"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_modelops.cli",
            "serve",
            "--model-dir",
            str(model_dir),
            "--port",
            str(port),
            "--token-file",
            str(tf),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
            "--max-connections",
            "50",
            "--keepalive-timeout-s",
            "5",
            "--capture",
            str(store),
            "--capture-rate",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    url = f"https://127.0.0.1:{port}"
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        end = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/v2/health/ready", context=ctx, timeout=1).status == 200:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < end, "the server never became ready"
                time.sleep(0.05)
        csv = tmp_path / "rows.csv"
        pd.DataFrame(data[0][:3], columns=[f"f{i}" for i in range(20)]).to_csv(csv, index=False)
        out = _cli("predict", url, "--data", str(csv), "--token-file", str(tf), "--ca-file", str(cert), "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["outputs"]["label"] == hgb.predict(data[0][:3]).tolist()
        out = _cli("predict", url, "--data", str(csv), f"--token={token}", "--insecure", "--json")
        assert out.returncode == 0, out.stderr
        denied = _cli("predict", url, "--data", str(csv), "--ca-file", str(cert))
        assert denied.returncode != 0 and "401" in denied.stderr and len(denied.stderr.strip().splitlines()) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert "on https://127.0.0.1" in proc.stdout.read().decode()
    out = _cli("captures", "hgb", "--since", "1h", "--store", str(store), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["rows"] == 6 and doc["requests"] == 2 and doc["sampling"] == [1.0] and doc["labelled"] == 0
    text = _cli("captures", "hgb", "--store", str(store))
    assert text.returncode == 0 and "6 rows (2 requests)" in text.stdout and "0.0% labelled" in text.stdout
    from jupyter_modelops.capture import captures

    ids = captures("hgb", store=str(store)).drop_duplicates("request_id")["request_id"].tolist()
    labels = tmp_path / "labels.parquet"
    pd.DataFrame({"rid": ids, "y": [1, 0]}).to_parquet(labels)
    out = _cli(
        "labels",
        "add",
        "hgb",
        str(labels),
        "--id-column",
        "rid",
        "--label-column",
        "y",
        "--store",
        str(store),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["written"] == 2
    doc = json.loads(_cli("captures", "hgb", "--store", str(store), "--json").stdout)
    assert doc["labelled"] == 2
    bad = _cli("labels", "add", "hgb", str(labels), "--id-column", "id", "--label-column", "y", "--store", str(store))
    assert bad.returncode == 2 and "Did you mean: rid" in bad.stderr
    bad = _cli("serve", "--model-dir", str(model_dir), "--port", str(free_port()), "--tls-key", str(key))
    assert bad.returncode == 2 and "both --tls-cert and --tls-key" in bad.stderr
