"""The mlflow and tensorboard verbs on the command line and in the magic (real MLflow server, real TensorBoard)."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
import uuid

import pytest

import jupyter_modelops as mo
from jupyter_modelops.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


@pytest.fixture
def version(clf, clf_data):
    X, y = clf_data
    name = f"face-{uuid.uuid4().hex[:8]}"
    return mo.snapshot(clf, name, data=X, report=mo.evaluate(clf, X, y, n_boot=50, progress=False), alias="prod")


def test_mlflow_push_and_pull_on_the_command_line(tracking, mlflow_server, version, capsys):
    assert main(["mlflow", "push", version.ref, "--tracking-uri", mlflow_server, "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert pushed["ref"] == version.ref and tracking.get_run(pushed["run_id"]).data.metrics["roc_auc_high"] > 0
    assert (
        main(["mlflow", "pull", f"models:/{version.name}@prod", "--name", "back", "--tracking-uri", mlflow_server]) == 0
    )
    assert "imported as back:1" in capsys.readouterr().out
    assert main(["mlflow", "pull", "models:/no such/thing", "--tracking-uri", mlflow_server]) != 0
    err = capsys.readouterr().err
    assert "is not an MLflow model URI" in err and "Traceback" not in err


def test_tensorboard_on_the_command_line_writes_event_files(version, tmp_path, capsys):
    assert main(["tensorboard", version.ref, "--logdir", str(tmp_path / "tb")]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())


def test_the_magic_opens_a_real_tensorboard_on_the_logs(ip, version, tmp_path):
    from tensorboard import manager

    logdir = tmp_path / "tb"
    before = {i.pid for i in manager.get_all()}
    log = ip.run_line_magic("modelops", f"tensorboard {version.ref} --logdir {logdir}")
    started = [i for i in manager.get_all() if i.pid not in before and i.logdir == str(logdir)]
    try:
        assert log.logdir == str(logdir) and len(started) == 1
        url = f"http://127.0.0.1:{started[0].port}/data/plugin/scalars/tags"
        deadline = time.monotonic() + 60
        while True:
            with urllib.request.urlopen(url, timeout=10) as r:
                tags = json.loads(r.read())
            if tags.get(".", {}) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "metrics/roc_auc/low" in tags["."]
    finally:
        for info in started:
            os.kill(info.pid, signal.SIGTERM)
