"""The deploy verbs in a real IPython shell (the singleton, so display() output is seen) and in the CLI."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from .conftest import IMAGE


@pytest.fixture(scope="module")
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


def test_magic_deploy_dry_run_shows_yaml(ip, refs, fake_kube):
    res = ip.run_line_magic(
        "modelops",
        f"deploy {refs[0]} --cluster fake --kubeconfig {fake_kube.cfg} "
        f"--profile gpu-t4 --replicas 2 --image {IMAGE} --dry-run -o dep",
    )
    assert ip.user_ns["dep"] is res and res.state == "dry-run"
    assert "kind: Deployment" in res.to_text() and "nvidia.com/gpu" in res.yaml
    fmt, _ = ip.display_formatter.format(res)
    assert "kind: HorizontalPodAutoscaler" in fmt["text/html"]
    assert fake_kube.get("deployments", "churn") is None  # nothing was sent


def test_magic_deploy_status_rollback_undeploy(ip, refs, fake_kube):
    k = f"--cluster fake --kubeconfig {fake_kube.cfg}"
    assert ip.run_line_magic("modelops", f"deploy {refs[0]} {k} --image {IMAGE} --timeout 120").state == "deployed"
    can = ip.run_line_magic(
        "modelops", f"deploy {refs[1]} {k} --image registry.example/churn:2 --canary 20 --timeout 120"
    )
    assert can.state == "canary"
    assert ip.run_line_magic("modelops", f"promote churn {k} --timeout 120").ref == refs[1]
    st = ip.run_line_magic("modelops", f"status churn {k}")
    assert st.ref == refs[1] and st.rollout == "done"
    assert ip.run_line_magic("modelops", f"rollback churn {k} --timeout 120").ref == refs[0]
    live = ip.run_line_magic("modelops", f"deployments {k}")
    assert [r["ref"] for r in live] == [refs[0]]
    assert ip.run_line_magic("modelops", f"undeploy churn {k}").state == "removed"


def test_magic_lists_profiles_and_clusters(ip, fake_kube):
    fmt, _ = ip.display_formatter.format(ip.run_line_magic("modelops", "profiles"))
    assert "gpu-a10g" in fmt["text/html"] and "tpu-v5e" in fmt["text/html"]
    cl = ip.run_line_magic("modelops", f"clusters --kubeconfig {fake_kube.cfg}")
    assert cl.names == ["fake"]


def test_magic_errors_are_one_line(ip, refs, fake_kube):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic(
            "modelops", f"deploy {refs[0]} --cluster fake --kubeconfig {fake_kube.cfg} --profile gpu-t5 --image {IMAGE}"
        )
    assert "Unknown profile 'gpu-t5'" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("modelops", f"status nothing --cluster fake --kubeconfig {fake_kube.cfg}")
    assert "There is no deployment 'nothing'" in str(info.value)


def test_deploy_form_in_a_real_shell(ip, refs, fake_kube, monkeypatch):
    from IPython.utils.capture import capture_output

    monkeypatch.setenv("KUBECONFIG", fake_kube.cfg)
    with capture_output():
        ip.run_cell("%modelops deploy --profile gpu-a10g --canary 5 -o form").raise_error()
    assert ip.user_ns["form"].widgets["profile"].value == "gpu-a10g"
    assert ip.user_ns["form"].widgets["canary"].value == 5
    with capture_output():
        ip.run_cell("%modelops deploy -o form").raise_error()
    form = ip.user_ns["form"]
    # what a kernel's display hook publishes for the cell's value: a widget view
    fmt, _ = ip.display_formatter.format(form)
    assert "application/vnd.jupyter.widget-view+json" in fmt
    w = form.widgets
    assert sorted(w["model"].options) == sorted(refs)
    assert "fake" in w["cluster"].options and "local" in w["cluster"].options
    assert "gpu-h100" in w["profile"].options
    w["model"].value = refs[0]
    w["cluster"].value = "fake"
    w["profile"].value = "cpu-large"
    w["image"].value = IMAGE
    w["replicas"].value = 3
    w["dry_run"].value = True
    w["button"].click()
    assert form.error is None and form.result.state == "dry-run"
    assert form.result.profile == "cpu-large" and form.result.replicas == 3
    w["dry_run"].value = False
    w["namespace"].value = "missing"
    w["button"].click()
    assert form.result is None and "The namespace 'missing' does not exist" in form.error


# -- CLI ---------------------------------------------------------------------------------------------------
def test_cli_deploy_status_and_errors(refs, fake_kube, capsys):
    from jupyter_modelops.cli import main

    k = ["--cluster", "fake", "--kubeconfig", fake_kube.cfg]
    assert main(["deploy", refs[0], *k, "--image", IMAGE, "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "dry-run" and [m["kind"] for m in out["manifests"]][:2] == ["ServiceAccount", "Deployment"]
    assert main(["deploy", refs[0], *k, "--image", IMAGE, "--timeout", "120"]) == 0
    assert "deployed" in capsys.readouterr().out
    assert main(["status", "churn", *k, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rollout"] == "done"
    fake_kube.script("broken", "crashloop")
    assert main(["deploy", refs[1], *k, "--image", "registry.example/broken:2", "--timeout", "120"]) == 4
    assert "crash-looping" in capsys.readouterr().out
    assert main(["deploy", refs[0], "--cluster", "nope", "--kubeconfig", fake_kube.cfg, "--image", IMAGE]) == 2
    err = capsys.readouterr().err
    assert "Unknown cluster 'nope'" in err and err.count("\n") == 1
    assert main(["profiles", "--json"]) == 0
    assert "gpu-t4" in [p["name"] for p in json.loads(capsys.readouterr().out)["profiles"]]


def test_deploy_auth_and_capture_flags_render_on_both_faces(ip, refs, fake_kube, tmp_path, capsys):
    from jupyter_modelops.cli import main

    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret-token-of-the-faces-test\n")
    tokens.chmod(0o600)
    k = ["--cluster", "fake", "--kubeconfig", fake_kube.cfg, "--image", IMAGE, "--dry-run"]
    assert (
        main(
            [
                "deploy",
                refs[0],
                *k,
                "--auth-token-file",
                str(tokens),
                "--capture",
                "true",
                "--capture-rate",
                "0.25",
                "--capture-size",
                "2Gi",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    kinds = [m["kind"] for m in out["manifests"]]
    assert "Secret" in kinds and "PersistentVolumeClaim" in kinds
    pvc = next(m for m in out["manifests"] if m["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"
    dep = next(m for m in out["manifests"] if m["kind"] == "Deployment")
    args = " ".join(dep["spec"]["template"]["spec"]["containers"][0].get("args", []))
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0].get("env", [])}
    assert "--token-file" in args or any("TOKEN_FILE" in n for n in env)
    assert "0.25" in args or "0.25" in env.values()
    res = ip.run_line_magic(
        "modelops",
        f"deploy {refs[0]} --cluster fake --kubeconfig {fake_kube.cfg} "
        f"--image {IMAGE} --auth-secret churn-tokens --dry-run",
    )
    assert "churn-tokens" in res.yaml and "kind: Secret" not in res.yaml  # an existing Secret is only mounted
    with pytest.raises(UsageError, match="capture_rate|capture rate"):
        ip.run_line_magic(
            "modelops",
            f"deploy {refs[0]} --cluster fake --kubeconfig {fake_kube.cfg} "
            f"--image {IMAGE} --capture true --capture-rate 0 --dry-run",
        )
    assert main(["deploy", refs[0], *k, "--capture", "ftp://host/x"]) == 2
    assert "ftp://" in capsys.readouterr().err
