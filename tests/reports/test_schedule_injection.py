"""A schedule is always one crontab line, whatever the values it carries.

Values reach a crontab line (parsed by cron, then by /bin/sh) and a CronJob command. A newline
would make a second crontab entry that ``unschedule`` leaves behind; ``%`` is cut by cron; quotes,
``$(...)``, backticks and ``;`` must reach the program as text. These tests install lines in the
real crontab, run the real shell, and parse the command back with the real command-line parser.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.reports import scheduling as sched_mod
from realparts import need_tool

PAYLOAD = "y\n* * * * * touch X #"
TRICKY = [
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "a && touch pwned",
    "x | touch pwned",
    "'; touch pwned; '",
    '"$(touch pwned)"',
    "100%",
    "%%",
    "a\\%b",
    "\\",
    "a\\",
    "\\'",
    "#not a comment",
    "> pwned",
    "$HOME",
    "${IFS}",
    "*",
    "~",
    "é ü 中文 🙂",
    "",
    " ",
    "-5",
    "-0.25",
]
ALPHABET = st.one_of(st.characters(), st.sampled_from(list("\n\r\t\x00\x7f\u2028\u202e%\\'\"$`;&|<>*?#-~ ")))


def cron_command(line: str) -> tuple[str, str | None]:
    """What cron hands to /bin/sh for a crontab(5) line, and the standard input it sends.

    After the time fields, an unescaped '%' ends the command (the rest, with '%' as newlines, is
    standard input) and a backslash before '%' is dropped; every other character is kept.
    """
    fields = line.split(" ", 1 if line.startswith("@") else 5)
    text = fields[-1]
    out, escaped = [], False
    for i, ch in enumerate(text):
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            out.append(ch)
            continue
        if ch == "%":
            return "".join(out), text[i + 1 :].replace("%", "\n")
        out.append(ch)
    return "".join(out), None


def _cli_params(argv: list[str]) -> list:
    """The NAME VALUE pairs the real command-line parser reads from a scheduled ``report run`` argv."""
    from jupyter_modelops.cli import build_parser

    assert argv[1:5] == ["-m", "jupyter_modelops.cli", "report", "run"]
    args = vars(build_parser().parse_args(argv[3:]))
    return args["params"] if "params" in args else args["param"]


def _lines(exe: str) -> list[str]:
    return subprocess.run([exe, "-l"], capture_output=True, text=True).stdout.splitlines()


def _run_through_cron_and_sh(values: list[str], tmp_path) -> list[str]:
    """Build a crontab line around printf, apply cron's rules, run it with the real /bin/sh."""
    printf = need_tool("printf", "the line's command is run by the real shell")
    sh = need_tool("sh")
    line = sched_mod.crontab_line(
        "0 6 * * *", [printf, "%s\\0", *values], schedule_id="abc123", log=tmp_path / "run.log", home=tmp_path / "home"
    )
    assert "\n" not in line and line.endswith("# jupyter-modelops:schedule:abc123")
    command, stdin = cron_command(line)
    assert stdin is None, f"cron would cut the command at a '%': {line}"
    subprocess.run([sh, "-c", command], cwd=tmp_path, check=True, timeout=30)
    out = (tmp_path / "run.log").read_bytes().decode()
    (tmp_path / "run.log").unlink()
    return out.split("\0")[:-1]


def test_shell_metacharacters_reach_the_command_as_text(tmp_path):
    assert _run_through_cron_and_sh(TRICKY, tmp_path) == TRICKY
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "X").exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.text(alphabet=ALPHABET, max_size=30), min_size=1, max_size=3))
def test_any_value_runs_exactly_or_is_refused(values, tmp_path):
    try:
        got = _run_through_cron_and_sh(values, tmp_path)
    except ValidationError as exc:
        assert "\n" not in str(exc) and "The command argument" in str(exc)
        assert any(sched_mod._control_char(v) for v in values)
        event("refused")
        return
    event("ran")
    assert got == values
    assert not (tmp_path / "pwned").exists()


def test_the_reviewed_injection_is_refused_and_nothing_is_installed(crontab):
    before = _lines(crontab)
    with pytest.raises(ValidationError) as info:
        sched_mod.schedule(None, cron="@daily", template="monitoring", params={"label_column": PAYLOAD})
    msg = str(info.value)
    assert "'label_column'" in msg and "a newline" in msg and "\n" not in msg
    assert _lines(crontab) == before and len(sched_mod.schedules()) == 0


@pytest.mark.parametrize(
    "ch, word",
    [
        ("\r", "a carriage return"),
        ("\t", "a tab"),
        ("\x00", "a NUL"),
        ("\x7f", "U+007F"),
        ("\x85", "U+0085"),
        ("\u2028", "U+2028"),
        ("\u202e", "U+202E"),
    ],
)
def test_every_control_character_is_refused(ch, word):
    with pytest.raises(ValidationError) as info:
        sched_mod.schedule(None, cron="@daily", template="monitoring", params={"title": f"a{ch}b"}, dry_run=True)
    assert str(info.value).startswith("The parameter 'title' contains ") and word in str(info.value)


def test_notify_url_data_path_template_and_model_name_are_checked(tmp_path):
    with pytest.raises(ValidationError, match="notify URL .*contains (a newline|whitespace or a control)"):
        sched_mod.schedule(None, cron="@daily", notify="https://hooks.example/x\n* * * * * touch X #", dry_run=True)
    weird = tmp_path / "current\n* * * * * touch X #.csv"  # a file that really exists
    weird.write_text("a\n1\n")
    with pytest.raises(ValidationError, match="data path contains a newline"):
        sched_mod.schedule(None, cron="@daily", data=str(weird), dry_run=True)
    from .conftest import make_template

    tpl = make_template(tmp_path / "t\n* * * * * touch X #.ipynb", 'title: str = ""  # title\n', "pass")
    with pytest.raises(ValidationError, match="The template contains a newline"):
        sched_mod.schedule(None, cron="@daily", template=tpl, dry_run=True)
    # the registry keeps a model name with a trailing newline; the schedule must not carry it
    from jupyter_modelops import registry

    try:
        ref = registry.snapshot({"w": 1}, "churn\n", trusted=True).ref
    except ValidationError:
        ref = None
    if ref is not None:
        with pytest.raises(ValidationError, match="model reference contains a newline"):
            sched_mod.schedule(ref, cron="@daily", dry_run=True)
    with pytest.raises(ValidationError, match="model reference contains a newline"):
        sched_mod.report_command("churn\n:1", data=None, template="monitoring", params=None, notify=None)


def test_values_read_as_options_are_refused_and_negative_numbers_pass():
    with pytest.raises(ValidationError, match="'title' is '--notify=http://x', which starts with '-'"):
        sched_mod.schedule(None, cron="@daily", params={"title": "--notify=http://x"}, dry_run=True)
    s = sched_mod.schedule(None, cron="@daily", params={"min_score": -0.5, "title": "-3"}, dry_run=True)
    assert s.argv[s.argv.index("min_score") + 1] == "-0.5"


def test_the_kubernetes_cronjob_command_is_checked_too():
    image = "registry.example/churn@sha256:" + "c" * 64
    with pytest.raises(ValidationError, match="'label_column' contains a newline"):
        sched_mod.schedule(
            None, cron="@daily", target="kubernetes", image=image, params={"label_column": PAYLOAD}, dry_run=True
        )
    with pytest.raises(ValidationError, match="image reference contains a newline"):
        sched_mod.schedule(None, cron="@daily", target="kubernetes", image=image + "\nx", dry_run=True)


def test_a_command_too_long_for_cron_is_refused_before_installing(crontab):
    before = _lines(crontab)
    with pytest.raises(ValidationError, match="cron accepts at most 998"):
        sched_mod.schedule(None, cron="@daily", params={"title": "t" * 1000})
    assert _lines(crontab) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(alphabet=ALPHABET, max_size=40))
def test_a_scheduled_line_is_one_line_that_round_trips_and_unschedule_removes_it(value, crontab):
    """Refused, or: exactly one new line in the real crontab, whose command the shell splits into the
    argv that the real command-line parser reads back as the same parameter; unschedule restores the rest."""
    before = _lines(crontab)
    try:
        s = sched_mod.schedule(None, cron="@daily", template="monitoring", params={"label_column": value})
    except ValidationError as exc:
        assert "'label_column'" in str(exc) and "\n" not in str(exc)
        assert sched_mod._control_char(value) or value.startswith("-")
        assert _lines(crontab) == before
        event("refused")
        return
    event("installed")
    after = _lines(crontab)
    assert after[: len(before)] == before and after[len(before) :] == [s.crontab_line]
    command, stdin = cron_command(s.crontab_line)
    assert stdin is None
    words = shlex.split(command, comments=True)
    assert words[0].startswith("MODELOPS_HOME=") and words[-3:] == [">>", s.log, "2>&1"]
    assert words[1:-3] == s.argv and s.argv[0] == sys.executable
    assert _cli_params(s.argv) == [["label_column", value]]
    sched_mod.unschedule(s.id)
    assert _lines(crontab) == before


@pytest.mark.parametrize("value", ["[1]", "42", "true", '{"a": 1}', "plain text", "null"])
def test_text_for_an_untyped_parameter_stays_text_at_run_time(value, tmp_path):
    """'report run' reads the text of a parameter not declared str as JSON: the schedule quotes it."""
    from jupyter_modelops.reports import params

    from .conftest import make_template

    tpl = make_template(tmp_path / "t.ipynb", "anything = None  # any value\n", "pass")
    s = sched_mod.schedule(None, cron="@daily", template=tpl, params={"anything": value}, dry_run=True)
    assert params.validate(tpl, dict(_cli_params(s.argv)), from_text=True) == {"anything": value}


@pytest.mark.parametrize(
    "url", ["https://hooks.example/a\nb", "https://hooks.example/a b", "http://h/\tx", "https://hooks.example/\x85"]
)
def test_notify_urls_with_whitespace_or_controls_are_refused_everywhere(url):
    from jupyter_modelops.reports.notify import check_url

    with pytest.raises(ValidationError, match="notify URL .* contains whitespace or a control character"):
        check_url(url)
    good = "https://hooks.example/services/T0/B0/x?y=1%20z"
    assert check_url(good) == good
    from jupyter_modelops.reports import report

    with pytest.raises(ValidationError, match="contains whitespace or a control character"):
        report(None, template="monitoring", notify=url)  # before any kernel starts
