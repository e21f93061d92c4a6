"""Remove a scheduled report by its id (exactly its crontab line or CronJob)."""

SUMMARY = "remove a scheduled report"


def add_arguments(p):
    p.add_argument("id", help="schedule id (see %modelops schedules)")


def run(args, shell):
    from ...reports import unschedule

    return unschedule(args.id)
