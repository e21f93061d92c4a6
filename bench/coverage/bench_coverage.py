"""Coverage of the evaluation intervals: simulations with known truths, on every bootstrap path.

Each *cell* of the table is a data generator x sample size x weights x path.
For every replication a fresh sample is drawn, ``evaluate_predictions`` gives
95% intervals, and the cell records how often each interval holds the true
value (empirical coverage). On a few of the replications a naive bootstrap
(resample rows, recompute the exact metrics, percentiles) runs on the same
sample; the *width ratio* is the mean width of our intervals over the mean
width of the naive ones (1.0 = the fast path is as wide as the naive one).

Generators (truths from one sample of 2,000,000 rows of the same generator):

* ``binary-grid``        p ~ Beta(2, 2) rounded to 0.001, y ~ Bernoulli(p) (calibrated: true ECE 0)
* ``binary-continuous``  the same without rounding (score bins on large data)
* ``multiclass``         3 classes, softmax of Gaussian logits, y drawn from those probabilities
* ``regression-gauss``   y ~ 10 + 2 N(0, 1), prediction = y + N(0, 1)
* ``regression-t3``      the same with Student-t (3 d.o.f.) errors (heavy tails)

Weights: none, or lognormal(0, 1) drawn independently of the data (the
weighted truths then equal the unweighted ones).

Paths, forced through ``ROWS_BUDGET``: ``rows`` (row draws, as a naive loop),
``multinomial`` (cell counts; binary and multiclass cells become score bins
when there are many distinct scores) and ``moments`` (regression beyond
20,000 rows per row-draw budget: tail rows exact, bulk cells with their
covariance).

Run: ``python bench/coverage/bench_coverage.py`` (``--scale 0.25`` for a
shorter run, ``--quick`` for a smoke run). Writes
``bench/results/coverage.json`` and ``bench/results/coverage.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
N_BOOT = 400
NAIVE_BOOT = 200
#: Replications per cell, by sample size (before ``--scale``).
REPS = {100: 200, 1_000: 150, 10_000: 60, 100_000: 24}
#: Replications that also run the naive bootstrap (width ratio), by sample size.
NAIVE_REPS = {100: 10, 1_000: 8, 10_000: 4, 100_000: 2}

METRICS = {
    "binary": [
        "accuracy",
        "f1",
        "roc_auc",
        "pr_auc",
        "ks_statistic",
        "log_loss",
        "brier_score_loss",
        "calibration_error",
    ],
    "multiclass": ["accuracy", "f1_macro", "roc_auc", "log_loss", "brier_score_loss", "calibration_error"],
    "regression": [
        "mean_absolute_error",
        "mean_squared_error",
        "r2",
        "mean_absolute_percentage_error",
        "mean_residual",
    ],
}


def generate(gen: str, n: int, rng: np.random.Generator):
    """``(task, kwargs for evaluate_predictions)`` of one sample."""
    if gen.startswith("binary"):
        p = rng.beta(2.0, 2.0, n)
        if gen == "binary-grid":
            p = np.round(p, 3)
        y = (rng.random(n) < p).astype(int)
        return "binary", {"y_true": y, "y_score": p}
    if gen == "multiclass":
        z = rng.normal(size=(n, 3)) * 1.5
        P = np.exp(z - z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        y = (rng.random(n)[:, None] > np.cumsum(P, 1)).sum(1).clip(0, 2)
        return "multiclass", {"y_true": y, "y_score": P}
    y = 10.0 + 2.0 * rng.normal(size=n)
    e = rng.normal(size=n) if gen == "regression-gauss" else rng.standard_t(3, size=n)
    return "regression", {"y_true": y, "y_pred": y + e}


def truths(gen: str) -> dict:
    import jupyter_modelops as mo

    task, kw = generate(gen, 2_000_000, np.random.default_rng(12345))
    rep = mo.evaluate_predictions(**kw, n_boot=0)
    return {k: rep.metrics[k].value for k in METRICS[task]}


def naive_widths(kw: dict, w, task: str, rng: np.random.Generator, n_boot: int) -> dict:
    """95% percentile widths of a naive bootstrap: resample rows, exact metrics (n_boot=0)."""
    import jupyter_modelops as mo

    n = len(kw["y_true"])
    reps = {k: [] for k in METRICS[task]}
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        sub = {k: np.asarray(v)[idx] for k, v in kw.items()}
        if task == "multiclass":
            sub["labels"] = [0, 1, 2]
        try:
            r = mo.evaluate_predictions(**sub, sample_weight=None if w is None else w[idx], n_boot=0)
        except Exception:  # a replicate with one class: undefined, as in the fast path (NaN)
            continue
        for k in reps:
            v = r.metrics[k].value
            reps[k].append(np.nan if v is None else v)
    out = {}
    for k, v in reps.items():
        lo, hi = np.nanpercentile(v, [2.5, 97.5])
        out[k] = hi - lo
    return out


def run_cell(gen: str, n: int, weighted: bool, path: str, truth: dict, reps: int, naive_reps: int) -> dict:
    import jupyter_modelops as mo
    from jupyter_modelops.evaluation import _regression, bootstrap

    saved = bootstrap.ROWS_BUDGET, _regression.MAX_ROW_CELLS
    bootstrap.ROWS_BUDGET = 10**15 if path == "rows" else 0
    _regression.MAX_ROW_CELLS = 10**9 if path == "rows" else saved[1]
    rng = np.random.default_rng([abs(hash((gen, n, weighted, path))) % 2**31, 7])
    task = None
    hits: dict[str, list] = {}
    widths: dict[str, list] = {}
    nwidths: dict[str, list] = {}
    methods = set()
    t0 = time.perf_counter()
    try:
        for i in range(reps):
            task, kw = generate(gen, n, rng)
            if len(np.unique(kw["y_true"])) < (3 if task == "multiclass" else 2) and task != "regression":
                continue
            w = rng.lognormal(0.0, 1.0, n) if weighted else None
            extra = {"labels": [0, 1, 2]} if task == "multiclass" else {}
            rep = mo.evaluate_predictions(**kw, **extra, sample_weight=w, n_boot=N_BOOT, random_state=int(i))
            methods.add(f"{rep.method}{'+binned' if rep.binned and rep.method != 'moments' else ''}")
            for k in METRICS[task]:
                m = rep.metrics[k]
                if m.low is None or m.high is None:
                    continue
                hits.setdefault(k, []).append(m.low <= truth[k] <= m.high)
                widths.setdefault(k, []).append(m.high - m.low)
            if i < naive_reps:
                nw = naive_widths(kw, w, task, np.random.default_rng([i, 99]), NAIVE_BOOT)
                for k, v in nw.items():
                    nwidths.setdefault(k, []).append((v, widths[k][-1] if k in widths else np.nan))
    finally:
        bootstrap.ROWS_BUDGET, _regression.MAX_ROW_CELLS = saved
    metrics = {}
    for k in METRICS[task]:
        pairs = nwidths.get(k, [])
        ratio = (
            float(np.nanmean([o for _, o in pairs]) / np.nanmean([v for v, _ in pairs]))
            if pairs and np.nanmean([v for v, _ in pairs]) > 0
            else None
        )
        metrics[k] = {
            "coverage": float(np.mean(hits[k])) if hits.get(k) else None,
            "replications": len(hits.get(k, [])),
            "mean_width": float(np.mean(widths[k])) if widths.get(k) else None,
            "width_ratio_vs_naive": ratio,
            "truth": truth[k],
        }
    return {
        "generator": gen,
        "task": task,
        "n": n,
        "weighted": weighted,
        "path": path,
        "method_used": sorted(methods),
        "seconds": round(time.perf_counter() - t0, 1),
        "metrics": metrics,
    }


def plan(quick: bool):
    gens = {
        "binary-grid": ["rows", "multinomial"],
        "binary-continuous": ["multinomial"],
        "multiclass": ["rows", "multinomial"],
        "regression-gauss": ["rows", "moments"],
        "regression-t3": ["rows", "moments"],
    }
    sizes = [100, 1_000] if quick else [100, 1_000, 10_000, 100_000]
    for gen, paths in gens.items():
        for n in sizes:
            for weighted in (False, True):
                for path in paths:
                    if path == "rows" and n >= 100_000:
                        continue  # 1e5 rows x 400 row draws x replications: minutes per cell; rows == naive anyway
                    yield gen, n, weighted, path


def to_markdown(res: dict) -> str:
    lines = [
        "# Coverage of the evaluation intervals",
        "",
        f"{res['conditions']}",
        "",
        "Empirical coverage of nominal 95% intervals (share of replications whose interval holds the true "
        "value) and width ratio (mean width of our interval / mean width of a naive row bootstrap on the "
        "same samples; 1.0 = as wide). `-` = not defined for that cell.",
        "",
    ]
    for cell in res["cells"]:
        head = (
            f"## {cell['generator']}, n={cell['n']:,}, {'lognormal weights' if cell['weighted'] else 'no weights'}"
            f", path {cell['path']} ({', '.join(cell['method_used'])}; {cell['seconds']} s)"
        )
        lines += [
            head,
            "",
            "| metric | truth | coverage | replications | width ratio vs naive |",
            "|---|---|---|---|---|",
        ]
        for k, m in cell["metrics"].items():
            cov = "-" if m["coverage"] is None else f"{m['coverage']:.2f}"
            wr = "-" if m["width_ratio_vs_naive"] is None else f"{m['width_ratio_vs_naive']:.2f}"
            lines.append(f"| {k} | {m['truth']:.4g} | {cov} | {m['replications']} | {wr} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 100 and 1,000 only, few replications")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the replication counts")
    ap.add_argument("--out", default=str(RESULTS / "coverage"), help="output path without extension")
    ap.add_argument("--only", help="run only this generator; keep the other cells of an existing --out .json")
    args = ap.parse_args()
    scale = 0.1 if args.quick else args.scale
    t0 = time.perf_counter()
    truth_cache: dict[str, dict] = {}
    cells = []
    out = Path(args.out)
    kept = []
    if args.only and out.with_suffix(".json").exists():
        kept = [c for c in json.loads(out.with_suffix(".json").read_text())["cells"] if c["generator"] != args.only]
    for gen, n, weighted, path in plan(args.quick):
        if args.only and gen != args.only:
            continue
        if gen not in truth_cache:
            truth_cache[gen] = truths(gen)
        reps = max(10, int(REPS[n] * scale))
        naive = max(1, int(round(NAIVE_REPS[n] * min(1.0, scale * 2))))
        cell = run_cell(gen, n, weighted, path, truth_cache[gen], reps, naive)
        cells.append(cell)
        worst = min((m["coverage"] for m in cell["metrics"].values() if m["coverage"] is not None), default=None)
        print(
            f"{gen:18} n={n:>7,} w={int(weighted)} {path:11} {cell['seconds']:6.1f}s  min coverage {worst}", flush=True
        )
    res = {
        "conditions": (
            f"{N_BOOT} bootstrap replicates per interval; replications per cell "
            f"{ {n: max(10, int(r * scale)) for n, r in REPS.items()} } by n; naive bootstrap "
            f"({NAIVE_BOOT} row resamples) on the first few replications of each cell; truths from "
            f"2,000,000 rows of each generator; {platform.machine()}, {os.cpu_count()} CPUs shared; "
            f"total {time.perf_counter() - t0:.0f} s."
        ),
        "n_boot": N_BOOT,
        "scale": scale,
        "cells": cells,
    }
    if kept:
        order = list(dict.fromkeys(g for g, *_ in plan(args.quick)))
        res["cells"] = sorted(kept + cells, key=lambda c: (order.index(c["generator"]), c["n"], c["weighted"]))
        res["conditions"] += f" Cells of {args.only} re-run separately."
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(to_markdown(res))
    print(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
