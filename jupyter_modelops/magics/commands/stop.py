"""Stop local deployments (their model servers finish the requests they hold first).

Examples: %modelops stop churn
          %modelops stop --all
"""

SUMMARY = "stop a local deployment's model server (or --all)"


def add_arguments(p):
    p.add_argument("name", nargs="?", help="deployment name (or a variable holding a LocalDeployment)")
    p.add_argument("--all", action="store_true", help="stop every running local deployment")


def run(args, shell):
    from ...serving.local import StopResult, stop

    target = args.name
    if target is not None and target in shell.user_ns and hasattr(shell.user_ns[target], "stop"):
        target = shell.user_ns[target]
    return StopResult(stop(target, all=args.all))
