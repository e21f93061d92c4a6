"""The fake API server against the real kubectl: the fake must hold up to a client we did not write.

kubectl (always with an explicit --kubeconfig; it talks to the fake over TLS, as it sends bearer tokens
only there) applies our rendered manifests server-side, waits with ``rollout status`` (a real watch),
changes the image, lists the history, undoes a rollout, and meets a field-manager conflict. Gaps of the
fake are listed in ``tests/k8s_fake/server.py``.
"""

from __future__ import annotations

import subprocess

import pytest

from jupyter_modelops.deployment import get_profile, render, status, to_yaml
from jupyter_modelops.deployment.manifests import DeploySpec
from realparts import need_tool


@pytest.fixture
def kubectl(tmp_path):
    exe = need_tool("kubectl")
    need_tool("openssl", "the fake API server makes its TLS certificate with it")
    from k8s_fake import FakeKube

    with FakeKube(tls=True) as fk:
        cfg = str(fk.kubeconfig(tmp_path / "kubeconfig"))

        def run(*args, check=True):
            out = subprocess.run(
                [exe, "--kubeconfig", cfg, "--request-timeout=30s", *args], capture_output=True, text=True, timeout=120
            )
            if check:
                assert out.returncode == 0, out.stderr
            return out

        run.fake, run.cfg = fk, cfg
        yield run


def manifests(tmp_path, image="registry.example/churn:1"):
    spec = DeploySpec(
        name="churn",
        namespace="default",
        model="churn",
        version="1",
        ref="churn:1",
        image=image,
        profile=get_profile("cpu-small"),
        replicas=2,
    )
    path = tmp_path / "churn.yaml"
    path.write_text(to_yaml(render(spec)))
    return path


def test_kubectl_server_side_apply_rollout_status_and_undo(kubectl, tmp_path):
    out = kubectl("apply", "--server-side", "--field-manager=ci", "-f", str(manifests(tmp_path)))
    assert out.stdout.count("serverside-applied") == 6
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment/churn", "--timeout=60s").stdout
    kubectl("set", "image", "deployment/churn", "model-server=registry.example/churn:2")
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment/churn", "--timeout=60s").stdout
    history = kubectl("rollout", "history", "deployment/churn").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("rollout", "undo", "deployment/churn")
    kubectl("rollout", "status", "deployment/churn", "--timeout=60s")
    image = kubectl("get", "deployment", "churn", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image.stdout == "registry.example/churn:1"
    # our status() reads what kubectl did: revision 3 is the old ReplicaSet again
    st = status("churn", cluster="fake", kubeconfig=kubectl.cfg)
    assert st.rollout == "done" and st.revision == 3 and [r["revision"] for r in st.revisions] == [2, 3]


def test_kubectl_meets_a_field_manager_conflict(kubectl, tmp_path):
    kubectl("apply", "--server-side", "--field-manager=ci", "-f", str(manifests(tmp_path)))
    kubectl("set", "image", "deployment/churn", "model-server=registry.example/hotfix:1")
    out = kubectl(
        "apply",
        "--server-side",
        "--field-manager=ci",
        "-f",
        str(manifests(tmp_path, "registry.example/churn:2")),
        check=False,
    )
    assert out.returncode != 0
    assert "Apply failed with 1 conflict" in out.stderr
    assert '"kubectl-set" using apps/v1: .spec.template.spec.containers[name="model-server"].image' in out.stderr
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=ci",
        "--force-conflicts",
        "-f",
        str(manifests(tmp_path, "registry.example/churn:2")),
    )
    dep = kubectl.fake.get("deployments", "churn")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/churn:2"


def test_kubectl_sees_a_stalled_rollout_fail(kubectl, tmp_path):
    kubectl.fake.script("stuck", "stall", deadline=0.5)
    kubectl("apply", "--server-side", "-f", str(manifests(tmp_path, "registry.example/stuck:1")))
    out = kubectl("rollout", "status", "deployment/churn", "--timeout=60s", check=False)
    assert out.returncode != 0 and "exceeded its progress deadline" in out.stderr
