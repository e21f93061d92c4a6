"""Fixtures of the server-extension tests: a real jupyter_server with our extension, token auth on."""

from __future__ import annotations

import asyncio
import json
import types

import pytest

# pytest-jupyter's fixtures (jp_serverapp, jp_fetch, ...), imported here rather
# than via pytest_plugins so they stay local to this folder.
from pytest_jupyter.jupyter_core import *  # noqa: F401,F403
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config():  # noqa: F811 - overrides pytest-jupyter's
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_modelops": True},
            "allow_unauthenticated_access": False,
        }
    }


# ---- small helpers over jp_fetch, shared by the test files as the ``api`` fixture


async def get(jp_fetch, *path, **params):
    r = await jp_fetch("jupyter-modelops", "api", *path, params=params or None)
    return json.loads(r.body)


async def send(jp_fetch, method, *path, body=None):
    r = await jp_fetch(
        "jupyter-modelops", "api", *path, method=method, body=body if isinstance(body, str) else json.dumps(body or {})
    )
    return r.code, json.loads(r.body)


async def error_of(coro):
    with pytest.raises(HTTPClientError) as info:
        await coro
    return info.value.code, json.loads(info.value.response.body)


async def wait_job(jp_fetch, job_id, timeout=60.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        job = await get(jp_fetch, "jobs", job_id)
        if job["status"] in ("succeeded", "failed"):
            return job
        assert loop.time() < end, f"job {job_id} still {job['status']} after {timeout} s: {job['logs']}"
        await asyncio.sleep(0.1)


@pytest.fixture
def api(jp_fetch):
    """``api.get(*path, **query)``, ``api.send(method, *path, body=)``, ``api.error_of(coro)``, ``api.wait_job(id)``."""
    return types.SimpleNamespace(
        get=lambda *p, **q: get(jp_fetch, *p, **q),
        send=lambda m, *p, body=None: send(jp_fetch, m, *p, body=body),
        error_of=error_of,
        wait_job=lambda i, timeout=60.0: wait_job(jp_fetch, i, timeout),
    )
