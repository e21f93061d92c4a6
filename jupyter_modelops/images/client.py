"""A small client of the OCI distribution API (``/v2/``) over httpx.

What it does: HEAD a blob before sending it, mount it from another repository
of the same registry when it is known to be there, upload monolithically
(one streamed ``PUT``) or in chunks (``PATCH`` with ``Content-Range`` and a
closing ``PUT``), put and get manifests and blobs, verify digests. Auth:
anonymous first; on ``401`` it follows ``WWW-Authenticate`` (Basic, or Bearer
with a token from the realm) using the credentials docker keeps
(:mod:`.auth`). TLS is verified; plain HTTP is used only for loopback
registries or when ``insecure=True``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator
from urllib.parse import urlencode, urljoin

from .._optional import require
from ..exceptions import BuildError, ModelNotFoundError, RegistryAuthError
from . import auth as _auth
from .oci import CHUNK, DOCKER_LIST, DOCKER_MANIFEST, INDEX, MANIFEST
from .reference import Reference

ACCEPT_MANIFESTS = ", ".join([MANIFEST, INDEX, DOCKER_MANIFEST, DOCKER_LIST])


@dataclass
class PushStats:
    requests: int = 0
    uploaded: list = field(default_factory=list)  # digests sent
    mounted: list = field(default_factory=list)  # digests mounted from another repository
    present: list = field(default_factory=list)  # digests the registry already had
    bytes_sent: int = 0

    def to_dict(self) -> dict:
        return {
            "requests": self.requests,
            "uploaded": len(self.uploaded),
            "mounted": len(self.mounted),
            "present": len(self.present),
            "bytes_sent": self.bytes_sent,
        }


class RegistryClient:
    """Talk to one registry host.

    Parameters
    ----------
    registry : str
        Host and optional port, e.g. ``"127.0.0.1:5000"`` or ``"ghcr.io"``.
    insecure : bool, default=False
        Allow plain HTTP to a registry that is not on loopback.
    timeout : float, default=60
        Seconds per request (connect and each read/write).
    """

    def __init__(self, registry: str, *, insecure: bool = False, timeout: float = 60.0) -> None:
        httpx = require("httpx", purpose="talk to an OCI registry", extra="images")
        self._httpx = httpx
        self.registry = registry
        ref = Reference(registry, "x")
        self.api_host = ref.api_host
        self.scheme = "http" if (insecure or ref.is_loopback) else "https"
        self.base = f"{self.scheme}://{self.api_host}"
        self.timeout = timeout
        # plain HTTP never uses TLS: skip loading the CA bundle (a fifth of a second)
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            verify=self.scheme == "https",
            headers={"User-Agent": "jupyter-modelops"},
        )
        self.stats = PushStats()
        self._auth_header: dict[frozenset, str] = {}
        self._creds: _auth.Credentials | None = None
        self._looked: list[str] | None = None

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def url(self, path: str) -> str:
        return urljoin(self.base + "/", path.lstrip("/")) if not path.startswith("http") else path

    def _credentials(self) -> _auth.Credentials | None:
        if self._looked is None:
            self._creds, self._looked = _auth.lookup(self.registry)
        return self._creds

    def _send(self, method: str, url: str, headers: dict, content) -> "object":
        httpx = self._httpx
        self.stats.requests += 1
        try:
            return self.http.request(method, url, headers=headers, content=content)
        except httpx.ConnectError as exc:
            cause = str(exc) or type(exc).__name__
            hint = "Check the address and that the registry is running."
            if "CERTIFICATE" in cause.upper() or "SSL" in cause.upper():
                hint = "The TLS certificate was not trusted: install the registry's CA, or pass insecure=True only on a network you trust."
            raise BuildError(
                f"Could not reach the registry at {self.base}/v2/ ({method} {url}): {cause}.", hint=hint
            ) from exc
        except httpx.TimeoutException as exc:
            raise BuildError(
                f"The registry at {self.base} did not answer in time ({method} {url}): {type(exc).__name__}.",
                hint="Check the network or raise the timeout.",
            ) from exc
        except httpx.TransportError as exc:
            raise BuildError(f"The connection to the registry at {self.base} failed ({method} {url}): {exc}.") from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = (),
        headers: dict | None = None,
        content: Callable[[], object] | bytes | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> "object":
        """Send a request, authenticating on 401, and raise one-sentence errors for anything not in ``ok``."""
        url = self.url(path)
        key = frozenset(scopes)
        for attempt in range(2):
            h = dict(headers or {})
            if key in self._auth_header:
                h["Authorization"] = self._auth_header[key]
            body = content() if callable(content) else content
            resp = self._send(method, url, h, body)
            if resp.status_code == 401 and attempt == 0 and key not in self._auth_header:
                self._authenticate(resp, key, url)
                continue
            break
        if resp.status_code in (401, 403):
            raise self._auth_error(resp, url)
        if resp.status_code not in ok:
            raise self._status_error(resp, method, url)
        return resp

    def _authenticate(self, resp, scopes: frozenset, url: str) -> None:
        challenge = resp.headers.get("WWW-Authenticate", "")
        scheme, params = _auth.parse_challenge(challenge)
        creds = self._credentials()
        if scheme == "basic":
            if creds is None or creds.username is None:
                raise self._auth_error(resp, url)
            self._auth_header[scopes] = _auth.basic_header(creds)
        elif scheme == "bearer":
            self._auth_header[scopes] = "Bearer " + self._token(params, scopes, creds, url)
        else:
            raise RegistryAuthError(
                f"The registry {self.registry} asked for an unsupported authentication scheme '{challenge}' ({url})."
            )

    def _token(self, params: dict, scopes: frozenset, creds, url: str) -> str:
        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError(f"The registry {self.registry} sent a Bearer challenge without a realm ({url}).")
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in sorted(scopes)] or ([("scope", params["scope"])] if params.get("scope") else [])
        headers = {}
        if creds is not None and creds.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "service": params.get("service", ""),
                "scope": " ".join(sorted(scopes)),
                "client_id": "jupyter-modelops",
            }
            resp = self._send(
                "POST", realm, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(form).encode()
            )
        else:
            if creds is not None and creds.username:
                headers["Authorization"] = _auth.basic_header(creds)
            sep = "&" if "?" in realm else "?"
            resp = self._send("GET", realm + (sep + urlencode(query) if query else ""), headers, None)
        if resp.status_code in (401, 403):
            raise self._auth_error(resp, realm)
        if resp.status_code != 200:
            raise BuildError(f"The token service {realm} of {self.registry} answered {resp.status_code}.")
        data = resp.json()
        token = data.get("token") or data.get("access_token")
        if not token:
            raise RegistryAuthError(f"The token service {realm} of {self.registry} returned no token.")
        return token

    def _auth_error(self, resp, url: str) -> RegistryAuthError:
        creds = self._credentials()
        looked = "; ".join(self._looked or [])
        status = resp.status_code
        verb = "refused" if status == 401 else "denied access to"
        if creds is None:
            tried = f"no credentials were found (looked in {looked})"
        else:
            tried = f"tried {creds.describe()}"
        hint = _auth.login_hint(self.registry)
        if status == 403 and creds is not None:
            hint = (
                "Those credentials lack permission for this repository: ask the registry's administrator for "
                f"access, push to a repository you own, or {hint[0].lower()}{hint[1:]}"
            )
        return RegistryAuthError(
            f"The registry {self.registry} {verb} the request ({status} for {url}): {tried}.", hint=hint
        )

    def _status_error(self, resp, method: str, url: str) -> BuildError:
        detail = ""
        try:
            errs = resp.json().get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errs)
        except Exception:
            detail = (resp.text or "")[:200]
        msg = (
            f"The registry {self.registry} answered {resp.status_code} to {method} {url}"
            + (f" ({detail})" if detail else "")
            + "."
        )
        if resp.status_code == 404:
            return ModelNotFoundError(msg)
        return BuildError(msg)

    # ------------------------------------------------------------------ API
    def ping(self) -> None:
        self.request("GET", "/v2/", ok=(200,))

    def ping_auth(self, repo: str) -> None:
        """Authenticate for pushing to ``repo`` now (a HEAD that needs the push scope's token)."""
        self.request(
            "HEAD", f"/v2/{repo}/blobs/sha256:{'0' * 64}", scopes=[f"repository:{repo}:pull,push"], ok=(200, 404)
        )

    def blob_exists(self, repo: str, digest: str, *, scopes: Iterable[str] | None = None) -> bool:
        resp = self.request(
            "HEAD", f"/v2/{repo}/blobs/{digest}", scopes=scopes or [f"repository:{repo}:pull"], ok=(200, 404)
        )
        return resp.status_code == 200

    def _start_upload(self, repo: str, scopes: list[str], *, mount: str | None = None, frm: str | None = None):
        query = f"?{urlencode({'mount': mount, 'from': frm})}" if mount else ""
        return self.request("POST", f"/v2/{repo}/blobs/uploads/{query}", scopes=scopes, ok=(201, 202))

    def push_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        path: Path,
        *,
        mount_from: Iterable[str] = (),
        chunk_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> str:
        """Make ``digest`` (the file ``path``) present in ``repo``.

        Returns ``"present"``, ``"mounted"`` or ``"uploaded"``.
        """
        scopes = [f"repository:{repo}:pull,push"]
        if self.blob_exists(repo, digest, scopes=scopes):
            self.stats.present.append(digest)
            if progress:
                progress(size)
            return "present"
        resp = None
        for other in mount_from:
            if other == repo:
                continue
            resp = self._start_upload(repo, scopes + [f"repository:{other}:pull"], mount=digest, frm=other)
            if resp.status_code == 201:
                self.stats.mounted.append(digest)
                if progress:
                    progress(size)
                return "mounted"
            break  # 202: the registry opened an ordinary upload session instead; use it
        if resp is None:
            resp = self._start_upload(repo, scopes)
        location = self._location(resp)
        if chunk_size:
            location = self._upload_chunks(location, scopes, lambda: open(path, "rb"), size, chunk_size, progress)
            resp = self.request(
                "PUT",
                self._with_digest(location, digest),
                scopes=scopes,
                headers={"Content-Length": "0"},
                content=b"",
                ok=(201,),
            )
            got = resp.headers.get("Docker-Content-Digest")
        elif self.scheme == "http":
            got = self._put_sendfile(self._with_digest(location, digest), frozenset(scopes), path, size, progress)
        else:

            def body() -> Iterator[bytes]:
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        if progress:
                            progress(len(chunk))
                        yield chunk

            resp = self.request(
                "PUT",
                self._with_digest(location, digest),
                scopes=scopes,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                content=body,
                ok=(201,),
            )
            got = resp.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise BuildError(f"The registry {self.registry} stored the blob as {got}, not {digest}.")
        self.stats.uploaded.append(digest)
        self.stats.bytes_sent += size
        return "uploaded"

    def _put_sendfile(self, url: str, scopes: frozenset, path: Path, size: int, progress) -> str | None:
        """Monolithic PUT over plain HTTP with ``sendfile`` (no copies through Python)."""
        import http.client
        from urllib.parse import urlsplit

        u = urlsplit(url)
        target = u.path + (f"?{u.query}" if u.query else "")
        self.stats.requests += 1
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.timeout)
        try:
            conn.putrequest("PUT", target, skip_accept_encoding=True)
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(size))
            conn.putheader("User-Agent", "jupyter-modelops")
            if scopes in self._auth_header:
                conn.putheader("Authorization", self._auth_header[scopes])
            conn.endheaders()
            step = 16 << 20
            with open(path, "rb") as f:
                offset = 0
                while offset < size:
                    sent = conn.sock.sendfile(f, offset, min(step, size - offset))
                    if not sent:
                        break
                    offset += sent
                    if progress:
                        progress(sent)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            raise BuildError(
                f"Could not upload to the registry at {self.base} (PUT {url}): {exc}.",
                hint="Check that the registry is running and has space.",
            ) from exc
        finally:
            conn.close()
        if resp.status != 201:
            fake = self._httpx.Response(resp.status, headers=dict(resp.getheaders()), content=body)
            if resp.status in (401, 403):
                raise self._auth_error(fake, url)
            raise self._status_error(fake, "PUT", url)
        return resp.getheader("Docker-Content-Digest")

    def _upload_chunks(self, location: str, scopes, opener, size: int, chunk_size: int, progress) -> str:
        offset = 0
        with opener() as f:
            while offset < size or size == 0:
                chunk = f.read(chunk_size)
                if not chunk:
                    break
                end = offset + len(chunk) - 1
                resp = self.request(
                    "PATCH",
                    location,
                    scopes=scopes,
                    content=chunk,
                    ok=(202,),
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{end}",
                        "Content-Length": str(len(chunk)),
                    },
                )
                location = self._location(resp)
                offset = end + 1
                if progress:
                    progress(len(chunk))
        return location

    def _location(self, resp) -> str:
        loc = resp.headers.get("Location")
        if not loc:
            raise BuildError(f"The registry {self.registry} opened an upload without a Location header.")
        return self.url(loc) if loc.startswith("/") else loc

    @staticmethod
    def _with_digest(location: str, digest: str) -> str:
        return location + ("&" if "?" in location else "?") + urlencode({"digest": digest})

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            scopes=[f"repository:{repo}:pull,push"],
            headers={"Content-Type": media_type},
            content=body,
            ok=(201,),
        )
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        got = resp.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise BuildError(f"The registry {self.registry} stored the manifest as {got}, not {digest}.")
        return digest

    def get_manifest(self, repo: str, reference: str, *, accept: str = ACCEPT_MANIFESTS) -> tuple[bytes, str, str]:
        """Return ``(body, media_type, digest)``."""
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            scopes=[f"repository:{repo}:pull"],
            headers={"Accept": accept},
            ok=(200,),
        )
        body = resp.content
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise BuildError(f"The registry {self.registry} sent a manifest whose digest {digest} is not {reference}.")
        media = resp.headers.get("Content-Type", "").split(";")[0].strip() or json.loads(body).get("mediaType", "")
        return body, media, digest

    def manifest_exists(self, repo: str, reference: str) -> str | None:
        resp = self.request(
            "HEAD",
            f"/v2/{repo}/manifests/{reference}",
            scopes=[f"repository:{repo}:pull"],
            headers={"Accept": ACCEPT_MANIFESTS},
            ok=(200, 404),
        )
        return resp.headers.get("Docker-Content-Digest") if resp.status_code == 200 else None

    def fetch_blob(
        self, repo: str, digest: str, out: IO[bytes], *, size: int, progress: Callable[[int], None] | None = None
    ) -> int:
        """Stream a blob into ``out``, verifying its size and digest. Returns its size.

        Parameters
        ----------
        repo, digest : str
            The repository and the blob's digest.
        out : binary file
            Where the bytes go.
        size : int
            The size the descriptor declares: the download stops and is refused as soon as more
            bytes arrive (a registry cannot stream an endless blob), and when fewer arrived.
        progress : callable, optional
            Called with the length of each chunk.
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise BuildError(f"The descriptor of {digest} declares the size {size!r}; expected a number of bytes.")
        url = self.url(f"/v2/{repo}/blobs/{digest}")
        key = frozenset([f"repository:{repo}:pull"])
        for attempt in range(2):
            h = {"Authorization": self._auth_header[key]} if key in self._auth_header else {}
            self.stats.requests += 1
            try:
                with self.http.stream("GET", url, headers=h) as resp:
                    if resp.status_code == 401 and attempt == 0 and key not in self._auth_header:
                        resp.read()
                        self._authenticate(resp, key, url)
                        continue
                    if resp.status_code in (401, 403):
                        resp.read()
                        raise self._auth_error(resp, url)
                    if resp.status_code != 200:
                        resp.read()
                        raise self._status_error(resp, "GET", url)
                    h256 = hashlib.sha256()
                    got_size = 0
                    for chunk in resp.iter_bytes(CHUNK):
                        got_size += len(chunk)
                        if got_size > size:
                            raise BuildError(
                                f"The registry {self.registry} sent more than the {size} bytes its "
                                f"descriptor declares for {digest} in {repo}; refusing the blob."
                            )
                        h256.update(chunk)
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
                    break
            except self._httpx.TransportError as exc:
                raise BuildError(f"Could not download {digest} from {self.base}: {exc}.") from exc
        if got_size != size:
            raise BuildError(
                f"The registry {self.registry} sent {got_size} bytes for {digest} in {repo}, whose "
                f"descriptor declares {size}; refusing the blob."
            )
        got = "sha256:" + h256.hexdigest()
        if got != digest:
            raise BuildError(
                f"The blob downloaded from {self.registry}/{repo} has digest {got}, not {digest}; refusing it."
            )
        return got_size

    def read_blob(self, repo: str, digest: str, *, size: int) -> bytes:
        """A blob in memory (a config or a manifest), verified and capped like :meth:`fetch_blob`."""
        import io

        buf = io.BytesIO()
        self.fetch_blob(repo, digest, buf, size=size)
        return buf.getvalue()
