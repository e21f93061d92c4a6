"""Score a Parquet file, folder or dataset with a registered version; write Parquet predictions.

Each partition is written under a temporary name and renamed when complete,
so running the same command again resumes where it stopped.
"""

from ._common import CLUSTER, KUBECONFIG, NAMESPACE
from ._spec import Flag, Int, Items, Param, Path, Ref, Text, Verb

DOC = {
    "*": __doc__
    + """

The output folder gets part-NNNNN.parquet files with the id columns, the
model's outputs and model_version. --engine dask runs on a Dask cluster
(--scheduler ADDRESS, else a local one); --engine kubernetes applies an
indexed Job in the version's image (--dry-run only renders it).

Examples:
  {prog} predict-batch churn:3 yesterday/ scores/
  {prog} predict-batch churn@production s3://bucket/day=2024-06-01/ s3://bucket/scores/ --engine dask --scheduler tcp://10.0.0.5:8786
  {prog} predict-batch churn:3 /data/day/ /data/scores/ --engine kubernetes --claim scores --profile cpu-large
""",
}


def run(
    face,
    *,
    ref,
    source,
    output,
    engine,
    id_columns,
    batch_size,
    partition_rows,
    runtime,
    trusted,
    threads,
    scheduler=None,
    cluster=None,
    kubeconfig=None,
    namespace="default",
    profile="cpu-small",
    image=None,
    parallelism=None,
    claim=None,
    secret=None,
    dry_run=False,
):
    from ..batch import predict_batch

    return predict_batch(
        ref,
        source,
        output,
        engine=engine,
        id_columns=id_columns or None,
        batch_size=batch_size,
        partition_rows=partition_rows,
        runtime=runtime,
        trusted=trusted,
        threads=threads,
        progress=False if face.quiet else None,
        client=scheduler,
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


VERB = Verb(
    "predict-batch",
    "score Parquet data with a version (local, Dask or a Kubernetes Job), resumable",
    doc=DOC,
    run=run,
    html=True,
    params=[
        Param("ref", Ref(), positional=True, help="registry reference: name, name:3 or name@alias"),
        Param(
            "source",
            Path(),
            positional=True,
            metavar="SOURCE",
            help="Parquet file, folder of Parquet files, or s3:// / gs:// URL",
        ),
        Param(
            "output",
            Path(),
            positional=True,
            metavar="OUTPUT",
            help="folder for the predictions (a rerun resumes in it)",
        ),
        Param("engine", Text(), default="local", choices=("local", "dask", "kubernetes"), help="where to score"),
        Param(
            "id_columns",
            Items(),
            metavar="LIST",
            help="columns copied beside the predictions (default: columns named id, *_id, key, uuid)",
        ),
        Param("batch_size", Int(), default=65536, help="rows per call of the model"),
        Param("partition_rows", Int(), default=1000000, help="most rows of one partition"),
        Param(
            "runtime",
            Text(),
            choices=("onnx", "torchscript", "native"),
            help="force a runtime (default: ONNX when exported, else native)",
        ),
        Param(
            "trusted", Flag(), aliases=("--trust",), help="trust the version for this run (as load(ref, trusted=True))"
        ),
        Param("threads", Int(), default=1, help="runtime threads per process or task"),
        Param(
            "scheduler", Text(), metavar="ADDRESS", help="--engine dask: scheduler address (default: a local cluster)"
        ),
        CLUSTER,
        KUBECONFIG,
        NAMESPACE,
        Param("profile", Text(), default="cpu-small", help="--engine kubernetes: hardware profile (see profiles)"),
        Param("image", Text(), help="--engine kubernetes: image (default: the latest pushed for the version)"),
        Param("parallelism", Int(), help="--engine kubernetes: pods at once (default min(partitions, 4))"),
        Param("claim", Text(), help="--engine kubernetes: PersistentVolumeClaim mounted at the folder of the data"),
        Param("secret", Text(), help="--engine kubernetes: Secret whose keys become the pods' environment"),
        Param("dry_run", Flag(), help="--engine kubernetes: render the Job, apply nothing"),
    ],
)
