"""A paced load generator: C keep-alive connections share a fixed request rate (each sends, waits for the
answer, then waits for its next slot), so that two servers are compared at the same throughput.

Usage: python paced.py --url http://127.0.0.1:PORT/path --body FILE -c 64 -r 2000 -d 5
Prints one JSON object: requests, errors, req_per_s, p50_ms, p99_ms. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def _conn(
    host: str, port: int, payload: bytes, start: float, interval: float, deadline: float, lat: list, statuses: dict
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    slot = start
    try:
        while True:
            now = time.perf_counter()
            if slot > now:
                await asyncio.sleep(slot - now)
            if time.perf_counter() >= deadline:
                return
            t0 = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
            slot += interval
    finally:
        writer.close()


async def run(url: str, body: bytes, concurrency: int, rate: float, duration: float) -> dict:
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback targets only")
    payload = (
        f"POST {u.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    lat: list[float] = []
    statuses: dict[int, int] = {}
    interval = concurrency / rate
    t0 = time.perf_counter()
    deadline = t0 + duration
    await asyncio.gather(
        *[
            _conn(host, port, payload, t0 + i * interval / concurrency, interval, deadline, lat, statuses)
            for i in range(concurrency)
        ]
    )
    elapsed = time.perf_counter() - t0
    lat.sort()
    n = len(lat)
    ok = statuses.get(200, 0)

    def pct(p: float) -> float:
        return round(lat[min(n - 1, int(p * n))] * 1000, 3) if n else float("nan")

    return {
        "concurrency": concurrency,
        "target_rate": rate,
        "seconds": round(elapsed, 3),
        "requests": n,
        "errors": n - ok,
        "req_per_s": round(ok / elapsed, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("-c", "--concurrency", type=int, default=64)
    ap.add_argument("-r", "--rate", type=float, default=2000.0)
    ap.add_argument("-d", "--duration", type=float, default=5.0)
    a = ap.parse_args()
    with open(a.body, "rb") as fh:
        body = fh.read()
    print(json.dumps(asyncio.run(run(a.url, body, a.concurrency, a.rate, a.duration))))


if __name__ == "__main__":
    main()
