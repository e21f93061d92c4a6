"""The package itself: import weight, the routers of the faces, the exception tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "onnx", "onnxruntime", "kubernetes", "matplotlib", "papermill", "sklearn")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_is_light():
    mods = _modules_after("import jupyter_modelops")
    assert not [m for m in HEAVY if m in mods]


def test_load_ext_is_light():
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from traitlets.config import Config\n"
        "c = Config(); c.HistoryAccessor.enabled = False\n"
        "ip = InteractiveShell.instance(config=c)\n"
        "ip.run_line_magic('load_ext', 'jupyter_modelops')\n"
        "assert 'modelops' in ip.magics_manager.magics['line']\n"
    )
    mods = _modules_after(code)
    assert not [m for m in HEAVY if m in mods]


def test_cli_help_is_light_and_lists_verbs():
    out = subprocess.run([sys.executable, "-m", "jupyter_modelops.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "modelops" in out.stdout
    mods = _modules_after("from jupyter_modelops.cli import build_parser; build_parser()")
    assert not [m for m in HEAVY if m in mods]


def test_unknown_attribute_is_an_attribute_error():
    import jupyter_modelops

    with pytest.raises(AttributeError):
        jupyter_modelops.no_such_function  # noqa: B018


def test_error_classes_declare_status_and_exit_code():
    from jupyter_modelops import exceptions as E

    assert E.ValidationError("x").exit_code == 2 and E.ValidationError("x").http_status == 400
    assert issubclass(E.ValidationError, ValueError)
    assert E.ModelNotFoundError("x").exit_code == 3 and E.ModelNotFoundError("x").http_status == 404
    err = E.MissingDependencyError("onnx", "onnx", purpose="export to ONNX")
    assert "pip install 'jupyter-modelops[onnx]'" in str(err) and err.exit_code == 5
    assert E.suggest("evalute", ["evaluate", "export"]).startswith(" Did you mean: evaluate")


def test_map_exceptions_keeps_the_cause():
    from jupyter_modelops.exceptions import BuildError, map_exceptions

    with pytest.raises(BuildError) as info:
        with map_exceptions({OSError: BuildError}, "could not reach the registry: {exc}"):
            raise ConnectionRefusedError("refused")
    assert "refused" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_public_functions_are_functions_and_no_module_swaps_its_class():
    import subprocess

    names = {
        "drift": "drift_detection",
        "robustness": "robustness_testing",
        "export": "exporters",
        "deploy": "deployment",
    }
    for name, package in names.items():
        # in a fresh process, the function first and then its package, and the reverse order
        for first in ("function", "package"):
            code = (
                "import inspect, types, jupyter_modelops as mo\n"
                + (
                    f"f = mo.{name}\nimport jupyter_modelops.{package} as pkg\n"
                    if first == "function"
                    else f"import jupyter_modelops.{package} as pkg\nf = mo.{name}\n"
                )
                + f"assert inspect.isfunction(f) and f.__name__ == '{name}' and mo.{name} is f, f\n"
                + f"assert type(pkg) is types.ModuleType and pkg.{name} is f\n"
            )
            subprocess.run([sys.executable, "-c", code], check=True)
    root = Path(__file__).resolve().parents[1] / "jupyter_modelops"
    swaps = [p for p in root.rglob("*.py") if "__class__ =" in p.read_text()]
    assert swaps == []
