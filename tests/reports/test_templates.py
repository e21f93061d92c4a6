"""The built-in templates, executed by papermill in a real kernel against a real registry."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_modelops as mo
from jupyter_modelops.reports import scheduling


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A registry with one snapshotted model (with its reference profile) and current data files."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = tmp_path_factory.mktemp("reports-world")
    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(root / "home")
    data = load_breast_cancer(as_frame=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X_tr, y_tr)
    mv = mo.snapshot(model, "cancer", data=X_tr, alias="production")
    clean = X_te.assign(target=y_te.to_numpy())
    clean.to_csv(root / "clean.csv", index=False)
    shifted = clean.copy()
    for col in list(X_te.columns)[:20]:  # a unit error in two thirds of the inputs
        shifted[col] = shifted[col] * 3 + shifted[col].std()
    shifted.to_csv(root / "shifted.csv", index=False)
    yield {"root": root, "ref": mv.ref, "home": root / "home"}
    if old is None:
        os.environ.pop("MODELOPS_HOME", None)
    else:
        os.environ["MODELOPS_HOME"] = old


@pytest.fixture(autouse=True)
def modelops_home(world, monkeypatch):  # share the module's registry instead of a fresh one per test
    monkeypatch.setenv("MODELOPS_HOME", str(world["home"]))
    return world["home"]


def test_monitoring_on_clean_data_passes_and_is_recorded(world):
    run = mo.report(
        "cancer@production", data=world["root"] / "clean.csv", params={"label_column": "target", "min_score": 0.9}
    )
    assert run.status == "succeeded", run.error
    names = [g["name"] for g in run.gates]
    assert any(n.startswith("roc_auc >= 0.9") for n in names)
    assert any(n.startswith("drift_share <= 0.5") for n in names)
    assert any("flip_rate" in n for n in names)
    assert run.gates_passed is True
    low = run.metrics["roc_auc"]["low"]
    assert 0.9 < low <= run.metrics["roc_auc"]["value"] <= run.metrics["roc_auc"]["high"] <= 1
    html = Path(run.html).read_text()
    assert len(html.encode()) <= 1_000_000
    assert "Drift against the reference" in html and "import jupyter_modelops" not in html
    hist = mo.report_history("cancer")
    assert [r["id"] for r in hist.runs][-1] == run.id
    assert hist.runs[-1]["ref"] == world["ref"]


def test_scheduled_command_runs_and_exits_1_on_drift(world):
    """Run exactly the command a local schedule installs."""
    s = scheduling.schedule(
        "cancer@production",
        cron="0 6 * * *",
        data=str(world["root"] / "shifted.csv"),
        params={"label_column": "target"},
        dry_run=True,
    )
    line = s.crontab_line
    assert line.startswith("0 6 * * * MODELOPS_HOME=")
    argv = s.argv
    assert shlex.join(argv) in line
    res = subprocess.run(
        argv + ["--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MODELOPS_HOME": str(world["home"])},
    )
    assert res.returncode == 1, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["status"] == "succeeded" and out["gates_passed"] is False
    failed = [g for g in out["gates"] if g["status"] == "fail"]
    assert any(g["name"].startswith("drift_share") for g in failed)
    assert len(mo.report_history("cancer")) >= 1


def test_cli_exit_2_on_bad_input_before_any_kernel(world):
    cli = [sys.executable, "-m", "jupyter_modelops.cli", "report", "run", "cancer@production"]
    res = subprocess.run(cli + ["--data", "missing.csv"], capture_output=True, text=True)
    assert res.returncode == 2 and "does not exist" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run(
        cli + ["--data", str(world["root"] / "clean.csv"), "-p", "min_score", "high"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "'min_score' expects float, got 'high'" in res.stderr
    res = subprocess.run(cli[:-1] + ["cancr@production"], capture_output=True, text=True)
    assert res.returncode == 3 and "cancer" in res.stderr


def test_evaluation_template_gates(world):
    run = mo.report(
        world["ref"],
        template="evaluation",
        data=world["root"] / "clean.csv",
        params={"label_column": "target", "gates": {"roc_auc": ">= 0.999"}, "n_boot": 200},
    )
    assert run.status == "succeeded", run.error
    assert run.gates_passed is False  # 0.999 on the lower bound is out of reach for this model
    assert {"accuracy", "roc_auc", "log_loss"} <= set(run.metrics)


def test_drift_template_flags_shifted_data(world):
    run = mo.report(
        world["ref"], template="drift", data=world["root"] / "shifted.csv", params={"label_column": "target"}
    )
    assert run.status == "succeeded", run.error
    assert run.metrics["drift_share"] >= 0.5 and run.gates_passed is False


def test_magics(world):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    ip = InteractiveShell.instance(config=c)
    ip.run_line_magic("load_ext", "jupyter_modelops")
    s = ip.run_line_magic(
        "modelops",
        f'schedule cancer@production --cron "*/30 * * * *" '
        f"--data {world['root'] / 'clean.csv'} -p min_score 0.8 --dry-run -o sched",
    )
    assert ip.user_ns["sched"] is s and s.description == "every 30 minutes"
    fmt, _ = ip.display_formatter.format(s)
    assert "every 30 minutes" in fmt["text/html"] and "crontab line" in fmt["text/html"]
    hist = ip.run_line_magic("modelops", "history cancer")
    assert hist.to_dict() == mo.report_history("cancer").to_dict()
    assert "Monitoring history of cancer" in ip.display_formatter.format(hist)[0]["text/html"]
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("modelops", "schedule cancer --cron '0 6 * *' --dry-run")
    assert "cron expression" in str(info.value) and "\n" not in str(info.value)
