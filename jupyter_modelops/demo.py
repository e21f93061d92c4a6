"""``make demo``: the main job end to end on embedded defaults.

Each step is a function that takes the shared state dict, does one part of
the life cycle with the public API only, and returns a line for the summary.
Run with ``python -m jupyter_modelops.demo [OUTPUT_DIR]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable

STEPS: list[tuple[str, Callable[[dict], str]]] = []

# The story, in order; steps are defined below in any order and run in this one.
ORDER = [
    "train",
    "evaluate",
    "robustness",
    "drift",
    "snapshot",
    "export",
    "serve",
    "watch",
    "monitor",
    "labels",
    "live-report",
    "build",
    "deploy",
    "report",
]


def step(title: str) -> Callable[[Callable[[dict], str]], Callable[[dict], str]]:
    def register(fn: Callable[[dict], str]) -> Callable[[dict], str]:
        STEPS.append((title, fn))
        return fn

    return register


@step("train")
def train(state: dict) -> str:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    state.update(model=model, X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test)
    return f"LogisticRegression on breast cancer data: {len(X_train)} training rows, {len(X_test)} test rows"


@step("evaluate")
def evaluate_step(state: dict) -> str:
    import jupyter_modelops as mo

    report = mo.evaluate(state["model"], state["X_test"], state["y_test"])
    gates = report.check({"roc_auc": ">= 0.9", "log_loss": "<= 0.5"})
    path = report.save_html(str(state["out"] / "evaluation.html"))
    state["report"] = report
    auc = report.metrics["roc_auc"]
    return (
        f"ROC AUC {auc.value:.3f} (95% CI {auc.low:.3f}-{auc.high:.3f}), "
        f"gates {'passed' if gates.passed else 'FAILED'}; HTML report: {path}"
    )


@step("snapshot")
def snapshot_step(state: dict) -> str:
    import numpy as np

    import jupyter_modelops as mo

    mv = mo.snapshot(
        state["model"],
        "demo-churn",
        report=state.get("report"),
        data=state["X_train"],
        params={"model": "LogisticRegression", "max_iter": 1000},
        alias="staging",
        notes="make demo",
    )
    loaded = mo.load(mv.ref)
    X_test = state["X_test"]
    if not np.array_equal(loaded.predict_proba(X_test), state["model"].predict_proba(X_test)):
        raise SystemExit(f"{mv.ref} did not load back to identical predictions")
    state["version"] = mv
    metrics = f", {len(mv.metrics)} metrics with intervals" if mv.metrics else ""
    return f"{mv.ref} @staging ({mv.flavor}, {mv.size:,} bytes{metrics}); loaded back with identical predictions"


@step("report")
def monitoring_report(state: dict) -> str:
    import jupyter_modelops as mo

    current = state["out"] / "current.csv"
    state["X_test"].assign(target=state["y_test"]).to_csv(current, index=False)
    ref = state["version"].ref if "version" in state else None
    run = mo.report(
        ref,
        data=current,
        params={"label_column": "target", "min_score": 0.9},
        output_dir=state["out"] / "monitoring-report",
    )
    state["report_run"] = run
    gates = run.gates or []
    passed = sum(1 for g in gates if g.get("status") == "pass")
    return f"monitoring report {run.status}, {passed}/{len(gates)} gates passed: {run.html}"


@step("serve")
def serve_step(state: dict) -> str:
    import numpy as np

    import jupyter_modelops as mo

    dep = mo.serve(state["version"].ref)
    try:
        rows = state["X_test"].iloc[:8]
        got = mo.predict(dep, rows)
        runtime = dep.status()
        model = state["model"]
        if not np.array_equal(got["predict"], model.predict(rows)):
            raise SystemExit(f"the served {state['version'].ref} answered other labels than the model in memory")
        gap = float(np.max(np.abs(got["predict_proba"] - model.predict_proba(rows))))
        if gap > 1e-5:
            raise SystemExit(f"the served probabilities differ from the model's by {gap:.2g}")
        line = (
            f"served {runtime['ref']} at {dep.url} (V2 REST); {len(rows)} rows via the V2 client: labels "
            f"identical, max |dp| {gap:.1g}, {got.latency_ms:.1f} ms"
        )
    finally:
        dep.stop()
    return line + "; stopped"


# -- the watching loop: live drift on the wire, monitor() before and after labels, a report over the captures
WATCH_ROWS = 64  # the sliding drift window and the alarm's window, in rows: small beside the 341 reference rows
ROWS_PER_REQUEST = 2


def _post_rows(url: str, rows: object) -> str:
    """One V2 inference request of a few rows; returns the request id the server answered with."""
    import json
    import urllib.request

    import numpy as np

    X = np.asarray(rows, dtype=np.float64)
    body = {"inputs": [{"name": "input", "datatype": "FP64", "shape": list(X.shape), "data": X.ravel().tolist()}]}
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["id"]


def _gauges(url: str) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("modelops_") and "drift" in line:
            key, value = line.rsplit(" ", 1)
            out[
                key.split("{", 1)[0]
                + ("[" + key.split('feature="', 1)[1].split('"', 1)[0] + "]" if 'feature="' in key else "")
            ] = float(value)
    return out


@step("watch")
def watch_step(state: dict) -> str:
    import datetime as dt

    import numpy as np

    import jupyter_modelops as mo

    ref = state["version"].ref
    rng = np.random.default_rng(0)
    X_test, y_test = state["X_test"], state["y_test"]
    # the held-out rows: the first third calibrates the performance estimator, the rest makes the traffic
    cut = len(X_test) // 3
    pool, pool_y = X_test.iloc[cut:].to_numpy(), y_test.iloc[cut:].to_numpy()
    n = 300
    pick = [rng.choice(len(pool), n), rng.choice(len(pool), n)]
    stable, drifted = pool[pick[0]], pool[pick[1]].copy()
    drifted[:, 0] *= 1.5  # the unit error of the drift step, now in production traffic
    os.environ["MODELOPS_SERVING_LIVE_DRIFT_ROWS"] = str(WATCH_ROWS)
    try:
        dep = mo.serve(ref, capture=True)
    finally:
        del os.environ["MODELOPS_SERVING_LIVE_DRIFT_ROWS"]
    metrics = dep.url.rstrip("/") + "/metrics"
    url = dep.url.rstrip("/") + f"/v2/models/{state['version'].name}/infer"
    try:
        deadline = time.monotonic() + 60  # the alarm's threshold is simulated once, in the background
        while "modelops_drift_threshold" not in _gauges(metrics):
            if time.monotonic() > deadline:
                raise SystemExit("the served version shows no drift alarm: is its reference profile missing?")
            time.sleep(0.2)
        t0 = time.time()
        ids = [_post_rows(url, stable[i : i + ROWS_PER_REQUEST]) for i in range(0, n, ROWS_PER_REQUEST)]
        calm = _gauges(metrics)
        # the drifted phase starts on a whole second, so that monitor() can cut the period at the change
        phase = float(np.ceil(time.time() - t0 + 0.2))
        time.sleep(max(0.0, t0 + phase - time.time()))
        ids += [_post_rows(url, drifted[i : i + ROWS_PER_REQUEST]) for i in range(0, n, ROWS_PER_REQUEST)]
        moved = _gauges(metrics)
    finally:
        dep.stop()  # the captured rows are flushed to the store
    col = str(X_test.columns[0])
    state.update(
        watch={
            "ids": ids,
            "labels": np.concatenate([pool_y[pick[0]], pool_y[pick[1]]]),
            "since": dt.datetime.fromtimestamp(t0, dt.timezone.utc),
            "until": dt.datetime.fromtimestamp(max(time.time(), t0 + 2 * phase), dt.timezone.utc),
            "every": dt.timedelta(seconds=phase),
            "cut": cut,
            "deployment": dep,
        }
    )
    if not moved["modelops_drift_alarm"] or calm["modelops_drift_alarm"]:
        raise SystemExit(f"the live drift alarm did not follow the traffic: {calm} then {moved}")
    psi = f"modelops_feature_drift_psi[{col}]"
    return (
        f"served {ref} with capture; {len(ids)} requests of {ROWS_PER_REQUEST} rows; /metrics over the last "
        f"{int(moved['modelops_drift_window_rows'])} rows: '{col}' PSI {calm[psi]:.2f} stable -> {moved[psi]:.2f} "
        f"drifted, prediction PSI {calm['modelops_prediction_drift_psi']:.2f} -> "
        f"{moved['modelops_prediction_drift_psi']:.2f}, alarm {int(calm['modelops_drift_alarm'])} -> "
        f"{int(moved['modelops_drift_alarm'])} (statistic {moved['modelops_drift_statistic']:.1f} / threshold "
        f"{moved['modelops_drift_threshold']:.1f})"
    )


def _estimator(state: dict) -> object:
    import jupyter_modelops as mo

    cut = state["watch"]["cut"]
    X_cal, y_cal = state["X_test"].iloc[:cut], state["y_test"].iloc[:cut]
    return mo.PerformanceEstimator(state["model"].predict_proba(X_cal)[:, 1], y_cal)


def _phases(rep: object, key: str) -> list[str]:
    out = []
    for name, w in zip(("stable", "drifted"), [w for w in rep.windows if w["rows"]]):
        m = (w.get(key) or {}).get("accuracy")
        if m:
            v = m.get("estimate", m.get("value"))
            out.append(f"{name} {v:.3f} [{m['low']:.3f}, {m['high']:.3f}]")
    return out


@step("monitor")
def monitor_step(state: dict) -> str:
    import jupyter_modelops as mo

    w = state["watch"]
    rep = mo.monitor(
        state["version"].ref,
        since=w["since"],
        until=w["until"],
        every=w["every"],
        performance=_estimator(state),
        window_rows=WATCH_ROWS,
        horizon=720,
    )
    path = rep.save_html(str(state["out"] / "monitor-before-labels.html"))
    seen = [x for x in rep.windows if x["rows"]]
    alarm = next((name for name, x in zip(("stable", "drifted"), seen) if x["alarm"]), None)
    return (
        f"{len(seen)} windows of captured traffic, drift alarm "
        f"{'from the ' + alarm + ' window on' if alarm else 'never'}; estimated accuracy before labels: "
        f"{'; '.join(_phases(rep, 'estimated'))} -> {path}"
    )


@step("labels")
def labels_step(state: dict) -> str:
    import jupyter_modelops as mo

    w = state["watch"]
    ids, labels = w["ids"], w["labels"]
    # the labels "arrive later", for every other request: the rows of each labelled request, by row index
    chosen = [k for k in range(len(ids)) if k % 2 == 0]
    got = mo.log_labels(
        w["deployment"],
        [ids[k] for k in chosen for _ in range(ROWS_PER_REQUEST)],
        [int(labels[k * ROWS_PER_REQUEST + r]) for k in chosen for r in range(ROWS_PER_REQUEST)],
        rows=[r for _ in chosen for r in range(ROWS_PER_REQUEST)],
    )
    rep = mo.monitor(
        state["version"].ref,
        since=w["since"],
        until=w["until"],
        every=w["every"],
        performance=_estimator(state),
        window_rows=WATCH_ROWS,
        horizon=720,
    )
    path = rep.save_html(str(state["out"] / "monitor-after-labels.html"))
    if got.unknown:
        raise SystemExit(f"{got.unknown} labels matched no captured request: {got.unknown_ids[:3]}")
    return (
        f"{got.written} labels for half of the requests, all joined to captured rows; realized accuracy: "
        f"{'; '.join(_phases(rep, 'realized'))} -> {path}"
    )


@step("live-report")
def live_report_step(state: dict) -> str:
    import jupyter_modelops as mo

    run = mo.report(state["version"].ref, window="1h", output_dir=state["out"] / "monitoring-report-captures")
    gates = run.gates or []
    passed = sum(1 for g in gates if g.get("status") == "pass")
    return f"monitoring report over the captured hour {run.status}, {passed}/{len(gates)} gates passed: {run.html}"


@step("deploy")
def deploy(state: dict) -> str:
    import jupyter_modelops as mo

    ref = state["version"].ref
    img = state.get("image")
    image = None
    if img is not None:  # the build step's image: pushed, or its tag and digest in the local layout
        image = getattr(img, "reference", None) or f"{img.name}:{img.tag}@{img.digest}"
    elif not mo.records(ref, kind="image"):
        image = f"registry.example.com/{state['version'].name}:{state['version'].version}"
    parts = []
    for profile in ("cpu-small", "gpu-t4"):
        dep = mo.deploy(ref, profile=profile, image=image, dry_run=True)
        path = state["out"] / f"deploy-{profile}.yaml"
        path.write_text(dep.yaml, encoding="utf-8")
        kinds = ", ".join(o["kind"] for o in dep.manifests)
        parts.append(f"{profile}: {len(dep.manifests)} manifests ({kinds}) -> {path.name}")
    state["deploy_yaml"] = state["out"] / "deploy-gpu-t4.yaml"
    return f"dry-run deployment of {ref}: " + "; ".join(parts)


@step("robustness")
def robustness_step(state: dict) -> str:
    import jupyter_modelops as mo

    rep = mo.robustness(state["model"], state["X_test"], state["y_test"], impute="mean", n_boot=500)
    gates = rep.check("flip_rate <= 0.05 at noise 0.05")
    path = rep.save_html(str(state["out"] / "robustness.html"))
    state["robustness"] = rep
    w = rep.summary()["worst"]
    return (
        f"{len(rep.ok_rows)} perturbation runs; worst {w['perturbation']} {w['severity']:g}; most sensitive "
        f"feature '{rep.features[0]['feature']}'; gate flip_rate<=0.05 at noise 0.05 "
        f"{'passed' if gates.passed else 'FAILED'} -> {path}"
    )


@step("drift")
def drift_step(state: dict) -> str:
    import jupyter_modelops as mo

    ref = mo.profile(state["X_train"], model=state["model"])
    ref_path = ref.save(state["out"] / "reference-profile.json")
    # "production" data: the test set, with one unit error (a column recorded x1.5)
    current = state["X_test"].copy()
    col = current.columns[0]
    current[col] = current[col] * 1.5
    rep = mo.drift(mo.Profile.load(ref_path), current, model=state["model"])
    path = rep.save_html(str(state["out"] / "drift.html"))
    state["drift"] = rep
    top = rep.ranked()[0]["column"] if rep.columns else "-"
    return (
        f"{len(rep.drifted)}/{len(rep.comparable)} columns drift (most: '{top}'), "
        f"prediction drift {'yes' if rep.prediction and rep.prediction['drift'] else 'no'}; profile "
        f"{ref_path.stat().st_size // 1024} KB -> {path}"
    )


@step("export")
def export_step(state: dict) -> str:
    import jupyter_modelops as mo

    if "version" in state:  # the registry's version, parity-checked on its stored sample and on the test rows
        result = mo.export(state["version"], "onnx", sample=state["X_test"])
    else:
        result = mo.export(state["model"], "onnx", sample=state["X_test"])
    state["export"] = result
    sp = (result.speed or {}).get("onnx", {})
    path = result.save_html(str(state["out"] / "export.html"))
    rows = ", ".join(f"{ds} {rep['rows']} rows" for ds, rep in result.parity["onnx"].items())
    return (
        f"ONNX (opset {result.artifacts['onnx']['opset']}, {result.artifacts['onnx']['size_bytes']:,} B) "
        f"{'attached to ' + result.ref if result.ref else 'written'}; parity max |dp| "
        f"{result.max_abs_diff():.1e} on {rows}; single row {sp.get('single_row_us', 0):.0f} us vs "
        f"{result.speed['original']['single_row_us']:.0f} us in scikit-learn -> {path}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "demo-output").resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MODELOPS_HOME", str(out / "modelops-home"))
    state: dict = {"out": out}
    print(f"jupyter-modelops demo -> {out}")
    summary = []
    rank = {name: i for i, name in enumerate(ORDER)}
    for title, fn in sorted(STEPS, key=lambda s: rank.get(s[0], len(ORDER))):
        t0 = time.perf_counter()
        line = fn(state)
        dt = time.perf_counter() - t0
        print(f"[{title:>10}] {line} ({dt:.1f} s)")
        summary.append((title, line))
    print("\nDone. State lives in MODELOPS_HOME =", os.environ["MODELOPS_HOME"])
    return 0


@step("build")
def build_step(state: dict) -> str:
    # base="scratch": the demo stays offline (no base image to download); the layers run on any
    # Python 3.11 base, e.g. mo.build(ref, base="python:3.11-slim-bookworm") or an OCI layout directory.
    # A scratch image cannot start on its own (no Python): build() warns, which the demo knows already.
    import warnings

    import jupyter_modelops as mo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.exceptions.ModelOpsWarning)
        img = mo.build(state["version"].ref, base="scratch", progress=False)
        again = mo.build(state["version"].ref, base="scratch", progress=False)
    if again.digest != img.digest:
        raise SystemExit(f"building {state['version'].ref} twice gave two digests: {img.digest} and {again.digest}")
    state["image"] = img
    layers = ", ".join(f"{la['role']} {la['size'] / 1e6:.1f} MB" for la in img.layers)
    return (
        f"image {img.layout_name} {img.digest[:19]}... {img.size / 1e6:.1f} MB ({layers}) in {img.location}; "
        f"rebuilt: same digest, {again.reused}/{len(again.layers)} layers reused"
    )


@step("panel")
def panel_step(state: dict) -> str:
    """The JupyterLab panel's REST API on a real Jupyter server: list the registry, run a job."""
    import json
    import secrets
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    root = state["out"] / "jupyter-root"
    root.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.jpserver_extensions={'jupyter_modelops': True}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base, headers = f"http://127.0.0.1:{port}/jupyter-modelops/api", {"Authorization": f"token {token}"}

    def call(path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{base}/{path}", data=data, headers=headers, method="POST" if data else "GET")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                info = call("info")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    msg = "the Jupyter server with the jupyter_modelops extension did not start"
                    raise SystemExit(msg) from None
                time.sleep(0.3)
        models = call("models")["models"]
        job = call("jobs", {"action": "export", "params": {"model_or_ref": state["version"].ref, "format": "onnx"}})
        while job["status"] not in ("succeeded", "failed"):
            time.sleep(0.2)
            job = call(f"jobs/{job['id']}")
        if job["status"] != "succeeded":
            raise SystemExit(f"the export job failed: {job['error']['message']}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    from . import _jupyter_labextension_paths

    assets = (Path(__file__).parent / _jupyter_labextension_paths()[0]["src"] / "package.json").exists()
    return (
        f"REST API of the panel (jupyter-modelops {info['version']}) on 127.0.0.1:{port}: "
        f"{len(models)} model(s), export job {job['status']} in {job['elapsed']:.1f} s "
        f"({'reused' if job['result'].get('reused') else 'new'}); panel assets built: {'yes' if assets else 'NO'}; "
        "open it with `jupyter lab` -> ModelOps in the left sidebar"
    )


if __name__ == "__main__":
    raise SystemExit(main())
