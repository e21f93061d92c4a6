"""Run every benchmark, one after the other, each writing bench/results/<area>.json and .md.

    make bench                      # all of them (the peers' venvs are created under bench/.venvs)
    .venv/bin/python bench/run_all.py evaluation drift    # some of them

Benchmarks compare side by side with the peers in one run; quote the ratios,
not the absolute times, and note the machine's load (each results file does).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCRIPTS = {
    "evaluation": "evaluation/bench_evaluation.py",
    "evaluation_stream": "evaluation/stream_1e8.py",
    "drift": "drift/bench_drift.py",
    "drift_scale": "drift/bench_drift_scale.py",
    "profile": "profile/bench_profile.py",
    "robustness": "robustness/bench_robustness.py",
    "robustness_stream": "robustness/stream.py",
    "registry": "registry/run.py",
    "export": "export/bench_export.py",
    "serving": "serving/run.py",
    "images": "images/run.py",
    "reports": "reports/bench_report.py",
    "monitoring": "monitoring/bench_monitoring.py",
    "batch": "batch/bench_batch.py",
    "panel": "panel/build_and_test_times.py",
    "mlflow": "mlflow/bench_mlflow.py",
}


def main(argv: list[str]) -> int:
    names = argv or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / SCRIPTS[name])], cwd=HERE.parent)
        print(f"== {name}: exit {rc} in {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
