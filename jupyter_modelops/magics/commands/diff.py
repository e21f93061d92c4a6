"""Compare two versions: metrics with intervals, params, signature, environment, files.

Example: %modelops diff churn:2 churn:3
"""

SUMMARY = "compare two model versions"


def add_arguments(parser) -> None:
    parser.add_argument("a", help="first version, e.g. churn:2")
    parser.add_argument("b", help="second version, e.g. churn:3")


def run(args, shell):
    from ...registry import diff

    return diff(args.a, args.b)
