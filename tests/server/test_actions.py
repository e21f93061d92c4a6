"""Registry endpoints and background jobs against a seeded registry, through a real jupyter_server."""

from __future__ import annotations

import json
import os
import signal

import pytest


@pytest.fixture
def seeded(modelops_home):
    """Two versions of 'churn' (evaluated, so with metric intervals) and one of 'fraud'."""
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as mo
    from jupyter_modelops import registry

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m1 = LogisticRegression(max_iter=50).fit(X, y)
        m2 = LogisticRegression(max_iter=300, C=0.5).fit(X, y)
    registry.snapshot(m1, "churn", report=mo.evaluate(m1, X, y), data=X)
    registry.snapshot(m2, "churn", report=mo.evaluate(m2, X, y), data=X, alias="staging")
    registry.snapshot(m1, "fraud", data=X)
    return X


async def test_models_versions_and_one_version(api, jp_fetch, seeded):
    models = (await api.get("models"))["models"]
    assert [m["name"] for m in models] == ["churn", "fraud"]
    assert models[0]["latest"] == 2 and models[0]["aliases"] == {"staging": 2}

    versions = (await api.get("models", "churn"))["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert "accuracy" in versions[0]["metrics"]

    v = await api.get("models", "churn", "2")
    assert v["ref"] == "churn:2" and v["aliases"] == ["staging"]
    acc = v["metrics"]["accuracy"]
    assert acc["low"] <= acc["value"] <= acc["high"]
    assert [i["name"] for i in v["signature"]["inputs"]] or v["signature"]["feature_names"]


async def test_revision_changes_when_the_registry_changes(api, jp_fetch, seeded):
    before = (await api.get("revision"))["revision"]
    assert (await api.get("revision"))["revision"] == before
    code, v = await api.send("PUT", "aliases", "churn", "production", body={"version": 1})
    assert code == 200 and v["ref"] == "churn:1" and "production" in v["aliases"]
    assert (await api.get("revision"))["revision"] != before


async def test_alias_needs_a_version_and_a_known_model(api, jp_fetch, seeded):
    code, err = await api.error_of(api.send("PUT", "aliases", "churn", "prod", body={}))
    assert code == 400 and "'version'" in err["message"]
    code, err = await api.error_of(api.send("PUT", "aliases", "chrun", "prod", body={"version": 1}))
    assert code == 404 and "chrun" in err["message"]


async def test_diff_between_two_versions(api, jp_fetch, seeded):
    d = await api.get("diff", a="churn:1", b="churn:2")
    assert json.dumps(d)  # serializable
    assert "accuracy" in json.dumps(d)


async def test_export_job_runs_in_the_background_and_records(api, jp_fetch, seeded):
    code, job = await api.send(
        "POST", "jobs", body={"action": "export", "params": {"model_or_ref": "churn:2", "format": "onnx"}}
    )
    assert code == 202 and job["status"] in ("queued", "running", "succeeded")
    done = await api.wait_job(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    assert done["result"]["format"] == "onnx" and done["result"]["passed"] is True
    assert done["progress"] == 1.0 and done["logs"][0].startswith("info: export started")
    records = await api.get("records", ref="churn:2", kind="export")
    assert len(records) == 1 and records[0]["data"]["format"] == "onnx"
    listed = await api.get("jobs")
    assert listed[0]["id"] == job["id"]


async def test_failed_job_carries_the_core_sentence(api, jp_fetch, seeded):
    code, job = await api.send("POST", "actions", "export", body={"model_or_ref": "churn:9"})
    assert code == 202
    done = await api.wait_job(job["id"])
    assert done["status"] == "failed"
    assert done["error"]["error"] == "ModelNotFoundError" and done["error"]["status"] == 404
    assert "churn:9" in done["error"]["message"] or "9" in done["error"]["message"]


async def test_unknown_parameter_is_refused_before_queueing(api, jp_fetch, seeded):
    code, err = await api.error_of(
        api.send("POST", "jobs", body={"action": "export", "params": {"model_or_ref": "churn:1", "fromat": "onnx"}})
    )
    assert code == 400 and "'fromat'" in err["message"] and "Did you mean: format" in err["message"]
    assert await api.get("jobs") == []


async def test_deploy_local_then_stop(api, jp_fetch, seeded):
    code, job = await api.send(
        "POST", "jobs", body={"action": "deploy", "params": {"ref": "churn:2", "target": "local"}}
    )
    assert code == 202
    done = await api.wait_job(job["id"], timeout=120)
    pid = (done.get("result") or {}).get("pid")
    try:
        assert done["status"] == "succeeded", done
        assert done["result"]["status"] == "running" and done["result"]["url"].startswith("http://127.0.0.1:")
        local = await api.get("local-deployments")
        assert any(d["name"] == done["result"]["name"] and d["status"] == "running" for d in local)
        code, stop = await api.send(
            "POST", "jobs", body={"action": "stop", "params": {"deployment": done["result"]["name"]}}
        )
        stopped = await api.wait_job(stop["id"])
        assert stopped["status"] == "succeeded", stopped
        local = await api.get("local-deployments")
        assert not any(d["name"] == done["result"]["name"] and d["status"] == "running" for d in local)
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


async def test_report_html_is_only_served_from_modelops_home(api, jp_fetch, modelops_home, tmp_path):
    page = modelops_home / "reports" / "r1" / "report.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html><body><h1>drift ok</h1></body></html>")
    r = await jp_fetch("jupyter-modelops", "api", "report-html", params={"path": str(page)})
    assert r.code == 200 and b"drift ok" in r.body and r.headers["Content-Type"].startswith("text/html")
    outside = tmp_path / "secret.html"
    outside.write_text("nope")
    code, err = await api.error_of(jp_fetch("jupyter-modelops", "api", "report-html", params={"path": str(outside)}))
    assert code == 400 and "not a report HTML file" in err["message"]


async def test_deploy_form_sources_profiles_and_clusters(api, jp_fetch):
    profiles = (await api.get("profiles"))["profiles"]
    assert "cpu-small" in [p["name"] for p in profiles]
    clusters = await api.get("clusters")
    assert isinstance(clusters["clusters"], list)


async def test_deployment_status_errors_keep_the_core_sentence(api, jp_fetch, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    code, err = await api.error_of(api.get("deployments", "churn"))
    assert code == 502 and err["error"] == "DeployError"
    assert "cluster" in err["message"] and "\n" not in err["message"]


async def test_reports_schedules_and_history_listings(api, jp_fetch, seeded):
    history = await api.get("reports", name="churn")
    assert history["name"] == "churn" and history["runs"] == []
    code, err = await api.error_of(api.get("reports"))
    assert code == 400 and "'name'" in err["message"]
    schedules = await api.get("schedules")
    assert json.dumps(schedules)


async def test_trust_job_records_who_trusted_an_imported_version(api, jp_fetch, seeded, tmp_path):
    from jupyter_modelops.registry import export_bundle, import_bundle

    export_bundle(["churn:1"], tmp_path / "c.mobundle")
    assert import_bundle(tmp_path / "c.mobundle", name="copied").refs == ["copied:1"]
    before = (await api.get("models", "copied", "1"))["trusted"]
    assert before["trusted"] is False and before["by"] is None
    code, job = await api.send("POST", "actions", "trust", body={"ref": "copied:1", "by": "alice"})
    assert code == 202
    done = await api.wait_job(job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["trusted"]["trusted"] is True and done["result"]["trusted"]["by"] == "alice"
    after = (await api.get("models", "copied", "1"))["trusted"]
    assert after["trusted"] is True and after["by"] == "alice" and after["at"] and after["how"]
    code, job = await api.send("POST", "actions", "trust", body={"ref": "copied:1", "by": "bad\nname"})
    failed = await api.wait_job(job["id"])
    assert failed["status"] == "failed" and failed["error"]["status"] == 400 and "'by'" in failed["error"]["message"]


async def test_local_deployment_status_and_undeploy_through_the_deployment_api(api, jp_fetch, seeded):
    code, job = await api.send(
        "POST", "jobs", body={"action": "deploy", "params": {"ref": "churn:1", "cluster": "local"}}
    )
    done = await api.wait_job(job["id"], timeout=120)
    pid = (done.get("result") or {}).get("pid")
    try:
        assert done["status"] == "succeeded", done
        name = done["result"]["name"]
        st = await api.get("deployments", name, cluster="local")
        assert st["name"] == name and st["ref"] == "churn:1" and st["rollout"] == "done", st
        code, job = await api.send("POST", "actions", "undeploy", body={"name": name, "cluster": "local"})
        gone = await api.wait_job(job["id"], timeout=60)
        assert gone["status"] == "succeeded" and gone["result"]["state"] == "removed", gone
        local = await api.get("local-deployments")
        assert not any(d["name"] == name and d["status"] == "running" for d in local)
        code, err = await api.error_of(api.get("deployments", name, cluster="local"))
        assert code == 404 and name in err["message"]
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
