"""On small data, a column's colour follows its verdict (no red cell beside 'ok')."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from jupyter_modelops import drift


def test_a_noisy_psi_on_small_data_is_explained_not_painted_red():
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"x": rng.normal(size=25)})
    cur = pd.DataFrame({"x": rng.normal(size=25)})  # the same distribution: no drift
    rep = drift(ref, cur)
    col = rep.column("x")
    assert col["drift"] is False and col["psi"] >= rep.thresholds["psi"]  # a noisy PSI, not significant
    html = rep.to_html()
    row = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S) if ">x</td>" in r)
    assert "ok" in row and "fail" not in row and "warn" not in row
    assert "but the test is not significant" in row
