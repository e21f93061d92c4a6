"""Helpers shared by the magic commands: resolving names in the user namespace."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..exceptions import suggest


def resolve(shell: Any, name: str, what: str) -> Any:
    """Return the object bound to ``name`` in the notebook, or raise a one-line UsageError.

    ``name`` may be a dotted attribute path (``df.values``) or a column lookup
    written as ``df['col']``; anything else must be a plain variable name.
    """
    ns = shell.user_ns
    head = name.split(".", 1)[0].split("[", 1)[0]
    if head not in ns:
        visible = [k for k in ns if not k.startswith("_")]
        raise UsageError(
            f"The {what} '{name}' is not defined in this notebook.{suggest(head, visible)} "
            f"Pass the name of a variable that holds the {what}."
        )
    if name == head:
        return ns[name]
    try:
        return eval(name, {}, ns)  # noqa: S307 - the user's own expression, in the user's own kernel
    except Exception as exc:
        raise UsageError(f"Could not evaluate the {what} '{name}': {exc}.") from None
