"""Fixtures for inference capture: a model directory, real server processes, an S3-compatible server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from realparts import free_port, require_real

N_FEATURES = 5
FEATURES = [f"f{i}" for i in range(N_FEATURES)]


@pytest.fixture(scope="session")
def data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=400, n_features=N_FEATURES, n_informative=3, random_state=0)
    return X, y


@pytest.fixture(scope="session")
def model_dir(data, tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    from jupyter_modelops.serving.modeldir import write_model_dir

    X, y = data
    model = LogisticRegression().fit(X, y)
    return write_model_dir(
        model, tmp_path_factory.mktemp("models") / "lr", name="lr", version=2, feature_names=FEATURES
    )


class Server:
    """A real ``python -m jupyter_modelops.serving`` process; stopped by pid at teardown."""

    def __init__(self, model_dir: Path, *args: str, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "jupyter_modelops.serving",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--model-dir",
            str(model_dir),
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        raise RuntimeError("server not ready after 60 s")

    def output(self) -> str:
        return self.proc.stdout.read().decode(errors="replace") if self.proc.poll() is not None else ""

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name + " ") or line.startswith(name + "{")
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
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

    def start(model_dir, *args: str, **kwargs) -> Server:
        s = Server(model_dir, *args, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def infer(client, X: np.ndarray, *, binary: bool, request_id: str = "") -> tuple[str, np.ndarray, np.ndarray]:
    """One tritonclient call; returns (response id, label, probabilities)."""
    import tritonclient.http as th

    inp = th.InferInput("input", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=binary)
    outs = [
        th.InferRequestedOutput("label", binary_data=binary),
        th.InferRequestedOutput("probabilities", binary_data=binary),
    ]
    r = client.infer("lr", [inp], outputs=outs, request_id=request_id)
    return r.get_response()["id"], r.as_numpy("label"), r.as_numpy("probabilities")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's standalone S3-compatible server on 127.0.0.1 (a real HTTP server, as s3fs's own tests use)."""
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as exc:
        msg = f"moto[server] and s3fs are needed for the object-storage tests ({exc})"
        if require_real():
            pytest.fail(msg)
        pytest.skip(msg)
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except Exception:  # noqa: BLE001 - starting
            time.sleep(0.1)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
    }
    yield env
    proc.terminate()
    proc.wait(10)
    log.close()
