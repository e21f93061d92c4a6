"""Remove what crashed writers left in the registry and files no version uses."""

SUMMARY = "clean up the registry's unreferenced files"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    from ...registry import gc
    from .._io import emit

    emit(gc(), as_json=args.json)
    return 0
