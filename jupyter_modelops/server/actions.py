"""The actions the panel can start as background jobs: the verbs declared with the ``rest`` face.

An action's params are the parameters of its declaration in
:mod:`jupyter_modelops.verbs` (the core function's keyword names; ``GET info``
and ``GET verbs/NAME`` list them). They are checked and converted by kind
before the job is queued, so a typo comes back at once as a 400 with one
sentence, not as a failed job.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable

from ..exceptions import ModelOpsError

__all__ = ["ACTIONS", "resolve", "start_job"]


class NotAvailableError(ModelOpsError):
    """A capability of the core is not part of this installation. HTTP 501."""

    http_status = 501
    exit_code = 5


def resolve(target: str) -> Callable[..., Any]:
    """``"registry:models"`` -> ``jupyter_modelops.registry.models`` (imported on first use)."""
    module_name, _, attr = target.partition(":")
    full = f"jupyter_modelops.{module_name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == full or full.startswith(exc.name + ".") or exc.name.startswith(full)):
            raise NotAvailableError(
                f"'{module_name}' is not available in this installation of jupyter-modelops.",
                hint="Upgrade jupyter-modelops to a version that has it.",
            ) from exc
        raise
    fn = getattr(module, attr, None)
    if fn is None:
        raise NotAvailableError(
            f"'{module_name}.{attr}' is not available in this installation of jupyter-modelops.",
            hint="Upgrade jupyter-modelops to a version that has it.",
        )
    return fn


class ActionTable:
    """The verbs the panel can start as jobs: those whose declaration has the ``rest`` face."""

    def _verbs(self) -> dict:
        from .. import verbs

        return {name: verbs.all_verbs()[name] for name in verbs.names("rest")}

    def __contains__(self, name: object) -> bool:
        return name in self._verbs()

    def __iter__(self):
        return iter(self._verbs().values())

    def get(self, name: Any):
        from .. import verbs

        return verbs.get(name, "rest", what="action")

    def describe(self) -> list[dict]:
        return [
            {
                "name": v.name,
                "summary": v.summary,
                "available": True,
                "params": [p.schema() for p in v.params_on("rest")],
            }
            for v in self._verbs().values()
        ]


ACTIONS = ActionTable()


def start_job(runner: Any, action: Any, params: Any):
    """Check ``params`` against the action's declaration (names, types, choices), then queue the core call."""
    from ..verbs import Face

    verb = ACTIONS.get(action)
    values = verb.from_json(params, what="action")
    face = Face("rest", quiet=True)
    return runner.submit(verb.name, params or {}, functools.partial(verb.call, face, values))
