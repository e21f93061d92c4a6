"""A monitoring report over 1M captured rows (20 feature columns), kernel start included.

The captures are laid out exactly as the model server writes them: a real server captures a
few requests first (that file gives the schema and the partition layout), then 1M rows of
the same schema are written beside it (100,000 requests of 10 rows over the last 40 minutes),
a tenth of them get labels through ``mo.log_labels``, and ``mo.report(ref, window="1h")``
runs the monitoring template on the window (drift against the stored profile, accuracy with
intervals on the labelled rows, traffic, latency and errors). Writes
``bench/results/capture_report.{json,md}``.

    python bench/capture/report_1m.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    os.environ["MODELOPS_HOME"] = tempfile.mkdtemp(prefix="modelops-bench-")
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as mo

    rng = np.random.default_rng(0)
    cols = [f"f{i}" for i in range(20)]
    X = pd.DataFrame(rng.normal(size=(20_000, 20)), columns=cols)
    y = (X.f0 + 0.5 * X.f1 + rng.normal(scale=0.5, size=len(X)) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    mo.snapshot(model, "bench", data=X)
    dep = mo.serve("bench", capture=True)
    try:
        for i in range(5):
            mo.predict(dep, X.iloc[i * 10 : (i + 1) * 10])
    finally:
        mo.stop(dep)
    first = glob.glob(os.environ["MODELOPS_HOME"] + "/captures/**/*.parquet", recursive=True)[0]
    probe = pq.read_table(first)
    schema = probe.schema
    part_root = Path(first).parent.parent  # .../model=bench/version=1

    n = args.rows
    per_req = 10
    Xc = rng.normal(size=(n, 20))
    Xc[:, 0] += np.linspace(0, 0.5, n)  # traffic drifts slowly along the window
    proba = model.predict_proba(pd.DataFrame(Xc, columns=cols))
    pred = proba.argmax(axis=1).astype(np.int64)
    n_req = n // per_req
    now = dt.datetime.now(dt.timezone.utc)
    req_ts = np.sort(now.timestamp() - rng.uniform(60, 2400, size=n_req))
    ts = np.repeat(req_ts, per_req)
    ids = np.array([f"{i:032x}" for i in range(1, n_req + 1)], dtype=object)
    latency = np.repeat(rng.gamma(2.0, 1.5, size=n_req), per_req)
    status = np.full(n, 200, dtype=np.int16)
    status[rng.random(n) < 0.001] = 500
    data = {
        "request_id": np.repeat(ids, per_req),
        "row": np.tile(np.arange(per_req, dtype=np.int32), n_req),
        "ts": (ts * 1e6).astype(np.int64),
        "latency_ms": latency,
        "status": status,
        "deployment": ["bench"] * n,
        "cluster": ["local"] * n,
        "pod": ["bench-0"] * n,
    }
    for j, c in enumerate(cols):
        data[c] = Xc[:, j]
    data["predict"] = pred
    flat = pa.array(proba.ravel(), type=pa.float64())
    t_write = time.perf_counter()
    hours = pd.to_datetime(ts, unit="s", utc=True).strftime("%Y-%m-%dT%H")
    written = 0
    for hour in sorted(set(hours)):
        sel = np.flatnonzero(np.asarray(hours) == hour)
        cols_out = []
        for f in schema:
            if f.name == "predict_proba":
                cols_out.append(
                    pa.FixedSizeListArray.from_arrays(flat.take(pa.array((sel[:, None] * 2 + np.arange(2)).ravel())), 2)
                )
            else:
                v = data[f.name]
                v = (
                    v[sel]
                    if isinstance(v, np.ndarray)
                    else (v.take(sel) if hasattr(v, "take") else [v[k] for k in sel])
                )
                cols_out.append(pa.array(v, type=f.type))
        table = pa.Table.from_arrays(cols_out, schema=schema)
        out = part_root / f"hour={hour}" / f"part-bench-{hour}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name("." + out.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.rename(out)
        written += out.stat().st_size
    t_write = time.perf_counter() - t_write
    labelled = rng.choice(n_req, size=n_req // 10, replace=False)
    lab_ids = [ids[i] for i in labelled for _ in range(per_req)]
    rows = [r for _ in labelled for r in range(per_req)]
    truth = (Xc[:, 0] + 0.5 * Xc[:, 1] > 0).astype(int)
    lab = [int(truth[i * per_req + r]) for i in labelled for r in range(per_req)]
    mo.log_labels(dep, lab_ids, lab, rows=rows)

    t0 = time.perf_counter()
    run = mo.report("bench", window="1h")
    seconds = time.perf_counter() - t0
    html = Path(run.html).stat().st_size if run.html else 0
    result = {
        "rows": n,
        "requests": n_req,
        "feature_columns": 20,
        "labelled_rows": len(lab),
        "report_seconds": round(seconds, 2),
        "status": run.status,
        "error": run.error,
        "gates_passed": run.gates_passed,
        "html_bytes": html,
        "bytes_on_disk_per_row": round(written / n, 1),
        "write_seconds": round(t_write, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "capture_report.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "capture_report.md").write_text(
        "# A monitoring report over captured traffic\n\n"
        f"{result['machine']}, Python {result['python']}. {n:,} captured rows ({n_req:,} requests of "
        f"{per_req} rows, 20 FP64 features, label and 2 probabilities), laid out as the model server "
        f"writes them; {len(lab):,} rows labelled through `mo.log_labels`.\n\n"
        "| measure | value | goal |\n| --- | --- | --- |\n"
        f'| `mo.report(ref, window="1h")`, kernel start included | {seconds:.1f} s ({run.status}) | 30 s |\n'
        f"| bytes on disk per captured row (zstd Parquet) | {written / n:.1f} | stated |\n"
        f"| report HTML | {html / 1e3:.0f} KB | |\n\n"
        "One run; absolute times depend on the machine and what else runs on it.\n"
    )
    print(json.dumps(result, indent=2))
    return 0 if run.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
