"""Batch scoring throughput: predict_batch beside model.predict in a plain loop over the same batches.

Data: ``make_classification``, 20 numeric features, an id column; written as
2 Parquet files of row groups of 100,000 rows (default 2,000,000 rows in all).
Model: scikit-learn ``HistGradientBoostingClassifier`` (100 iterations),
snapshotted with its signature and exported to ONNX (skl2onnx).

Contestants, each in its own fresh process pinned to one core (``taskset -c 0``,
``OMP_NUM_THREADS=1``), timed from the first batch read to the last row
written, imports and model loading excluded by a warm-up on 1,000 rows:

- ``loop``: pyarrow reads the same batches (65,536 rows); ``model.predict_proba``
  and ``model.predict`` on each, nothing written: what a user writes by hand.
- ``loop_proba``: the same loop with ``predict_proba`` alone on a float matrix (one
  pass; the labels are its argmax): the least a hand-written loop can do.
- ``predict_batch onnx``: ``predict_batch(ref, src, out)`` (the ONNX export,
  onnxruntime, 1 thread), predictions, ids and version written as Parquet.
- ``predict_batch native``: the same with ``runtime="native"`` (the scikit-learn model).
- ``predict_batch dask``: ``engine="dask"`` on a LocalCluster of 2 worker processes
  (1 thread each, not pinned); per core = rows/s / 2, cluster start-up included.

    .venv/bin/python bench/batch/bench_batch.py [--rows 2000000] [--repeats 1]

Results: bench/results/batch.json and bench/results/batch.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench" / ".work" / "batch"
RESULTS = ROOT / "bench" / "results"
FEATURES = [f"f{i}" for i in range(20)]
BATCH = 65_536


def setup(rows: int) -> str:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    import jupyter_modelops as mo

    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "src").mkdir(parents=True)
    X, y = make_classification(n_samples=rows + 20_000, n_features=20, n_informative=10, random_state=0)
    df = pd.DataFrame(X[:rows], columns=FEATURES)
    df.insert(0, "row_id", np.arange(rows, dtype=np.int64))
    half = rows // 2
    df.iloc[:half].to_parquet(WORK / "src" / "part-a.parquet", row_group_size=100_000, index=False)
    df.iloc[half:].to_parquet(WORK / "src" / "part-b.parquet", row_group_size=100_000, index=False)
    train = pd.DataFrame(X[rows:], columns=FEATURES)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(train, y[rows:])
    v = mo.snapshot(model, "bench-batch", data=train.head(200))
    mo.export(v.ref, "onnx", benchmark=False)
    return v.ref


CHILD = r"""
import json, os, sys, time
import pyarrow.parquet as pq
mode, ref, work = sys.argv[1], sys.argv[2], sys.argv[3]
src, out = os.path.join(work, "src"), os.path.join(work, "out-" + mode)
FEATURES = [f"f{i}" for i in range(20)]
import jupyter_modelops as mo
if mode in ("loop", "loop_proba"):
    import numpy as np
    model = mo.load(ref)
    files = sorted(os.path.join(src, f) for f in os.listdir(src))
    first = pq.ParquetFile(files[0]).read_row_group(0).slice(0, 1000).select(FEATURES).to_pandas()
    model.predict_proba(first); model.predict(first)
    t0 = time.perf_counter(); rows = 0
    for f in files:
        for b in pq.ParquetFile(f).iter_batches(batch_size=int(sys.argv[4]), columns=FEATURES):
            if mode == "loop":
                X = b.to_pandas()
                model.predict_proba(X); model.predict(X)
            else:  # one pass, a float matrix: the least a hand-written loop can do
                X = np.column_stack([b.column(f).to_numpy() for f in FEATURES])
                model.predict_proba(X)
            rows += b.num_rows
    dt = time.perf_counter() - t0
else:
    import shutil, tempfile
    from jupyter_modelops.batch import core
    engine = "dask" if mode == "dask" else "local"
    runtime = "native" if mode == "native" else None
    # warm-up: the same path on 1,000 rows (imports, model files, runtime)
    tmp = tempfile.mkdtemp()
    pq.write_table(pq.ParquetFile(os.path.join(src, "part-a.parquet")).read_row_group(0).slice(0, 1000),
                   os.path.join(tmp, "w.parquet"))
    mo.predict_batch(ref, os.path.join(tmp, "w.parquet"), os.path.join(tmp, "o"), runtime=runtime, progress=False)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    res = mo.predict_batch(ref, src, out, engine=engine, runtime=runtime, batch_size=int(sys.argv[4]),
                           partition_rows=200_000, progress=False)
    dt = time.perf_counter() - t0
    rows = res.rows_scored
print(json.dumps({"rows": rows, "seconds": dt}))
"""


def run_child(mode: str, ref: str) -> dict:
    env = {**os.environ, "MODELOPS_HOME": str(WORK / "home"), "OMP_NUM_THREADS": "1", "MODELOPS_SERVING_THREADS": "1"}
    cmd = [sys.executable, "-c", CHILD, mode, ref, str(WORK), str(BATCH)]
    if mode != "dask" and shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, cwd=str(ROOT))
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    os.environ["MODELOPS_HOME"] = str(WORK / "home")
    load0 = os.getloadavg()[0]
    ref = setup(args.rows)
    modes = [
        ("loop", "model.predict_proba + predict, plain loop (nothing written)", 1),
        ("loop_proba", "model.predict_proba only, on a float matrix, plain loop (nothing written)", 1),
        ("onnx", "predict_batch, ONNX export (onnxruntime), Parquet written", 1),
        ("native", "predict_batch, runtime='native' (scikit-learn), Parquet written", 1),
        ("dask", "predict_batch engine='dask', LocalCluster 2 workers x 1 thread", 2),
    ]
    rows_out = []
    for mode, label, cores in modes:
        runs = [run_child(mode, ref) for _ in range(args.repeats)]
        secs = statistics.median(r["seconds"] for r in runs)
        n = runs[0]["rows"]
        rows_out.append(
            {
                "mode": mode,
                "contestant": label,
                "rows": n,
                "seconds": round(secs, 2),
                "cores": cores,
                "rows_per_s_per_core": round(n / secs / cores),
            }
        )
    base = rows_out[0]["rows_per_s_per_core"]
    doc = {
        "rows": args.rows,
        "batch_size": BATCH,
        "model": "HistGradientBoostingClassifier(max_iter=100), 20 features",
        "results": rows_out,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_start": round(load0, 2),
            "load_end": round(os.getloadavg()[0], 2),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "batch.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [
        f"# Batch scoring, {args.rows:,} rows x 20 features (HistGradientBoostingClassifier, 100 iterations)",
        "",
        f"Same Parquet batches ({BATCH:,} rows) for every contestant; each in a fresh process, one core "
        "(taskset, OMP_NUM_THREADS=1) unless noted; warm-up excluded; median of "
        f"{args.repeats} run(s).",
        "",
        "| contestant | rows | s | cores | rows/s per core | vs plain loop |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows_out:
        lines.append(
            f"| {r['contestant']} | {r['rows']:,} | {r['seconds']} | {r['cores']} | "
            f"{r['rows_per_s_per_core']:,} | {r['rows_per_s_per_core'] / base:.2f}x |"
        )
    m = doc["machine"]
    lines += [
        "",
        f"Machine: {m['cpus']} CPUs, shared; load average at start {m['load_start']}, at end "
        f"{m['load_end']}. Quote the ratios, not the absolute times.",
    ]
    (RESULTS / "batch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
