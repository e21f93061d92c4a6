"""scikit-learn pipelines on messy data: missing strings, a step skl2onnx refuses, float32 rounding."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ExportError, ParityError, ValidationError


def _messy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue", None], n),
            "size": rng.choice(["S", "M", "L"], n).astype(object),
            "x": rng.normal(size=n),
        }
    )
    df.loc[rng.random(n) < 0.15, "size"] = np.nan
    df.loc[rng.random(n) < 0.1, "x"] = np.nan
    y = (
        df["color"].fillna("none").map({"red": 0, "green": 1, "blue": 2, "none": 2}).to_numpy() + (rng.random(n) < 0.2)
    ) % 3
    return df, y


@pytest.mark.parametrize("strategy", ["most_frequent", "constant"])
def test_missing_strings_in_categorical_columns_export_with_parity(strategy):
    df, y = _messy()
    cat = make_pipeline(SimpleImputer(strategy=strategy), OneHotEncoder(handle_unknown="ignore"))
    pipe = make_pipeline(
        ColumnTransformer([("cat", cat, ["color", "size"]), ("num", SimpleImputer(), ["x"])]),
        LogisticRegression(max_iter=1000),
    ).fit(df, y)
    assert df["color"].isna().sum() > 0 and df["size"].isna().sum() > 0
    result = mo.export(pipe, sample=df, benchmark=False)
    rep = result.parity["onnx"]["sample"]
    assert rep["passed"] and rep["max_abs_diff"] < 1e-5
    # the user's pipeline is untouched: its imputers still look for NaN
    imputer = pipe[0].named_transformers_["cat"][0]
    assert isinstance(imputer.missing_values, float) and math.isnan(imputer.missing_values)


def test_a_step_skl2onnx_cannot_convert_is_named_with_a_way_out():
    df, y = _messy()
    df = df.fillna({"color": "none", "size": "none", "x": 0.0})
    pipe = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(max_categories=2, handle_unknown="infrequent_if_exist"), ["color"]),
                ("num", StandardScaler(), ["x"]),
            ]
        ),
        LogisticRegression(max_iter=1000),
    ).fit(df, y)
    with pytest.raises(ExportError) as info:
        mo.export(pipe, sample=df, benchmark=False)
    msg = str(info.value)
    assert "the step 'columntransformer/cat' (OneHotEncoder)" in msg and "replace that step" in msg


def _large_offsets(n=300, seed=1):
    rng = np.random.default_rng(seed)
    X = np.column_stack([1.7e9 + rng.integers(0, 1000, n).astype(float), rng.normal(size=n)])
    y = (X[:, 0] - 1.7e9) * 0.01 + X[:, 1]
    return X, y


def test_float32_rounding_is_refused_and_float64_is_offered_and_passes():
    X, y = _large_offsets()
    model = LinearRegression().fit(X, y)
    with pytest.raises(ParityError) as info:
        mo.export(model, sample=X, benchmark=False)
    assert "precision='float64'" in str(info.value)
    result = mo.export(model, sample=X, benchmark=False, precision="float64")
    assert result.parity["onnx"]["sample"]["passed"]
    assert result.inputs[0]["datatype"] == "FP64" and result.options["precision"] == "float64"


def test_a_double_graph_with_trees_is_valid_onnx_with_double_outputs():
    import onnxruntime as ort
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _large_offsets()
    model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=10)).fit(X, y > np.median(y))
    # onnxruntime's tree ensembles compare in float32: parity is judged, and kept here only to look at the graph
    result = mo.export(model, sample=X, benchmark=False, precision="float64", allow_mismatch=True)
    out = ort.InferenceSession(result.payloads["onnx"]).run(None, {"input": X})
    assert out[1].dtype == np.float64 and out[1].shape == (len(X), 2)
    np.testing.assert_allclose(out[1].sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"precision": "float16"}, "precision must be one of float32, float64"),
        ({"precision": "float64", "quantize": "int8"}, "applies to float32 exports"),
    ],
)
def test_precision_is_validated(kwargs, match):
    X, y = _large_offsets(50)
    with pytest.raises(ValidationError, match=match):
        mo.export(LinearRegression().fit(X, y), sample=X, benchmark=False, **kwargs)
