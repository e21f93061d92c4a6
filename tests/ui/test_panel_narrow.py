"""The panel at JupyterLab's default sidebar width (about 250 px), telling the truth about gates and deployments.

A monitoring report whose gate failed must not look like a success, and the
"deployed" badge must follow the live state of the model servers.
"""

from __future__ import annotations

import os
import re

import pytest

from .conftest import ARTIFACTS

expect = pytest.importorskip("playwright.sync_api").expect

FAIL_RGB, PASS_RGB = "rgb(207, 34, 46)", "rgb(26, 127, 55)"  # _html.FAIL and _html.PASS


@pytest.fixture(scope="module")
def failed_report(lab):
    """A real monitoring report on fraud@production whose key-metric gate cannot pass."""
    _, _, home = lab
    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(home)
    try:
        import jupyter_modelops as mo

        run = mo.report(
            "fraud@production",
            data=str(home.parent / "latest.csv"),
            params={"label_column": "target", "min_score": 0.9999, "n_boot": 50, "robustness_rows": 200},
        )
    finally:
        if old is None:
            os.environ.pop("MODELOPS_HOME", None)
        else:
            os.environ["MODELOPS_HOME"] = old
    assert run.data["status"] == "succeeded" and run.data["gates_passed"] is False
    return run


@pytest.fixture(scope="module")
def narrow(lab, browser, failed_report):
    """The panel open at JupyterLab's default sidebar width (no resizing)."""
    base, token, _ = lab
    expect.set_options(timeout=20_000)
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = ctx.new_page()
    pg.goto(f"{base}/lab?reset&token={token}")
    tab = pg.locator('.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelops-panel"]')
    expect(tab).to_be_visible(timeout=90_000)
    tab.click()
    expect(pg.get_by_test_id("jmo-panel")).to_be_visible()
    yield pg
    ctx.close()


def _overflow(page) -> list[str]:
    """Elements of the panel that stick out of it (right edge beyond the panel's), and the panel's own overflow."""
    return page.locator("#jupyter-modelops-panel").evaluate(
        """panel => {
          const edge = panel.getBoundingClientRect().right + 0.5;
          const out = [];
          if (panel.scrollWidth > panel.clientWidth + 1) out.push(`panel scrolls: ${panel.scrollWidth} > ${panel.clientWidth}`);
          for (const e of panel.querySelectorAll('*')) {
            const r = e.getBoundingClientRect();
            if (r.width > 0 && r.right > edge) out.push(`${e.tagName}.${e.className} ${Math.round(r.right)} > ${Math.round(edge)}: ${(e.textContent || '').slice(0, 40)}`);
          }
          return out;
        }"""
    )


def test_panel_fits_the_default_sidebar_width(narrow):
    page = narrow
    width = page.locator("#jupyter-modelops-panel").evaluate("e => e.getBoundingClientRect().width")
    assert 200 <= width <= 300, f"the sidebar is {width} px wide, not JupyterLab's default"
    expect(page.get_by_test_id("jmo-model-churn")).to_be_visible(timeout=30_000)
    page.get_by_test_id("jmo-model-toggle-churn").click()
    expect(page.get_by_test_id("jmo-version-churn-2")).to_be_visible()
    assert _overflow(page) == []
    page.locator("#jupyter-modelops-panel").screenshot(path=str(ARTIFACTS / "narrow-models.png"))
    page.get_by_test_id("jmo-version-churn-2").click()
    metrics = page.get_by_test_id("jmo-metrics")
    expect(metrics).to_contain_text("accuracy")
    # every metric value is whole and visible: no cell clips its text, each shows value and interval
    cells = metrics.locator("td")
    assert cells.count() >= 3
    for i in range(cells.count()):
        cell = cells.nth(i)
        assert re.fullmatch(r"-?\d+(\.\d{3})?(e[-+]\d+)?( \[\S+, \S+\])?", cell.inner_text().replace("\n", " ").strip())
        assert cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), cell.inner_text()
    for tab in ("export", "build", "deploy", "rollout", "report"):
        page.get_by_test_id(f"jmo-tab-{tab}").click()
        assert _overflow(page) == [], tab
    page.locator("#jupyter-modelops-panel").evaluate("e => e.scrollTo(0, 0)")
    page.locator("#jupyter-modelops-panel").screenshot(path=str(ARTIFACTS / "narrow-version.png"))
    page.get_by_test_id("jmo-back").click()


def test_failed_gate_shows_as_failed_with_observed_rule_and_interval(narrow):
    page = narrow
    page.get_by_test_id("jmo-model-toggle-fraud").click()
    page.get_by_test_id("jmo-version-fraud-1").click()
    verdict = page.get_by_test_id("jmo-report-verdict").last
    expect(verdict).to_contain_text("gates failed")
    assert verdict.evaluate("e => getComputedStyle(e).color") == FAIL_RGB
    failed = page.get_by_test_id("jmo-gate").and_(page.locator('[data-verdict="fail"]'))
    expect(failed.first).to_be_visible()
    text = failed.first.inner_text()
    # the rule, the observed value and its interval, numbers formatted (no 0.05555555555555555)
    assert re.search(r"(roc_auc|r2|accuracy) >= 0\.9999", text) and re.search(
        r"observed \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", text
    )
    assert failed.first.locator("[data-verdict]").first.evaluate("e => getComputedStyle(e).color") == FAIL_RGB
    assert not re.search(r"\d\.\d{5,}", page.get_by_test_id("jmo-monitoring").inner_text())
    passed = page.get_by_test_id("jmo-gate").and_(page.locator('[data-verdict="pass"]'))
    if passed.count():
        assert passed.first.locator("[data-verdict]").first.evaluate("e => getComputedStyle(e).color") == PASS_RGB
    assert _overflow(page) == []
    page.get_by_test_id("jmo-monitoring").scroll_into_view_if_needed()
    page.locator("#jupyter-modelops-panel").screenshot(path=str(ARTIFACTS / "narrow-gates.png"))


def test_report_job_with_a_failed_gate_is_not_green(narrow, lab):
    _, _, home = lab
    page = narrow
    page.get_by_test_id("jmo-tab-report").click()
    page.get_by_test_id("jmo-report-data").fill(str(home.parent / "latest.csv"))
    # the form passes no gate parameters: whatever the default gates decide, the job's words and colour follow it
    page.get_by_test_id("jmo-report-submit").click()
    status = page.get_by_test_id("jmo-form-report").get_by_test_id("jmo-job-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=300_000)
    verdict = status.get_attribute("data-verdict")
    gates = page.get_by_test_id("jmo-job-gates").get_by_test_id("jmo-gate")
    failed = gates.and_(page.locator('[data-verdict="fail"]')).count()
    assert verdict == ("fail" if failed else "pass")
    assert status.evaluate("e => getComputedStyle(e).color") == (FAIL_RGB if failed else PASS_RGB)
    if failed:
        expect(status).to_contain_text("gates failed")


def test_deployed_badge_follows_the_live_server(narrow, lab):
    _, _, home = lab
    page = narrow
    page.get_by_test_id("jmo-back").click()
    row = page.get_by_test_id("jmo-model-fraud")
    expect(row.get_by_test_id("jmo-badge-deployed")).to_have_count(0)
    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(home)
    try:
        import jupyter_modelops as mo
        from jupyter_modelops.serving import local

        dep = mo.serve("fraud@production")
        try:
            expect(row.get_by_test_id("jmo-badge-deployed")).to_be_visible(timeout=30_000)
        finally:
            local.stop(dep.name)
        # no registry change when a server stops: the panel re-reads the live state on its own
        expect(row.get_by_test_id("jmo-badge-deployed")).to_have_count(0, timeout=30_000)
    finally:
        if old is None:
            os.environ.pop("MODELOPS_HOME", None)
        else:
            os.environ["MODELOPS_HOME"] = old
