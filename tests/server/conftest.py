"""Fixtures of the server-extension tests: a real jupyter_server with our extension, token auth on."""

from __future__ import annotations

import pytest

# pytest-jupyter's fixtures (jp_serverapp, jp_fetch, ...), imported here rather
# than via pytest_plugins so they stay local to this folder.
from pytest_jupyter.jupyter_core import *  # noqa: F401,F403
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403


@pytest.fixture
def jp_server_config():  # noqa: F811 - overrides pytest-jupyter's
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_modelops": True},
            "allow_unauthenticated_access": False,
        }
    }
