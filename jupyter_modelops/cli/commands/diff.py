"""Compare two versions: metrics with intervals, params, signature, environment, files.

  modelops diff churn:2 churn:3 [--html diff.html]
"""

SUMMARY = "compare two model versions"


def add_arguments(p):
    p.add_argument("a", help="first version, e.g. churn:2")
    p.add_argument("b", help="second version, e.g. churn:3")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--html", metavar="FILE", help="also write the diff as HTML")


def run(args) -> int:
    from ...registry import diff
    from .._io import emit

    emit(diff(args.a, args.b), as_json=args.json, html=args.html)
    return 0
