"""The REST API of the server extension, through a real jupyter_server (pytest-jupyter's jp_fetch)."""

from __future__ import annotations

import re

import pytest

from jupyter_modelops.server.handlers import ROUTES, handler_verbs

# ---------------------------------------------------------------- authentication


def _sample_path(pattern: str) -> list[str]:
    return re.sub(r"\(\[\^/\]\+\)", "x", pattern).split("/")


@pytest.mark.parametrize("pattern,handler", ROUTES, ids=[p for p, _ in ROUTES])
async def test_every_handler_rejects_unauthenticated_requests(api, jp_fetch, pattern, handler):
    verbs = handler_verbs(handler)
    assert verbs, f"{handler.__name__} implements no verb"
    for verb in verbs:
        body = None if verb in ("get", "delete") else "{}"
        code, _ = await api.error_of(
            jp_fetch(
                "jupyter-modelops",
                "api",
                *_sample_path(pattern),
                method=verb.upper(),
                body=body,
                headers={"Authorization": ""},
            )
        )
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


async def test_a_wrong_token_is_rejected_too(api, jp_fetch):
    code, _ = await api.error_of(jp_fetch("jupyter-modelops", "api", "models", headers={"Authorization": "token nope"}))
    assert code == 403


# ---------------------------------------------------------------- info and errors


async def test_info_lists_the_actions_and_their_parameters(api, jp_fetch):
    import jupyter_modelops

    info = await api.get("info")
    assert info["version"] == jupyter_modelops.__version__
    names = [a["name"] for a in info["actions"]]
    assert {"export", "build", "push", "deploy", "promote", "rollback", "report", "schedule"} <= set(names)
    from jupyter_modelops.verbs import get as get_verb

    for action in info["actions"]:
        if action["available"]:  # each action offers exactly the parameters its verb declares for REST
            declared = [p.name for p in get_verb(action["name"]).params_on("rest")]
            assert [p["name"] for p in action["params"]] == declared, action
    assert next(a for a in info["actions"] if a["name"] == "export")["params"]


async def test_cron_preview_uses_the_core_and_bad_cron_is_one_sentence(api, jp_fetch):
    ok = await api.get("cron", expression="0 6 * * 1-5")
    assert ok["expression"] == "0 6 * * 1-5"
    assert "06:00" in ok["description"]
    code, err = await api.error_of(api.get("cron", expression="61 * * * *"))
    assert code == 400
    assert err["error"] == "ValidationError"
    assert "61" in err["message"] and "minute" in err["message"] and "\n" not in err["message"]


async def test_unknown_model_is_a_404_with_the_core_message(api, jp_fetch):
    code, err = await api.error_of(api.get("models", "nosuchmodel"))
    assert code == 404
    assert err["error"] == "ModelNotFoundError" and "nosuchmodel" in err["message"]


async def test_diff_needs_both_refs(api, jp_fetch):
    code, err = await api.error_of(api.get("diff", a="m:1"))
    assert code == 400 and "'a' and 'b'" in err["message"]


# ---------------------------------------------------------------- jobs: bad input


async def test_unknown_action_is_refused_with_suggestion(api, jp_fetch):
    code, err = await api.error_of(api.send("POST", "jobs", body={"action": "exprot", "params": {}}))
    assert code == 400 and err["error"] == "ValidationError"
    assert "Unknown action 'exprot'" in err["message"] and "Did you mean: export" in err["message"]


async def test_body_that_is_not_json_is_a_400(api, jp_fetch):
    code, err = await api.error_of(api.send("POST", "jobs", body="{not json"))
    assert code == 400 and "not valid JSON" in err["message"]


async def test_body_that_is_not_an_object_is_a_400(api, jp_fetch):
    code, err = await api.error_of(api.send("POST", "jobs", body="[1, 2]"))
    assert code == 400 and "JSON object" in err["message"]


async def test_params_must_be_an_object(api, jp_fetch):
    code, err = await api.error_of(api.send("POST", "jobs", body={"action": "export", "params": [1]}))
    assert code == 400 and "'params' must be a JSON object" in err["message"]


async def test_unknown_job_is_a_404(api, jp_fetch):
    code, err = await api.error_of(api.get("jobs", "0123456789ab"))
    assert code == 404 and "no job '0123456789ab'" in err["message"]


async def test_report_params_lists_a_templates_declared_parameters(api, jp_fetch):
    reply = await api.get("report-params", template="monitoring")
    by_name = {p["name"]: p for p in reply["params"]}
    assert by_name["label_column"]["type"] == "str"
    assert by_name["max_drift_share"] == {**by_name["max_drift_share"], "type": "float", "default": "0.5"}
    drift = await api.get("report-params", template="drift")
    assert "max_psi" in {p["name"] for p in drift["params"]} and "max_psi" not in by_name


async def test_report_params_reads_no_notebook_path(api, jp_fetch):
    code, body = await api.error_of(api.get("report-params", template="../secret.ipynb"))
    assert code == 400 and "not a built-in report template name" in body["message"]
    code, body = await api.error_of(api.get("report-params", template="nope"))
    assert code == 400 and "no built-in report template named 'nope'" in body["message"]
