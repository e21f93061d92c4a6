"""Registry credentials the way docker, podman and skopeo keep them.

``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``):
``credHelpers`` (per registry) first, then ``credsStore`` (all registries),
then ``auths`` (``auth`` = base64 ``user:password``, or ``username`` and
``password``, or an ``identitytoken``). Helpers are programs named
``docker-credential-<name>``; ``get`` reads the server on stdin and prints
``{"Username": ..., "Secret": ...}``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import RegistryAuthError

HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str | None
    secret: str | None
    source: str  # where they came from, for error messages
    identity_token: str | None = None

    def describe(self) -> str:
        who = f"user '{self.username}'" if self.username else "an identity token"
        return f"{who} from {self.source}"


def config_path() -> Path:
    root = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(root) / "config.json"


def _keys_for(registry: str) -> list[str]:
    if registry in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        return list(HUB_KEYS)
    return [registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/", f"https://{registry}/v2/"]


def _normalise(key: str) -> str:
    k = re.sub(r"^https?://", "", key).rstrip("/")
    for suffix in ("/v1", "/v2"):
        if k.endswith(suffix):
            k = k[: -len(suffix)]
    return k


def _helper(name: str, server: str, source: str) -> Credentials | None:
    exe = shutil.which(f"docker-credential-{name}")
    if exe is None:
        raise RegistryAuthError(
            f"{source} names the credential helper 'docker-credential-{name}', which is not on PATH.",
            hint="Install it, or remove it from the config and log in again.",
        )
    try:
        out = subprocess.run([exe, "get"], input=server, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryAuthError(f"The credential helper 'docker-credential-{name}' failed: {exc}.") from exc
    if out.returncode != 0:
        if "credentials not found" in (out.stdout + out.stderr).lower():
            return None
        raise RegistryAuthError(
            f"The credential helper 'docker-credential-{name}' failed for {server}: "
            f"{(out.stderr or out.stdout).strip() or 'exit code ' + str(out.returncode)}."
        )
    try:
        data = json.loads(out.stdout)
    except ValueError as exc:
        raise RegistryAuthError(
            f"The credential helper 'docker-credential-{name}' printed no JSON for {server}."
        ) from exc
    user, secret = data.get("Username"), data.get("Secret")
    if user == "<token>":
        return Credentials(None, None, source, identity_token=secret)
    return Credentials(user, secret, source)


def lookup(registry: str) -> tuple[Credentials | None, list[str]]:
    """Find credentials for ``registry``. Returns them (or None) and the places looked at."""
    path = config_path()
    looked = []
    if not path.is_file():
        return None, [f"{path} (absent)"]
    try:
        cfg = json.loads(path.read_text() or "{}")
    except ValueError as exc:
        raise RegistryAuthError(
            f"The docker config '{path}' is not valid JSON: {exc}.", hint="Fix or remove it, then log in again."
        ) from exc
    keys = _keys_for(registry)
    wanted = {_normalise(k) for k in keys}
    helpers = cfg.get("credHelpers") or {}
    for key, name in helpers.items():
        if _normalise(key) in wanted:
            src = f"{path} (credHelpers: docker-credential-{name})"
            looked.append(src)
            creds = _helper(name, key, src)
            if creds:
                return creds, looked
    auths = cfg.get("auths") or {}
    store = cfg.get("credsStore")
    if store:
        src = f"{path} (credsStore: docker-credential-{store})"
        looked.append(src)
        server = next((k for k in auths if _normalise(k) in wanted), keys[0])
        creds = _helper(store, server, src)
        if creds:
            return creds, looked
    for key, entry in auths.items():
        if _normalise(key) not in wanted or not isinstance(entry, dict):
            continue
        src = f"{path} (auths['{key}'])"
        looked.append(src)
        if entry.get("identitytoken"):
            return Credentials(entry.get("username"), None, src, identity_token=entry["identitytoken"]), looked
        if entry.get("auth"):
            try:
                user, _, pw = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise RegistryAuthError(
                    f"The 'auth' entry for {key} in {path} is not base64 of user:password.",
                    hint=f"Log in again with: docker login {registry}",
                ) from exc
            return Credentials(user, pw, src), looked
        if entry.get("username"):
            return Credentials(entry["username"], entry.get("password"), src), looked
    if not looked:
        looked.append(f"{path} (no entry for {registry})")
    return None, looked


def basic_header(creds: Credentials) -> str:
    raw = f"{creds.username or ''}:{creds.secret or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode()


_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ``("bearer", {...})``."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


def login_hint(registry: str) -> str:
    return (
        f"Log in with: docker login {registry} (or podman/skopeo login, which write the same "
        f"config.json; set DOCKER_CONFIG to use another folder)."
    )
