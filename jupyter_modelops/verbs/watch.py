"""Watch a deployment: on an alarm, notify, roll back or move an alias, on a schedule (crontab or CronJob).

Examples: {prog} watch churn --on-alarm rollback --notify https://hooks.example/T0 --max-error-rate 0.02
          {prog} watch churn --cluster prod --target kubernetes --service-account modelops-watch --on-alarm rollback
"""

from ._common import KUBECONFIG, NAMESPACE
from ._spec import Flag, Float, Param, Path, Text, Verb


def run(
    face,
    *,
    deployment,
    on_alarm,
    notify,
    cron,
    cluster,
    namespace,
    metrics,
    max_error_rate,
    target,
    image,
    service_account,
    rbac,
    kubeconfig,
    dry_run,
):
    from ..monitoring.watch import watch

    return watch(
        deployment,
        on_alarm=on_alarm,
        notify=notify,
        cron=cron,
        cluster=cluster,
        namespace=namespace,
        metrics=metrics,
        max_error_rate=max_error_rate,
        target=target,
        image=image,
        service_account=service_account,
        rbac=rbac,
        kubeconfig=kubeconfig,
        dry_run=dry_run,
    )


VERB = Verb(
    "watch",
    "act on a deployment's alarms on a schedule (notify, rollback, alias:NAME)",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    params=[
        Param("deployment", Text(), positional=True, help="deployment name"),
        Param(
            "on_alarm",
            Text(),
            default="notify",
            metavar="ACTION",
            help="notify, rollback or alias:NAME (move alias NAME to the previous version)",
        ),
        Param("notify", Text(), help="webhook URL posted the alarm, its evidence and the action's outcome"),
        Param("cron", Text(), default="*/5 * * * *", help="when to check (five cron fields or @hourly...)"),
        Param("cluster", Text(), default="local", help="'local' (a server on this machine) or a kubeconfig context"),
        NAMESPACE,
        Param("metrics", Text(), help="URL of the server's /metrics (default: found from the deployment)"),
        Param("max_error_rate", Float(), help="also an alarm when the error rate since the last check is above this"),
        Param(
            "target",
            Text(),
            default="local",
            choices=("local", "kubernetes"),
            help="where the check runs: a crontab line here, or a CronJob in the cluster",
        ),
        Param("image", Text(), help="image of the CronJob (default: the version's pushed image)"),
        Param(
            "service_account",
            Text(),
            help="the CronJob's ServiceAccount, allowed to read the pods (and pods/proxy) and roll the Deployment back",
        ),
        Param(
            "rbac",
            Flag(),
            help="also create the ServiceAccount, a least-privilege Role and its RoleBinding (removed by unwatch)",
        ),
        Param("kubeconfig", Path(), help=KUBECONFIG.help),
        Param("dry_run", Flag(), help="show what would be installed"),
    ],
)
