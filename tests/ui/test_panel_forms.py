"""The panel's forms do what the magics do, and its monitoring view, in a real JupyterLab driven in Chromium.

The tests run in order on one page: a dry-run deploy preview with no kubeconfig at all, a report with a
label column and a gate, a schedule in the real crontab listed and removed, and the monitoring view of a
local model server that captured real V2 requests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request

import numpy as np
import pytest

from realparts import need_tool

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(scope="module", autouse=True)
def no_kubeconfig(tmp_path_factory):
    """JupyterLab starts with a KUBECONFIG that does not exist: no cluster is configured."""
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(tmp_path_factory.mktemp("nokube") / "absent-kubeconfig")
    yield
    if old is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = old


def api(lab, path, body=None):
    base, token, _ = lab
    req = urllib.request.Request(
        f"{base}/jupyter-modelops/api/{path}",
        headers={"Authorization": f"token {token}"},
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def run_job(lab, action, params, timeout=120):
    import time

    job = api(lab, "jobs", {"action": action, "params": params})
    end = time.monotonic() + timeout
    while job["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < end, f"{action} did not finish: {job}"
        time.sleep(0.3)
        job = api(lab, f"jobs/{job['id']}")
    assert job["status"] == "succeeded", job["error"]
    return job["result"]


def open_version(page, name, version):
    expect(page.get_by_test_id(f"jmo-model-{name}")).to_be_visible(timeout=30_000)
    if not page.get_by_test_id(f"jmo-version-{name}-{version}").is_visible():
        page.get_by_test_id(f"jmo-model-toggle-{name}").click()
    page.get_by_test_id(f"jmo-version-{name}-{version}").click()
    expect(page.get_by_test_id("jmo-version-title")).to_have_text(f"{name}:{version}")


def _snapshot_zebra(home):
    """A third model, snapshotted now: last by name, first by update time, one version."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from jupyter_modelops import registry

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(home)
    try:
        registry.snapshot(LogisticRegression(max_iter=50).fit(X.iloc[:, :3], y), "zebra", data=X.iloc[:, :3])
    finally:
        if old is None:
            os.environ.pop("MODELOPS_HOME", None)
        else:
            os.environ["MODELOPS_HOME"] = old


def test_models_sort_and_search(page, lab):
    models = page.get_by_test_id("jmo-models")
    expect(models.get_by_test_id("jmo-model-fraud")).to_be_visible(timeout=30_000)
    _snapshot_zebra(lab[2])
    rows = models.locator(":scope > li")
    expect(rows).to_have_count(3, timeout=30_000)  # the panel follows the registry
    updated = {m["name"]: m["updated"] for m in api(lab, "models")["models"]}
    assert updated["zebra"] > max(updated["churn"], updated["fraud"])
    expect(rows.nth(2)).to_have_attribute("data-testid", "jmo-model-zebra")  # by name
    page.get_by_test_id("jmo-sort").select_option("updated")
    expect(rows.first).to_have_attribute("data-testid", "jmo-model-zebra")
    page.get_by_test_id("jmo-sort").select_option("versions")  # churn has two versions, the others one
    expect(rows.first).to_have_attribute("data-testid", "jmo-model-churn")
    expect(rows.nth(1)).to_have_attribute("data-testid", "jmo-model-fraud")  # ties by name
    page.get_by_test_id("jmo-search").fill("production")  # an alias finds its model
    expect(rows).to_have_count(1)
    expect(models.get_by_test_id("jmo-model-fraud")).to_be_visible()
    page.get_by_test_id("jmo-search").fill("")
    page.get_by_test_id("jmo-sort").select_option("name")


def test_compare_two_versions_side_by_side(page, lab, shot):
    open_version(page, "churn", "2")
    section = page.get_by_test_id("jmo-compare-section")
    section.locator("summary").click()
    expect(page.get_by_test_id("jmo-compare-with")).to_have_value("1")
    table = page.get_by_test_id("jmo-compare-table")
    expect(table.locator("thead")).to_contain_text("v1")
    expect(table.locator("thead")).to_contain_text("v2")
    diff = api(lab, "diff?a=churn:1&b=churn:2")
    acc = next(m for m in diff["metrics"] if m["metric"] == "accuracy")
    row = page.get_by_test_id("jmo-compare-metric-accuracy")
    expect(row.locator("td").first).to_contain_text(f"{acc['a']['value']:.3f} [{acc['a']['low']:.3f}, ")
    expect(row.locator("td").nth(1)).to_contain_text(f"{acc['b']['value']:.3f} [{acc['b']['low']:.3f}, ")
    expect(page.get_by_test_id("jmo-compare-signature")).to_contain_text("FP64 [-1,6]")
    expect(page.get_by_test_id("jmo-compare-lineage")).to_contain_text("churn:1")  # v2's parent
    expect(page.get_by_test_id("jmo-compare-diff")).to_contain_text(
        "same training data" if diff["same_data"] else "different training data"
    )
    expect(page.get_by_test_id("jmo-compare-diff")).to_contain_text("different model file")
    shot("09-compare", panel_only=True)
    section.locator("summary").click()


def test_deploy_preview_renders_yaml_without_a_kubeconfig(page, lab, shot):
    clusters = api(lab, "clusters")
    assert not (clusters.get("clusters") if isinstance(clusters, dict) else clusters)  # no kubeconfig
    page.get_by_test_id("jmo-tab-deploy").click()
    form = page.get_by_test_id("jmo-form-deploy")
    # replicas default to the profile's, as in the notebook's deploy form: the field starts empty
    expect(page.get_by_test_id("jmo-deploy-replicas")).to_have_value("")
    profiles = api(lab, "profiles")
    profiles = profiles.get("profiles") if isinstance(profiles, dict) else profiles
    # the profile the deploy verb declares as its default (as the notebook's form and the command line)
    default = next(p["default"] for p in api(lab, "verbs/deploy")["params"] if p["name"] == "profile")
    first = next(p for p in profiles if p["name"] == default)
    expect(page.get_by_test_id("jmo-deploy-profile")).to_have_value(first["name"])
    expect(page.get_by_test_id("jmo-deploy-replicas")).to_have_attribute(
        "placeholder", f"profile's ({first['replicas']})"
    )
    # no image recorded and none given: the core's sentence says what to do
    page.get_by_test_id("jmo-deploy-preview").click()
    expect(form.get_by_test_id("jmo-job-status")).to_have_attribute("data-status", "failed", timeout=120_000)
    expect(form.get_by_test_id("jmo-job-error")).to_contain_text("Export it first")
    image = "registry.example/churn@sha256:" + "ab" * 32
    page.get_by_test_id("jmo-deploy-image").fill(image)
    page.get_by_test_id("jmo-deploy-preview").click()
    expect(form.get_by_test_id("jmo-job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    yaml = page.get_by_test_id("jmo-deploy-yaml")
    expect(yaml).to_contain_text("kind: Deployment")
    expect(yaml).to_contain_text(f"replicas: {first['replicas']}")
    expect(yaml).to_contain_text(f"image: {image}")
    # an explicit replica count reaches the manifests
    page.get_by_test_id("jmo-deploy-replicas").fill("3")
    page.get_by_test_id("jmo-deploy-preview").click()
    expect(page.get_by_test_id("jmo-deploy-yaml")).to_contain_text("replicas: 3", timeout=120_000)
    shot("10-deploy-preview")
    assert not api(lab, "local-deployments")  # a preview starts nothing


def test_report_form_passes_the_label_column_and_a_gate(page, lab, shot):
    _, _, home = lab
    page.get_by_test_id("jmo-tab-report").click()
    page.get_by_test_id("jmo-report-template").select_option("monitoring")
    gates = page.get_by_test_id("jmo-report-gates")
    expect(gates.get_by_test_id("jmo-report-param-min_score")).to_have_attribute("placeholder", "0.0")
    expect(gates.get_by_test_id("jmo-report-param-max_drift_share")).to_be_visible()
    # a gate that is not a number is refused in one sentence before any job starts
    page.get_by_test_id("jmo-report-param-min_score").fill("high")
    page.get_by_test_id("jmo-report-submit").click()
    expect(page.get_by_test_id("jmo-report-param-error")).to_have_text("min_score must be a number, got 'high'.")
    assert not [j for j in api(lab, "jobs") if j["action"] == "report"]
    page.get_by_test_id("jmo-report-data").fill(str(home.parent / "latest.csv"))
    page.get_by_test_id("jmo-report-param-label_column").fill("target")
    page.get_by_test_id("jmo-report-param-min_score").fill("1.0")  # no interval's lower bound reaches 1: fails
    page.get_by_test_id("jmo-report-submit").click()
    status = page.get_by_test_id("jmo-form-report").get_by_test_id("jmo-job-status").first
    expect(status).to_have_attribute("data-status", "succeeded", timeout=300_000)
    expect(status).to_have_attribute("data-verdict", "fail")
    shot("11-report-gates")
    runs = api(lab, "reports?name=churn")
    runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
    params = runs[-1]["params"]
    assert params["label_column"] == "target" and params["min_score"] == 1.0


def _drop_crontab_lines(exe, marker):
    """Remove exactly the crontab lines that contain ``marker`` (this test's MODELOPS_HOME); keep every other."""
    listed = subprocess.run([exe, "-l"], capture_output=True, text=True)
    if listed.returncode != 0 or marker not in listed.stdout:
        return
    kept = "".join(line for line in listed.stdout.splitlines(keepends=True) if marker not in line)
    subprocess.run([exe, "-"], input=kept, text=True, check=True)


def test_schedules_are_listed_and_removed(page, lab, shot):
    exe = need_tool("crontab", "local report schedules are crontab lines")
    home = str(lab[2])
    try:
        page.get_by_test_id("jmo-report-param-min_score").fill("")
        page.get_by_test_id("jmo-schedule-cron").fill("0 6 * * 1-5")
        expect(page.get_by_test_id("jmo-cron-preview")).to_contain_text("06:00")
        page.get_by_test_id("jmo-schedule-submit").click()
        rows = page.get_by_test_id("jmo-schedules").locator("li")
        expect(rows).to_have_count(1, timeout=60_000)
        items = api(lab, "schedules")["schedules"]
        assert len(items) == 1 and items[0]["ref"] == "churn:2"
        sid = items[0]["id"]
        line = [x for x in subprocess.run([exe, "-l"], capture_output=True, text=True).stdout.splitlines() if sid in x]
        assert len(line) == 1 and "label_column target" in line[0]  # the form's template parameter reached it
        row = page.get_by_test_id(f"jmo-schedule-{sid}")
        expect(row).to_contain_text("churn:2")
        shot("12-schedules")
        page.get_by_test_id(f"jmo-unschedule-{sid}").click()
        expect(row).to_have_count(0, timeout=30_000)
        assert api(lab, "schedules")["schedules"] == []
        assert sid not in subprocess.run([exe, "-l"], capture_output=True, text=True).stdout
    finally:  # never leave a line behind, whatever failed
        _drop_crontab_lines(exe, home)


def _label_the_captures(home, ids):
    """Log a label for each captured row (5 rows per request), as a labelling job would; returns the score column."""
    import jupyter_modelops as mo
    from jupyter_modelops.monitoring.timeline import PROBABILITY_OUTPUTS

    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(home)
    try:
        mo.log_labels(
            "churn:2",
            [i for i in ids for _ in range(5)],
            [k % 2 for k in range(5 * len(ids))],
            rows=[k for _ in ids for k in range(5)],
        )
        columns = set(mo.captures("churn:2", since="2h").columns)
    finally:
        if old is None:
            os.environ.pop("MODELOPS_HOME", None)
        else:
            os.environ["MODELOPS_HOME"] = old
    found = [c for c in PROBABILITY_OUTPUTS if c in columns]
    assert found, columns
    return found[0]


def test_monitoring_view_shows_what_a_live_server_captured(page, lab, shot):
    import tritonclient.http as httpclient

    dep = run_job(lab, "deploy", {"ref": "churn:2", "target": "local", "capture": "true"})
    dep = dep.get("deployments", [dep])[0] if isinstance(dep, dict) else dep
    assert dep["status"] == "running", dep
    pid = dep.get("pid")
    try:
        client = httpclient.InferenceServerClient(dep["url"].split("://", 1)[1])
        rng = np.random.default_rng(0)
        ids = []
        for i in range(6):
            inp = httpclient.InferInput("input", [5, 6], "FP64")
            inp.set_data_from_numpy(rng.normal(10.0, 2.0, size=(5, 6)))
            ids.append(client.infer("churn", [inp], request_id=f"ui-{i}").get_response()["id"])
        client.close()
    finally:
        run_job(lab, "stop", {"deployment": dep["name"]})  # a clean stop writes the last captured rows
        if pid:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
    score_column = _label_the_captures(lab[2], ids)
    page.get_by_test_id("jmo-back").click()
    open_version(page, "churn", "2")
    page.get_by_test_id(f"jmo-watch-{dep['name']}").click()
    view = page.get_by_test_id(f"jmo-monitor-{dep['name']}")
    # the fields are the monitor verb's declaration: its defaults as placeholders, its types checked
    declared = {p["name"]: p for p in api(lab, "verbs/monitor")["params"]}
    expect(page.get_by_test_id("jmo-monitor-since")).to_have_attribute("placeholder", declared["since"]["default"])
    expect(page.get_by_test_id("jmo-monitor-every")).to_have_attribute("placeholder", declared["every"]["default"])
    view.get_by_test_id("jmo-monitor-more").locator("summary").click()
    page.get_by_test_id("jmo-monitor-alpha").fill("lots")
    page.get_by_test_id("jmo-monitor-submit").click()
    expect(view.get_by_test_id("jmo-monitor-field-error")).to_have_text("alpha must be a number, got 'lots'.")
    page.get_by_test_id("jmo-monitor-alpha").fill("")
    view.get_by_test_id("jmo-monitor-more").locator("summary").click()
    page.get_by_test_id("jmo-monitor-since").fill("2h")
    page.get_by_test_id("jmo-monitor-every").fill("30m")
    page.get_by_test_id("jmo-monitor-score_column").fill(score_column)
    page.get_by_test_id("jmo-monitor-submit").click()
    expect(view.get_by_test_id("jmo-job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    # labels arrived for every row: realized accuracy with its interval as a band
    realized = view.get_by_test_id("jmo-chart-realized-accuracy")
    expect(realized.get_by_test_id("jmo-chart-band")).to_have_count(1)
    expect(realized.get_by_test_id("jmo-chart-last")).to_have_text(re.compile(r"^[01](\.\d+)?$"))
    expect(view.get_by_test_id("jmo-monitor-rows")).to_contain_text("30 captured rows")
    # the requests were far from the training data (random values around 10 for features such as mean
    # area): the drift alarm fires, and its window is shaded on the statistic's chart
    expect(view.get_by_test_id("jmo-monitor-alarm")).to_have_attribute("data-alarm", "on")
    expect(view.get_by_test_id("jmo-monitor-alarm")).to_contain_text("Drift alarm since")
    expect(view.get_by_test_id("jmo-chart-alarm").get_by_test_id("jmo-chart-alarm-window")).not_to_have_count(0)
    requests = view.get_by_test_id("jmo-chart-requests")
    expect(requests.locator("path.jp-ModelOps-chart-line")).to_have_count(1)
    expect(view.get_by_test_id("jmo-chart-p99").get_by_test_id("jmo-chart-last")).not_to_have_text("–")
    expect(view.get_by_test_id("jmo-chart-errors").get_by_test_id("jmo-chart-last")).to_have_text("0")
    expect(view.locator('[data-testid^="jmo-chart-drift-"]')).not_to_have_count(0)
    view.scroll_into_view_if_needed()
    shot("13-monitoring")
    shot("13-monitoring-panel", panel_only=True)


def test_monitoring_and_compare_fit_the_default_sidebar_width(lab, browser):
    """At JupyterLab's default sidebar width (no resizing) the new views wrap; nothing sticks out."""
    from .conftest import ARTIFACTS
    from .test_panel_narrow import _overflow

    base, token, _ = lab
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = ctx.new_page()
    try:
        pg.goto(f"{base}/lab?reset&token={token}")
        tab = pg.locator('.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelops-panel"]')
        expect(tab).to_be_visible(timeout=90_000)
        tab.click()
        open_version(pg, "churn", "2")
        pg.get_by_test_id("jmo-compare-section").locator("summary").click()
        expect(pg.get_by_test_id("jmo-compare-table")).to_be_visible()
        assert _overflow(pg) == []
        pg.get_by_test_id("jmo-compare-section").scroll_into_view_if_needed()
        pg.locator("#jupyter-modelops-panel").screenshot(path=str(ARTIFACTS / "narrow-compare.png"))
        pg.get_by_test_id("jmo-compare-section").locator("summary").click()
        pg.get_by_test_id("jmo-tab-report").click()
        expect(pg.get_by_test_id("jmo-report-gates")).to_be_visible()
        assert _overflow(pg) == []
        name = api(lab, "local-deployments")[0]["name"]
        pg.get_by_test_id(f"jmo-watch-{name}").click()
        view = pg.get_by_test_id(f"jmo-monitor-{name}")
        pg.get_by_test_id("jmo-monitor-since").fill("2h")
        pg.get_by_test_id("jmo-monitor-every").fill("30m")
        pg.get_by_test_id("jmo-monitor-submit").click()
        expect(view.get_by_test_id("jmo-monitor-rows")).to_contain_text("30 captured rows", timeout=120_000)
        assert _overflow(pg) == []
        view.scroll_into_view_if_needed()
        pg.locator("#jupyter-modelops-panel").screenshot(path=str(ARTIFACTS / "narrow-monitoring.png"))
    finally:
        ctx.close()
