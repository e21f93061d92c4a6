"""Derived object names stay within Kubernetes' limits, deterministically and without collisions."""

from __future__ import annotations

import pytest

from jupyter_modelops.deployment import deploy, get_profile, render, rollback, undeploy
from jupyter_modelops.deployment.manifests import NAME_LIMITS, DeploySpec, canary_name, check_object_name, object_name
from jupyter_modelops.exceptions import ValidationError

from .conftest import IMAGE

K8S_VERSIONS = ["1.30", "1.33", "1.36"]


def spec(name, **kw):
    base = dict(
        name=name,
        namespace="ml",
        model=name,
        version="3",
        ref=f"{name}:3",
        image=IMAGE,
        digest="sha256:" + "a" * 64,
        profile=get_profile("gpu-t4"),
        replicas=2,
    )
    base.update(kw)
    return DeploySpec(**base)


@pytest.mark.parametrize("length", [5, 52, 56, 57, 60, 63, 64, 70, 128])
def test_every_derived_name_of_a_long_model_is_a_valid_label(length):
    import kubernetes_validate

    model = ("m" * length)[:length]
    name = object_name(model)
    assert len(name) <= 63
    objs = render(spec(name)) + render(spec(name, canary=10, canary_replicas=1))
    assert {o["kind"] for o in objs} == {
        "ServiceAccount",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    for obj in objs:
        meta = obj["metadata"]
        assert check_object_name(obj["kind"], meta["name"]) and len(meta["name"]) <= 63, (obj["kind"], meta["name"])
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
    canary = [o for o in objs if o["metadata"]["labels"]["modelops.jupyter.org/track"] == "canary"]
    assert canary[0]["metadata"]["name"] == canary_name(name)
    if length <= 56:
        assert canary_name(name) == f"{name}-canary"  # short names are kept as they are
    else:
        assert canary_name(name).endswith("-canary") and len(canary_name(name)) == 63


def test_long_names_are_cut_with_a_hash_so_they_do_not_collide():
    a, b = (
        "fraud-detection-model-for-the-european-retail-banking-unit-v1",
        "fraud-detection-model-for-the-european-retail-banking-unit-v2",
    )
    assert len(a) == 61 and object_name(a) == a and object_name(b) == b
    assert canary_name(a) != canary_name(b)
    assert len(canary_name(a)) == len(canary_name(b)) == 63
    assert canary_name(a) == canary_name(a)  # deterministic
    long_a, long_b = a + "-with-a-suffix-that-is-long", b + "-with-a-suffix-that-is-long"
    assert object_name(long_a) != object_name(long_b) and len(object_name(long_a)) <= 63
    assert object_name(long_a).startswith(a[:40])
    for limit in (52, 63):
        n = object_name("report-" + long_a, suffix="-abc123", limit=limit)
        assert limit - 1 <= len(n) <= limit and n.endswith("-abc123") and n[0].isalpha()


def test_check_object_name_knows_the_cronjob_limit():
    check_object_name("CronJob", "r" * 52)
    with pytest.raises(ValidationError, match="at most 52"):
        check_object_name("CronJob", "r" * 53)
    with pytest.raises(ValidationError, match="at most 63"):
        check_object_name("Deployment", "d" * 64)
    with pytest.raises(ValidationError, match="DNS label"):
        check_object_name("Service", "9lives")
    assert NAME_LIMITS["CronJob"] == 52


def test_a_long_model_gets_a_canary_the_cluster_accepts_and_rollback_removes(fake_kube, tmp_path):
    """The fake API server applies Kubernetes' own name rules (a Service is a DNS-1035 label)."""
    from jupyter_modelops import registry

    model = "c" * 60
    refs = [registry.snapshot({"w": i}, model, trusted=True).ref for i in (1, 2)]
    first = deploy(refs[0], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120)
    assert first.state == "deployed", first.reason
    stable = object_name(model)
    assert stable == model and fake_kube.get("services", stable) is not None
    can = deploy(refs[1], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, canary=20, timeout=120)
    assert can.state == "canary", can.reason
    live = fake_kube.get("deployments", canary_name(stable))
    assert live is not None and len(live["metadata"]["name"]) == 63
    back = rollback(stable, cluster="fake", kubeconfig=fake_kube.cfg)
    assert back.state == "rolled-back" and fake_kube.get("deployments", canary_name(stable)) is None
    gone = undeploy(stable, cluster="fake", kubeconfig=fake_kube.cfg)
    assert f"Deployment/{stable}" in gone.reason


def test_the_fake_refuses_names_the_api_server_refuses(fake_kube):
    from jupyter_modelops.deployment.clusters import get_cluster
    from jupyter_modelops.deployment.kube import Kube

    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s" * 64, "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c" * 53, "namespace": "default"},
        "spec": {
            "schedule": "@daily",
            "jobTemplate": {
                "spec": {
                    "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "x", "image": "busybox"}]}}
                }
            },
        },
    }
    with Kube(get_cluster("fake", kubeconfig=fake_kube.cfg)) as kube:
        with pytest.raises(ValidationError, match="must be no more than 63 characters"):
            kube.apply(svc)
        with pytest.raises(ValidationError, match="must be no more than 52 characters"):
            kube.apply(cron)
        cron["metadata"]["name"] = "c" * 52
        kube.apply(cron)
    assert fake_kube.get("cronjobs", "c" * 52, group="batch") is not None


def test_names_a_user_chooses_may_be_any_dns_subdomain():
    objs = render(spec("churn", auth_secret="churn.auth-v2", auth_token="t" * 32))
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "Secret"] == ["churn.auth-v2"]
    assert check_object_name("PersistentVolumeClaim", "captures.churn") == "captures.churn"
    with pytest.raises(ValidationError, match="not a DNS subdomain"):
        check_object_name("Secret", "Churn_Auth")
    with pytest.raises(ValidationError, match="not a DNS label"):
        check_object_name("Deployment", "churn.v2")  # a name we derive stays a label
