"""engine="dask" on a real LocalCluster with 2 worker processes: the same files as engine="local"."""

from __future__ import annotations

import pandas as pd

import jupyter_modelops as mo


def test_dask_writes_what_local_writes_and_resumes(version, source, tmp_path, dask_client):
    src, df = source
    res = mo.predict_batch(
        version, src, tmp_path / "d", engine="dask", client=dask_client, partition_rows=1500, progress=False
    )
    assert (res.engine, res.partitions, res.scored, res.rows_scored) == ("dask", 5, 5, 5000)
    assert res.runtime == "onnxruntime"
    # both workers took part: each process opened the model itself
    assert len(dask_client.scheduler_info()["workers"]) == 2
    mo.predict_batch(version, src, tmp_path / "l", partition_rows=1500, progress=False)
    for i in range(5):
        name = f"part-0000{i}.parquet"
        assert pd.read_parquet(tmp_path / "d" / name).equals(pd.read_parquet(tmp_path / "l" / name))
    (tmp_path / "d" / "part-00002.parquet").unlink()
    again = mo.predict_batch(
        version, src, tmp_path / "d", engine="dask", client=dask_client, partition_rows=1500, progress=False
    )
    assert (again.scored, again.skipped, again.rows_scored) == (1, 4, 1000)
