"""Inference capture benchmark: server CPU per request with capture off and on (100% sampling), side by side.

The same model server (onnxruntime, HistGradientBoostingClassifier, 20
features; single-row V2 JSON ``[1, 20]`` FP64) runs pinned to core 0
(``taskset -c 0``, ``OMP_NUM_THREADS=1``); the closed-loop load generator of
``bench/serving/loadgen.py`` runs on core 1 with 64 connections. The two
sides alternate (off, on, off, on), ``--seconds`` per round, so a change in
the machine's load hits both. Recorded: req/s, p99, server CPU ms per request
(from /proc/PID/stat), and for capture the rows written and bytes on disk per
captured row. Loopback only; every process started here is stopped here, by pid.

Usage: python bench/capture/run.py [--seconds 5] [--rounds 2]
Writes bench/results/capture.json and bench/results/capture.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
RESULTS = BENCH / "results"
LOADGEN = BENCH / "serving" / "loadgen.py"
PY = sys.executable
CLK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model(work: Path) -> tuple[Path, Path]:
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    from jupyter_modelops.serving.modeldir import write_model_dir

    X, y = make_classification(n_samples=2000, n_features=20, n_informative=8, random_state=0)
    model = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(X, y)
    d = write_model_dir(model, work / "hgb", name="hgb", version=1)
    body = work / "body.json"
    row = np.round(X[:1], 6)
    body.write_text(json.dumps({"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20],
                                            "data": row.ravel().tolist()}]}))
    return d, body


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status
    except Exception:  # noqa: BLE001 - not up yet
        return 0


def loadgen(url: str, body: Path, c: int, seconds: float) -> dict:
    out = subprocess.run(["taskset", "-c", "1", PY, str(LOADGEN), "--url", url, "--body", str(body),
                          "-c", str(c), "-d", str(seconds)], capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_round(model_dir: Path, body: Path, seconds: float, capture: Path | None) -> dict:
    port = free_port()
    cmd = ["taskset", "-c", "0", PY, "-m", "jupyter_modelops.serving", "--model-dir", str(model_dir),
           "--port", str(port), "--runtime", "onnx"]
    if capture is not None:
        cmd += ["--capture", str(capture)]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while get(f"{base}/v2/health/ready") != 200:
            if time.monotonic() > end or proc.poll() is not None:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.05)
        url = f"{base}/v2/models/hgb/infer"
        loadgen(url, body, 8, 1.0)  # warm-up
        c0 = cpu_seconds(proc.pid)
        r = loadgen(url, body, 64, seconds)
        used = cpu_seconds(proc.pid) - c0
        r["cpu_ms_per_req"] = used * 1000 / max(1, r["requests"])
        r["warmup_and_load_requests"] = None
        return r
    finally:
        proc.send_signal(signal.SIGTERM)  # the capture side flushes its queue on the way out
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    try:
        model_dir, body = make_model(work)
        load0 = os.getloadavg()[0]
        sides: dict[str, list[dict]] = {"off": [], "on": []}
        stores = []
        for i in range(args.rounds):
            for side in ("off", "on"):
                store = work / f"captures-{i}" if side == "on" else None
                if store is not None:
                    stores.append(store)
                r = one_round(model_dir, body, args.seconds, store)
                sides[side].append(r)
                print(f"round {i} capture {side}: {r['req_per_s']} req/s, p99 {r['p99_ms']} ms, "
                      f"{r['cpu_ms_per_req']:.4f} CPU ms/req, errors {r['errors']}", flush=True)
        import pyarrow.dataset as ds

        rows = sum(ds.dataset(s, format="parquet", partitioning="hive").count_rows() for s in stores)
        nbytes = sum(p.stat().st_size for s in stores for p in s.rglob("*.parquet"))
        files = sum(1 for s in stores for p in s.rglob("*.parquet"))
        answered_on = sum(r["requests"] for r in sides["on"])
        total = {k: {"requests": sum(r["requests"] for r in v), "errors": sum(r["errors"] for r in v),
                     "cpu_ms_per_req": sum(r["cpu_ms_per_req"] * r["requests"] for r in v)
                     / max(1, sum(r["requests"] for r in v)),
                     "req_per_s": sum(r["req_per_s"] for r in v) / len(v),
                     "p99_ms": max(r["p99_ms"] for r in v)} for k, v in sides.items()}
        overhead = total["on"]["cpu_ms_per_req"] / total["off"]["cpu_ms_per_req"] - 1
        doc = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at start {load0:.2f}, "
                          f"Python {platform.python_version()}",
               "seconds_per_round": args.seconds, "rounds": args.rounds, "concurrency": 64,
               "sides": sides, "total": total, "cpu_overhead": overhead,
               "captured_rows": rows, "answered_with_capture_on_during_load": answered_on,
               "parquet_files": files, "bytes_on_disk": nbytes, "bytes_per_row": nbytes / max(1, rows)}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "capture.json").write_text(json.dumps(doc, indent=2))
        md = [
            "# Inference capture benchmark (one run, side by side)", "",
            f"{doc['machine']}. Model server (onnxruntime, HistGradientBoostingClassifier, 20 features) pinned to "
            f"core 0 with OMP_NUM_THREADS=1; closed-loop load generator on core 1, 64 connections, single-row V2 "
            f"JSON `[1,20]` FP64. Capture off and on (100% sampling, local Parquet) alternate, {args.rounds} rounds "
            f"of {args.seconds:g} s per side.", "",
            "| capture | requests | errors | req/s (mean) | p99 ms (worst) | server CPU ms/req |",
            "| --- | --- | --- | --- | --- | --- |",
            *(f"| {k} | {t['requests']} | {t['errors']} | {t['req_per_s']:.1f} | {t['p99_ms']} | "
              f"{t['cpu_ms_per_req']:.4f} |" for k, t in total.items()), "",
            f"Server CPU per request with capture on: {overhead:+.1%} (target: at most +10%).", "",
            f"Captured rows: {rows} (every request answered while capture was on, warm-up included: "
            f"{rows >= answered_on}); {files} Parquet files, {nbytes} bytes, "
            f"{doc['bytes_per_row']:.1f} bytes on disk per captured row (zstd; 20 FP64 inputs, label, 2 "
            "probabilities, request id, time, latency, status, deployment, cluster, pod).", "",
            "Absolute figures depend on the machine and what else runs on it; quote the ratio.",
        ]
        (RESULTS / "capture.md").write_text("\n".join(md) + "\n")
        print("\n".join(md))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
