"""The MLflow side of bench/registry/run.py, run in MLflow's own venv.

Same 100 MB KNeighborsClassifier as ours (same seed). MLflow with a SQLite
tracking/registry store and a local artifact folder, no server. Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path


def med(xs):
    return statistics.median(xs)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def knn_model(mb: int = 100):
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    rows = mb * 1024 * 1024 // (10 * 8)
    rng = np.random.default_rng(0)
    X = rng.random((rows, 10))
    y = (X[:, 0] > 0.5).astype(np.int64)
    return KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(X, y), X[:1000]


def setup(work: Path, tag: str):
    import mlflow

    root = work / f"mlflow-{tag}-{time.time_ns()}"
    root.mkdir(parents=True)
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{root / 'mlflow.db'}")
    exp = mlflow.create_experiment("bench", artifact_location=(root / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=exp)
    return root


def timeit(fn, n):
    fn()
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t0)
    return med(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    work = Path(args.work).resolve()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow.models import infer_signature  # noqa: F401  (imported once, outside the timings)

    model, X = knn_model()
    base, logt, pinned, relog_new = [], [], [], []
    for _ in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(dir=work))
        t0 = time.perf_counter()
        with open(tmp / "model.pkl", "wb") as f:
            pickle.dump(model, f)
        base.append(time.perf_counter() - t0)
        shutil.rmtree(tmp)
        root = setup(work, "big")
        t0 = time.perf_counter()
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", registered_model_name="knn")
        logt.append(time.perf_counter() - t0)
        before = dir_bytes(root / "artifacts")
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", registered_model_name="knn")
        relog_new.append(dir_bytes(root / "artifacts") - before)
        # the same, with the requirements given (skips MLflow's requirement inference subprocess)
        import sklearn

        t0 = time.perf_counter()
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="knn",
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
        pinned.append(time.perf_counter() - t0)
        shutil.rmtree(root)

    # many versions: register a tiny model's artifact N times (no re-serialization per version)
    from mlflow import MlflowClient
    from sklearn.dummy import DummyClassifier

    root = setup(work, "many")
    client = MlflowClient()
    tiny = DummyClassifier().fit([[0], [1]], [0, 1])
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(tiny, name="model")
    client.create_registered_model("many")
    reg = []
    for _ in range(args.versions):
        t0 = time.perf_counter()
        client.create_model_version("many", info.model_uri, run_id=run.info.run_id, tags={"f1_score": "0.9"})
        reg.append(time.perf_counter() - t0)
    client.set_registered_model_alias("many", "production", str(args.versions // 2))
    n = args.versions
    res = {
        "version": mlflow.__version__,
        "serialize_s": med(base),
        "log_model_s": med(logt),
        "overhead_s": med(logt) - med(base),
        "log_model_pinned_s": med(pinned),
        "overhead_pinned_s": med(pinned) - med(base),
        "relog_new_bytes": max(relog_new),
        "register_s": med(reg),
        "versions": n,
        "search_versions_s": timeit(lambda: client.search_model_versions("name='many'", max_results=n), 5),
        "get_version_s": timeit(lambda: client.get_model_version("many", str(n // 3)), 100),
        "get_alias_s": timeit(lambda: client.get_model_version_by_alias("many", "production"), 100),
        "runs": {"serialize": base, "log_model": logt, "log_model_pinned": pinned},
    }
    found = client.search_model_versions("name='many'", max_results=n)
    assert len(found) == n, len(found)
    shutil.rmtree(root)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
