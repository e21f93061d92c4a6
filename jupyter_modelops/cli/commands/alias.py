"""Point an alias at a version (the move is kept in the history), or remove it.

  modelops alias churn:3 production
"""

SUMMARY = "point an alias (production, staging...) at a version"


def add_arguments(p):
    p.add_argument("ref", help="the version, e.g. churn:3")
    p.add_argument("alias", help="the alias, e.g. production")
    p.add_argument("--remove", action="store_true", help="remove the alias instead")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    from ...registry import alias
    from .._io import emit

    emit(alias(args.ref, args.alias, remove=args.remove), as_json=args.json)
    return 0
