"""deploy, canary, promote, rollback, status, undeploy and the faults, against the fake API server.

The fake (``tests/k8s_fake``) speaks real HTTP on 127.0.0.1 to the official ``kubernetes`` client. What
it cannot prove, and a cluster marked ``real_cluster`` must: admission (Pod Security admission, webhooks),
defaulting beyond a few fields, the real scheduler (scoring, preemption, GPU device plugins), real containers
and probes, Services actually splitting traffic by ready pods, the HPA and PDB controllers, CEL rules, KServe's own
controllers (Knative revisions, traffic split), and exact managedFields bookkeeping for every list type.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from jupyter_modelops.deployment import deploy, deployments, promote, rollback, status, undeploy
from jupyter_modelops.exceptions import ConflictError, DeployError, ValidationError

from .conftest import IMAGE


def d(ref, fk, **kw):
    kw.setdefault("timeout", 120)
    return deploy(ref, cluster="fake", kubeconfig=fk.cfg, image=kw.pop("image", IMAGE), **kw)


def test_deploy_applies_every_object_and_waits_for_real_readiness(fake_kube, refs):
    dep = d(refs[0], fake_kube, replicas=3)
    assert dep.state == "deployed" and dep.revision == 1, dep.reason
    for plural in (
        "deployments",
        "services",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "networkpolicies",
        "serviceaccounts",
    ):
        assert fake_kube.get(plural, "churn") is not None, plural
    live = fake_kube.get("deployments", "churn")
    assert live["status"]["availableReplicas"] == 3 and live["status"]["observedGeneration"] == 1
    assert live["metadata"]["annotations"]["modelops.jupyter.org/ref"] == refs[0]
    # server-side apply under our field manager
    assert any(p == ("f:spec", "f:replicas") for p in fake_kube.managers_of("deployments", "churn")["jupyter-modelops"])
    st = status("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert st.rollout == "done" and st.available == 3 and st.ref == refs[0]
    recs = deployments()
    assert [(r["name"], r["state"]) for r in recs] == [("churn", "deployed")]


def test_a_crash_looping_rollout_is_rolled_back_with_the_reason(fake_kube, refs):
    d(refs[0], fake_kube)
    fake_kube.script("broken", "crashloop")
    dep = d(refs[1], fake_kube, image="registry.example/broken:2")
    assert dep.state == "rolled-back" and not dep.ok
    assert "crash-looping" in dep.reason and "rolled back to revision 3" in dep.reason, dep.reason
    live = fake_kube.get("deployments", "churn")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
    assert live["metadata"]["annotations"]["modelops.jupyter.org/ref"] == refs[0]
    st = status("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert st.ref == refs[0] and st.available == 2
    assert [r["revision"] for r in st.revisions] == [2, 3]
    # the registry's view: the earlier version runs again
    assert [(r["track"], r["running"], r["state"]) for r in deployments()] == [("stable", refs[0], "rolled-back")]


def test_an_image_that_cannot_be_pulled_names_the_image(fake_kube, refs):
    d(refs[0], fake_kube)
    fake_kube.script("no-such-image", "imagepull")
    dep = d(refs[1], fake_kube, image="registry.example/no-such-image:2")
    assert dep.state == "rolled-back"
    assert "cannot pull its image registry.example/no-such-image:2" in dep.reason


def test_a_stalled_rollout_fails_at_the_progress_deadline(fake_kube, refs):
    d(refs[0], fake_kube)
    fake_kube.script("slow", "stall", deadline=0.5)
    dep = d(refs[1], fake_kube, image="registry.example/slow:2")
    assert dep.state == "rolled-back" and "progress deadline" in dep.reason, dep.reason


def test_a_first_deploy_that_fails_has_nothing_to_roll_back(fake_kube, refs):
    fake_kube.script("broken", "crashloop")
    dep = d(refs[0], fake_kube, image="registry.example/broken:1")
    assert dep.state == "failed" and "no earlier revision" in dep.reason


def test_a_rollout_that_never_gets_ready_stops_at_the_timeout(fake_kube, refs):
    fake_kube.script("hang", "unready")
    t0 = time.monotonic()
    dep = d(refs[0], fake_kube, image="registry.example/hang:1", timeout=2)
    assert dep.state == "failed" and "did not finish within 2 s" in dep.reason
    assert time.monotonic() - t0 < 120  # a hang guard, not a speed goal: without timeout= it would wait for ever


def test_canary_then_promote(fake_kube, refs):
    d(refs[0], fake_kube, replicas=3)
    can = d(refs[1], fake_kube, image="registry.example/churn:2", canary=25)
    assert can.state == "canary" and can.replicas == 1, can.reason
    assert can.traffic_share == pytest.approx(0.25)
    assert fake_kube.get("deployments", "churn-canary")["status"]["availableReplicas"] == 1
    st = status("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert st.canary["ref"] == refs[1] and st.canary["traffic_share"] == pytest.approx(0.25)
    assert [(r["track"], r["running"]) for r in deployments()] == [("canary", refs[1]), ("stable", refs[0])]
    done = can.promote(timeout=120)
    assert [(r["track"], r["running"]) for r in deployments()] == [("stable", refs[1])]
    assert done.state == "deployed" and done.ref == refs[1]
    assert fake_kube.get("deployments", "churn-canary") is None
    assert (
        fake_kube.get("deployments", "churn")["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.example/churn:2"
    )


def test_canary_then_rollback_removes_only_the_canary(fake_kube, refs):
    d(refs[0], fake_kube)
    d(refs[1], fake_kube, image="registry.example/churn:2", canary=10)
    back = rollback("churn", cluster="fake", kubeconfig=fake_kube.cfg, timeout=120)
    assert back.state == "rolled-back" and "canary" in back.reason
    assert fake_kube.get("deployments", "churn-canary") is None
    assert [(r["track"], r["running"]) for r in deployments()] == [("stable", refs[0])]
    assert fake_kube.get("deployments", "churn")["metadata"]["annotations"]["modelops.jupyter.org/ref"] == refs[0]


def test_a_failing_canary_is_removed(fake_kube, refs):
    d(refs[0], fake_kube)
    fake_kube.script("broken", "crashloop")
    can = d(refs[1], fake_kube, image="registry.example/broken:2", canary=10)
    assert can.state == "rolled-back" and "crash-looping" in can.reason
    assert fake_kube.get("deployments", "churn-canary") is None


def test_rollback_to_a_revision_and_undeploy(fake_kube, refs):
    d(refs[0], fake_kube)
    d(refs[1], fake_kube, image="registry.example/churn:2")
    back = rollback("churn", cluster="fake", kubeconfig=fake_kube.cfg, to=1, timeout=120)
    assert back.state == "rolled-back" and back.ref == refs[0] and back.revision == 3
    with pytest.raises(ValidationError, match="no revision 7"):
        rollback("churn", cluster="fake", kubeconfig=fake_kube.cfg, to=7)
    gone = undeploy("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert gone.state == "removed" and "Service/churn" in gone.reason
    assert fake_kube.list("replicasets") == [] and fake_kube.list("pods") == []  # garbage-collected
    assert deployments().rows == []  # the registry knows it is gone


def test_kserve_mode_canary_promote_and_rollback(fake_kube, refs):
    first = d(refs[0], fake_kube, mode="kserve")
    assert first.state == "deployed", first.reason
    can = d(refs[1], fake_kube, mode="kserve", image="registry.example/churn:2", canary=10)
    assert can.state == "canary"
    isvc = fake_kube.get("inferenceservices", "churn")
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10
    st = status("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert st.kind == "InferenceService" and st.canary == {"traffic_percent": 10}
    assert {t["percent"] for t in st.traffic} == {10, 90}
    done = promote("churn", cluster="fake", kubeconfig=fake_kube.cfg, timeout=120)
    assert done.state == "deployed"
    assert "canaryTrafficPercent" not in fake_kube.get("inferenceservices", "churn")["spec"]["predictor"]
    back = rollback("churn", cluster="fake", kubeconfig=fake_kube.cfg, timeout=120)
    assert back.ref == refs[0]
    assert fake_kube.get("inferenceservices", "churn")["spec"]["predictor"]["containers"][0]["image"] == IMAGE


def test_kserve_ready_while_pods_crash_loop_is_a_failure(fake_kube, refs):
    d(refs[0], fake_kube, mode="kserve")
    fake_kube.script("broken", "crashloop")
    bad = d(refs[1], fake_kube, mode="kserve", image="registry.example/broken:2")
    assert fake_kube.get("inferenceservices", "churn")["spec"]["predictor"]["containers"][0]["image"] == IMAGE
    assert bad.state == "rolled-back" and "reports Ready but" in bad.reason and "crash-looping" in bad.reason
    assert bad.running == refs[0]


def test_kserve_mode_needs_kserve(tmp_path, refs):
    from k8s_fake import FakeKube

    with FakeKube(kserve=False) as fk:
        cfg = str(fk.kubeconfig(tmp_path / "kc"))
        with pytest.raises(DeployError, match="KServe is not installed on cluster 'fake'"):
            deploy(refs[0], cluster="fake", kubeconfig=cfg, image=IMAGE, mode="kserve")


def test_several_clusters_in_one_call_are_each_reported(fake_kube, refs, tmp_path):
    from k8s_fake import FakeKube

    with FakeKube() as other, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, not listening: connection refused
        cfg = fake_kube.kubeconfig(tmp_path / "multi", extra={"other": other.url, "down": dead})
        res = deploy(refs[0], cluster=["fake", "other", "down"], kubeconfig=str(cfg), image=IMAGE, timeout=120)
        assert [x.state for x in res] == ["deployed", "deployed", "error"]
        assert "Could not reach the Kubernetes API server of cluster 'down'" in res["down"].reason
        assert other.get("deployments", "churn") is not None and not res.ok


# -- faults: one sentence each -------------------------------------------------------------------------------
def one_sentence(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_unknown_cluster_and_profile_list_the_known_ones(fake_kube, refs):
    with pytest.raises(ValidationError) as info:
        deploy(refs[0], cluster="fak", kubeconfig=fake_kube.cfg, image=IMAGE)
    assert "Unknown cluster 'fak'" in one_sentence(info) and "Known clusters: fake" in str(info.value)
    with pytest.raises(ValidationError) as info:
        deploy(refs[0], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, profile="gpu-v100")
    assert "Known profiles: cpu-small" in one_sentence(info)


def test_unreachable_api_server_fails_fast(tmp_path, refs, monkeypatch):
    from k8s_fake import FakeKube

    monkeypatch.setenv("MODELOPS_K8S_TIMEOUT", "1")
    # a server that accepts connections and never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    fk = FakeKube()
    fk.url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    cfg = str(fk.kubeconfig(tmp_path / "kc"))
    t0 = time.monotonic()
    with pytest.raises(DeployError) as info:
        deploy(refs[0], cluster="fake", kubeconfig=cfg, image=IMAGE)
    assert time.monotonic() - t0 < 120  # a hang guard, not a speed goal: the silent server never answers
    assert "Could not reach the Kubernetes API server of cluster 'fake'" in one_sentence(info)
    assert "within 1 s" in str(info.value)
    silent.close()


def test_rbac_forbidden_names_the_verb_and_resource(fake_kube, refs):
    fake_kube.forbid("patch", "deployments")
    with pytest.raises(DeployError) as info:
        d(refs[0], fake_kube)
    text = one_sentence(info)
    assert "may not patch deployments.apps in namespace 'default'" in text and "RBAC" in text


def test_missing_namespace(fake_kube, refs):
    with pytest.raises(ValidationError) as info:
        d(refs[0], fake_kube, namespace="ml-prod")
    assert "The namespace 'ml-prod' does not exist on cluster 'fake'" in one_sentence(info)
    # a user who may not read namespaces learns it from the first namespaced request, in the same words
    fake_kube.forbid("get", "namespaces")
    with pytest.raises(ValidationError) as info:
        d(refs[0], fake_kube, namespace="ml-prod")
    assert "The namespace 'ml-prod' does not exist on cluster 'fake'" in one_sentence(info)
    assert fake_kube.get("deployments", "churn", namespace="ml-prod") is None


def test_missing_image(fake_kube, refs):
    with pytest.raises(ValidationError) as info:
        d(refs[0], fake_kube, image="")
    assert "image is ''" in one_sentence(info)
    with pytest.raises(ValidationError) as info:
        deploy(refs[0], cluster="fake", kubeconfig=fake_kube.cfg)  # nothing built, nothing pushed
    assert "No pushed image is recorded for churn:1" in one_sentence(info)


def test_conflicting_field_managers(fake_kube, refs):
    d(refs[0], fake_kube)
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=fake_kube.cfg, context="fake")
    apps = client.AppsV1Api(api)
    # another tool takes ownership of a field we set, with its own server-side apply
    apps.patch_namespaced_deployment(
        "churn",
        "default",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "churn"},
            "spec": {"revisionHistoryLimit": 3},
        },
        field_manager="ops-team",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    with pytest.raises(ConflictError) as info:
        d(refs[1], fake_kube, image="registry.example/churn:2")
    text = one_sentence(info)
    assert ".spec.revisionHistoryLimit" in text and 'conflict with "ops-team"' in text and "force=True" in text
    forced = d(refs[1], fake_kube, image="registry.example/churn:2", force=True)
    assert forced.state == "deployed" and fake_kube.get("deployments", "churn")["spec"]["revisionHistoryLimit"] == 10
    api.close()


def test_bad_arguments(fake_kube, refs):
    for kw, msg in [
        ({"canary": 0}, "canary is 0"),
        ({"replicas": -1}, "replicas is -1"),
        ({"mode": "knative"}, "mode is 'knative'"),
        ({"timeout": 0}, "timeout is 0"),
        ({"name": "Churn_Model"}, "not a DNS-1123 label"),
    ]:
        with pytest.raises(ValidationError, match=msg):
            d(refs[0], fake_kube, **kw)
    with pytest.raises(ValidationError, match="no stable deployment"):
        d(refs[0], fake_kube, canary=10)


# -- the fake itself, through the official client ------------------------------------------------------------
def test_the_fake_speaks_kubernetes_to_the_official_client(fake_kube):
    from kubernetes import client, config, watch
    from kubernetes.client.exceptions import ApiException

    api = config.new_client_from_config(config_file=fake_kube.cfg, context="fake")
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    rv = cm.metadata.resource_version
    core.patch_namespaced_config_map("c", "default", {"data": {"b": "2"}})
    stale = {"metadata": {"name": "c", "resourceVersion": rv}, "data": {}}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("c", "default", stale)
    assert info.value.status == 409
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    assert info.value.status == 409 and "already exists" in info.value.body
    with pytest.raises(ApiException) as info:
        client.AppsV1Api(api).create_namespaced_deployment(
            "default",
            {
                "metadata": {"name": "x"},
                "spec": {
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "c"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                },
            },
        )
    assert info.value.status == 422 and "does not match" in info.value.body
    # the official OpenAPI schema of Kubernetes 1.32 checks what is written (raw bodies: the typed
    # client would refuse these before sending), and our translation words the 422 and the 400
    from jupyter_modelops.deployment import get_cluster
    from jupyter_modelops.deployment.kube import Kube

    with Kube(get_cluster("fake", kubeconfig=fake_kube.cfg)) as kube:
        with pytest.raises(ValidationError) as info:
            kube.request(
                "POST",
                "Service",
                namespace="default",
                body={"metadata": {"name": "svc"}, "spec": {"ports": [{"port": "eighty"}]}},
            )
        assert "Cluster 'fake' rejected Service objects" in str(info.value)
        assert "spec.ports.0.port" in str(info.value) and "'eighty' is not of type 'integer'" in str(info.value)
        with pytest.raises(ValidationError) as info:
            kube.request(
                "POST",
                "Service",
                namespace="default",
                query=[("fieldValidation", "Strict")],
                body={"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}], "bogus": 1}},
            )
        assert 'strict decoding error: unknown field "spec.bogus"' in str(info.value)
    # a chunked watch from a resourceVersion sees the change made after it
    rv = core.list_namespaced_config_map("default").metadata.resource_version

    def later():
        time.sleep(0.3)
        core.patch_namespaced_config_map("c", "default", {"data": {"c": "3"}})

    threading.Thread(target=later).start()
    events = []
    for ev in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10):
        events.append((ev["type"], sorted(ev["object"].data)))
        break
    assert events == [("MODIFIED", ["a", "b", "c"])]
    # without one, a watch starts with the objects as they are
    for ev in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=10):
        assert ev["type"] == "ADDED" and sorted(ev["object"].data) == ["a", "b", "c"]
        break
    api.close()


def test_the_fake_applies_json_merge_and_strategic_patches(fake_kube):
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=fake_kube.cfg, context="fake")
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "p", "labels": {"a": "1"}}, "data": {"x": "1", "y": "2"}}
    )
    core.patch_namespaced_config_map(
        "p",
        "default",
        [{"op": "replace", "path": "/data/x", "value": "9"}, {"op": "add", "path": "/metadata/labels/b", "value": "2"}],
    )
    core.patch_namespaced_config_map(
        "p", "default", {"data": {"y": None, "z": "3"}}, _content_type="application/merge-patch+json"
    )
    cm = core.read_namespaced_config_map("p", "default")
    assert cm.data == {"x": "9", "z": "3"} and cm.metadata.labels == {"a": "1", "b": "2"}
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "s"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "one", "image": "i:1"}, {"name": "two", "image": "j:1"}]},
                },
            },
        },
    )
    # strategic merge: containers merge by name (a JSON merge patch would replace the whole list)
    apps.patch_namespaced_deployment(
        "s", "default", {"spec": {"template": {"spec": {"containers": [{"name": "two", "image": "j:2"}]}}}}
    )
    got = apps.read_namespaced_deployment("s", "default").spec.template.spec.containers
    assert [(c.name, c.image) for c in got] == [("one", "i:1"), ("two", "j:2")]
    assert apps.read_namespaced_deployment("s", "default").metadata.generation == 2
    api.close()


def test_a_release_keeps_the_replica_count_the_autoscaler_chose(fake_kube, refs):
    from kubernetes import client, config

    d(refs[0], fake_kube)  # cpu-small: 2 replicas, the HPA may scale to 5
    api = config.new_client_from_config(config_file=fake_kube.cfg, context="fake")
    # what the HPA controller does: an update of spec.replicas under its own field manager
    client.AppsV1Api(api).patch_namespaced_deployment(
        "churn", "default", {"spec": {"replicas": 4}}, field_manager="kube-controller-manager"
    )
    api.close()
    dep = d(refs[1], fake_kube, image="registry.example/churn:2")
    assert dep.state == "deployed" and dep.replicas == 4, dep.reason
    assert fake_kube.get("deployments", "churn")["status"]["availableReplicas"] == 4
    # an explicit count meets the autoscaler's ownership of the field; force=True takes it over
    with pytest.raises(ConflictError, match='.spec.replicas.*"kube-controller-manager"'):
        d(refs[1], fake_kube, image="registry.example/churn:2", replicas=3)
    assert d(refs[1], fake_kube, image="registry.example/churn:2", replicas=3, force=True).replicas == 3


def test_in_cluster_service_account(tmp_path, refs, monkeypatch):
    """A notebook in a pod deploys to its own cluster through the pod's service account (token + CA)."""
    import importlib

    from k8s_fake import FakeKube
    from realparts import need_tool

    clusters_mod = importlib.import_module("jupyter_modelops.deployment.clusters")

    need_tool("openssl", "the fake API server makes its TLS certificate with it")
    with FakeKube(tls=True) as fk:
        sa = tmp_path / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text(fk.token)
        (sa / "ca.crt").write_bytes(fk.ca_pem)
        (sa / "namespace").write_text("default\n")
        monkeypatch.setattr(clusters_mod, "_SA_DIR", sa)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(fk.port))
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
        listed = clusters_mod.clusters()
        assert listed.names == ["in-cluster"] and listed.items[0].current
        dep = deploy(refs[0], image=IMAGE, timeout=120)  # no cluster named: the one we run in
        assert dep.cluster == "in-cluster" and dep.state == "deployed", dep.reason
        assert fk.get("deployments", "churn") is not None


def test_wrong_credentials(fake_kube, refs, tmp_path):
    cfg = str(fake_kube.kubeconfig(tmp_path / "stale", token="expired"))
    with pytest.raises(DeployError) as info:
        deploy(refs[0], cluster="fake", kubeconfig=cfg, image=IMAGE)
    assert "refused the credentials (401 Unauthorized)" in one_sentence(info)


def test_an_untrusted_tls_certificate(tmp_path, refs):
    import yaml

    from k8s_fake import FakeKube
    from realparts import need_tool

    need_tool("openssl", "the fake API server makes its TLS certificate with it")
    with FakeKube(tls=True) as fk:
        path = fk.kubeconfig(tmp_path / "kc")
        cfg = yaml.safe_load(path.read_text())
        del cfg["clusters"][0]["cluster"]["certificate-authority-data"]  # the system CAs do not know it
        path.write_text(yaml.safe_dump(cfg))
        with pytest.raises(DeployError) as info:
            deploy(refs[0], cluster="fake", kubeconfig=str(path), image=IMAGE)
        text = one_sentence(info)
        assert "The TLS certificate of the API server of cluster 'fake'" in text and "not trusted" in text
