"""deploy(..., auth_secret=..., auth_token_file=...): a Secret and a read-only volume holding the model
server's bearer token(s), valid manifests that keep the restricted Pod Security Standard, open probes,
and a rollback that keeps the auth (it renders from the annotations)."""

from __future__ import annotations

import base64
import secrets

import pytest

from jupyter_modelops.deployment import deploy, render, rollback
from jupyter_modelops.exceptions import ValidationError

from .conftest import IMAGE
from .test_manifests import K8S_VERSIONS, kv_validate, restricted_violations, spec

TOKEN = secrets.token_urlsafe(24)


def _pod(objs):
    dep = next(o for o in objs if o["kind"] == "Deployment")
    return dep["spec"]["template"]["spec"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_auth_manifests_are_valid_restricted_and_keep_open_probes(version):
    objs = render(spec(auth_secret="churn-auth", auth_token=TOKEN + "\n"))
    assert [o["kind"] for o in objs][:3] == ["ServiceAccount", "Secret", "Deployment"]  # the Secret before its pods
    secret = objs[1]
    assert secret["metadata"]["name"] == "churn-auth" and secret["type"] == "Opaque"
    assert secret["stringData"] == {"token": TOKEN + "\n"}
    for obj in objs + render(spec(auth_secret="churn-auth", canary=10, canary_replicas=1)):
        kv_validate(obj, version)
    pod = _pod(objs)
    assert restricted_violations(pod) == []
    vol = next(v for v in pod["volumes"] if v["name"] == "auth")
    assert vol["secret"] == {
        "secretName": "churn-auth",
        "defaultMode": 0o440,
        "items": [{"key": "token", "path": "token"}],
    }
    c = pod["containers"][0]
    assert {"name": "auth", "mountPath": "/var/run/modelops/auth", "readOnly": True} in c["volumeMounts"]
    assert {"name": "MODELOPS_SERVING_TOKEN_FILE", "value": "/var/run/modelops/auth/token"} in c["env"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):  # the server leaves /v2/health/* open
        assert c[probe]["httpGet"]["path"].startswith("/v2/health/")
    # without a token only the volume is rendered: the Secret must exist already
    kinds = [o["kind"] for o in render(spec(auth_secret="existing"))]
    assert "Secret" not in kinds
    assert "auth" not in [v["name"] for v in _pod(render(spec()))["volumes"]]  # no auth: as before


def test_kserve_mode_mounts_the_secret_too():
    objs = render(spec(mode="kserve", auth_secret="churn-auth", auth_token=TOKEN))
    assert [o["kind"] for o in objs] == ["ServiceAccount", "Secret", "InferenceService"]
    pred = objs[2]["spec"]["predictor"]
    assert any(v["name"] == "auth" for v in pred["volumes"])
    assert restricted_violations(pred) == []


def test_deploy_applies_the_secret_and_a_rollback_keeps_the_auth(fake_kube, refs, tmp_path):
    tf = tmp_path / "token"
    tf.write_text(TOKEN + "\n")
    dep = deploy(refs[0], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120, auth_token_file=str(tf))
    assert dep.state == "deployed", dep.reason
    secret = fake_kube.get("secrets", "churn-auth")
    assert base64.b64decode(secret["data"]["token"]).decode() == TOKEN + "\n"
    assert TOKEN not in repr(dep.spec)  # the token stays out of reprs and records
    dep2 = deploy(refs[1], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120, auth_secret="churn-auth")
    assert dep2.state == "deployed", dep2.reason
    back = rollback("churn", cluster="fake", kubeconfig=fake_kube.cfg, timeout=120)
    live = fake_kube.get("deployments", "churn")
    pod = live["spec"]["template"]["spec"]
    assert back.state in ("rolled-back", "deployed"), back.reason
    assert any(v.get("secret", {}).get("secretName") == "churn-auth" for v in pod["volumes"])


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"auth_secret": "Not_A_Name"}, "Secret name"),
        ({"auth_token_file": "/nonexistent/token"}, "cannot be read"),
    ],
)
def test_bad_auth_arguments_are_one_sentence(refs, kwargs, needle):
    with pytest.raises(ValidationError, match=needle):
        deploy(refs[0], cluster="fake", image=IMAGE, dry_run=True, **kwargs)


def test_undeploy_removes_the_secret_deploy_made_and_keeps_one_it_did_not(fake_kube, refs, tmp_path):
    from jupyter_modelops.deployment import undeploy

    tf = tmp_path / "token"
    tf.write_text(TOKEN + "\n")
    kw = dict(cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120)
    assert deploy(refs[0], auth_token_file=str(tf), **kw).state == "deployed"
    # a second deployment mounting the first one's Secret: it did not make it, so it must not delete it
    assert deploy(refs[0], name="other", auth_secret="churn-auth", **kw).state == "deployed"
    gone = undeploy("other", cluster="fake", kubeconfig=fake_kube.cfg)
    assert "kept Secret/churn-auth (not created by deploy)" in gone.reason
    assert fake_kube.get("secrets", "churn-auth") is not None
    gone = undeploy("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert "Secret/churn-auth" in gone.reason and "kept" not in gone.reason
    assert fake_kube.get("secrets", "churn-auth") is None
