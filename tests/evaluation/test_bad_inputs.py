"""Every bad input gets one sentence naming the argument, what was got and what was expected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError


def _one_sentence(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_mismatched_lengths(binary_data):
    model, X, y = binary_data
    with pytest.raises(ValidationError) as e:
        mo.evaluate(model, X, y[:-10])
    msg = _one_sentence(e.value)
    assert "X has 800 rows" in msg or ("y has 790 rows" in msg and "800" in msg)


def test_mismatched_lengths_predictions():
    with pytest.raises(ValidationError, match=r"y_score has 3 rows but y_true has 4"):
        mo.evaluate_predictions([0, 1, 0, 1], y_score=[0.1, 0.2, 0.3])


def test_nan_in_labels():
    with pytest.raises(ValidationError) as e:
        mo.evaluate_predictions([0.0, 1.0, np.nan, 1.0], y_score=[0.1, 0.9, 0.3, 0.8])
    msg = _one_sentence(e.value)
    assert "y_true contains 1 NaN value (first at row 2)" in msg


def test_missing_string_labels():
    with pytest.raises(ValidationError, match="y_true contains 1 missing values"):
        mo.evaluate_predictions(np.array(["a", None, "b", "a"], dtype=object), y_score=[0.1, 0.9, 0.3, 0.8])


def test_inf_in_scores():
    with pytest.raises(ValidationError) as e:
        mo.evaluate_predictions([0, 1, 0, 1], y_score=[0.1, np.inf, 0.3, 0.8])
    assert "y_score contains 1 infinite value (first at row 1)" in _one_sentence(e.value)


def test_nan_in_model_output(binary_data):
    _, X, y = binary_data
    with pytest.raises(ValidationError, match="contains .* NaN"):
        mo.evaluate(lambda A: np.full(len(A), np.nan), X, y)


def test_one_class_only():
    with pytest.raises(ValidationError) as e:
        mo.evaluate_predictions([1, 1, 1], y_score=[0.2, 0.7, 0.9])
    assert "contains only one class (1)" in _one_sentence(e.value)


def test_labels_the_model_never_saw(binary_data):
    model, X, y = binary_data
    y2 = y.copy()
    y2[:3] = 7
    with pytest.raises(ValidationError) as e:
        mo.evaluate(model, X, y2)
    msg = _one_sentence(e.value)
    assert "labels the model never saw: 7" in msg and "the model knows 0, 1" in msg


def test_strings_where_numbers_are_needed():
    with pytest.raises(ValidationError) as e:
        mo.evaluate_predictions([0, 1, 0], y_score=["0.1", "high", "0.3"])
    assert "y_score must be numeric but holds str values such as 'high'" in _one_sentence(e.value)
    with pytest.raises(ValidationError, match="y_true must be numeric"):
        mo.evaluate_predictions(np.array(["a", "b", "c"], dtype=object), [1.5, 2.5, 3.5], task="regression")


def test_strings_in_X_for_torch():
    import torch

    net = torch.nn.Linear(2, 1)
    X = np.array([["a", "b"], ["c", "d"]], dtype=object)
    with pytest.raises(ValidationError, match="X must be numeric"):
        mo.evaluate(net, X, [0, 1])


def test_empty_input(binary_data):
    model, X, y = binary_data
    with pytest.raises(ValidationError) as e:
        mo.evaluate(model, X[:0], y[:0])
    assert "X is empty (0 rows)" in _one_sentence(e.value)
    with pytest.raises(ValidationError, match="y_true is empty"):
        mo.evaluate_predictions([], y_score=[])


def test_wrong_shapes(binary_data):
    model, X, y = binary_data
    with pytest.raises(ValidationError, match=r"y has shape \(800, 2\); expected a 1-D array"):
        mo.evaluate(model, X, np.column_stack([y, y]))
    with pytest.raises(ValidationError, match=r"X has shape \(800,\); expected 2-D"):
        mo.evaluate(model, X[:, 0], y)
    with pytest.raises(ValidationError, match="y_score has 3 columns but y_true has 2 classes"):
        mo.evaluate_predictions([0, 1, 1, 0], y_score=np.full((4, 3), 1 / 3))
    with pytest.raises(ValidationError, match=r"y_score has shape \(4, 2, 1\)"):
        mo.evaluate_predictions([0, 1, 1, 0], y_score=np.zeros((4, 2, 1)))


def test_model_without_predict_method(binary_data):
    _, X, y = binary_data
    with pytest.raises(ValidationError) as e:
        mo.evaluate(object(), X, y)
    assert "has no predict_proba, decision_function or predict method and is not callable" in _one_sentence(e.value)


def test_model_that_rejects_X(binary_data):
    model, X, y = binary_data
    with pytest.raises(ValidationError, match="The model could not predict on X"):
        mo.evaluate(model, X[:, :3], y)


def test_wrong_columns_dataframe(binary_data):
    from sklearn.linear_model import LogisticRegression

    _, X, y = binary_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = LogisticRegression().fit(df, y)
    with pytest.raises(ValidationError, match="could not predict on X"):
        mo.evaluate(model, df.rename(columns={"f0": "zzz"}), y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ci": 1.5}, r"ci must be in \(0.0, 1.0\); got 1.5"),
        ({"ci": "high"}, "ci must be a number"),
        ({"n_boot": -1}, "n_boot must be an integer >= 0; got -1"),
        ({"n_boot": 5}, "n_boot must be 0"),
        ({"n_boot": 2.5}, "n_boot must be an integer"),
        ({"threshold": 0}, r"threshold must be in \(0.0, 1.0\); got 0.0"),
        ({"task": "clasification"}, "task must be one of .* Did you mean: classification"),
        ({"sample_weight": [1, 2]}, "sample_weight has 2 rows but y has 4"),
        ({"sample_weight": [1, -1, 1, 1]}, "sample_weight contains negative values"),
        ({"random_state": "x"}, "random_state must be an integer"),
        ({"pos_label": 5}, "pos_label 5 is not one of the classes 0, 1"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValidationError, match=match) as e:
        mo.evaluate_predictions([0, 1, 1, 0], y_score=[0.2, 0.7, 0.6, 0.1], **kwargs)
    _one_sentence(e.value)


def test_neither_predictions_nor_scores():
    with pytest.raises(ValidationError, match="Neither y_pred nor y_score was given"):
        mo.evaluate_predictions([0, 1])


def test_multiclass_scores_not_probabilities():
    with pytest.raises(ValidationError, match="y_score rows must be probabilities summing to 1"):
        mo.evaluate_predictions([0, 1, 2, 1], y_score=np.full((4, 3), 0.5))


def test_bad_input_is_a_value_error_too():
    assert issubclass(ValidationError, ValueError)
    with pytest.raises(ValueError):
        mo.evaluate_predictions([0, 1], y_score=[0.1])
