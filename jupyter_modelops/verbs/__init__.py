"""Every verb of jupyter-modelops, declared once: one module per verb.

A module ``foo_bar.py`` declares ``VERB = Verb("foo-bar", ...)``: its parameters
with their kinds, help and defaults, and its core call. The faces read the
declarations: the ``%modelops`` magic (:mod:`jupyter_modelops.magics`), the
``modelops`` command (:mod:`jupyter_modelops.cli`) and the REST API of the
JupyterLab panel (:mod:`jupyter_modelops.server`), which also serves each
verb's JSON schema. Adding a verb is one module here plus its core function.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..exceptions import ValidationError, suggest
from ._spec import FACES, Face, Param, Verb

__all__ = ["FACES", "Face", "Param", "Verb", "all_verbs", "get", "names"]

_CACHE: dict[str, Verb] = {}


def all_verbs() -> dict[str, Verb]:
    """verb name -> declaration, for every module of this package (imported once)."""
    if not _CACHE:
        found = {}
        for m in pkgutil.iter_modules(__path__):
            if m.name.startswith("_"):
                continue
            verb = importlib.import_module(f"{__name__}.{m.name}").VERB
            found[verb.name] = verb
        _CACHE.update(sorted(found.items()))
    return dict(_CACHE)


def names(face: str | None = None) -> list[str]:
    """The verbs of one face (every verb when ``face`` is None), sorted."""
    return [n for n, v in all_verbs().items() if face is None or face in v.faces]


def get(name: object, face: str | None = None, *, what: str = "verb") -> Verb:
    """The declaration of a verb, or one sentence naming the verbs there are."""
    known = names(face)
    if not isinstance(name, str) or name not in known:
        raise ValidationError(
            f"Unknown {what} {name!r}; expected one of: {', '.join(known)}.{suggest(str(name), known)}"
        )
    return all_verbs()[name]
