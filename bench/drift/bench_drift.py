"""Drift on 1M rows x 20 numeric columns: jupyter-modelops beside plain scipy and Evidently, in one run.

Data as in the peers' measurements: ``make_classification`` (20 informative
or redundant features, balanced), reference = first half, current = second
half (500,000 rows each). A second scenario shifts 5 columns of the current
half by 0.05 standard deviations, which sends scipy's KS p-value down its
slow exact-Smirnov branch.

Every contestant runs in its own fresh process (wall time of the drift call
only, after a warm-up call on 2,000 rows so that imports are not timed; peak RSS of the process, data included).
Evidently runs in its own venv (``bench/.venvs/evidently``, ``pandas<3``).

    .venv/bin/python bench/drift/bench_drift.py [--repeats 3] [--rows 1000000]

Results: bench/results/drift.json and bench/results/drift.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench" / ".work" / "drift"
RESULTS = ROOT / "bench" / "results"
EVIDENTLY_PY = ROOT / "bench" / ".venvs" / "evidently" / "bin" / "python"


def make_data(rows: int) -> None:
    import numpy as np
    from sklearn.datasets import make_classification

    WORK.mkdir(parents=True, exist_ok=True)
    X, _ = make_classification(n_samples=rows, n_features=20, n_informative=10, random_state=0)
    half = rows // 2
    np.save(WORK / "ref.npy", np.ascontiguousarray(X[:half]))
    np.save(WORK / "cur.npy", np.ascontiguousarray(X[half:]))
    shifted = X[half:].copy()
    shifted[:, :5] += 0.05 * X[:half, :5].std(axis=0)
    np.save(WORK / "cur_shifted.npy", shifted)


# ---------------------------------------------------------------- contestants (run in a child process)


def run_ours(ref, cur):
    from jupyter_modelops.drift_detection import drift

    rep = drift(ref, cur, progress=False)
    return {
        "drifted": len(rep.drifted),
        "ks_x0": rep.columns[0]["ks"],
        "p_x0": rep.columns[0]["ks_p"],
        "w_x0": rep.columns[0]["wasserstein"],
    }


def run_scipy(ref, cur):
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    out = {}
    for j in range(ref.shape[1]):
        a, b = ref[:, j], cur[:, j]
        ks = stats.ks_2samp(a, b)
        w = stats.wasserstein_distance(a, b)
        edges = np.unique(np.quantile(a, np.arange(1, 10) / 10))
        full = np.concatenate(([-np.inf], edges, [np.inf]))
        ha, hb = np.histogram(a, full)[0], np.histogram(b, full)[0]
        pa, pb = np.maximum(ha / ha.sum(), 1e-4), np.maximum(hb / hb.sum(), 1e-4)
        psi = float(np.sum((pb - pa) * np.log(pb / pa)))
        js = float(jensenshannon(ha, hb))
        if j == 0:
            out = {"ks_x0": float(ks.statistic), "p_x0": float(ks.pvalue), "w_x0": float(w), "psi_x0": psi, "js_x0": js}
    return out


def run_evidently(ref, cur):
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    cols = [f"x{i}" for i in range(ref.shape[1])]
    rdf, cdf = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
    snap = Report([DataDriftPreset()]).run(current_data=cdf, reference_data=rdf)
    d = snap.dict()
    return {"metrics": len(d.get("metrics", []))}


def peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's RSS at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(which: str, cur_name: str) -> None:
    import numpy as np

    ref = np.load(WORK / "ref.npy")
    cur = np.load(WORK / f"{cur_name}.npy")
    fn = {"ours": run_ours, "scipy": run_scipy, "evidently": run_evidently}[which]
    fn(ref[:2000], cur[:2000])  # warm-up: imports and first-call costs are not timed
    t0 = time.perf_counter()
    res = fn(ref, cur)
    wall = time.perf_counter() - t0
    peak = peak_rss_mib()
    print(json.dumps({"wall_s": wall, "peak_rss_mib": peak, "check": res}))


def spawn(python: str, which: str, cur_name: str) -> dict:
    env = dict(os.environ)
    if which == "evidently":
        env["PYTHONPATH"] = ""
    out = subprocess.run(
        [python, str(Path(__file__).resolve()), "--child", which, "--cur", cur_name],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--cur", default="cur")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--evidently-repeats", type=int, default=1)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.cur)
        return
    make_data(args.rows)
    contestants = [("ours", sys.executable), ("scipy", sys.executable)]
    if EVIDENTLY_PY.exists():
        contestants.append(("evidently", str(EVIDENTLY_PY)))
    results: dict = {
        "rows": args.rows,
        "columns": 20,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_start": os.getloadavg()},
        "scenarios": {},
    }
    for scen in ("cur", "cur_shifted"):
        runs: dict = {}
        for rep in range(max(args.repeats, args.evidently_repeats)):
            for name, py in contestants:  # interleaved, so load spikes hit everyone alike
                if scen == "cur_shifted" and name == "evidently":
                    continue
                if name == "evidently" and rep >= args.evidently_repeats:
                    continue
                if name != "evidently" and rep >= args.repeats:
                    continue
                r = spawn(py, name, scen)
                runs.setdefault(name, []).append(r)
                print(scen, name, r, flush=True)
        summ = {}
        for name, rs in runs.items():
            ok = [r for r in rs if "wall_s" in r]
            if not ok:
                summ[name] = {"error": rs[0].get("error")}
                continue
            summ[name] = {
                "wall_s_median": statistics.median(r["wall_s"] for r in ok),
                "wall_s_all": [round(r["wall_s"], 3) for r in ok],
                "peak_rss_mib_max": max(r["peak_rss_mib"] for r in ok),
                "check": ok[0]["check"],
            }
        if "ours" in summ and "wall_s_median" in summ["ours"]:
            for name in summ:
                if name != "ours" and "wall_s_median" in summ[name]:
                    summ[name]["ours_faster_x"] = summ[name]["wall_s_median"] / summ["ours"]["wall_s_median"]
        results["scenarios"][scen] = summ
    results["machine"]["load_avg_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "drift.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"# Drift, {args.rows:,} rows x 20 numeric columns (reference = first half, current = second half)",
        "",
        "All methods (PSI, KS with p-value, Wasserstein, Jensen-Shannon; ours also chi2/BH/verdict). "
        "Wall time of the drift call (median of runs), peak RSS of the process (data included).",
        "",
        "| scenario | contestant | wall s (median) | runs | peak RSS MiB | ours faster |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for scen, summ in results["scenarios"].items():
        for name, s in summ.items():
            if "error" in s:
                lines.append(f"| {scen} | {name} | error: {s['error']} | | | |")
                continue
            ratio = f"{s['ours_faster_x']:.1f}x" if "ours_faster_x" in s else "-"
            lines.append(
                f"| {scen} | {name} | {s['wall_s_median']:.2f} | {len(s['wall_s_all'])} | "
                f"{s['peak_rss_mib_max']:.0f} | {ratio} |"
            )
    lines += [
        "",
        f"Machine: {os.cpu_count()} CPUs, shared; load average at start {results['machine']['load_avg_start'][0]:.1f}, "
        f"at end {results['machine']['load_avg_end'][0]:.1f}. Quote the ratios, not the absolute times.",
    ]
    (RESULTS / "drift.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
