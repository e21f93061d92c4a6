"""A small closed-loop HTTP/1.1 load generator: C keep-alive connections, each sending the same
request and waiting for its answer, for a bounded time and count, on loopback only.

Usage: python loadgen.py --url http://127.0.0.1:PORT/path --body FILE -c 64 -d 10
Prints one JSON object: requests, errors, statuses, req_per_s, p50_ms, p90_ms, p99_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def _conn(host, port, payload, deadline, max_requests, lat, status_counts, counter):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and counter[0] < max_requests:
            counter[0] += 1
            t0 = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            status_counts[status] = status_counts.get(status, 0) + 1
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def run(
    url: str, body: bytes, concurrency: int, duration: float, max_requests: int, headers: dict | None = None
) -> dict:
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback targets only")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    payload = (
        f"POST {u.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body
    lat: list[float] = []
    statuses: dict[int, int] = {}
    counter = [0]
    t0 = time.perf_counter()
    deadline = t0 + duration
    results = await asyncio.gather(
        *[_conn(host, port, payload, deadline, max_requests, lat, statuses, counter) for _ in range(concurrency)],
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - t0
    conn_errors = [repr(r) for r in results if isinstance(r, BaseException)]
    lat.sort()
    n = len(lat)

    def pct(p: float) -> float:
        return round(lat[min(n - 1, int(p * n))] * 1000, 3) if n else float("nan")

    ok = statuses.get(200, 0)
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "requests": n,
        "ok": ok,
        "errors": n - ok + len(conn_errors),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "connection_errors": conn_errors[:3],
        "req_per_s": round(ok / elapsed, 1),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--body", required=True, help="file with the request body")
    ap.add_argument("-c", "--concurrency", type=int, default=1)
    ap.add_argument("-d", "--duration", type=float, default=10.0)
    ap.add_argument("-n", "--max-requests", type=int, default=2_000_000)
    a = ap.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with open(a.body, "rb") as fh:
        body = fh.read()
    print(json.dumps(runner(run(a.url, body, a.concurrency, a.duration, a.max_requests))))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
