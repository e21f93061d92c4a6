"""A real MLflow tracking server (SQLite backend, artifacts on disk) on 127.0.0.1, for the session.

The server is the full ``mlflow`` package, which pins pyarrow<26, so it lives in its own
virtualenv: ``MODELOPS_MLFLOW_SERVER`` (the ``mlflow`` executable), else
``bench/.venvs/mlflow-server/bin/mlflow`` (``make mlflow-server`` creates it), else ``mlflow``
on PATH. The tests talk to it with the mlflow client installed here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from realparts import free_port, require_real

ROOT = Path(__file__).resolve().parents[2]


def _server_exe() -> str | None:
    env = os.environ.get("MODELOPS_MLFLOW_SERVER")
    if env:
        return env
    local = ROOT / "bench" / ".venvs" / "mlflow-server" / "bin" / "mlflow"
    if local.is_file():
        return str(local)
    found = shutil.which("mlflow")
    # the mlflow-skinny client installs an `mlflow` command without the server: check that it has one
    if found and subprocess.run([found, "server", "--help"], capture_output=True, timeout=120).returncode == 0:
        return found
    return None


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """The tracking URI of a real MLflow server started for these tests."""
    pytest.importorskip("mlflow", reason="the mlflow client (jupyter-modelops[mlflow]) is not installed")
    exe = _server_exe()
    if exe is None:
        msg = "no MLflow tracking server (make mlflow-server creates bench/.venvs/mlflow-server)"
        if require_real():
            pytest.fail(msg)
        pytest.skip(msg)
    work = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen(
        [
            exe,
            "server",
            "--backend-store-uri",
            f"sqlite:///{work / 'mlflow.db'}",
            "--artifacts-destination",
            str(work / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "the MLflow server did not start:\n" + (work / "server.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.5)
        yield uri
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@pytest.fixture
def tracking(mlflow_server, monkeypatch):
    """The server as MLflow's default for this test (MLFLOW_TRACKING_URI), and its client."""
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    yield MlflowClient(mlflow_server)
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture(scope="session")
def clf_data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=400, n_features=5, random_state=0)
    return X, y


@pytest.fixture(scope="session")
def clf(clf_data):
    from sklearn.linear_model import LogisticRegression

    X, y = clf_data
    return LogisticRegression(max_iter=500).fit(X, y)
