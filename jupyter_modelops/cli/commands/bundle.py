"""Move versions between machines as one file with checksums.

  modelops bundle export churn:3 churn.mobundle
  modelops bundle export churn:2 churn:3 both.mobundle
  modelops bundle import churn.mobundle [--name churn-copy]

Import warns (on stderr) when this environment differs from the exporting one
in a way that can break loading.
"""

SUMMARY = "export versions to one bundle file, or import one"


def add_arguments(p):
    p.add_argument("action", choices=["export", "import"])
    p.add_argument("items", nargs="+", help="export: REF [REF ...] FILE; import: FILE")
    p.add_argument("--name", help="import under this model name")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    from ...registry import bundle_command
    from .._io import emit

    emit(bundle_command(args.action, args.items, name=args.name), as_json=args.json)
    return 0
