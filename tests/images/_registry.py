"""A real OCI registry (Debian's ``docker-registry``, CNCF distribution) on 127.0.0.1 for tests.

Each instance gets a free port, its own storage folder and config file, and is
stopped by its PID. With ``users`` it requires htpasswd Basic auth. Its access
log (JSON lines) lets tests count the requests a client really made.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


class Registry:
    def __init__(
        self, exe: str, root: Path, port: int, *, users: dict[str, str] | None = None, htpasswd: str | None = None
    ) -> None:
        self.root = Path(root)
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.users = users or {}
        self.log_path = self.root / "registry.log"
        storage = self.root / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: json",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {storage}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{port}",
        ]
        if self.users:
            pw = self.root / "htpasswd"
            for i, (user, password) in enumerate(self.users.items()):
                flags = "-Bbc" if i == 0 else "-Bb"
                subprocess.run([htpasswd, flags, str(pw), user, password], check=True, capture_output=True)
            lines += ["auth:", "  htpasswd:", "    realm: test-registry", f"    path: {pw}"]
        self.config = self.root / "config.yml"
        self.config.write_text("\n".join(lines) + "\n")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([exe, "serve", str(self.config)], stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # 401 with auth on: it is up
            except OSError:
                time.sleep(0.03)
        raise RuntimeError("docker-registry did not start in 15 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    def requests(self) -> list[dict]:
        """Every request the registry completed: ``{"method", "uri", "status"}``, in order."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "response completed" or "http.response.status" in rec:
                out.append(
                    {
                        "method": rec.get("http.request.method"),
                        "uri": rec.get("http.request.uri"),
                        "status": rec.get("http.response.status"),
                    }
                )
        return out

    def _settled(self) -> list[dict]:
        """The request log once it has stopped growing (lines are written after each response)."""
        last, stable = -1, 0
        while stable < 4:
            time.sleep(0.05)
            n = len(self.requests())
            stable = stable + 1 if n == last else 0
            last = n
        return self.requests()

    def mark(self) -> int:
        return len(self._settled())

    def since(self, mark: int) -> list[dict]:
        """Requests completed after ``mark``."""
        return self._settled()[mark:]
