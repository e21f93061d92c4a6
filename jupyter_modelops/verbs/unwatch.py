"""Remove a watch policy by its id (exactly its crontab line or CronJob).

Example: {prog} unwatch ID
"""

from ._spec import Param, Text, Verb


def run(face, *, watch_id):
    from ..monitoring.watch import unwatch

    return unwatch(watch_id)


VERB = Verb(
    "unwatch",
    "remove a watch policy",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    params=[Param("watch_id", Text(), positional=True, metavar="id", help="watch id (see the watches verb)")],
)
