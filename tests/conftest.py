"""Shared fixtures. Every test gets its own MODELOPS_HOME."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


@pytest.fixture(autouse=True)
def modelops_home(tmp_path, monkeypatch):
    home = tmp_path / "modelops-home"
    monkeypatch.setenv("MODELOPS_HOME", str(home))
    return home


def require_real() -> bool:
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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
