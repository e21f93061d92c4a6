"""Point an alias at a version (the move is kept in the history), or remove it.

Example: %modelops alias churn:3 production
"""

SUMMARY = "point an alias (production, staging...) at a version"


def add_arguments(parser) -> None:
    parser.add_argument("ref", help="the version, e.g. churn:3")
    parser.add_argument("alias", help="the alias, e.g. production")
    parser.add_argument("--remove", action="store_true", help="remove the alias instead")


def run(args, shell):
    from ...registry import alias

    return alias(args.ref, args.alias, remove=args.remove)
