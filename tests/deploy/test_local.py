"""``deploy(ref, target="local")`` (or ``cluster="local"``): a real model server process on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request

import pytest

from jupyter_modelops.exceptions import ValidationError


@pytest.mark.slow
def test_target_local_runs_a_model_server_process():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as jm

    X = np.random.RandomState(0).randn(60, 4)
    y = (X[:, 0] > 0).astype(int)
    ref = jm.snapshot(LogisticRegression().fit(X, y), "tiny", data=X).ref
    dep = jm.deploy(ref, target="local", timeout=120)
    try:
        assert type(dep).__name__ == "LocalDeployment" and dep.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(dep.url + "/v2/health/ready", timeout=10) as r:
            assert r.status == 200
        with urllib.request.urlopen(dep.url + "/v2/models/tiny", timeout=10) as r:
            assert json.load(r)["name"] == "tiny"
    finally:
        dep.stop()
    with pytest.raises(ValidationError, match="cannot be mixed"):
        jm.deploy(ref, cluster=["local", "prod"])
    with pytest.raises(ValidationError, match="disagree"):
        jm.deploy(ref, cluster="prod", target="local")


@pytest.mark.slow
def test_status_and_undeploy_know_local_deployments():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as jm
    from jupyter_modelops.deployment import status, undeploy
    from jupyter_modelops.exceptions import ModelNotFoundError
    from jupyter_modelops.serving import local

    X = np.random.RandomState(1).randn(40, 3)
    ref = jm.snapshot(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), "mini", data=X).ref
    dep = jm.deploy(ref, cluster="local", timeout=120)
    pid, url = dep.pid, dep.url
    try:
        st = status("mini", cluster="local")
        assert (st.kind, st.rollout, st.ref, st.url) == ("LocalDeployment", "done", ref, dep.url)
        assert "ready at http://127.0.0.1:" in st.to_text()
        gone = undeploy("mini", cluster="local")
    finally:
        dep.stop()
    assert gone.state == "removed" and gone.cluster == "local" and f"process {pid}" in gone.reason
    assert [d.name for d in local.deployments()] == []
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/v2/health/live", timeout=5)
    for verb in (status, undeploy):
        with pytest.raises(ModelNotFoundError, match="no local deployment named 'mini'"):
            verb("mini", cluster="local")
