"""monitor as a REST job of the panel, through a real jupyter_server: the result is the report's to_dict()."""

from __future__ import annotations

import asyncio
import json

import pytest

# pytest-jupyter's fixtures (jp_serverapp, jp_fetch, ...), local to this module
from pytest_jupyter.jupyter_core import *  # noqa: F401,F403
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403

from .test_monitor_faces import _infer


@pytest.fixture
def jp_server_config():  # noqa: F811 - overrides pytest-jupyter's
    return {"ServerApp": {"jpserver_extensions": {"jupyter_modelops": True}, "allow_unauthenticated_access": False}}


@pytest.fixture
def served(modelops_home):
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as mo

    data = load_breast_cancer(as_frame=True)
    X, y = data.data.iloc[:, :6], data.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=5000).fit(X[:300], y[:300])
    mo.snapshot(model, "cancer", data=X[:300], alias="production")
    dep = mo.serve("cancer@production", capture=True)
    try:
        rows = X.to_numpy()[300:400]
        for i in range(0, 100, 4):
            _infer(dep.infer_url, rows[i : i + 4])
    finally:
        mo.stop(dep)
    return list(X.columns)


async def _job(jp_fetch, params: dict) -> dict:
    r = await jp_fetch(
        "jupyter-modelops", "api", "jobs", method="POST", body=json.dumps({"action": "monitor", "params": params})
    )
    job = json.loads(r.body)
    assert r.code == 202
    loop = asyncio.get_running_loop()
    end = loop.time() + 120
    while job["status"] not in ("succeeded", "failed"):
        assert loop.time() < end, job
        await asyncio.sleep(0.2)
        job = json.loads((await jp_fetch("jupyter-modelops", "api", "jobs", job["id"])).body)
    return job


def test_monitor_job_returns_the_report_as_data(jp_fetch, jp_asyncio_loop, served):
    run = jp_asyncio_loop.run_until_complete  # the server's own loop (its pytest hooks are not loaded here)
    done = run(_job(jp_fetch, {"ref": "cancer@production", "since": "1h", "every": "30m", "alpha": 0.01}))
    assert done["status"] == "succeeded", done
    res = done["result"]
    assert res["model"] == "cancer@production" and res["alpha"] == 0.01 and res["features"] == served
    assert sum(w["rows"] for w in res["windows"]) == 100 and sum(w["requests"] for w in res["windows"]) == 25
    bad = run(_job(jp_fetch, {"ref": "cancer@production", "since": "1h", "every": "whenever"}))
    assert bad["status"] == "failed" and "every" in bad["error"]["message"]
