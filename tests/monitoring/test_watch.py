"""Watch policies: the real crontab holds the check, the exact scheduled command runs against a real model server,
acts only on an alarm (rollback, alias, notify to a real webhook) and records each action with its evidence."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest

from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.monitoring.watch import run_watch, unwatch, watch, watches
from reports.conftest import crontab, webhook  # noqa: F401 - the real crontab (restored) and a real webhook


@pytest.fixture
def two_versions():
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as jm

    X = np.random.RandomState(0).randn(60, 4)
    y = (X[:, 0] > 0).astype(int)
    return [jm.snapshot(LogisticRegression(C=c).fit(X, y), "churn", data=X).ref for c in (1.0, 0.5)]


def _bad_requests(url, n):
    """Requests the model cannot answer (an empty input list): each one an error the server counts."""
    for _ in range(n):
        req = urllib.request.Request(
            url + "/v2/models/churn/infer",
            data=b'{"inputs": []}',
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=10)


def _run_scheduled(entry):
    """Run the exact command the crontab line holds (the part before the log redirection), as cron would."""
    line = entry["crontab_line"]
    command = line.split(" ", 5)[5].split(" >> ")[0]
    env = dict(os.environ)
    res = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.slow
def test_a_watch_rolls_back_on_an_alarm_once_with_its_evidence(crontab, webhook, two_versions):  # noqa: F811
    import jupyter_modelops as jm

    url_hook, received = webhook
    jm.deploy(two_versions[0], cluster="local", name="churn", timeout=120)
    dep = jm.deploy(two_versions[1], cluster="local", name="churn", timeout=120)  # the new version replaces it
    try:
        w = watch("churn", on_alarm="rollback", notify=url_hook, max_error_rate=0.2, cron="*/10 * * * *")
        lines = subprocess.run([crontab, "-l"], capture_output=True, text=True).stdout.splitlines()
        assert [ln for ln in lines if ln.endswith(f"watch-{w.id}")] == [w.entry["crontab_line"]]
        assert "a line that is not ours" in "\n".join(lines)
        assert [x["id"] for x in watches().items] == [w.id] and w.entry["ref"] == two_versions[1]
        # healthy: the scheduled command checks and does nothing
        jm.predict(dep, np.zeros((2, 4)))
        out = _run_scheduled(w.entry)
        assert "healthy, no action" in out and received == []
        # errors since the previous check: an alarm, and the deployment serves the previous version again
        _bad_requests(dep.url, 20)
        out = _run_scheduled(w.entry)
        assert "alarm; rollback: rolled back" in out, out
        st = jm.status("churn", cluster="local")
        assert st.ref == two_versions[0] and st.rollout == "done"
        assert len(received) == 1 and "rolled back" in received[0]["body"]["text"]
        acts = [r["data"] for r in jm.records(two_versions[1], kind="watch") if r["data"]["event"] == "action"]
        assert len(acts) == 1
        ev = acts[0]["alarms"][0]
        assert ev["signal"] == "error_rate" and ev["errors"] == ev["requests"] == 20 and ev["interval"][0] > 0.2
        # the server now runs the earlier version and answers: the next check sees no alarm
        out = run_watch(w.id, deployment="churn", on_alarm="rollback", notify=url_hook, max_error_rate=0.2)
        assert not out.alarm and len(received) == 1
        # a new alarm on the earlier version: no rollback back to the version the watch left
        _bad_requests(dep.url, 20)
        out = run_watch(w.id, deployment="churn", on_alarm="rollback", notify=url_hook, max_error_rate=0.2)
        assert out.alarm and out.outcome.startswith("failed: The local deployment 'churn' has no earlier version")
        assert jm.status("churn", cluster="local").ref == two_versions[0] and len(received) == 2
    finally:
        jm.stop("churn")
    gone = unwatch(w.id)
    assert gone.entry["removed"] and watches().items == []
    lines = subprocess.run([crontab, "-l"], capture_output=True, text=True).stdout
    assert f"watch-{w.id}" not in lines and "a line that is not ours" in lines


@pytest.mark.slow
def test_alias_action_acts_once_per_alarmed_version(two_versions):
    import jupyter_modelops as jm

    jm.deploy(two_versions[0], cluster="local", name="churn", timeout=120)
    dep = jm.deploy(two_versions[1], cluster="local", name="churn", timeout=120)
    jm.alias(two_versions[1], "production")
    try:
        _bad_requests(dep.url, 12)
        first = run_watch("w1", deployment="churn", on_alarm="alias:production", max_error_rate=0.1)
        assert first.alarm and first.outcome.startswith("alias 'production' now points at " + two_versions[0])
        assert jm.get("churn@production").ref == two_versions[0]
        jm.alias(two_versions[1], "production")  # someone moves it back; the alarm on this version persists
        _bad_requests(dep.url, 12)
        again = run_watch("w1", deployment="churn", on_alarm="alias:production", max_error_rate=0.1)
        assert again.alarm and again.action is None and "already acted" in again.outcome
        assert jm.get("churn@production").ref == two_versions[1]
    finally:
        jm.stop("churn")


def test_a_kubernetes_watch_is_a_cronjob_running_the_same_check(tmp_path):
    """Against the fake API server (real HTTP, the official client): apply, list, unwatch."""
    from k8s_fake import FakeKube

    image = "registry.example/churn@sha256:" + "a" * 64
    with FakeKube() as kube:
        cfg = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        with pytest.raises(ValidationError, match="needs the name of a ServiceAccount"):
            watch("churn", cluster="fake", on_alarm="rollback", target="kubernetes", image=image, kubeconfig=cfg)
        w = watch(
            "churn",
            cluster="fake",
            on_alarm="rollback",
            target="kubernetes",
            image=image,
            cron="@hourly",
            kubeconfig=cfg,
            max_error_rate=0.02,
            service_account="modelops-watch",
        )
        obj = kube.get("cronjobs", w.entry["name"], "default", group="batch")
        assert obj is not None and obj["spec"]["schedule"] == "@hourly"
        assert obj["metadata"]["labels"]["modelops.jupyter.org/watch"] == w.id
        pod = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "modelops-watch" and pod["automountServiceAccountToken"] is True
        container = pod["containers"][0]
        assert container["image"] == image
        cmd = container["command"]
        assert cmd[:4] == ["python", "-m", "jupyter_modelops.monitoring.watch", "run"]
        assert [cmd[cmd.index(f) + 1] for f in ("--deployment", "--cluster", "--on-alarm", "--max-error-rate")] == [
            "churn",
            "in-cluster",
            "rollback",
            "0.02",
        ]  # in the pod: its service account's cluster
        assert "--kubeconfig" not in cmd  # in the cluster, the CronJob's own service account
        assert [x["id"] for x in watches().items] == [w.id]
        unwatch(w.id)
        assert kube.get("cronjobs", w.entry["name"], "default", group="batch") is None
    assert watches().items == []


def test_rbac_true_creates_a_least_privilege_role_for_the_cronjob_and_unwatch_removes_it(tmp_path):
    from k8s_fake import FakeKube

    image = "registry.example/churn@sha256:" + "a" * 64
    with FakeKube() as kube:
        cfg = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        kw = dict(cluster="fake", on_alarm="rollback", target="kubernetes", image=image, kubeconfig=cfg)
        with pytest.raises(ValidationError, match="needs target='kubernetes'"):
            watch("churn", on_alarm="rollback", rbac=True)
        preview = watch("churn", rbac=True, dry_run=True, **kw)
        assert [k for k, _ in preview.entry["rbac"]] == ["ServiceAccount", "Role", "RoleBinding"]
        assert kube.get("serviceaccounts", "watch-churn", "default") is None  # a dry run installs nothing
        w = watch("churn", rbac=True, **kw)
        pod = kube.get("cronjobs", w.entry["name"], "default", group="batch")["spec"]["jobTemplate"]["spec"]
        assert pod["template"]["spec"]["serviceAccountName"] == "watch-churn"
        assert kube.get("serviceaccounts", "watch-churn", "default") is not None
        role = kube.get("roles", w.entry["name"], "default", group="rbac.authorization.k8s.io")
        grants = {(r["apiGroups"][0], res, v) for r in role["rules"] for res in r["resources"] for v in r["verbs"]}
        assert ("", "pods/proxy", "get") in grants and ("apps", "deployments", "patch") in grants
        assert not any(res == "secrets" for _, res, _ in grants)  # no auth Secret: no secret access at all
        assert not any(v in ("*", "create", "deletecollection", "escalate", "bind") for _, _, v in grants)
        binding = kube.get("rolebindings", w.entry["name"], "default", group="rbac.authorization.k8s.io")
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": w.entry["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "watch-churn", "namespace": "default"}]
        unwatch(w.id)
        assert kube.get("roles", w.entry["name"], "default", group="rbac.authorization.k8s.io") is None
        assert kube.get("rolebindings", w.entry["name"], "default", group="rbac.authorization.k8s.io") is None
        assert kube.get("serviceaccounts", "watch-churn", "default") is None


def test_policies_and_values_are_checked_before_anything_is_installed(crontab):  # noqa: F811
    before = subprocess.run([crontab, "-l"], capture_output=True, text=True).stdout
    cases = [
        (dict(on_alarm="explode"), "on_alarm is 'explode'"),
        (dict(on_alarm="alias:12"), "only digits"),
        (dict(on_alarm="notify"), "needs notify=URL"),
        (dict(on_alarm="notify", notify="file:///etc/passwd"), "not an http"),
        (dict(on_alarm="rollback", notify="http://127.0.0.1/x\n* * * * * rm -rf ~"), "whitespace or a control"),
        (dict(on_alarm="rollback", cron="* * * * * rm -rf ~"), "cron"),
        (dict(on_alarm="rollback", metrics="http://127.0.0.1:1/m etrics"), "metrics is"),
        (dict(on_alarm="rollback", max_error_rate=1.5), "max_error_rate is 1.5"),
        (dict(on_alarm="rollback", cluster="--kubeconfig=/tmp/x"), "cluster is"),
        (dict(on_alarm="rollback", target="kubernetes"), "target='kubernetes' runs the watch as a CronJob"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValidationError, match=message):
            watch("churn", **kwargs)
    for name in ("churn\n* * * * * id", "-churn", "a b"):
        with pytest.raises(ValidationError, match="deployment is"):
            watch(name, on_alarm="rollback")
    with pytest.raises(ValidationError, match="watch id"):
        run_watch("../../etc", deployment="churn")
    assert subprocess.run([crontab, "-l"], capture_output=True, text=True).stdout == before
    assert watches().items == []


def test_the_watch_command_refuses_a_bad_policy_in_one_sentence():
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", "watch", "churn", "--on-alarm", "explode"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert res.returncode != 0 and "on_alarm is 'explode'" in res.stderr and "Traceback" not in res.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", "watches", "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert listed.returncode == 0 and '"watches": []' in listed.stdout.replace("\n", "").replace("  ", "")


@pytest.mark.slow
def test_a_kubernetes_deployment_is_rolled_back_on_the_error_rate_of_its_pods(tmp_path, two_versions):
    """The check reads the stable pods' /metrics through the fake API server's pod proxy, a real server behind."""
    import jupyter_modelops as jm
    from k8s_fake import FakeKube

    with FakeKube() as kube:
        cfg = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        for i, ref in enumerate(two_versions):
            dep = jm.deploy(ref, cluster="fake", kubeconfig=cfg, image=f"registry.example/churn:{i + 1}", timeout=120)
            assert dep.state == "deployed", dep.reason
        pod_server = jm.serve(two_versions[1], name="behind-the-pods", timeout=120)
        kube.proxy_to({"modelops.jupyter.org/track": "stable"}, pod_server.url)
        try:
            quiet = run_watch(
                "k1", deployment="churn", cluster="fake", kubeconfig=cfg, on_alarm="rollback", max_error_rate=0.1
            )
            assert not quiet.alarm and quiet.data["ref"] == two_versions[1]
            _bad_requests(pod_server.url, 15)
            pods = [
                o
                for k, o in list(kube.objects.items())
                if k[1] == "pods"
                and o["metadata"].get("labels", {}).get("modelops.jupyter.org/track") == "stable"
                and (o.get("status") or {}).get("phase") == "Running"
            ]
            acted = run_watch(
                "k1", deployment="churn", cluster="fake", kubeconfig=cfg, on_alarm="rollback", max_error_rate=0.1
            )
        finally:
            pod_server.stop()
        assert acted.alarm and acted.action == "rollback" and acted.outcome.startswith("rolled back"), acted.outcome
        # every running stable pod is read, and they all stand on the one real server here: its counts per pod
        assert pods and acted.data["alarms"][0]["errors"] == acted.data["alarms"][0]["requests"] == 15 * len(pods)
        live = kube.get("deployments", "churn")
        assert live["metadata"]["annotations"]["modelops.jupyter.org/ref"] == two_versions[0]
        assert any(path.endswith(":8080/proxy/metrics") for _, path in kube.requests)
    rec = [r["data"] for r in jm.records(two_versions[1], kind="watch") if r["data"]["event"] == "action"]
    assert rec and rec[-1]["alarms"][0]["signal"] == "error_rate"
