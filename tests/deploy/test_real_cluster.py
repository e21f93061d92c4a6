"""The deploy scenarios against a real Kubernetes cluster (kind, k3d, ...), when one is configured.

Set ``MODELOPS_TEST_KUBECONFIG`` to a kubeconfig whose current context is a disposable cluster, and
``MODELOPS_TEST_IMAGE`` to a model server image the cluster can pull (one built with
``jupyter_modelops.images.build(..., push=...)``); docs/guide/deploy.md shows how with kind.
The suite creates and deletes its own namespace. It proves what the fake API server cannot: admission
(Pod Security "restricted" is enforced on the namespace), scheduling, real probes on the V2 health
endpoints, image pulls and real rollbacks.
"""

from __future__ import annotations

import os
import uuid

import pytest

from jupyter_modelops.deployment import deploy, get_cluster, rollback, status, undeploy

pytestmark = pytest.mark.real_cluster

KUBECONFIG = os.environ.get("MODELOPS_TEST_KUBECONFIG")
IMAGE = os.environ.get("MODELOPS_TEST_IMAGE")
if not KUBECONFIG or not IMAGE:
    pytest.skip(
        "no real cluster configured (set MODELOPS_TEST_KUBECONFIG and MODELOPS_TEST_IMAGE)", allow_module_level=True
    )


@pytest.fixture
def cluster():
    from kubernetes import client, config

    name = get_cluster(None, kubeconfig=KUBECONFIG).name
    api = config.new_client_from_config(config_file=KUBECONFIG, context=name)
    core = client.CoreV1Api(api)
    ns = f"modelops-test-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    try:
        yield name, ns
    finally:
        core.delete_namespace(ns)
        api.close()


@pytest.fixture
def refs():
    from jupyter_modelops import registry

    return [registry.snapshot({"w": i}, "churn", trusted=True).ref for i in (1, 2)]


def test_deploy_under_restricted_pod_security_then_undeploy(cluster, refs):
    name, ns = cluster
    dep = deploy(refs[0], cluster=name, namespace=ns, kubeconfig=KUBECONFIG, image=IMAGE, timeout=300)
    assert dep.state == "deployed", dep.reason
    st = status("churn", cluster=name, namespace=ns, kubeconfig=KUBECONFIG)
    assert st.available == st.desired
    assert undeploy("churn", cluster=name, namespace=ns, kubeconfig=KUBECONFIG).state == "removed"


def test_a_missing_image_is_rolled_back(cluster, refs):
    name, ns = cluster
    deploy(refs[0], cluster=name, namespace=ns, kubeconfig=KUBECONFIG, image=IMAGE, timeout=300)
    bad = deploy(
        refs[1],
        cluster=name,
        namespace=ns,
        kubeconfig=KUBECONFIG,
        image="registry.invalid/modelops/none:1",
        timeout=300,
    )
    assert bad.state == "rolled-back" and "cannot pull its image" in bad.reason, bad.reason
    assert status("churn", cluster=name, namespace=ns, kubeconfig=KUBECONFIG).ref == refs[0]


def test_canary_promote_and_rollback(cluster, refs):
    name, ns = cluster
    deploy(refs[0], cluster=name, namespace=ns, kubeconfig=KUBECONFIG, image=IMAGE, timeout=300)
    can = deploy(refs[1], cluster=name, namespace=ns, kubeconfig=KUBECONFIG, image=IMAGE, canary=25, timeout=300)
    assert can.state == "canary", can.reason
    assert can.promote(timeout=300).state == "deployed"
    back = rollback("churn", cluster=name, namespace=ns, kubeconfig=KUBECONFIG, timeout=300)
    assert back.state == "rolled-back" and back.ref == refs[0]


def test_missing_namespace_is_one_sentence(refs):
    from jupyter_modelops.exceptions import ValidationError

    name = get_cluster(None, kubeconfig=KUBECONFIG).name
    with pytest.raises(ValidationError, match="does not exist on cluster"):
        deploy(refs[0], cluster=name, namespace="modelops-no-such-ns", kubeconfig=KUBECONFIG, image=IMAGE)
