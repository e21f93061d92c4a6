"""List scheduled reports."""

SUMMARY = "list scheduled reports"


def add_arguments(p):
    pass


def run(args, shell):
    from ...reports import schedules

    return schedules()
