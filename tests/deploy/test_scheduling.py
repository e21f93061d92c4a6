"""Pods that fit on no node: the rollout says why at once, names the profile and its selectors, and rolls back.

The fake API server schedules pods once it has nodes (kube-scheduler's filters and its messages, the
``PodScheduled`` condition and the ``FailedScheduling`` event; see ``tests/k8s_fake``).
"""

from __future__ import annotations

from jupyter_modelops.deployment import deploy, status

from .conftest import IMAGE

A100 = "nvidia.com/gpu.product in (NVIDIA-A100-SXM4-40GB, NVIDIA-A100-SXM4-80GB, NVIDIA-A100-PCIE-40GB)"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def d(ref, fk, **kw):
    kw.setdefault("timeout", 120)
    return deploy(ref, cluster="fake", kubeconfig=fk.cfg, image=kw.pop("image", IMAGE), **kw)


def t4_nodes(fk, n=2, gpus=1):
    for i in range(n):
        fk.add_node(
            f"t4-{i}",
            labels={"nvidia.com/gpu.product": "Tesla-T4"},
            taints=[GPU_TAINT],
            allocatable={"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": gpus},
        )


def failed_scheduling(fk):
    return [e for e in fk.list("events") if e["reason"] == "FailedScheduling"]


def test_a_gpu_profile_no_node_offers_is_rolled_back_naming_its_selector(fake_kube, refs):
    t4_nodes(fake_kube)
    first = d(refs[0], fake_kube, profile="gpu-t4")
    assert first.state == "deployed", first.reason
    pod = fake_kube.list("pods")[0]
    assert pod["spec"]["nodeName"].startswith("t4-")
    assert {"type": "PodScheduled", "status": "True"} in pod["status"]["conditions"]

    dep = d(refs[1], fake_kube, profile="gpu-a100")
    assert dep.state == "rolled-back", dep.reason
    assert f"no node matches {A100} for profile gpu-a100" in dep.reason, dep.reason
    assert "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector" in dep.reason
    assert "did not finish within" not in dep.reason and "pending termination" not in dep.reason
    live = fake_kube.get("deployments", "churn")
    assert live["metadata"]["annotations"]["modelops.jupyter.org/profile"] == "gpu-t4"
    # what the scheduler wrote, as kube-scheduler writes it
    events = failed_scheduling(fake_kube)
    assert events and events[0]["type"] == "Warning" and events[0]["reportingComponent"] == "default-scheduler"
    assert events[0]["involvedObject"]["kind"] == "Pod"
    assert events[0]["message"] == (
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
        "scheduling."
    )


def test_the_pod_condition_is_the_schedulers_and_status_reports_it(fake_kube, refs):
    t4_nodes(fake_kube)
    d(refs[0], fake_kube, profile="gpu-a100", wait=False)
    import time

    deadline = time.monotonic() + 30
    pending = []
    while not pending and time.monotonic() < deadline:
        pending = [p for p in fake_kube.list("pods") if p["status"].get("phase") == "Pending"]
        time.sleep(0.05)
    cond = pending[0]["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert cond["message"].startswith("0/2 nodes are available: 2 node(s) didn't match")
    assert "containerStatuses" not in pending[0]["status"] and "nodeName" not in pending[0]["spec"]
    st = status("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert st.rollout == "failed" and f"no node matches {A100} for profile gpu-a100" in st.to_text()


def test_a_first_deploy_short_of_gpus_fails_naming_the_resource(fake_kube, refs):
    t4_nodes(fake_kube, n=1)
    dep = d(refs[0], fake_kube, profile="gpu-t4", replicas=2)
    assert dep.state == "failed", dep.reason
    assert (
        "no node has enough free nvidia.com/gpu (the pod requests nvidia.com/gpu=1) for profile gpu-t4" in dep.reason
    ), dep.reason
    assert "0/1 nodes are available: 1 Insufficient nvidia.com/gpu" in dep.reason
    assert "no earlier revision" in dep.reason
    assert failed_scheduling(fake_kube)[0]["message"].endswith(
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )


def test_a_canary_short_of_cpu_is_removed(fake_kube, refs):
    for i in range(2):
        fake_kube.add_node(f"cpu-{i}", allocatable={"cpu": "2", "memory": "8Gi"})
    first = d(refs[0], fake_kube)  # cpu-small: 250m each
    assert first.state == "deployed", first.reason
    can = d(refs[1], fake_kube, canary=20, profile="cpu-large")  # 4 cpu, 8Gi
    assert can.state == "rolled-back", can.reason
    assert "the canary failed (pod churn-canary-" in can.reason
    assert (
        "no node has enough free cpu, memory (the pod requests cpu=4, memory=8Gi) for profile cpu-large" in can.reason
    ), can.reason
    assert fake_kube.get("deployments", "churn-canary") is None


def test_tainted_nodes_are_named(fake_kube, refs):
    t4_nodes(fake_kube)
    dep = d(refs[0], fake_kube, profile="cpu-small")  # no GPU toleration
    assert dep.state == "failed"
    assert (
        "the nodes carry taints it does not tolerate ({nvidia.com/gpu: present}) for profile cpu-small" in dep.reason
    ), dep.reason


def test_a_pod_a_cluster_autoscaler_adds_a_node_for_is_waited_for(fake_kube, refs):
    t4_nodes(fake_kube)
    fake_kube.autoscaler(
        "a100-pool",
        labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
        taints=[GPU_TAINT],
        allocatable={"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": 1},
    )
    dep = d(refs[0], fake_kube, profile="gpu-a100")
    assert dep.state == "deployed", dep.reason
    assert [p["spec"]["nodeName"] for p in fake_kube.list("pods")] == ["a100-pool-0"]
    events = {e["reason"]: e for e in fake_kube.list("events")}
    assert set(events) == {"FailedScheduling", "TriggeredScaleUp"}
    assert events["TriggeredScaleUp"]["message"] == "pod triggered scale-up: [{a100-pool 0->1 (max: 1)}]"


def test_a_pod_no_node_group_fits_fails_at_once(fake_kube, refs):
    t4_nodes(fake_kube)
    fake_kube.autoscaler(
        "t4-pool",
        labels={"nvidia.com/gpu.product": "Tesla-T4"},
        taints=[GPU_TAINT],
        allocatable={"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": 1},
        max_nodes=3,
    )
    dep = d(refs[0], fake_kube, profile="gpu-a100")
    assert dep.state == "failed" and f"no node matches {A100} for profile gpu-a100" in dep.reason, dep.reason
    scale = [e for e in fake_kube.list("events") if e["reason"] == "NotTriggerScaleUp"]
    assert scale and scale[0]["source"]["component"] == "cluster-autoscaler"
    assert "didn't match Pod's node affinity/selector" in scale[0]["message"]
    assert not [n for n in fake_kube.list("nodes", None) if n["metadata"]["name"].startswith("t4-pool")]


def test_a_kserve_predictor_that_fits_on_no_node_is_rolled_back(fake_kube, refs):
    t4_nodes(fake_kube)
    first = d(refs[0], fake_kube, profile="gpu-t4", mode="kserve")
    assert first.state == "deployed", first.reason
    dep = d(refs[1], fake_kube, profile="gpu-a100", mode="kserve")
    assert dep.state == "rolled-back", dep.reason
    assert (
        f"the InferenceService is not ready: pod churn-predictor-00002-0 cannot be scheduled: no node matches "
        f"{A100} for profile gpu-a100" in dep.reason
    ), dep.reason
    live = fake_kube.get("inferenceservices", "churn")
    assert live["metadata"]["annotations"]["modelops.jupyter.org/profile"] == "gpu-t4"


def test_waiting_for_a_node_that_never_comes_ends_at_the_timeout_with_a_true_message(fake_kube, refs):
    t4_nodes(fake_kube)
    assert d(refs[0], fake_kube, profile="gpu-t4").state == "deployed"
    fake_kube.autoscaler(
        "a100-pool",
        labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
        taints=[GPU_TAINT],
        allocatable={"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": 1},
        delay=3600,
    )
    dep = d(refs[1], fake_kube, profile="gpu-a100", timeout=3)
    assert dep.state == "rolled-back", dep.reason
    assert "did not finish within 3 s (0 of 1 updated replicas available)" in dep.reason, dep.reason
    assert "pending termination" not in dep.reason
