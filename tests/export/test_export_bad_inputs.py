"""Each bad input gets one sentence: what was wrong, what was expected, what to do."""

from __future__ import annotations

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ExportError, ModelNotFoundError, ValidationError


def _one_sentence(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.fixture(scope="module")
def forest(numeric_data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = numeric_data
    return RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(X, y)


def test_no_sample_says_how_to_provide_one(forest):
    with pytest.raises(ValidationError) as info:
        mo.export(forest)
    text = _one_sentence(info.value)
    assert text.startswith("A sample input is needed to export a sklearn model")
    assert "sample=X_test[:100]" in text and "snapshot the model with data=X" in text


def test_sample_of_the_wrong_shape(forest, numeric_data):
    X, _ = numeric_data
    with pytest.raises(ValidationError) as info:
        mo.export(forest, sample=X[:10, :3])
    assert _one_sentence(info.value).startswith("The sample has 3 features, but the model expects 20.")
    with pytest.raises(ValidationError) as info:
        mo.export(forest, sample=X[0])
    text = _one_sentence(info.value)
    assert "must be 2-D (rows x features), got shape (20,)" in text and "X.reshape(1, -1)" in text


def test_sample_of_the_wrong_dtype(forest):
    with pytest.raises(ValidationError) as info:
        mo.export(forest, sample=np.array([["a"] * 20, ["b"] * 20]))
    text = _one_sentence(info.value)
    assert "has dtype <U1, but an array sample must be numeric" in text and "DataFrame" in text


def test_dataframe_missing_a_column(churn, churn_pipeline):
    X, _ = churn
    with pytest.raises(ValidationError) as info:
        mo.export(churn_pipeline, sample=X.drop(columns=["plan"]).iloc[:5])
    text = _one_sentence(info.value)
    assert "lacks the column(s) plan the model was trained on" in text


def test_dataframe_column_of_the_wrong_dtype(churn, churn_pipeline):
    X, _ = churn
    bad = X.iloc[:5].copy()
    bad["tenure"] = ["long"] * 5
    with pytest.raises(ValidationError) as info:
        mo.export(churn_pipeline, sample=bad)
    text = _one_sentence(info.value)
    assert text.startswith("The model could not run on the sample: ")
    assert "Pass a sample with the columns, shape and dtype the model was trained on" in text


def test_unsupported_model_type():
    class Scorer:
        def predict(self, X):
            return X

    with pytest.raises(ExportError) as info:
        mo.export(Scorer(), sample=np.zeros((2, 2)))
    text = _one_sentence(info.value)
    assert "No onnx exporter handles a model of type" in text and "Scorer" in text
    assert "register an exporter" in text


def test_unsupported_step_is_named(numeric_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import SplineTransformer

    X, y = numeric_data
    model = Pipeline([("splines", SplineTransformer(n_knots=3)), ("clf", LogisticRegression(max_iter=300))]).fit(X, y)
    with pytest.raises(ExportError) as info:
        mo.export(model, sample=X[:10], benchmark=False)
    text = _one_sentence(info.value)
    assert text.startswith("The step 'splines' (SplineTransformer) has no ONNX converter in skl2onnx")


def test_nested_unsupported_step_names_its_path(churn):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, SplineTransformer

    X, y = churn
    prep = ColumnTransformer([("curve", SplineTransformer(n_knots=3), ["tenure"]), ("cat", OneHotEncoder(), ["plan"])])
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=300))]).fit(X, y)
    with pytest.raises(ExportError, match=r"^The step 'prep/curve' \(SplineTransformer\)"):
        mo.export(model, sample=X.iloc[:10], benchmark=False)


def test_int8_on_a_tree_model_says_there_is_nothing_to_quantize(forest, numeric_data):
    X, _ = numeric_data
    with pytest.raises(ExportError) as info:
        mo.export(forest, sample=X[:10], quantize="int8", benchmark=False)
    assert "this export has none" in _one_sentence(info.value)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"format": "tflite"}, "format must be one of onnx, torchscript; got 'tflite'"),
        ({"format": "onx"}, "Did you mean: onnx?"),
        ({"quantize": "int4"}, "quantize must be None, 'int8' or 'fp16'; got 'int4'"),
        ({"format": "torchscript", "quantize": "int8"}, "applies to ONNX exports, but format is 'torchscript'"),
        ({"opset": 3}, "opset must be an integer between 7 and 30; got 3"),
        ({"rtol": -1}, "rtol must be a number >= 0; got -1"),
        ({"atol": "small"}, "atol must be a number >= 0; got 'small'"),
        ({"allow_mismatch": "yes"}, "allow_mismatch must be True or False; got 'yes'"),
        ({"onnx_exporter": "fast"}, "onnx_exporter must be one of auto, dynamo, torchscript; got 'fast'"),
    ],
)
def test_bad_arguments_name_the_argument(forest, numeric_data, kwargs, fragment):
    X, _ = numeric_data
    with pytest.raises(ValidationError) as info:
        mo.export(forest, sample=X[:5], **kwargs)
    assert fragment in _one_sentence(info.value)


def test_unknown_registry_reference():
    with pytest.raises(ModelNotFoundError) as info:
        mo.export("no-such-model:2")
    assert "There is no model named 'no-such-model'" in _one_sentence(info.value)


def test_fp16_of_a_graph_the_converter_breaks(churn, churn_pipeline):
    X, _ = churn
    with pytest.raises(ExportError) as info:
        mo.export(churn_pipeline, sample=X.iloc[:10], quantize="fp16", benchmark=False)
    text = _one_sentence(info.value)
    assert text.startswith("fp16 conversion produced a model onnxruntime cannot run")
    assert "export this model without quantize" in text
