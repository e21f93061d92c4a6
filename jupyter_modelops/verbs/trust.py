"""Record that you trust a version from a bundle or a pull, so load, the model server and images deserialize it.

A version snapshotted in this registry is trusted from the start; one imported
from a bundle or pulled from an OCI registry is not until you trust it here.

Example: {prog} trust churn:4 --by alice
"""

from ._spec import Param, Ref, Text, Verb


def run(face, *, ref, by):
    from ..registry import trust

    return trust(ref, by=by)


def text(mv) -> str:
    t = mv.to_dict()["trusted"]
    return f"{mv.ref} trusted ({t['how']} by {t['by']}, {t['at']}): load, the model server and images deserialize it"


VERB = Verb(
    "trust",
    "record that you trust a version from a bundle or pull, so load, the model server and images deserialize it",
    doc=__doc__,
    run=run,
    text=text,
    faces=("magic", "cli", "rest"),
    params=[
        Param("ref", Ref(), positional=True, help="the version, e.g. churn:4"),
        Param("by", Text(), help="who trusts it (default: the current user)"),
    ],
)
