"""slices(): per-segment metrics with intervals; only truly worse segments flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_modelops import slices
from jupyter_modelops.exceptions import ValidationError


class Oracle:
    """Predicts the truth except in region 'north', where it is wrong 40% of the time."""

    def __init__(self, y, wrong):
        self.y, self.wrong = y, wrong

    def predict(self, X):
        return np.where(self.wrong[: len(X)], 1 - self.y[: len(X)], self.y[: len(X)])


def test_worse_segment_is_flagged_with_intervals():
    rng = np.random.default_rng(0)
    n = 4000
    df = pd.DataFrame({"region": rng.choice(["north", "south", "east", "west"], n), "age": rng.uniform(18, 80, n)})
    y = rng.integers(0, 2, n)
    wrong = ((df.region == "north") & (rng.random(n) < 0.4)) | (rng.random(n) < 0.05)
    rep = slices(Oracle(y, wrong.to_numpy()), df, y, by=["region", "age"], n_boot=300)
    flagged = [(s["column"], s["segment"]) for s in rep.flagged]
    assert flagged == [("region", "north")]
    north = rep.segments[0]
    assert north["segment"] == "north" and north["p_adj"] < 0.05
    mask = (df.region == "north").to_numpy()
    assert north["accuracy"] == pytest.approx(np.mean(~wrong.to_numpy()[mask]))
    assert north["accuracy_low"] <= north["accuracy"] <= north["accuracy_high"]
    ages = [s for s in rep.segments if s["column"] == "age"]
    assert len(ages) == 4 and sum(s["n"] for s in ages) == n
    assert rep.check("worst_accuracy >= 0.5").passed is True
    assert rep.check("n_flagged <= 0").passed is False
    html = rep.to_html()
    assert "data:image/svg+xml;base64," in html and "worse" in html and "<script" not in html


def test_no_false_flags_on_a_uniform_model():
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame({"g": rng.choice(list("abcdefgh"), n), "v": rng.normal(size=n)})
    y = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.2
    rep = slices(Oracle(y, wrong), X, y, n_boot=100)
    assert rep.flagged == []


def test_bad_by_column():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValidationError, match="by names the column 'b', which X does not have"):
        slices(lambda X: np.zeros(len(X)), X, np.zeros(3), by="b")
