"""deploy(otel=...): the pods get the OTel environment; manifests stay valid Kubernetes objects."""

from __future__ import annotations

import pytest
import yaml

from jupyter_modelops.deployment import deploy
from jupyter_modelops.exceptions import ValidationError

IMAGE = "registry.example/churn@sha256:" + "a" * 64
K8S_VERSIONS = ["1.30", "1.33", "1.36"]


@pytest.fixture(autouse=True)
def no_real_cluster(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("KUBECONFIG", "kubeconfig-of-the-test-only")


@pytest.fixture
def ref():
    from jupyter_modelops import registry

    return registry.snapshot({"w": 1}, "churn", trusted=True).ref


def container_env(dep) -> tuple[list[dict], dict]:
    docs = [d for d in yaml.safe_load_all(dep.yaml) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return docs, {e["name"]: e.get("value") for e in c["env"]}


@pytest.mark.parametrize("mode", ["deployment", "kserve"])
def test_otel_dict_becomes_the_pods_environment_and_manifests_validate(ref, mode):
    import kubernetes_validate

    dep = deploy(
        ref,
        cluster="fake",
        image=IMAGE,
        dry_run=True,
        mode=mode,
        otel={"endpoint": "http://otel-collector.monitoring:4318", "service_name": "churn-prod"},
    )
    docs = [d for d in yaml.safe_load_all(dep.yaml) if d]
    if mode == "kserve":
        (isvc,) = [d for d in docs if d["kind"] == "InferenceService"]
        env = {e["name"]: e["value"] for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
    else:
        docs, env = container_env(dep)
    for doc in docs:
        if doc["kind"] == "InferenceService":  # a CRD: tests/deploy checks it against KServe's own schema
            continue
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.monitoring:4318"
    assert env["OTEL_SERVICE_NAME"] == "churn-prod"


def test_otel_true_passes_the_callers_environment_through(ref, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "churn-from-env")
    dep = deploy(ref, cluster="fake", image=IMAGE, dry_run=True, otel=True)
    _, env = container_env(dep)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert env["OTEL_SERVICE_NAME"] == "churn-from-env"


def test_without_otel_the_pods_get_no_otel_environment(ref, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")  # not passed unless asked
    dep = deploy(ref, cluster="fake", image=IMAGE, dry_run=True)
    _, env = container_env(dep)
    assert not [k for k in env if k.startswith("OTEL_")]


def test_a_bad_otel_endpoint_is_refused_before_anything_is_rendered(ref):
    with pytest.raises(ValidationError, match="http:// or https://"):
        deploy(ref, cluster="fake", image=IMAGE, dry_run=True, otel={"endpoint": "javascript:alert(1)"})


def test_the_deploy_verb_takes_otel_pairs_and_refuses_bad_ones(ref, capsys):
    import json

    from jupyter_modelops.cli import main

    k = ["--cluster", "fake", "--image", IMAGE, "--dry-run", "--json"]
    assert (
        main(["deploy", ref, *k, "--otel", "endpoint", "http://collector:4318", "--otel", "service_name", "churn-cli"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    dep = next(m for m in out["manifests"] if m["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318" and env["OTEL_SERVICE_NAME"] == "churn-cli"
    assert main(["deploy", ref, *k, "--otel", "endpoint", "gopher://x"]) == 2
    err = capsys.readouterr().err
    assert "http:// or https://" in err and "Traceback" not in err
    assert main(["deploy", ref, *k, "--otel", "endpoint", "http://c:4318", "--otel-env"]) == 2
    assert "not both" in capsys.readouterr().err


def test_an_otel_dict_for_a_local_server_is_refused_with_what_to_do_instead(ref):
    with pytest.raises(ValidationError, match="local server takes the OTEL_"):
        deploy(ref, cluster="local", otel={"endpoint": "http://127.0.0.1:4318"})
