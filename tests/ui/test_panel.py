"""The ModelOps panel in a real JupyterLab, in Chromium: the tests run in order on one page."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request

import pytest

expect = pytest.importorskip("playwright.sync_api").expect


def api(lab, path):
    base, token, _ = lab
    req = urllib.request.Request(f"{base}/jupyter-modelops/api/{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_panel_lists_the_seeded_models_and_filters(page, shot):
    models = page.get_by_test_id("jmo-models")
    expect(models.get_by_test_id("jmo-model-churn")).to_be_visible(timeout=30_000)
    expect(models.get_by_test_id("jmo-model-fraud")).to_be_visible()
    expect(models.get_by_test_id("jmo-model-churn")).to_contain_text("v2")
    expect(models.get_by_test_id("jmo-model-churn")).to_contain_text("@staging")
    page.get_by_test_id("jmo-search").fill("fra")
    expect(models.get_by_test_id("jmo-model-churn")).to_have_count(0)
    expect(models.get_by_test_id("jmo-model-fraud")).to_be_visible()
    page.get_by_test_id("jmo-search").fill("")
    # keyboard: the model row is a button; Enter expands it
    page.get_by_test_id("jmo-model-toggle-churn").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("jmo-version-churn-2")).to_be_visible()
    expect(page.get_by_test_id("jmo-version-churn-1")).to_contain_text("accuracy")
    shot("01-models")


def test_version_view_shows_metrics_with_intervals_and_signature(page, shot):
    page.get_by_test_id("jmo-version-churn-2").click()
    expect(page.get_by_test_id("jmo-version-title")).to_have_text("churn:2")
    metrics = page.get_by_test_id("jmo-metrics")
    # value [low, high]
    expect(metrics).to_contain_text(re.compile(r"accuracy\s*0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]"))
    expect(page.get_by_test_id("jmo-signature")).to_contain_text("FP64 [-1,6]")
    expect(page.get_by_test_id("jmo-features")).to_contain_text("mean radius")
    lineage = page.get_by_test_id("jmo-lineage")
    lineage.locator("summary").click()
    expect(lineage).to_contain_text("snapshot")
    expect(lineage).to_contain_text("churn:1")  # parent: the previous version
    lineage.locator("summary").click()
    shot("02-version")
    # point an alias at this version; a bad alias gets the registry's sentence
    page.get_by_test_id("jmo-alias-input").fill("bad alias!")
    page.get_by_test_id("jmo-alias-submit").click()
    expect(page.get_by_test_id("jmo-alias-error")).to_contain_text("alias")
    page.get_by_test_id("jmo-alias-input").fill("production")
    page.get_by_test_id("jmo-alias-submit").click()
    expect(page.get_by_test_id("jmo-version-view").locator(".jp-ModelOps-sub")).to_contain_text("@production")


def test_export_runs_as_a_job_and_completes(page, lab, shot):
    page.get_by_test_id("jmo-tab-export").click()
    page.get_by_test_id("jmo-export-format").select_option("onnx")
    page.get_by_test_id("jmo-export-submit").click()
    status = page.get_by_test_id("jmo-form-export").get_by_test_id("jmo-job-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=120_000)
    expect(page.get_by_test_id("jmo-export-result")).to_contain_text("onnx")
    # the registry changed -> the panel refreshed the version's exports and badges
    expect(page.get_by_test_id("jmo-export-record")).to_have_count(1, timeout=15_000)
    expect(page.get_by_test_id("jmo-badge-exported").first).to_be_visible()
    assert [r["data"]["format"] for r in api(lab, "records?ref=churn:2&kind=export")] == ["onnx"]
    shot("03-export")
    page.locator("#jupyter-modelops-panel").evaluate("e => e.scrollTo(0, 0)")
    shot("panel", panel_only=True)


def test_build_an_image_of_the_exported_version(page, lab, shot):
    page.get_by_test_id("jmo-tab-build").click()
    page.get_by_test_id("jmo-build-base").fill("scratch")  # offline: no base image to download
    page.get_by_test_id("jmo-build-submit").click()
    status = page.get_by_test_id("jmo-form-build").get_by_test_id("jmo-job-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=180_000)
    expect(page.get_by_test_id("jmo-build-result")).to_contain_text("sha256:")
    expect(page.get_by_test_id("jmo-badge-built").first).to_be_visible()
    assert api(lab, "records?ref=churn:2&kind=image")
    shot("03b-build")


def test_bad_form_input_shows_one_sentence(page, shot):
    page.get_by_test_id("jmo-tab-deploy").click()
    page.get_by_test_id("jmo-deploy-replicas").fill("two")
    page.get_by_test_id("jmo-deploy-submit").click()
    expect(page.get_by_test_id("jmo-form-deploy").get_by_test_id("jmo-form-error")).to_have_text(
        "Replicas must be a whole number between 1 and 100, got 'two'."
    )
    page.get_by_test_id("jmo-deploy-replicas").fill("1")
    # a bad cron line is checked by the core and its sentence is shown as typed
    page.get_by_test_id("jmo-tab-report").click()
    page.get_by_test_id("jmo-schedule-cron").fill("61 * * * *")
    expect(page.get_by_test_id("jmo-cron-error")).to_contain_text("61 in the minute field is outside 0-59")
    expect(page.get_by_test_id("jmo-schedule-submit")).to_be_disabled()
    page.get_by_test_id("jmo-schedule-cron").fill("0 6 * * 1-5")
    expect(page.get_by_test_id("jmo-cron-preview")).to_contain_text("06:00")
    expect(page.get_by_test_id("jmo-cron-error")).to_have_count(0)
    shot("04-validation")


def test_deploy_locally_and_see_it_running_then_stop_it(page, lab, shot):
    page.get_by_test_id("jmo-tab-deploy").click()
    page.get_by_test_id("jmo-deploy-cluster").select_option("local")
    page.get_by_test_id("jmo-deploy-submit").click()
    form = page.get_by_test_id("jmo-form-deploy")
    expect(form.get_by_test_id("jmo-job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    expect(page.get_by_test_id("jmo-deploy-result")).to_contain_text("running")
    running = [d for d in api(lab, "local-deployments") if d["status"] == "running"]
    assert len(running) == 1 and running[0]["ref"] == "churn:2"
    pid = running[0]["pid"]
    try:
        deployments = page.get_by_test_id("jmo-deployments")
        expect(deployments.get_by_test_id("jmo-deployment-status")).to_have_text("running", timeout=15_000)
        shot("05-deployed")
        # the model server answers on loopback (V2 readiness)
        with urllib.request.urlopen(running[0]["url"] + "/v2/health/ready", timeout=10) as r:
            assert r.status == 200
        page.get_by_test_id(f"jmo-stop-{running[0]['name']}").click()
        expect(deployments.get_by_test_id("jmo-deployment-status")).not_to_have_text("running", timeout=30_000)
        assert not [d for d in api(lab, "local-deployments") if d["status"] == "running"]
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def test_run_a_report_see_the_trend_and_open_its_html(page, lab, shot):
    _, _, home = lab
    page.get_by_test_id("jmo-tab-report").click()
    page.get_by_test_id("jmo-report-template").select_option("monitoring")
    page.get_by_test_id("jmo-report-data").fill(str(home.parent / "latest.csv"))
    page.get_by_test_id("jmo-report-submit").click()
    status = page.get_by_test_id("jmo-form-report").get_by_test_id("jmo-job-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=300_000)
    link = page.get_by_test_id("jmo-report-link")
    expect(link).to_have_count(1, timeout=15_000)
    expect(page.get_by_test_id("jmo-sparkline").locator("circle")).to_have_count(1)
    expect(page.get_by_test_id("jmo-trend-last")).to_contain_text("(1 report)")
    expect(page.get_by_test_id("jmo-badge-monitored").first).to_be_visible()
    shot("06-report")
    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    expect(report.locator("body")).to_contain_text("Model monitoring", timeout=30_000)
    report.close()


def test_dark_theme_keeps_the_panel_readable(page, shot):
    page.get_by_text("Settings", exact=True).first.click()
    page.get_by_text("Theme", exact=True).first.hover()
    page.get_by_text("JupyterLab Dark", exact=True).first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=30_000)
    panel = page.get_by_test_id("jmo-panel")
    fg = panel.evaluate("e => getComputedStyle(e).color")
    bg = page.locator(".jp-ModelOps-panel").evaluate("e => getComputedStyle(e).backgroundColor")
    assert fg != bg
    # light text on a dark background: the theme variables reached the panel
    rgb = [int(x) for x in re.findall(r"\d+", bg)[:3]]
    assert sum(rgb) / 3 < 100, bg
    shot("07-dark")
    page.get_by_test_id("jmo-back").click()
    expect(page.get_by_test_id("jmo-model-churn")).to_be_visible()
    shot("08-dark-models")


def test_writes_with_cookie_login_need_the_xsrf_token(lab):
    """The panel authenticates like JupyterLab itself: login cookie + XSRF header on writes."""
    import http.cookiejar
    import urllib.error

    base, token, _ = lab
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{base}/lab?token={token}", timeout=30).read()  # logs in: login cookie + _xsrf cookie
    xsrf = {c.name: c.value for c in jar}.get("_xsrf")
    assert xsrf
    with opener.open(f"{base}/jupyter-modelops/api/models", timeout=10) as r:  # reads: the cookie is enough
        assert [m["name"] for m in json.loads(r.read())["models"]] == ["churn", "fraud"]
    body = json.dumps({"action": "nope", "params": {}}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(urllib.request.Request(f"{base}/jupyter-modelops/api/jobs", data=body, method="POST"), timeout=10)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as reached:  # with the XSRF header it reaches the handler
        opener.open(
            urllib.request.Request(
                f"{base}/jupyter-modelops/api/jobs", data=body, method="POST", headers={"X-XSRFToken": xsrf}
            ),
            timeout=10,
        )
    assert reached.value.code == 400
    assert "Unknown action 'nope'" in json.loads(reached.value.read())["message"]
