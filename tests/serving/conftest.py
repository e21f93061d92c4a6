"""Fixtures for the model server: model directories and real server processes on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HERE = Path(__file__).resolve().parent
N_FEATURES = 20


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=N_FEATURES, n_informative=8, random_state=0)
    return X, y


@pytest.fixture(scope="session")
def hgb(data):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data
    return HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)


@pytest.fixture(scope="session")
def model_dir(hgb, tmp_path_factory):
    from jupyter_modelops.serving.modeldir import write_model_dir

    return write_model_dir(hgb, tmp_path_factory.mktemp("models") / "hgb", name="hgb", version=1)


def write_pickle_dir(directory: Path, model, *, name: str = "slow", n_features: int = 4) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    spec = {
        "schema": 1,
        "name": name,
        "version": "1",
        "flavor": "sklearn",
        "signature": {
            "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, n_features]}],
            "outputs": [
                {"name": "label", "datatype": "INT64", "shape": [-1]},
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
            ],
        },
        "artifacts": {"model": {"path": path.name, "sha256": _sha(path), "format": "pickle"}},
        # pickled here from the test's own object: trusted, as the registry marks what it writes itself
        "trust": {"trusted": True, "how": "memory"},
    }
    (directory / "modelops-model.json").write_text(json.dumps(spec))
    return directory


class Server:
    """A real ``python -m jupyter_modelops.serving`` process; stopped by pid at teardown."""

    def __init__(self, model_dirs, *args: str, env: dict | None = None, wait_ready: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "jupyter_modelops.serving", "--host", "127.0.0.1", "--port", str(self.port)]
        for d in model_dirs if isinstance(model_dirs, (list, tuple)) else [model_dirs]:
            cmd += ["--model-dir", str(d)]
        cmd += list(args)
        full_env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            **(env or {}),
        }
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait("/v2/health/ready")

    def wait(self, path: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout} s")

    def output(self) -> str:
        if self.proc.poll() is None:
            return ""
        return self.proc.stdout.read().decode(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def start_server():
    started: list[Server] = []

    def start(model_dirs, *args: str, **kwargs) -> Server:
        s = Server(model_dirs, *args, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def onnx_server(model_dir):
    s = Server(model_dir)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def joblib_model_dir(hgb, tmp_path_factory):
    from jupyter_modelops.serving.modeldir import write_model_dir

    return write_model_dir(
        hgb, tmp_path_factory.mktemp("models") / "hgb-joblib", name="hgb", version=1, onnx=False, native_format="joblib"
    )


@pytest.fixture(scope="session")
def native_server(joblib_model_dir):
    s = Server(joblib_model_dir, "--runtime", "native")
    yield s
    s.stop()


def row_body(X: np.ndarray, name: str = "input") -> bytes:
    return json.dumps(
        {"inputs": [{"name": name, "datatype": "FP64", "shape": list(X.shape), "data": X.ravel().tolist()}]}
    ).encode()
