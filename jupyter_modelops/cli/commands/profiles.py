"""The hardware profiles: built-ins and those in profiles.yaml (MODELOPS_HOME) or ./modelops-profiles.yaml."""

from .._io import emit

SUMMARY = "list the hardware profiles"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args):
    from ...deployment import profiles

    result = profiles()
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
