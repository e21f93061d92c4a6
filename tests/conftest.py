"""Shared fixtures. Every test gets its own MODELOPS_HOME.

Helpers for real parts live in ``realparts.py`` (``from realparts import
need_tool, free_port``); they are re-exported here for older imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realparts import free_port, need_tool, require_real  # noqa: E402,F401


@pytest.fixture(autouse=True)
def modelops_home(tmp_path, monkeypatch):
    home = tmp_path / "modelops-home"
    monkeypatch.setenv("MODELOPS_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def dask_client():
    """A real dask.distributed cluster for the session: 2 worker processes (not threads), one thread each,
    on 127.0.0.1, no dashboard. Started once; the Dask tests of every package share it."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
