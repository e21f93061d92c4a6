"""The actions the panel can start as background jobs, each ONE core function.

An action's params are passed by keyword to its core function, so their names
are the function's own parameter names (``GET info`` lists them). Params are
checked against the signature before the job is queued, so a typo comes back
at once as a 400 with one sentence, not as a failed job.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from ..exceptions import ModelOpsError, ValidationError, suggest

__all__ = ["ACTIONS", "Action", "resolve", "start_job"]


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
            raise NotAvailableError(f"'{module_name}' is not available in this installation of jupyter-modelops.",
                                    hint="Upgrade jupyter-modelops to a version that has it.") from exc
        raise
    fn = getattr(module, attr, None)
    if fn is None:
        raise NotAvailableError(f"'{module_name}.{attr}' is not available in this installation of jupyter-modelops.",
                                hint="Upgrade jupyter-modelops to a version that has it.")
    return fn


@dataclass(frozen=True)
class Action:
    name: str
    target: str
    summary: str

    def describe(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "summary": self.summary, "available": True, "params": []}
        try:
            sig = inspect.signature(resolve(self.target))
        except ModelOpsError:
            out["available"] = False
            return out
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            default = None if p.default is p.empty else p.default
            out["params"].append({"name": p.name, "required": p.default is p.empty,
                                  "default": default if isinstance(default, (str, int, float, bool, type(None))) else repr(default)})
        return out


class ActionTable:
    def __init__(self, *actions: Action) -> None:
        self._actions = {a.name: a for a in actions}

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self):
        return iter(self._actions.values())

    def get(self, name: Any) -> Action:
        if not isinstance(name, str) or name not in self._actions:
            raise ValidationError(
                f"Unknown action {name!r}; expected one of: {', '.join(self._actions)}.{suggest(str(name), self._actions)}"
            )
        return self._actions[name]

    def describe(self) -> list[dict]:
        return [a.describe() for a in self._actions.values()]


ACTIONS = ActionTable(
    Action("export", "export:export", "Export a version to ONNX or TorchScript, parity-checked"),
    Action("build", "images:build", "Build an OCI image serving a version (and push it)"),
    Action("push", "images:push", "Push a model version to an OCI registry as an artifact"),
    Action("deploy", "deploy:deploy", "Deploy a version to a cluster and hardware profile, or locally"),
    Action("promote", "deploy:promote", "Promote a canary to take all traffic"),
    Action("rollback", "deploy:rollback", "Roll a deployment back to its previous version"),
    Action("undeploy", "deploy:undeploy", "Remove a deployment from a cluster"),
    Action("stop", "serving.local:stop", "Stop a local deployment (its model server process)"),
    Action("report", "reports:report", "Run a monitoring report now"),
    Action("schedule", "reports:schedule", "Schedule a monitoring report"),
    Action("unschedule", "reports:unschedule", "Remove a scheduled report"),
)


def start_job(runner: Any, action: Any, params: Any):
    """Validate ``action`` and ``params`` against the core function, then queue the call."""
    spec = ACTIONS.get(action)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationError(f"'params' must be a JSON object, got {type(params).__name__}.")
    fn = resolve(spec.target)
    sig = inspect.signature(fn)
    try:
        sig.bind(**params)
    except TypeError as exc:
        names = [p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        unknown = [k for k in params if k not in sig.parameters]
        if unknown:
            msg = f"The action '{spec.name}' has no parameter {unknown[0]!r}; expected some of: {', '.join(names)}."
            msg += suggest(unknown[0], names)
        else:
            msg = f"The action '{spec.name}' is missing a parameter ({exc}); expected some of: {', '.join(names)}."
        raise ValidationError(msg) from exc
    return runner.submit(spec.name, params, functools.partial(fn, **params))
