"""Schedules: the real crontab (Debian's cron package) and the CronJob manifest."""

from __future__ import annotations

import subprocess

import pytest

from jupyter_modelops.exceptions import ModelNotFoundError, ValidationError
from jupyter_modelops.reports import scheduling as sched_mod
from jupyter_modelops.reports.scheduling import cronjob_manifest, report_command


def _lines(exe):
    return subprocess.run([exe, "-l"], capture_output=True, text=True).stdout.splitlines()


def test_local_schedule_installs_and_removes_exactly_its_line(crontab, tmp_path, monkeypatch):
    data = tmp_path / "current.csv"
    data.write_text("a,b\n1,2\n")
    monkeypatch.setattr(sched_mod, "_image_for", lambda ref: pytest.fail("not used locally"))
    s = sched_mod.schedule(None, cron="0 6 * * 1-5", data=None, template="monitoring", dry_run=False)
    lines = _lines(crontab)
    ours = [ln for ln in lines if ln.endswith(f"jupyter-modelops:schedule:{s.id}")]
    assert len(ours) == 1 and ours[0].startswith("0 6 * * 1-5 MODELOPS_HOME=")
    assert "-m jupyter_modelops.cli report run --template monitoring" in ours[0]
    assert "# a line that is not ours" in "\n".join(lines)
    assert [x["id"] for x in sched_mod.schedules().items] == [s.id]
    assert s.description == "at 06:00 on Monday to Friday"

    sched_mod.unschedule(s.id)
    lines = _lines(crontab)
    assert not any("jupyter-modelops:schedule:" in ln for ln in lines)
    assert "17 3 * * * /bin/true # a line that is not ours" in lines
    assert len(sched_mod.schedules()) == 0
    with pytest.raises(ModelNotFoundError, match="no schedule with id"):
        sched_mod.unschedule(s.id)


def test_dry_run_installs_nothing(crontab):
    before = _lines(crontab)
    s = sched_mod.schedule(None, cron="@daily", template="monitoring", dry_run=True)
    assert s.crontab_line.startswith("@daily MODELOPS_HOME=")
    assert _lines(crontab) == before and len(sched_mod.schedules()) == 0


def test_bad_schedule_inputs():
    with pytest.raises(ValidationError, match="cron expression"):
        sched_mod.schedule(None, cron="every day", dry_run=True)
    with pytest.raises(ValidationError, match="target 'moon'"):
        sched_mod.schedule(None, cron="@daily", target="moon", dry_run=True)
    with pytest.raises(ValidationError, match="notify URL"):
        sched_mod.schedule(None, cron="@daily", notify="slack://x", dry_run=True)
    with pytest.raises(ValidationError, match="does not exist"):
        sched_mod.schedule(None, cron="@daily", data="no/such.csv", dry_run=True)


def test_percent_is_escaped_for_crontab(tmp_path):
    line = sched_mod.crontab_line(
        "0 6 * * *", ["python", "-p", "title", "100%"], schedule_id="x", log=tmp_path / "l", home=tmp_path
    )
    assert r"100\%" in line


def test_cronjob_manifest_is_valid_and_restricted():
    kv = pytest.importorskip("kubernetes_validate") if False else __import__("kubernetes_validate")
    argv = report_command(
        "churn:3",
        data="/data/current.parquet",
        template="monitoring",
        params={"min_f1": 0.8},
        notify=None,
        python="python",
    )
    m = cronjob_manifest(name="report-churn-3", cron="0 6 * * *", image="registry.local/churn:3", argv=argv)
    for version in ("1.29", "1.31", "1.33"):
        kv.validate(m, version, strict=True)
    spec = m["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["command"][:5] == ["python", "-m", "jupyter_modelops.cli", "report", "run"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_schedule_applies_and_removes_the_cronjob(tmp_path):
    """Against the fake API server (real HTTP, the official client): apply, list, unschedule."""
    from jupyter_modelops import registry
    from k8s_fake import FakeKube

    ref = registry.snapshot({"w": 1}, "churn", trusted=True).ref
    image = "registry.example/churn@sha256:" + "b" * 64
    with FakeKube() as kube:
        cfg = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        s = sched_mod.schedule(
            ref,
            cron="0 6 * * *",
            data="/data/current.parquet",
            target="kubernetes",
            cluster="fake",
            kubeconfig=cfg,
            image=image,
            params={"min_score": 0.8},
        )
        obj = kube.get("cronjobs", s.name, "default", group="batch")
        assert obj is not None and obj["spec"]["schedule"] == "0 6 * * *"
        container = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == image
        cmd = container["command"]
        assert cmd[:6] == ["python", "-m", "jupyter_modelops.cli", "report", "run", ref]
        assert cmd[cmd.index("--data") + 1] == "/data/current.parquet"
        assert cmd[cmd.index("-p") + 1 : cmd.index("-p") + 3] == ["min_score", "0.8"]
        assert "jupyter-modelops" in kube.managers_of("cronjobs", s.name)
        assert [x["id"] for x in sched_mod.schedules().items] == [s.id]
        assert registry.records(ref, kind="schedule")[-1]["data"]["id"] == s.id
        sched_mod.unschedule(s.id)
        assert kube.get("cronjobs", s.name, "default", group="batch") is None
    with pytest.raises(ValidationError, match="No pushed image is recorded"):
        sched_mod.schedule(ref, cron="@daily", target="kubernetes", dry_run=True)


def test_cronjob_names_of_long_models_fit_52_characters_and_do_not_collide():
    import kubernetes_validate

    from jupyter_modelops import registry

    image = "registry.example/churn@sha256:" + "b" * 64
    names = []
    for suffix in ("a", "b"):
        ref = registry.snapshot({"w": 1}, "customer-lifetime-value-regression-for-retail-" + suffix, trusted=True).ref
        s = sched_mod.schedule(ref, cron="@daily", target="kubernetes", image=image, dry_run=True)
        assert len(s.name) <= 52 and s.name.startswith("report-customer-lifetime") and s.name.endswith(s.id[:6])
        for version in ("1.30", "1.33"):
            kubernetes_validate.validate(s.manifest, version, strict=True)
        names.append(s.name.rsplit("-", 1)[0])  # without the schedule id
    assert names[0] != names[1]  # cut names keep a hash of the whole model name
