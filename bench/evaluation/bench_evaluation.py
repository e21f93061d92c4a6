"""Evaluation benchmark: jupyter-modelops vs Evidently vs a naive scikit-learn bootstrap, in one run.

Data: ``make_classification`` with 1,000,000 rows and 20 numeric features
(balanced), a LogisticRegression fitted on the first 100,000 rows, evaluated
on all rows.

Contestants (each in its own child process, so peak RSS is per contestant):

* ``ours``          ``evaluate(model, X, y)``: predict + every binary metric + 95% intervals, 1000 replicates
* ``ours_scores``   ``evaluate_predictions(y, y_score=p)``: the same from precomputed scores
* ``sklearn_once``  scikit-learn acc/P/R/F1/AUC/AP/log loss/Brier once, no intervals (reference)
* ``evidently``     Evidently's ``ClassificationPreset`` on the same 1M rows (its own venv, pandas<3)
* ``naive_100k``    1000 x (F1 + ROC AUC) with scikit-learn on resampled rows, 100,000 rows
* ``ours_100k``     ours on the same 100,000 rows (interval agreement with the naive loop)

Plus import time of ``import jupyter_modelops`` and of ``%load_ext jupyter_modelops``.

Run: ``python bench/evaluation/bench_evaluation.py`` (``--quick`` for a smoke run).
Writes ``bench/results/evaluation.json`` and ``bench/results/evaluation.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "bench" / ".work" / "evaluation"
RESULTS = ROOT / "bench" / "results"
EVIDENTLY_PY = ROOT / "bench" / ".venvs" / "evidently" / "bin" / "python"
N_BOOT = 1000


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM; unlike ru_maxrss it is not inherited from the parent across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# ------------------------------------------------------------------ data
def make_data(n: int) -> None:
    import joblib
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    WORK.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(n_samples=n, n_features=20, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X[:100_000], y[:100_000])
    np.save(WORK / "X.npy", X)
    np.save(WORK / "y.npy", y)
    np.save(WORK / "p.npy", model.predict_proba(X)[:, 1])
    joblib.dump(model, WORK / "model.joblib")


# ------------------------------------------------------------------ children
def child_ours(repeats: int) -> dict:
    import joblib
    import numpy as np

    X = np.load(WORK / "X.npy")
    y = np.load(WORK / "y.npy")
    model = joblib.load(WORK / "model.joblib")
    import jupyter_modelops as mo

    base = current_rss_mib()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        rep = mo.evaluate(model, X, y, n_boot=N_BOOT, progress=False)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "wall_s": times,
        "cpu_s": cpu,
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": base,
        "metrics": {k: list(v) for k, v in rep.metrics.items()},
        "timing": rep.timing,
        "method": rep.method,
        "binned": rep.binned,
        "n_metrics_with_ci": sum(m.low is not None for m in rep.metrics.values()),
    }


def child_ours_scores(repeats: int) -> dict:
    import numpy as np

    y = np.load(WORK / "y.npy")
    p = np.load(WORK / "p.npy")
    import jupyter_modelops as mo

    base = current_rss_mib()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        mo.evaluate_predictions(y, y_score=p, n_boot=N_BOOT, progress=False)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall_s": times, "cpu_s": cpu, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": base}


def child_sklearn_once(repeats: int) -> dict:
    import numpy as np
    from sklearn import metrics as M

    y = np.load(WORK / "y.npy")
    p = np.load(WORK / "p.npy")
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        pred = (p >= 0.5).astype(int)
        M.accuracy_score(y, pred), M.precision_score(y, pred), M.recall_score(y, pred), M.f1_score(y, pred)
        M.roc_auc_score(y, p), M.average_precision_score(y, p), M.log_loss(y, p), M.brier_score_loss(y, p)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall_s": times, "cpu_s": cpu, "peak_rss_mib": peak_rss_mib()}


def child_naive_100k(n_boot: int) -> dict:
    import numpy as np
    from sklearn import metrics as M

    y = np.load(WORK / "y.npy")[:100_000]
    p = np.load(WORK / "p.npy")[:100_000]
    pred = (p >= 0.5).astype(int)
    rng = np.random.default_rng(0)
    f1, auc = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        f1.append(M.f1_score(y[idx], pred[idx]))
        auc.append(M.roc_auc_score(y[idx], p[idx]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    q = [2.5, 97.5]
    return {
        "wall_s": [wall],
        "cpu_s": [cpu],
        "n_boot": n_boot,
        "peak_rss_mib": peak_rss_mib(),
        "f1": [float(v) for v in np.percentile(f1, q)],
        "roc_auc": [float(v) for v in np.percentile(auc, q)],
    }


def child_ours_100k(repeats: int) -> dict:
    import numpy as np

    y = np.load(WORK / "y.npy")[:100_000]
    p = np.load(WORK / "p.npy")[:100_000]
    import jupyter_modelops as mo

    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        rep = mo.evaluate_predictions(y, y_score=p, n_boot=N_BOOT, progress=False)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    m = rep.metrics
    return {
        "wall_s": times,
        "cpu_s": cpu,
        "peak_rss_mib": peak_rss_mib(),
        "method": rep.method,
        "binned": rep.binned,
        "f1": [m["f1"].low, m["f1"].high],
        "roc_auc": [m["roc_auc"].low, m["roc_auc"].high],
    }


def child_evidently(repeats: int) -> dict:
    import numpy as np
    import pandas as pd
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    y = np.load(WORK / "y.npy")
    p = np.load(WORK / "p.npy")
    df = pd.DataFrame({"target": y, "prediction": p})
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        definition = DataDefinition(
            classification=[BinaryClassification(target="target", prediction_probas="prediction")]
        )
        ds = Dataset.from_pandas(df, data_definition=definition)
        snap = Report([ClassificationPreset()]).run(current_data=ds, reference_data=None)
        snap.dict()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    import evidently

    return {"wall_s": times, "cpu_s": cpu, "peak_rss_mib": peak_rss_mib(), "version": evidently.__version__}


CHILDREN = {
    "ours": child_ours,
    "ours_scores": child_ours_scores,
    "sklearn_once": child_sklearn_once,
    "naive_100k": child_naive_100k,
    "ours_100k": child_ours_100k,
    "evidently": child_evidently,
}


def run_child(name: str, arg: int, python: str = sys.executable, timeout: float = 900) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    t0 = time.perf_counter()
    out = subprocess.run(
        [python, __file__, "--child", name, "--arg", str(arg)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(ROOT),
    )
    if out.returncode != 0:
        return {
            "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}",
            "process_s": time.perf_counter() - t0,
        }
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


# ------------------------------------------------------------------ import time
def import_times(repeats: int = 5) -> dict:
    imp, ext, ipy = [], [], []
    code_imp = "import time; t=time.perf_counter(); import jupyter_modelops; print(time.perf_counter()-t)"
    code_ext = (
        "import time; t0=time.perf_counter()\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from traitlets.config import Config\n"
        "c=Config(); c.HistoryAccessor.enabled=False\n"
        "ip=InteractiveShell.instance(config=c)\n"
        "t1=time.perf_counter(); ip.run_line_magic('load_ext','jupyter_modelops')\n"
        "print(time.perf_counter()-t1, t1-t0)"
    )
    for _ in range(repeats):
        imp.append(float(subprocess.run([sys.executable, "-c", code_imp], capture_output=True, text=True).stdout))
        a, b = subprocess.run([sys.executable, "-c", code_ext], capture_output=True, text=True).stdout.split()
        ext.append(float(a))
        ipy.append(float(b))
    return {
        "import_s": statistics.median(imp),
        "load_ext_s": statistics.median(ext),
        "ipython_startup_s": statistics.median(ipy),
        "samples": {"import": imp, "load_ext": ext},
    }


def med(res: dict) -> float | None:
    return statistics.median(res["wall_s"]) if "wall_s" in res else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--arg", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="100k rows, 100 naive replicates, no Evidently")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive-boot", type=int, default=N_BOOT)
    ap.add_argument("--no-evidently", action="store_true")
    ap.add_argument("--markdown-only", action="store_true", help="rewrite the .md table from the .json results")
    args = ap.parse_args()
    if args.markdown_only:
        res = json.loads((RESULTS / "evaluation.json").read_text())
        (RESULTS / "evaluation.md").write_text(markdown(res))
        print(markdown(res))
        return
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.arg)))
        return

    n = 100_000 if args.quick else 1_000_000
    t0 = time.perf_counter()
    make_data(n)
    print(f"data: {n:,} rows ({time.perf_counter() - t0:.1f} s)")
    res: dict = {"rows": n, "n_boot": N_BOOT, "features": 20}
    # Rounds interleave the contestants so that load from other processes on this shared machine hits
    # all of them alike; each round runs each contestant once in a fresh process (one call inside).
    fast = ["ours", "ours_scores", "sklearn_once"]
    runs: dict = {k: [] for k in fast}
    use_evidently = not (args.quick or args.no_evidently) and EVIDENTLY_PY.exists()
    for rnd in range(args.repeats):
        for name in fast:
            runs[name].append(run_child(name, 1))
        if use_evidently and rnd == args.repeats // 2:
            res["evidently"] = run_child("evidently", 1, python=str(EVIDENTLY_PY), timeout=1800)
            print("evidently", res["evidently"].get("wall_s", res["evidently"]))
        print("round", rnd, {k: runs[k][-1].get("wall_s") for k in fast})
    for name in fast:
        ok = [r for r in runs[name] if "wall_s" in r]
        if not ok:
            res[name] = runs[name][-1]
            continue
        merged = dict(ok[-1])
        merged["wall_s"] = [r["wall_s"][0] for r in ok]
        merged["cpu_s"] = [r["cpu_s"][0] for r in ok]
        merged["peak_rss_mib"] = max(r["peak_rss_mib"] for r in ok)
        res[name] = merged
    naive_boot = 100 if args.quick else args.naive_boot
    res["naive_100k"] = run_child("naive_100k", naive_boot, timeout=3600)
    print("naive_100k", med(res["naive_100k"]))
    res["ours_100k"] = run_child("ours_100k", args.repeats)
    print("ours_100k", med(res["ours_100k"]))
    res["imports"] = import_times()
    print("imports", res["imports"]["import_s"], res["imports"]["load_ext_s"])

    # ratios and agreement
    ratios = {}
    ours = med(res["ours"])
    if "evidently" in res and "wall_s" in res["evidently"]:
        ratios["evidently_over_ours"] = med(res["evidently"]) / ours
        ratios["evidently_over_ours_cpu"] = statistics.median(res["evidently"]["cpu_s"]) / statistics.median(
            res["ours"]["cpu_s"]
        )
        # like for like: Evidently is given the precomputed probabilities, as evaluate_predictions is
        ratios["evidently_over_ours_scores"] = med(res["evidently"]) / med(res["ours_scores"])
    nv = res["naive_100k"]
    naive_1000 = med(nv) * (N_BOOT / nv["n_boot"])
    ratios["naive_100k_over_ours_100k"] = naive_1000 / med(res["ours_100k"])
    ratios["naive_100k_extrapolated_to_1000"] = nv["n_boot"] != N_BOOT
    agree = {k: max(abs(a - b) for a, b in zip(nv[k], res["ours_100k"][k])) for k in ("f1", "roc_auc")}
    res["ratios"] = ratios
    res["interval_agreement_100k_max_abs"] = agree
    res["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_at_end": os.getloadavg(),
        "platform": platform.platform(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "evaluation-quick" if args.quick else "evaluation"
    (RESULTS / f"{name}.json").write_text(json.dumps(res, indent=2))
    (RESULTS / f"{name}.md").write_text(markdown(res))
    print(markdown(res))


def markdown(r: dict) -> str:
    def f(x, d=2):
        return "–" if x is None else f"{x:.{d}f}"

    def row(label, key, extra=""):
        c = r.get(key, {})
        if "wall_s" not in c:
            return f"| {label} | failed: {c.get('error', 'not run')} | | | | |\n"
        cpu = statistics.median(c["cpu_s"]) if c.get("cpu_s") else None
        best = min(c["wall_s"]) if len(c["wall_s"]) > 1 else None
        return f"| {label} | {f(med(c))} | {f(best)} | {f(cpu)} | {f(c.get('peak_rss_mib'), 0)} | {extra} |\n"

    rows = r["rows"]
    out = [
        f"# Evaluation benchmark ({rows:,} rows, 20 features, binary, {r['n_boot']} bootstrap replicates)\n\n",
        "Each contestant runs in its own process; wall and CPU time (user + system of that process) are medians "
        "over interleaved rounds; peak RSS (VmHWM) is the whole "
        "process (the 1M x 20 float64 feature matrix alone is 153 MiB). Machine: "
        f"{r['machine']['cpus']} cores, shared (load average at the end {r['machine']['load_avg_at_end'][0]:.1f}); "
        "compare ratios, not absolute times.\n\n",
        "| contestant | wall s (median) | wall s (best) | CPU s | peak RSS MiB | notes |\n"
        "| --- | --- | --- | --- | --- | --- |\n",
    ]
    o = r["ours"]
    out.append(
        row(
            "jupyter-modelops `evaluate(model, X, y)`: predict + 11 metrics + 95% CIs",
            "ours",
            f"{o.get('n_metrics_with_ci', '?')} metrics with CIs, bootstrap `{o.get('method')}`"
            f"{' (binned)' if o.get('binned') else ''}",
        )
    )
    out.append(row("jupyter-modelops `evaluate_predictions(y, y_score)`", "ours_scores", "same, scores given"))
    out.append(row("scikit-learn 8 metrics once, no intervals", "sklearn_once", "reference"))
    if "evidently" in r:
        ev = r["evidently"]
        out.append(row(f"Evidently {ev.get('version', '')} `ClassificationPreset`", "evidently", "no intervals"))
    nv = r["naive_100k"]
    out.append(
        row(
            f"naive bootstrap, 100k rows, {nv.get('n_boot')} x (F1 + ROC AUC) with scikit-learn",
            "naive_100k",
            "extrapolated to 1000" if nv.get("n_boot") != r["n_boot"] else "",
        )
    )
    out.append(
        row(
            "jupyter-modelops, 100k rows, all metrics + CIs", "ours_100k", f"bootstrap `{r['ours_100k'].get('method')}`"
        )
    )
    ratios = r["ratios"]
    out.append("\n| ratio | value | target |\n| --- | --- | --- |\n")
    if "evidently_over_ours" in ratios:
        out.append(f"| Evidently / ours (1M rows), wall | {ratios['evidently_over_ours']:.1f}x | >= 30x |\n")
        out.append(f"| Evidently / ours (1M rows), CPU time | {ratios['evidently_over_ours_cpu']:.1f}x | |\n")
        if "evidently_over_ours_scores" in ratios:
            out.append(
                "| Evidently / ours, both from the same precomputed probabilities (like for like), wall "
                f"| {ratios['evidently_over_ours_scores']:.1f}x | >= 30x |\n"
            )
    out.append(
        f"| naive bootstrap / ours (100k rows, 1000 replicates) | {ratios['naive_100k_over_ours_100k']:.0f}x | >= 50x |\n"
    )
    a = r["interval_agreement_100k_max_abs"]
    out.append(
        f"\nInterval agreement with the naive scikit-learn bootstrap on 100k rows (max |bound difference|): "
        f"F1 {a['f1']:.1e}, ROC AUC {a['roc_auc']:.1e} (independent random draws, so this includes Monte Carlo "
        "noise of two 1000-replicate bootstraps).\n"
    )
    im = r["imports"]
    out.append(
        f"\nImport time (median of 5 fresh processes): `import jupyter_modelops` {im['import_s'] * 1000:.0f} ms, "
        f"`%load_ext jupyter_modelops` {im['load_ext_s'] * 1000:.0f} ms (after IPython itself, "
        f"{im['ipython_startup_s'] * 1000:.0f} ms). Target <= 300 ms.\n"
    )
    return "".join(out)


if __name__ == "__main__":
    main()
