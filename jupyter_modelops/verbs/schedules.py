"""List scheduled reports.

Example: {prog} schedules
"""

from ._spec import Verb


def run(face):
    from ..reports import schedules

    return schedules()


VERB = Verb("schedules", "list scheduled reports", doc=__doc__, run=run, params=[], cli_path=("report", "schedules"))
