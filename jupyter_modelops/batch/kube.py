"""``engine="kubernetes"``: an indexed ``batch/v1`` Job, one completion per partition, in the model's image.

The pods are those of :func:`jupyter_modelops.deploy` (same hardware profile,
same restricted Pod Security Standard, same ServiceAccount shape) with the
server's ports and probes taken out and ``python3 -m jupyter_modelops.batch``
as their command. Pod ``i`` (``JOB_COMPLETION_INDEX``) scores partition ``i``
and skips it when its file already exists, so re-applying the Job after a
failure redoes only what is missing.

The partitions are cut here, before the Job is applied: the source must be
reachable from here and from the pods at the same path (object storage, or a
PersistentVolumeClaim mounted here and there at the folder holding both).
"""

from __future__ import annotations

import copy
import hashlib
import os
from typing import Any, Sequence

from ..exceptions import ValidationError
from . import core

#: where the image holds the model directory (see jupyter_modelops.images.build)
MODEL_DIR = "/opt/model"
COMPONENT = "batch-scoring"


def job_name(ref: str, source: str, output: str) -> str:
    """A DNS label naming the Job: the model, ``-batch-`` and a hash of (version, source, output)."""
    from ..deployment.manifests import object_name

    digest = hashlib.sha256("\0".join((ref, source, output)).encode()).hexdigest()[:8]
    return object_name(ref.split(":")[0], suffix=f"-batch-{digest}")


def render_job(
    p: core.ScoringPlan,
    *,
    image: str,
    profile: Any = "cpu-small",
    namespace: str = "default",
    parallelism: int | None = None,
    claim: str | None = None,
    secret: str | None = None,
    runtime: str | None = None,
    threads: int = 1,
    partition_rows: int = core.DEFAULT_PARTITION_ROWS,
    digest: str = "",
) -> list[dict]:
    """The ServiceAccount and the indexed Job that score plan ``p`` (pure; nothing is applied)."""
    from ..deployment import manifests as m
    from ..deployment.profiles import get_profile

    prof = get_profile(profile)
    name = job_name(p.ref, p.source, p.output)
    model, version = p.ref.split(":", 1)
    n = len(p.partitions)
    if parallelism is None:
        parallelism = min(n, 4)
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise ValidationError(f"parallelism is {parallelism!r}; expected a positive integer.")
    for arg, value in (("claim", claim), ("secret", secret)):
        if value is not None:
            m.check_object_name("PersistentVolumeClaim" if arg == "claim" else "Secret", value)
    spec = m.DeploySpec(
        name=name,
        namespace=namespace,
        model=model,
        version=version,
        ref=p.ref,
        image=image,
        profile=prof,
        replicas=1,
        digest=digest,
    )
    pod = m._pod_spec(spec, "score")
    pod["restartPolicy"] = "Never"
    pod.pop("terminationGracePeriodSeconds", None)
    c = pod["containers"][0]
    for key in ("ports", "startupProbe", "readinessProbe", "livenessProbe"):
        c.pop(key, None)
    args = [
        "--model-dir",
        MODEL_DIR,
        "--source",
        p.source,
        "--output",
        p.output,
        "--id-columns",
        ",".join(p.id_columns),
        "--batch-size",
        str(p.batch_size),
        "--partition-rows",
        str(partition_rows),
        "--threads",
        str(threads),
    ]
    if runtime:
        args += ["--runtime", runtime]
    c["command"] = ["python3", "-m", "jupyter_modelops.batch"]
    c["args"] = args
    c["env"] = [e for e in c["env"] if not e["name"].startswith("MODELOPS_SERVING_MAX_BATCH")]
    for e in c["env"]:
        if e["name"] in ("MODELOPS_SERVING_THREADS", "OMP_NUM_THREADS"):
            e["value"] = str(threads)
    if claim:
        mount = _claim_mount(p)
        c["volumeMounts"].append({"name": "data", "mountPath": mount})
        pod["volumes"].append({"name": "data", "persistentVolumeClaim": {"claimName": claim}})
    if secret:
        c["envFrom"] = [{"secretRef": {"name": secret}}]
    labels = {**m.labels(spec, "batch"), "app.kubernetes.io/component": COMPONENT}
    ann = {
        f"{m.LABEL_PREFIX}/{k}": v
        for k, v in (
            ("ref", p.ref),
            ("model", model),
            ("version", version),
            ("image", image),
            ("profile", prof.name),
            ("digest", digest),
            ("source", p.source),
            ("output", p.output),
        )
        if v
    }
    sa = m.service_account(spec)
    sa["metadata"]["labels"] = dict(labels)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": ann},
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": min(parallelism, n),
            "backoffLimitPerIndex": 2,  # a partition that fails three times fails alone; the others go on
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {"metadata": {"labels": labels, "annotations": {f"{m.LABEL_PREFIX}/ref": p.ref}}, "spec": pod},
        },
    }
    return [sa, copy.deepcopy(job)]


def _claim_mount(p: core.ScoringPlan) -> str:
    paths = [p.source, p.output]
    if any("://" in x or not os.path.isabs(x) for x in paths):
        raise ValidationError(
            "claim= needs a local absolute source and output (the claim is mounted at the folder "
            f"that holds both); got {p.source!r} and {p.output!r}."
        )
    mount = os.path.commonpath([os.path.abspath(x) for x in paths])
    if mount == "/":
        raise ValidationError(
            f"The source {p.source!r} and output {p.output!r} share no folder to mount the claim at.",
            hint="Put both under the folder where the claim is mounted here (e.g. /data).",
        )
    return mount


def _finished(job: dict) -> bool:
    conds = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conds)


def run_job(
    ref: Any,
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    id_columns: Sequence[str] | str | None,
    batch_size: int,
    partition_rows: int,
    runtime: str | None,
    trusted: bool,
    threads: int,
    cluster: str | None,
    kubeconfig: str | None,
    namespace: str,
    profile: Any,
    image: str | None,
    parallelism: int | None,
    claim: str | None,
    secret: str | None,
    dry_run: bool,
) -> Any:
    """Plan here, render the Job and apply it (server-side apply) unless ``dry_run``."""
    from ..deployment import core as deploy_core
    from ..deployment.manifests import check_object_name
    from ..deployment.profiles import get_profile
    from .api import BatchResult

    check_object_name("Namespace", namespace)
    if runtime is not None and runtime not in ("onnx", "torchscript", "native"):
        raise ValidationError(f"runtime={runtime!r} is not known; expected one of onnx, torchscript, native.")
    p = core.plan(
        ref,
        source,
        output,
        id_columns=id_columns,
        batch_size=batch_size,
        partition_rows=partition_rows,
        trusted=trusted,
        write=not dry_run,
    )
    prof = get_profile(profile)
    if image is None:
        image, digest = deploy_core._image_for(p.ref, dry_run=dry_run, push=None, profile=prof)
    else:
        digest = deploy_core._digest_of(image)
    objs = render_job(
        p,
        image=image,
        profile=prof,
        namespace=namespace,
        parallelism=parallelism,
        claim=claim,
        secret=secret,
        runtime=runtime,
        threads=threads,
        partition_rows=partition_rows,
        digest=digest,
    )
    job = objs[-1]
    where = None
    replaced = False
    if not dry_run:
        from ..deployment.kube import Kube

        cl = deploy_core._cluster(cluster, kubeconfig)
        where = cl.name
        with Kube(cl) as kube:
            kube.require_namespace(namespace)
            old = kube.get("Job", job["metadata"]["name"], namespace)
            if old is not None and _finished(old):
                # a rerun: the finished (or failed) Job's pods are gone; a new one scores what is missing
                kube.delete("Job", job["metadata"]["name"], namespace)
                replaced = True
            for obj in objs:
                kube.apply(obj)
    return BatchResult(
        {
            "engine": "kubernetes",
            "ref": p.ref,
            "source": p.source,
            "output": p.output,
            "cluster": where,
            "namespace": namespace,
            "job": job["metadata"]["name"],
            "image": image,
            "profile": prof.name,
            "partitions": len(p.partitions),
            "parallelism": job["spec"]["parallelism"],
            "rows_total": p.rows,
            "id_columns": p.id_columns,
            "dry_run": bool(dry_run),
            "replaced": replaced,
            "manifests": objs,
        }
    )
