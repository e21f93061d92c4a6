"""Reliability with real processes: concurrent writers and writers killed with SIGKILL."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ModelNotFoundError
from jupyter_modelops.registry import store as store_mod


def _writer(home: str, name: str, count: int, barrier, out) -> None:
    os.environ["MODELOPS_HOME"] = home
    import jupyter_modelops as mo

    barrier.wait(timeout=60)
    got = []
    for i in range(count):
        mv = mo.snapshot({"writer": os.getpid(), "i": i}, name, trusted=True)
        got.append(mv.version)
    out.put((os.getpid(), got))


def test_concurrent_snapshots_get_unique_gap_free_versions(modelops_home):
    procs, per = 4, 5
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_writer, args=(str(modelops_home), "shared", per, barrier, out)) for _ in range(procs)
    ]
    for w in workers:
        w.start()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    numbers = [v for _, got in results for v in got]
    assert sorted(numbers) == list(range(1, procs * per + 1))  # unique and gap-free
    for _, got in results:
        assert got == sorted(got)  # each writer sees its own versions increase
    assert mo.versions("shared").numbers() == list(range(procs * per, 0, -1))
    # every version holds what its writer stored
    owners = {pid: set(got) for pid, got in results}
    for pid, versions in owners.items():
        for v in versions:
            assert mo.load(f"shared:{v}")["writer"] == pid


CHILD = textwrap.dedent("""
    import os, sys
    import numpy as np
    import jupyter_modelops as mo
    w = np.random.default_rng(os.getpid()).random(4_000_000)
    print("ready", flush=True)
    i = 0
    while True:
        # new bytes each time (new blobs), made cheaply: most of the loop is spent writing
        w[:8] = np.random.default_rng(i).random(8)
        mv = mo.snapshot({"w": w, "i": i}, "victim", trusted=True, tags={"i": str(i)})
        mo.attach_artifact(mv, "extra", os.urandom(200_000))
        print("saved", mv.version, flush=True)
        i += 1
""")


def _check_consistent(home) -> None:
    s = store_mod.default_store()
    assert s.query("PRAGMA integrity_check")[0][0] == "ok"
    nums = [v for (v,) in s.query("SELECT version FROM versions WHERE name = 'victim' ORDER BY version")]
    assert nums == list(range(1, len(nums) + 1))  # nothing half-numbered
    for v in nums:
        mv = mo.get(f"victim:{v}")
        assert "model" in mv.artifacts
        assert mo.load(mv)["i"] == int(mv.tags["i"])  # bytes present and verified


def test_sigkill_during_snapshot_leaves_no_partial_version(modelops_home):
    rng = random.Random(1234)
    env = {**os.environ, "MODELOPS_HOME": str(modelops_home)}
    kills, mid_write = 0, 0
    # bounded: at most 12 kills, stop once 3 of them interrupted a write in progress
    while kills < 12 and mid_write < 3:
        before = len(list(store_mod.default_store().tmp.iterdir()))
        child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            if kills % 2:  # every other round: let one version land first
                assert child.stdout.readline().startswith("saved")
            time.sleep(rng.uniform(0.0, 0.6))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
        kills += 1
        _check_consistent(modelops_home)
        mid_write += len(list(store_mod.default_store().tmp.iterdir())) > before
    assert mid_write >= 3  # kills landed inside writes, not only between them
    s = store_mod.default_store()
    report = mo.gc()
    assert report.removed_staging >= 0
    assert list(s.tmp.iterdir()) == []  # nothing left of the dead writers
    referenced = {sha for (sha,) in s.query("SELECT sha256 FROM artifacts")}
    on_disk = {p.name for p in s.blobs.rglob("*") if p.is_file()}
    assert on_disk == referenced  # no orphan bytes, nothing referenced is missing
    _check_consistent(modelops_home)
    n = s.query("SELECT COUNT(*) FROM versions")[0][0]
    assert n >= kills // 2  # every other round saved at least one version before its kill
    # the registry still takes writes and numbers continue without a gap
    assert mo.snapshot({"after": True}, "victim", trusted=True).version == n + 1


def test_gc_removes_what_a_writer_killed_mid_commit_left(modelops_home):
    """Kill a writer right after it moved its blob into place but before its commit."""
    env = {**os.environ, "MODELOPS_HOME": str(modelops_home)}
    code = textwrap.dedent("""
        import os, signal
        import jupyter_modelops as mo
        from jupyter_modelops.registry import store
        real_place = store.Store.place
        def place_then_die(self, staged):
            real_place(self, staged)
            os.kill(os.getpid(), signal.SIGKILL)
        store.Store.place = place_then_die
        mo.snapshot({"x": 1}, "halfway", trusted=True)
    """)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert out.returncode == -signal.SIGKILL
    s = store_mod.default_store()
    assert s.query("SELECT COUNT(*) FROM versions")[0][0] == 0
    assert s.query("SELECT COUNT(*) FROM models")[0][0] == 0  # the transaction rolled back whole
    assert len([p for p in s.blobs.rglob("*") if p.is_file()]) == 1  # the orphan blob
    with pytest.raises(ModelNotFoundError):
        mo.get("halfway")
    report = mo.gc()
    assert report.removed_blobs == 1 and report.removed_staging == 1
    assert [p for p in s.blobs.rglob("*") if p.is_file()] == [] and list(s.tmp.iterdir()) == []
    assert mo.snapshot({"x": 1}, "halfway", trusted=True).version == 1
