"""One monitoring report end to end on 100k rows: wall time (kernel start included) and HTML size.

Run: .venv/bin/python bench/reports/bench_report.py [--rows 100000] [--repeat 3]
Writes bench/results/reports.json and bench/results/reports.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    os.environ["MODELOPS_HOME"] = str(work / "home")

    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as mo

    X, y = make_classification(n_samples=2 * args.rows, n_features=20, n_informative=10, random_state=0)
    cols = [f"f{i}" for i in range(20)]
    ref = pd.DataFrame(X[: args.rows], columns=cols)
    cur = pd.DataFrame(X[args.rows :], columns=cols).assign(target=y[args.rows :])
    model = LogisticRegression(max_iter=1000).fit(ref, y[: args.rows])
    mo.snapshot(model, "bench", data=ref)
    data = work / "current.parquet"
    cur.to_parquet(data)

    walls, sizes, statuses = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        run = mo.report("bench:1", data=data, params={"label_column": "target", "min_score": 0.5})
        walls.append(time.perf_counter() - t0)
        sizes.append(Path(run.html).stat().st_size)
        statuses.append(run.status)
        assert run.status == "succeeded", run.error
    res = {
        "benchmark": "monitoring report end to end (papermill, fresh kernel, HTML export)",
        "rows": args.rows,
        "features": 20,
        "repeat": args.repeat,
        "wall_s": walls,
        "wall_s_median": statistics.median(walls),
        "html_bytes": sizes,
        "html_bytes_max": max(sizes),
        "status": statuses,
        "targets": {"wall_s": 20.0, "html_bytes": 1_000_000},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(res, indent=2))
    md = [
        "# Monitoring report benchmark",
        "",
        f"{args.rows:,} current rows x 20 features, LogisticRegression, median of {args.repeat} runs "
        "(kernel start, evaluation with 500-resample intervals, drift vs stored profile, robustness spot check, "
        "history, HTML export).",
        "",
        "| measure | value | target |",
        "| --- | --- | --- |",
        f"| wall time, median (s) | {res['wall_s_median']:.1f} | <= 20 |",
        f"| wall times (s) | {', '.join(f'{w:.1f}' for w in walls)} | |",
        f"| HTML size (KB) | {max(sizes) / 1024:.0f} | <= 1000 |",
        "",
    ]
    (RESULTS / "reports.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
