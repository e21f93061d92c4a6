"""deploy(..., capture=...): the claim or the object-storage Secret and the environment, valid manifests that keep
the restricted Pod Security Standard, applied to the fake API server; a rollback keeps the capture."""

from __future__ import annotations

import pytest

from deploy.conftest import IMAGE, fake_kube, no_real_cluster, refs  # noqa: F401 - fixtures
from deploy.test_manifests import K8S_VERSIONS, kv_validate, restricted_violations, spec
from jupyter_modelops.deployment import deploy, render, rollback
from jupyter_modelops.exceptions import ValidationError


def _pod(objs):
    return next(o for o in objs if o["kind"] == "Deployment")["spec"]["template"]["spec"]


def _env(container) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_claim_manifests_are_valid_and_restricted(version):
    objs = render(
        spec(
            capture="pvc", capture_claim="churn-captures", capture_claim_size="10Gi", cluster="prod", capture_rate=0.25
        )
    )
    kinds = [o["kind"] for o in objs]
    assert kinds.index("PersistentVolumeClaim") < kinds.index("Deployment")
    for obj in objs + render(spec(capture="pvc", capture_claim="churn-captures", canary=10, canary_replicas=1)):
        kv_validate(obj, version)
    claim = objs[kinds.index("PersistentVolumeClaim")]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    pod = _pod(objs)
    assert restricted_violations(pod) == []
    assert {"name": "captures", "persistentVolumeClaim": {"claimName": "churn-captures"}} in pod["volumes"]
    c = pod["containers"][0]
    assert {"name": "captures", "mountPath": "/var/lib/modelops/captures"} in c["volumeMounts"]
    env = _env(c)
    assert env["MODELOPS_SERVING_CAPTURE"] == "/var/lib/modelops/captures"
    assert env["MODELOPS_SERVING_CAPTURE_RATE"] == "0.25" and env["MODELOPS_CLUSTER"] == "prod"
    assert env["MODELOPS_SERVING_CAPTURE_DEPLOYMENT"] == "churn"
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}  # the downward API
    # an existing claim: mounted, not rendered
    assert "PersistentVolumeClaim" not in [o["kind"] for o in render(spec(capture="pvc", capture_claim="mine"))]
    # no capture: as before
    assert "captures" not in [v["name"] for v in _pod(render(spec()))["volumes"]]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_object_storage_manifests_take_credentials_from_a_secret(version):
    objs = render(spec(capture="s3://bucket/captures", capture_secret="s3-creds"))
    assert "PersistentVolumeClaim" not in [o["kind"] for o in objs]
    for obj in objs:
        kv_validate(obj, version)
    isvc = render(spec(mode="kserve", capture="s3://bucket/captures", capture_secret="s3-creds"))[-1]
    assert restricted_violations(isvc["spec"]["predictor"]) == []
    assert isvc["spec"]["predictor"]["containers"][0]["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    pod = _pod(objs)
    assert restricted_violations(pod) == []
    c = pod["containers"][0]
    assert c["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    assert _env(c)["MODELOPS_SERVING_CAPTURE"] == "s3://bucket/captures"
    policy = next(o for o in objs if o["kind"] == "NetworkPolicy")
    assert {"ports": [{"protocol": "TCP", "port": 443}]} in policy["spec"]["egress"]


def test_deploy_applies_the_claim_and_a_rollback_keeps_the_capture(fake_kube, refs):  # noqa: F811
    dep = deploy(
        refs[0], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120, capture=True, capture_rate=0.5
    )
    assert dep.state == "deployed", dep.reason
    claim = fake_kube.get("persistentvolumeclaims", "churn-captures")
    assert claim is not None and claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    live = fake_kube.get("deployments", "churn")
    env = _env(live["spec"]["template"]["spec"]["containers"][0])
    assert env["MODELOPS_CLUSTER"] == "fake" and env["MODELOPS_SERVING_CAPTURE_RATE"] == "0.5"
    dep2 = deploy(refs[1], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120, capture=True)
    assert dep2.state == "deployed", dep2.reason
    env = _env(fake_kube.get("deployments", "churn")["spec"]["template"]["spec"]["containers"][0])
    assert env["MODELOPS_SERVING_CAPTURE_RATE"] == "1.0" and env["MODELOPS_MODEL_VERSION"] == "2"
    back = rollback("churn", cluster="fake", kubeconfig=fake_kube.cfg, timeout=120)
    assert back.state in ("rolled-back", "deployed"), back.reason
    pod = fake_kube.get("deployments", "churn")["spec"]["template"]["spec"]
    assert {"name": "captures", "persistentVolumeClaim": {"claimName": "churn-captures"}} in pod["volumes"]


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"capture": "/data/captures"}, "in Kubernetes"),
        ({"capture": "ftp://host/x"}, "scheme"),
        ({"capture": True, "capture_rate": 0}, "capture_rate"),
        ({"capture": True, "capture_pvc": "Not_A_Name"}, "capture_pvc"),
        ({"capture": True, "capture_size": "lots"}, "capture_size"),
        ({"capture_secret": "s3-creds"}, "need capture"),
    ],
)
def test_bad_capture_arguments_are_one_sentence(refs, kwargs, needle):  # noqa: F811
    with pytest.raises(ValidationError, match=needle):
        deploy(refs[0], cluster="fake", image=IMAGE, dry_run=True, **kwargs)


def test_redeploy_without_capture_removes_its_environment(fake_kube, refs):  # noqa: F811
    dep = deploy(refs[0], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120, capture=True)
    assert dep.state == "deployed", dep.reason
    before = fake_kube.get("deployments", "churn")["spec"]["template"]["spec"]["containers"][0]
    assert "MODELOPS_SERVING_CAPTURE" in _env(before)
    dep2 = deploy(refs[1], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120)
    assert dep2.state == "deployed", dep2.reason
    pod = fake_kube.get("deployments", "churn")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert all(e.get("name") for e in c["env"])  # no entry left without its name
    env = _env(c)
    assert not [k for k in env if k.startswith("MODELOPS_SERVING_CAPTURE")]
    assert env["MODELOPS_MODEL_VERSION"] == "2"
    assert "captures" not in [v["name"] for v in pod.get("volumes", [])]
    assert "captures" not in [m["name"] for m in c.get("volumeMounts", [])]
