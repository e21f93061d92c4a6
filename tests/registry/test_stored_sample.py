"""The version keeps up to 1,000 rows of its data (bounded in bytes) for export parity checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError


def _fit(n=3000, d=30):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), X


def test_snapshot_keeps_a_thousand_rows_and_export_judges_parity_on_them():
    model, X = _fit()
    mv = mo.snapshot(model, "sampled", data=X)
    art = mv.artifacts["sample"]
    assert art["metadata"]["rows"] == 1000 and len(mv.sample_input["data"]) == 5
    stored = json.loads(mo.artifact_path(mv, "sample").read_bytes())
    np.testing.assert_array_equal(np.asarray(stored["data"]), X[:1000])
    result = mo.export(mv.ref, benchmark=False)
    assert result.parity["onnx"]["stored sample"]["rows"] == 1000
    assert "parity ok on 1,000 rows of the stored sample" in result.to_text()


def test_wide_data_keeps_fewer_rows_within_the_byte_bound_and_zero_keeps_none():
    model, X = _fit(n=1200, d=600)
    mv = mo.snapshot(model, "wide", data=X)
    assert 5 < mv.artifacts["sample"]["metadata"]["rows"] < 1000
    assert mv.artifacts["sample"]["size"] <= 1 << 20
    assert "sample" not in mo.snapshot(model, "wide", data=X, sample_rows=0).artifacts


@pytest.mark.parametrize("bad", [-1, 2.5, True, "10"])
def test_sample_rows_is_checked(bad):
    model, X = _fit(n=50, d=3)
    with pytest.raises(ValidationError, match="sample_rows must be a whole number"):
        mo.snapshot(model, "bad", data=X, sample_rows=bad)
