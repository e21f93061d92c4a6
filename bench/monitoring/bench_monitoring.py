"""Live monitoring statistics beside the per-window baseline, in one run.

1. False alarms on stable streams: 20 independent N(0,1) columns, a 5,000-row
   reference per stream, 720 hourly windows of 500 rows (30 days). Ours:
   ``SequentialDrift`` with its defaults (alpha 0.05 over 720 checks). The
   windows' bin counts on the reference profile's bins are drawn directly from
   their multinomial law (exactly what binning 500 N(0,1) rows gives).
   Baseline: per-window two-sample KS on raw rows + Benjamini-Hochberg at 5%
   (scipy's asymptotic KS distribution), on fewer streams (raw rows are costly).
2. Detection delay: after 24 stable windows, a 0.25-sd mean shift in 3 of the
   20 columns; delay in observations (windows x 500).
3. Performance without labels: a logistic world (10 features), a model fitted
   on 8,000 rows, a 10,000-row labelled reference, then 1,000-row chunks whose
   inputs shift by up to 1.5 sd (5 of 10 features); the estimates against the
   chunks' realized metrics, and the coverage of the 95% intervals; NannyML's
   CBPE on the same chunks when its venv exists
   (``python3 -m venv bench/.venvs/nannyml && bench/.venvs/nannyml/bin/pip install nannyml statsmodels``).

    .venv/bin/python bench/monitoring/bench_monitoring.py [--streams 500] [--ks-streams 20] [--shift-streams 200]

Results: bench/results/monitoring.json and bench/results/monitoring.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work" / "monitoring"
NANNYML_PY = ROOT / "bench" / ".venvs" / "nannyml" / "bin" / "python"

PEERS_MEASURED_EARLIER = {
    "ks_bh_per_window": "500 of 500 stable streams false-alarm within 30 days; first after 21.8 h on average; "
    "34.5 false alarms per stream per month",
    "evidently_data_drift_preset": "flags at least one column in 69% of stable windows (2.2 s per window)",
    "alibi_detect_cvm_online": "cannot be configured for one false alarm per 360,000 observations (needs ~7.2M "
    "bootstrap streams); calibrated re-implementation: median delay 338 observations, "
    "90th percentile 1,108, for the 0.25-sd shift in 3 of 20 columns",
    "nannyml_cbpe": "MAE 0.0106 (ROC AUC), 0.0102 (accuracy); band contains the realized ROC AUC in 96.1% of chunks "
    "(nominal 99.7%); 6.3 ms per chunk",
}


def _probs(edges, shift=0.0):
    from scipy.stats import norm

    return np.diff(np.concatenate(([0.0], norm.cdf(np.asarray(edges) - shift), [1.0])))


def _counts(det, rng, windows, *, shifted=(), shift=0.25):
    return {
        c.name: rng.multinomial(500, _probs(c.edges, shift if c.name in shifted else 0.0), size=windows)
        for c in det.cols
    }


def false_alarms_ours(streams: int, seed: int) -> dict:
    from jupyter_modelops import SequentialDrift, profile
    from jupyter_modelops.monitoring import alarms

    rng = np.random.default_rng(seed)
    alarms._cached_tail.cache_clear()
    t0 = time.perf_counter()
    SequentialDrift(profile(rng.normal(size=(5000, 20))), window_rows=500)
    setup = time.perf_counter() - t0
    fired, firsts, per_stream = 0, [], []
    t0 = time.perf_counter()
    for _ in range(streams):
        det = SequentialDrift(profile(rng.normal(size=(5000, 20))), window_rows=500)
        counts = _counts(det, rng, 720)
        start, n_alarms = 0, 0
        while start < 720:
            res = det.run({k: v[start:] for k, v in counts.items()})
            if res["first_alarm"] is None:
                break
            if n_alarms == 0:
                firsts.append(start + res["first_alarm"] + 1)
            n_alarms += 1
            start += res["first_alarm"] + 1
            det.reset()
        fired += n_alarms > 0
        per_stream.append(n_alarms)
    return {
        "streams": streams,
        "streams_with_false_alarm": fired,
        "share": fired / streams,
        "first_alarm_hours_mean": float(np.mean(firsts)) if firsts else None,
        "false_alarms_per_stream_month": float(np.mean(per_stream)),
        "setup_seconds_first_calibration": round(setup, 2),
        "threshold": det.threshold,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def false_alarms_ks_bh(streams: int, seed: int) -> dict:
    from scipy.stats import false_discovery_control, kstwo

    rng = np.random.default_rng(seed)
    en = round(5000 * 500 / 5500)
    fired, firsts, per_stream = 0, [], []
    t0 = time.perf_counter()
    for _ in range(streams):
        ref = np.sort(rng.normal(size=(5000, 20)), axis=0)
        n_alarms, first = 0, None
        for hour in range(720):
            win = np.sort(rng.normal(size=(500, 20)), axis=0)
            d = np.empty(20)
            for j in range(20):
                f_ref_at_win = np.searchsorted(ref[:, j], win[:, j], side="right") / 5000
                f_win_at_win = np.arange(1, 501) / 500
                f_win_at_ref = np.searchsorted(win[:, j], ref[:, j], side="right") / 500
                f_ref_at_ref = np.arange(1, 5001) / 5000
                d[j] = max(
                    np.max(np.abs(f_ref_at_win - f_win_at_win)),
                    np.max(np.abs(f_win_at_ref - f_ref_at_ref)),
                    np.max(np.abs(f_ref_at_win - (f_win_at_win - 1 / 500))),
                    np.max(np.abs(f_win_at_ref - (f_ref_at_ref - 1 / 5000))),
                )
            p = kstwo.sf(d, en)
            if (false_discovery_control(p, method="bh") < 0.05).any():
                n_alarms += 1
                first = hour + 1 if first is None else first
        fired += n_alarms > 0
        per_stream.append(n_alarms)
        if first is not None:
            firsts.append(first)
    return {
        "streams": streams,
        "streams_with_false_alarm": fired,
        "share": fired / streams,
        "first_alarm_hours_mean": float(np.mean(firsts)) if firsts else None,
        "false_alarms_per_stream_month": float(np.mean(per_stream)),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def detection_delay(streams: int, seed: int) -> dict:
    from jupyter_modelops import SequentialDrift, profile

    rng = np.random.default_rng(seed)
    delays, early = [], 0
    for _ in range(streams):
        det = SequentialDrift(profile(rng.normal(size=(5000, 20))), window_rows=500)
        if det.run(_counts(det, rng, 24))["first_alarm"] is not None:
            early += 1
            det.reset()
        res = det.run(_counts(det, rng, 48, shifted={"x0", "x7", "x13"}))
        delays.append(np.inf if res["first_alarm"] is None else 500 * (res["first_alarm"] + 1))
    d = np.asarray(delays)
    return {
        "streams": streams,
        "median_observations": float(np.median(d)),
        "p90_observations": float(np.quantile(d, 0.9)),
        "missed_within_48_windows": int(np.isinf(d).sum()),
        "detected_in_first_window": float(np.mean(d == 500)),
        "false_alarms_in_stable_stretch": early,
    }


def cbpe(worlds: int, chunks: int, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression

    from jupyter_modelops import PerformanceEstimator
    from jupyter_modelops.monitoring.performance import realized_metrics

    rng = np.random.default_rng(seed)
    err = {"roc_auc": [], "accuracy": [], "f1": []}
    cover = {k: [] for k in err}
    times, methods, realized = [], [], []
    saved: dict = {}
    for _ in range(worlds):
        w = rng.normal(size=10)

        def draw(n, shift=0.0, w=w):
            x = rng.normal(size=(n, 10))
            x[:, :5] += shift
            return x, rng.random(n) < 1 / (1 + np.exp(-(x @ w - 0.3)))

        model = LogisticRegression().fit(*draw(8000))
        xr, yr = draw(10_000)
        est = PerformanceEstimator(model.predict_proba(xr)[:, 1], yr)
        methods.append(est.method)
        saved[f"ref_scores_{len(methods) - 1}"] = model.predict_proba(xr)[:, 1]
        saved[f"ref_labels_{len(methods) - 1}"] = yr
        world_scores = []
        for i in range(chunks):
            x, y = draw(1000, 1.5 * i / (chunks - 1))
            s = model.predict_proba(x)[:, 1]
            world_scores.append(s)
            t0 = time.perf_counter()
            e = est.estimate(s)
            times.append(time.perf_counter() - t0)
            real = realized_metrics(y, s, threshold=0.5)
            realized.append(real)
            for k in err:
                m = e.metrics[k]
                err[k].append(abs(m["estimate"] - real[k]))
                cover[k].append(m["low"] <= real[k] <= m["high"])
        saved[f"scores_{len(methods) - 1}"] = np.concatenate(world_scores)
    out = {
        "worlds": worlds,
        "chunks": worlds * chunks,
        "calibration": sorted(set(methods)),
        "mae": {k: float(np.mean(v)) for k, v in err.items()},
        "coverage_95": {k: float(np.mean(v)) for k, v in cover.items()},
        "ms_per_chunk_median": round(1000 * float(np.median(times)), 1),
    }
    out["nannyml"] = nannyml_cbpe(saved, realized, worlds)
    return out


def nannyml_cbpe(saved: dict, realized: list[dict], worlds: int) -> dict | None:
    """NannyML's CBPE on the same chunks, in its own venv; None when that venv is absent."""
    import subprocess

    if not NANNYML_PY.exists():
        return None
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "cbpe.npz"
    np.savez(path, worlds=worlds, **saved)
    proc = subprocess.run(
        [str(NANNYML_PY), str(HERE / "nannyml_cbpe.py"), str(path)], capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    res: dict = {"version": doc["nannyml"], "mae": {}, "coverage_3se": {}, "coverage_95": {}}
    n_chunks = sum(w["chunks"] for w in doc["worlds"])
    res["ms_per_chunk"] = round(1000 * sum(w["seconds"] for w in doc["worlds"]) / max(n_chunks, 1), 1)
    for m in ("roc_auc", "accuracy"):
        est = np.concatenate([w[f"{m}_value"] for w in doc["worlds"]])
        se = np.concatenate([w[f"{m}_sampling_error"] for w in doc["worlds"]])
        real = np.array([r[m] for r in realized])
        res["mae"][m] = float(np.mean(np.abs(est - real)))
        res["coverage_3se"][m] = float(np.mean(np.abs(est - real) <= 3 * se))
        res["coverage_95"][m] = float(np.mean(np.abs(est - real) <= 1.96 * se))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--ks-streams", type=int, default=20)
    ap.add_argument("--shift-streams", type=int, default=200)
    ap.add_argument("--worlds", type=int, default=4)
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_start": load0}}
    results["false_alarms"] = {
        "ours": false_alarms_ours(args.streams, args.seed),
        "ks_bh_per_window": false_alarms_ks_bh(args.ks_streams, args.seed + 1),
    }
    results["detection"] = detection_delay(args.shift_streams, args.seed + 2)
    results["cbpe"] = cbpe(args.worlds, args.chunks, args.seed + 3)
    results["peers_measured_earlier_not_rerun"] = PEERS_MEASURED_EARLIER
    results["machine"]["load_end"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "monitoring.json").write_text(json.dumps(results, indent=2))

    fa, ks, det, cb = (
        results["false_alarms"]["ours"],
        results["false_alarms"]["ks_bh_per_window"],
        results["detection"],
        results["cbpe"],
    )
    lines = [
        "# Monitoring: sequential alarms and performance without labels",
        "",
        "20 independent N(0,1) columns, 5,000-row reference per stream, 720 hourly windows of 500 rows (30 days).",
        "",
        "| check | streams | streams with a false alarm in 30 days | mean hour of the first | false alarms per "
        "stream-month |",
        "| --- | --- | --- | --- | --- |",
        f"| ours: SequentialDrift (alpha 0.05 over 720 checks) | {fa['streams']} | {fa['streams_with_false_alarm']} "
        f"({fa['share']:.1%}) | {fmt(fa['first_alarm_hours_mean'])} | {fa['false_alarms_per_stream_month']:.3f} |",
        f"| per-window KS + Benjamini-Hochberg at 5% (scipy), re-run | {ks['streams']} | "
        f"{ks['streams_with_false_alarm']} ({ks['share']:.0%}) | {fmt(ks['first_alarm_hours_mean'])} | "
        f"{ks['false_alarms_per_stream_month']:.1f} |",
        "",
        f"Set-up (first calibration, then cached for the same bins and sizes): {fa['setup_seconds_first_calibration']} s;"
        f" threshold {fa['threshold']:.3f}.",
        "",
        f"Detection of a 0.25-sd shift in 3 of 20 columns ({det['streams']} streams, after 24 stable windows): median "
        f"{det['median_observations']:.0f} observations, 90th percentile {det['p90_observations']:.0f}; "
        f"{det['detected_in_first_window']:.0%} in the first window; missed within 48 windows: "
        f"{det['missed_within_48_windows']}. (Windows are 500 rows: 500 is the earliest possible.)",
        "",
        f"Performance without labels ({cb['chunks']} chunks of 1,000 rows in {cb['worlds']} worlds, covariate shift "
        f"growing to 1.5 sd; calibration chosen: {', '.join(cb['calibration'])}):",
        "",
        "| metric | mean absolute error | 95% interval covers the realized value |",
        "| --- | --- | --- |",
        *[f"| {k} | {cb['mae'][k]:.4f} | {cb['coverage_95'][k]:.1%} |" for k in cb["mae"]],
        "",
        f"{cb['ms_per_chunk_median']} ms per chunk (median; 1,000 label draws for the intervals).",
        "",
        *nannyml_lines(cb.get("nannyml")),
        "Peers, measured earlier on a machine like this one, not re-run here:",
        "",
        *[f"- {k}: {v}" for k, v in PEERS_MEASURED_EARLIER.items()],
        "",
        f"Machine: {os.cpu_count()} CPUs, shared; load average at start {load0:.1f}, at end "
        f"{results['machine']['load_end']:.1f}. Quote ratios and rates, not absolute times.",
    ]
    (RESULTS / "monitoring.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def nannyml_lines(nm: dict | None) -> list[str]:
    if nm is None:
        return ["NannyML: its venv (bench/.venvs/nannyml) is absent; see the figures measured earlier below.", ""]
    if "error" in nm:
        return [f"NannyML failed in this run: {nm['error']}", ""]
    return [
        f"NannyML {nm['version']} CBPE on the same chunks, re-run side by side (its own venv, "
        f"{nm['ms_per_chunk']} ms per chunk):",
        "",
        "| metric | mean absolute error | estimate +- 3 sampling errors covers | +- 1.96 sampling errors covers |",
        "| --- | --- | --- | --- |",
        *[
            f"| {m} | {nm['mae'][m]:.4f} | {nm['coverage_3se'][m]:.1%} | {nm['coverage_95'][m]:.1%} |"
            for m in nm["mae"]
        ],
        "",
    ]


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    main()
