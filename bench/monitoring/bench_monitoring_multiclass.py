"""Performance without labels for multiclass classifiers, beside NannyML's multiclass CBPE, in one run.

Worlds: 3, 4 and 5 classes, labels drawn from a fixed softmax law of 8 standard normal features; a
multinomial logistic regression fitted on 8,000 rows is the model ("fitted", close to calibrated), and the
same model with its logits doubled is an overconfident one ("overconfident", calibration is then needed).
Per world and model: a 10,000-row labelled reference, then 50 chunks of 1,000 rows whose inputs shift by up
to 1.5 sd in 4 of the 8 features (covariate shift: ``P(y | x)`` does not move). On each chunk: our
estimate (``PerformanceEstimator.estimate``) of accuracy, macro F1 and macro one-vs-rest ROC AUC against the
chunk's realized values (its labels), the coverage of the 95% intervals, the time per chunk; NannyML's CBPE
(``problem_type="classification_multiclass"``, its own venv bench/.venvs/nannyml) on the same chunks; and,
as a floor, the raw scores taken as probabilities.

    .venv/bin/python bench/monitoring/bench_monitoring_multiclass.py [--chunks 50] [--seed 2026]

Results: bench/results/monitoring_multiclass.json and bench/results/monitoring_multiclass.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work" / "monitoring"
NANNYML_PY = ROOT / "bench" / ".venvs" / "nannyml" / "bin" / "python"
METRICS = ("accuracy", "f1", "roc_auc")
D = 8


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def raw_expectations(s: np.ndarray) -> dict[str, float]:
    """The metrics expected if the raw scores were calibrated probabilities (no calibration on the reference)."""
    from jupyter_modelops.monitoring.performance import expected_auc

    n, k = s.shape
    pred = s.argmax(axis=1)
    tp = np.bincount(pred, weights=s[np.arange(n), pred], minlength=k)
    n_pred = np.bincount(pred, minlength=k)
    pos = s.sum(axis=0)
    return {
        "accuracy": float(tp.sum() / n),
        "f1": float(np.mean(2 * tp / (n_pred + pos))),
        "roc_auc": float(np.mean([expected_auc(s[:, c], s[:, c]) for c in range(k)])),
    }


def run(chunks: int, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression

    from jupyter_modelops import PerformanceEstimator
    from jupyter_modelops.monitoring.performance import realized_multiclass_metrics

    rng = np.random.default_rng(seed)
    cases, saved, realized_all = [], {}, []
    for k in (3, 4, 5):
        w, b = rng.normal(size=(D, k)), rng.normal(size=k) * 0.3

        def draw(n, shift=0.0, w=w, b=b, k=k):
            x = rng.normal(size=(n, D))
            x[:, :4] += shift
            p = softmax(x @ w + b)
            return x, np.minimum((rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1), k - 1)

        fitted = LogisticRegression(max_iter=1000).fit(*draw(8000))
        xr, yr = draw(10_000)
        xs, ys = zip(*(draw(1000, 1.5 * i / (chunks - 1)) for i in range(chunks)))
        for kind, sharpen in (("fitted", 1.0), ("overconfident", 2.0)):

            def model(x, sharpen=sharpen, fitted=fitted):
                return softmax(sharpen * fitted.decision_function(x))

            t0 = time.perf_counter()
            est = PerformanceEstimator(model(xr), yr)
            fit_seconds = time.perf_counter() - t0
            case = {"classes": k, "model": kind, "calibration": est.method, "fit_seconds": round(fit_seconds, 2)}
            err = {m: [] for m in METRICS}
            raw_err = {m: [] for m in METRICS}
            cover = {m: [] for m in METRICS}
            width = {m: [] for m in METRICS}
            times, scores, realized = [], [], []
            for x, y in zip(xs, ys):
                s = model(x)
                scores.append(s)
                t0 = time.perf_counter()
                e = est.estimate(s)
                times.append(time.perf_counter() - t0)
                real = realized_multiclass_metrics(y, s)
                realized.append(real)
                raw = raw_expectations(s)
                for m in METRICS:
                    d = e.metrics[m]
                    err[m].append(abs(d["estimate"] - real[m]))
                    raw_err[m].append(abs(raw[m] - real[m]))
                    cover[m].append(d["low"] <= real[m] <= d["high"])
                    width[m].append(d["high"] - d["low"])
            case.update(
                chunks=chunks,
                realized_mean={m: float(np.mean([r[m] for r in realized])) for m in METRICS},
                realized_range={
                    m: [float(min(r[m] for r in realized)), float(max(r[m] for r in realized))] for m in METRICS
                },
                mae={m: float(np.mean(v)) for m, v in err.items()},
                mae_raw_scores={m: float(np.mean(v)) for m, v in raw_err.items()},
                coverage_95={m: float(np.mean(v)) for m, v in cover.items()},
                interval_width_mean={m: float(np.mean(v)) for m, v in width.items()},
                ms_per_chunk_median=round(1000 * float(np.median(times)), 1),
            )
            c = len(cases)
            saved[f"ref_scores_{c}"], saved[f"ref_labels_{c}"] = model(xr), yr
            saved[f"scores_{c}"] = np.concatenate(scores)
            realized_all.append(realized)
            cases.append(case)
    nm = nannyml(saved, realized_all, len(cases))
    for case, r in zip(cases, nm["cases"] if nm and "cases" in nm else [None] * len(cases)):
        case["nannyml"] = r
    return {"cases": cases, "nannyml": None if nm is None else {k: v for k, v in nm.items() if k != "cases"}}


def nannyml(saved: dict, realized: list[list[dict]], cases: int) -> dict | None:
    """NannyML's multiclass CBPE on the same chunks, in its own venv; None when that venv is absent."""
    if not NANNYML_PY.exists():
        return None
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "cbpe_multiclass.npz"
    np.savez(path, cases=cases, **saved)
    proc = subprocess.run(
        [str(NANNYML_PY), str(HERE / "nannyml_cbpe_multiclass.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    out: dict = {"version": doc["nannyml"], "cases": []}
    for c, real in zip(doc["cases"], realized):
        res: dict = {
            "fit_seconds": round(c["fit_seconds"], 2),
            "ms_per_chunk": round(1000 * c["seconds"] / max(c["chunks"], 1), 1),
            "mae": {},
            "coverage_95": {},
            "coverage_3se": {},
        }
        for m in METRICS:
            est = np.asarray(c[f"{m}_value"])
            se = np.asarray(c[f"{m}_sampling_error"])
            r = np.array([x[m] for x in real])
            res["mae"][m] = float(np.mean(np.abs(est - r)))
            res["coverage_95"][m] = float(np.mean(np.abs(est - r) <= 1.96 * se))
            res["coverage_3se"][m] = float(np.mean(np.abs(est - r) <= 3 * se))
        out["cases"].append(res)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_start": load0}}
    results.update(run(args.chunks, args.seed))
    results["machine"]["load_end"] = os.getloadavg()[0]
    results["seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "monitoring_multiclass.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "monitoring_multiclass.md").write_text("\n".join(report(results)) + "\n")
    print("\n".join(report(results)))


def report(res: dict) -> list[str]:
    cases, nm = res["cases"], res["nannyml"]
    n = cases[0]["chunks"]
    lines = [
        "# Monitoring: multiclass performance without labels",
        "",
        f"Softmax worlds with 3, 4 and 5 classes (8 features); per world a multinomial logistic model fitted on 8,000 "
        f"rows ('fitted') and the same model with doubled logits ('overconfident'); a 10,000-row labelled reference; "
        f"{n} chunks of 1,000 rows whose inputs shift by up to 1.5 sd in 4 of 8 features (covariate shift). "
        "Estimates against the chunks' realized values (their labels); macro averages over classes; "
        "ROC AUC is one-vs-rest.",
        "",
        "| classes | model | metric | realized (mean) | ours: MAE | ours: 95% interval covers | ours: mean width "
        "| NannyML: MAE | NannyML: +-1.96 SE covers | NannyML: +-3 SE covers | raw scores as probabilities: MAE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in cases:
        r = c.get("nannyml") or {}
        for m in METRICS:
            lines.append(
                f"| {c['classes']} | {c['model']} | {m} | {c['realized_mean'][m]:.3f} | {c['mae'][m]:.4f} | "
                f"{c['coverage_95'][m]:.0%} | {c['interval_width_mean'][m]:.3f} | "
                + (
                    f"{r['mae'][m]:.4f} | {r['coverage_95'][m]:.0%} | {r['coverage_3se'][m]:.0%} | "
                    if r
                    else "- | - | - | "
                )
                + f"{c['mae_raw_scores'][m]:.4f} |"
            )
    lines += ["", "Averaged over the six cases:", ""]
    lines += ["| metric | ours: MAE | ours: coverage (95%) | NannyML: MAE | NannyML: +-1.96 SE | NannyML: +-3 SE |"]
    lines += ["| --- | --- | --- | --- | --- | --- |"]
    have_nm = all(c.get("nannyml") for c in cases)
    for m in METRICS:
        ours = (np.mean([c["mae"][m] for c in cases]), np.mean([c["coverage_95"][m] for c in cases]))
        if have_nm:
            theirs = [np.mean([c["nannyml"][k][m] for c in cases]) for k in ("mae", "coverage_95", "coverage_3se")]
            tail = f"{theirs[0]:.4f} | {theirs[1]:.0%} | {theirs[2]:.0%} |"
        else:
            tail = "- | - | - |"
        lines.append(f"| {m} | {ours[0]:.4f} | {ours[1]:.0%} | {tail}")
    lines += [
        "",
        "Time per 1,000-row chunk (ours: median of estimate(), 1,000 label draws for the intervals; NannyML: its "
        "estimate() over all chunks of a case divided by their number), and fit time on the reference:",
        "",
        "| classes | model | ours ms/chunk | ours fit s | calibration chosen | NannyML ms/chunk | NannyML fit s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in cases:
        r = c.get("nannyml") or {}
        lines.append(
            f"| {c['classes']} | {c['model']} | {c['ms_per_chunk_median']} | {c['fit_seconds']} | {c['calibration']} | "
            f"{r.get('ms_per_chunk', '-')} | {r.get('fit_seconds', '-')} |"
        )
    lines.append("")
    if nm is None:
        lines.append("NannyML: its venv (bench/.venvs/nannyml) is absent; only our figures are measured.")
    elif "error" in nm:
        lines.append(f"NannyML failed in this run: {nm['error']}")
    else:
        lines.append(f"NannyML {nm['version']} ran on the same chunks in the same run, in its own venv.")
    m = res["machine"]
    lines += [
        "",
        f"Machine: {m['cpus']} CPUs shared with other jobs; load average at start {m['load_start']:.1f}, at end "
        f"{m['load_end']:.1f}; Python {m['python']}; whole run {res['seconds']} s. Quote ratios, not absolute times.",
    ]
    return lines


if __name__ == "__main__":
    main()
