"""Move versions between machines as one file with checksums.

Examples:
  {prog} bundle export churn:3 churn.mobundle
  {prog} bundle export churn:2 churn:3 both.mobundle
  {prog} bundle import churn.mobundle [--name churn-copy]

Import warns when this environment differs from the exporting one in a way
that can break loading.
"""

from ._spec import Param, Text, Verb


def run(face, *, action, items, name):
    from ..registry import bundle_command

    return bundle_command(action, items, name=name)


VERB = Verb(
    "bundle", "export versions to one bundle file, or import one", doc=__doc__, run=run,
    params=[
        Param("action", Text(), positional=True, choices=("export", "import"), help="export or import"),
        Param("items", Text(), positional=True, many=True, help="export: REF [REF ...] FILE; import: FILE"),
        Param("name", Text(), help="import under this model name"),
    ],
)
