"""%modelops evaluate in a real IPython shell (the singleton, so display() output is captured)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output


@pytest.fixture(scope="module")
def ip(binary_data, multiclass_data):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    model, X, y = binary_data
    shell.user_ns.update(model=model, X_test=X, y_test=y)
    mmodel, mX, my = multiclass_data
    shell.user_ns.update(mmodel=mmodel, mX=mX, my=my)
    return shell


def _run(ip, cell):
    with capture_output() as cap:
        result = ip.run_cell(cell)
    result.raise_error()
    return result, cap


def test_evaluate_displays_html_report(ip):
    result, cap = _run(ip, "%modelops evaluate model X_test y_test --n-boot 200")
    # the cell's value goes through the display hook, which formats it with the shell's formatters
    fmt, _ = ip.display_formatter.format(result.result)
    html = [fmt.get("text/html")]
    assert html[0], "the report has no HTML representation"
    assert "Evaluation: Binary classification" in html[0] and '<img src="data:image/svg+xml;base64,' in html[0]
    assert "roc_auc" in html[0] and "95% interval" in html[0]
    assert "<script" not in html[0]


def test_out_stores_the_report_and_check_shows_gates(ip):
    rep = ip.run_line_magic(
        "modelops", 'evaluate model X_test y_test --n-boot 200 --check "f1>=0.5" --check "log_loss<=0.01" -o rep'
    )
    assert ip.user_ns["rep"] is rep
    assert [g.passed for g in rep.gates.results] == [True, False]
    fmt, _ = ip.display_formatter.format(rep)
    assert "Gates" in fmt["text/html"] and "FAIL" in fmt["text/html"] and "log_loss &lt;= 0.01" in fmt["text/html"]


def test_options_reach_the_core(ip):
    rep = ip.run_line_magic("modelops", "evaluate mmodel mX my --n-boot 0 --ci 0.9")
    assert rep.task == "multiclass" and rep.ci == 0.9 and rep.metrics["accuracy"].low is None
    rep = ip.run_line_magic("modelops", "evaluate model X_test y_test --n-boot 0 --threshold 0.9")
    assert rep.threshold == 0.9


def test_interactive_displays_a_widget_that_updates(ip):
    result, cap = _run(ip, "%modelops evaluate model X_test y_test --n-boot 100 --interactive -o view")
    bundle = next(o.data for o in cap.outputs if "application/vnd.jupyter.widget-view+json" in o.data)
    # a static fallback in the same bundle: the report for untrusted or non-live views, not "VBox(children=...)"
    assert "At threshold 0.500" in bundle["text/html"] and "Evaluation: Binary classification" in bundle["text/html"]
    assert "VBox" not in bundle["text/plain"] and "recall" in bundle["text/plain"]
    view = ip.user_ns["view"]
    before = view.live.value
    view.slider.value = 0.9
    assert view.live.value != before and "At threshold 0.900" in view.live.value
    assert f"{view.report.at_threshold(0.9)['recall']:.4f}" in view.live.value


def test_interactive_needs_binary(ip):
    with pytest.raises(UsageError, match="--interactive needs a binary classifier"):
        ip.run_line_magic("modelops", "evaluate mmodel mX my --n-boot 0 --interactive")


def test_unknown_variable_is_one_line(ip):
    with pytest.raises(UsageError) as e:
        ip.run_line_magic("modelops", "evaluate modle X_test y_test")
    assert "The model 'modle' is not defined" in str(e.value) and "Did you mean: model" in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_input_is_one_line_usage_error_and_debug_shows_it(ip):
    ip.user_ns["y_short"] = ip.user_ns["y_test"][:10]
    with pytest.raises(UsageError) as e:
        ip.run_line_magic("modelops", "evaluate model X_test y_short")
    assert "rows" in str(e.value) and "\n" not in str(e.value)
    from jupyter_modelops.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ip.run_line_magic("modelops", "evaluate model X_test y_short --debug")


def test_bad_flag_and_help(ip):
    with pytest.raises(UsageError):
        ip.run_line_magic("modelops", "evaluate model X_test y_test --n-boot many")
    with capture_output() as cap:
        ip.run_line_magic("modelops", "evaluate --help")
    assert "--threshold" in cap.stdout and "--interactive" in cap.stdout
    assert "evaluate" in ip.run_line_magic("modelops", "help")
