"""What auth and the connection limits cost on the hot path: server CPU per request, side by side.

Three servers on the same model (HistGradientBoostingClassifier, 20 features, onnxruntime, single-row
V2 JSON requests), each pinned to core 0 with the load generator on core 1, closed loop at
concurrency 1 (no batching: the whole per-request cost) and 64: the server as it was before auth and the connection limits (a git revision, run from
an exported copy of the package), the current server with auth off, and with a bearer token on.
Rounds alternate between the servers so that a change of machine load hits all three alike; the
figure is the median of the rounds. Loopback only; every process started here is stopped here, by pid.

Usage: python bench/serving/security.py [--seconds 5] [--rounds 3] [--before 24986b5]
Writes bench/results/serving_security.json and bench/results/serving_security.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.request
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import run as load  # noqa: E402
from run import RESULTS, ROOT, WORK, cpu_seconds, free_port, make_model  # noqa: E402

LEVELS = (1, 64)


def export_revision(rev: str) -> Path:
    """The package as of ``rev``, exported (git archive) into the bench's work folder."""
    out = WORK / f"rev-{rev}"
    if not (out / "jupyter_modelops").is_dir():
        raw = subprocess.run(
            ["git", "archive", rev, "jupyter_modelops"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(raw)) as tar:
            tar.extractall(out, filter="data")
    return out


def start(model_dir: str, extra: list[str], pythonpath: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [
        "taskset",
        "-c",
        "0",
        sys.executable,
        "-m",
        "jupyter_modelops.serving",
        "--model-dir",
        model_dir,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--runtime",
        "onnx",
        *extra,
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=pythonpath or ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            if urllib.request.urlopen(url + "/v2/health/ready", timeout=1).status == 200:
                return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"server {extra} did not become ready")


def measure(
    proc: subprocess.Popen, url: str, body: bytes, seconds: float, headers: dict | None, concurrency: int = 64
) -> dict:
    c0 = cpu_seconds(proc.pid)
    r = asyncio.run(load(url + "/v2/models/hgb/infer", body, concurrency, seconds, 10_000_000, headers=headers))
    used = cpu_seconds(proc.pid) - c0
    r["cpu_ms_per_req"] = round(used * 1000 / max(1, r["requests"]), 4)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", default="24986b5", help="git revision of the server before the change")
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})  # the load generator runs on core 1
    info = make_model()
    body = (WORK / "body.json").read_bytes()
    token = secrets.token_urlsafe(32)
    tf = WORK / "token"
    tf.write_text(token + "\n")
    tf.chmod(0o600)
    configs = {
        f"before ({a.before})": ([], str(export_revision(a.before)), None),
        "auth off": ([], None, None),
        "auth on (bearer token)": (["--token-file", str(tf)], None, {"Authorization": f"Bearer {token}"}),
    }
    procs = {}
    try:
        for name, (extra, pp, _) in configs.items():
            procs[name] = start(info["model_dir"], extra, pp)
        runs: dict[str, list[dict]] = {f"{n}, c={c}": [] for c in LEVELS for n in configs}
        for rnd in range(a.rounds):
            for c in LEVELS:
                for name, (_, _, headers) in configs.items():
                    proc, url = procs[name]
                    measure(proc, url, body, 0.5, headers, c)  # warm-up
                    r = measure(proc, url, body, a.seconds, headers, c)
                    runs[f"{name}, c={c}"].append(r)
                    print(
                        f"round {rnd + 1} {name} c={c}: {r['req_per_s']} req/s, {r['cpu_ms_per_req']} CPU ms/req, "
                        f"p99 {r['p99_ms']} ms, errors {r['errors']}",
                        flush=True,
                    )
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
        base = summary[f"before ({a.before}), c={c}"]["cpu_ms_per_req"]
        for n in configs:
            s = summary[f"{n}, c={c}"]
            s["cpu_vs_before"] = round(s["cpu_ms_per_req"] / base, 3)
    doc = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}",
        "conditions": f"onnxruntime, single-row JSON [1,20] FP64, concurrency 1 and 64, {a.seconds:g} s x "
        f"{a.rounds} alternating rounds, server on core 0, load generator on core 1",
        "summary": summary,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serving_security.json").write_text(json.dumps(doc, indent=2))
    lines = [
        "# Model server: cost of auth and connection limits",
        "",
        f"{doc['when']}; {doc['machine']}.",
        "",
        doc["conditions"] + "; medians of the rounds.",
        "",
        "| server | CPU ms/req | vs before | req/s | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for n, s in summary.items():
        lines.append(
            f"| {n} | {s['cpu_ms_per_req']:.4f} | {s['cpu_vs_before']:.3f} | {s['req_per_s']:.0f} | "
            f"{s['p99_ms']:.1f} | {s['errors']} |"
        )
    lines += [
        "",
        "CPU ms/req is the server's CPU time over the requests it answered. On a shared machine the server",
        "gets only part of its core, so at c=64 more requests wait and merge into larger batches: the",
        "figure is then lower than on an idle machine (bench/results/serving.md); compare the rows of one",
        "table, not tables. At c=1 nothing batches: the rows show the whole per-request cost.",
    ]
    (RESULTS / "serving_security.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
