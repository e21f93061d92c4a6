"""A dry run's HTML folds each manifest on its own: kinds at a glance, YAML a click away."""

from __future__ import annotations

import re

from jupyter_modelops import registry
from jupyter_modelops.deployment import deploy


def test_each_manifest_is_its_own_folded_block(tmp_path):
    cfg = tmp_path / "kubeconfig"  # never contacted: a dry run
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    ref = registry.snapshot({"w": 1}, "churn", trusted=True).ref
    dep = deploy(ref, cluster="c", kubeconfig=str(cfg), image="registry.example/churn@sha256:" + "a" * 64, dry_run=True)
    html = dep.to_html()
    blocks = re.findall(r"<details><summary>([^<]+)</summary><pre>(.*?)</pre></details>", html, flags=re.S)
    assert [b[0] for b in blocks] == [f"{o['kind']}/{o['metadata']['name']}" for o in dep.manifests]
    assert len(blocks) >= 5 and all(f"kind: {b[0].split('/')[0]}" in b[1] for b in blocks)
    assert "<details open" not in html
