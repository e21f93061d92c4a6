"""Remove a scheduled report by its id (exactly its crontab line or CronJob).

Example: {prog} unschedule ID
"""

from ._spec import Param, Text, Verb


def run(face, *, schedule_id):
    from ..reports import unschedule

    return unschedule(schedule_id)


VERB = Verb(
    "unschedule",
    "remove a scheduled report",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    cli_path=("report", "unschedule"),
    params=[Param("schedule_id", Text(), positional=True, metavar="id", help="schedule id (see the schedules verb)")],
)
