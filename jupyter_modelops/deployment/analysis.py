"""Automated canary analysis: compare a canary's live metrics with the stable version's, then decide.

Both tracks are scraped (the Prometheus ``/metrics`` of every running pod,
through the API server's pod proxy, or the URLs given) at the start of the window and again every ``interval`` seconds until ``duration`` has passed.
Counters and histogram buckets are differenced between the first and the last
scrape, so only the window's traffic counts. Each criterion gives a verdict:

``max_error_rate``
    The canary's error rate minus the stable one's, with Newcombe's hybrid score
    interval (from two Wilson intervals). ``fail`` when the whole interval lies
    above the limit, ``pass`` when it lies at or below it, else ``inconclusive``
    (too little traffic to tell).
``max_latency_p99_ms``
    The canary's 99th percentile request latency from the histogram buckets
    (linear within the bucket, as Prometheus' ``histogram_quantile``); the
    interval is the bucket that holds it. ``fail`` when the whole bucket lies
    above the limit, ``pass`` when it lies at or below it; a bucket that straddles
    the limit is decided on the interpolated value.
``max_prediction_drift``
    The canary server's ``modelops_prediction_drift_psi`` gauge at the end of the
    window; ``inconclusive`` when the server does not expose it.

Any ``fail`` rolls the canary back at once; at the end of the window the canary
is promoted only when every criterion passed (``inconclusive`` rolls back: a
canary is promoted on evidence, not on the lack of it).
"""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .._html import Result, esc, page, table
from ..exceptions import DeployError, ValidationError

__all__ = [
    "CanaryAnalysis",
    "Window",
    "analyze",
    "check_analysis",
    "newcombe",
    "parse_metrics",
    "quantile",
    "run_analysis",
    "scrape",
    "track_reader",
    "wilson",
]

MAX_METRICS_BYTES = 8 << 20
CRITERIA = ("max_error_rate", "max_latency_p99_ms", "max_prediction_drift")
KEYS = ("duration", "interval", "min_requests", "confidence", "stable_metrics", "canary_metrics", *CRITERIA)
# refused before the model ran: not the version's fault
_NOT_COUNTED = {"401", "403", "429"}

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


# -- reading metrics ---------------------------------------------------------------------------------
def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples ``(name, labels, value)`` of a Prometheus text exposition (format 0.0.4).

    Comments and lines that are not samples are skipped; a value that is not a number is refused.
    """
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        labels: dict[str, str] = {}
        body = m.group(3) or ""
        pos = 0
        while pos < len(body):
            lm = _LABEL.match(body, pos)
            if lm is None or lm.end() == pos:
                break
            labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
            pos = lm.end()
        try:
            value = float(m.group(4))
        except ValueError:
            raise ValidationError(f"The metrics line {line[:80]!r} has a value that is not a number.") from None
        out.append((m.group(1), labels, value))
    return out


def scrape(url: str, *, token: str | None = None, timeout: float = 10.0) -> list[tuple[str, dict[str, str], float]]:
    """GET ``url`` (a server's ``/metrics``) and parse it; one sentence when it cannot be read."""
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise ValidationError(
            f"The metrics URL {url!r} is not an http(s) URL; expected e.g. 'http://127.0.0.1:8080/metrics'."
        )
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - a URL the user gave
            body = resp.read(MAX_METRICS_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise DeployError(
            f"Could not read the metrics at {url}: {getattr(exc, 'reason', exc)}.",
            hint="Check that the model server runs and that its /metrics is reachable.",
        ) from None
    if len(body) > MAX_METRICS_BYTES:
        raise DeployError(f"The metrics at {url} are larger than {MAX_METRICS_BYTES >> 20} MiB; refused.")
    return parse_metrics(body.decode("utf-8", "replace"))


@dataclass
class Window:
    """What one server answered between two scrapes (all its models together)."""

    requests: int = 0
    errors: int = 0
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (upper bound, cumulative count)
    drift: float | None = None
    seconds: float = 0.0

    @classmethod
    def between(cls, before: list, after: list, seconds: float = 0.0) -> "Window":
        def infer_counts(samples: list) -> tuple[float, float]:
            total = err = 0.0
            for name, lab, v in samples:
                if name == "modelops_requests_total" and lab.get("endpoint") == "infer":
                    code = lab.get("code", "")
                    if code in _NOT_COUNTED:
                        continue
                    total += v
                    if not code.startswith("2"):
                        err += v
            return total, err

        def buckets(samples: list) -> dict[float, float]:
            out: dict[float, float] = {}
            for name, lab, v in samples:
                if name == "modelops_request_duration_seconds_bucket" and "le" in lab:
                    le = math.inf if lab["le"] == "+Inf" else float(lab["le"])
                    out[le] = out.get(le, 0.0) + v
            return out

        t0, e0 = infer_counts(before)
        t1, e1 = infer_counts(after)
        b0, b1 = buckets(before), buckets(after)
        drift = [v for name, _, v in after if name == "modelops_prediction_drift_psi" and not math.isnan(v)]
        # a restarted server starts its counters again: count from zero then
        restarted = t1 < t0 or e1 < e0
        req, err = (t1, e1) if restarted else (t1 - t0, e1 - e0)
        bk = sorted((le, n if restarted else n - b0.get(le, 0.0)) for le, n in b1.items())
        return cls(requests=int(req), errors=int(err), buckets=bk, drift=max(drift) if drift else None, seconds=seconds)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict:
        p99 = quantile(0.99, self.buckets)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p99_ms": None if p99 is None else p99[0] * 1000,
            "prediction_drift": self.drift,
            "seconds": round(self.seconds, 3),
        }


# -- statistics --------------------------------------------------------------------------------------
def wilson(k: float, n: float, *, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def newcombe(k1: float, n1: float, k2: float, n2: float, *, z: float = 1.959964) -> tuple[float, float, float]:
    """``(p1 - p2, low, high)``: Newcombe's hybrid score interval (method 10) of a difference of proportions."""
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = wilson(k1, n1, z=z)
    l2, u2 = wilson(k2, n2, z=z)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def quantile(q: float, buckets: list[tuple[float, float]]) -> tuple[float, float, float] | None:
    """``(estimate, bucket low, bucket high)`` of quantile ``q`` from cumulative histogram buckets.

    Linear within the bucket, as Prometheus' ``histogram_quantile``; a quantile in the ``+Inf``
    bucket is given as the highest finite bound (and ``inf`` as its upper end). None without data.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_n = 0.0, 0.0
    for le, n in buckets:
        if n >= rank and n > prev_n:
            if math.isinf(le):
                return prev_le, prev_le, math.inf
            return prev_le + (le - prev_le) * (rank - prev_n) / (n - prev_n), prev_le, le
        prev_le, prev_n = (le if not math.isinf(le) else prev_le), n
    return prev_le, prev_le, math.inf


# -- the criteria ------------------------------------------------------------------------------------
def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValidationError(f"analysis {what} is {value!r}; expected seconds or a duration such as '30m'.")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        from ..capture.read import parse_duration

        seconds = parse_duration(value, arg=f"analysis {what}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValidationError(f"analysis {what} is {value!r}; expected a positive duration such as '30m'.")
    return seconds


def check_analysis(analysis: Mapping[str, Any] | None) -> dict | None:
    """The analysis settings, checked and completed (one sentence naming what is wrong)."""
    if analysis is None:
        return None
    if not isinstance(analysis, Mapping):
        raise ValidationError(
            f"analysis is a {type(analysis).__name__}; expected a dict such as "
            "{'duration': '30m', 'max_error_rate': 0.01}."
        )
    unknown = sorted(set(analysis) - set(KEYS))
    if unknown:
        raise ValidationError(
            f"analysis has unknown key(s) {', '.join(map(repr, unknown))}; expected some of {', '.join(KEYS)}."
        )
    if not any(analysis.get(c) is not None for c in CRITERIA):
        raise ValidationError(f"analysis names no criterion; give at least one of {', '.join(CRITERIA)}.")
    out: dict[str, Any] = {"duration": _seconds(analysis.get("duration", "30m"), "duration")}
    out["interval"] = _seconds(analysis.get("interval", min(30.0, max(out["duration"] / 10, 1.0))), "interval")
    conf = analysis.get("confidence", 0.95)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.5 <= conf < 1:
        raise ValidationError(f"analysis confidence is {conf!r}; expected a number in [0.5, 1) such as 0.95.")
    out["confidence"] = float(conf)
    mr = analysis.get("min_requests", 1)
    if isinstance(mr, bool) or not isinstance(mr, int) or mr < 1:
        raise ValidationError(f"analysis min_requests is {mr!r}; expected an integer >= 1.")
    out["min_requests"] = mr
    for key, hi in (("max_error_rate", 1.0), ("max_latency_p99_ms", math.inf), ("max_prediction_drift", math.inf)):
        v = analysis.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= hi or math.isnan(v):
            rng = "between 0 and 1" if hi == 1.0 else ">= 0"
            raise ValidationError(f"analysis {key} is {v!r}; expected a number {rng}.")
        out[key] = float(v)
    for key in ("stable_metrics", "canary_metrics"):
        v = analysis.get(key)
        if v is not None:
            if not isinstance(v, str) or not re.match(r"^https?://[^\s/]+\S*$", v):
                raise ValidationError(f"analysis {key} is {v!r}; expected the http(s) URL of a server's /metrics.")
            out[key] = v
    return out


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def analyze(stable: Window, canary: Window, criteria: Mapping[str, Any]) -> list[dict]:
    """One verdict per criterion (``pass``, ``fail`` or ``inconclusive``), each with its numbers and interval."""
    checks = []
    z = _z(float(criteria.get("confidence", 0.95)))
    enough = canary.requests >= int(criteria.get("min_requests", 1))
    limit = criteria.get("max_error_rate")
    if limit is not None:
        d, lo, hi = newcombe(canary.errors, canary.requests, stable.errors, stable.requests, z=z)
        verdict = "fail" if lo > limit else ("pass" if hi <= limit and enough else "inconclusive")
        checks.append(
            {
                "name": "error_rate",
                "verdict": verdict,
                "limit": limit,
                "value": d,
                "interval": [lo, hi],
                "canary": {"errors": canary.errors, "requests": canary.requests, "rate": canary.error_rate},
                "stable": {"errors": stable.errors, "requests": stable.requests, "rate": stable.error_rate},
                "detail": (
                    f"error rate {canary.errors}/{canary.requests} on the canary vs {stable.errors}/"
                    f"{stable.requests} on the stable version: difference {d:+.4f}, "
                    f"{criteria.get('confidence', 0.95):.0%} Newcombe interval [{lo:+.4f}, {hi:+.4f}], "
                    f"tolerated {limit:+.4f}"
                ),
            }
        )
    limit = criteria.get("max_latency_p99_ms")
    if limit is not None:
        q = quantile(0.99, canary.buckets)
        qs = quantile(0.99, stable.buckets)
        if q is None or not enough:
            checks.append(
                {
                    "name": "latency_p99",
                    "verdict": "inconclusive",
                    "limit": limit,
                    "value": None,
                    "interval": None,
                    "detail": "the canary answered no requests in the window",
                }
            )
        else:
            est, lo, hi = (x * 1000 for x in q)
            verdict = "fail" if lo >= limit else ("pass" if hi <= limit else ("pass" if est <= limit else "fail"))
            how = "" if (lo >= limit or hi <= limit) else " (the bucket straddles the limit: decided on the estimate)"
            stable_ms = None if qs is None else qs[0] * 1000
            checks.append(
                {
                    "name": "latency_p99",
                    "verdict": verdict,
                    "limit": limit,
                    "value": est,
                    "interval": [lo, hi],
                    "stable": stable_ms,
                    "detail": (
                        f"canary p99 {est:.1f} ms (bucket [{lo:g}, {hi:g}] ms) vs stable "
                        f"{'-' if stable_ms is None else f'{stable_ms:.1f}'} ms, limit {limit:g} ms{how}"
                    ),
                }
            )
    limit = criteria.get("max_prediction_drift")
    if limit is not None:
        if canary.drift is None:
            checks.append(
                {
                    "name": "prediction_drift",
                    "verdict": "inconclusive",
                    "limit": limit,
                    "value": None,
                    "interval": None,
                    "detail": "the canary's server exposes no modelops_prediction_drift_psi",
                }
            )
        else:
            checks.append(
                {
                    "name": "prediction_drift",
                    "verdict": "pass" if canary.drift <= limit else "fail",
                    "limit": limit,
                    "value": canary.drift,
                    "interval": None,
                    "stable": stable.drift,
                    "detail": f"canary prediction PSI {canary.drift:.4f}, limit {limit:g}",
                }
            )
    return checks


class CanaryAnalysis(Result):
    """The outcome of a canary analysis: ``decision`` (``promote`` or ``rollback``) and its evidence."""

    def __init__(
        self,
        *,
        decision: str,
        reason: str,
        checks: list[dict],
        stable: Window,
        canary: Window,
        criteria: Mapping[str, Any],
        started: float,
        finished: float,
        early: bool,
    ) -> None:
        self.decision = decision
        self.reason = reason
        self.checks = checks
        self.stable = stable
        self.canary = canary
        self.criteria = dict(criteria)
        self.started = started
        self.finished = finished
        self.early = early

    def to_dict(self) -> dict:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "checks": self.checks,
            "stable": self.stable.to_dict(),
            "canary": self.canary.to_dict(),
            "criteria": {k: v for k, v in self.criteria.items() if not k.endswith("_metrics")},
            "started": self.started,
            "finished": self.finished,
            "early": self.early,
        }

    def to_text(self) -> str:
        lines = [f"canary analysis: {self.decision} - {self.reason}"]
        lines += [f"  {c['verdict']:>12}  {c['detail']}" for c in self.checks]
        return "\n".join(lines)

    def to_html(self) -> str:
        rows = [[c["name"], c["verdict"], c["detail"]] for c in self.checks]
        return page(
            f"Canary analysis: {self.decision}",
            table(rows, ["criterion", "verdict", "evidence"]),
            subtitle=esc(self.reason),
        )

    def _summary(self) -> str:
        return f"CanaryAnalysis {self.decision}: {self.reason}"


def decide(checks: list[dict], *, final: bool) -> tuple[str | None, str]:
    """``(decision or None to go on, reason)``."""
    failed = [c for c in checks if c["verdict"] == "fail"]
    if failed:
        return "rollback", "failed " + "; ".join(c["detail"] for c in failed)
    if not final:
        return None, "no criterion failed yet"
    unsure = [c for c in checks if c["verdict"] == "inconclusive"]
    if unsure:
        return "rollback", "not enough evidence at the end of the window: " + "; ".join(c["detail"] for c in unsure)
    return "promote", "every criterion passed: " + "; ".join(c["detail"] for c in checks)


def track_reader(kube: Any, name: str, namespace: str, track: str, *, token: str | None = None) -> Callable[[], list]:
    """A reader of the summed ``/metrics`` of every running pod of one track (``stable`` or ``canary``) of a
    plain-mode deployment, through the API server's pod proxy (no port-forward, no Service hop).

    ``token``: the servers' bearer token, sent as ``X-Modelops-Authorization`` (the proxy strips ``Authorization``).
    """
    from .manifests import LABEL_PREFIX, PORT

    headers = {"X-Modelops-Authorization": f"Bearer {token}"} if token else None

    def read() -> list:
        pods = kube.list("Pod", namespace, labels={"app.kubernetes.io/name": name, f"{LABEL_PREFIX}/track": track})
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        if not running:
            raise DeployError(
                f"No running {track} pod of deployment '{name}' in namespace '{namespace}' to read metrics from."
            )
        samples: list = []
        for pod in running:
            text = kube.proxy_get(namespace, pod["metadata"]["name"], PORT, "/metrics", headers=headers)
            if len(text) > MAX_METRICS_BYTES:
                raise DeployError(
                    f"The metrics of pod {pod['metadata']['name']} are larger than "
                    f"{MAX_METRICS_BYTES >> 20} MiB; refused."
                )
            samples += parse_metrics(text)
        return samples

    return read


def run_analysis(
    stable: str | Callable[[], list],
    canary: str | Callable[[], list],
    criteria: Mapping[str, Any],
    *,
    token: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CanaryAnalysis:
    """Scrape both servers over ``criteria["duration"]`` seconds and decide (see the module's docstring).

    Parameters
    ----------
    stable, canary : str or callable
        The ``/metrics`` URLs of the stable and the canary servers, or functions returning their
        samples (see :func:`track_reader`).
    criteria : dict
        Settings checked by :func:`check_analysis`.
    token : str, optional
        Bearer token for servers whose ``/metrics`` needs one.

    Returns
    -------
    CanaryAnalysis
    """
    crit = check_analysis(criteria) or {}
    started = time.time()
    t0 = time.monotonic()
    read_stable = stable if callable(stable) else (lambda: scrape(stable, token=token))
    read_canary = canary if callable(canary) else (lambda: scrape(canary, token=token))
    s0, c0 = read_stable(), read_canary()
    end = t0 + crit["duration"]
    while True:
        now = time.monotonic()
        sleep(max(0.0, min(crit["interval"], end - now)))
        final = time.monotonic() >= end - 1e-3
        s1, c1 = read_stable(), read_canary()
        dt = time.monotonic() - t0
        sw, cw = Window.between(s0, s1, dt), Window.between(c0, c1, dt)
        checks = analyze(sw, cw, crit)
        decision, reason = decide(checks, final=final)
        if decision is not None:
            return CanaryAnalysis(
                decision=decision,
                reason=reason,
                checks=checks,
                stable=sw,
                canary=cw,
                criteria=crit,
                started=started,
                finished=time.time(),
                early=not final,
            )
