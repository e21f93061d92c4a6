"""A Bearer-token front for the real registry, as Docker Hub, GHCR or Harbor do it.

``/token`` issues a token for the scopes asked for, once Basic credentials are
right; every ``/v2/`` request needs ``Authorization: Bearer`` with a token whose
scopes cover the repository (``push`` for writes, ``pull`` for reads) and is then
forwarded to the real registry behind it. Without one, it answers 401 with a
``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` challenge.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class BearerFront:
    def __init__(self, backend: str, port: int, *, user: str, password: str, deny: tuple[str, ...] = ()) -> None:
        self.backend = backend
        self.deny = set(deny)  # repositories this user may not touch: 403 even with a token
        self.host = f"127.0.0.1:{port}"
        self.tokens: dict[str, set[str]] = {}
        self.token_requests: list[dict] = []
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _token(self) -> None:
                q = parse_qs(urlsplit(self.path).query)
                front.token_requests.append(
                    {
                        "scope": q.get("scope", []),
                        "service": q.get("service", [""])[0],
                        "basic": self.headers.get("Authorization") == front.expected,
                    }
                )
                if self.headers.get("Authorization") != front.expected:
                    self._reply(401, b'{"details":"bad credentials"}', {"Content-Type": "application/json"})
                    return
                tok = secrets.token_hex(16)
                front.tokens[tok] = set(q.get("scope", []))
                self._reply(
                    200, json.dumps({"token": tok, "expires_in": 300}).encode(), {"Content-Type": "application/json"}
                )

            def _allowed(self, scopes: set[str]) -> bool:
                path = urlsplit(self.path).path
                if path == "/v2/":
                    return True
                m = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", path)
                if not m:
                    return False
                need = "pull" if self.command in ("GET", "HEAD") else "push"
                repo_ok = any(
                    s.startswith(f"repository:{m.group(1)}:") and need in s.split(":")[-1].split(",") for s in scopes
                )
                frm = parse_qs(urlsplit(self.path).query).get("from")
                if frm:  # a mount also needs pull on the source repository
                    repo_ok = repo_ok and any(s.startswith(f"repository:{frm[0]}:") for s in scopes)
                return repo_ok

            def _proxy(self) -> None:
                auth = self.headers.get("Authorization", "")
                scopes = front.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
                if scopes is None or not self._allowed(scopes):
                    m = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", urlsplit(self.path).path)
                    scope = f',scope="repository:{m.group(1)}:pull,push"' if m else ""
                    length = int(self.headers.get("Content-Length") or 0)
                    if length:
                        self.rfile.read(length)
                    self._reply(
                        401,
                        b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                        {
                            "WWW-Authenticate": f'Bearer realm="http://{front.host}/token",service="test-registry"{scope}',
                            "Content-Type": "application/json",
                        },
                    )
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                m = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", urlsplit(self.path).path)
                if m and m.group(1) in front.deny:
                    self._reply(
                        403,
                        b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}',
                        {"Content-Type": "application/json"},
                    )
                    return
                conn = http.client.HTTPConnection(*front.backend.split(":"))
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "host", "connection")
                }
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                out = {}
                for k, v in resp.getheaders():
                    if k.lower() in ("content-length", "connection", "transfer-encoding"):
                        continue
                    out[k] = v.replace(front.backend, front.host) if k.lower() == "location" else v
                conn.close()
                self.send_response(resp.status)
                for k, v in out.items():
                    self.send_header(k, v)
                self.send_header(
                    "Content-Length",
                    str(len(data)) if self.command != "HEAD" else resp.getheader("Content-Length", "0"),
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/token"):
                    self._token()
                else:
                    self._proxy()

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _proxy

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
