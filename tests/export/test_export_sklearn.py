"""scikit-learn -> ONNX round trips with parity asserted, run back through onnxruntime."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ParityError

from .conftest import churn_frame


def test_column_transformer_pipeline_round_trip(churn, churn_pipeline):
    X, _ = churn
    result = mo.export(churn_pipeline, "onnx", sample=X.iloc[:200], benchmark=False)
    assert result.passed
    rep = result.parity["onnx"]["sample"]
    assert rep["rows"] == 200
    assert rep["max_abs_diff"] <= 1e-5
    assert rep["label_agreement"] == 1.0
    # one ONNX input per column, typed from the DataFrame's dtypes
    assert [(i["name"], i["datatype"]) for i in result.inputs] == [
        ("tenure", "FP32"),
        ("plan", "BYTES"),
        ("calls", "INT64"),
        ("region", "BYTES"),
        ("spend", "FP32"),
    ]
    assert result.outputs == ["label", "probabilities"]
    # the stored file is the artifact, content-addressed
    data = result.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == result.artifacts["onnx"]["sha256"]
    assert isinstance(result.artifacts["onnx"]["opset"], int) and result.artifacts["onnx"]["method"].startswith(
        "skl2onnx"
    )
    # run the file ourselves on rows it has never seen, including an unseen category
    fresh, _ = churn_frame(n=50, seed=7)
    fresh.loc[0, "plan"] = "enterprise"
    sess = result.load()
    feeds = {
        "tenure": fresh.tenure.to_numpy(np.float32).reshape(-1, 1),
        "plan": fresh.plan.to_numpy(object).reshape(-1, 1),
        "calls": fresh.calls.to_numpy(np.int64).reshape(-1, 1),
        "region": fresh.region.to_numpy(object).reshape(-1, 1),
        "spend": fresh.spend.to_numpy(np.float32).reshape(-1, 1),
    }
    label, proba = sess.run(None, feeds)
    assert proba.dtype == np.float32 and proba.shape == (50, 2)  # a tensor, not a ZipMap
    np.testing.assert_allclose(proba, churn_pipeline.predict_proba(fresh), atol=1e-5)
    assert (label == churn_pipeline.predict(fresh)).all()


@pytest.mark.parametrize("kind", ["random_forest", "hist_gradient_boosting", "logistic_regression"])
def test_numeric_classifiers_round_trip(kind, numeric_data):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_data
    model = {
        "random_forest": RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0),
        "hist_gradient_boosting": HistGradientBoostingClassifier(max_iter=40, random_state=0),
        "logistic_regression": LogisticRegression(max_iter=500),
    }[kind].fit(X, y)
    result = mo.export(model, sample=X[:300], benchmark=False)
    rep = result.parity["onnx"]["sample"]
    assert rep["max_abs_diff"] <= 1e-5 and rep["label_agreement"] == 1.0
    assert result.inputs == [{"name": "input", "datatype": "FP32", "shape": [-1, 20]}]
    sess = result.load()
    proba = sess.run(["probabilities"], {"input": X[300:].astype(np.float32)})[0]
    np.testing.assert_allclose(proba, model.predict_proba(X[300:]), atol=1e-5)


def test_regressors_and_numeric_dataframe_pipeline(numeric_data):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = numeric_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    target = 3 * X[:, 0] - X[:, 1] ** 2
    for model in (
        make_pipeline(StandardScaler(), Ridge()).fit(df, target),
        HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(df, target),
    ):
        result = mo.export(model, sample=df.iloc[:250], benchmark=False)
        assert result.outputs == ["variable"]
        # an all-numeric frame becomes one float tensor in the frame's column order
        assert result.inputs == [{"name": "input", "datatype": "FP32", "shape": [-1, 20]}]
        rep = result.parity["onnx"]["sample"]
        assert rep["passed"] and rep["label_agreement"] is None and rep["max_abs_diff"] < 1e-4
        got = result.load().run(None, {"input": df.iloc[250:].to_numpy(np.float32)})[0].ravel()
        np.testing.assert_allclose(got, model.predict(df.iloc[250:]), rtol=1e-4, atol=1e-4)


def test_a_real_mismatch_is_blocked_and_shows_the_worst_rows(modelops_home):
    """Values around 1e9 lose their fractional part in float32, the type skl2onnx feeds:
    the exported scaler sees a constant column and the probabilities collapse."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    stamp = 1.7e9 + rng.uniform(0, 50, 300)  # e.g. a Unix timestamp, seconds
    X = np.column_stack([stamp, rng.normal(size=300)])
    y = (stamp - stamp.mean() + rng.normal(0, 5, 300) > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with pytest.raises(ParityError) as info:
        mo.export(model, sample=X, benchmark=False)
    err = info.value
    text = str(err)
    assert "\n" not in text
    assert "onnx export differs from the original on the sample" in text
    assert re.search(r"output 'probabilities' differs by up to [0-9.e-]+ on \d+ of 300 rows", text)
    assert "worst rows: row " in text and "allow_mismatch=True" in text
    worst = err.parity["onnx"]["sample"]["worst_rows"]
    assert worst and worst[0]["abs_diff"] > 0.05
    assert err.parity["onnx"]["sample"]["max_abs_diff"] > 0.05
    assert not list((modelops_home / "exports").glob("*"))  # a refused export is not written
    # the caller can keep it knowingly; the result says it failed
    kept = mo.export(model, sample=X, benchmark=False, allow_mismatch=True)
    assert not kept.passed and kept.artifacts["onnx"]["parity_passed"] is False
    assert kept.path.parent == modelops_home / "exports" and kept.path.is_file()
    assert "PARITY MISMATCH" in repr(kept)


def test_result_renders_and_serializes(churn, churn_pipeline):
    X, _ = churn
    result = mo.export(churn_pipeline, sample=X.iloc[:100])
    d = json.loads(result.to_json())
    assert d["format"] == "onnx" and d["passed"] is True and d["flavor"] == "sklearn"
    assert d["options"]["rtol"] == 1e-4 and d["options"]["atol"] == 1e-5 and d["options"]["quantize"] is None
    speed = d["speed"]
    assert speed["threads"] == 1 and speed["batch_rows"] == 100
    for who in ("original", "onnx"):
        assert speed[who]["single_row_us"] > 0 and speed[who]["batch_us"] > 0
    assert speed["onnx"]["speedup_single"] == pytest.approx(
        speed["original"]["single_row_us"] / speed["onnx"]["single_row_us"]
    )
    html = result._repr_html_()
    assert "<script" not in html and "<table " in html  # tables carry inline styles (render in untrusted notebooks)
    assert "max |Δ|" in html and "speed-up" in html and 'class="pass"' in html
    assert repr(result).startswith("<ExportResult Pipeline onnx: parity ok")
    text = result.to_text()
    assert "onnx" in text and str(result.path) in text


def test_protobuf_stays_below_7_and_skl2onnx_writes_boolean_attributes(numeric_data):
    """skl2onnx fails with protobuf 7 ("AttributeProto.ints: Expected an int, got a boolean")."""
    from importlib.metadata import version

    import onnx
    import tomllib
    from sklearn.linear_model import LogisticRegression

    assert int(version("protobuf").split(".")[0]) < 7
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    pins = [p for p in pyproject["project"]["optional-dependencies"]["onnx"] if p.startswith("protobuf")]
    assert pins and "<7" in pins[0]
    X, y = numeric_data
    result = mo.export(LogisticRegression(max_iter=300).fit(X, y), sample=X[:50], benchmark=False)
    proto = onnx.load_from_string(result.path.read_bytes())
    assert any(n.op_type == "LinearClassifier" for n in proto.graph.node)


def test_the_model_is_not_mutated(churn, churn_pipeline):
    X, _ = churn
    before = churn_pipeline.predict_proba(X)
    params = repr(churn_pipeline.get_params())
    mo.export(churn_pipeline, sample=X.iloc[:20], benchmark=False)
    assert repr(churn_pipeline.get_params()) == params
    np.testing.assert_array_equal(churn_pipeline.predict_proba(X), before)


def test_a_fixed_batch_size(numeric_data):
    import onnx
    from sklearn.ensemble import RandomForestClassifier

    X, y = numeric_data
    model = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(X, y)
    result = mo.export(model, sample=X[:16], dynamic_batch=False)
    assert result.inputs == [{"name": "input", "datatype": "FP32", "shape": [16, 20]}]
    proto = onnx.load_from_string(result.path.read_bytes())
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 16
    assert result.passed and result.speed["batch_rows"] == 16
    assert result.speed["onnx"]["single_row_us"] is None and result.speed["onnx"]["batch_us"] > 0
