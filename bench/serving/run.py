"""Model server benchmark: jupyter-modelops vs MLServer (tuned) and KServe's ModelServer, one run.

Same model (HistGradientBoostingClassifier, 20 features), single-row V2 JSON
requests ``[1, 20]`` FP64. Each server is pinned to core 0 (``taskset -c 0``,
``OMP_NUM_THREADS=1``); the closed-loop load generator (``loadgen.py``) runs on
core 1. Concurrency 1, 8 and 64, ``--seconds`` each. Recorded per server: time
to ready, idle RSS, req/s, p50/p90/p99, server CPU ms per request (from
/proc/PID/stat, children included). Then a bounded soak at c=64 on our server:
errors and RSS sampled over time. Loopback only; every process started here is
stopped here, by pid.

Peers live in their own virtual environments (git-ignored):

    python3 -m venv bench/.venvs/mlserver && bench/.venvs/mlserver/bin/pip install \
        'mlserver==1.7.1' 'mlserver-sklearn==1.7.1' 'uvloop<0.22' scikit-learn joblib
    python3 -m venv bench/.venvs/kserve && bench/.venvs/kserve/bin/pip install 'kserve==0.21.0' scikit-learn joblib

Usage: python bench/serving/run.py [--seconds 10] [--soak 60] [--only ours-onnx,...]
Writes bench/results/serving.json and bench/results/serving.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
WORK = BENCH / ".work" / "serving"
VENVS = BENCH / ".venvs"
RESULTS = BENCH / "results"
PY = sys.executable
CLK = os.sysconf("SC_CLK_TCK")
LEVELS = (1, 8, 64)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model() -> dict:
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    from jupyter_modelops.serving.modeldir import read_model_dir, write_model_dir
    from jupyter_modelops.serving.runtimes import RuntimeSettings, choose_runtime

    WORK.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(n_samples=5000, n_features=20, n_informative=10, random_state=0)
    model = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    # joblib for the native artifact, as the peers load (skops' trust list imports all of scikit-learn)
    mdir = write_model_dir(model, WORK / "model-dir", name="hgb", version=1, native_format="joblib")
    joblib.dump(model, WORK / "model.joblib")
    row = X[:1]
    body = json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20], "data": [float(v) for v in row[0]]}]}
    ).encode()
    (WORK / "body.json").write_bytes(body)
    # in-process cost of one single-row prediction, one thread
    spec = read_model_dir(mdir)
    inproc = {}
    for rt in ("onnx", "native"):
        r = choose_runtime(spec, prefer=rt, settings=RuntimeSettings(threads=1))
        for _ in range(20):
            r.predict({"input": row})
        n = 300 if rt == "onnx" else 100
        t0 = time.process_time()
        for _ in range(n):
            r.predict({"input": row})
        inproc[rt] = (time.process_time() - t0) / n * 1000
    return {
        "model_dir": str(mdir),
        "joblib": str(WORK / "model.joblib"),
        "body": str(WORK / "body.json"),
        "inprocess_ms_per_row": {k: round(v, 4) for k, v in inproc.items()},
    }


def mlserver_dir(joblib_path: str, port: int) -> Path:
    d = WORK / "mlserver"
    (d / "hgb").mkdir(parents=True, exist_ok=True)
    (d / "settings.json").write_text(
        json.dumps(
            {
                "debug": False,
                "parallel_workers": 0,
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "metrics_endpoint": None,
                "host": "127.0.0.1",
            }
        )
    )
    (d / "hgb" / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "hgb",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": joblib_path, "version": "1"},
            }
        )
    )
    return d


def servers(info: dict) -> dict:
    env1 = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pin = ["taskset", "-c", "0"]
    ours = [PY, "-m", "jupyter_modelops.serving", "--model-dir", info["model_dir"], "--host", "127.0.0.1"]
    return {
        "jupyter-modelops (onnxruntime)": lambda port: (pin + ours + ["--port", str(port), "--runtime", "onnx"], env1),
        "jupyter-modelops (sklearn)": lambda port: (pin + ours + ["--port", str(port), "--runtime", "native"], env1),
        "MLServer 1.7.1 tuned": lambda port: (
            pin + [str(VENVS / "mlserver" / "bin" / "mlserver"), "start", str(mlserver_dir(info["joblib"], port))],
            {**env1, "MLSERVER_DEBUG": "false", "MLSERVER_PARALLEL_WORKERS": "0", "MLSERVER_METRICS_ENDPOINT": ""},
        ),
        "KServe 0.21 ModelServer (latency/access logs off)": lambda port: (
            pin
            + [
                str(VENVS / "kserve" / "bin" / "python"),
                str(HERE / "peers" / "kserve_server.py"),
                info["joblib"],
                "--http_port",
                str(port),
                "--grpc_port",
                str(free_port()),
                "--enable_grpc",
                "false",
                "--enable_latency_logging",
                "false",
            ],
            {**env1, "KSERVE_LOGLEVEL": "WARNING"},
        ),
    }


def tree_pids(pid: int) -> list[int]:
    import psutil

    try:
        p = psutil.Process(pid)
        return [pid] + [c.pid for c in p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK
        except (OSError, IndexError):
            pass
    return total


def rss_mb(pid: int) -> float:
    import psutil

    total = 0
    for p in tree_pids(pid):
        try:
            total += psutil.Process(p).memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return round(total / 2**20, 1)


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status
    except Exception:  # noqa: BLE001 - not up yet
        return 0


def loadgen(url: str, body: str, c: int, seconds: float) -> dict:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            PY,
            str(HERE / "loadgen.py"),
            "--url",
            url,
            "--body",
            body,
            "-c",
            str(c),
            "-d",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_server(name: str, make, info: dict, seconds: float, soak: float) -> dict:
    port = free_port()
    cmd, env = make(port)
    log = open(WORK / f"{name.split()[0]}-{port}.log", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=WORK)
    base = f"http://127.0.0.1:{port}"
    ready = None
    while time.perf_counter() - t0 < 60:
        if proc.poll() is not None:
            break
        if get(f"{base}/v2/models/hgb/ready") == 200:
            ready = time.perf_counter() - t0
            break
        time.sleep(0.02)
    res: dict = {"server": name, "ready_s": round(ready, 3) if ready else None}
    try:
        if ready is None:
            res["error"] = "did not become ready: " + (WORK / log.name).read_text()[-1500:]
            return res
        url = f"{base}/v2/models/hgb/infer"
        loadgen(url, info["body"], 1, 1.0)  # warm-up
        time.sleep(1.0)
        res["idle_rss_mb"] = rss_mb(proc.pid)
        res["levels"] = {}
        for c in LEVELS:
            c0 = cpu_seconds(proc.pid)
            r = loadgen(url, info["body"], c, seconds)
            used = cpu_seconds(proc.pid) - c0
            r["cpu_ms_per_req"] = round(used * 1000 / max(1, r["requests"]), 4)
            r["server_cpu_util"] = round(used / r["seconds"], 3)
            res["levels"][str(c)] = r
            print(
                f"  {name} c={c}: {r['req_per_s']} req/s p50 {r['p50_ms']} p99 {r['p99_ms']} ms, "
                f"{r['cpu_ms_per_req']} CPU ms/req, errors {r['errors']}",
                flush=True,
            )
        if soak:
            res["soak"] = run_soak(proc.pid, url, info["body"], soak)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    return res


def run_soak(pid: int, url: str, body: str, seconds: float) -> dict:
    import threading

    samples = []
    done = threading.Event()

    def sample() -> None:
        t0 = time.perf_counter()
        while not done.is_set():
            samples.append((round(time.perf_counter() - t0, 1), rss_mb(pid)))
            done.wait(5)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    r = loadgen(url, body, 64, seconds)
    done.set()
    th.join()
    rss = [m for _, m in samples]
    later = rss[len(rss) // 3 :] or rss
    r["rss_mb_samples"] = samples
    r["rss_growth_mb_after_first_third"] = round(max(later) - min(later), 1) if later else None
    print(
        f"  soak {seconds:g}s c=64: {r['requests']} requests, {r['errors']} errors, RSS {rss[0]}..{rss[-1]} MB",
        flush=True,
    )
    return r


def write_md(doc: dict) -> str:
    rows = []
    for s in doc["servers"]:
        L = s.get("levels", {})

        def lv(c, key, L=L):
            return L.get(str(c), {}).get(key, "-")

        rows.append(
            f"| {s['server']} | {lv(1, 'req_per_s')}, {lv(1, 'p50_ms')}, {lv(1, 'p99_ms')} | "
            f"{lv(8, 'req_per_s')}, {lv(8, 'p99_ms')} | {lv(64, 'req_per_s')}, {lv(64, 'p99_ms')} | "
            f"{lv(64, 'cpu_ms_per_req')} | {s.get('ready_s', '-')} | {s.get('idle_rss_mb', '-')} |"
        )
    r = doc["ratios"]
    lines = [
        "# Model server benchmark (one run, side by side)",
        "",
        f"{doc['machine']}. Server pinned to core 0 (OMP_NUM_THREADS=1), load generator on core 1; "
        f"closed loop, {doc['seconds']:g} s per level; single-row V2 JSON `[1,20]` FP64; "
        "HistGradientBoostingClassifier (20 features).",
        "",
        "| server | c=1 req/s, p50, p99 ms | c=8 req/s, p99 ms | c=64 req/s, p99 ms | CPU ms/req (c=64) | ready s | idle RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Ratios (c=64 throughput): " + ", ".join(f"{k} {v}" for k, v in r.items()),
        "",
        f"In process, one thread, one row: {doc['model']['inprocess_ms_per_row']} ms. "
        f"Framework overhead (server CPU per request minus in-process runtime time, onnxruntime, c=64): "
        f"{doc.get('framework_overhead_ms')} ms.",
    ]
    soak = next((s.get("soak") for s in doc["servers"] if s.get("soak")), None)
    if soak:
        lines += [
            "",
            f"Soak ({soak['seconds']} s, c=64, onnxruntime): {soak['requests']} requests, "
            f"{soak['errors']} errors, p99 {soak['p99_ms']} ms; RSS samples (s, MB): {soak['rss_mb_samples']}.",
        ]
    lines += ["", "Absolute figures depend on the machine and what else runs on it; quote the ratios."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--soak", type=float, default=60.0)
    ap.add_argument("--only", default="", help="comma-separated prefixes of server names")
    ap.add_argument("--out", default=str(RESULTS / "serving"))
    a = ap.parse_args()
    info = make_model()
    print("in-process ms/row:", info["inprocess_ms_per_row"], flush=True)
    results = []
    for name, make in servers(info).items():
        if a.only and not any(name.startswith(p) for p in a.only.split(",")):
            continue
        if "MLServer" in name and not (VENVS / "mlserver" / "bin" / "mlserver").exists():
            results.append({"server": name, "error": "bench/.venvs/mlserver is missing"})
            continue
        if "KServe" in name and not (VENVS / "kserve" / "bin" / "python").exists():
            results.append({"server": name, "error": "bench/.venvs/kserve is missing"})
            continue
        print(name, flush=True)
        soak = a.soak if name == "jupyter-modelops (onnxruntime)" else 0
        results.append(bench_server(name, make, info, a.seconds, soak))

    def tput(prefix: str) -> float:
        for s in results:
            if s["server"].startswith(prefix) and s.get("levels"):
                return s["levels"]["64"]["req_per_s"]
        return 0.0

    best_peer = max(tput("MLServer"), tput("KServe"))
    ratios = {}
    if best_peer:
        ratios["sklearn runtime / best peer"] = round(tput("jupyter-modelops (sklearn)") / best_peer, 2)
        ratios["onnxruntime / best peer"] = round(tput("jupyter-modelops (onnxruntime)") / best_peer, 2)
    onnx = next((s for s in results if s["server"].startswith("jupyter-modelops (onnx") and s.get("levels")), None)
    overhead = None
    if onnx:
        overhead = round(onnx["levels"]["64"]["cpu_ms_per_req"] - info["inprocess_ms_per_row"]["onnx"], 4)
    doc = {
        "benchmark": "serving",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at start "
        f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}",
        "seconds": a.seconds,
        "model": info,
        "servers": results,
        "ratios": ratios,
        "framework_overhead_ms": overhead,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2))
    out.with_suffix(".md").write_text(write_md(doc))
    print(write_md(doc))


if __name__ == "__main__":
    main()
