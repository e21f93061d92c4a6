"""A report's gates carry what the panel shows: rule, observed value and interval."""

from __future__ import annotations

from jupyter_modelops.gates import check
from jupyter_modelops.reports.summary import _gate_dicts


def test_gate_results_keep_rule_and_interval():
    report = check(
        {"roc_auc": {"value": 0.95, "low": 0.93, "high": 0.97}, "drift_share": 0.05555555555555555},
        {"roc_auc": ">= 0.99", "drift_share": "<= 0.5"},
    )
    gates = {g["metric"]: g for g in _gate_dicts(report)}
    auc = gates["roc_auc"]
    assert auc["status"] == "fail" and auc["op"] == ">=" and auc["threshold"] == 0.99
    assert (auc["observed"], auc["low"], auc["high"], auc["judged_on"]) == (0.93, 0.93, 0.97, "low")
    share = gates["drift_share"]
    assert share["status"] == "pass" and share["op"] == "<=" and share["low"] is None
    assert share["detail"] == "value = 0.0556"
