"""Move versions between machines as one file with checksums.

Examples:
  %modelops bundle export churn:3 churn.mobundle
  %modelops bundle export churn:2 churn:3 both.mobundle
  %modelops bundle import churn.mobundle [--name churn-copy]
"""

SUMMARY = "export versions to one bundle file, or import one"


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=["export", "import"], help="export or import")
    parser.add_argument("items", nargs="+", help="export: REF [REF ...] FILE; import: FILE")
    parser.add_argument("--name", help="import under this model name")


def run(args, shell):
    from ...registry import bundle_command

    return bundle_command(args.action, args.items, name=args.name)
