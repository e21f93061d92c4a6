"""Delete one version (refused for an aliased version unless --force).

Example: {prog} delete churn:2
"""

from ._spec import Flag, Param, Ref, Verb


def run(face, *, ref, force):
    from ..registry import delete

    return delete(ref, force=force)


def text(out: dict) -> str:
    extra = f" (aliases removed: {', '.join(out['aliases_removed'])})" if out["aliases_removed"] else ""
    records = out.get("records_removed") or 0
    removed = f", {records} record{'s' if records != 1 else ''} removed" if records else ""
    return f"deleted {out['deleted']}{extra}{removed}, freed {out['freed_bytes']} bytes"


VERB = Verb(
    "delete",
    "delete a model version",
    doc=__doc__,
    run=run,
    text=text,
    params=[
        Param("ref", Ref(), positional=True, help="the version, e.g. churn:2 (a bare name is refused)"),
        Param("force", Flag(), help="also delete a version an alias points at"),
    ],
)
