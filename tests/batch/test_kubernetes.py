"""engine="kubernetes": an indexed Job in the model's image, valid for three Kubernetes versions, with
deploy()'s hardware profile and restricted Pod Security Standard, applied to the fake API server; its pods'
command scores their partition."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops.batch import core
from jupyter_modelops.exceptions import ValidationError
from k8s_fake import FakeKube

K8S_VERSIONS = ["1.30", "1.33", "1.36"]
IMAGE = "registry.example/churn@sha256:" + "a" * 64


@pytest.fixture(autouse=True)
def no_real_cluster(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("KUBECONFIG", "kubeconfig-of-the-test-only")


@pytest.fixture
def fake_kube(tmp_path):
    with FakeKube() as kube:
        kube.cfg = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        yield kube
    assert [r for r in kube.requests if r[0] in ("SERVER-ERROR", "CONTROLLER-ERROR")] == []


def dry(version, src, out, **kw):
    return mo.predict_batch(
        version, src, out, engine="kubernetes", image=IMAGE, partition_rows=1500, dry_run=True, **kw
    )


@pytest.mark.parametrize("version_k8s", K8S_VERSIONS)
def test_job_is_valid_for_three_kubernetes_versions(version, source, tmp_path, version_k8s):
    import kubernetes_validate

    src, _ = source
    res = dry(version, src, tmp_path / "out", claim="scores", secret="s3-credentials", profile="gpu-t4")
    assert [o["kind"] for o in res.manifests] == ["ServiceAccount", "Job"]
    for obj in res.manifests:
        kubernetes_validate.validate(obj, version_k8s, strict=True)
    bad = copy.deepcopy(res.manifests[1])
    bad["spec"]["template"]["spec"]["containers"][0]["argz"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version_k8s, strict=True)


def test_indexed_job_has_deploys_profile_and_restricted_pod_security(version, source, tmp_path):
    from jupyter_modelops.deployment import get_profile

    src, _ = source
    res = dry(version, src, tmp_path / "out", profile="gpu-t4", parallelism=2, threads=2)
    job = res.manifests[1]
    s = job["spec"]
    assert (s["completionMode"], s["completions"], s["parallelism"]) == ("Indexed", 5, 2)
    assert s["backoffLimitPerIndex"] == 2 and "backoffLimit" not in s
    pod = s["template"]["spec"]
    c = pod["containers"][0]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
    prof = get_profile("gpu-t4")
    assert c["resources"]["limits"] == {k: str(v) for k, v in prof.limits.items()}
    assert pod.get("nodeSelector", {}) == {k: str(v) for k, v in prof.node_selector.items()}
    assert pod.get("affinity") == prof.affinity and prof.affinity  # the GPU nodes' product, as deploy() asks
    assert pod["tolerations"] == prof.tolerations
    assert c["image"] == IMAGE and c["command"] == ["python3", "-m", "jupyter_modelops.batch"]
    assert "ports" not in c and "readinessProbe" not in c
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["OMP_NUM_THREADS"] == "2" and env["MODELOPS_SERVING_PROVIDERS"].startswith("CUDAExecutionProvider")
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "batch-scoring"
    assert len(job["metadata"]["name"]) <= 63 and job["metadata"]["name"].startswith("churn-batch-")


def test_claim_is_mounted_at_the_folder_holding_source_and_output(version, source, tmp_path):
    src, _ = source
    pod = dry(version, src, tmp_path / "out", claim="scores").manifests[1]["spec"]["template"]["spec"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "scores"}} in pod["volumes"]
    assert {"name": "data", "mountPath": str(tmp_path)} in pod["containers"][0]["volumeMounts"]
    with pytest.raises(ValidationError, match="The PersistentVolumeClaim name 'Bad_Claim' is not a DNS subdomain"):
        dry(version, src, tmp_path / "out", claim="Bad_Claim")


def test_job_is_applied_and_a_rerun_replaces_a_finished_one(version, source, tmp_path, fake_kube):
    from kubernetes import client, config

    src, _ = source
    kw = dict(engine="kubernetes", image=IMAGE, cluster="fake", kubeconfig=fake_kube.cfg, partition_rows=1500)
    res = mo.predict_batch(version, src, tmp_path / "out", **kw)
    job = fake_kube.get("jobs", res.job, group="batch")
    assert job is not None and job["spec"]["completions"] == 5 and res.replaced is False
    assert fake_kube.get("serviceaccounts", res.job) is not None
    # the same run again while the Job runs: nothing changes
    uid = job["metadata"]["uid"]
    again = mo.predict_batch(version, src, tmp_path / "out", **kw)
    assert fake_kube.get("jobs", res.job, group="batch")["metadata"]["uid"] == uid and again.replaced is False
    # another parallelism while it runs: parallelism may change on a running Job
    mo.predict_batch(version, src, tmp_path / "out", parallelism=1, **kw)
    assert fake_kube.get("jobs", res.job, group="batch")["spec"]["parallelism"] == 1
    # another profile while it runs: the pod template is immutable; the refusal is one sentence
    with pytest.raises(mo.ModelOpsError, match="immutable"):
        mo.predict_batch(version, src, tmp_path / "out", profile="cpu-large", **kw)
    # the Job failed (as its controller would record): a rerun replaces it
    api = client.BatchV1Api(config.new_client_from_config(fake_kube.cfg))
    api.patch_namespaced_job_status(
        res.job,
        "default",
        {
            "status": {
                "conditions": [
                    {"type": "Failed", "status": "True", "reason": "FailedIndexes", "message": "Job has failed indexes"}
                ]
            }
        },
    )
    rerun = mo.predict_batch(version, src, tmp_path / "out", **kw)
    assert rerun.replaced is True
    assert fake_kube.get("jobs", res.job, group="batch")["metadata"]["uid"] != uid


def test_fake_api_server_refuses_what_kubernetes_refuses_for_jobs(version, source, tmp_path, fake_kube):
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    src, _ = source
    job = dry(version, src, tmp_path / "out").manifests[1]
    api = client.BatchV1Api(config.new_client_from_config(fake_kube.cfg))
    for change, field in ((("template", "spec", "restartPolicy"), "Always"), (("completions",), None)):
        bad = copy.deepcopy(job)
        target = bad["spec"]
        for k in change[:-1]:
            target = target[k]
        if field is None:
            del target[change[-1]]
        else:
            target[change[-1]] = field
        with pytest.raises(ApiException) as err:
            api.create_namespaced_job("default", bad)
        assert err.value.status == 422 and "spec." + ".".join(change) in err.value.body


def test_the_pods_command_scores_its_partition(version, model, source, tmp_path):
    """What a pod runs: the image's model directory, JOB_COMPLETION_INDEX, the Job's own args."""
    src, df = source
    out = tmp_path / "out"
    res = dry(version, src, out)
    assert not out.exists()  # a dry run writes nothing
    args = res.manifests[1]["spec"]["template"]["spec"]["containers"][0]["args"]
    model_dir = mo.materialize(version, tmp_path / "opt-model")  # what the image holds at /opt/model
    args[args.index("--model-dir") + 1] = str(model_dir)
    env = {**os.environ, "JOB_COMPLETION_INDEX": "3"}
    unplanned = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.batch", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert unplanned.returncode == 2 and "was not planned" in unplanned.stderr
    part = core.plan(version, str(src), str(out), partition_rows=1500).partitions[3]  # what run_job writes
    run = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.batch", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert sorted(p for p in os.listdir(out) if p.startswith("part-")) == ["part-00003.parquet"]
    got = pd.read_parquet(out / "part-00003.parquet")
    assert len(got) == part.rows == 1000
    want = df.set_index("customer_id").loc[got.customer_id]
    assert (got.predict.to_numpy() == model.predict(want[["a", "b", "c", "d"]])).all()
    # an index beyond the run is one sentence, no traceback
    env["JOB_COMPLETION_INDEX"] = "9"
    bad = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.batch", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: Partition index 9 is out of range; the run has 5")
    assert "Traceback" not in bad.stderr
    env["JOB_COMPLETION_INDEX"] = "1; rm -rf /"
    odd = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.batch", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert odd.returncode == 2 and "is not a number" in odd.stderr and "Traceback" not in odd.stderr
    # a source that changed after the plan: the pods refuse rather than score other partitions
    env["JOB_COMPLETION_INDEX"] = "0"
    pd.DataFrame({"customer_id": [1], **{f: [0.0] for f in "abcd"}}).to_parquet(src / "day=3.parquet")
    changed = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.batch", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert changed.returncode == 2 and "changed since the run was planned" in changed.stderr
    assert not (out / "part-00000.parquet").exists()


def test_kubectl_applies_the_job_and_meets_its_immutable_template(version, source, tmp_path):
    """The fake's Job rules against a client we did not write: kubectl, server-side apply over TLS."""
    from jupyter_modelops.deployment import to_yaml
    from realparts import need_tool

    exe = need_tool("kubectl")
    need_tool("openssl", "the fake API server makes its TLS certificate with it")
    src, _ = source
    objs = dry(version, src, tmp_path / "out").manifests
    path = tmp_path / "job.yaml"
    path.write_text(to_yaml(objs))
    with FakeKube(tls=True) as fk:
        cfg = str(fk.kubeconfig(tmp_path / "kubeconfig"))

        def kubectl(*args):
            return subprocess.run(
                [exe, "--kubeconfig", cfg, "--request-timeout=30s", *args], capture_output=True, text=True, timeout=120
            )

        ok = kubectl("apply", "--server-side", "--field-manager=jupyter-modelops", "-f", str(path))
        assert ok.returncode == 0, ok.stderr
        name = objs[1]["metadata"]["name"]
        got = kubectl("get", "job", name, "-o", "jsonpath={.spec.completionMode}/{.spec.completions}")
        assert got.stdout == "Indexed/5"
        objs[1]["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/other:2"
        path.write_text(to_yaml(objs))
        bad = kubectl("apply", "--server-side", "--field-manager=jupyter-modelops", "-f", str(path))
        assert bad.returncode != 0 and "spec.template: Invalid value: field is immutable" in bad.stderr
