"""Rendered manifests: strict schema validation (three Kubernetes minor versions and the KServe CRD),
the restricted Pod Security Standard, profiles and clusters."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from jupyter_modelops.deployment import clusters, get_profile, profiles, render
from jupyter_modelops.deployment.manifests import DeploySpec
from jupyter_modelops.exceptions import ValidationError

from .conftest import IMAGE

K8S_VERSIONS = ["1.30", "1.33", "1.36"]
BUILTINS = ["cpu-small", "cpu-large", "gpu-t4", "gpu-a10g", "gpu-a100", "gpu-h100", "tpu-v5e"]


def spec(profile="cpu-small", **kw):
    base = dict(
        name="churn",
        namespace="ml",
        model="churn",
        version="3",
        ref="churn:3",
        image=IMAGE,
        digest="sha256:" + "a" * 64,
        profile=get_profile(profile),
        replicas=2,
    )
    base.update(kw)
    return DeploySpec(**base)


def all_plain_objects():
    for p in BUILTINS:
        yield from render(spec(p))
        yield from render(spec(p, canary=10, canary_replicas=1))


def kv_validate(doc, version):
    import kubernetes_validate

    # strict: unknown fields fail; SchemaNotFoundError (a removed or unknown API) is raised, failing the test
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_plain_manifest_is_valid_for_three_minor_versions(version):
    objs = list(all_plain_objects())
    kinds = {o["kind"] for o in objs}
    assert kinds == {
        "ServiceAccount",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    for obj in objs:
        kv_validate(obj, version)


def test_the_validator_is_strict_and_knows_missing_apis():
    import kubernetes_validate

    dep = copy.deepcopy(render(spec())[1])
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kv_validate(dep, "1.33")
    hpa = copy.deepcopy(render(spec())[3])
    hpa["apiVersion"] = "autoscaling/v2beta1"  # removed in 1.25
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kv_validate(hpa, "1.33")


def test_deployment_shape_probes_scrape_labels_and_rolling_update():
    dep = next(o for o in render(spec("gpu-t4")) if o["kind"] == "Deployment")
    meta, s = dep["metadata"], dep["spec"]
    assert meta["labels"]["modelops.jupyter.org/version"] == "3"
    assert meta["annotations"]["modelops.jupyter.org/digest"] == "sha256:" + "a" * 64
    assert s["strategy"]["type"] == "RollingUpdate" and s["replicas"] == 2
    tmpl = s["template"]
    assert tmpl["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert tmpl["metadata"]["annotations"]["prometheus.io/port"] == "8080"
    c = tmpl["spec"]["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert c["ports"][0]["containerPort"] == 8080
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["MODELOPS_SERVING_PROVIDERS"].startswith("CUDAExecutionProvider")
    assert env["MODELOPS_FP16"] == "1"
    assert tmpl["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "nodeAffinity" in tmpl["spec"]["affinity"]
    svc = next(o for o in render(spec()) if o["kind"] == "Service")
    # the Service selects stable and canary pods alike: traffic follows the share of ready pods
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "churn"}
    canary = render(spec(canary=10, canary_replicas=1))
    assert [o["metadata"]["name"] for o in canary] == ["churn-canary"]
    assert canary[0]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "churn"


def restricted_violations(pod_spec: dict) -> list[str]:
    """The checks of the 'restricted' Pod Security Standard (v1.30 profile) that apply to our pods."""
    bad = []
    pod_sc = pod_spec.get("securityContext") or {}
    if pod_spec.get("hostNetwork") or pod_spec.get("hostPID") or pod_spec.get("hostIPC"):
        bad.append("host namespaces")
    for v in pod_spec.get("volumes") or []:
        allowed = {
            "configMap",
            "csi",
            "downwardAPI",
            "emptyDir",
            "ephemeral",
            "persistentVolumeClaim",
            "projected",
            "secret",
        }
        if not set(v) - {"name"} <= allowed:
            bad.append(f"volume type {set(v) - {'name'}}")
    if (pod_sc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        bad.append("pod seccomp")
    for c in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            bad.append("privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append("allowPrivilegeEscalation")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            bad.append("capabilities drop ALL")
        if set((sc.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}:
            bad.append("capabilities add")
        if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))):
            bad.append("runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            bad.append("runAsUser 0")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            bad.append("hostPort")
        if not sc.get("readOnlyRootFilesystem"):
            bad.append("readOnlyRootFilesystem (ours, beyond the standard)")
    return bad


@pytest.mark.parametrize("profile", BUILTINS)
def test_pods_meet_the_restricted_pod_security_standard(profile):
    dep = next(o for o in render(spec(profile)) if o["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert any(m["mountPath"] == "/tmp" for m in pod["containers"][0]["volumeMounts"])
    isvc = render(spec(profile, mode="kserve"))[-1]
    pred = {k: v for k, v in isvc["spec"]["predictor"].items()}
    assert restricted_violations(pred) == []
    # and the checker catches a violation
    worse = copy.deepcopy(pod)
    worse["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    assert restricted_violations(worse) == ["allowPrivilegeEscalation"]


# -- KServe ------------------------------------------------------------------------------------------------
def crd_to_jsonschema(node):
    """OpenAPI v3 (structural, as in a CRD) to JSON Schema."""
    if isinstance(node, list):
        return [crd_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in (
            "x-kubernetes-validations",
            "x-kubernetes-list-type",
            "x-kubernetes-list-map-keys",
            "x-kubernetes-map-type",
            "x-kubernetes-embedded-resource",
        ):
            continue  # CEL rules and list semantics cannot be checked by JSON Schema
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {name: crd_to_jsonschema(s) for name, s in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = crd_to_jsonschema(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [crd_to_jsonschema(s) for s in v]
        elif k not in ("nullable", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields"):
            out[k] = v
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"] + ["null"]
    if (
        "properties" in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in node
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def isvc_schema(kserve_dir):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load((kserve_dir / "inferenceservice-crd.yaml").read_text(), Loader=loader)  # noqa: S506
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    schema = crd_to_jsonschema(version["schema"]["openAPIV3Schema"])
    # metadata is validated by the API server itself, not by the CRD schema
    schema["properties"]["metadata"] = {"type": "object"}
    import jsonschema

    return jsonschema.Draft202012Validator(schema)


def isvc_validate(validator, doc):
    error = next(iter(validator.iter_errors(doc)), None)
    if error is not None:
        raise error


def test_the_crd_conversion_accepts_kserves_own_samples(kserve_dir, isvc_schema):
    checked, rejected = 0, []
    for path in sorted((kserve_dir / "samples").glob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue  # a few samples are templates with {placeholders}
        for doc in docs:
            if doc and doc.get("kind") == "InferenceService" and doc.get("apiVersion") == "serving.kserve.io/v1beta1":
                try:
                    isvc_validate(isvc_schema, doc)
                    checked += 1
                except Exception as exc:  # samples written for older KServe releases
                    rejected.append((path.name, str(exc).splitlines()[0]))
    assert checked >= 15, rejected


@pytest.mark.parametrize("profile", BUILTINS)
@pytest.mark.parametrize("canary", [None, 10])
def test_inference_service_is_valid_for_the_kserve_crd(isvc_schema, profile, canary):
    objs = render(spec(profile, mode="kserve", canary=canary))
    assert [o["kind"] for o in objs] == ["ServiceAccount", "InferenceService"]
    isvc = objs[-1]
    isvc_validate(isvc_schema, isvc)
    pred = isvc["spec"]["predictor"]
    assert pred["containers"][0]["image"] == IMAGE
    assert pred.get("canaryTrafficPercent") == canary
    for v in K8S_VERSIONS:
        kv_validate(objs[0], v)


def test_the_kserve_schema_rejects_unknown_fields_and_wrong_types(isvc_schema):
    import jsonschema

    isvc = render(spec(mode="kserve"))[-1]
    bad = copy.deepcopy(isvc)
    bad["spec"]["predictor"]["canaryTrafficPercentage"] = 10
    with pytest.raises(jsonschema.ValidationError):
        isvc_validate(isvc_schema, bad)
    bad = copy.deepcopy(isvc)
    bad["spec"]["predictor"]["minReplicas"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        isvc_validate(isvc_schema, bad)
    ok = copy.deepcopy(isvc)
    ok["spec"]["predictor"]["containers"][0]["resources"]["limits"]["cpu"] = 2  # int-or-string quantity
    isvc_validate(isvc_schema, ok)


# -- profiles ---------------------------------------------------------------------------------------------
def test_builtin_profiles_and_table():
    ps = profiles()
    assert set(BUILTINS) <= set(ps.names)
    assert ps["tpu-v5e"].limits["google.com/tpu"] == 1
    assert ps["gpu-a100"].runtime["provider"] == "TensorRT"
    html = ps._repr_html_()
    assert html.count("<tr") == len(ps) + 1 and "gpu-h100" in html  # with or without inline styles
    assert "cpu-small" in ps.to_text()


def test_user_profiles_from_home_and_working_directory(modelops_home, tmp_path, monkeypatch):
    modelops_home.mkdir(parents=True, exist_ok=True)
    (modelops_home / "profiles.yaml").write_text(
        yaml.safe_dump(
            {
                "profiles": {
                    "gpu-l4": {
                        "base": "gpu-t4",
                        "description": "One NVIDIA L4",
                        "node_selector": {"pool": "l4"},
                        "runtime": {"provider": "TensorRT", "threads": 2, "batch_size": 8, "fp16": True},
                        "autoscaling": {
                            "min_replicas": 1,
                            "max_replicas": 3,
                            "target_cpu_utilization": 60,
                            "metric": "modelops_inflight_requests",
                            "target_average_value": "8",
                        },
                    }
                }
            }
        )
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "modelops-profiles.yaml").write_text(yaml.safe_dump({"profiles": {"cpu-small": {"replicas": 4}}}))
    monkeypatch.chdir(work)
    ps = profiles()
    l4 = ps["gpu-l4"]
    assert l4.limits["nvidia.com/gpu"] == 1 and l4.node_selector == {"pool": "l4"}
    assert l4.source.endswith("profiles.yaml")
    assert ps["cpu-small"].replicas == 4 and ps["cpu-small"].requests["cpu"] == "250m"
    hpa = next(o for o in render(spec("gpu-l4")) if o["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["metrics"][1]["pods"]["metric"]["name"] == "modelops_inflight_requests"
    for v in K8S_VERSIONS:
        for o in render(spec("gpu-l4")):
            kv_validate(o, v)


@pytest.mark.parametrize(
    "profile, message",
    [
        ({"gpu": 1}, "unknown key 'gpu'"),
        ({"requests": {"nvidia/gpu": 1}}, "unknown resource 'nvidia/gpu'"),
        ({"requests": {"cpu": "two"}}, "not a Kubernetes quantity"),
        ({"runtime": {"provider": "ROCm"}}, "runtime.provider is 'ROCm'"),
        ({"autoscaling": {"min_replicas": 3, "max_replicas": 2}}, "min_replicas <= max_replicas"),
        ({"base": "gpu-x"}, "unknown profile 'gpu-x'"),
    ],
)
def test_bad_user_profiles_are_one_sentence(modelops_home, profile, message):
    modelops_home.mkdir(parents=True, exist_ok=True)
    (modelops_home / "profiles.yaml").write_text(yaml.safe_dump({"profiles": {"mine": profile}}))
    with pytest.raises(ValidationError) as info:
        profiles()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ValidationError) as info:
        get_profile("gpu-t5")
    text = str(info.value)
    assert "Unknown profile 'gpu-t5'" in text and "Did you mean: gpu-t4" in text and "tpu-v5e" in text


# -- clusters ---------------------------------------------------------------------------------------------
def test_clusters_are_kubeconfig_contexts(tmp_path, monkeypatch):
    cfg = tmp_path / "config"
    cfg.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "prod",
                "clusters": [
                    {"name": "p", "cluster": {"server": "https://10.0.0.1"}},
                    {"name": "d", "cluster": {"server": "https://10.0.0.2"}},
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "prod", "context": {"cluster": "p", "user": "u", "namespace": "ml"}},
                    {"name": "dr", "context": {"cluster": "d", "user": "u"}},
                ],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    cl = clusters()
    assert cl.names == ["prod", "dr"]
    assert [c.current for c in cl] == [True, False]
    assert cl.items[0].namespace == "ml" and cl.items[1].server == "https://10.0.0.2"
    assert "local" in cl._repr_html_()
    assert json.loads(cl.to_json())["clusters"][0]["name"] == "prod"
    from jupyter_modelops.deployment.clusters import get_cluster

    with pytest.raises(ValidationError) as info:
        get_cluster("prd")
    assert "Unknown cluster 'prd'" in str(info.value) and "Known clusters: prod, dr" in str(info.value)
