"""Drift and profiles at scale: Parquet larger than memory, whylogs side by side, false alarms, Dask, merges.

Parts (each writes its entry into bench/results/drift_scale.json; the .md is rebuilt from the JSON):

- ``scale``: ``drift(ref_folder, cur_folder)`` on two Parquet folders of ``--rows`` rows x 20 float32 columns
  each (standard normal, independent seeds; the current's first 5 columns shifted by 0.1), streamed through
  profiles. Wall time of the call and peak RSS (VmHWM) of a fresh process. The data is deleted afterwards.
- ``profile``: ``profile()`` of 20 float64 columns from Parquet at 1e6 and 1e7 rows beside whylogs
  (``why.log`` per 1M-row batch, views merged; its own venv ``bench/.venvs/whylogs``), and the time to
  merge 10 profiles of 1M-row parts; serialized sizes.
- ``alarms``: two independent samples of the SAME distribution (20 normal columns) at n = 1e4 ... 1e7 rows
  per side, each side built from 10 batches. Ours through the profile path (both sides profiled and
  compared profile against profile): drifted columns, KS-significant columns after Benjamini-Hochberg, and
  raw KS p < 0.05 (as whylogs reports it, no adjustment); the exact in-memory path next to it up to 1e6;
  whylogs' KS-from-sketch p < 0.05 (``calculate_drift_scores``).
- ``dask``: ``profile(dd.read_parquet(folder))`` on a LocalCluster with 1 and with 2 worker processes
  (one thread each) on the same files, next to the single-process streamed profile.
- ``merge``: quantile error (max over 1001 levels of the distance in rank / n) of a profile built by
  sequentially merging 10, 100 and 1000 batches, with the previous rule (quantiles re-sampled from the
  mixture of the two interpolated CDFs at every merge) and the current one (an exact fine histogram).

    .venv/bin/python bench/drift/bench_drift_scale.py [--parts scale,profile,alarms,dask,merge] [--rows 100000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench" / ".work" / "drift_scale"
RESULTS = ROOT / "bench" / "results"
WHYLOGS_PY = ROOT / "bench" / ".venvs" / "whylogs" / "bin" / "python"
COLS = 20
OUT = RESULTS / "drift_scale.json"

HWM = 'next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024'


def load() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def save(key: str, value) -> None:
    res = load()
    res[key] = value
    res["machine"] = f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs)"
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    write_md(res)


def child(code: str, *args: str, py: str = sys.executable, timeout: int = 7200) -> dict:
    out = subprocess.run([py, "-c", code, *args], capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_folder(folder: Path, rows: int, seed: int, *, dtype: str, shift_cols: int = 0, file_rows: int) -> float:
    """Standard normal columns in files of ``file_rows`` rows (row groups of 1M); returns MB written."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    schema = pa.schema([(f"f{i}", pa.from_numpy_dtype(np.dtype(dtype))) for i in range(COLS)])
    done, k = 0, 0
    while done < rows:
        n_file = min(file_rows, rows - done)
        with pq.ParquetWriter(folder / f"part-{k:04d}.parquet", schema, compression="none") as w:
            written = 0
            while written < n_file:
                n = min(1_000_000, n_file - written)
                block = rng.standard_normal((n, COLS), dtype=np.float32 if dtype == "float32" else np.float64)
                if shift_cols:
                    block[:, :shift_cols] += 0.1
                w.write_table(pa.table({f"f{i}": block[:, i] for i in range(COLS)}, schema=schema))
                written += n
        done += n_file
        k += 1
    return sum(f.stat().st_size for f in folder.iterdir()) / 2**20


# ---------------------------------------------------------------- scale

SCALE = (
    r"""
import importlib, json, sys, time
import jupyter_modelops as mo
from jupyter_modelops.drift_detection import core  # noqa: F401
import pyarrow.parquet  # noqa: F401
import threading
# stream even what would fit the in-memory limit, or gather in memory beyond it (the exact path, for comparison)
importlib.import_module("jupyter_modelops.drift_detection._columns").MAX_IN_MEMORY_CELLS = (
    0 if sys.argv[3] == "stream" else 10**12)
samples = []
def sample():  # RSS every half second: when the peak happened, and the median over the run
    while True:
        samples.append((time.perf_counter(), next(int(l.split()[1]) for l in open("/proc/self/status")
                                                   if l.startswith("VmRSS:")) / 1024))
        time.sleep(0.5)
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
rep = mo.drift(sys.argv[1], sys.argv[2], progress=False)
dt = time.perf_counter() - t0
peak_t, peak = max(samples, key=lambda s: s[1])
rss = sorted(s[1] for s in samples)
print(json.dumps({"seconds": dt, "peak_rss_mb": %s, "n_reference": rep.n_reference, "n_current": rep.n_current,
                  "sampled_peak_at_seconds": peak_t - t0, "median_rss_mb": rss[len(rss) // 2],
                  "from_profile": rep.from_profile, "drifted": rep.drifted,
                  "ks_significant": [c["column"] for c in rep.columns if c["ks_p_adj"] < 0.05]}))
"""
    % HWM
)


def part_scale(sizes: list[int]) -> None:
    out = [r for r in load().get("scale", []) if r["rows_per_side"] not in sizes]  # keep other sizes' rows
    for rows in sizes:
        base = WORK / "scale"
        shutil.rmtree(base, ignore_errors=True)
        try:
            t0 = time.perf_counter()
            mb_ref = write_folder(base / "ref", rows, 1, dtype="float32", file_rows=10_000_000)
            mb_cur = write_folder(base / "cur", rows, 2, dtype="float32", shift_cols=5, file_rows=10_000_000)
            gen = time.perf_counter() - t0
            modes = ["stream"] + (["default"] if rows * COLS <= 200_000_000 else [])
            for mode in modes:
                r = child(SCALE, str(base / "ref"), str(base / "cur"), mode)
                r.update(
                    rows_per_side=rows,
                    mode=mode,
                    parquet_mb_per_side=round((mb_ref + mb_cur) / 2),
                    write_seconds=round(gen, 1),
                    load_average=os.getloadavg(),
                )
                r["rows_per_second"] = 2 * rows / r["seconds"]
                out.append(r)
                save("scale", out)
        finally:
            shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- profile vs whylogs

OURS_PROFILE = (
    r"""
import json, sys, time
import jupyter_modelops as mo
from jupyter_modelops.drift_detection import profile as _p  # noqa: F401
import pyarrow.parquet as pq
path = sys.argv[1]
t0 = time.perf_counter()
prof = mo.profile(path)
dt = time.perf_counter() - t0
hwm = %s
parts, first = [], None
for rb in pq.ParquetFile(path).iter_batches(batch_size=prof.n_rows // 10):  # 10 parts
    t = rb.to_pandas()
    p = mo.profile(t, like=first)
    first = first or p
    parts.append(p)
    if len(parts) == 10:
        break
times = []
for _ in range(7):  # the median of 7 merges: one merge is tens of ms, at the mercy of a shared machine
    t1 = time.perf_counter()
    merged = mo.merge_profiles(parts)
    times.append(time.perf_counter() - t1)
merge_s = sorted(times)[3]
print(json.dumps({"seconds": dt, "rows": prof.n_rows, "peak_rss_mb": hwm, "merge_10_seconds": merge_s,
                  "merged_parts": len(parts), "json_bytes": len(json.dumps(prof.to_dict()))}))
"""
    % HWM
)

WHY_PROFILE = (
    r"""
import json, sys, time
import pyarrow.parquet as pq
import whylogs as why
path = sys.argv[1]
pf = pq.ParquetFile(path)
t0 = time.perf_counter()
views = []
for rb in pf.iter_batches(batch_size=1_000_000):
    views.append(why.log(rb.to_pandas()).view())
view = views[0]
for v in views[1:]:
    view = view.merge(v)
dt = time.perf_counter() - t0
hwm = %s
parts = [why.log(rb.to_pandas()).view() for rb in pf.iter_batches(batch_size=pf.metadata.num_rows // 10)][:10]
times = []
for _ in range(7):  # the median of 7, as for ours
    t1 = time.perf_counter()
    m = parts[0]
    for v in parts[1:]:
        m = m.merge(v)
    times.append(time.perf_counter() - t1)
merge_s = sorted(times)[3]
print(json.dumps({"seconds": dt, "rows": sum(1 for _ in []) or pf.metadata.num_rows, "peak_rss_mb": hwm,
                  "merge_10_seconds": merge_s, "serialized_bytes": len(view.serialize()), "version": why.__version__}))
"""
    % HWM
)


def part_profile(sizes: list[int]) -> None:
    out = [r for r in load().get("profile", []) if r["rows"] not in sizes]  # keep other sizes' rows
    for rows in sizes:
        folder = WORK / f"profile_{rows}"
        shutil.rmtree(folder, ignore_errors=True)
        try:
            write_folder(folder, rows, 0, dtype="float64", file_rows=rows)
            path = str(next(folder.iterdir()))
            ours = child(OURS_PROFILE, path)
            why = child(WHY_PROFILE, path, py=str(WHYLOGS_PY)) if WHYLOGS_PY.exists() else None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        out.append({"rows": rows, "ours": ours, "whylogs": why})
        save("profile", sorted(out, key=lambda r: r["rows"]))


# ---------------------------------------------------------------- false alarms

OURS_ALARMS = r"""
import json, sys, importlib
import numpy as np, pyarrow as pa
import jupyter_modelops as mo
cols = importlib.import_module("jupyter_modelops.drift_detection._columns")
n, seed = int(sys.argv[1]), int(sys.argv[2])
def reader(s):
    x = np.random.default_rng(s).standard_normal((n, 20))
    t = pa.table({f"f{i}": x[:, i] for i in range(20)})
    return x, t.to_reader(max_chunksize=max(n // 10, 1))
a, ra = reader(seed)
b, rb = reader(seed + 1000)
cols.MAX_IN_MEMORY_CELLS = 0  # both sides through profiles, each built from its 10 batches
rep = mo.drift(ra, rb, progress=False)
out = {"n": n, "seed": seed, "from_profile": rep.from_profile, "drifted": len(rep.drifted),
       "ks_bh": int(sum(c["ks_p_adj"] < 0.05 for c in rep.columns)),
       "ks_raw": int(sum(c["ks_p"] < 0.05 for c in rep.columns)),
       "ks_resolution": max(c["ks_upper"] - c["ks"] for c in rep.columns)}
if n <= 1_000_000:
    ex = mo.drift(a, b, progress=False)
    out.update(exact_drifted=len(ex.drifted), exact_ks_bh=int(sum(c["ks_p_adj"] < 0.05 for c in ex.columns)),
               exact_ks_raw=int(sum(c["ks_p"] < 0.05 for c in ex.columns)))
print(json.dumps(out))
"""

WHY_ALARMS = r"""
import json, sys
import numpy as np, pandas as pd
import whylogs as why
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores
n, seed = int(sys.argv[1]), int(sys.argv[2])
def view(s):
    x = np.random.default_rng(s).standard_normal((n, 20))
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    v = None
    for part in np.array_split(np.arange(n), 10):
        w = why.log(df.iloc[part]).view()
        v = w if v is None else v.merge(w)
    return v
ref, cur = view(seed), view(seed + 1000)
scores = calculate_drift_scores(target_view=cur, reference_view=ref, with_thresholds=True)
ps = [s["pvalue"] for s in scores.values() if s]
cats = [s["drift_category"] for s in scores.values() if s]
print(json.dumps({"n": n, "seed": seed, "ks_raw": int(sum(p < 0.05 for p in ps)), "drift": cats.count("DRIFT"),
                  "possible_drift": cats.count("POSSIBLE_DRIFT"), "columns": len(ps)}))
"""


def part_alarms(sizes: list[int], seeds: dict[int, int], whylogs_max: int) -> None:
    rows = [r for r in load().get("alarms", []) if r["n"] not in sizes]  # keep other sizes' rows
    for n in sizes:
        for s in range(seeds.get(n, 1)):
            ours = child(OURS_ALARMS, str(n), str(s))
            why = (
                child(WHY_ALARMS, str(n), str(s), py=str(WHYLOGS_PY))
                if WHYLOGS_PY.exists() and n <= whylogs_max
                else None
            )
            rows.append({"n": n, "seed": s, "ours": ours, "whylogs": why})
            save("alarms", sorted(rows, key=lambda r: (r["n"], r["seed"])))


# ---------------------------------------------------------------- dask

DASK = r"""
import json, sys, time
import dask.dataframe as dd, distributed
import jupyter_modelops as mo
folder, workers = sys.argv[1], int(sys.argv[2])
if __name__ == "__main__":
    if workers == 0:
        ts = []
        for _ in range(2):
            t0 = time.perf_counter(); p = mo.profile(folder); ts.append(time.perf_counter() - t0)
        print(json.dumps({"workers": 0, "seconds": min(ts), "all": ts, "rows": p.n_rows}))
    else:
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None) as cl, distributed.Client(cl):
            ddf = dd.read_parquet(folder)
            ts = []
            for _ in range(2):
                t0 = time.perf_counter(); p = mo.profile(ddf); ts.append(time.perf_counter() - t0)
            print(json.dumps({"workers": workers, "seconds": min(ts), "all": ts, "rows": p.n_rows,
                              "partitions": ddf.npartitions}))
"""


def part_dask(rows: int) -> None:
    folder = WORK / "dask"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        write_folder(folder, rows, 3, dtype="float32", file_rows=1_000_000)
        res = [child(DASK, str(folder), str(w)) for w in (0, 1, 2)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    save("dask", {"rows": rows, "runs": res, "load_average": os.getloadavg()})


# ---------------------------------------------------------------- merge error


def _old_mix(na, qa, nb, qb, k=1001):
    """The previous merge rule: quantiles of the mixture of both interpolated CDFs, re-sampled at k levels."""
    import numpy as np

    lv = np.linspace(0.0, 1.0, k)
    x = np.union1d(qa, qb)
    f = (na * np.interp(x, qa, lv, left=0.0, right=1.0) + nb * np.interp(x, qb, lv, left=0.0, right=1.0)) / (na + nb)
    f = np.maximum.accumulate(f)
    out = np.interp(lv, f, x)
    out[0], out[-1] = x[0], x[-1]
    return out


def _rank_error(q, s):
    import numpy as np

    lv = np.linspace(0.0, 1.0, q.size)
    lo = np.searchsorted(s, q, side="left") / s.size
    hi = np.searchsorted(s, q, side="right") / s.size
    return float(np.max(np.maximum(0.0, np.maximum(lo - lv, lv - hi))))


def part_merge(batch_rows: int = 10_000) -> None:
    import numpy as np

    import jupyter_modelops as mo
    from jupyter_modelops.drift_detection.profile import resolution

    rows = []
    for dist in ("normal", "lognormal", "trend"):
        for batches in (10, 100, 1000):
            rng = np.random.default_rng(batches)
            if dist == "lognormal":
                data = rng.lognormal(size=batches * batch_rows)
            else:
                data = rng.normal(size=batches * batch_rows)
            if dist == "trend":  # the mean moves from 0 to 5 across the batches: beyond the first batch's range
                data += np.repeat(np.linspace(0.0, 5.0, batches), batch_rows)
            s = np.sort(data)
            parts = np.split(data, batches)
            lv = np.linspace(0.0, 1.0, 1001)
            q_old, n_old = np.quantile(parts[0], lv), batch_rows
            first = mo.profile(parts[0])
            new = first
            t0 = time.perf_counter()
            for p in parts[1:]:
                q_old = _old_mix(n_old, q_old, batch_rows, np.quantile(p, lv))
                n_old += batch_rows
            t_old = time.perf_counter() - t0
            t0 = time.perf_counter()
            for p in parts[1:]:
                new = new.merge(mo.profile(p, like=first))
            t_new = time.perf_counter() - t0
            col = new.columns["x0"]
            rows.append(
                {
                    "distribution": dist,
                    "batches": batches,
                    "batch_rows": batch_rows,
                    "old_rank_error": _rank_error(q_old, s),
                    "new_rank_error": _rank_error(np.asarray(col["quantiles"]), s),
                    "new_stated_bound": resolution(col),
                    "old_seconds": t_old,
                    "new_seconds_incl_profiling": t_new,
                }
            )
    save("merge", rows)


# ---------------------------------------------------------------- report


def write_md(res: dict) -> None:
    L = [
        "# Drift and profiles at scale",
        "",
        f"Machine: {res.get('machine')}. Every timed run is a fresh process; peak RSS is that process's VmHWM "
        "(data included). Quote ratios, not absolute times: other jobs shared the 2 cores during the run.",
        "",
    ]
    sc = res.get("scale")
    if sc:
        L += [
            f"## drift() from Parquet, {COLS} float32 columns per side",
            "",
            "Two folders (reference and current, independent seeds, the current's first 5 columns shifted by "
            "0.1 sd), uncompressed, 10M-row files of 1M-row row groups. `streamed`: both sides profiled in 1M-row "
            "batches on shared edges and compared profile against profile (what drift() does beyond 5e7 values); "
            "`in memory`: both sides gathered and compared exactly (forced here; drift()'s default up to 5e7 values, "
            "and its default at 1e7 x 20 = 2e8 values before the limit was lowered for this memory).",
            "",
            "| rows per side | path | seconds | rows/s (both sides) | peak RSS (MB) | median RSS (MB) | drifted | "
            "KS-significant (BH) | load average |",
            "|---:|---|---:|---:|---:|---:|---|---|---|",
        ]
        for r in sorted(sc, key=lambda r: (r["rows_per_side"], r["mode"] != "stream")):
            path = "streamed" if r["from_profile"] else "in memory"
            L.append(
                f"| {r['rows_per_side']:,} | {path} | {r['seconds']:.0f} | {r['rows_per_second']:,.0f} | "
                f"{r['peak_rss_mb']:.0f} | {round(r['median_rss_mb']) if 'median_rss_mb' in r else '-'} | {', '.join(r['drifted']) or '-'} | "
                f"{', '.join(r['ks_significant']) or '-'} | "
                f"{r['load_average'][0]:.1f} |"
            )
        L.append("")
    pr = res.get("profile")
    if pr:
        L += [
            "## profile() beside whylogs (20 float64 columns from one Parquet file, 1M-row batches)",
            "",
            "Wall time of building the profile of the whole file (ours: `profile(path)`; whylogs: `why.log` per "
            "batch, views merged) and, separately, of merging 10 already-built profiles of tenth parts.",
            "",
            "| rows | tool | seconds | rows/s | peak RSS (MB) | merge 10 profiles (s) | size (bytes) |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for r in pr:
            o = r["ours"]
            L.append(
                f"| {r['rows']:,} | jupyter-modelops | {o['seconds']:.1f} | {o['rows'] / o['seconds']:,.0f} | "
                f"{o['peak_rss_mb']:.0f} | {o['merge_10_seconds']:.3f} | {o['json_bytes']:,} (JSON) |"
            )
            w = r.get("whylogs")
            if w:
                L.append(
                    f"| {r['rows']:,} | whylogs {w['version']} | {w['seconds']:.1f} | {w['rows'] / w['seconds']:,.0f} | "
                    f"{w['peak_rss_mb']:.0f} | {w['merge_10_seconds']:.3f} | {w['serialized_bytes']:,} (protobuf) |"
                )
        L.append("")
    al = res.get("alarms")
    if al:
        L += [
            "## False alarms: two samples of the same distribution, 20 normal columns, 10 batches per side",
            "",
            "Columns flagged, summed over the seeds (20 columns per seed). Ours through profiles (both sides "
            "summarized, compared profile against profile); `KS raw` is p < 0.05 without adjustment (as whylogs "
            "reports it), `KS BH` after Benjamini-Hochberg (what drift() uses), `drifted` the verdict "
            "(significant and an effect size over its threshold). The exact in-memory path is shown up to 1e6. "
            "`KS resolution` is the largest width of our KS bracket (upper - lower).",
            "",
            "| n per side | seeds | ours drifted | ours KS BH | ours KS raw | exact KS raw | KS resolution | "
            "whylogs KS p < 0.05 | whylogs DRIFT + POSSIBLE |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        by_n: dict[int, list] = {}
        for r in al:
            by_n.setdefault(r["n"], []).append(r)
        for n, rs in by_n.items():
            o = [r["ours"] for r in rs]
            w = [r["whylogs"] for r in rs if r.get("whylogs")]
            ex = [x["exact_ks_raw"] for x in o if "exact_ks_raw" in x]
            L.append(
                f"| {n:,} | {len(rs)} | {sum(x['drifted'] for x in o)}/{20 * len(o)} | {sum(x['ks_bh'] for x in o)} | "
                f"{sum(x['ks_raw'] for x in o)} | {sum(ex) if ex else '-'} | {max(x['ks_resolution'] for x in o):.4f} | "
                + (
                    f"{sum(x['ks_raw'] for x in w)}/{20 * len(w)} | {sum(x['drift'] + x['possible_drift'] for x in w)} |"
                    if w
                    else "- | - |"
                )
            )
        L.append("")
    dk = res.get("dask")
    if dk:
        runs = {r["workers"]: r for r in dk["runs"]}
        L += [
            f"## Dask: profile() of {dk['rows']:,} rows x {COLS} float32 columns (1M-row Parquet files)",
            "",
            "Best of 2 runs after the cluster started (LocalCluster, worker processes, 1 thread each). "
            f"Load average at the end: {', '.join(f'{x:.1f}' for x in dk['load_average'])}.",
            "",
            "| engine | seconds | rows/s | speed-up over 1 worker |",
            "|---|---:|---:|---:|",
        ]
        one = runs.get(1, {}).get("seconds")
        for w, name in ((0, "one process, streamed (no Dask)"), (1, "Dask, 1 worker"), (2, "Dask, 2 workers")):
            r = runs.get(w)
            if r:
                sp = f"{one / r['seconds']:.2f}x" if one and w else "-"
                L.append(f"| {name} | {r['seconds']:.1f} | {dk['rows'] / r['seconds']:,.0f} | {sp} |")
        L.append("")
    mg = res.get("merge")
    if mg:
        L += [
            "## Quantile error of a profile merged from many batches (sequential merges, 10,000-row batches)",
            "",
            "`trend`: normal with a mean moving from 0 to 5 across the batches, so most values fall beyond the "
            "first batch's fine edges (the stated bound is then uninformative, the error itself stays small).",
            "",
            "Largest distance, over the 1001 stored levels, between the level and the rank / n of the stored "
            "quantile in the whole data. `previous rule`: quantiles re-sampled from the mixture of both "
            "interpolated CDFs at every merge; `fine histogram`: counts on the first batch's 1000 quantile "
            "edges add exactly and the quantiles are read off the merged histogram. `stated bound`: the "
            "largest share of values in one fine bin (`resolution()`), which the error never exceeds.",
            "",
            "| distribution | batches | previous rule | fine histogram | stated bound |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in mg:
            L.append(
                f"| {r['distribution']} | {r['batches']} | {r['old_rank_error']:.4f} | {r['new_rank_error']:.4f} | "
                f"{r['new_stated_bound']:.4f} |"
            )
        L.append("")
    (RESULTS / "drift_scale.md").write_text("\n".join(L))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="merge,alarms,profile,dask,scale")
    ap.add_argument("--rows", default="10000000,100000000", help="rows per side for the scale part (comma list)")
    ap.add_argument("--dask-rows", type=int, default=20_000_000)
    ap.add_argument("--profile-rows", default="1000000,10000000", help="rows for the profile part (comma list)")
    ap.add_argument("--alarm-sizes", default="10000,100000,1000000,10000000")
    ap.add_argument("--whylogs-alarm-max", type=int, default=1_000_000)
    a = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    parts = a.parts.split(",")
    if "merge" in parts:
        part_merge()
    if "alarms" in parts:
        sizes = [int(x) for x in a.alarm_sizes.split(",")]
        part_alarms(sizes, {10_000: 5, 100_000: 5, 1_000_000: 2, 10_000_000: 1}, a.whylogs_alarm_max)
    if "profile" in parts:
        part_profile([int(x) for x in a.profile_rows.split(",")])
    if "dask" in parts:
        part_dask(a.dask_rows)
    if "scale" in parts:
        part_scale([int(x) for x in a.rows.split(",")])
    print((RESULTS / "drift_scale.md").read_text())


if __name__ == "__main__":
    main()
