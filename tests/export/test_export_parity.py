"""The parity comparison itself: tolerances, ties, shapes, worst rows, accuracy change."""

from __future__ import annotations

import numpy as np

from jupyter_modelops.exporters._parity import compare, describe_failure


def _clf(labels, probs):
    return {"label": np.asarray(labels), "probabilities": np.asarray(probs, dtype=np.float64)}


def test_within_tolerance_passes_and_beyond_fails():
    ref = {"y": np.array([[1.0], [100.0], [0.0]])}
    ok = compare(ref, {"y": ref["y"] * (1 + 5e-5)}, rtol=1e-4, atol=1e-5, n_rows=3)
    assert ok["passed"] and abs(ok["max_abs_diff"] - 100.0 * 5e-5) < 1e-12
    bad = compare(ref, {"y": ref["y"] + np.array([[0.0], [0.0], [2e-5]])}, rtol=1e-4, atol=1e-5, n_rows=3)
    assert not bad["passed"] and bad["outputs"]["y"]["mismatched_rows"] == 1
    assert bad["worst_rows"][0]["row"] == 2 and not bad["worst_rows"][0]["within_tolerance"]


def test_a_label_flip_on_a_tie_is_tolerated_but_not_elsewhere():
    probs = [[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]
    ref = _clf([1, 0, 1], probs)
    tie = compare(ref, _clf([0, 0, 1], probs), rtol=1e-4, atol=1e-5, n_rows=3)
    assert tie["passed"] and tie["outputs"]["label"]["ties"] == 1
    assert tie["label_agreement"] == 2 / 3
    flip = compare(ref, _clf([1, 1, 1], probs), rtol=1e-4, atol=1e-5, n_rows=3)
    assert not flip["passed"] and flip["outputs"]["label"]["mismatched_rows"] == 1
    text = describe_failure("onnx", "sample", flip, rtol=1e-4, atol=1e-5)
    assert "output 'label' disagrees on 1 of 3 rows (66.7% agree)" in text and "row 1 label" in text


def test_nan_equals_nan_and_nan_against_a_number_fails():
    ref = {"y": np.array([np.nan, 1.0])}
    assert compare(ref, {"y": np.array([np.nan, 1.0])}, rtol=0, atol=0, n_rows=2)["passed"]
    rep = compare(ref, {"y": np.array([0.0, 1.0])}, rtol=0, atol=0, n_rows=2)
    assert not rep["passed"] and rep["max_abs_diff"] == float("inf")


def test_shape_and_output_count_mismatches_fail():
    ref = {"y": np.zeros((4, 2))}
    rep = compare(ref, {"y": np.zeros((4, 3))}, rtol=0, atol=0, n_rows=4)
    assert not rep["passed"] and rep["outputs"]["y"]["problem"] == "shape [4, 3] instead of [4, 2]"
    rep = compare(ref, {"a": np.zeros((4, 2)), "b": np.zeros(4)}, rtol=0, atol=0, n_rows=4)
    assert not rep["passed"] and "2 outputs, the original 1" in rep["problem"]


def test_accuracy_change_with_true_labels():
    probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    rep = compare(
        _clf([0, 0, 1, 0], probs), _clf([0, 0, 1, 1], probs), rtol=0, atol=0, n_rows=4, target=np.array([0, 0, 1, 1])
    )
    assert rep["accuracy"] == {"original": 0.75, "export": 1.0, "delta": 0.25}
