"""robustness() on streamed input (Parquet, Arrow, polars) and on Dask: the in-memory report on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_modelops import robustness
from jupyter_modelops.exceptions import ValidationError

N, FILES = 4000, 4
NUM = ["a0", "a1", "a2", "a3"]  # not the positional names x0, x1 ... of a NumPy array
# given the rows and the column statistics, these perturbations draw nothing: the streamed report must equal
# the in-memory one exactly (point values and intervals, which come from the same cell counts and seeds)
EXACT = dict(
    perturbations="shift,scale,dropout",
    severities={"shift": [0.1, 0.5, 1.0], "scale": [0.9, 10.0], "dropout": [1.0]},
    n_boot=300,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    df = pd.DataFrame({c: rng.normal(i, 1 + i, N) for i, c in enumerate(NUM)})
    df["label"] = (df.a0 + 0.3 * df.a1 + rng.logistic(size=N) > 0).astype(np.int64)
    folder = tmp_path_factory.mktemp("parquet")
    for i in range(FILES):
        df.iloc[i * N // FILES : (i + 1) * N // FILES].to_parquet(folder / f"part-{i}.parquet", index=False)
    model = LogisticRegression().fit(df[NUM].to_numpy(), df.label)
    return model, df, folder


def same_rows(a, b, rel=1e-9):
    a, b = getattr(a, "rows", a), getattr(b, "rows", b)
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert set(ra) == set(rb), (ra, rb)
        for k, v in ra.items():
            if isinstance(v, float):
                assert v == pytest.approx(rb[k], rel=rel, abs=1e-12), (ra["perturbation"], ra["severity"], k)
            else:
                assert v == rb[k], (ra["perturbation"], ra["severity"], k)


def test_parquet_folder_equals_in_memory_for_deterministic_perturbations(data):
    model, df, folder = data
    streamed = robustness(model, folder, "label", batch_rows=700, **EXACT)
    memory = robustness(model, df[NUM].to_numpy(), df.label.to_numpy(), **EXACT)
    same_rows(streamed, memory)
    assert streamed.n_rows == N and streamed.base_metric == pytest.approx(memory.base_metric)
    assert streamed.row("shift", 1.0)["metric_drop"] > 0.05  # the check is not vacuous
    # fewer rows than sensitivity_rows: the sample is every row, in the data's order, so the ranking is equal
    # the streamed report names the Parquet columns; the NumPy one numbers them (x0 ...)
    assert [f["feature"][1:] for f in streamed.features] == [f["feature"][1:] for f in memory.features]
    for fa, fb in zip(streamed.features, memory.features):
        assert fa["dropout_flip_rate"] == fb["dropout_flip_rate"]
        assert fa["noise_mean_abs_delta"] == pytest.approx(fb["noise_mean_abs_delta"], rel=1e-9)


def test_random_perturbations_rerun_identically_and_agree_with_in_memory(data):
    model, df, folder = data
    kw = dict(perturbations="noise,missing", impute="mean", n_boot=300, sensitivity=False)
    a = robustness(model, folder, "label", batch_rows=1000, **kw)
    b = robustness(model, folder, "label", batch_rows=1000, **kw)
    same_rows(a, b, rel=0)
    memory = robustness(model, df[NUM].to_numpy(), df.label.to_numpy(), **kw)
    for ra, rm in zip(a.rows, memory.rows):
        assert ra["status"] == "ok" and ra["imputed"] == ("mean" if ra["perturbation"] == "missing" else None)
        # other random draws of the same perturbation: within the in-memory interval's width
        width = rm["flip_rate_high"] - rm["flip_rate_low"]
        assert abs(ra["flip_rate"] - rm["flip_rate"]) <= width
        assert ra["metric_clean"] == rm["metric_clean"]
    # another batch size cuts other streams: another (equally valid) draw
    c = robustness(model, folder, "label", batch_rows=500, **kw)
    assert c.row("noise", 0.2)["flip_rate"] != a.row("noise", 0.2)["flip_rate"]


@pytest.mark.parametrize("kind", ["arrow_table", "dataset", "polars", "polars_lazy", "file"])
def test_every_streamed_kind_gives_the_same_report(data, kind, tmp_path):
    import pyarrow as pa
    import pyarrow.dataset as ds

    model, df, folder = data
    ref = robustness(model, folder, "label", batch_rows=1000, **EXACT)
    if kind == "arrow_table":
        X = pa.Table.from_pandas(df, preserve_index=False)
    elif kind == "dataset":
        X = ds.dataset(str(folder), format="parquet")
    elif kind == "file":
        df.to_parquet(tmp_path / "one.parquet", index=False)
        X = tmp_path / "one.parquet"
    else:
        import polars as pl

        X = pl.from_pandas(df)
        if kind == "polars_lazy":
            X = X.lazy()
    same_rows(robustness(model, X, "label", batch_rows=1000, **EXACT), ref)


def test_without_labels_flip_rates_only(data):
    import pyarrow as pa

    model, df, folder = data
    streamed = robustness(model, pa.Table.from_pandas(df[NUM], preserve_index=False), None, **EXACT)
    memory = robustness(model, df[NUM].to_numpy(), None, **EXACT)
    assert not streamed.has_labels and streamed.base_metric is None
    assert "metric_drop" not in streamed.row("shift", 1.0) and streamed.row("shift", 1.0)["flip_rate"] > 0.05
    same_rows(streamed, memory)


def test_pipeline_with_categorical_column_gets_its_dataframe(mixed, tmp_path):
    model, df, y = mixed
    full = df.assign(target=y, row_id=np.arange(len(df)))  # an extra id column the model was not fitted on
    full.to_parquet(tmp_path / "m.parquet", index=False)
    kw = dict(perturbations="dropout,shift,flip", severities={"dropout": [1.0], "shift": [0.5]}, n_boot=200)
    streamed = robustness(model, tmp_path / "m.parquet", "target", batch_rows=800, **kw)
    memory = robustness(model, df, y, **kw)
    same_rows(
        [r for r in streamed.rows if r["perturbation"] != "flip"],
        [r for r in memory.rows if r["perturbation"] != "flip"],
    )
    for ra, rm in zip(streamed.rows, memory.rows):
        assert ra["status"] == "ok"
        if ra["perturbation"] != "flip":
            assert ra["flip_rate"] == rm["flip_rate"] and ra["metric_drop"] == rm["metric_drop"]
        else:  # random category flips: another draw, within the interval's width
            assert abs(ra["flip_rate"] - rm["flip_rate"]) <= rm["flip_rate_high"] - rm["flip_rate_low"]
    assert streamed.features[0]["feature"] == "x0" and len(streamed.features) == 4  # row_id is not a feature


def test_regression_points_exact_and_intervals_within_tolerance(tmp_path):
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    n = 6000
    df = pd.DataFrame({c: rng.normal(size=n) for c in NUM})
    df["t"] = 2 * df.a0 - df.a2 + rng.standard_t(3, n)  # heavy-tailed residuals
    df.to_parquet(tmp_path / "r.parquet", index=False)
    model = Ridge().fit(df[NUM].to_numpy(), df.t)
    kw = dict(perturbations="shift,noise", severities=[0.2, 1.0], n_boot=1000, sensitivity=False)
    streamed = robustness(model, tmp_path / "r.parquet", "t", batch_rows=1500, **kw)
    memory = robustness(model, df[NUM].to_numpy(), df.t.to_numpy(), **kw)
    assert streamed.task == memory.task == "regression"
    assert streamed.base_metric["value"] == pytest.approx(memory.base_metric["value"], rel=1e-12)
    for ra, rm in zip(streamed.rows, memory.rows):
        for k in ("metric_drop", "mean_abs_delta"):
            width = rm[f"{k}_high"] - rm[f"{k}_low"]
            if ra["perturbation"] == "shift":  # deterministic: exact point values
                assert ra[k] == pytest.approx(rm[k], rel=1e-9)
                assert ra["metric_clean"] == pytest.approx(rm["metric_clean"], rel=1e-12)
                tol = 0.1 * width  # the stated tolerance: interval ends within 10% of the width
            else:
                tol = width
            assert abs(ra[f"{k}_low"] - rm[f"{k}_low"]) <= tol + 1e-12, (ra, rm)
            assert abs(ra[f"{k}_high"] - rm[f"{k}_high"]) <= tol + 1e-12, (ra, rm)
            assert ra[f"{k}_low"] <= ra[k] <= ra[f"{k}_high"]


def test_bad_streamed_input_gets_one_sentence(data):
    model, df, folder = data
    with pytest.raises(ValidationError, match="label column 'target' is not in X"):
        robustness(model, folder, "target", n_boot=100)
    with pytest.raises(ValidationError, match="read only once"):
        robustness(model, _reader(folder), "label")
    with pytest.raises(ValidationError, match="impute='median' needs whole columns"):
        robustness(model, folder, "label", perturbations="missing", impute="median")


def _reader(folder):
    import pyarrow.dataset as ds

    return ds.dataset(str(folder), format="parquet").scanner().to_reader()


# -- Dask: a real distributed cluster with worker processes ---------------------------------------------------------


def test_dask_dataframe_equals_the_local_streamed_report(data, dask_client):
    import dask.dataframe as dd

    model, df, folder = data
    ddf = dd.from_pandas(df, npartitions=FILES)
    assert [len(p) for p in ddf.partitions] == [N // FILES] * FILES  # partition i = file i
    kw = dict(perturbations="noise,missing,shift", impute="mean", n_boot=300, sensitivity_rows=1500)
    on_dask = robustness(model, ddf, "label", batch_rows=N // FILES, **kw)
    local = robustness(model, folder, "label", batch_rows=N // FILES, **kw)
    # the same per-batch random streams: equal, random perturbations included
    same_rows(on_dask, local, rel=1e-12)
    assert on_dask.features == local.features and len(local.features) == 4
    assert on_dask.base_metric == local.base_metric
    # both worker processes took part
    assert len(dask_client.scheduler_info()["workers"]) == 2
    # partitions larger than a batch are cut into batches on the worker
    cut = robustness(model, ddf, "label", batch_rows=300, **EXACT)
    same_rows(cut, robustness(model, folder, "label", **EXACT))
    with pytest.raises(ValidationError, match="name of its label column"):
        robustness(model, ddf, df.label.to_numpy())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moment_cells_interval_matches_a_naive_bootstrap(seed):
    """The regression cells (per sign and power of two: count, sum, sum of squares), merged over batches,
    give the interval of a naive row bootstrap within 10% of its width, heavy tails included."""
    from jupyter_modelops.robustness_testing._paired import exponent_cells, mean_interval_moments

    rng = np.random.default_rng(seed)
    v = rng.standard_t(3, 3000) + 0.2  # signs mixed, heavy tails
    cells = sum(exponent_cells(part) for part in np.array_split(v, 7))
    np.testing.assert_allclose(cells, exponent_cells(v), rtol=1e-12)  # batches add up to the whole
    point, lo, hi = mean_interval_moments(cells, n_boot=4000, ci=0.95, random_state=seed)
    idx = np.random.default_rng(100 + seed).integers(0, v.size, (4000, v.size))
    naive_lo, naive_hi = np.percentile(v[idx].mean(axis=1), [2.5, 97.5])
    width = naive_hi - naive_lo
    assert point == pytest.approx(v.mean(), rel=1e-12)
    assert abs(lo - naive_lo) <= 0.1 * width and abs(hi - naive_hi) <= 0.1 * width
    assert 0.9 <= (hi - lo) / width <= 1.1


def test_torch_module_streams_and_refuses_adversarial_perturbations():
    import pyarrow as pa

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = torch.nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-2.0, 0.0, 0.0], [2.0, 0.3, 0.0]]))
        net.bias.zero_()
    table = pa.table({"u": X[:, 0], "v": X[:, 1], "w": X[:, 2], "y": y})
    kw = dict(perturbations="default", severities=[0.5], n_boot=100, sensitivity=False)
    streamed = robustness(net, table, "y", batch_rows=700, **kw)
    memory = robustness(net, torch.from_numpy(X), y, **kw)
    assert streamed.row("shift", 0.5)["flip_rate"] == memory.row("shift", 0.5)["flip_rate"] > 0
    skipped = {r["perturbation"]: r["note"] for r in streamed.rows if r["status"] == "skipped"}
    assert "streamed" in skipped["fgsm"] and "streamed" in skipped["pgd"]
    with pytest.raises(ValidationError, match="does not run on a streamed X"):
        robustness(net, table, "y", perturbations="fgsm")
