"""MLflow both ways, against a real tracking server on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.integrations.mlflow import parse_uri

pytestmark = pytest.mark.slow


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def version(clf, clf_data):
    X, y = clf_data
    report = mo.evaluate(clf, X, y, n_boot=100, progress=False)
    return mo.snapshot(
        clf,
        _name("churn"),
        report=report,
        data=X,
        params={"C": 1.0, "solver": "lbfgs"},
        tags={"team": "risk"},
        alias="production",
    )


def test_to_mlflow_logs_metrics_with_intervals_params_lineage_and_reports(tracking, version):
    push = mo.to_mlflow(version.ref)
    run = tracking.get_run(push.run_id)
    auc = version.metrics["roc_auc"]
    assert run.data.metrics["roc_auc"] == pytest.approx(auc["value"])
    assert run.data.metrics["roc_auc_low"] == pytest.approx(auc["low"])
    assert run.data.metrics["roc_auc_high"] == pytest.approx(auc["high"])
    assert run.data.params == {"C": "1.0", "solver": "lbfgs"}
    tags = run.data.tags
    assert tags["modelops.ref"] == version.ref
    assert tags["modelops.data.sha256"] == version.data["sha256"]
    assert "feature_names" in tags["modelops.signature"]
    assert tags["team"] == "risk"
    if (version.meta.get("git") or {}).get("commit"):
        assert tags["mlflow.source.git.commit"] == version.meta["git"]["commit"]
    files = {a.path for a in tracking.list_artifacts(push.run_id, "modelops")}
    assert {"modelops/version.html", "modelops/version.json"} <= files
    assert any(r["kind"] == "mlflow" and r["data"]["run_id"] == push.run_id for r in mo.records(version.ref))


def test_logged_model_loads_with_pyfunc_and_aliases_are_mirrored(tracking, version, clf, clf_data):
    import mlflow

    X, _ = clf_data
    push = mo.to_mlflow(version.ref)
    assert push.mlflow_flavor == "sklearn" and push.aliases == ["production"]
    by_run = mlflow.pyfunc.load_model(push.model_uri)
    np.testing.assert_array_equal(by_run.predict(X[:20]), clf.predict(X[:20]))
    by_alias = mlflow.pyfunc.load_model(f"models:/{version.name}@production")
    np.testing.assert_array_equal(by_alias.predict(X[:20]), clf.predict(X[:20]))
    mv = tracking.get_model_version_by_alias(version.name, "production")
    assert mv.run_id == push.run_id


def test_logging_again_updates_the_same_run(tracking, version):
    first = mo.to_mlflow(version.ref, experiment=_name("exp"))
    exp = tracking.get_experiment(first.experiment_id)
    mo.alias(version.ref, "staging")
    second = mo.to_mlflow(version.ref, experiment=exp.name)
    assert first.created and not second.created
    assert second.run_id == first.run_id
    assert len(tracking.search_runs([first.experiment_id])) == 1
    assert len(tracking.get_metric_history(first.run_id, "roc_auc")) == 1
    versions = tracking.search_model_versions(f"name = '{version.name}'")
    assert [v.version for v in versions] == [first.model_version]
    assert set(second.aliases) == {"production", "staging"}
    assert tracking.get_model_version_by_alias(version.name, "staging").version == first.model_version


def test_onnx_export_is_logged_in_mlflows_onnx_flavor(tracking, version, clf, clf_data):
    import mlflow

    X, _ = clf_data
    mo.export(version.ref, format="onnx")
    push = mo.to_mlflow(version.ref, flavor="onnx", registered_model=_name("churn-onnx"))
    assert push.mlflow_flavor == "onnx"
    model = mlflow.pyfunc.load_model(push.model_uri)
    out = model.predict(X[:10].astype(np.float32))
    labels = np.asarray(out[list(out)[0]] if isinstance(out, dict) else out.iloc[:, 0]).ravel()
    np.testing.assert_array_equal(labels, clf.predict(X[:10]))


def test_from_mlflow_by_alias_keeps_metrics_and_lineage(tracking, version, clf, clf_data):
    X, _ = clf_data
    push = mo.to_mlflow(version.ref)
    pulled = mo.from_mlflow(f"models:/{version.name}@production", name="imported")
    mv = mo.get(pulled.ref)
    assert pulled.created and mv.origin == "mlflow"
    assert not mv.trusted
    assert mv.metrics["roc_auc"]["low"] == pytest.approx(version.metrics["roc_auc"]["low"])
    assert mv.params["C"] == "1.0"
    assert mv.meta["origin"]["run_id"] == push.run_id
    assert mv.meta["origin"]["lineage"]["modelops.ref"] == version.ref
    np.testing.assert_array_equal(mo.load(pulled.ref).predict(X[:10]), clf.predict(X[:10]))
    again = mo.from_mlflow(f"models:/{version.name}/{push.model_version}", name="imported")
    assert not again.created and again.ref == pulled.ref


def test_pickled_mlflow_model_is_untrusted_until_trusted(tracking, clf, clf_data):
    import mlflow

    X, _ = clf_data
    name = _name("pickled")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(clf, name="model", serialization_format="cloudpickle", registered_model_name=name)
        mlflow.log_metric("accuracy", 0.9)
    pulled = mo.from_mlflow(f"runs:/{run.info.run_id}/model", name=name)
    mv = mo.get(pulled.ref)
    assert mv.flavor == "pickle" and not mv.trusted
    with pytest.raises(ValidationError, match="runs code"):
        mo.load(pulled.ref)
    mo.trust(pulled.ref)
    np.testing.assert_array_equal(mo.load(pulled.ref).predict(X[:10]), clf.predict(X[:10]))
    assert mv.metrics["accuracy"]["value"] == 0.9


def test_an_mlmodel_naming_a_file_outside_the_model_is_refused(tracking, tmp_path):
    import mlflow

    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: ../../../../etc/passwd\n    serialization_format: cloudpickle\n"
    )
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model), "model")
    with pytest.raises(ValidationError, match="not a plain relative path"):
        mo.from_mlflow(f"runs:/{run.info.run_id}/model", name="evil")
    assert len(mo.models()) == 0


@pytest.mark.parametrize(
    "uri",
    [
        "models:/churn",
        "models:/churn/0",
        "runs:/abc/model",
        "file:///etc/passwd",
        "runs:/0123456789abcdef0123456789abcdef/../x",
        "models:/a b@x y",
        3,
    ],
)
def test_bad_uris_get_one_sentence(uri):
    with pytest.raises(ValidationError, match="MLflow model URI|must be a string"):
        parse_uri(uri)


def test_results_log_into_the_active_run_only_when_asked(tracking, clf, clf_data):
    import mlflow

    X, y = clf_data
    with mlflow.start_run() as off:
        mo.evaluate(clf, X, y, n_boot=50, progress=False)
    assert tracking.get_run(off.info.run_id).data.metrics == {}
    mo.configure(mlflow=True)
    try:
        with mlflow.start_run() as on:
            ev = mo.evaluate(clf, X, y, n_boot=50, progress=False)
            mo.drift(X[:200], X[200:] + 0.5, progress=False)
            mo.robustness(clf, X, y, n_boot=20, progress=False)
    finally:
        mo.configure(mlflow=None)
    metrics = tracking.get_run(on.info.run_id).data.metrics
    assert metrics["evaluation.roc_auc_low"] == pytest.approx(ev.to_dict()["metrics"]["roc_auc"]["low"])
    assert metrics["drift.x0.drift"] == 1.0
    assert any(k.startswith("robustness.noise.") and k.endswith("flip_rate_high") for k in metrics)
    html = {a.path for a in tracking.list_artifacts(on.info.run_id, "modelops")}
    assert {p.split("/")[1].split("-")[0] for p in html} == {"evaluation", "drift", "robustness"}


def test_the_environment_variable_turns_logging_on(tracking, clf, clf_data, monkeypatch):
    import mlflow

    X, y = clf_data
    monkeypatch.setenv("MODELOPS_MLFLOW", "1")
    with mlflow.start_run() as run:
        mo.evaluate(clf, X, y, n_boot=50, progress=False)
    assert "evaluation.accuracy_high" in tracking.get_run(run.info.run_id).data.metrics


def test_config_refuses_unknown_settings():
    with pytest.raises(ValidationError, match="Unknown setting 'mlfow'"):
        mo.configure(mlfow=True)
    with pytest.raises(ValidationError, match="True, False or None"):
        mo.configure(mlflow="yes")


def test_a_report_run_logs_into_the_active_run(tracking, tmp_path):
    import mlflow

    from reports.conftest import make_template

    tpl = make_template(
        tmp_path / "toy.ipynb",
        "value: float = 0.9\n",
        "from jupyter_modelops.reports import publish_summary\n"
        "publish_summary(title='toy', metrics={'value': value},\n"
        "                gates=[{'name': 'value >= 0.5', 'status': 'pass', 'detail': ''}])",
    )
    mo.configure(mlflow=True)
    try:
        with mlflow.start_run() as run:
            done = mo.report(template=tpl, params={"value": 0.95}, output_dir=tmp_path / "out")
    finally:
        mo.configure(mlflow=None)
    assert done.ok
    metrics = tracking.get_run(run.info.run_id).data.metrics
    assert metrics["report.value"] == 0.95 and metrics["report.gates_passed"] == 1.0
    assert any(a.path.startswith("modelops/report-") for a in tracking.list_artifacts(run.info.run_id, "modelops"))


def test_with_the_setting_off_nothing_imports_mlflow(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import sys\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
        "import jupyter_modelops as mo\nX = np.random.default_rng(0).normal(size=(200, 3)); y = X[:, 0] > 0\n"
        "mo.evaluate(LogisticRegression().fit(X, y), X, y, n_boot=20, progress=False)\n"
        "mo.drift(X[:100], X[100:], progress=False)\n"
        "assert 'mlflow' not in sys.modules and 'tensorboard' not in sys.modules, sorted(sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MODELOPS_MLFLOW"}
    subprocess.run([sys.executable, "-c", code], check=True, env={**env, "MODELOPS_HOME": str(tmp_path)})
