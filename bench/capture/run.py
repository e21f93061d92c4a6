"""Inference capture benchmark: server CPU per request with capture off and on (100% sampling), side by side.

The same model server (onnxruntime, HistGradientBoostingClassifier, 20
features; single-row V2 JSON ``[1, 20]`` FP64) runs pinned to core 0
(``taskset -c 0``, ``OMP_NUM_THREADS=1``); the closed-loop load generator of
``bench/serving/loadgen.py`` runs on core 1 with 64 connections. Each round
measures two loads: saturated (closed loop, as fast as the server answers) and
paced (``paced.py``: the same 64 connections sharing ``--rate`` requests per
second, so both sides run at the same throughput and their CPU per request is
compared like for like; at saturation a busier server batches fewer requests
per event-loop turn, which moves CPU per request by itself). The two sides
alternate (off, on, off, on), ``--seconds`` per load, so a change in the
machine's load hits both. Recorded: req/s, p99, server CPU ms per request
(from /proc/PID/stat, every thread), and for capture the rows written and bytes
on disk per captured row. Loopback only; every process started here is stopped
here, by pid.

With ``--before DIR`` (a directory holding another ``jupyter_modelops`` package,
e.g. ``git archive <commit> jupyter_modelops | tar -x -C DIR``) a third side,
``before``, runs that package's server with capture on, alternating with the
other two: an earlier capture path and the current one measured side by side
in one run. Figures per side are medians over the rounds.

Usage: python bench/capture/run.py [--seconds 2.5] [--rounds 4] [--rate 2000] [--before DIR]
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
import statistics
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
    body.write_text(
        json.dumps({"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20], "data": row.ravel().tolist()}]})
    )
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
    out = subprocess.run(
        ["taskset", "-c", "1", PY, str(LOADGEN), "--url", url, "--body", str(body), "-c", str(c), "-d", str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def paced(url: str, body: Path, rate: float, seconds: float) -> dict:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            PY,
            str(HERE / "paced.py"),
            "--url",
            url,
            "--body",
            str(body),
            "-c",
            "64",
            "-r",
            str(rate),
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


def one_round(
    model_dir: Path, body: Path, seconds: float, capture: Path | None, rate: float, source: str | None = None
) -> dict:
    port = free_port()
    cmd = [
        "taskset",
        "-c",
        "0",
        PY,
        "-m",
        "jupyter_modelops.serving",
        "--model-dir",
        str(model_dir),
        "--port",
        str(port),
        "--runtime",
        "onnx",
    ]
    if capture is not None:
        cmd += ["--capture", str(capture)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if source:  # another version of the package, found first
        env["PYTHONPATH"] = source
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        c0 = cpu_seconds(proc.pid)
        q = paced(url, body, rate, seconds)
        used = cpu_seconds(proc.pid) - c0
        q["cpu_ms_per_req"] = used * 1000 / max(1, q["requests"])
        r["paced"] = q
        return r
    finally:
        proc.send_signal(signal.SIGTERM)  # the capture side flushes its queue on the way out
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bytes_per_random_row(work: Path, n: int = 20_000) -> float:
    """Bytes on disk per captured row when every row differs (random features): the load above repeats one row."""
    import numpy as np

    from jupyter_modelops.capture.writer import CaptureWriter, Item
    from jupyter_modelops.serving.modeldir import TensorSpec

    rng = np.random.default_rng(0)
    w = CaptureWriter(str(work / "random"), roll_rows=n)
    w.register(
        "hgb",
        "1",
        [TensorSpec("input", "FP64", (-1, 20))],
        [TensorSpec("label", "INT64", (-1,)), TensorSpec("probabilities", "FP32", (-1, 2))],
    )
    now = time.time()
    for i in range(n):
        p = rng.random((1, 1), dtype=np.float32)
        w.record(
            Item(
                "hgb",
                "1",
                f"{rng.integers(2**63):016x}{i:016x}",
                now + i / 2000,
                float(rng.random()),
                200,
                1,
                (rng.normal(size=(1, 20)),),
                (np.array([int(p[0, 0] > 0.5)]), np.hstack([p, 1 - p])),
            )
        )
    w.close()
    return w.bytes_written / w.written


def capture_us_per_request(n: int = 20_000, repeats: int = 3) -> dict:
    """CPU microseconds capture itself spends per single-row request, in this process (best of ``repeats``):
    the server's hooks (request id; the batcher's tap, one call per batch of 64 requests) and the writer's
    work (Arrow conversion, Parquet write)."""
    import types

    import numpy as np

    from jupyter_modelops.capture.server import ServerCapture
    from jupyter_modelops.serving.batching import _Item
    from jupyter_modelops.serving.codec import Request
    from jupyter_modelops.serving.modeldir import TensorSpec

    work = Path(tempfile.mkdtemp(prefix="bench-capture-inproc-"))
    try:
        sc = ServerCapture(str(work), rate=1.0)
        runtime = types.SimpleNamespace(
            inputs=[TensorSpec("input", "FP64", (-1, 20))],
            outputs=[TensorSpec("label", "INT64", (-1,)), TensorSpec("probabilities", "FP32", (-1, 2))],
        )
        model = types.SimpleNamespace(
            name="hgb", version="1", runtime=runtime, spec=types.SimpleNamespace(feature_names=None)
        )
        sc.register(model)
        tap = sc.tapper(model)
        sc.writer._stop = True  # the measurement drives the writer itself
        sc.writer.wake.set()
        sc.writer._thread.join()
        rng = np.random.default_rng(0)
        best = {"hooks": 1e9, "writer": 1e9}
        for _ in range(repeats):
            reqs = [Request(None, {"input": rng.normal(size=(1, 20))}, 1, None, False, None) for _ in range(n)]
            items = [_Item(r, None, 0.0, time.monotonic()) for r in reqs]  # type: ignore[arg-type]
            batches = [
                (
                    items[i : i + 64],
                    {"input": rng.normal(size=(len(items[i : i + 64]), 20))},
                    {
                        "label": np.ones(len(items[i : i + 64]), np.int64),
                        "probabilities": rng.random((len(items[i : i + 64]), 2), dtype=np.float32),
                    },
                )
                for i in range(0, n, 64)
            ]
            t0 = time.process_time()
            for r in reqs:
                sc.begin(r)
            for b in batches:
                tap(*b)
            t1 = time.process_time()
            sc.writer._drain()
            sc.writer._write_due(force=True)
            t2 = time.process_time()
            best["hooks"] = min(best["hooks"], (t1 - t0) / n * 1e6)
            best["writer"] = min(best["writer"], (t2 - t1) / n * 1e6)
        best["total"] = best["hooks"] + best["writer"]
        return best
    finally:
        shutil.rmtree(work, ignore_errors=True)


def app_us_per_request(model_dir: Path, body: Path, n: int = 32_000, repeats: int = 3) -> dict:
    """CPU microseconds per request of the whole ASGI application (decode, batch, onnxruntime, encode), without
    network or HTTP server, 64 requests in flight, capture off and on alternately (median of ``repeats`` each):
    the capture's cost without the noise of sockets and of other processes."""
    import asyncio
    import statistics

    from jupyter_modelops.serving.app import ModelServerApp, ServerSettings
    from jupyter_modelops.serving.modeldir import read_model_dir

    payload = body.read_bytes()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v2/models/hgb/infer",
        "headers": [(b"content-length", str(len(payload)).encode())],
        "client": ("127.0.0.1", 1),
    }

    async def one_run(capture: str) -> float:
        app = ModelServerApp(
            [read_model_dir(model_dir)],
            ServerSettings.from_env(runtime="onnx", capture=capture, threads=1),
            load_in_background=False,
        )
        await app.startup()

        async def receive() -> dict:
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict) -> None:
            pass

        async def client(k: int) -> None:
            for _ in range(k):
                await app(scope, receive, send)

        await asyncio.gather(*[client(n // 64 // 4) for _ in range(64)])  # warm-up
        t0 = time.process_time()
        await asyncio.gather(*[client(n // 64) for _ in range(64)])
        used = time.process_time() - t0
        await app.shutdown()
        return used / n * 1e6

    out: dict[str, list[float]] = {"off": [], "on": []}
    work = Path(tempfile.mkdtemp(prefix="bench-capture-app-"))
    try:
        for i in range(repeats):
            out["off"].append(asyncio.run(one_run("")))
            out["on"].append(asyncio.run(one_run(str(work / f"c{i}"))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in out.items()}
    return {"off_us": med["off"], "on_us": med["on"], "runs": out}


def app_us_side_by_side(model_dir: Path, body: Path, before: str, rounds: int = 2) -> dict:
    """:func:`app_us_per_request` in fresh processes, the current package and the one in ``before`` alternately
    (each measures its own capture off and on): the capture's CPU per request of both, free of the load
    generator's noise. Medians over ``rounds`` processes per side."""
    out: dict[str, list[dict]] = {"before": [], "on": []}
    for _ in range(rounds):
        for side in ("before", "on"):
            env = {**os.environ, "OMP_NUM_THREADS": "1", **({"PYTHONPATH": before} if side == "before" else {})}
            res = subprocess.run(
                ["taskset", "-c", "0", PY, __file__, "--app-json", str(model_dir), str(body)],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if res.returncode != 0:
                raise RuntimeError(res.stderr[-2000:])
            out[side].append(json.loads(res.stdout.strip().splitlines()[-1]))
    return {
        k: {
            "off_us": statistics.median(r["off_us"] for r in v),
            "on_us": statistics.median(r["on_us"] for r in v),
            "added_us": statistics.median(r["on_us"] - r["off_us"] for r in v),
            "runs": v,
        }
        for k, v in out.items()
    }


def total_cpu_off(sides: dict) -> float:
    v = sides["off"]
    return sum(r["cpu_ms_per_req"] * r["requests"] for r in v) / max(1, sum(r["requests"] for r in v))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.5)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--before", default=None, help="a directory holding another jupyter_modelops package")
    ap.add_argument("--app-json", nargs=2, default=None, help=argparse.SUPPRESS)  # MODEL_DIR BODY: one process
    args = ap.parse_args()
    if args.app_json:
        print(json.dumps(app_us_per_request(Path(args.app_json[0]), Path(args.app_json[1]))))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    try:
        model_dir, body = make_model(work)
        load0 = os.getloadavg()[0]
        names = ("off", "before", "on") if args.before else ("off", "on")
        sides: dict[str, list[dict]] = {k: [] for k in names}
        stores = []
        for i in range(args.rounds):
            for side in names:
                store = work / f"captures-{side}-{i}" if side != "off" else None
                if side == "on":
                    stores.append(store)
                r = one_round(
                    model_dir, body, args.seconds, store, args.rate, args.before if side == "before" else None
                )
                sides[side].append(r)
                q = r["paced"]
                print(
                    f"round {i} capture {side}: saturated {r['req_per_s']} req/s, p99 {r['p99_ms']} ms, "
                    f"{r['cpu_ms_per_req']:.4f} CPU ms/req, errors {r['errors']}; paced {q['req_per_s']} req/s, "
                    f"p99 {q['p99_ms']} ms, {q['cpu_ms_per_req']:.4f} CPU ms/req, errors {q['errors']}",
                    flush=True,
                )
        import pyarrow.dataset as ds

        rows = sum(ds.dataset(s, format="parquet", partitioning="hive").count_rows() for s in stores)
        nbytes = sum(p.stat().st_size for s in stores for p in s.rglob("*.parquet"))
        files = sum(1 for s in stores for p in s.rglob("*.parquet"))
        answered_on = sum(r["requests"] + r["paced"]["requests"] for r in sides["on"])
        median = {
            k: {
                "saturated": statistics.median(r["cpu_ms_per_req"] for r in v),
                "paced": statistics.median(r["paced"]["cpu_ms_per_req"] for r in v),
                "req_per_s": statistics.median(r["req_per_s"] for r in v),
            }
            for k, v in sides.items()
        }
        median_overhead = {
            k: {load: median[k][load] / median["off"][load] - 1 for load in ("saturated", "paced")}
            for k in names
            if k != "off"
        }
        total = {
            k: {
                "requests": sum(r["requests"] for r in v),
                "errors": sum(r["errors"] for r in v),
                "cpu_ms_per_req": sum(r["cpu_ms_per_req"] * r["requests"] for r in v)
                / max(1, sum(r["requests"] for r in v)),
                "req_per_s": sum(r["req_per_s"] for r in v) / len(v),
                "p99_ms": max(r["p99_ms"] for r in v),
            }
            for k, v in sides.items()
        }
        overhead = total["on"]["cpu_ms_per_req"] / total["off"]["cpu_ms_per_req"] - 1
        paced_total = {
            k: {
                "requests": sum(r["paced"]["requests"] for r in v),
                "errors": sum(r["paced"]["errors"] for r in v),
                "cpu_ms_per_req": sum(r["paced"]["cpu_ms_per_req"] * r["paced"]["requests"] for r in v)
                / max(1, sum(r["paced"]["requests"] for r in v)),
                "req_per_s": sum(r["paced"]["req_per_s"] for r in v) / len(v),
                "p99_ms": max(r["paced"]["p99_ms"] for r in v),
            }
            for k, v in sides.items()
        }
        paced_overhead = paced_total["on"]["cpu_ms_per_req"] / paced_total["off"]["cpu_ms_per_req"] - 1
        random_row_bytes = bytes_per_random_row(work)
        inproc = capture_us_per_request()
        app = app_us_per_request(model_dir, body)
        both = app_us_side_by_side(model_dir, body, args.before) if args.before else None
        app_share = (app["on_us"] - app["off_us"]) / (total_cpu_off(sides) * 1000)
        ratios = [on["cpu_ms_per_req"] / off["cpu_ms_per_req"] - 1 for off, on in zip(sides["off"], sides["on"])]
        paced_ratios = [
            on["paced"]["cpu_ms_per_req"] / off["paced"]["cpu_ms_per_req"] - 1
            for off, on in zip(sides["off"], sides["on"])
        ]
        doc = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at start {load0:.2f}, "
            f"Python {platform.python_version()}",
            "seconds_per_round": args.seconds,
            "rounds": args.rounds,
            "concurrency": 64,
            "sides": sides,
            "total": total,
            "cpu_overhead": overhead,
            "paced_rate": args.rate,
            "paced_total": paced_total,
            "paced_cpu_overhead": paced_overhead,
            "captured_rows": rows,
            "answered_with_capture_on_during_load": answered_on,
            "parquet_files": files,
            "bytes_on_disk": nbytes,
            "bytes_per_row": nbytes / max(1, rows),
            "bytes_per_row_random_features": random_row_bytes,
            "capture_us_per_request_in_process": inproc,
            "app_us_per_request_in_process": app,
            "round_ratios_saturated": ratios,
            "round_ratios_paced": paced_ratios,
            "median_cpu_ms_per_req": median,
            "median_cpu_overhead": median_overhead,
            "app_us_side_by_side": both,
        }
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "capture.json").write_text(json.dumps(doc, indent=2))
        md = [
            "# Inference capture benchmark (one run, side by side)",
            "",
            f"{doc['machine']}. Model server (onnxruntime, HistGradientBoostingClassifier, 20 features) pinned to "
            f"core 0 with OMP_NUM_THREADS=1; closed-loop load generator on core 1, 64 connections, single-row V2 "
            f"JSON `[1,20]` FP64. Capture off and on (100% sampling, local Parquet)"
            + (" and `before` (the earlier capture path, capture on)" if args.before else "")
            + f" alternate, {args.rounds} rounds of {args.seconds:g} s per load and side.",
            "",
            "Medians over the rounds (server CPU ms per request; change against capture off):",
            "",
            "| capture | saturated CPU ms/req | change | paced CPU ms/req | change | saturated req/s |",
            "| --- | --- | --- | --- | --- | --- |",
            *(
                f"| {k} | {median[k]['saturated']:.4f} | "
                f"{median_overhead[k]['saturated']:+.1%} | {median[k]['paced']:.4f} | "
                f"{median_overhead[k]['paced']:+.1%} | {median[k]['req_per_s']:.0f} |"
                if k != "off"
                else f"| off | {median[k]['saturated']:.4f} | | {median[k]['paced']:.4f} | | "
                f"{median[k]['req_per_s']:.0f} |"
                for k in names
            ),
            "",
            "Totals over the rounds:",
            "",
            "| load | capture | requests | errors | req/s (mean) | p99 ms (worst) | server CPU ms/req |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *(
                f"| paced, {args.rate:g} req/s | {k} | {t['requests']} | {t['errors']} | {t['req_per_s']:.1f} | "
                f"{t['p99_ms']} | {t['cpu_ms_per_req']:.4f} |"
                for k, t in paced_total.items()
            ),
            *(
                f"| saturated (closed loop) | {k} | {t['requests']} | {t['errors']} | {t['req_per_s']:.1f} | "
                f"{t['p99_ms']} | {t['cpu_ms_per_req']:.4f} |"
                for k, t in total.items()
            ),
            "",
            f"Server CPU per request with capture on (100% sampling), 64 clients: {paced_overhead:+.1%} at the same "
            f"throughput ({args.rate:g} req/s), {overhead:+.1%} saturated (target: at most +10%). Round by round "
            f"(on/off - 1): paced {', '.join(f'{x:+.0%}' for x in paced_ratios)}; saturated "
            f"{', '.join(f'{x:+.0%}' for x in ratios)}: on a shared machine the spread between rounds of the same "
            "side is as large as the effect. The closed loop is bounded by the load generator and by what else runs "
            "on the shared cores, not by the server (its CPU per request times its req/s is well under one core): "
            "a side that happened to get fewer req/s formed smaller batches, which costs more CPU per request by "
            "itself; the in-process figures below are free of that.",
            "",
            f"Capture's own CPU per single-row request, measured in process (best of 3 x 20,000 requests): "
            f"{inproc['hooks']:.2f} us in the server's hooks (request id; the batcher's tap, one queue entry per "
            f"batch of 64) + {inproc['writer']:.2f} us "
            f"in the writer thread (Arrow conversion, Parquet write) = {inproc['total']:.2f} us, "
            f"{inproc['total'] / (total['off']['cpu_ms_per_req'] * 1000):.1%} of the server's CPU per request "
            f"without capture at saturation ({total['off']['cpu_ms_per_req'] * 1000:.1f} us).",
            "",
            f"The whole ASGI application in process (decode, batching, onnxruntime, encode; no sockets, no HTTP "
            f"server; 64 requests in flight; median of 3 x 32,000 requests per side, alternating): "
            f"{app['off_us']:.2f} us per request without capture, {app['on_us']:.2f} us with it "
            f"(+{app['on_us'] - app['off_us']:.2f} us; of the {total['off']['cpu_ms_per_req'] * 1000:.1f} us the "
            f"server spends per request at saturation, {app_share:.1%}).",
            "",
            *(
                [
                    f"The same in fresh processes pinned to core 0, the earlier capture path (`before`) and the current "
                    f"one alternating, 2 processes each (medians): capture adds {both['before']['added_us']:.2f} us per "
                    f"request before ({both['before']['off_us']:.2f} -> {both['before']['on_us']:.2f}; "
                    f"{both['before']['added_us'] / both['before']['off_us']:+.1%}) and {both['on']['added_us']:.2f} us "
                    f"now ({both['on']['off_us']:.2f} -> {both['on']['on_us']:.2f}; "
                    f"{both['on']['added_us'] / both['on']['off_us']:+.1%}).",
                    "",
                ]
                if both
                else []
            ),
            f"Captured rows: {rows} (every request answered while capture was on, warm-up included: "
            f"{rows >= answered_on}); {files} Parquet files, {nbytes} bytes, "
            f"{doc['bytes_per_row']:.1f} bytes on disk per captured row (zstd; 20 FP64 inputs, label, 2 "
            "probabilities, request id, time, latency, status, deployment, cluster, pod). The load repeats one "
            f"row; rows that all differ (20 random FP64 features, 20,000 rows written by the same writer in "
            f"process): {random_row_bytes:.1f} bytes per row.",
            "",
            "Absolute figures depend on the machine and what else runs on it; quote the ratio.",
        ]
        (RESULTS / "capture.md").write_text("\n".join(md) + "\n")
        print("\n".join(md))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
