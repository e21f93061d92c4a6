"""Stop local deployments; each model server finishes the requests it holds first.

Examples:
  modelops stop churn
  modelops stop --all
"""

SUMMARY = "stop a local deployment's model server (or --all)"


def add_arguments(p):
    p.add_argument("name", nargs="?", help="local deployment name")
    p.add_argument("--all", action="store_true", help="stop every running local deployment")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from ...serving.local import StopResult, stop
    from .._io import emit

    emit(StopResult(stop(args.name, all=args.all)), as_json=args.json)
    return 0
