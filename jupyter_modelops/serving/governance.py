"""Service governance: Prometheus metrics, per-client rate limits, a circuit breaker, bearer tokens.

All of it is plain Python on the event loop thread (no locks): a request pays
a few dictionary updates, not a metrics library.
"""

from __future__ import annotations

import hmac
import logging
import time
from bisect import bisect_left
from collections import defaultdict
from typing import Callable

log = logging.getLogger("jupyter_modelops.serving")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Histogram:
    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out = []
        cum = 0
        sep = "," if labels else ""
        for bound, n in zip(self.bounds, self.counts):
            cum += n
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound:g}"}} {cum}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        lab = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{lab} {self.sum:.9g}")
        out.append(f"{name}_count{lab} {self.count}")
        return out


class Metrics:
    """The server's counters, rendered in the Prometheus text format (0.0.4)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)  # (model, endpoint, status)
        self.latency: dict[str, Histogram] = {}
        self.inference: dict[str, Histogram] = {}
        self.batch: dict[str, Histogram] = {}
        self.errors: dict[tuple[str, str], int] = defaultdict(int)  # (model, kind)
        self.shed: dict[str, int] = defaultdict(int)  # reason
        # set by the app: waiting requests and circuit breaker state, per model
        self.queue_depth: Callable[[], dict[str, int]] = lambda: {}
        self.breaker_state: Callable[[], dict[str, str]] = lambda: {}
        self.started = time.time()

    def request(self, model: str, endpoint: str, status: int, seconds: float | None = None) -> None:
        self.requests[(model, endpoint, status)] += 1
        if seconds is not None:
            h = self.latency.get(model)
            if h is None:
                h = self.latency[model] = Histogram(LATENCY_BUCKETS)
            h.observe(seconds)

    def batch_done(self, model: str, size: int, seconds: float) -> None:
        h = self.batch.get(model)
        if h is None:
            h = self.batch[model] = Histogram(BATCH_BUCKETS)
            self.inference[model] = Histogram(LATENCY_BUCKETS)
        h.observe(size)
        self.inference[model].observe(seconds)

    def render(self) -> bytes:
        L = [
            "# HELP modelops_requests_total Requests answered, by model, endpoint and HTTP status.",
            "# TYPE modelops_requests_total counter",
        ]
        for (m, e, s), n in sorted(self.requests.items()):
            L.append(f'modelops_requests_total{{model="{m}",endpoint="{e}",code="{s}"}} {n}')
        L += [
            "# HELP modelops_request_duration_seconds Time from request to response of inference calls.",
            "# TYPE modelops_request_duration_seconds histogram",
        ]
        for m, h in sorted(self.latency.items()):
            L += h.lines("modelops_request_duration_seconds", f'model="{m}"')
        L += [
            "# HELP modelops_inference_duration_seconds Time of one runtime call (one batch).",
            "# TYPE modelops_inference_duration_seconds histogram",
        ]
        for m, h in sorted(self.inference.items()):
            L += h.lines("modelops_inference_duration_seconds", f'model="{m}"')
        L += [
            "# HELP modelops_batch_size Rows per runtime call after dynamic batching.",
            "# TYPE modelops_batch_size histogram",
        ]
        for m, h in sorted(self.batch.items()):
            L += h.lines("modelops_batch_size", f'model="{m}"')
        L += ["# HELP modelops_queue_depth Requests waiting for the runtime.", "# TYPE modelops_queue_depth gauge"]
        for m, n in sorted(self.queue_depth().items()):
            L.append(f'modelops_queue_depth{{model="{m}"}} {n}')
        L += [
            "# HELP modelops_errors_total Failed requests, by model and kind.",
            "# TYPE modelops_errors_total counter",
        ]
        for (m, k), n in sorted(self.errors.items()):
            L.append(f'modelops_errors_total{{model="{m}",kind="{k}"}} {n}')
        L += [
            "# HELP modelops_shed_total Requests refused to protect the server, by reason.",
            "# TYPE modelops_shed_total counter",
        ]
        for r, n in sorted(self.shed.items()):
            L.append(f'modelops_shed_total{{reason="{r}"}} {n}')
        L += [
            "# HELP modelops_circuit_open 1 while a model's circuit breaker is open.",
            "# TYPE modelops_circuit_open gauge",
        ]
        for m, state in sorted(self.breaker_state().items()):
            L.append(f'modelops_circuit_open{{model="{m}"}} {1 if state == "open" else 0}')
        L += [
            "# HELP modelops_uptime_seconds Seconds since the server started.",
            "# TYPE modelops_uptime_seconds gauge",
            f"modelops_uptime_seconds {time.time() - self.started:.3f}",
        ]
        return ("\n".join(L) + "\n").encode()


class RateLimiter:
    """Token bucket per client: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None, *, max_clients: int = 10_000) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self.max_clients = max_clients
        self.buckets: dict[str, list[float]] = {}

    def allow(self, client: str, now: float | None = None) -> float:
        """Return 0 when the request may pass, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        b = self.buckets.get(client)
        if b is None:
            if len(self.buckets) >= self.max_clients:  # forget idle clients, bounded memory
                self.buckets.clear()
            b = self.buckets[client] = [self.burst, now]
        tokens = min(self.burst, b[0] + (now - b[1]) * self.rate)
        b[1] = now
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return 0.0
        b[0] = tokens
        return (1.0 - tokens) / self.rate


class CircuitBreaker:
    """Opens after ``threshold`` consecutive runtime failures; while open, requests get a fast 503.

    After ``cooldown`` seconds it lets one probe through (half-open): success
    closes it, failure opens it again.
    """

    def __init__(self, threshold: int = 5, cooldown: float = 5.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.state = "closed"
        self.opened_at = 0.0
        self.probing = False

    def check(self, now: float | None = None) -> float:
        """Return 0 if a call may go ahead, else the seconds until the next probe."""
        if self.state == "closed":
            return 0.0
        now = time.monotonic() if now is None else now
        if self.state == "open":
            left = self.opened_at + self.cooldown - now
            if left > 0:
                return left
            self.state = "half-open"
            self.probing = False
        if self.probing:  # one probe at a time
            return max(0.1, self.cooldown / 10)
        self.probing = True
        return 0.0

    def success(self) -> None:
        self.failures = 0
        self.probing = False
        self.state = "closed"

    def failure(self, now: float | None = None) -> None:
        self.failures += 1
        self.probing = False
        if self.state == "half-open" or self.failures >= self.threshold:
            self.state = "open"
            self.opened_at = time.monotonic() if now is None else now


#: The request header that carries ``Bearer TOKEN`` where ``Authorization`` cannot: the Kubernetes API server's
#: pod and service proxies strip ``Authorization`` (their own credentials) before forwarding.
PROXY_AUTH_HEADER = b"x-modelops-authorization"


class TokenAuth:
    """Bearer-token check of the model server, the tokens read from a file (a mounted Kubernetes Secret).

    The file holds one token per line (several lines let a new token be rolled
    out before the old one is removed); blank lines and lines starting with ``#``
    are ignored. Each token has at least 16 characters from the RFC 6750 token
    alphabet (letters, digits, ``-._~+/`` and trailing ``=``). The file is read
    again when it changes (checked at most once a second), so a rotated Secret
    takes effect without a restart; a changed file that is not valid keeps the
    tokens in force and logs why.

    The comparison uses :func:`hmac.compare_digest` against every token, so its
    time depends neither on where a wrong token differs nor on which token
    matched (only, as documented there, on whether the lengths are equal).
    """

    MAX_FILE_BYTES = 64 * 1024
    MIN_LENGTH = 16

    def __init__(self, path: str, *, recheck_s: float = 1.0) -> None:
        import os

        self.path = os.fspath(path)
        self.recheck_s = recheck_s
        self._stamp = self._stat()
        self._tokens = self._load()
        self._next = time.monotonic() + recheck_s

    def _stat(self) -> tuple:
        import os

        try:
            st = os.stat(self.path)
        except OSError:
            return ()
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> list[bytes]:
        import re

        from .errors import InvalidInput

        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(self.MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise InvalidInput(
                f"The token file {self.path} cannot be read ({exc.strerror}); give a readable file "
                "with one bearer token per line."
            ) from None
        if len(raw) > self.MAX_FILE_BYTES:
            raise InvalidInput(
                f"The token file {self.path} is larger than {self.MAX_FILE_BYTES} bytes; it should "
                "hold one bearer token per line."
            )
        pattern = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
        tokens = []
        for n, line in enumerate(raw.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith(b"#"):
                continue
            if not pattern.fullmatch(line) or len(line) < self.MIN_LENGTH:
                raise InvalidInput(
                    f"Line {n} of the token file {self.path} is not a bearer token of at least "
                    f"{self.MIN_LENGTH} characters (letters, digits, -._~+/ and trailing =); "
                    "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'."
                )
            tokens.append(line)
        if not tokens:
            raise InvalidInput(f"The token file {self.path} holds no token; write one bearer token per line.")
        return tokens

    def _refresh(self, now: float) -> None:
        self._next = now + self.recheck_s
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._tokens = self._load()
            log.info("bearer tokens reloaded from %s", self.path)
        except Exception as exc:  # noqa: BLE001 - keep serving with the tokens in force
            log.warning("kept the current bearer tokens: %s", exc)

    def allows(self, authorization: bytes | None) -> bool:
        """True when ``authorization`` (the raw header value) is ``Bearer <one of the tokens>``."""
        now = _monotonic()
        if now >= self._next:
            self._refresh(now)
        if not authorization:
            return False
        scheme, _, value = authorization.partition(b" ")
        value = value.strip()
        match = False
        for token in self._tokens:  # no early exit: the time does not say which token matched
            match |= _compare(token, value)
        return match and scheme.lower() == b"bearer"


_monotonic = time.monotonic
_compare = hmac.compare_digest
