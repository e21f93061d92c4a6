"""Show the monitoring history of a model: every report run, with trend plots."""

SUMMARY = "monitoring report history of a model"


def add_arguments(p):
    p.add_argument("name", help="model name")


def run(args, shell):
    from ...reports import report_history

    return report_history(args.name)
