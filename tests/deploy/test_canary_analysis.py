"""Automated canary analysis: two real model servers on 127.0.0.1 stand behind the stable and the canary pods of a
deployment on the fake API server (read through its pod proxy, or at URLs given); a real V2 client (tritonclient)
sends them traffic during the window."""

from __future__ import annotations

import math
import threading
from urllib.parse import urlsplit

import numpy as np
import pytest

from jupyter_modelops.deployment import deploy, deployments, status
from jupyter_modelops.deployment.analysis import Window, analyze, newcombe, parse_metrics, quantile, wilson
from jupyter_modelops.exceptions import ValidationError

from .conftest import IMAGE


@pytest.fixture
def versions():
    """churn:1 (stable) and churn:2 (same features) on 4 features; churn:3 expects 5 features."""
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as jm

    rng = np.random.RandomState(0)
    out = []
    for seed, n_features in ((0, 4), (1, 4), (2, 5)):
        X = rng.randn(80, n_features)
        out.append(
            jm.snapshot(LogisticRegression(random_state=seed).fit(X, (X[:, 0] > 0).astype(int)), "churn", data=X).ref
        )
    return out


class Traffic:
    """Requests with 4 features from a real V2 client to both servers until stopped."""

    def __init__(self, urls, token=None):
        self.urls = urls
        self.headers = {"Authorization": f"Bearer {token}"} if token else None
        self.stop = threading.Event()
        self.sent = [0, 0]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import tritonclient.http as triton
        from tritonclient.utils import InferenceServerException

        # the client lives in the thread that uses it (its connection pool belongs to one thread)
        clients = [triton.InferenceServerClient(urlsplit(u).netloc) for u in self.urls]
        name = clients[0].get_model_metadata("churn", headers=self.headers)["inputs"][0]["name"]
        X = np.random.RandomState(3).randn(1, 4)
        while not self.stop.is_set():
            for i, client in enumerate(clients):
                inp = triton.InferInput(name, list(X.shape), "FP64")
                inp.set_data_from_numpy(X)
                try:
                    client.infer("churn", [inp], headers=self.headers)
                except InferenceServerException:
                    pass  # the canary that expects 5 features refuses: that is the error rate measured
                self.sent[i] += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


def _servers(stable_ref, canary_ref):
    import jupyter_modelops as jm

    return jm.serve(stable_ref, name="stable-pod", timeout=120), jm.serve(canary_ref, name="canary-pod", timeout=120)


def _canary(fake_kube, ref, stable, canary, *, via_proxy, **criteria):
    analysis = {"duration": 5, "interval": 1, **criteria}
    if via_proxy:  # the pods' /metrics through the API server, as deploy() reads them in a cluster
        fake_kube.proxy_to({"modelops.jupyter.org/track": "stable"}, stable.url)
        fake_kube.proxy_to({"modelops.jupyter.org/track": "canary"}, canary.url)
    else:
        analysis.update(stable_metrics=stable.url + "/metrics", canary_metrics=canary.url + "/metrics")
    return deploy(
        ref,
        cluster="fake",
        kubeconfig=fake_kube.cfg,
        image="registry.example/churn:new",
        canary=10,
        timeout=120,
        analysis=analysis,
    )


@pytest.mark.slow
def test_a_healthy_canary_is_promoted_with_its_evidence(fake_kube, versions):
    deploy(versions[0], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120)
    stable, canary = _servers(versions[0], versions[1])
    try:
        with Traffic([stable.url, canary.url]) as traffic:
            done = _canary(
                fake_kube, versions[1], stable, canary, via_proxy=True, max_error_rate=0.05, max_latency_p99_ms=2500
            )
    finally:
        stable.stop(), canary.stop()
    assert done.state == "deployed" and done.ref == versions[1], done.reason
    assert done.reason.startswith("canary analysis decided to promote")
    a = done.analysis
    assert a["decision"] == "promote" and not a["early"]
    err = next(c for c in a["checks"] if c["name"] == "error_rate")
    assert err["verdict"] == "pass" and err["canary"]["errors"] == 0 and err["stable"]["errors"] == 0
    assert 0 < err["canary"]["requests"] <= traffic.sent[1]
    assert any(
        "/pods/churn-canary-" in path and path.endswith(":8080/proxy/metrics") for _, path in fake_kube.requests
    )  # read through the API server's pod proxy
    lo, hi = err["interval"]
    assert lo < 0 < hi <= 0.05  # no errors on either side: an interval around 0 narrower than the tolerance
    lat = next(c for c in a["checks"] if c["name"] == "latency_p99")
    assert lat["verdict"] == "pass" and lat["interval"][0] <= lat["value"] <= lat["interval"][1]
    # the stable deployment now runs the canary's version, the canary is gone, the decision is on record
    assert fake_kube.get("deployments", "churn-canary") is None
    assert fake_kube.get("deployments", "churn")["metadata"]["annotations"]["modelops.jupyter.org/ref"] == versions[1]
    assert [(r["track"], r["running"]) for r in deployments()] == [("stable", versions[1])]
    st = status("churn", cluster="fake", kubeconfig=fake_kube.cfg)
    assert st.analysis["decision"] == "promote" and st.analysis["ref"] == versions[1]
    assert "last canary analysis" in st.to_text()
    import jupyter_modelops as jm

    recs = [r["data"] for r in jm.records(versions[1], kind="deployment") if r["data"].get("analysis")]
    assert recs and recs[-1]["analysis"]["checks"][0]["interval"] == [lo, hi]


@pytest.mark.slow
def test_a_canary_with_more_errors_is_rolled_back_early(fake_kube, versions):
    deploy(versions[0], cluster="fake", kubeconfig=fake_kube.cfg, image=IMAGE, timeout=120)
    stable, canary = _servers(versions[0], versions[2])
    try:
        with Traffic([stable.url, canary.url]):
            back = _canary(fake_kube, versions[2], stable, canary, via_proxy=False, max_error_rate=0.05)
    finally:
        stable.stop(), canary.stop()
    assert back.state == "rolled-back" and back.ref == versions[2], back.reason
    a = back.analysis
    assert a["decision"] == "rollback" and a["early"]
    err = a["checks"][0]
    assert err["verdict"] == "fail" and err["interval"][0] > 0.05
    assert err["canary"]["errors"] == err["canary"]["requests"] > 0 and err["stable"]["errors"] == 0
    assert fake_kube.get("deployments", "churn-canary") is None
    assert fake_kube.get("deployments", "churn")["metadata"]["annotations"]["modelops.jupyter.org/ref"] == versions[0]
    assert [(r["track"], r["running"]) for r in deployments()] == [("stable", versions[0])]
    assert status("churn", cluster="fake", kubeconfig=fake_kube.cfg).analysis["decision"] == "rollback"


def test_analysis_settings_are_checked_before_anything_is_deployed(refs):
    m = {"stable_metrics": "http://127.0.0.1:1/metrics", "canary_metrics": "http://127.0.0.1:2/metrics"}
    cases = [
        ({"duration": "30m"}, "names no criterion"),
        ({"max_error_rate": 2, **m}, "max_error_rate is 2; expected a number between 0 and 1"),
        ({"max_error_rate": 0.01, "duration": "soon", **m}, "expected a duration"),
        ({"max_error_rate": 0.01, "colour": 1, **m}, "unknown key"),
        (
            {"max_error_rate": 0.01, "stable_metrics": "file:///etc/passwd", "canary_metrics": m["canary_metrics"]},
            "expected the http",
        ),
        ({"max_error_rate": 0.01, "stable_metrics": m["stable_metrics"]}, "only one of stable_metrics"),
    ]
    for analysis, message in cases:
        with pytest.raises(ValidationError, match=message):
            deploy(refs[1], cluster="fake", canary=10, analysis=analysis, image=IMAGE)
    with pytest.raises(ValidationError, match="pass canary=PERCENT"):
        deploy(refs[1], cluster="fake", analysis={"max_error_rate": 0.01, **m}, image=IMAGE)
    with pytest.raises(ValidationError, match="exactly one Kubernetes cluster"):
        deploy(refs[1], cluster="a,b", canary=10, analysis={"max_error_rate": 0.01, **m}, image=IMAGE)


def test_the_statistics_of_the_analysis():
    # Wilson's score interval of 56/70, worked by hand; Newcombe's method 10 against the intervals published in
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II: 56/70-48/80, 9/10-3/10, 5/56-0/29
    lo, hi = wilson(56, 70)
    assert (round(lo, 4), round(hi, 4)) == (0.6918, 0.8770)
    for (k1, n1, k2, n2), published in (
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ):
        _, lo, hi = newcombe(k1, n1, k2, n2)
        assert (round(lo, 4), round(hi, 4)) == published
    # p99 from cumulative buckets: 100 requests, 98 under 10 ms, 2 between 10 and 25 ms
    est, blo, bhi = quantile(0.99, [(0.005, 50), (0.01, 98), (0.025, 100), (math.inf, 100)])
    assert (blo, bhi) == (0.01, 0.025) and est == pytest.approx(0.0175)
    # counters are differenced between scrapes; refusals before the model (401/403/429) do not count
    text = (
        'modelops_requests_total{model="m",endpoint="infer",code="200"} %d\n'
        'modelops_requests_total{model="m",endpoint="infer",code="400"} %d\n'
        'modelops_requests_total{model="m",endpoint="infer",code="429"} %d\n'
    )
    w = Window.between(parse_metrics(text % (10, 1, 5)), parse_metrics(text % (110, 11, 50)))
    assert (w.requests, w.errors) == (110, 10)
    checks = analyze(Window(requests=200), w, {"max_error_rate": 0.01, "max_prediction_drift": 0.2})
    assert [c["verdict"] for c in checks] == ["fail", "inconclusive"]


def test_the_deploy_command_passes_the_analysis_settings(refs):
    import os
    import subprocess
    import sys

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_modelops.cli",
            "deploy",
            refs[1],
            "--cluster",
            "fake",
            "--canary",
            "10",
            "-a",
            "duration",
            "10m",
            "-a",
            "max_error_rate",
            "3",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert res.returncode == 2 and "analysis max_error_rate is 3; expected a number between 0 and 1" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_token_protected_pods_are_read_through_the_proxy_with_the_deployments_secret(fake_kube, versions, tmp_path):
    """The API server's pod proxy strips Authorization (the fake does too): the analysis reads the token from the
    deployment's Secret and sends it in X-Modelops-Authorization, which the model server accepts."""
    import secrets

    import jupyter_modelops as jm

    token = secrets.token_urlsafe(24)
    tf = tmp_path / "token"
    tf.write_text(token + "\n")
    kw = dict(cluster="fake", kubeconfig=fake_kube.cfg, timeout=120)
    assert deploy(versions[0], image=IMAGE, auth_token_file=str(tf), **kw).state == "deployed"
    stable = jm.serve(versions[0], name="stable-pod", timeout=120, token_file=str(tf))
    canary = jm.serve(versions[1], name="canary-pod", timeout=120, token_file=str(tf))
    try:
        fake_kube.proxy_to({"modelops.jupyter.org/track": "stable"}, stable.url)
        fake_kube.proxy_to({"modelops.jupyter.org/track": "canary"}, canary.url)
        with Traffic([stable.url, canary.url], token=token):
            done = deploy(
                versions[1],
                image="registry.example/churn:new",
                canary=10,
                auth_secret="churn-auth",
                analysis={"duration": 5, "interval": 1, "max_error_rate": 0.05},
                **kw,
            )
    finally:
        stable.stop(), canary.stop()
    assert done.state == "deployed" and done.ref == versions[1], done.reason
    err = next(c for c in done.analysis["checks"] if c["name"] == "error_rate")
    assert err["canary"]["requests"] > 0 and err["canary"]["errors"] == 0
