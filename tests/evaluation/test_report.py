"""EvaluationReport: dict, JSON, HTML, figures, gates."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import GateFailure, ValidationError
from jupyter_modelops.gates import check, parse_gate, parse_gates


@pytest.fixture(scope="module")
def reports(binary_data, multiclass_data, regression_data):
    out = {}
    for name, (model, X, y) in (
        ("binary", binary_data),
        ("multiclass", multiclass_data),
        ("regression", regression_data),
    ):
        out[name] = mo.evaluate(model, X, y, n_boot=200)
    return out


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_to_dict_is_json_small_and_versioned(reports, task):
    rep = reports[task]
    d = rep.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert len(text.encode()) <= 50_000
    assert d["schema_version"] == 1 and d["task"] == task
    for name, m in d["metrics"].items():
        assert m["low"] <= m["value"] <= m["high"] or name in ("calibration_error", "max_error")
    assert json.loads(rep.to_json())["n_rows"] == rep.n_rows


@pytest.mark.parametrize(
    "task,plots",
    [
        ("binary", ["ROC curve", "Precision-recall curve", "Confusion matrix", "Calibration"]),
        ("multiclass", ["Confusion matrix", "Calibration"]),
        ("regression", ["Residuals", "Residual vs prediction"]),
    ],
)
def test_html_is_static_small_and_has_the_plots(reports, task, plots):
    html = reports[task]._repr_html_()
    assert len(html.encode()) <= 200_000
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    assert html.count("data:image/svg+xml;base64,") >= len(plots) and "<svg" not in html
    for title in plots:
        assert f'alt="chart: {title}' in html
    for name in reports[task].metrics:
        assert name in html
    assert re.search(r"95% interval", html)


def test_figures_are_matplotlib(reports):
    import matplotlib

    matplotlib.use("Agg")
    figs = reports["binary"].figures()
    assert set(figs) == {"roc", "pr", "confusion", "calibration"}
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs.values())
    assert "residuals" in reports["regression"].figures()


def test_check_judges_on_the_interval_bound(reports):
    rep = reports["binary"]
    f1 = rep.metrics["f1"]
    between = (f1.low + f1.value) / 2  # above the lower bound's... below the point value
    g = rep.check({"f1": f">= {between}"})
    assert not g.passed and g.results[0].judged_on == "low" and g.results[0].observed == f1.low
    assert rep.check({"f1": f">= {between}"}, on="value").passed
    ll = rep.metrics["log_loss"]
    g = rep.check([f"log_loss <= {(ll.value + ll.high) / 2}"])
    assert not g.passed and g.results[0].judged_on == "high"
    g = rep.check("auc >= 0.5, ece <= 1")  # aliases, several gates in one string
    assert g.passed and [r.metric for r in g.results] == ["roc_auc", "calibration_error"]
    assert rep.gates is g
    html = rep.to_html()
    assert "Gates" in html and "roc_auc" in html and "PASS" in html
    with pytest.raises(GateFailure):
        rep.check("f1 >= 0.999").raise_for_failure()


def test_check_unknown_metric_suggests(reports):
    with pytest.raises(ValidationError, match="Did you mean: roc_auc"):
        reports["binary"].check("roc_acu >= 0.8")


def test_suggestions_name_only_metrics_this_result_has(reports):
    # "acc" is an alias of accuracy, which a regression result does not have: never suggest it there
    with pytest.raises(ValidationError) as info:
        reports["regression"].check("acc >= 0.8")
    assert "Did you mean" not in str(info.value) and "r2" in str(info.value)
    with pytest.raises(ValidationError, match="Did you mean: .*mae"):  # aliases of its own metrics are fine
        reports["regression"].check("mea <= 1")


def test_parse_gate_forms():
    assert parse_gate("f1>=0.8").op == ">="
    assert parse_gate(" log_loss < 3e-1 ").threshold == 0.3
    assert parse_gate(">= .9", metric="auc").metric == "auc"
    assert [str(g) for g in parse_gates({"f1": ">= 0.8", "mae": "<= 2"})] == ["f1 >= 0.8", "mae <= 2"]
    for bad in ("f1 ~ 0.8", "f1 >= high", ">= 0.8", ""):
        with pytest.raises(ValidationError, match="Could not read the gate|expected"):
            parse_gates([bad]) if bad else parse_gate(bad)


def test_check_without_interval_uses_value():
    r = check({"psi": 0.2}, "psi < 0.25")
    assert r.passed and r.results[0].judged_on == "value"


def test_at_threshold_and_repr(reports):
    rep = reports["binary"]
    low, high = rep.at_threshold(0.05), rep.at_threshold(0.95)
    assert low["recall"] > high["recall"] and low["precision"] < high["precision"]
    assert rep.at_threshold(0.5)["f1"] == pytest.approx(rep.metrics["f1"].value, abs=1e-12)
    assert repr(rep).startswith("<EvaluationReport binary, n=800: roc_auc=")
    assert "f1" in rep.to_text()
    with pytest.raises(ValidationError):
        reports["regression"].at_threshold(0.4)


def test_notes_say_what_is_approximate():
    rng = np.random.default_rng(0)
    n = 30_000
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    rep = mo.evaluate_predictions(y, y_score=p, n_boot=400)  # 30k x 400 > rows budget: binned multinomial
    assert rep.method == "multinomial" and rep.binned
    assert any("quantile bins" in n for n in rep.notes)
    exact = mo.evaluate_predictions(y, y_score=p, n_boot=0)
    assert rep.metrics["roc_auc"].value == exact.metrics["roc_auc"].value


def test_save_html(tmp_path, reports):
    path = reports["binary"].save_html(str(tmp_path / "r.html"))
    text = open(path, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>") and "data:image/svg+xml;base64," in text
