"""Every report's HTML survives an HTML sanitizer: no <style>, no inline <svg>, charts as data-URL images.

JupyterLab sanitizes the HTML output of notebooks it has not trusted (and
GitHub does the same): ``<style>`` blocks and ``<svg>`` elements are
stripped. These tests hold every report type to the rules that survive;
``tests/ui/test_untrusted.py`` checks the same in the real browser.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops import _html

IMG = re.compile(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"([^>]*)>')


@pytest.fixture(scope="module")
def frames():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6]
    clf = LogisticRegression(max_iter=2000).fit(X, y)
    reg = LinearRegression().fit(X.iloc[:, 1:], X.iloc[:, 0])
    multi_y = pd.qcut(X.iloc[:, 0], 3, labels=False)
    multi = LogisticRegression(max_iter=2000).fit(X.iloc[:, 1:], multi_y)
    return X, y, clf, reg, multi, multi_y


@pytest.fixture(scope="module")
def reports(frames, tmp_path_factory):
    """One of every report type, each made through the public API (reports from a dict record)."""
    import os

    X, y, clf, reg, multi, multi_y = frames
    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(tmp_path_factory.mktemp("home"))
    try:
        out = {
            "evaluation-binary": mo.evaluate(clf, X, y, n_boot=30),
            "evaluation-multiclass": mo.evaluate(multi, X.iloc[:, 1:], multi_y, n_boot=30),
            "evaluation-regression": mo.evaluate(reg, X.iloc[:, 1:], X.iloc[:, 0], n_boot=30),
            "robustness": mo.robustness(
                clf, X, y, perturbations=["noise", "missing"], severities=[0.1, 0.3], n_boot=20
            ),
            "slices": mo.slices(clf, X, y, by=["mean radius"], n_boot=30),
        }
        shifted = X.copy()
        shifted["mean radius"] = shifted["mean radius"] * 1.4
        out["drift"] = mo.drift(X, shifted, model=clf)
        v1 = mo.snapshot(clf, "cancer", report=out["evaluation-binary"], data=X)
        v2 = mo.snapshot(LogisticRegression_c(X, y), "cancer", report=mo.evaluate(clf, X, y, n_boot=30), data=X)
        out["model-version"] = v1
        out["versions"] = mo.versions("cancer")
        out["models"] = mo.models()
        out["diff"] = mo.diff(v1.ref, v2.ref)
        out["export"] = mo.export(v1.ref, "onnx", sample=X, benchmark=False)
        out["gates"] = out["evaluation-binary"].check({"roc_auc": ">= 0.99", "accuracy": ">= 0.5"})
        out["deployment"] = mo.deploy(v1.ref, image="localhost:5000/cancer:1", profile="cpu-small", dry_run=True)
        out["profiles"] = mo.profiles()
        out["deployments"] = mo.deployments()
        run = {
            "id": "r1",
            "ref": v1.ref,
            "template": "monitoring",
            "status": "succeeded",
            "gates_passed": False,
            "duration_s": 3.2,
            "started": "2026-01-01T06:00:00Z",
            "gates": [
                {"status": "fail", "name": "roc_auc >= 0.99", "detail": "observed 0.95 [0.93, 0.97]"},
                {"status": "pass", "name": "accuracy >= 0.5", "detail": "observed 0.91 [0.89, 0.93]"},
            ],
            "metrics": {"roc_auc": {"value": 0.95, "low": 0.93, "high": 0.97}, "drift_share": 0.0555},
        }
        out["report-run"] = mo.ReportRun(run)
        from jupyter_modelops.reports.history import ReportHistory

        out["report-history"] = ReportHistory("cancer", [run, {**run, "id": "r2", "metrics": {"roc_auc": 0.96}}])
    finally:
        if old is None:
            os.environ.pop("MODELOPS_HOME", None)
        else:
            os.environ["MODELOPS_HOME"] = old
    return out


def LogisticRegression_c(X, y):  # noqa: N802 - a second, different model for the diff
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, C=0.1).fit(X, y)


CHARTED = {
    "evaluation-binary": 4,
    "evaluation-multiclass": 2,
    "evaluation-regression": 2,
    "robustness": 1,
    "slices": 1,
    "drift": 1,
    "report-history": 1,
}
NAMES = [
    "evaluation-binary",
    "evaluation-multiclass",
    "evaluation-regression",
    "robustness",
    "slices",
    "drift",
    "model-version",
    "versions",
    "models",
    "diff",
    "export",
    "gates",
    "report-run",
    "report-history",
    "deployment",
    "profiles",
    "deployments",
]


@pytest.mark.parametrize("name", NAMES)
def test_report_html_has_no_style_block_and_no_inline_svg(reports, name):
    html = reports[name]._repr_html_()
    low = html.lower()
    assert "<style" not in low and "<svg" not in low and "<script" not in low and "javascript:" not in low
    assert 'class="jmo"' in html and len(html.encode()) <= 200_000
    # styling is inline and uses no CSS variables (sanitizers drop a declaration they cannot parse)
    assert "var(--" not in html


@pytest.mark.parametrize("name", NAMES)
def test_every_chart_is_a_sized_data_url_image_of_valid_svg(reports, name):
    html = reports[name]._repr_html_()
    imgs = IMG.findall(html)
    assert len(imgs) >= CHARTED.get(name, 0)
    assert html.count("<img") == len(imgs), "an image that is not a data-URL SVG"
    for data, attrs in imgs:
        root = ET.fromstring(base64.b64decode(data))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        # self-contained: an image's SVG cannot read the page's CSS
        assert root.get("font-family") and root.find("{http://www.w3.org/2000/svg}rect").get("fill") == "#ffffff"
        assert re.search(r'width="\d+"', attrs) and re.search(r'height="\d+"', attrs)
        assert re.search(r'alt="chart: [^"]+"', attrs), "a chart without a text alternative"


def test_verdict_markers_become_inline_colours(reports):
    html = reports["report-run"]._repr_html_()
    assert f'<span class="fail" style="color:{_html.FAIL};font-weight:600">fail</span>' in html
    assert f'<span class="pass" style="color:{_html.PASS};font-weight:600">pass</span>' in html
    drift = reports["drift"]._repr_html_()
    assert f"color:{_html.FAIL}" in drift and "dataset drift" in drift


def test_text_in_a_report_cannot_turn_into_markup():
    """Escaped user text that looks like a marker or an SVG stays text: page() only rewrites markup it made."""
    evil = '<svg onload="x"></svg> class="pass" <style>p{}</style>'
    html = _html.page(evil, _html.table([(evil, 1.0)], ["name", "value"]))
    assert "<svg" not in html and "<style" not in html and "<img" not in html
    assert html.count("&lt;svg onload=&quot;x&quot;&gt;") == 2


def test_svg_image_keeps_size_and_title():
    from jupyter_modelops import _svg

    svg = _svg.line_chart([("a", [0, 1], [0, 1])], title='ROC <"curve">', xlabel="x", ylabel="y")
    img = _html.svg_image(svg)
    assert img.startswith('<img src="data:image/svg+xml;base64,') and 'width="300" height="230"' in img
    assert 'alt="chart: ROC &lt;&quot;curve&quot;&gt;"' in img
    assert base64.b64decode(IMG.match(img).group(1)).decode() == svg


def test_numbers_in_tables_are_formatted():
    html = _html.table([("share", 0.05555555555555555), ("n", 12345)], ["k", "v"])
    assert "0.0556" in html and "12,345" in html and "0.05555" not in html
