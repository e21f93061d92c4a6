"""The extension as installed: versions agree, Jupyter lists both halves OK, the panel's helpers pass their unit tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jupyter_modelops
from realparts import need_tool

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _jupyter(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120)
    return ANSI.sub("", out.stdout + out.stderr)


def test_one_version_everywhere():
    source = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    built = json.loads((REPO / "jupyter_modelops" / "labextension" / "package.json").read_text())["version"]
    assert source == built == jupyter_modelops.__version__


def test_jupyter_lists_the_labextension_and_the_server_extension_ok():
    lab = _jupyter("labextension", "list")
    line = [ln for ln in lab.splitlines() if "jupyter-modelops" in ln]
    assert line and "enabled" in line[0] and "OK" in line[0], lab
    srv = _jupyter("server", "extension", "list")
    assert "jupyter_modelops enabled" in " ".join(srv.split()), srv
    assert any("jupyter_modelops" in ln and "OK" in ln for ln in srv.splitlines()), srv


def test_panel_helpers_unit_tests_pass():
    node = need_tool("node", "the panel's TypeScript helpers are unit-tested with node's test runner")
    lib = REPO / "labextension" / "lib" / "format.js"
    assert lib.exists(), "labextension/lib is missing: the editable install (make env) compiles it"
    out = subprocess.run([node, "--experimental-detect-module", "--test", "test/"], cwd=REPO / "labextension",
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", out.stdout, flags=re.M)
    assert "# fail 0" in out.stdout and passed and int(passed.group(1)) >= 5, out.stdout
