"""The supervisor of one local deployment: owns the listening socket, runs the server workers.

``python -m jupyter_modelops.serving.supervisor DEPLOYMENT_DIR`` reads
``DEPLOYMENT_DIR/state.json`` (written by :mod:`.local`), binds the port once
and starts ``workers`` server processes that all accept on that same socket.

Replacing the model without dropping requests: on SIGHUP the supervisor reads
the state again, starts new workers on the same socket with the new model
directory, waits until they are ready, and only then sends SIGTERM to the old
workers, which stop accepting and finish the requests they hold. Connections
waiting in the socket's queue are taken by whichever worker accepts next, so
none is refused. If the new model cannot be loaded the old workers keep
serving and the error is written to the state. SIGTERM stops everything after
draining.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

READY_TIMEOUT = 180.0


class Supervisor:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.state_path = directory / "state.json"
        self.sock: socket.socket | None = None
        self.workers: list[tuple[subprocess.Popen, Path]] = []
        self.generation = 0
        self.reload = False
        self.stop = False

    # -- state --------------------------------------------------------------------------------
    def read(self) -> dict:
        return json.loads(self.state_path.read_text())

    def write(self, **changes: object) -> None:
        state = self.read()
        state.update(changes)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    # -- processes ----------------------------------------------------------------------------
    def bind(self, host: str, port: int) -> int:
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(4096)
        s.set_inheritable(True)
        self.sock = s
        return s.getsockname()[1]

    def spawn(self, state: dict) -> list[tuple[subprocess.Popen, Path]]:
        assert self.sock is not None
        self.generation += 1
        fd = self.sock.fileno()
        started = []
        log = open(self.dir / "server.log", "ab", buffering=0)
        for i in range(int(state.get("workers", 1))):
            ready = self.dir / f"ready-{self.generation}-{i}"
            ready.unlink(missing_ok=True)
            cmd = [
                sys.executable,
                "-m",
                "jupyter_modelops.serving",
                "--model-dir",
                state["model_dir"],
                "--fd",
                str(fd),
                "--ready-file",
                str(ready),
                *state.get("server_args", []),
            ]
            p = subprocess.Popen(cmd, pass_fds=(fd,), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            started.append((p, ready))
        log.close()
        return started

    def wait_ready(self, procs: list[tuple[subprocess.Popen, Path]]) -> str | None:
        """None when every process wrote its ready file; else why not."""
        end = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < end and not self.stop:
            if all(r.exists() for _, r in procs):
                return None
            for p, _ in procs:
                if p.poll() is not None:
                    return f"the server exited with code {p.returncode} while loading the model (see server.log)"
            time.sleep(0.02)
        return "the server did not become ready in time" if not self.stop else "stopped"

    @staticmethod
    def terminate(procs: list[tuple[subprocess.Popen, Path]], timeout: float = 35.0) -> None:
        for p, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        for p, ready in procs:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            ready.unlink(missing_ok=True)

    # -- main loop ----------------------------------------------------------------------------
    def run(self) -> int:
        state = self.read()
        port = self.bind(state.get("host", "127.0.0.1"), int(state.get("port") or 0))
        self.write(port=port, supervisor_pid=os.getpid(), status="starting", error=None)
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "reload", True))
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stop", True))
        self.workers = self.spawn(state)
        err = self.wait_ready(self.workers)
        if err:
            self.terminate(self.workers, 5)
            self.write(status="failed", error=err, failed_request=state.get("request_id"))
            return 3
        self.write(
            status="running",
            active_model_dir=state["model_dir"],
            active_ref=state.get("ref"),
            active_version=state.get("version"),
            worker_pids=[p.pid for p, _ in self.workers],
            active_request=state.get("request_id"),
        )
        while not self.stop:
            time.sleep(0.05)
            if self.reload:
                self.reload = False
                self.replace()
            for i, (p, _ready) in enumerate(self.workers):
                if p.poll() is not None and not self.stop:  # a worker died: start another, backing off
                    restarts = int(self.read().get("restarts", 0))
                    time.sleep(min(10.0, 0.5 * 2 ** min(restarts, 5)))
                    st = self.read()
                    st["workers"] = 1
                    st["model_dir"] = st.get("active_model_dir", st["model_dir"])
                    (new,) = self.spawn(st)
                    self.workers[i] = new
                    self.write(
                        worker_pids=[w.pid for w, _ in self.workers], restarts=int(self.read().get("restarts", 0)) + 1
                    )
        self.write(status="stopping")
        self.terminate(self.workers)
        self.write(status="stopped", worker_pids=[])
        return 0

    def replace(self) -> None:
        state = self.read()
        self.write(status="replacing")
        new = self.spawn(state)
        err = self.wait_ready(new)
        if err:
            self.terminate(new, 5)
            self.write(
                status="running", error=f"could not replace the model: {err}", failed_request=state.get("request_id")
            )
            return
        old, self.workers = self.workers, new
        self.write(
            status="running",
            error=None,
            active_model_dir=state["model_dir"],
            active_ref=state.get("ref"),
            active_version=state.get("version"),
            worker_pids=[p.pid for p, _ in new],
            replaced_at=time.time(),
            active_request=state.get("request_id"),
        )
        self.terminate(old)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m jupyter_modelops.serving.supervisor DEPLOYMENT_DIR", file=sys.stderr)
        return 2
    return Supervisor(Path(argv[0])).run()


if __name__ == "__main__":
    raise SystemExit(main())
