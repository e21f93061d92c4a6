"""Typed template parameters, checked before any kernel starts.

A template declares its parameters in the cell tagged ``parameters`` with
annotations and a comment each (``threshold: float = 0.8  # minimum F1``);
papermill reads them without running anything. Values given by the user are
checked (and, for text from a command line, converted) against those types;
an unknown name or a wrong type is one sentence naming the parameter.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..exceptions import ValidationError, suggest


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # "str", "int", "float", "bool", "list", "dict", "Optional[...]" or "Any"
    default: str  # the default as written in the template (Python source)
    help: str

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "default": self.default, "help": self.help}


def declared(template: str | Path) -> dict[str, Parameter]:
    """The parameters a template declares, in order.

    Raises :class:`ValidationError` when the notebook has no cell tagged ``parameters``.
    """
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    path = Path(template)
    try:
        nb = load_notebook_node(str(path))  # also gives every cell a 'tags' list
    except Exception as exc:
        raise ValidationError(f"The template '{path}' is not a readable notebook: {exc}.") from exc
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise ValidationError(
            f"The template '{path.name}' has no cell tagged 'parameters'.",
            hint="Tag the cell that sets the parameters with 'parameters' "
            "(View > Cell Toolbar > Tags in Jupyter), with a type and a comment for each.",
        )
    out = {}
    for p in _infer_parameters(nb):
        typ = p.inferred_type_name if p.inferred_type_name not in (None, "None") else "Any"
        out[p.name] = Parameter(p.name, typ, p.default, p.help)
    return out


def _inner(typ: str) -> tuple[str, bool]:
    t = typ.replace(" ", "")
    if t.startswith("Optional[") and t.endswith("]"):
        return t[len("Optional[") : -1], True
    if t.endswith("|None"):
        return t[: -len("|None")], True
    return t, False


def _from_text(text: str, typ: str) -> Any:
    """Convert command-line text to ``typ``; raise ValueError when it does not fit."""
    if typ == "str":
        return text
    if typ == "int":
        return int(text)
    if typ == "float":
        v = float(text)
        if math.isnan(v):
            raise ValueError("nan")
        return v
    if typ == "bool":
        low = text.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise ValueError(text)
    if typ in ("list", "dict") or typ.startswith(("list[", "dict[", "List[", "Dict[")):
        value = json.loads(text)
        want = list if typ.lower().startswith("list") else dict
        if not isinstance(value, want):
            raise ValueError(text)
        return value
    try:  # Any: JSON when it parses, else the text itself
        return json.loads(text)
    except ValueError:
        return text


def _check(value: Any, typ: str) -> bool:
    base = typ.split("[", 1)[0].lower()
    if base in ("any", ""):
        return True
    if base == "str":
        return isinstance(value, str)
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base == "list":
        return isinstance(value, (list, tuple))
    if base == "dict":
        return isinstance(value, dict)
    return True


def validate(template: str | Path, params: Mapping[str, Any] | None, *, from_text: bool = False) -> dict[str, Any]:
    """Check ``params`` against the template's declared parameters.

    Parameters
    ----------
    template : path of the notebook template.
    params : name -> value. With ``from_text=True`` string values are converted
        to the declared type (for ``-p name value`` on a command line).

    Returns
    -------
    dict
        The checked values, ready for papermill.
    """
    decl = declared(template)
    out: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if name not in decl:
            raise ValidationError(
                f"The template '{Path(template).name}' has no parameter '{name}'.{suggest(name, decl)}",
                hint=f"Its parameters are: {', '.join(decl)}.",
            )
        p = decl[name]
        typ, optional = _inner(p.type)
        if value is None:
            if not optional and typ not in ("Any",):
                raise ValidationError(f"The parameter '{name}' expects {p.type}, got None.")
            out[name] = None
            continue
        if from_text and isinstance(value, str) and typ != "str":
            try:
                value = _from_text(value, typ)
            except (ValueError, TypeError):
                raise ValidationError(
                    f"The parameter '{name}' expects {p.type}, got '{value}'.",
                    hint=f"({p.help})" if p.help else None,
                ) from None
        if not _check(value, typ):
            raise ValidationError(
                f"The parameter '{name}' expects {p.type}, got {value!r} ({type(value).__name__}).",
                hint=f"({p.help})" if p.help else None,
            )
        if typ == "float" and isinstance(value, int):
            value = float(value)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out
