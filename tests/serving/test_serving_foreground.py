"""``modelops serve REF`` in the foreground: the version's model directory is written once, reused by
later starts, and removed once no running server holds it (it used to pile up, one copy per start)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from realparts import free_port


def _foreground(ref: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_modelops.cli", "serve", ref, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    end = time.monotonic() + 90
    while time.monotonic() < end:
        assert proc.poll() is None, "the foreground server stopped"
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status == 200:
                return proc, port
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    raise AssertionError("the foreground server was never ready")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_foreground_model_directory_is_reused_and_cleaned_up(data, hgb):
    import jupyter_modelops as mo
    from jupyter_modelops.config import subdir

    mo.snapshot(hgb, "fg")
    mo.snapshot(hgb, "fg", params={"again": 1})
    root = subdir("deployments", "foreground")
    first, port = _foreground("fg:1")
    try:
        dirs = [p for p in root.iterdir() if p.is_dir()]
        assert len(dirs) == 1 and dirs[0].name.startswith("fg-v1-")
        stamp = (dirs[0] / "modelops-model.json").stat().st_mtime_ns
        second, _ = _foreground("fg:1")  # a second start of the same version reuses the directory
        assert [p for p in root.iterdir() if p.is_dir()] == dirs
        assert (dirs[0] / "modelops-model.json").stat().st_mtime_ns == stamp
        _stop(second)
        third, _ = _foreground("fg:2")  # another version: fg:1 is still served, so it stays
        assert sorted(p.name[:5] for p in root.iterdir() if p.is_dir()) == ["fg-v1", "fg-v2"]
        _stop(third)
    finally:
        _stop(first)
    again, _ = _foreground("fg:2")  # nothing holds fg:1 any more, nor the stopped fg:2: one directory is left
    try:
        left = [p.name for p in root.iterdir() if p.is_dir()]
        assert len(left) == 1 and left[0].startswith("fg-v2-")
    finally:
        _stop(again)
