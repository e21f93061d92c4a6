"""Run a report on a schedule: a crontab line (local) or a Kubernetes CronJob.

Example: {prog} schedule churn@production --cron "0 6 * * *" --data /data/today.parquet --dry-run
"""

from ._common import KUBECONFIG, NAMESPACE
from ._spec import Flag, Param, Path, Ref, Text, Verb
from .report import PARAMS, TEMPLATE


def run(
    face,
    *,
    ref,
    cron,
    data,
    template,
    params,
    target,
    cluster,
    namespace,
    image,
    notify,
    dry_run,
    pvc="modelops-reports",
    kubeconfig=None,
):
    from ..reports import schedule

    if face.name != "rest":
        from ..reports.params import validate
        from ..reports.run import resolve_template

        params = validate(resolve_template(template), params, from_text=True)
    return schedule(
        ref,
        cron=cron,
        data=data,
        template=template,
        params=params,
        target=target,
        cluster=cluster,
        namespace=namespace,
        image=image,
        notify=notify,
        dry_run=dry_run,
        pvc=pvc,
        kubeconfig=kubeconfig,
    )


VERB = Verb(
    "schedule",
    "schedule a monitoring report (crontab or Kubernetes CronJob)",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    cli_path=("report", "schedule"),
    params=[
        Param("ref", Ref(), positional=True, help="registry reference, e.g. churn@production"),
        Param("cron", Text(), required=True, help="five-field cron expression, e.g. '0 6 * * *'"),
        Param("data", Path(), help="current data path read at each run"),
        TEMPLATE,
        PARAMS,
        Param("target", Text(), default="local", choices=("local", "kubernetes"), help="where the schedule runs"),
        Param("cluster", Text(), help="kubeconfig context (target kubernetes)"),
        NAMESPACE,
        Param("image", Text(), help="image to run the report in (default: the version's pushed image)"),
        Param("notify", Text(), help="webhook URL posted to when a run or a gate fails"),
        Param("dry_run", Flag(), help="show what would be installed"),
        Param(
            "pvc",
            Text(),
            default="modelops-reports",
            help="PersistentVolumeClaim the CronJob writes report runs to (target kubernetes)",
        ),
        KUBECONFIG,
    ],
)
