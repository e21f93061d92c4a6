"""Profile of 10M rows x 20 float columns streamed from Parquet, beside the in-memory path at 1M rows.

The data (standard normal floats, seed 0) is written once to a temporary Parquet file in row groups of
1M rows. Each measurement runs in its own fresh process: wall time of the ``profile()`` call only (imports
done before), and the peak RSS of that process (``VmHWM``, data included for the in-memory path).

    .venv/bin/python bench/profile/bench_profile.py [--rows 10000000] [--memory-rows 1000000]

Results: bench/results/profile.json and bench/results/profile.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
COLS = 20

CHILD = r"""
import json, sys, time
import numpy as np
import jupyter_modelops as mo
from jupyter_modelops.drift_detection import profile as _p  # noqa: F401  (import before timing)
import pyarrow.parquet as pq
mode, arg, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "parquet":
    t0 = time.perf_counter()
    prof = mo.profile(arg)
    dt = time.perf_counter() - t0
else:
    data = np.random.default_rng(0).standard_normal((rows, 20))
    t0 = time.perf_counter()
    prof = mo.profile(data)
    dt = time.perf_counter() - t0
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": dt, "rows": prof.n_rows, "peak_rss_mb": hwm / 1024,
                  "profile_json_bytes": len(json.dumps(prof.to_dict()))}))
"""


WHYLOGS = r"""
import json, sys, time
import pyarrow.parquet as pq
import whylogs as why
path, rows = sys.argv[1], int(sys.argv[2])
pf = pq.ParquetFile(path)
t0 = time.perf_counter()
view, done = None, 0
for rb in pf.iter_batches(batch_size=min(rows, 1_000_000)):
    df = rb.to_pandas().iloc[: rows - done]
    v = why.log(df).view()
    view = v if view is None else view.merge(v)
    done += len(df)
    if done >= rows:
        break
dt = time.perf_counter() - t0
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": dt, "rows": done, "peak_rss_mb": hwm / 1024, "version": why.__version__}))
"""
WHYLOGS_PY = HERE.parent / ".venvs" / "whylogs" / "bin" / "python"


def write_parquet(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    schema = pa.schema([(f"f{i}", pa.float64()) for i in range(COLS)])
    with pq.ParquetWriter(path, schema, compression="none") as w:
        done = 0
        while done < rows:
            n = min(1_000_000, rows - done)
            block = rng.standard_normal((n, COLS))
            w.write_table(pa.table({f"f{i}": block[:, i] for i in range(COLS)}, schema=schema))
            done += n


def run(mode: str, arg: str, rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, arg, str(rows)], capture_output=True, text=True, timeout=1200, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--memory-rows", type=int, default=1_000_000)
    ap.add_argument(
        "--whylogs-rows",
        type=int,
        default=1_000_000,
        help="rows profiled by whylogs (its own venv, bench/.venvs/whylogs), 0 to skip",
    )
    a = ap.parse_args()
    whylogs = None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.parquet"
        write_parquet(path, a.rows)
        size_mb = path.stat().st_size / 2**20
        streamed = run("parquet", str(path), a.rows)
        if a.whylogs_rows and WHYLOGS_PY.exists():
            out = subprocess.run(
                [str(WHYLOGS_PY), "-c", WHYLOGS, str(path), str(a.whylogs_rows)],
                capture_output=True,
                text=True,
                timeout=1200,
                check=True,
            )
            whylogs = json.loads(out.stdout.strip().splitlines()[-1])
    memory = run("memory", "", a.memory_rows)
    res = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "columns": COLS,
        "parquet_mb": round(size_mb, 1),
        "parquet": streamed,
        "in_memory": memory,
        "whylogs": whylogs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        "# profile(): streamed from Parquet vs in memory",
        "",
        f"{COLS} float64 columns, standard normal; {res['machine']}; one fresh process per row, "
        f"time of the profile() call, peak RSS of the process.",
        "",
        "| input | rows | seconds | rows/s | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    runs = [("Parquet file (%.0f MB), 1M-row batches merged" % size_mb, streamed), ("NumPy array in memory", memory)]
    if whylogs:
        runs.append(
            (f"whylogs {whylogs['version']} `why.log` per 1M-row batch of the same file, views merged", whylogs)
        )
    for name, r in runs:
        lines.append(
            f"| {name} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "whylogs at 1e7 rows, merges of 10 profiles, serialized sizes, and the false alarms of a KS test between "
        "two summaries of the same distribution: `drift_scale.md`.",
    ]
    (RESULTS / "profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
