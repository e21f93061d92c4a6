"""List the models in the registry."""

SUMMARY = "list the models in the registry"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    from ...registry import models
    from .._io import emit

    emit(models(), as_json=args.json)
    return 0
