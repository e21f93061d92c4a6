"""The report verbs' newer flags on the faces: schedule --pvc/--kubeconfig, report --since (captured traffic)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from IPython.core.error import UsageError

import jupyter_modelops as mo


@pytest.fixture
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


def test_schedule_pvc_and_kubeconfig_on_both_faces(ip, tmp_path, capsys):
    from jupyter_modelops.cli import main
    from k8s_fake import FakeKube

    ref = mo.snapshot({"w": 1}, "churn", trusted=True).ref
    image = "registry.example/churn@sha256:" + "c" * 64
    with FakeKube() as kube:
        cfg = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        assert (
            main(
                [
                    "report",
                    "schedule",
                    ref,
                    "--cron",
                    "0 6 * * *",
                    "--target",
                    "kubernetes",
                    "--cluster",
                    "fake",
                    "--kubeconfig",
                    cfg,
                    "--image",
                    image,
                    "--pvc",
                    "team-reports",
                    "--json",
                ]
            )
            == 0
        )
        sid = json.loads(capsys.readouterr().out)["id"]
        s = mo.schedules().items[0]
        obj = kube.get("cronjobs", s["name"], "default", group="batch")
        volumes = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "team-reports"}} in volumes
        assert main(["report", "unschedule", sid]) == 0
        assert kube.get("cronjobs", s["name"], "default", group="batch") is None
        dry = ip.run_line_magic(
            "modelops",
            f"schedule {ref} --cron '0 7 * * *' --target kubernetes --cluster fake "
            f"--kubeconfig {cfg} --image {image} --pvc other-claim --dry-run",
        )
        assert "claimName: other-claim" in dry.to_dict()["manifest_yaml"]
        assert kube.get("cronjobs", dry.name, "default", group="batch") is None  # a dry run sends nothing
    with pytest.raises(UsageError, match="kubeconfig|does not exist|not found"):
        ip.run_line_magic(
            "modelops",
            f"schedule {ref} --cron '0 7 * * *' --target kubernetes --cluster fake "
            f"--kubeconfig {tmp_path / 'missing'} --image {image}",
        )


def _infer(url: str, X) -> str:
    body = {"inputs": [{"name": "input", "datatype": "FP64", "shape": list(X.shape), "data": X.ravel().tolist()}]}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["id"]


def test_report_since_reads_the_captures_on_both_faces(ip, capsys):
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from jupyter_modelops.cli import main

    data = load_breast_cancer(as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(data.data[:300], data.target[:300])
    mo.snapshot(model, "cancer", data=data.data[:300], alias="production")
    dep = mo.serve("cancer@production", capture=True)
    try:
        X = data.data.to_numpy()[300:340]
        for i in range(0, 40, 5):
            _infer(dep.infer_url, X[i : i + 5])
    finally:
        mo.stop(dep)
    run = ip.run_line_magic("modelops", "report cancer@production --since 1h -o run")
    assert run.status == "succeeded", run.error
    assert ip.user_ns["run"] is run and run.metrics["requests"] == 8 and run.metrics["capture_dropped"] == 0
    with pytest.raises(UsageError, match="expected a duration"):
        ip.run_line_magic("modelops", "report cancer@production --since forever")
    assert main(["report", "run", "cancer@production", "--since", "forever"]) == 2
    err = capsys.readouterr().err
    assert "expected a duration" in err and len(err.strip().splitlines()) == 1
    assert main(["report", "run", "cancer@production", "--since", "1h", "--template", "evaluation"]) == 2
    assert "window" in capsys.readouterr().err
