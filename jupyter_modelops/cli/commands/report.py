"""Monitoring reports: run a template now, list the history, schedule and unschedule.

  modelops report run churn@production --data current.parquet [-p NAME VALUE] [--json]
  modelops report history churn
  modelops report schedule churn@production --cron "0 6 * * *" --data current.parquet [--dry-run]
  modelops report schedules
  modelops report unschedule ID

'report run' exits 0 when the notebook ran and every gate passed, 1 when a gate
failed, and 2 when the run itself failed (a raising cell, a dead kernel) or the
input was bad, so that cron and CI can act on it.
"""

from __future__ import annotations

SUMMARY = "run, list and schedule monitoring reports"


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="run a report now")
    r.add_argument("ref", nargs="?", help="registry reference, e.g. churn@production")
    r.add_argument("--data", help="current data (CSV or Parquet)")
    r.add_argument("--template", default="monitoring")
    r.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    r.add_argument("--notify", help="webhook URL posted to when the run or a gate fails")
    r.add_argument("--output-dir")
    r.add_argument("--json", action="store_true")
    h = sub.add_parser("history", help="the report runs of a model")
    h.add_argument("name")
    h.add_argument("--json", action="store_true")
    s = sub.add_parser("schedule", help="run a report on a schedule")
    s.add_argument("ref")
    s.add_argument("--cron", required=True)
    s.add_argument("--data")
    s.add_argument("--template", default="monitoring")
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    s.add_argument("--target", default="local", choices=["local", "kubernetes"])
    s.add_argument("--cluster")
    s.add_argument("--namespace", default="default")
    s.add_argument("--image")
    s.add_argument("--notify")
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--json", action="store_true")
    sub.add_parser("schedules", help="list schedules").add_argument("--json", action="store_true")
    u = sub.add_parser("unschedule", help="remove a schedule")
    u.add_argument("id")
    u.add_argument("--json", action="store_true")


def run(args) -> int:
    from ...reports import report, report_history, schedule, schedules, unschedule
    from .._io import emit

    if args.action == "run":
        result = report(args.ref, template=args.template, data=args.data, params=dict(args.param),
                        params_from_text=True, notify=args.notify, output_dir=args.output_dir)
        emit(result, as_json=args.json)
        if result.status != "succeeded":
            return 2
        return 0 if result.ok else 1
    if args.action == "history":
        emit(report_history(args.name), as_json=args.json)
    elif args.action == "schedule":
        from ...reports.params import validate
        from ...reports.run import resolve_template

        params = validate(resolve_template(args.template), dict(args.param), from_text=True)
        emit(schedule(args.ref, cron=args.cron, data=args.data, template=args.template, params=params,
                      target=args.target, cluster=args.cluster, namespace=args.namespace, image=args.image,
                      notify=args.notify, dry_run=args.dry_run), as_json=args.json)
    elif args.action == "schedules":
        emit(schedules(), as_json=args.json)
    elif args.action == "unschedule":
        emit(unschedule(args.id), as_json=args.json)
    return 0
