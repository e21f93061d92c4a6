"""List the versions of a model, newest first, with metrics, aliases and alias history.

Example: %modelops versions churn
"""

SUMMARY = "list the versions of a model"


def add_arguments(parser) -> None:
    parser.add_argument("name", help="model name")


def run(args, shell):
    from ...registry import versions

    return versions(args.name)
