"""Helpers for tests that drive real parts (system tools, servers on loopback).

Import them as ``from realparts import need_tool, free_port``: the root
``conftest.py`` puts this folder on ``sys.path``, so the name is unique
whatever the layout of a test folder.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def require_real() -> bool:
    """True when CI asked that a missing real part fail the run (MODELOPS_REQUIRE_REAL=1)."""
    return os.environ.get("MODELOPS_REQUIRE_REAL", "") not in ("", "0", "false", "False")


def need_tool(name: str, why: str = "") -> str:
    """Return the path of a real system tool, or skip (fail under MODELOPS_REQUIRE_REAL=1)."""
    path = shutil.which(name)
    if path:
        return path
    msg = f"the real tool '{name}' is not installed{': ' + why if why else ''} (make test installs it as root)"
    if require_real():
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
