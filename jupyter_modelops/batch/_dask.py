"""``engine="dask"``: one task per partition on a ``dask.distributed`` cluster.

The model directory's files are sent once to every worker (``scatter(broadcast=True)``);
each worker process opens the runtime once and keeps it for its next partitions.
Workers read the source and write the output themselves: a shared folder or an
object-storage URL that every worker reaches.
"""

from __future__ import annotations

from typing import Any

from .._optional import require
from . import core


def _score(p: core.ScoringPlan, index: int, files: dict, runtime: str | None, threads: int) -> tuple[int, int, str]:
    model = core.open_model(files, runtime=runtime, threads=threads)
    return index, core.score_partition(p, p.partitions[index], model), model.name


def run_dask(
    p: core.ScoringPlan,
    files: dict[str, bytes],
    todo: list[int],
    *,
    client: Any = None,
    runtime: str | None = None,
    threads: int = 1,
    bar: Any = None,
) -> tuple[int, str | None]:
    """Score partitions ``todo`` on a Dask cluster; ``(rows, runtime name)``."""
    distributed = require("distributed", purpose='score with engine="dask"', extra="dask")
    own = None
    if client is None:
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        own = (cluster, distributed.Client(cluster))
        client = own[1]
    elif isinstance(client, str):
        own = (None, distributed.Client(client))
        client = own[1]
    try:
        model = client.scatter(files, broadcast=True)
        futures = [
            client.submit(_score, p, i, model, runtime, threads, key=f"modelops-batch-{p.ref}-{i}-{id(p)}", pure=False)
            for i in todo
        ]
        rows, name = 0, None
        for fut in distributed.as_completed(futures):
            _i, n, name = fut.result()
            rows += n
            if bar is not None:
                bar.update(n)
        return rows, name
    finally:
        if own is not None:
            own[1].close()
            if own[0] is not None:
                own[0].close()
