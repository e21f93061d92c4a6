"""The shipped example notebooks opened *untrusted* in a real JupyterLab (Chromium): reports still render.

JupyterLab sanitizes the HTML output of a notebook it has not trusted: it
strips ``<style>`` and ``<svg>``, and it does not render widgets. The lab
here starts with an empty trust database, so every notebook opens as a
cloned or shared one does. The charts must be images with a real size, no
chart label may leak as running text, and a widget left in a saved notebook
must show its report, not ``VBox(children=...)``.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.request

import pytest

from .conftest import REPO

expect = pytest.importorskip("playwright.sync_api").expect

# notebook -> the least number of chart images its stored outputs hold
NOTEBOOKS = {"01-evaluate.ipynb": 8, "02-robustness-and-drift.ipynb": 4}
# what an inline SVG's labels become once the sanitizer drops the <svg> around them
GARBLED = re.compile(r"0\.20\.40\.60\.8|false positive ratetrue positive rate|00\.51|VBox\(children")


@pytest.fixture(scope="module")
def notebooks(lab):
    base, token, home = lab
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / name, home.parent / name)
    return base, token


def _opened(page, base, token, name):
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")
    expect(outputs.first).to_be_visible(timeout=90_000)
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_untrusted_notebook_shows_charts_as_images(notebooks, browser, name):
    base, token = notebooks
    # the server says so: no cell of the copied notebook is trusted
    req = urllib.request.Request(f"{base}/api/contents/{name}?content=1", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        cells = json.loads(r.read())["content"]["cells"]
    assert not any(c["metadata"].get("trusted") for c in cells if c["cell_type"] == "code")

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    try:
        nb = _opened(page, base, token, name)
        report = nb.locator(".jp-RenderedHTMLCommon .jmo").first
        report.scroll_into_view_if_needed(timeout=60_000)
        (REPO / "test-artifacts" / "ui").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REPO / "test-artifacts" / "ui" / f"untrusted-{name[:2]}.png"))
        charts = nb.locator('.jp-RenderedHTMLCommon img[src^="data:image/svg+xml;base64,"]')
        expect(charts.nth(NOTEBOOKS[name] - 1)).to_be_attached(timeout=60_000)
        n = charts.count()
        assert n >= NOTEBOOKS[name]
        for i in range(n):
            img = charts.nth(i)
            img.scroll_into_view_if_needed()
            # decoded by the browser (a stripped or broken data URL has naturalWidth 0) and laid out
            expect(img).to_have_js_property("complete", True)
            assert img.evaluate("e => e.naturalWidth") > 0, f"chart {i} did not decode"
            box = img.bounding_box()
            assert box and box["width"] > 50 and box["height"] > 50, f"chart {i} has no size: {box}"
        # nothing survived as inline SVG or a style block, and no chart text leaked into the page's text
        assert nb.locator(".jp-OutputArea-output svg").count() == 0
        text = nb.locator(".jp-OutputArea").all_inner_texts()
        leaks = [m.group(0) for t in text for m in GARBLED.finditer(t)]
        assert not leaks, leaks
        # inline styles survived the sanitizer: a failed verdict is red, a table has its rule lines
        verdicts = nb.locator(".jp-RenderedHTMLCommon span.fail, .jp-RenderedHTMLCommon span.pass")
        if verdicts.count():
            colour = verdicts.first.evaluate("e => getComputedStyle(e).color")
            assert colour in ("rgb(207, 34, 46)", "rgb(26, 127, 55)"), colour
    finally:
        ctx.close()


def test_untrusted_widget_output_shows_its_report(notebooks, browser):
    """The threshold explorer saved in 01-evaluate: untrusted, its static HTML shows instead of the widget."""
    base, token = notebooks
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    try:
        nb = _opened(page, base, token, "01-evaluate.ipynb")
        explorer = nb.locator(".jp-OutputArea-output").filter(has_text="At threshold 0.500")
        explorer.first.scroll_into_view_if_needed(timeout=60_000)
        expect(explorer.first).to_be_visible()
        assert "VBox(children" not in nb.inner_text()
        assert "Error displaying widget" not in nb.inner_text()
        page.screenshot(path=str(REPO / "test-artifacts" / "ui" / "untrusted-widget.png"))
    finally:
        ctx.close()
