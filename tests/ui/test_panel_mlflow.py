"""The panel's "Log to MLflow" action, in a real JupyterLab driven in Chromium, against a real MLflow tracking
server on 127.0.0.1 (the one the integration tests start, see tests/integrations/conftest.py).

A bad registered-model name is refused in one sentence shown under the form; a good push shows the run id
and the registered model version, and the tracking server, queried with the mlflow client, has that run
with the version's metrics and intervals.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from integrations.conftest import mlflow_server  # noqa: F401  (a session fixture: a real tracking server)

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.slow


def api(lab, path):
    base, token, _ = lab
    req = urllib.request.Request(f"{base}/jupyter-modelops/api/{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def open_version(page, name, version):
    if page.get_by_test_id("jmo-back").is_visible():
        page.get_by_test_id("jmo-back").click()
    expect(page.get_by_test_id(f"jmo-model-{name}")).to_be_visible(timeout=30_000)
    if not page.get_by_test_id(f"jmo-version-{name}-{version}").is_visible():
        page.get_by_test_id(f"jmo-model-toggle-{name}").click()
    page.get_by_test_id(f"jmo-version-{name}-{version}").click()
    expect(page.get_by_test_id("jmo-version-title")).to_have_text(f"{name}:{version}")


def test_a_bad_registered_model_name_is_refused_in_one_sentence(page, lab, mlflow_server):  # noqa: F811
    open_version(page, "churn", "1")
    page.get_by_test_id("jmo-tab-mlflow").click()
    form = page.get_by_test_id("jmo-form-mlflow")
    page.get_by_test_id("jmo-mlflow-uri").fill(mlflow_server)
    page.get_by_test_id("jmo-mlflow-registered").fill("churn/../../etc")
    page.get_by_test_id("jmo-mlflow-submit").click()
    expect(form.get_by_test_id("jmo-job-status")).to_have_attribute("data-status", "failed", timeout=120_000)
    expect(form.get_by_test_id("jmo-job-error")).to_contain_text("The argument 'registered_model' must be a name")
    expect(form.get_by_test_id("jmo-mlflow-result")).to_have_count(0)
    page.get_by_test_id("jmo-mlflow-registered").fill("")


def test_log_to_mlflow_shows_the_run_and_the_server_has_the_versions_metrics(page, lab, mlflow_server, shot):  # noqa: F811
    from mlflow.tracking import MlflowClient

    experiment = f"panel-{uuid.uuid4().hex[:8]}"
    open_version(page, "churn", "1")
    page.get_by_test_id("jmo-tab-mlflow").click()
    form = page.get_by_test_id("jmo-form-mlflow")
    page.get_by_test_id("jmo-mlflow-uri").fill(mlflow_server)
    page.get_by_test_id("jmo-mlflow-experiment").fill(experiment)
    page.get_by_test_id("jmo-mlflow-submit").click()
    expect(form.get_by_test_id("jmo-job-status")).to_have_attribute("data-status", "succeeded", timeout=300_000)
    result = form.get_by_test_id("jmo-mlflow-result")
    expect(result).to_contain_text("run_id")
    expect(result).to_contain_text("model_version")
    result.scroll_into_view_if_needed()
    shot("14-mlflow", panel_only=True)
    shown = {
        row.locator("th").inner_text().strip(): row.locator("td").inner_text().strip()
        for row in result.locator("tr").all()
    }

    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    assert [r.info.run_id for r in runs] == [shown["run_id"]]  # the run the panel shows is the one logged
    run = client.get_run(shown["run_id"])
    assert run.data.tags["modelops.ref"] == "churn:1"
    metrics = api(lab, "models/churn/1")["metrics"]
    checked = 0
    for name, m in metrics.items():
        if isinstance(m, dict) and isinstance(m.get("value"), (int, float)):
            assert run.data.metrics[name] == pytest.approx(m["value"]), name
            if isinstance(m.get("low"), (int, float)):
                assert run.data.metrics[f"{name}_low"] == pytest.approx(m["low"]), name
                assert run.data.metrics[f"{name}_high"] == pytest.approx(m["high"]), name
            checked += 1
    assert checked >= 2, metrics  # the seeded version was evaluated: accuracy, roc_auc, ...
    registered = shown["registered_model"]
    mv = client.get_model_version(registered, shown["model_version"])
    assert mv.run_id == shown["run_id"]
    assert registered == "churn"  # by default, the model's name
