"""What tracing costs the model server: server CPU per request with tracing off, before tracing was
wired in (a git revision), and on (spans exported over OTLP/HTTP), side by side.

Three servers on the same model directory (HistGradientBoostingClassifier, 20 features, onnxruntime),
single-row V2 JSON requests, each server pinned to core 0 and the load generator on core 1, closed loop at
concurrency 64 and 1. "before" runs the package as of ``--before`` (exported with git archive); "off" is
this tree with no OTEL_* settings; "on" is this tree exporting every request's spans to an OTLP/HTTP
receiver in this process (it reads and drops the bodies) with a traceparent on every request. Rounds
alternate between the servers; the figure is the median. Loopback only; every process started here is
stopped here, by pid.

Usage: python bench/serving/otel_overhead.py [--seconds 3] [--rounds 2] [--before REV]
Writes bench/results/otel.json and bench/results/otel.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import RESULTS, WORK, make_model  # noqa: E402
from security import export_revision, measure, start  # noqa: E402

LEVELS = (64, 1)
TRACEPARENT = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


class _Drop(BaseHTTPRequestHandler):
    spans_posts = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Drop.spans_posts += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--before", default="321cb8b", help="git revision of the server before tracing was wired in")
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})  # the load generator (and the receiver) run on core 1
    info = make_model()
    body = (WORK / "body.json").read_bytes()
    d = info["model_dir"]
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Drop)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    before = str(export_revision(a.before))
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("OTEL_")}
    procs = {}
    try:
        procs["before"] = (start(d, [], before), None)
        procs["tracing off"] = (start(d, [], None), None)
        os.environ.update(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_address[1]}",
                "OTEL_SERVICE_NAME": "bench",
            }
        )
        procs["tracing on"] = (start(d, [], None), TRACEPARENT)
        for k in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"):
            os.environ.pop(k)
        runs: dict[str, list[dict]] = {f"{n}, c={c}": [] for c in LEVELS for n in procs}
        for rnd in range(a.rounds):
            for c in LEVELS:
                for name, ((proc, url), headers) in procs.items():
                    measure(proc, url, body, 0.5, headers, c)  # warm-up
                    r = measure(proc, url, body, a.seconds, headers, c)
                    runs[f"{name}, c={c}"].append(r)
                    print(
                        f"round {rnd + 1} {name} c={c}: {r['req_per_s']} req/s, {r['cpu_ms_per_req']} CPU ms/req, "
                        f"p99 {r['p99_ms']} ms, errors {r['errors']}",
                        flush=True,
                    )
    finally:
        for (proc, _), _h in procs.values():
            proc.terminate()
            proc.wait(30)
        receiver.shutdown()
        os.environ.update(saved)
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
        base = summary[f"before, c={c}"]["cpu_ms_per_req"]
        for n in procs:
            s = summary[f"{n}, c={c}"]
            s["cpu_vs_before"] = round(s["cpu_ms_per_req"] / base, 3)
    doc = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}",
        "conditions": f"onnxruntime, single-row JSON [1,20] FP64, concurrency {' and '.join(map(str, LEVELS))}, "
        f"{a.seconds:g} s x {a.rounds} alternating rounds, servers on core 0, load generator on "
        f"core 1; before = {a.before}",
        "otlp_posts_received": _Drop.spans_posts,
        "summary": summary,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "otel.json").write_text(json.dumps(doc, indent=2))
    lines = [
        "# Model server: cost of OpenTelemetry tracing",
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
        f"'tracing on' exported its spans in {_Drop.spans_posts} OTLP/HTTP posts during the run.",
        "CPU ms/req is the server's CPU time over the requests it answered. On a shared machine the server",
        "gets only part of its core; compare the rows of one table, not tables.",
    ]
    (RESULTS / "otel.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
