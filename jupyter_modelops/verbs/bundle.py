"""Move versions between machines as one file with checksums.

Examples:
  {prog} bundle export churn:3 churn.mobundle
  {prog} bundle export churn:2 churn:3 both.mobundle
  {prog} bundle import churn.mobundle [--name churn-copy] [--max-files 1000 --max-bytes 2000000000]

Import warns when this environment differs from the exporting one in a way
that can break loading.
"""

from ._spec import Int, Param, Text, Verb


def run(face, *, action, items, name, max_files=None, max_bytes=None):
    from ..registry import bundle_command

    return bundle_command(action, items, name=name, max_files=max_files, max_bytes=max_bytes)


VERB = Verb(
    "bundle",
    "export versions to one bundle file, or import one",
    doc=__doc__,
    run=run,
    params=[
        Param("action", Text(), positional=True, choices=("export", "import"), help="export or import"),
        Param("items", Text(), positional=True, many=True, help="export: REF [REF ...] FILE; import: FILE"),
        Param("name", Text(), help="import under this model name"),
        Param("max_files", Int(), help="import: refuse a bundle with more files than this (default: the registry's)"),
        Param(
            "max_bytes",
            Int(),
            help="import: refuse a bundle that unpacks to more bytes than this (default: the registry's)",
        ),
    ],
)
