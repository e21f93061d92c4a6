"""The REST API of the server extension, through a real jupyter_server (pytest-jupyter's jp_fetch)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_modelops.server.handlers import ROUTES, handler_verbs




async def get(jp_fetch, *path, **params):
    r = await jp_fetch("jupyter-modelops", "api", *path, params=params or None)
    return json.loads(r.body)


async def send(jp_fetch, method, *path, body=None):
    r = await jp_fetch("jupyter-modelops", "api", *path, method=method,
                       body=body if isinstance(body, str) else json.dumps(body or {}))
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


# ---------------------------------------------------------------- authentication


def _sample_path(pattern: str) -> list[str]:
    return re.sub(r"\(\[\^/\]\+\)", "x", pattern).split("/")


@pytest.mark.parametrize("pattern,handler", ROUTES, ids=[p for p, _ in ROUTES])
async def test_every_handler_rejects_unauthenticated_requests(jp_fetch, pattern, handler):
    verbs = handler_verbs(handler)
    assert verbs, f"{handler.__name__} implements no verb"
    for verb in verbs:
        body = None if verb in ("get", "delete") else "{}"
        code, _ = await error_of(jp_fetch("jupyter-modelops", "api", *_sample_path(pattern), method=verb.upper(),
                                          body=body, headers={"Authorization": ""}))
        assert code == 403, f"{verb.upper()} {pattern} answered {code} without credentials"


async def test_routes_table_covers_every_registered_handler(jp_serverapp):
    """The enumeration above must not miss a handler of ours registered outside ROUTES."""
    ours: set = set()

    def walk(router):
        for rule in getattr(router, "rules", []):
            target = rule.target
            if isinstance(target, type) and target.__module__.startswith("jupyter_modelops"):
                ours.add(target)
            walk(target)

    walk(jp_serverapp.web_app.default_router)
    walk(jp_serverapp.web_app.wildcard_router)
    assert ours == {h for _, h in ROUTES}


async def test_a_wrong_token_is_rejected_too(jp_fetch):
    code, _ = await error_of(jp_fetch("jupyter-modelops", "api", "models", headers={"Authorization": "token nope"}))
    assert code == 403


# ---------------------------------------------------------------- info and errors


async def test_info_lists_the_actions_and_their_parameters(jp_fetch):
    import jupyter_modelops

    info = await get(jp_fetch, "info")
    assert info["version"] == jupyter_modelops.__version__
    names = [a["name"] for a in info["actions"]]
    assert {"export", "build", "push", "deploy", "promote", "rollback", "report", "schedule"} <= set(names)
    for action in info["actions"]:
        if action["available"]:
            assert action["params"], action


async def test_cron_preview_uses_the_core_and_bad_cron_is_one_sentence(jp_fetch):
    ok = await get(jp_fetch, "cron", expression="0 6 * * 1-5")
    assert ok["expression"] == "0 6 * * 1-5"
    assert "06:00" in ok["description"]
    code, err = await error_of(get(jp_fetch, "cron", expression="61 * * * *"))
    assert code == 400
    assert err["error"] == "ValidationError"
    assert "61" in err["message"] and "minute" in err["message"] and "\n" not in err["message"]


async def test_unknown_model_is_a_404_with_the_core_message(jp_fetch):
    code, err = await error_of(get(jp_fetch, "models", "nosuchmodel"))
    assert code == 404
    assert err["error"] == "ModelNotFoundError" and "nosuchmodel" in err["message"]


async def test_diff_needs_both_refs(jp_fetch):
    code, err = await error_of(get(jp_fetch, "diff", a="m:1"))
    assert code == 400 and "'a' and 'b'" in err["message"]


# ---------------------------------------------------------------- jobs: bad input


async def test_unknown_action_is_refused_with_suggestion(jp_fetch):
    code, err = await error_of(send(jp_fetch, "POST", "jobs", body={"action": "exprot", "params": {}}))
    assert code == 400 and err["error"] == "ValidationError"
    assert "Unknown action 'exprot'" in err["message"] and "Did you mean: export" in err["message"]


async def test_body_that_is_not_json_is_a_400(jp_fetch):
    code, err = await error_of(send(jp_fetch, "POST", "jobs", body="{not json"))
    assert code == 400 and "not valid JSON" in err["message"]


async def test_body_that_is_not_an_object_is_a_400(jp_fetch):
    code, err = await error_of(send(jp_fetch, "POST", "jobs", body="[1, 2]"))
    assert code == 400 and "JSON object" in err["message"]


async def test_params_must_be_an_object(jp_fetch):
    code, err = await error_of(send(jp_fetch, "POST", "jobs", body={"action": "export", "params": [1]}))
    assert code in (400, 501)
    if code == 400:
        assert "'params' must be a JSON object" in err["message"]


async def test_unknown_job_is_a_404(jp_fetch):
    code, err = await error_of(get(jp_fetch, "jobs", "0123456789ab"))
    assert code == 404 and "no job '0123456789ab'" in err["message"]
