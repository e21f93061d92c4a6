"""SequentialDrift: false alarms of stable streams, detection, mergeable counts, state, bad input.

Stable streams are simulated exactly: a window of rows drawn from the
reference's distribution, binned on the reference profile's edges, has
multinomial bin counts with the true (normal) bin probabilities, so drawing
those counts gives the detector what rows would, thousands of times faster.
Every stream gets its own reference sample, so the reference's own noise is
part of each stream, as in use.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from jupyter_modelops import profile
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.monitoring import SequentialDrift


def _true_probs(edges, shift=0.0):
    return np.diff(np.concatenate(([0.0], norm.cdf(np.asarray(edges) - shift), [1.0])))


def _stream(det, rng, windows, *, rows=500, shifted=(), shift=0.25):
    return {
        c.name: rng.multinomial(rows, _true_probs(c.edges, shift if c.name in shifted else 0.0), size=windows)
        for c in det.cols
    }


def _false_alarms(rng, *, streams, columns, horizon, alpha, ref_rows=5000, rows=500):
    fired = 0
    for _ in range(streams):
        det = SequentialDrift(
            profile(rng.normal(size=(ref_rows, columns))), alpha=alpha, horizon=horizon, window_rows=rows
        )
        if det.run(_stream(det, rng, horizon, rows=rows))["first_alarm"] is not None:
            fired += 1
    return fired


def test_stable_streams_rarely_false_alarm_over_30_days_of_hourly_checks():
    # 20 N(0,1) columns, 5,000-row references, 720 windows of 500 rows: at most 5% of streams may alarm.
    rng = np.random.default_rng(20261202)
    fired = _false_alarms(rng, streams=120, columns=20, horizon=720, alpha=0.05)
    # 120 streams at a true rate of 5% give more than 12 alarms with probability below 1%
    assert fired <= 12, f"{fired} of 120 stable streams false-alarmed"


def test_threshold_spends_the_false_alarm_budget_as_simulated():
    # a larger budget, so that the realized rate can be measured precisely: the threshold must be neither
    # too low (more false alarms than alpha) nor wastefully high (far fewer)
    rng = np.random.default_rng(7)
    streams = 1500
    fired = _false_alarms(rng, streams=streams, columns=1, horizon=100, alpha=0.3, ref_rows=2000, rows=200)
    rate = fired / streams
    se = math.sqrt(0.3 * 0.7 / streams)
    # the threshold keeps a margin (SIMULATION_MARGIN) below alpha for the normal limit the simulation uses
    assert 0.6 * 0.3 <= rate <= 0.3 + 2 * se, f"false-alarm rate {rate:.3f} for a budget of 0.3"


def test_per_window_tests_would_false_alarm_where_the_sequential_one_does_not():
    # the same stable counts, tested window by window with Pearson's chi-squared at 5% (what per-run checks do)
    from scipy.stats import chi2

    rng = np.random.default_rng(3)
    det = SequentialDrift(profile(rng.normal(size=(5000, 20))), window_rows=500)
    counts = _stream(det, rng, 48)
    per_window = 0
    for t in range(48):
        for col in det.cols:
            c = counts[col.name][t]
            x = float(np.sum((c - 500 * col.p) ** 2 / (500 * col.p)))
            per_window += chi2.sf(x, col.df) < 0.05
    assert per_window > 10  # two days of hourly checks: dozens of column alarms on stable data
    assert det.run(counts)["first_alarm"] is None


def test_detects_a_quarter_sd_shift_in_three_of_twenty_columns_within_two_windows():
    rng = np.random.default_rng(11)
    delays = []
    for _ in range(20):
        det = SequentialDrift(profile(rng.normal(size=(5000, 20))), window_rows=500)
        det.run(_stream(det, rng, 50))  # a stable stretch first
        assert not det.status().alarm
        shifted = {"x0", "x7", "x13"}
        res = det.run(_stream(det, rng, 10, shifted=shifted))
        assert res["first_alarm"] is not None
        delays.append(res["first_alarm"] + 1)
        top = sorted(det.status().columns.items(), key=lambda kv: -kv[1]["statistic"])[:3]
        assert {name for name, _ in top} & shifted
    assert np.median(delays) <= 1.5 and max(delays) <= 2, delays


def test_rows_and_merged_counts_give_the_same_state():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"a": rng.normal(size=4000), "b": rng.choice(["x", "y", "z"], 4000, p=[0.5, 0.3, 0.2])})
    a = SequentialDrift(profile(ref), window_rows=400)
    b = SequentialDrift(profile(ref), window_rows=400)
    for _ in range(5):
        win = pd.DataFrame({"a": rng.normal(0.3, 1, 400), "b": rng.choice(["x", "y", "z", "new"], 400)})
        sa = a.update(win, at=1000.0)
        halves = [b.window_counts(win.iloc[:150]), b.window_counts(win.iloc[150:])]
        merged = {k: (np.asarray(halves[0][k]) + np.asarray(halves[1][k])).tolist() for k in halves[0]}
        sb = b.update(counts=merged, at=1000.0)
        assert sa.statistic == pytest.approx(sb.statistic, rel=1e-12)
    assert sa.columns["b"]["cusum_up"] is None  # categorical: shape only
    assert sa.columns["a"]["z"] > 3  # the shifted numeric column moves its location measure


def test_result_exposes_statistic_threshold_and_time_since_reset():
    rng = np.random.default_rng(1)
    det = SequentialDrift(profile(rng.normal(size=(3000, 2))), window_rows=300, horizon=168, alpha=0.01)
    det.update(rng.normal(size=(300, 2)), at=0.0)
    st = det.update(rng.normal(size=(300, 2)), at=3600.0).to_dict()
    assert st["windows_since_reset"] == 2 and st["seconds_since_reset"] == 3600.0
    assert st["threshold"] > 0 and 0 <= st["statistic"] < st["threshold"] and st["alarm"] is False
    assert st["expected_checks_to_false_alarm"] == pytest.approx(168 / -math.log(0.99))
    assert set(st["columns"]) == {"x0", "x1"}
    json.dumps(st)
    for _ in range(3):
        st = det.update(rng.normal(size=(300, 2)) + 1.0, at=7200.0)
    assert st.alarm and st.alarm_since_window == 3
    det.reset(at=9000.0)
    st = det.status(at=9060.0)
    assert not st.alarm and st.statistic == 0 and st.windows_since_reset == 0 and st.seconds_since_reset == 60.0
    assert "no alarm" in repr(st) and "<table" in st._repr_html_()


def test_a_larger_window_than_calibrated_never_inflates_the_measures():
    rng = np.random.default_rng(2)
    det = SequentialDrift(profile(rng.normal(size=(5000, 1))), window_rows=200, horizon=10)
    col = det.cols[0]
    big = rng.multinomial(5000, col.p, size=400).astype(float)
    z, d, _ = col.measures(big, 200)
    small = rng.multinomial(200, col.p, size=400).astype(float)
    z2, d2, _ = col.measures(small, 200)
    # down-weighted to 200 rows' worth of evidence: the same offset from a noisy reference weighs no more
    assert abs(np.std(z2) - 1) < 0.15 and abs(np.std(z) - math.sqrt(200 / 5000)) < 0.05
    assert np.mean(d) < np.mean(d2)


def test_state_survives_a_round_trip_and_refuses_damage(tmp_path):
    rng = np.random.default_rng(4)
    det = SequentialDrift(profile(rng.normal(size=(2000, 3))), window_rows=200, horizon=100)
    wins = [rng.normal(size=(200, 3)) + 0.2 for _ in range(4)]
    for w in wins[:2]:
        det.update(w, at=10.0)
    path = det.save(tmp_path / "state.json")
    again = SequentialDrift.load(path)
    for w in wins[2:]:
        a = det.update(w, at=20.0)
        b = again.update(w, at=20.0)
    assert a.to_dict() == b.to_dict()

    good = json.loads(path.read_text())
    bad = json.loads(path.read_text())
    bad["columns"][0]["state"] = [-1.0, 0.0, 0.0]
    with pytest.raises(ValidationError, match="damaged"):
        SequentialDrift.from_dict(bad)
    bad = json.loads(path.read_text())
    bad["columns"][1]["edges"] = bad["columns"][1]["edges"][::-1]
    with pytest.raises(ValidationError, match="damaged"):
        SequentialDrift.from_dict(bad)
    bad = dict(good, threshold=float("nan"))
    with pytest.raises(ValidationError, match="damaged"):
        SequentialDrift.from_dict(bad)
    bad = dict(good)
    del bad["columns"]
    with pytest.raises(ValidationError, match="damaged"):
        SequentialDrift.from_dict(bad)
    with pytest.raises(ValidationError, match="not a sequential drift state"):
        SequentialDrift.from_dict({"kind": "something else"})
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValidationError, match="not valid JSON"):
        SequentialDrift.load(tmp_path / "junk.json")


def test_bad_input_gets_one_clear_sentence():
    rng = np.random.default_rng(0)
    prof = profile(pd.DataFrame({"a": rng.normal(size=500)}))
    with pytest.raises(ValidationError, match="alpha must be a number between"):
        SequentialDrift(prof, alpha=0.9)
    with pytest.raises(ValidationError, match="horizon must be an integer"):
        SequentialDrift(prof, horizon=0)
    with pytest.raises(ValidationError, match="reference must be a Profile"):
        SequentialDrift(rng.normal(size=(10, 2)))
    with pytest.raises(ValidationError, match="no column 'b'"):
        SequentialDrift(prof, columns=["b"])
    det = SequentialDrift(prof, window_rows=100, horizon=20)
    with pytest.raises(ValidationError, match="window has no column 'a'"):
        det.update(pd.DataFrame({"b": [1.0, 2.0]}))
    with pytest.raises(ValidationError, match=r"counts\['a'\] must be"):
        det.update(counts={"a": [1, 2, 3]})
    with pytest.raises(ValidationError, match="either a window"):
        det.update()
    with pytest.raises(ValidationError, match="set by window_rows"):
        SequentialDrift(prof, horizon=20).update(counts={"a": [1] * 10})


def test_alarm_continues_one_test_across_scheduled_checks(tmp_path):
    from sklearn.linear_model import LinearRegression

    import jupyter_modelops as mo

    rng = np.random.default_rng(9)
    x_ref = pd.DataFrame(rng.normal(size=(3000, 3)), columns=["a", "b", "c"])
    model = LinearRegression().fit(x_ref, x_ref["a"] * 2 + 1)
    mo.snapshot(model, "watched", data=x_ref)
    state = tmp_path / "watched-alarm.json"
    for hour in range(3):
        st = mo.alarm(
            "watched:1",
            pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"]),
            state=state,
            horizon=168,
            at=hour * 3600.0,
        )
        assert st.windows_since_reset == hour + 1 and not st.alarm
    window = tmp_path / "shifted.csv"
    pd.DataFrame(rng.normal(size=(300, 3)) + [0.0, 0.8, 0.0], columns=["a", "b", "c"]).to_csv(window, index=False)
    st = mo.alarm("watched:1", str(window), state=state, at=4 * 3600.0)
    assert st.alarm and st.windows_since_reset == 4 and st.seconds_since_reset == 4 * 3600.0
    assert max(st.columns, key=lambda c: st.columns[c]["statistic"]) == "b"
    st = mo.alarm(
        "watched:1",
        pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"]),
        state=state,
        reset=True,
        at=5 * 3600.0,
    )
    assert not st.alarm and st.windows_since_reset == 1
    with pytest.raises(ValidationError, match="belongs to 'watched:1'"):
        mo.alarm("other:1", str(window), state=state)
    with pytest.raises(ValidationError, match="state must be a .json file"):
        mo.alarm("watched:1", str(window), state=tmp_path / "state.txt")


def test_ignoring_the_reference_own_noise_would_false_alarm_far_more():
    # the same stable streams, judged by the calibrated threshold and by one simulated as if the
    # 5,000-row reference were exact: the second fires several times as often
    from jupyter_modelops.monitoring.alarms import SIMULATION_MARGIN, family_threshold, simulate_maxima, tail_model

    naive_tail = tail_model(simulate_maxima(9, 0.0, location=True, k=2.0, horizon=720, seed=0))
    naive = family_threshold([naive_tail] * 20, 0.05 * SIMULATION_MARGIN)
    rng = np.random.default_rng(12)
    fired = fired_naive = 0
    for _ in range(80):
        det = SequentialDrift(profile(rng.normal(size=(5000, 20))), window_rows=500)
        assert det.threshold > naive
        counts = _stream(det, rng, 720)
        fresh = SequentialDrift.from_dict(det.to_dict())
        fired += det.run(counts)["first_alarm"] is not None
        fresh.threshold = naive
        fired_naive += fresh.run(counts)["first_alarm"] is not None
    assert fired_naive >= max(3 * fired, 12), (fired, fired_naive)
