"""An image built on scratch has no Python for its entrypoint: build() says so, deploy() refuses it."""

from __future__ import annotations

import warnings

import pytest

from jupyter_modelops.deployment import deploy
from jupyter_modelops.exceptions import ModelOpsWarning, ValidationError
from jupyter_modelops.images import build

from .test_artifacts import _version


def test_scratch_build_warns_that_the_image_cannot_start(session_model_dir):
    with pytest.warns(ModelOpsWarning, match="no Python for its entrypoint 'python3'"):
        img = build(session_model_dir, base="scratch", progress=False)
    assert img.runnable is False and img.to_dict()["runnable"] is False
    assert "warning: this image has no base (scratch)" in img.to_text()
    assert "cannot start on its own" in img.to_html()


def test_an_image_on_a_python_base_does_not_warn(session_model_dir, python_base):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelOpsWarning)
        img = build(session_model_dir, base=python_base, progress=False)
    assert img.runnable is True and "warning" not in img.to_text()


def test_deploy_refuses_the_pushed_scratch_image_but_a_dry_run_still_renders(registry, tmp_path):
    cfg = tmp_path / "kubeconfig"  # a cluster that is never contacted: the refusal comes first
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: nowhere, context: {cluster: c, user: u}}]\n"
    )
    mv, _, _ = _version()
    with pytest.warns(ModelOpsWarning):
        img = build(mv.ref, base="scratch", push=f"{registry.host}/models/churn:1", progress=False)
    with pytest.raises(ValidationError, match="was built on scratch") as info:
        deploy(mv.ref, cluster="nowhere", kubeconfig=str(cfg))
    assert img.pushed in str(info.value) and "base with Python 3.11" in str(info.value)
    dry = deploy(mv.ref, cluster="nowhere", kubeconfig=str(cfg), dry_run=True)
    assert img.pushed in dry.yaml
