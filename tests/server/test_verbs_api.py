"""GET verbs[/NAME] through a real jupyter_server: each verb's schema is its CLI's --help, from one declaration."""

from __future__ import annotations

import argparse

import pytest

from jupyter_modelops import verbs
from jupyter_modelops.cli import build_parser, main

CLI_OPTIONS = {"help", "debug", "json", "html"}


def cli_subparser(path: list[str]) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in path:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
    return parser


async def test_verbs_lists_every_declared_verb(api, jp_fetch):
    listed = await api.get("verbs")
    assert [v["name"] for v in listed] == verbs.names()
    info = await api.get("info")
    assert [a["name"] for a in info["actions"]] == [v["name"] for v in listed if "rest" in v["faces"]]


@pytest.mark.parametrize("name", [n for n in verbs.names("cli")])
async def test_schema_of_a_verb_matches_its_cli_help(api, jp_fetch, name, capsys):
    schema = await api.get("verbs", name)
    assert schema["name"] == name
    path = schema["cli"].split()
    with pytest.raises(SystemExit):
        main([*path, "--help"])
    help_text = capsys.readouterr().out
    parser = cli_subparser(path)
    actions = {a.dest: a for a in parser._actions if a.dest not in CLI_OPTIONS}
    on_cli = [p for p in schema["params"] if "cli" in p["faces"]]
    assert sorted(p["name"] for p in on_cli) == sorted(actions)  # same arguments
    for p in on_cli:
        a = actions[p["name"]]
        spelling = p["spelling"]["cli"]
        assert spelling in help_text or "{%s}" % ",".join(p["choices"]) in help_text
        assert (spelling in a.option_strings) if a.option_strings else (a.metavar or a.dest) == spelling
        assert p.get("choices") == (list(a.choices) if a.choices else None)  # same choices
        if isinstance(a, argparse._StoreTrueAction):  # a switch: the schema gives the core's value when left out
            assert a.default is False and p["default"] is p["negate"]
        elif isinstance(a, argparse._AppendAction):
            assert a.default == [] and p["default"] in ([], {})
        else:
            assert a.default == p["default"]  # same defaults


async def test_unknown_verb_schema_is_a_404_with_a_suggestion(api, jp_fetch):
    code, err = await api.error_of(api.get("verbs", "exprot"))
    assert code == 404 and err["error"] == "ModelNotFoundError"
    assert "There is no verb 'exprot'" in err["message"] and "Did you mean: export" in err["message"]


async def test_job_parameters_are_converted_and_checked_by_kind(api, jp_fetch):
    code, err = await api.error_of(
        api.send("POST", "jobs", body={"action": "export", "params": {"model_or_ref": "m:1", "opset": "x"}})
    )
    assert code == 400 and "'opset' must be an integer" in err["message"]
    code, err = await api.error_of(api.send("POST", "actions", "deploy", body={"ref": "m:1", "mode": "helm"}))
    assert code == 400 and "'mode' must be one of deployment, kserve" in err["message"]
    assert await api.get("jobs") == []


async def test_read_handlers_take_query_arguments_through_the_declaration(api, jp_fetch, modelops_home):
    code, err = await api.error_of(api.get("reports"))
    assert code == 400 and "needs 'name'; 'name' is missing" in err["message"]
    code, err = await api.error_of(api.get("reports", name="nosuchmodel"))
    assert code == 404 and "nosuchmodel" in err["message"]
