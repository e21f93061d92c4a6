"""The %modelops router in a real IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError


@pytest.fixture(scope="module")
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


def test_help_lists_verbs(ip):
    text = ip.run_line_magic("modelops", "")
    assert "Verbs:" in text
    assert str(ip.run_line_magic("modelops", "help")) == str(text)


def test_unknown_verb_is_one_line_usage_error(ip):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("modelops", "frobnicate x")
    assert "Unknown verb 'frobnicate'" in str(info.value)
    assert "\n" not in str(info.value)


def test_unbalanced_quotes(ip):
    with pytest.raises(UsageError, match="quotes"):
        ip.run_line_magic("modelops", "evaluate 'oops")
