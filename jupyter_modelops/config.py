"""Where jupyter-modelops keeps its state.

Everything lives under one folder, ``MODELOPS_HOME`` (environment variable).
When unset it defaults to ``$XDG_DATA_HOME/jupyter-modelops`` (normally
``~/.local/share/jupyter-modelops``). Tests always point it at a temporary
folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV_HOME = "MODELOPS_HOME"


def home() -> Path:
    """Return the state folder, creating it (mode 0700) if needed."""
    raw = os.environ.get(ENV_HOME)
    if raw:
        path = Path(raw).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        path = Path(base) / "jupyter-modelops"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def subdir(*parts: str) -> Path:
    """Return ``home()/parts...``, created if needed."""
    path = home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_real() -> bool:
    """True when a missing real part (a system tool, a browser) must fail a test
    instead of skipping it (set by CI)."""
    return os.environ.get("MODELOPS_REQUIRE_REAL", "") not in ("", "0", "false", "False")


# -- settings of this process -------------------------------------------------
ENV_MLFLOW = "MODELOPS_MLFLOW"
_SETTINGS: dict[str, Any] = {}
_KNOWN = {"mlflow": "log evaluate(), robustness(), drift() and report() results into the active MLflow run"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "False", "no")


def configure(**settings: Any) -> dict[str, Any]:
    """Read or change the settings of this Python process.

    Parameters
    ----------
    **settings
        ``mlflow=True`` logs the results of ``evaluate()``, ``robustness()``,
        ``drift()`` and ``report()`` into the active MLflow run, when there is
        one (also set by the environment variable ``MODELOPS_MLFLOW=1``);
        ``mlflow=None`` goes back to the environment variable.

    Returns
    -------
    dict
        Every setting with its value now.

    Examples
    --------
    >>> import jupyter_modelops as mo
    >>> mo.configure(mlflow=True)["mlflow"]  # doctest: +SKIP
    True
    """
    from .exceptions import ValidationError

    for key, value in settings.items():
        if key not in _KNOWN:
            raise ValidationError(f"Unknown setting {key!r}; expected one of: {', '.join(sorted(_KNOWN))}.")
        if value is not None and not isinstance(value, bool):
            raise ValidationError(f"The setting {key!r} must be True, False or None; got {value!r}.")
    for key, value in settings.items():
        if value is None:
            _SETTINGS.pop(key, None)
        else:
            _SETTINGS[key] = value
    return {"mlflow": mlflow_enabled()}


def mlflow_enabled() -> bool:
    """Whether results are logged into the active MLflow run (``configure(mlflow=...)``, else ``MODELOPS_MLFLOW``)."""
    value = _SETTINGS.get("mlflow")
    return _env_flag(ENV_MLFLOW) if value is None else bool(value)
