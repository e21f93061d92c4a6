"""predict_batch in this process: predictions, partitions, resuming, and one sentence for bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops.batch import core
from jupyter_modelops.exceptions import ValidationError

from .conftest import FEATURES, frame


def read_out(out):
    files = sorted(p for p in os.listdir(out) if p.startswith("part-"))
    return pd.concat([pd.read_parquet(out / f) for f in files], ignore_index=True), files


def test_predictions_ids_and_version_match_the_model(version, model, source, tmp_path):
    src, df = source
    out = tmp_path / "out"
    res = mo.predict_batch(version, src, out, partition_rows=1500, batch_size=700, progress=False)
    # 3000 rows cut at row groups of 1000 into 1000+... no: runs of at most 1500 rows -> 1000 each; 2 files -> 5
    assert res.partitions == 5 and res.scored == 5 and res.skipped == 0 and res.rows_scored == 5000
    assert res.runtime == "onnxruntime"  # the export is preferred, as the model server does
    got, files = read_out(out)
    assert files == [f"part-0000{i}.parquet" for i in range(5)]
    assert list(got.columns) == ["customer_id", "predict", "predict_proba_0", "predict_proba_1", "model_version"]
    assert got.customer_id.tolist() == df.customer_id.tolist()  # partitions in source order, rows in file order
    assert (got.predict.to_numpy() == model.predict(df[FEATURES])).all()
    np.testing.assert_allclose(
        got[["predict_proba_0", "predict_proba_1"]].to_numpy(), model.predict_proba(df[FEATURES]), atol=1e-6
    )
    assert set(got.model_version.astype(str)) == {"churn:1"}
    manifest = json.loads((out / "_batch.json").read_text())
    assert manifest["ref"] == "churn:1" and manifest["partitions"] == 5 and manifest["id_columns"] == ["customer_id"]


def test_native_runtime_gives_the_same_labels(version, model, source, tmp_path):
    src, df = source
    res = mo.predict_batch(version, src / "day=2.parquet", tmp_path / "o", runtime="native", progress=False)
    assert res.runtime == "sklearn" and res.partitions == 1
    got, _ = read_out(tmp_path / "o")
    assert (got.predict.to_numpy() == model.predict(df[FEATURES].iloc[3000:])).all()


def test_rerun_skips_finished_partitions_and_redoes_a_missing_one(version, source, tmp_path):
    src, _ = source
    out = tmp_path / "out"
    mo.predict_batch(version, src, out, partition_rows=1500, progress=False)
    before = (out / "part-00003.parquet").read_bytes()
    kept = (out / "part-00001.parquet").stat().st_mtime_ns
    (out / "part-00003.parquet").unlink()
    (out / ".part-00003.parquet.999.tmp").write_bytes(b"half a file")  # left by a killed run: not a partition
    res = mo.predict_batch(version, src, out, partition_rows=1500, progress=False)
    assert (res.scored, res.skipped, res.rows_scored) == (1, 4, 1000)
    assert pd.read_parquet(out / "part-00003.parquet").equals(pd.read_parquet(pd.io.common.BytesIO(before)))
    assert (out / "part-00001.parquet").stat().st_mtime_ns == kept
    again = mo.predict_batch(version, src, out, partition_rows=1500, progress=False)
    assert (again.scored, again.skipped, again.rows_scored) == (0, 5, 0)


def test_an_interrupted_partition_leaves_no_partition_file(version, source, tmp_path):
    src, _ = source
    p = core.plan(version, str(src), str(tmp_path / "out"), partition_rows=1500, batch_size=300)
    model = core.open_model(core.model_files(p.ref))
    seen = []

    def stop(n):
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        core.score_partition(p, p.partitions[0], model, on_batch=stop)
    assert sorted(os.listdir(tmp_path / "out")) == ["_batch.json"]  # neither the partition nor its temporary file
    assert core.finished(p) == set()


def test_missing_source_is_one_sentence(version, tmp_path):
    with pytest.raises(ValidationError, match=r"^The source '.*nowhere' does not exist; expected a Parquet file"):
        mo.predict_batch(version, tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="holds no Parquet files"):
        mo.predict_batch(version, tmp_path / "empty", tmp_path / "out")


def test_no_id_column_is_refused(version, tmp_path):
    frame(10)[FEATURES].to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ValidationError, match="has no id column") as err:
        mo.predict_batch(version, tmp_path / "x.parquet", tmp_path / "out")
    assert "id_columns=" in str(err.value)
    with pytest.raises(ValidationError, match=r"id_columns=\['row'\] names columns the source .* lacks \(row\)"):
        mo.predict_batch(version, tmp_path / "x.parquet", tmp_path / "out", id_columns=["row"])
    assert not (tmp_path / "out").exists()
    res = mo.predict_batch(version, tmp_path / "x.parquet", tmp_path / "out", id_columns="a", progress=False)
    assert res.rows_scored == 10


def test_schema_mismatch_with_the_signature_is_one_sentence(version, tmp_path):
    frame(10).drop(columns=["c"]).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ValidationError, match=r"lacks 1 of the feature columns that churn:1 was trained on \(c\)"):
        mo.predict_batch(version, tmp_path / "x.parquet", tmp_path / "out")
    frame(10).assign(b="high").to_parquet(tmp_path / "y.parquet")
    with pytest.raises(
        ValidationError, match=r"Column 'b' of the source .* is (large_)?string, but churn:1 expects numbers"
    ):
        mo.predict_batch(version, tmp_path / "y.parquet", tmp_path / "out")


def test_output_of_another_version_or_source_is_not_mixed(version, model, source, tmp_path):
    src, _ = source
    out = tmp_path / "out"
    mo.predict_batch(version, src, out, partition_rows=1500, progress=False)
    v2 = mo.snapshot(model, "churn", data=frame(50)[FEATURES]).ref
    with pytest.raises(ValidationError, match=r"holds predictions of churn:1, not churn:2"):
        mo.predict_batch(v2, src, out, partition_rows=1500)
    with pytest.raises(ValidationError, match="another source or partitioning"):
        mo.predict_batch(version, src, out, partition_rows=3000)
    frame(7, seed=9).to_parquet(src / "day=3.parquet")
    with pytest.raises(ValidationError, match="another source or partitioning"):
        mo.predict_batch(version, src, out, partition_rows=1500)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValidationError, match="is a file; expected a folder"):
        mo.predict_batch(version, src, tmp_path / "f")


def test_untrusted_version_is_refused_exactly_as_load_refuses_it(tmp_path, source):
    src, _ = source
    from jupyter_modelops.registry import export_bundle, import_bundle

    # a pickled model that came in a bundle: load() refuses it, and so does predict_batch, with the same sentence
    mo.snapshot({"w": 1}, "risky", trusted=True)
    export_bundle("risky:1", tmp_path / "r.mobundle")
    import_bundle(tmp_path / "r.mobundle", name="outside")
    ref = "outside:1"
    assert not mo.get(ref).trusted
    with pytest.raises(ValidationError) as by_load:
        mo.load(ref)
    with pytest.raises(ValidationError) as by_batch:
        mo.predict_batch(ref, src, tmp_path / "out")
    assert str(by_batch.value) == str(by_load.value) and "not loaded" in str(by_load.value)
    assert not (tmp_path / "out").exists()


def test_bad_options_are_one_sentence(version, source, tmp_path):
    src, _ = source
    with pytest.raises(ValidationError, match=r"engine='spark' is not known; expected one of local, dask, kubernetes"):
        mo.predict_batch(version, src, tmp_path / "o", engine="spark")
    with pytest.raises(ValidationError, match="batch_size is 0; expected a positive integer"):
        mo.predict_batch(version, src, tmp_path / "o", batch_size=0)
    with pytest.raises(ValidationError, match=r"^claim, dry_run apply only to engine='kubernetes'; engine is 'local'"):
        mo.predict_batch(version, src, tmp_path / "o", claim="scores", dry_run=True)
    with pytest.raises(ValidationError, match=r"^client applies only to engine='dask'"):
        mo.predict_batch(version, src, tmp_path / "o", client="tcp://127.0.0.1:1")


def test_predict_batch_is_exported_lazily():
    import subprocess
    import sys

    code = (
        "import sys, jupyter_modelops as mo; f = mo.predict_batch; "
        "print(f.__module__, 'pyarrow' in sys.modules, 'distributed' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["jupyter_modelops.batch.api", "False", "False"]
