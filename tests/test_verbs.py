"""Every verb is declared once: the magic's parser, the CLI's parser and the REST parameters come from it."""

from __future__ import annotations

import argparse

import pytest
from IPython.core.error import UsageError

from jupyter_modelops import verbs
from jupyter_modelops.cli import build_parser as cli_parser
from jupyter_modelops.cli import main
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.magics import build_parser as magic_parser
from jupyter_modelops.verbs import Face, Param, Verb
from jupyter_modelops.verbs._spec import Flag, Int, Pairs, Text

#: what each face adds to every verb (not parameters of the verb)
FACE_OPTIONS = {"magic": {"help", "out", "debug"}, "cli": {"help", "debug", "json", "html"}}
ALL = list(verbs.all_verbs().values())


@pytest.fixture(scope="module")
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


def cli_subparser(verb: Verb) -> argparse.ArgumentParser:
    parser = cli_parser()
    for word in verb.cli_path or (verb.name,):
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def parser_of(verb: Verb, face: str) -> argparse.ArgumentParser:
    return magic_parser(verb.name)[0] if face == "magic" else cli_subparser(verb)


def expected_default(p: Param):
    if isinstance(p.kind, Pairs) or p.repeat:
        return []
    return p.default


@pytest.mark.parametrize("face", ["magic", "cli"])
@pytest.mark.parametrize("verb", ALL, ids=[v.name for v in ALL])
def test_each_face_parser_is_generated_from_the_declaration(verb, face):
    if face not in verb.faces:
        pytest.skip(f"{verb.name} is not on the {face} face")
    parser = parser_of(verb, face)
    actions = {a.dest: a for a in parser._actions if a.dest not in FACE_OPTIONS[face]}
    declared = {p.name: p for p in verb.params_on(face)}
    assert set(actions) == set(declared), f"{face} {verb.name}"
    text = parser.format_help()
    for name, p in declared.items():
        a = actions[name]
        if p.is_positional(face):
            assert not a.option_strings and a.metavar in (None, p.spelling(face))
        else:
            assert p.spelling(face) in a.option_strings and p.spelling(face) in text
        assert (list(a.choices) if a.choices else None) == (list(p.choices) if p.choices else None)
        assert a.default == expected_default(p), f"{face} {verb.name} {name}"
        if not p.is_positional(face):
            assert a.required == p.required
    assert verb.description(face).splitlines()[0] in text


@pytest.mark.parametrize("verb", ALL, ids=[v.name for v in ALL])
def test_help_text_has_no_markup_artefacts(verb, ip, capsys):
    for face in ("magic", "cli"):
        if face not in verb.faces:
            continue
        text = parser_of(verb, face).format_help()
        for artefact in ("::", "%%", "<{", "{prog}"):
            assert artefact not in text, f"{face} {verb.name}: {artefact!r} in the help"
    if "magic" in verb.faces:
        assert ip.run_line_magic("modelops", f"{verb.name} --help") is None
        shown = capsys.readouterr().out
        assert shown.startswith(f"usage: %modelops {verb.name}") and "::" not in shown and "%%" not in shown


def test_rest_parameters_are_the_declared_ones_with_core_names():
    for verb in ALL:
        schema = verb.schema()
        assert [p["name"] for p in schema["params"]] == [p.name for p in verb.params]
        rest = [p["name"] for p in schema["params"] if "rest" in p["faces"]]
        assert rest == [p.name for p in verb.params_on("rest")]
    export = verbs.get("export")
    # a negated switch: --no-benchmark on the command line, benchmark (default true) in JSON and in the core
    bench = next(p for p in export.schema()["params"] if p["name"] == "benchmark")
    assert bench["default"] is True and bench["negate"] is True and bench["spelling"]["cli"] == "--no-benchmark"
    assert export.from_json({"model_or_ref": "m:1", "benchmark": False})["benchmark"] is False
    assert export.from_json({"model_or_ref": "m:1"})["benchmark"] is True


@pytest.mark.parametrize(
    "params, message",
    [
        ({"model_or_ref": "m:1", "opset": "seventeen"}, "'opset' must be an integer"),
        ({"model_or_ref": "m:1", "opset": True}, "'opset' must be an integer"),
        ({"model_or_ref": "m:1", "format": "onxx"}, "must be one of onnx, torchscript; got 'onxx'. Did you mean: onnx"),
        ({"model_or_ref": ["m:1"]}, "'model_or_ref' must be a string"),
        ({"model_or_ref": "m:1\x00; rm -rf /"}, "NUL character"),
        ({"model_or_ref": "m:1", "rtol": "tiny"}, "'rtol' must be a number"),
        ({"model_or_ref": "m:1", "allow_mismatch": "yes"}, "'allow_mismatch' must be true or false"),
        ({"model_or_ref": "m:1", "sample": [[1, 2]]}, "has no parameter 'sample'"),  # objects are not taken from JSON
        ({"format": "onnx"}, "needs 'model_or_ref'; 'model_or_ref' is missing"),
        ([1, 2], "'params' must be a JSON object"),
    ],
)
def test_rest_values_are_checked_by_kind(params, message):
    with pytest.raises(ValidationError) as info:
        verbs.get("export").from_json(params)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_rest_pairs_and_lists_are_checked_too():
    report = verbs.get("report")
    assert report.from_json({"ref": "m:1", "params": {"psi_fail": 0.3}})["params"] == {"psi_fail": 0.3}
    with pytest.raises(ValidationError, match="'params' must be a JSON object"):
        report.from_json({"ref": "m:1", "params": [["psi_fail", "0.3"]]})
    stop = verbs.get("stop")
    assert stop.from_json({"deployment": "churn"}) == {"deployment": "churn", "all": False}


def test_cli_suggests_a_verb_for_a_typo(capsys):
    assert main(["evalute", "--model", "m.skops"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelops: error: unknown verb 'evalute'. Did you mean: evaluate") and err.count("\n") == 1
    assert main(["report", "histroy", "churn"]) == 2
    assert "unknown action 'histroy' of 'report'. Did you mean: history" in capsys.readouterr().err


def test_cli_bad_value_of_a_kind_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", "churn:1", "--opset", "x"])
    assert info.value.code == 2 and "expected an integer such as 3, got 'x'" in capsys.readouterr().err


def test_magic_bad_value_of_a_kind_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="expected a number such as 0.5, got 'lots'"):
        ip.run_line_magic("modelops", "robustness m X --severities 0.1,lots")


def test_report_verbs_keep_their_command_line_group():
    spelled = {v.name: v.cli_path for v in ALL if v.cli_path}
    assert spelled == {
        "report": ("report", "run"),
        "history": ("report", "history"),
        "schedule": ("report", "schedule"),
        "schedules": ("report", "schedules"),
        "unschedule": ("report", "unschedule"),
    }


@pytest.fixture
def echo(monkeypatch):
    """A verb added the way a new module would add one: one declaration and its call."""

    def run(face, *, text, times, upper, tags):
        out = " ".join([text.upper() if upper else text] * times)
        return {"face": face.name, "out": out, "tags": tags}

    verb = Verb(
        "echo",
        "repeat a text",
        doc="Repeat a text.\n\nExample: {prog} echo hi --times 2",
        run=run,
        faces=("magic", "cli", "rest"),
        params=[
            Param("text", Text(), positional=True, help="what to repeat"),
            Param("times", Int(), default=1, help="how often"),
            Param("upper", Flag(), help="in capitals"),
            Param("tags", Text(), flag="--tag", repeat=True, help="a tag (repeatable)"),
        ],
    )
    verbs.all_verbs()
    monkeypatch.setitem(verbs._CACHE, "echo", verb)
    return verb


def test_a_new_verb_is_one_declaration_on_every_face(echo, ip, capsys):
    got = ip.run_line_magic("modelops", "echo hi --times 2 --tag a --tag b -o e")
    assert got == {"face": "magic", "out": "hi hi", "tags": ["a", "b"]} and ip.user_ns["e"] is got
    assert "echo" in ip.run_line_magic("modelops", "help")
    assert main(["echo", "hi", "--upper", "--json"]) == 0
    assert '"out": "HI"' in capsys.readouterr().out
    values = echo.from_json({"text": "hi", "times": "3", "tags": ["x"]})
    assert echo.call(Face("rest"), values) == {"face": "rest", "out": "hi hi hi", "tags": ["x"]}
    with pytest.raises(UsageError, match="argument --times"):
        ip.run_line_magic("modelops", "echo hi --times often")
    from jupyter_modelops.server.actions import ACTIONS

    assert "echo" in ACTIONS and any(a["name"] == "echo" for a in ACTIONS.describe())


def test_listings_count_in_the_singular_and_plural(ip):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(40, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    ip.user_ns.update(m=model, X_h6=X)
    ip.run_line_magic("modelops", "snapshot m --name one --data X_h6")
    assert repr(ip.run_line_magic("modelops", "versions one")) == "<VersionList one (1 version)>"
    assert repr(ip.run_line_magic("modelops", "models")) == "<ModelList (1 model)>"
    ip.run_line_magic("modelops", "snapshot m --name one")
    assert "(2 versions)" in repr(ip.run_line_magic("modelops", "versions one"))


def test_a_value_that_begins_with_a_dash_is_explained_on_both_faces(ip, capsys):
    # a generated bearer token begins with '-' one time in 64; argparse reads it as an option
    token = "-Xy" + "a" * 30
    with pytest.raises(SystemExit) as info:
        cli_parser().parse_args(["predict", "http://127.0.0.1:1", "--data", "x.csv", "--token", token])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "join it to the option: --token=VALUE" in err
    args = cli_parser().parse_args(["predict", "http://127.0.0.1:1", "--data", "x.csv", f"--token={token}"])
    assert args.token == token
    with pytest.raises(UsageError, match="join it to the option: --token=VALUE"):
        ip.run_line_magic("modelops", f"predict http://127.0.0.1:1 X --token {token}")
    parser, _ = magic_parser("predict")
    assert parser.parse_args(["http://127.0.0.1:1", "X", f"--token={token}"]).token == token


def test_trust_and_trusted_are_one_switch_on_every_command_line_verb():
    # evaluate/robustness/drift said --trust, snapshot/load/predict-batch --trusted: both spellings work on each
    for argv, dest in (
        (["evaluate", "--model", "m.skops", "--data", "d.csv", "--target", "y"], "trust"),
        (["snapshot", "m.skops", "--name", "churn"], "trusted"),
        (["load", "churn:1", "--to", "out"], "trusted"),
    ):
        for spelling in ("--trust", "--trusted"):
            assert getattr(cli_parser().parse_args([*argv, spelling]), dest) is True
        assert getattr(cli_parser().parse_args(argv), dest) is False
