"""Delete one version (refused for an aliased version unless --force).

Example: %modelops delete churn:2
"""

SUMMARY = "delete a model version"


def add_arguments(parser) -> None:
    parser.add_argument("ref", help="the version, e.g. churn:2 (a bare name is refused)")
    parser.add_argument("--force", action="store_true", help="also delete a version an alias points at")


def run(args, shell):
    from ...registry import delete

    return delete(args.ref, force=args.force)
