"""``predict_batch``: score yesterday's rows with a registered version, here, on Dask or as a Kubernetes Job."""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

from .._html import Result, esc, table
from ..exceptions import ValidationError
from . import core

__all__ = ["predict_batch", "BatchResult", "ENGINES"]

ENGINES = ("local", "dask", "kubernetes")


class BatchResult(Result):
    """What a batch scoring run did: partitions scored and skipped, rows, time; or the Job it applied."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict:
        return dict(self.data)

    def _summary(self) -> str:
        d = self.data
        if d["engine"] == "kubernetes":
            verb = "rendered" if d.get("dry_run") else "applied"
            return (
                f"BatchResult {d['ref']}: Job {d['namespace']}/{d['job']} {verb}, {d['partitions']} partitions "
                f"(parallelism {d['parallelism']}) -> {d['output']}"
            )
        rate = f", {d['rows_per_second']:,.0f} rows/s" if d.get("rows_per_second") else ""
        return (
            f"BatchResult {d['ref']}: {d['rows_scored']:,} rows in {d['scored']} partitions scored, "
            f"{d['skipped']} already done ({d['engine']}{rate}) -> {d['output']}"
        )

    def to_text(self) -> str:
        return self._summary()

    def to_html(self) -> str:
        rows = [[k, v] for k, v in self.data.items() if k != "manifests"]
        return f"<div><b>{esc(self._summary())}</b>{table(rows, ['', 'value'])}</div>"


def predict_batch(
    ref: Any,
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    engine: str = "local",
    id_columns: Sequence[str] | str | None = None,
    batch_size: int = core.DEFAULT_BATCH_SIZE,
    partition_rows: int = core.DEFAULT_PARTITION_ROWS,
    runtime: str | None = None,
    trusted: bool = False,
    threads: int = 1,
    progress: bool | None = None,
    client: Any = None,
    cluster: str | None = None,
    kubeconfig: str | None = None,
    namespace: str = "default",
    profile: str = "cpu-small",
    image: str | None = None,
    parallelism: int | None = None,
    claim: str | None = None,
    secret: str | None = None,
    dry_run: bool = False,
) -> BatchResult:
    """Score a Parquet file, folder or dataset with a version, and write its predictions as Parquet.

    The output folder gets one ``part-NNNNN.parquet`` per partition with the
    id columns, the model's outputs (a 2-D output such as probabilities as
    ``NAME_0``, ``NAME_1``, ...) and ``model_version``. Each partition is
    written under a temporary name and renamed when complete, so a rerun
    skips what is done and redoes only what was cut short.

    Parameters
    ----------
    ref : str or ModelVersion
        ``name``, ``name:3`` or ``name@alias``. A version that came from
        outside is refused exactly as :func:`jupyter_modelops.load` refuses it.
    source : str or path
        A Parquet file, a folder of Parquet files (read recursively; names
        starting with ``.`` or ``_`` are skipped) or an ``s3://``/``gs://`` URL.
    output : str or path
        Folder for the predictions (created; a rerun resumes in it).
    engine : {"local", "dask", "kubernetes"}, default="local"
        Where to score: this process, a Dask cluster, or a Kubernetes Job.
    id_columns : list of str or str, optional
        Columns copied beside the predictions. Default: the source's columns
        named ``id``, ``*_id``, ``key`` or ``uuid`` that are not features.
    batch_size : int, default=65536
        Rows per call of the model.
    partition_rows : int, default=1000000
        Most rows of one partition (a file is cut at row-group boundaries).
    runtime : {"onnx", "torchscript", "native"}, optional
        Force one runtime; default the best the version has (ONNX when exported).
    trusted : bool, default=False
        Trust the version for this call (as ``load(ref, trusted=True)``).
    threads : int, default=1
        Threads of the runtime per process (per Dask task).
    progress : bool, optional
        A progress bar over rows; default automatic.
    client : distributed.Client or str, optional
        ``engine="dask"``: a client or scheduler address; default a new
        ``LocalCluster`` on this machine (closed afterwards).
    cluster, kubeconfig, namespace, profile, image : optional
        ``engine="kubernetes"``: where, on which hardware profile and in which
        image (default: the latest pushed image recorded for the version),
        as for :func:`jupyter_modelops.deploy`.
    parallelism : int, optional
        ``engine="kubernetes"``: pods at once (default ``min(partitions, 4)``).
    claim : str, optional
        ``engine="kubernetes"``: a PersistentVolumeClaim mounted at ``/data``
        (then ``source`` and ``output`` are paths under ``/data``).
    secret : str, optional
        ``engine="kubernetes"``: a Secret whose keys become the pods'
        environment (object-storage credentials).
    dry_run : bool, default=False
        ``engine="kubernetes"``: render the Job without applying it.

    Returns
    -------
    BatchResult

    Raises
    ------
    ValidationError
        A missing source, no id column, columns that do not match the
        version's signature, an output of another run, an untrusted version.

    Examples
    --------
    >>> import jupyter_modelops as mo
    >>> mo.predict_batch("churn:3", "yesterday/", "scores/")  # doctest: +SKIP
    <BatchResult churn:3: 100,000,000 rows in 100 partitions scored, 0 already done (local, ...) -> scores/>
    """
    if engine not in ENGINES:
        from ..exceptions import suggest

        raise ValidationError(
            f"engine={engine!r} is not known; expected one of {', '.join(ENGINES)}.{suggest(str(engine), ENGINES)}"
        )
    k8s_only = {
        "cluster": cluster,
        "kubeconfig": kubeconfig,
        "image": image,
        "parallelism": parallelism,
        "claim": claim,
        "secret": secret,
        "dry_run": dry_run or None,
    }
    given = [k for k, v in k8s_only.items() if v is not None]
    if engine != "kubernetes" and given:
        raise ValidationError(f"{', '.join(given)} apply only to engine='kubernetes'; engine is {engine!r}.")
    if engine != "dask" and client is not None:
        raise ValidationError(f"client applies only to engine='dask'; engine is {engine!r}.")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValidationError(f"threads is {threads!r}; expected a positive integer.")
    if engine == "kubernetes":
        from .kube import run_job

        return run_job(
            ref,
            source,
            output,
            id_columns=id_columns,
            batch_size=batch_size,
            partition_rows=partition_rows,
            runtime=runtime,
            trusted=trusted,
            threads=threads,
            cluster=cluster,
            kubeconfig=kubeconfig,
            namespace=namespace,
            profile=profile,
            image=image,
            parallelism=parallelism,
            claim=claim,
            secret=secret,
            dry_run=dry_run,
        )
    p = core.plan(
        ref,
        source,
        output,
        id_columns=id_columns,
        batch_size=batch_size,
        partition_rows=partition_rows,
        trusted=trusted,
    )
    done = core.finished(p)
    todo = [part.index for part in p.partitions if part.index not in done]
    files = core.model_files(p.ref, trusted=trusted) if todo else {}
    from .. import _progress

    bar = _progress.bar(
        total=sum(p.partitions[i].rows for i in todo), desc=f"scoring {p.ref}", progress=progress, unit="rows"
    )
    t0 = time.perf_counter()
    try:
        if not todo:
            rows, name = 0, None
        elif engine == "local":
            model = core.open_model(files, runtime=runtime, threads=threads)
            rows, _ = core.run_partitions(p, model, todo, bar=bar)
            name = model.name
        else:
            from ._dask import run_dask

            rows, name = run_dask(p, files, todo, client=client, runtime=runtime, threads=threads, bar=bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    return BatchResult(
        {
            "engine": engine,
            "ref": p.ref,
            "source": p.source,
            "output": p.output,
            "runtime": name,
            "partitions": len(p.partitions),
            "scored": len(todo),
            "skipped": len(p.partitions) - len(todo),
            "rows_scored": rows,
            "rows_total": p.rows,
            "id_columns": p.id_columns,
            "seconds": round(seconds, 3),
            "rows_per_second": round(rows / seconds, 1) if rows and seconds > 0 else None,
        }
    )
