"""Time to log a 100 MB version to MLflow: to_mlflow() next to MLflow's own log_model + register_model.

One run of each, side by side, against the same real MLflow tracking server
(SQLite backend, artifacts proxied to a local folder) on 127.0.0.1, started
from ``bench/.venvs/mlflow-server`` (``make mlflow-server``). The model is a
KNeighborsClassifier holding 100 MB of training rows (as bench/registry).

* ours: ``to_mlflow(ref)`` of a version already in the registry: reads and
  checks it, writes it in MLflow's sklearn flavor, logs params/tags/metrics
  with intervals and the HTML reports, uploads, registers and mirrors aliases.
* MLflow: ``mlflow.sklearn.log_model(model)`` in a run, then
  ``mlflow.register_model`` (MLflow's defaults: requirements inferred).

Writes bench/results/mlflow.json and mlflow.md.

Usage: .venv/bin/python bench/mlflow/bench_mlflow.py [--mb 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
SERVER = ROOT / "bench" / ".venvs" / "mlflow-server" / "bin" / "mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(work: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen(
        [
            str(SERVER),
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
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(uri + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, uri
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the MLflow server did not start: " + (work / "server.log").read_text()[-2000:])
        time.sleep(0.5)


def knn_model(mb: int):
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    rows = mb * 1024 * 1024 // (10 * 8)
    rng = np.random.default_rng(0)
    X = rng.random((rows, 10))
    y = (X[:, 0] > 0.5).astype(np.int64)
    return KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(X, y), X[:1000], y[:1000]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100)
    args = ap.parse_args()
    if not SERVER.is_file():
        raise SystemExit(f"{SERVER} is missing: run make mlflow-server")
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        work = Path(tmp)
        os.environ["MODELOPS_HOME"] = str(work / "home")
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        proc, uri = start_server(work)
        server_version = subprocess.run([str(SERVER), "--version"], capture_output=True, text=True).stdout.split()[-1]
        try:
            import mlflow

            import jupyter_modelops as mo

            mlflow.set_tracking_uri(uri)
            model, X_eval, y_eval = knn_model(args.mb)
            report = mo.evaluate(model, X_eval, y_eval, n_boot=200, progress=False)
            mv = mo.snapshot(model, "knn", report=report, data=X_eval, alias="production")
            size = mv.size

            t0 = time.perf_counter()
            push = mo.to_mlflow(mv.ref)
            ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = mo.to_mlflow(mv.ref)
            ours_again = time.perf_counter() - t0
            assert again.run_id == push.run_id

            t0 = time.perf_counter()
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(model, name="model")
            mlflow.register_model(info.model_uri, "knn-mlflow")
            theirs = time.perf_counter() - t0
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    res = {
        "model_bytes": size,
        "to_mlflow_s": round(ours, 2),
        "to_mlflow_again_s": round(ours_again, 2),
        "mlflow_log_and_register_s": round(theirs, 2),
        "ratio": round(ours / theirs, 2),
        "mlflow_client": mlflow.__version__,
        "mlflow_server": server_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mlflow.json").write_text(json.dumps(res, indent=2) + "\n")
    md = f"""# Logging a {size / 1e6:.0f} MB version to MLflow

One run each, side by side, against the same MLflow {res["mlflow_server"]} tracking server (client
{res["mlflow_client"]}; SQLite backend, artifacts proxied to a local folder) on 127.0.0.1; {res["cpus"]} CPUs
shared, load average {res["load"]:.1f} at the start ({res["when"]}). Model: a KNeighborsClassifier holding
{size / 1e6:.0f} MB of training rows.

| | seconds |
|---|---|
| `to_mlflow(ref)`: run, params, tags, metrics, reports, model, register, aliases | {res["to_mlflow_s"]} |
| `to_mlflow(ref)` again (finds the run, nothing re-uploaded) | {res["to_mlflow_again_s"]} |
| MLflow: `mlflow.sklearn.log_model` + `mlflow.register_model` | {res["mlflow_log_and_register_s"]} |

Ratio ours / MLflow's own: {res["ratio"]}. `to_mlflow` also reads the version back from the registry (checksums)
and writes its HTML report; it passes the version's recorded package versions as the model's requirements,
where `log_model` infers them by default.
"""
    (RESULTS / "mlflow.md").write_text(md)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
