"""Where jupyter-modelops keeps its state.

Everything lives under one folder, ``MODELOPS_HOME`` (environment variable).
When unset it defaults to ``$XDG_DATA_HOME/jupyter-modelops`` (normally
``~/.local/share/jupyter-modelops``). Tests always point it at a temporary
folder.
"""

from __future__ import annotations

import os
from pathlib import Path

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
