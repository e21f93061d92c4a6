"""A real JupyterLab on 127.0.0.1 (token auth, seeded registry), driven by Playwright in Debian's Chromium.

Playwright's own browser download is never used: the system ``chromium``
is launched through ``executable_path``. Screenshots go to
``test-artifacts/ui/`` (git-ignored) at the repository root.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

from realparts import free_port, need_tool

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _seed(home: Path) -> None:
    """Two versions of 'churn' with evaluated metrics and one 'fraud', through the public API only,
    plus ``latest.csv`` next to the home for a monitoring report."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops as mo
    from jupyter_modelops import registry

    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(home)
    try:
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        X = X.iloc[:, :6]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m1 = LogisticRegression(max_iter=50).fit(X, y)
            m2 = LogisticRegression(max_iter=300, C=0.5).fit(X, y)
        registry.snapshot(m1, "churn", report=mo.evaluate(m1, X, y), data=X, notes="baseline")
        registry.snapshot(m2, "churn", report=mo.evaluate(m2, X, y), data=X, alias="staging")
        registry.snapshot(m1, "fraud", report=mo.evaluate(m1, X, y), data=X, alias="production")
        latest = X.copy()
        latest["target"] = y
        latest.to_csv(home.parent / "latest.csv", index=False)  # data for a monitoring report
    finally:
        if old is None:
            os.environ.pop("MODELOPS_HOME", None)
        else:
            os.environ["MODELOPS_HOME"] = old


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Start JupyterLab with our extensions on a free loopback port; yield (base_url, token, home)."""
    built = REPO / "jupyter_modelops" / "labextension" / "package.json"
    if not built.exists():
        pytest.fail("the labextension is not built; run `pip install -e .` (make env) first")
    tmp = tmp_path_factory.mktemp("lab")
    home = tmp / "modelops-home"
    _seed(home)
    # no "get notified about news?" toast over the screenshots
    labconfig = tmp / ".jupyter" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "MODELOPS_HOME": str(home),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_CONFIG_DIR": str(tmp / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(tmp / ".runtime"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp}",
        f"--LabApp.workspaces_dir={tmp / '.ws'}",
        f"--LabApp.user_settings_dir={tmp / '.settings'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # a fresh trust database: every notebook opens untrusted, as a cloned or shared one does
        "--NotebookNotary.db_file=:memory:",
    ]
    log = open(tmp / "lab.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                req = urllib.request.Request(
                    f"{base}/jupyter-modelops/api/info", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(req, timeout=2) as r:
                    json.loads(r.read())
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "JupyterLab did not start with the jupyter_modelops extension:\n"
                        + (tmp / "lab.log").read_text()[-3000:]
                    )
                time.sleep(0.3)
        yield base, token, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        # stop any model server a test left behind (only ours: started under this MODELOPS_HOME)
        _stop_local_servers(home)


def _stop_local_servers(home: Path) -> None:
    old = os.environ.get("MODELOPS_HOME")
    os.environ["MODELOPS_HOME"] = str(home)
    try:
        from jupyter_modelops.serving import local

        local.stop(all=True)
    except Exception:
        pass
    finally:
        if old is None:
            os.environ.pop("MODELOPS_HOME", None)
        else:
            os.environ["MODELOPS_HOME"] = old


@pytest.fixture(scope="module")
def browser():
    path = need_tool("chromium", "the browser tests drive Debian's Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(lab, browser):
    """JupyterLab open in Chromium with the ModelOps panel shown."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # a loaded 2-core CI machine: generous, never a timing assertion
    base, token, _ = lab
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = ctx.new_page()
    pg.goto(f"{base}/lab?reset&token={token}")
    tab = pg.locator('.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelops-panel"]')
    expect(tab).to_be_visible(timeout=90_000)
    tab.click()
    expect(pg.get_by_test_id("jmo-panel")).to_be_visible()
    # widen the sidebar (drag the split handle) so the screenshots show the panel as users size it
    handle = pg.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box:
        pg.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
        pg.mouse.down()
        pg.mouse.move(420, box["y"] + 200, steps=5)
        pg.mouse.up()
    yield pg
    ctx.close()


@pytest.fixture
def shot(page, request):
    """``shot("name")`` saves a screenshot to test-artifacts/ui/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, panel_only: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        if panel_only:
            page.locator("#jupyter-modelops-panel").screenshot(path=str(path))
        else:
            page.screenshot(path=str(path))
        return path

    return take


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/ui/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
