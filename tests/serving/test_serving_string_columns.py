"""A served ONNX pipeline with text columns answers as the model in memory, gaps included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def messy():
    """A mixed table: numbers and text, both with missing values; the class follows the text."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 240)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=240) + 0.3 * y,
            "b": rng.normal(size=240),
            "colour": np.array(["red", "green", "blue"], dtype=object)[y],
            "shape": rng.choice(["round", "square"], 240).astype(object),
        }
    )
    X.loc[rng.random(240) < 0.15, "a"] = np.nan
    X.loc[rng.random(240) < 0.15, "colour"] = np.nan
    X.loc[rng.random(240) < 0.1, "shape"] = None
    return X, y


def _pipeline():
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prepare = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["a", "b"]),
        (
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value="unknown"), OneHotEncoder(handle_unknown="ignore")
            ),
            ["colour", "shape"],
        ),
    )
    return make_pipeline(prepare, LogisticRegression(max_iter=1000))


def test_served_onnx_with_text_columns_matches_the_model_on_rows_with_gaps(messy):
    import jupyter_modelops as mo

    X, y = messy
    model = _pipeline().fit(X, y)
    mv = mo.snapshot(model, "messy", data=X)
    mo.export(mv.ref, "onnx", benchmark=False)
    dep = mo.serve(mv.ref)
    try:
        assert dep.status()["ref"] == mv.ref
        gappy = X[X[["a", "colour", "shape"]].isna().any(axis=1)].head(12)
        complete = X[X.notna().all(axis=1)].head(12)
        for rows in (gappy, complete):
            got = mo.predict(dep, rows)
            assert np.array_equal(got["predict"], model.predict(rows))
            # a category reaching the graph as bytes would be unknown to the encoder: far larger gaps than this
            np.testing.assert_allclose(got["predict_proba"], model.predict_proba(rows), atol=1e-5)
    finally:
        dep.stop()


def test_missing_text_travels_as_an_empty_string():
    from jupyter_modelops.serving.client import _as_bytes

    assert [_as_bytes(v) for v in (None, float("nan"), np.nan, pd.NA)] == [b""] * 4
    assert _as_bytes("nan") == b"nan"  # a real string "nan" is a value, not a gap
    assert _as_bytes("vert") == b"vert" and _as_bytes(b"raw") == b"raw" and _as_bytes(3) == b"3"
