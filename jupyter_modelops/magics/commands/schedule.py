"""Run a report on a schedule: a crontab line (local) or a Kubernetes CronJob.

Example: %modelops schedule churn@production --cron "0 6 * * *" --data /data/today.parquet --dry-run
"""

SUMMARY = "schedule a monitoring report (crontab or Kubernetes CronJob)"


def add_arguments(p):
    p.add_argument("ref", help="registry reference, e.g. churn@production")
    p.add_argument("--cron", required=True, help="five-field cron expression, e.g. '0 6 * * *'")
    p.add_argument("--data", help="current data path read at each run")
    p.add_argument("--template", default="monitoring")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    p.add_argument("--target", default="local", choices=["local", "kubernetes"])
    p.add_argument("--cluster", help="kubeconfig context (target kubernetes)")
    p.add_argument("--namespace", default="default")
    p.add_argument("--image", help="image to run the report in (default: the version's pushed image)")
    p.add_argument("--notify", help="webhook URL posted to when a run or a gate fails")
    p.add_argument("--dry-run", action="store_true", help="show what would be installed")


def run(args, shell):
    from ...reports import schedule
    from ...reports.params import validate
    from ...reports.run import resolve_template

    params = validate(resolve_template(args.template), dict(args.param), from_text=True)
    return schedule(args.ref, cron=args.cron, data=args.data, template=args.template, params=params,
                    target=args.target, cluster=args.cluster, namespace=args.namespace, image=args.image,
                    notify=args.notify, dry_run=args.dry_run)
