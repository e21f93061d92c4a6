"""Connection limits of the model server: slow, idle and oversized clients cannot hold it.

uvicorn's HTTP protocol (httptools) times out only the wait *between* two
requests of a kept-alive connection (``timeout_keep_alive``). A connection that
never finishes its request line and headers, trickles its body, sends megabytes
of headers or thousands of them, or simply stays open before its first byte is
kept for as long as the client likes. :func:`guarded_protocol` returns a subclass
of uvicorn's ``HttpToolsProtocol`` that adds, per connection:

- a **header timeout**: the request line and headers must arrive within
  ``header_timeout_s`` of the connection's start (or of the first byte of the
  next request on a kept-alive connection); else **408** and the connection closes;
- a **body timeout**: the body must arrive within ``body_timeout_s`` of the
  headers; else **408** (when no answer was started) and the connection closes;
- **header limits**: more than ``max_header_bytes`` of request line and headers,
  or more than ``max_headers`` header fields, get **431** and the connection closes;
- a **connection cap**: past ``max_connections`` open connections, a new one gets
  **503** with ``Retry-After`` and is closed at once.

Each refusal is counted in ``modelops_shed_total{reason=...}``. Deadlines are
checked by one sweep per event loop (every quarter of the shortest timeout, at
most 1 s), so a request pays a few attribute updates, not timers. The header
count is checked when the headers are complete (their bytes are bounded all
along). With TLS, the server entry point bounds the handshake by the header
timeout too (asyncio's default would be 60 s).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-connection limits (see the module docstring); 0 turns a limit off."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_connections: int = 1000


def default_max_connections(reserve: int = 128, ceiling: int = 10_000) -> int:
    """Open connections allowed when none is configured: what the process's file limit leaves.

    The soft limit of open files is first raised to the hard limit (as far as
    ``ceiling`` needs), so that a container's default 1,024 does not cap the server
    by accident.
    """
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = ceiling + reserve
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else min(hard, want)
            if new > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
                soft = new
        if soft == resource.RLIM_INFINITY:
            return ceiling
        return max(16, min(ceiling, int(soft) - reserve))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 1000


class _Refuse(Exception):
    """Raised inside a parser callback to stop parsing and answer ``status``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


_PHRASES = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


def guarded_protocol(limits: ConnectionLimits, shed: Any = None) -> type:
    """A uvicorn ``HttpToolsProtocol`` subclass enforcing ``limits``.

    Parameters
    ----------
    limits : ConnectionLimits
    shed : dict, optional
        A counter by reason (the server's ``Metrics.shed``); each refusal adds one.

    Returns
    -------
    type
        The protocol class, for ``uvicorn.Config(http=...)``.
    """
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    counts = shed if shed is not None else {}

    timeouts = [t for t in (limits.header_timeout_s, limits.body_timeout_s) if t > 0]
    # deadlines are checked by one sweep per loop, not by a timer per request (a timer costs more
    # CPU than the rest of the guard): a deadline is enforced within a quarter of the timeout, or 1 s
    sweep_every = min(1.0, max(0.05, min(timeouts) / 4)) if timeouts else 0.0
    sweeping: set = set()

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._deadline = 0.0  # loop time by which the head (or the body) must have arrived; 0 = none
            self._waiting = "header"
            self._in_head = False
            self._fed = 0  # bytes received on this connection
            self._chunk_start = 0  # self._fed before the chunk being parsed
            self._msg_start = 0  # self._fed before the chunk in which the current request began
            self._refused = False

        # -- helpers -----------------------------------------------------------------------
        def _expect(self, seconds: float, what: str) -> None:
            if seconds > 0:
                self._deadline = self.loop.time() + seconds
                self._waiting = what
                loop = self.loop
                if loop not in sweeping:
                    sweeping.add(loop)
                    loop.call_later(sweep_every, _sweep, loop, self.connections)

        def _expired(self, what: str) -> None:
            self._deadline = 0.0
            if self.transport is None or self.transport.is_closing():
                return
            if what == "header":
                self._refuse(
                    408,
                    "header_timeout",
                    f"The request line and headers did not arrive within "
                    f"{limits.header_timeout_s:g} s; send the whole request at once.",
                )
            else:
                started = self.cycle is not None and self.cycle.response_started
                self._refuse(
                    408,
                    "body_timeout",
                    f"The request body did not arrive within "
                    f"{limits.body_timeout_s:g} s of its headers; send it at once.",
                    answer=not started,
                )

        def _refuse(self, status: int, reason: str, message: str, *, answer: bool = True) -> None:
            if self._refused:
                return
            self._refused = True
            self._deadline = 0.0
            counts[reason] = counts.get(reason, 0) + 1
            if answer:
                body = orjson.dumps({"error": message})
                head = [
                    b"HTTP/1.1 %d %s" % (status, _PHRASES.get(status, b"")),
                    b"content-type: application/json",
                    b"content-length: %d" % len(body),
                    b"connection: close",
                ]
                if status == 503:
                    head.append(b"retry-after: 1")
                self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
            self.transport.close()

        def _too_large(self) -> str:
            return (
                f"The request line and headers exceed this server's limit of {limits.max_header_bytes} bytes; "
                "send smaller headers."
            )

        # -- protocol ------------------------------------------------------------------------
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if limits.max_connections and len(self.connections) > limits.max_connections:
                self._refuse(
                    503,
                    "connection_limit",
                    f"The server has {limits.max_connections} open connections, "
                    "its limit; retry after the time in the Retry-After header.",
                )
                return
            self._in_head = True
            self._expect(limits.header_timeout_s, "header")

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            self._unset_keepalive_if_required()
            self._chunk_start = self._fed
            self._fed += len(data)
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserCallbackError as exc:
                cause = exc.__context__
                if isinstance(cause, _Refuse):
                    self._refuse(cause.status, cause.reason, cause.message)
                    return
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
                return
            except httptools.HttpParserError:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
                return
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            # still reading a head: what arrived since the request began bounds its size (it may also count
            # the end of a pipelined request before it, in the same chunk)
            if self._in_head and limits.max_header_bytes and self._fed - self._msg_start > limits.max_header_bytes:
                self._refuse(431, "headers_too_large", self._too_large())

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._msg_start = self._chunk_start
            if not self._in_head:  # the next request of a kept-alive connection
                self._in_head = True
                self._expect(limits.header_timeout_s, "header")

        def on_headers_complete(self) -> None:
            if limits.max_headers and len(self.headers) > limits.max_headers:
                raise _Refuse(
                    431,
                    "headers_too_large",
                    f"The request has more than {limits.max_headers} header "
                    "fields, this server's limit; send fewer headers.",
                )
            if limits.max_header_bytes and self._fed - self._msg_start > limits.max_header_bytes:
                size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)  # the exact size
                if size > limits.max_header_bytes:
                    raise _Refuse(431, "headers_too_large", self._too_large())
            self._in_head = False
            self._deadline = 0.0
            super().on_headers_complete()
            if not self._refused:
                self._expect(limits.body_timeout_s, "body")

        def on_message_complete(self) -> None:
            self._deadline = 0.0
            super().on_message_complete()

    def _sweep(loop: asyncio.AbstractEventLoop, connections: set) -> None:
        now = loop.time()
        for conn in list(connections):
            deadline = getattr(conn, "_deadline", 0.0)
            if deadline and now >= deadline:
                conn._expired(conn._waiting)
        if connections:
            loop.call_later(sweep_every, _sweep, loop, connections)
        else:
            sweeping.discard(loop)

    return GuardedHttpToolsProtocol
