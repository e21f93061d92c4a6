"""Report runs with a real kernel (papermill), without the registry."""

import json
from pathlib import Path

import pytest

from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.reports import report

from .conftest import make_template

PARAMS = "threshold: float = 0.5  # gate threshold\nvalue: float = 0.9  # the measured value\n"
BODY = (
    "from jupyter_modelops.reports import publish_summary\n"
    "status = 'pass' if value >= threshold else 'fail'\n"
    "publish_summary(title='toy', metrics={'value': value},\n"
    "                gates=[{'name': f'value >= {threshold}', 'status': status, 'detail': f'value={value}'}])"
)


def test_successful_run_writes_notebook_html_and_summary(tmp_path):
    tpl = make_template(tmp_path / "toy.ipynb", PARAMS, "print('hello from the report')", BODY)
    run = report(template=tpl, params={"value": 0.95}, output_dir=tmp_path / "out")
    assert run.status == "succeeded" and run.ok and run.gates_passed is True
    assert run.metrics == {"value": 0.95}
    assert Path(run.notebook).is_file()
    html = Path(run.html).read_text()
    assert "hello from the report" in html
    assert "print(" not in html  # inputs hidden
    assert json.loads(Path(run.summary_path).read_text())["status"] == "succeeded"
    assert "succeeded" in run._repr_html_()


def test_the_kernel_log_does_not_reach_the_calling_process(tmp_path, capfd):
    tpl = make_template(tmp_path / "toy.ipynb", PARAMS, BODY)
    run = report(template=tpl, output_dir=tmp_path / "out")
    assert run.status == "succeeded"
    err = capfd.readouterr().err
    assert "IPKernelApp" not in err and "WARNING" not in err, err


def test_failed_gate_is_reported_not_hidden(tmp_path, webhook):
    url, received = webhook
    tpl = make_template(tmp_path / "toy.ipynb", PARAMS, BODY)
    run = report(template=tpl, params={"value": 0.2}, output_dir=tmp_path / "out", notify=url)
    assert run.status == "succeeded" and run.gates_passed is False and not run.ok
    assert len(received) == 1
    body = received[0]["body"]
    assert received[0]["ctype"] == "application/json"
    assert "1 gate(s) failed" in body["text"] and "value >= 0.5" in body["text"]


def test_raising_cell_is_failed_and_keeps_the_notebook(tmp_path, webhook):
    url, received = webhook
    tpl = make_template(tmp_path / "bad.ipynb", PARAMS, "raise RuntimeError('labels are missing')", BODY)
    run = report(template=tpl, output_dir=tmp_path / "out", notify=url)
    assert run.status == "failed" and not run.ok
    assert "RuntimeError" in run.error and "labels are missing" in run.error
    assert Path(run.notebook).is_file()
    assert "FAILED" in received[0]["body"]["text"]


def test_dead_kernel_is_failed(tmp_path):
    tpl = make_template(tmp_path / "die.ipynb", PARAMS, "import os; os._exit(3)", BODY)
    run = report(template=tpl, output_dir=tmp_path / "out", timeout=60)
    assert run.status == "failed"
    assert run.error


def test_template_without_summary_is_failed(tmp_path):
    tpl = make_template(tmp_path / "quiet.ipynb", PARAMS, "x = 1")
    run = report(template=tpl, output_dir=tmp_path / "out")
    assert run.status == "failed" and "published no summary" in run.error


def test_bad_parameters_fail_before_any_kernel(tmp_path):
    tpl = make_template(tmp_path / "toy.ipynb", PARAMS, BODY)
    with pytest.raises(ValidationError, match="'threshold' expects float"):
        report(template=tpl, params={"threshold": "high"}, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValidationError, match="does not exist"):
        report(template=tpl, data=tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="no built-in report template named 'monitorng'"):
        report(template="monitorng")
