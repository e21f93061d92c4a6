"""List the versions of a model, newest first."""

SUMMARY = "list the versions of a model"


def add_arguments(p):
    p.add_argument("name", help="model name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--html", metavar="FILE", help="also write an HTML table")


def run(args) -> int:
    from ...registry import versions
    from .._io import emit

    emit(versions(args.name), as_json=args.json, html=args.html)
    return 0
