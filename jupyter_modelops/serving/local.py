"""Local deployments: a model server process on 127.0.0.1, managed under ``MODELOPS_HOME``.

Each deployment is a folder ``MODELOPS_HOME/deployments/local/<name>/`` with
``state.json`` (ref, port, pids, status), ``server.log``, ``supervisor.pid``
and the materialized model directories. A small supervisor process owns the
port, so serving a new version under the same name replaces the old one on
the same URL without refusing or dropping a request (see :mod:`.supervisor`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .._html import Result, page, table
from ..config import subdir
from ..exceptions import DeployError, ModelNotFoundError, ValidationError, suggest
from .modeldir import SPEC_FILE, read_model_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _root() -> Path:
    return subdir("deployments", "local")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError, ValueError):
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{int(pid)}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _get(url: str, timeout: float = 1.0) -> int:
    import urllib.error
    import urllib.request

    ctx = None
    if url.startswith("https:"):  # a probe of our own local server: its certificate may be self-signed
        import ssl

        ctx = ssl._create_unverified_context()  # noqa: S323
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception:  # noqa: BLE001 - not reachable
        return 0


class LocalDeployment(Result):
    """A model server running on this machine.

    Attributes
    ----------
    name : str
        The deployment's name (by default the model's name).
    url : str
        Base URL, e.g. ``http://127.0.0.1:8080``; V2 endpoints live under ``/v2``.
    pid : int
        The supervisor's process id (it owns the port and the server workers).
    logs : pathlib.Path
        The server's log file.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.name = self.directory.name

    # -- state --------------------------------------------------------------------------------
    def _state(self) -> dict:
        try:
            return json.loads((self.directory / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    @property
    def state(self) -> dict:
        return self._state()

    @property
    def port(self) -> int | None:
        return self._state().get("port")

    @property
    def host(self) -> str:
        return self._state().get("host", "127.0.0.1")

    @property
    def url(self) -> str:
        host = self.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"{'https' if self._state().get('tls') else 'http'}://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._state().get("supervisor_pid")

    @property
    def logs(self) -> Path:
        return self.directory / "server.log"

    @property
    def ref(self) -> str | None:
        s = self._state()
        return s.get("active_ref") or s.get("ref")

    @property
    def model(self) -> str:
        return self._state().get("model_name", self.name)

    @property
    def infer_url(self) -> str:
        return f"{self.url}/v2/models/{self.model}/infer"

    def status(self) -> dict:
        """Process and readiness: ``{"running", "ready", "status", "url", "ref", "version", "error"}``."""
        s = self._state()
        running = _alive(s.get("supervisor_pid"))
        ready = running and s.get("port") and _get(f"{self.url}/v2/health/ready") == 200
        return {
            "name": self.name,
            "running": running,
            "ready": bool(ready),
            "status": s.get("status", "unknown") if running else "stopped",
            "url": self.url,
            "ref": s.get("active_ref") or s.get("ref"),
            "version": s.get("active_version", s.get("version")),
            "pid": s.get("supervisor_pid"),
            "worker_pids": s.get("worker_pids", []) if running else [],
            "error": s.get("error"),
            "logs": str(self.logs),
        }

    def stop(self, *, timeout: float = 40.0) -> dict:
        """Stop the server after it finishes the requests it holds; returns the final status."""
        pid = self.pid
        if _alive(pid):
            os.kill(int(pid), signal.SIGTERM)
            end = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(int(pid), signal.SIGKILL)
                for w in self._state().get("worker_pids", []):
                    if _alive(w):
                        os.kill(int(w), signal.SIGKILL)
        (self.directory / "supervisor.pid").unlink(missing_ok=True)
        return self.status()

    def predict(self, X: Any, **kwargs: Any) -> Any:
        """Send ``X`` to this deployment (see :func:`jupyter_modelops.predict`)."""
        from .client import predict

        return predict(self, X, **kwargs)

    def tail(self, lines: int = 20) -> str:
        """The last lines of the server log."""
        try:
            return "\n".join(self.logs.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- Result -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {**self.status(), "target": "local", "directory": str(self.directory)}

    def _summary(self) -> str:
        st = self.status()
        state = "ready" if st["ready"] else st["status"]
        return f"LocalDeployment {self.name} ({st['ref']}) at {self.url} [{state}]"

    def to_text(self) -> str:
        st = self.status()
        lines = [self._summary(), f"  infer: POST {self.infer_url}", f"  pid {st['pid']}, logs {st['logs']}"]
        if st["error"]:
            lines.append(f"  error: {st['error']}")
        return "\n".join(lines)

    def to_html(self) -> str:
        st = self.status()
        rows = [
            ("url", self.url),
            ("infer", "POST " + self.infer_url),
            ("ref", st["ref"]),
            ("status", st["status"]),
            ("ready", st["ready"]),
            ("pid", st["pid"]),
            ("workers", ", ".join(map(str, st["worker_pids"]))),
            ("logs", st["logs"]),
        ]
        if st["error"]:
            rows.append(("error", st["error"]))
        return page(f"Local deployment {self.name}", table(rows))


def _ready_or_raise(dep: LocalDeployment, proc: subprocess.Popen | None, request_id: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = dep._state()
        if proc is not None and proc.poll() is not None:
            raise DeployError(
                f"The local server for '{dep.name}' stopped while starting: "
                f"{s.get('error') or 'see ' + str(dep.logs)}.",
                hint=_last_error(dep),
            )
        if s.get("active_request") == request_id and s.get("status") == "running":
            return
        if s.get("failed_request") == request_id:
            if proc is None:
                raise DeployError(
                    f"The local deployment '{dep.name}' kept its old version: {s.get('error')}.", hint=_last_error(dep)
                )
            raise DeployError(
                f"The local server for '{dep.name}' could not start: {s.get('error')}.", hint=_last_error(dep)
            )
        time.sleep(0.05)
    raise DeployError(
        f"The local server for '{dep.name}' was not ready after {timeout:g} s.", hint=f"See its log: {dep.logs}"
    )


def _last_error(dep: LocalDeployment) -> str | None:
    for line in reversed(dep.tail(30).splitlines()):
        if "error" in line.lower():
            return "Server log: " + line.strip()
    return None


def _model_dir_for(ref: Any, target: Path) -> tuple[Path, str | None, str, str]:
    """Materialize ``ref`` (registry ref, ModelVersion or model directory) under ``target``."""
    if isinstance(ref, (str, os.PathLike)) and Path(ref).is_dir() and (Path(ref) / SPEC_FILE).is_file():
        spec = read_model_dir(ref)
        return Path(ref).resolve(), None, spec.name, spec.version
    if not isinstance(ref, str) and not hasattr(ref, "ref"):
        raise ValidationError(
            f"ref must be a model reference such as 'churn:3', a ModelVersion or a model "
            f"directory; got {type(ref).__name__}."
        )
    from .. import registry

    mv = registry.get(ref)
    out = target / f"v{mv.version}-{int(time.time() * 1000)}"
    registry.materialize(mv, out)
    return out.resolve(), mv.ref, mv.name, str(mv.version)


def serve(
    ref: Any,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    name: str | None = None,
    timeout: float = 120.0,
    wait: bool = True,
    runtime: str | None = None,
    token_file: str | os.PathLike | None = None,
    tls_cert: str | os.PathLike | None = None,
    tls_key: str | os.PathLike | None = None,
    limits: dict | None = None,
    max_batch_size: int | None = None,
    max_delay_ms: float | None = None,
    rate_limit: float | None = None,
    threads: int | None = None,
    access_log: bool = False,
    capture: bool | str | None = None,
    capture_rate: float = 1.0,
) -> LocalDeployment:
    """Serve a model on this machine over the Open Inference Protocol (V2 REST).

    Serving a model whose deployment already runs replaces its version on the
    same URL without dropping requests: the new server starts and becomes
    ready before the old one stops taking requests.

    Parameters
    ----------
    ref : str, ModelVersion or path
        A registry reference (``"churn"``, ``"churn:3"``, ``"churn@prod"``) or a model directory.
    host : str, default="127.0.0.1"
        Address to listen on.
    port : int, optional
        Default: the port the deployment already has, else a free port.
    workers : int, default=1
        Server processes sharing the port.
    name : str, optional
        Deployment name; default the model's name.
    timeout : float, default=120
        Seconds to wait until the server is ready.
    wait : bool, default=True
        Wait until the server is ready (else return once it is starting).
    runtime : {"onnx", "torchscript", "native"}, optional
        Force a runtime (default: onnx > torchscript > native).
    token_file : str or path, optional
        Require ``Authorization: Bearer TOKEN`` with a token from this file (one
        per line, read again when it changes); ``/v2/health/*`` stays open.
        :func:`predict` on this deployment sends the file's first token by itself.
    tls_cert, tls_key : str or path, optional
        Serve HTTPS with this PEM certificate and key (loaded again when they change).
    limits : dict, optional
        Connection limits and other security settings of the server by name:
        ``header_timeout_s``, ``body_timeout_s``, ``keepalive_timeout_s``,
        ``max_header_bytes``, ``max_headers``, ``max_connections``,
        ``tls_reload_s``, ``open_metrics`` (see the README's Security section).
    max_batch_size, max_delay_ms, rate_limit, threads, access_log
        Server settings (see ``python -m jupyter_modelops.serving --help``).
    capture : bool or str, optional
        Record sampled inferences as Parquet: ``True`` in ``MODELOPS_HOME/captures``,
        or a path or URL (``s3://bucket/captures``). Read them with
        :func:`jupyter_modelops.captures`.
    capture_rate : float, default=1.0
        Share of requests captured, in (0, 1].

    Returns
    -------
    LocalDeployment

    Examples
    --------
    >>> dep = serve("churn:3")                      # doctest: +SKIP
    >>> predict(dep, X_test[:5])["predict"]         # doctest: +SKIP
    >>> dep.stop()                                  # doctest: +SKIP
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValidationError(f"workers must be a positive integer; got {workers!r}.")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < 65536):
        raise ValidationError(f"port must be an integer from 0 to 65535; got {port!r}.")
    if not isinstance(host, str) or not host:
        raise ValidationError(f"host must be an address such as '127.0.0.1'; got {host!r}.")
    staging = _root() / ".staging"
    staging.mkdir(exist_ok=True)
    model_dir, model_ref, model_name, version = _model_dir_for(ref, staging)
    name = name or model_name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(f"The deployment name {name!r} is not valid; use letters, digits, '.', '_' and '-'.")
    d = _root() / name
    d.mkdir(parents=True, exist_ok=True)
    if model_dir.parent == staging.resolve():  # keep the version's files with its deployment
        final = d / "models" / model_dir.name
        final.parent.mkdir(exist_ok=True)
        model_dir.replace(final)
        model_dir = final.resolve()
    dep = LocalDeployment(d)
    server_args = []
    for flag, value in (
        ("--runtime", runtime),
        ("--max-batch-size", max_batch_size),
        ("--max-delay-ms", max_delay_ms),
        ("--rate-limit", rate_limit),
        ("--threads", threads),
    ):
        if value is not None:
            server_args += [flag, str(value)]
    if access_log:
        server_args.append("--access-log")
    security = _security_args(token_file, tls_cert, tls_key, server_args, limits)
    capture_url = _capture_args(capture, capture_rate, name, server_args)
    old = dep._state()
    running = _alive(old.get("supervisor_pid"))
    if running and ((port not in (None, old.get("port"))) or host != old.get("host", "127.0.0.1")):
        raise ValidationError(
            f"The deployment '{name}' already runs at {dep.url}; it keeps its address when its model is replaced.",
            hint=f"Stop it first (stop('{name}')) or pick another name.",
        )
    state = {
        **(old if running else {}),
        "name": name,
        "ref": model_ref,
        "version": version,
        "model_name": model_name,
        "model_dir": str(model_dir),
        "host": host,
        "workers": workers,
        "server_args": server_args,
        "capture": capture_url,
        "requested_at": time.time(),
        "request_id": uuid.uuid4().hex,
    }
    state.update(security)
    if not running:
        if port is None and old.get("port") and _port_free(host, int(old["port"])):
            port = int(old["port"])  # a restarted deployment keeps its URL when it can
        state.update(port=port or 0, status="starting", error=None, restarts=0)
    tmp = d / "state.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(d / "state.json")
    if running:
        os.kill(int(old["supervisor_pid"]), signal.SIGHUP)
        if wait:
            _ready_or_raise(dep, None, state["request_id"], timeout)
    else:
        log = open(dep.logs, "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_modelops.serving.supervisor", str(d)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        (d / "supervisor.pid").write_text(str(proc.pid))
        if not wait:  # the supervisor writes its port into state.json within milliseconds
            end = time.monotonic() + 10
            while not dep._state().get("port") and time.monotonic() < end and proc.poll() is None:
                time.sleep(0.02)
            return dep
        try:
            _ready_or_raise(dep, proc, state["request_id"], timeout)
        except DeployError:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
            raise
    _cleanup_models(d, keep=str(model_dir))
    if model_ref:
        try:
            from .. import registry

            registry.add_record(
                model_ref,
                "deployment",
                {"target": "local", "name": name, "url": dep.url, "pid": dep.pid, "workers": workers},
            )
        except Exception:  # noqa: BLE001 - the record is a courtesy; the deployment is up
            pass
    return dep


def _capture_args(capture: Any, rate: Any, name: str, server_args: list[str]) -> str | None:
    """Capture flags for the server (see :mod:`jupyter_modelops.capture`); returns the store or None."""
    if capture is None or capture is False:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise ValidationError(f"capture_rate is {rate!r}; expected a share of requests in (0, 1], e.g. 0.1.")
    from ..capture.store import resolve_location

    url = resolve_location(None if capture is True else capture)
    server_args += ["--capture", url, "--capture-rate", repr(float(rate)), "--capture-deployment", name]
    return url


def _security_args(
    token_file: Any, tls_cert: Any, tls_key: Any, server_args: list[str], limits: dict | None = None
) -> dict:
    """Check the token file, the TLS pair and the limits now (one sentence if wrong), add the server flags;
    returns the state entries the client and the status need."""
    from .__main__ import _SECURITY, with_security
    from .app import ServerSettings

    paths = {
        k: str(Path(v).resolve()) if v is not None else ""
        for k, v in (("token_file", token_file), ("tls_cert", tls_cert), ("tls_key", tls_key))
    }
    limits = dict(limits or {})
    allowed = [k for k in _SECURITY if k not in paths]
    defaults = ServerSettings()
    for k, v in limits.items():
        if k not in allowed:
            raise ValidationError(f"limits has the key {k!r}; expected some of {', '.join(allowed)}.")
        kind = type(getattr(defaults, k))
        if isinstance(v, bool) != (kind is bool) or not isinstance(v, int if kind is int else (int, float)):
            raise ValidationError(f"limits[{k!r}] is {v!r}; expected {'an' if kind is int else 'a'} {kind.__name__}.")
    with_security(ServerSettings(**paths, **limits))
    for k, v in paths.items():
        if v:
            server_args += ["--" + k.replace("_", "-"), v]
    for k, v in limits.items():
        if v is True:
            server_args.append("--" + k.replace("_", "-"))
        elif v is not False:
            server_args += ["--" + k.replace("_", "-"), repr(v)]
    return {"token_file": paths["token_file"] or None, "tls": bool(paths["tls_cert"])}


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _cleanup_models(d: Path, keep: str) -> None:
    import shutil

    models = d / "models"
    if not models.is_dir():
        return
    for p in models.iterdir():
        if str(p.resolve()) != keep:
            shutil.rmtree(p, ignore_errors=True)


def deploy_local(
    ref: Any,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    name: str | None = None,
    timeout: float = 120.0,
    wait: bool = True,
    runtime: str | None = None,
    token_file: str | os.PathLike | None = None,
    tls_cert: str | os.PathLike | None = None,
    tls_key: str | os.PathLike | None = None,
    limits: dict | None = None,
    max_batch_size: int | None = None,
    max_delay_ms: float | None = None,
    rate_limit: float | None = None,
    threads: int | None = None,
    access_log: bool = False,
    capture: bool | str | None = None,
    capture_rate: float = 1.0,
) -> LocalDeployment:
    """``deploy(ref, target="local")``: the same as :func:`serve`."""
    return serve(
        ref,
        host=host,
        port=port,
        workers=workers,
        name=name,
        timeout=timeout,
        wait=wait,
        runtime=runtime,
        token_file=token_file,
        tls_cert=tls_cert,
        tls_key=tls_key,
        limits=limits,
        max_batch_size=max_batch_size,
        max_delay_ms=max_delay_ms,
        rate_limit=rate_limit,
        threads=threads,
        access_log=access_log,
        capture=capture,
        capture_rate=capture_rate,
    )


def deployments() -> list[LocalDeployment]:
    """Every local deployment known under ``MODELOPS_HOME`` (running or stopped)."""
    return [LocalDeployment(p) for p in sorted(_root().iterdir()) if (p / "state.json").is_file()]


def get_deployment(name: str) -> LocalDeployment:
    """The local deployment called ``name``."""
    d = _root() / str(name)
    if not (d / "state.json").is_file():
        known = [p.name for p in deployments()]
        raise ModelNotFoundError(
            f"There is no local deployment named '{name}'.{suggest(str(name), known)}",
            hint=f"Known: {', '.join(known) or 'none'}.",
        )
    return LocalDeployment(d)


def stop(deployment: Any = None, *, all: bool = False) -> list[dict]:
    """Stop local deployments (a name, a LocalDeployment, or ``all=True``); returns their final status."""
    if all:
        targets = [d for d in deployments() if d.status()["running"]]
    elif deployment is None:
        raise ValidationError("Name the deployment to stop, or pass all=True.")
    elif isinstance(deployment, LocalDeployment):
        targets = [deployment]
    else:
        targets = [get_deployment(deployment)]
    return [t.stop() for t in targets]


class StopResult(Result):
    """What :func:`stop` did: one status per deployment."""

    def __init__(self, statuses: list[dict]) -> None:
        self.statuses = statuses

    def to_dict(self) -> dict:
        return {"stopped": self.statuses}

    def _summary(self) -> str:
        if not self.statuses:
            return "No local deployment was running."
        names = ", ".join(s["name"] for s in self.statuses)
        return f"Stopped {len(self.statuses)} local deployment(s): {names}"

    def to_text(self) -> str:
        return self._summary()

    def to_html(self) -> str:
        rows = [(s["name"], s["url"], s["ref"], s["status"]) for s in self.statuses]
        return page(self._summary(), table(rows, ["name", "url", "ref", "status"]) if rows else "")


#: lock files of the foreground model directories this process serves (held until it exits)
_HELD: list = []


def materialize_for_foreground(ref: Any) -> Path:
    """A model directory for ``modelops serve REF`` in the foreground.

    A model directory is served where it is. A registry version is written once
    to ``MODELOPS_HOME/deployments/foreground/NAME-vVERSION-KEY/`` (KEY from the
    artifacts' digests) and reused by later starts instead of being copied again.
    The serving process holds a shared lock on that directory while it runs; a
    directory that no running process holds is removed at the next start, so the
    folder keeps only what is being served.

    Parameters
    ----------
    ref : str, ModelVersion or path
        A registry reference or a model directory.

    Returns
    -------
    pathlib.Path
        The model directory to serve.
    """
    import hashlib

    if isinstance(ref, (str, os.PathLike)) and Path(ref).is_dir() and (Path(ref) / SPEC_FILE).is_file():
        return Path(ref).resolve()
    if not isinstance(ref, str) and not hasattr(ref, "ref"):
        raise ValidationError(
            f"ref must be a model reference such as 'churn:3', a ModelVersion or a model "
            f"directory; got {type(ref).__name__}."
        )
    from .. import registry

    mv = registry.get(ref)
    root = subdir("deployments", "foreground")
    digests = "".join(sorted(str(a.get("sha256", "")) for a in (mv.artifacts or {}).values()))
    key = hashlib.sha256(f"{mv.name}:{mv.version}:{digests}".encode()).hexdigest()[:12]
    target = root / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', str(mv.name))[:60]}-v{mv.version}-{key}"
    _prune_foreground(root, keep=target.name)
    if _hold(target) and (target / SPEC_FILE).is_file():
        return target.resolve()
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    registry.materialize(mv, tmp)
    _hold(tmp)  # locked before it gets its name, so that no other start prunes it in between
    try:
        tmp.replace(target)
    except OSError:  # another start wrote it meanwhile: use theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        if not _hold(target):
            raise DeployError(f"Could not prepare the model directory {target}.") from None
    return target.resolve()


def _hold(directory: Path) -> bool:
    """Take a shared lock on ``directory/.lock`` for the life of this process; False if it has none."""
    import fcntl

    try:
        fh = open(directory / ".lock", "a+b")
    except OSError:
        return False
    fcntl.flock(fh, fcntl.LOCK_SH)
    if not directory.is_dir():  # pruned while waiting for the lock
        fh.close()
        return False
    _HELD.append(fh)
    return True


def _prune_foreground(root: Path, *, keep: str) -> None:
    """Remove the foreground model directories that no running process holds."""
    import fcntl
    import shutil

    for p in root.iterdir():
        if p.name == keep or not p.is_dir():
            continue
        if p.name.startswith(".tmp-") and _alive(int(p.name.split("-")[1]) if p.name.split("-")[1].isdigit() else 0):
            continue  # being written by another start
        try:
            fh = open(p / ".lock", "a+b")
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a running server holds it
                continue
            shutil.rmtree(p, ignore_errors=True)
