"""What live drift costs the model server: server CPU per request with it on and off, side by side.

Two servers on the same model directory (HistGradientBoostingClassifier, 20 features, onnxruntime,
its reference profile with the prediction's), single-row V2 JSON requests, each server pinned to
core 0 and the load generator on core 1, closed loop at concurrency 64 (and 1): ``--no-live-drift``
against live drift on (default window of 1000 rows). Rounds alternate between the two so that a change of
machine load hits both alike; the figure is the median of the rounds. Also, in process: the request
path's own cost (``LiveDrift.observe`` of one row, its chunked binning included) per request.
Loopback only; every process started here is stopped here, by pid.

Usage: python bench/serving/live_drift.py [--seconds 4] [--rounds 3]
Writes bench/results/live_drift.json and bench/results/live_drift.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import run as load  # noqa: E402
from run import RESULTS, WORK, cpu_seconds, make_model  # noqa: E402
from security import start  # noqa: E402

LEVELS = (64,)


def profiled_dir(model_dir: str) -> Path:
    """The bench's model directory plus its reference profile (inputs and predicted scores), as materialize writes."""
    import joblib
    from sklearn.datasets import make_classification

    from jupyter_modelops import profile

    out = WORK / "model-dir-profiled"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(model_dir, out)
    X, _ = make_classification(n_samples=5000, n_features=20, n_informative=10, random_state=0)
    model = joblib.load(WORK / "model.joblib")
    f = out / "drift-profile.json"
    f.write_text(json.dumps(profile(X, model=model).to_dict()))
    spec = json.loads((out / "modelops-model.json").read_text())
    spec["artifacts"]["drift-profile"] = {
        "path": f.name,
        "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
        "format": "json",
    }
    (out / "modelops-model.json").write_text(json.dumps(spec))
    return out


def measure(proc, url: str, body: bytes, seconds: float, concurrency: int) -> dict:
    c0 = cpu_seconds(proc.pid)
    r = asyncio.run(load(url + "/v2/models/hgb/infer", body, concurrency, seconds, 10_000_000))
    used = cpu_seconds(proc.pid) - c0
    r["cpu_ms_per_req"] = round(used * 1000 / max(1, r["requests"]), 4)
    return r


def in_process(directory: Path, n: int = 50_000) -> dict:
    """Microseconds per single-row request on the request path (staging copy + its share of chunk binning)."""
    import numpy as np

    from jupyter_modelops.serving.app import ServerSettings
    from jupyter_modelops.serving.livedrift import for_model
    from jupyter_modelops.serving.modeldir import read_model_dir
    from jupyter_modelops.serving.runtimes import choose_runtime

    spec = read_model_dir(directory)
    rt = choose_runtime(spec, prefer="onnx")
    live = for_model(spec, rt, ServerSettings())
    end = time.monotonic() + 120
    while live.detector is None and time.monotonic() < end:  # the alarm's calibration thread: not timed
        time.sleep(0.1)
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(256, 20))
    outs = rt.predict({"input": rows})
    reqs = [({"input": rows[i : i + 1]}, {k: v[i : i + 1] for k, v in outs.items()}) for i in range(256)]
    t0 = time.perf_counter()
    for i in range(n):
        ins, out = reqs[i & 255]
        live.observe(ins, out, 1)
    per_req = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for _ in range(200):
        live.metrics_lines()
    render_ms = (time.perf_counter() - t0) / 200 * 1e3
    return {
        "observe_us_per_request": round(per_req, 3),
        "metrics_render_ms": round(render_ms, 3),
        "features": len(live.cols),
        "window_rows": live.rows,
        "chunk_rows": live.chunk,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})  # the load generator runs on core 1
    info = make_model()
    body = (WORK / "body.json").read_bytes()
    d = str(profiled_dir(info["model_dir"]))
    configs = {"live drift off": ["--no-live-drift"], "live drift on": []}
    procs = {}
    try:
        for name, extra in configs.items():
            procs[name] = start(d, extra, None)
        time.sleep(8)  # the alarm's threshold is simulated in the background at start
        runs: dict[str, list[dict]] = {f"{n}, c={c}": [] for c in LEVELS for n in configs}
        for rnd in range(a.rounds):
            for c in LEVELS:
                for name in configs:
                    proc, url = procs[name]
                    measure(proc, url, body, 0.5, c)  # warm-up
                    r = measure(proc, url, body, a.seconds, c)
                    runs[f"{name}, c={c}"].append(r)
                    print(
                        f"round {rnd + 1} {name} c={c}: {r['req_per_s']} req/s, {r['cpu_ms_per_req']} CPU ms/req, "
                        f"p99 {r['p99_ms']} ms, errors {r['errors']}",
                        flush=True,
                    )
        text = get_text(procs["live drift on"][1] + "/metrics")
        gauges = [
            line
            for line in text.splitlines()
            if line.startswith(("modelops_drift_window_rows", "modelops_drift_alarm"))
        ]
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait(30)
    summary = {
        n: {
            "cpu_ms_per_req": statistics.median(x["cpu_ms_per_req"] for x in rs),
            "req_per_s": statistics.median(x["req_per_s"] for x in rs),
            "p99_ms": statistics.median(x["p99_ms"] for x in rs),
            "errors": sum(x["errors"] for x in rs),
        }
        for n, rs in runs.items()
    }
    for c in LEVELS:
        base = summary[f"live drift off, c={c}"]["cpu_ms_per_req"]
        for n in configs:
            s = summary[f"{n}, c={c}"]
            s["cpu_vs_off"] = round(s["cpu_ms_per_req"] / base, 3)
    hot = in_process(Path(d))
    doc = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}",
        "conditions": f"onnxruntime, single-row JSON [1,20] FP64, concurrency 64, {a.seconds:g} s x "
        f"{a.rounds} alternating rounds, server on core 0, load generator on core 1",
        "summary": summary,
        "in_process": hot,
        "window_gauge": gauges,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "live_drift.json").write_text(json.dumps(doc, indent=2))
    lines = [
        "# Model server: cost of live drift",
        "",
        f"{doc['when']}; {doc['machine']}.",
        "",
        doc["conditions"] + "; medians of the rounds.",
        "",
        "| server | CPU ms/req | vs off | req/s | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for n, s in summary.items():
        lines.append(
            f"| {n} | {s['cpu_ms_per_req']:.4f} | {s['cpu_vs_off']:.3f} | {s['req_per_s']:.0f} | "
            f"{s['p99_ms']:.1f} | {s['errors']} |"
        )
    lines += [
        "",
        f"In process, {hot['features']} features + the prediction, window {hot['window_rows']} rows in chunks "
        f"of {hot['chunk_rows']}: {hot['observe_us_per_request']} us per single-row request on the request "
        f"path (its reference kept, its rows copied into the staging arrays and binned with their chunk); "
        f"rendering the gauges {hot['metrics_render_ms']} ms per /metrics scrape.",
        "",
        "CPU ms/req is the server's CPU time over the requests it answered. On a shared machine the server",
        "gets only part of its core; compare the rows of one table, not tables.",
    ]
    (RESULTS / "live_drift.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def get_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


if __name__ == "__main__":
    main()
