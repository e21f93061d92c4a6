"""Alerts: a Slack-compatible JSON webhook posted when a run or a gate fails."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

from ..exceptions import ValidationError


def check_url(url: str) -> str:
    """Validate a webhook URL (http or https, with a host, no whitespace or control characters)."""
    bad = next((ch for ch in str(url) if ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0), None)
    if bad is not None:
        # urlparse silently drops tabs and newlines; the text itself would still travel on
        raise ValidationError(
            f"The notify URL {str(url)!r} contains whitespace or a control character (U+{ord(bad):04X}).",
            hint="Pass the webhook URL as one piece of text; percent-encode a space as %20.",
        )
    parsed = urlparse(str(url))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError(
            f"The notify URL '{url}' is not an http(s) URL.",
            hint="Pass a webhook URL such as https://hooks.slack.com/services/...",
        )
    return str(url)


def message(run: Any) -> dict:
    """The webhook body: Slack's ``text`` plus the run's key facts."""
    d = run.to_dict()
    failed = [g for g in d.get("gates") or [] if g.get("status") == "fail"]
    who = d.get("ref") or d.get("template")
    if d["status"] != "succeeded":
        text = f":red_circle: Report '{d['template']}' for {who} FAILED to run: {d.get('error')}"
    else:
        names = ", ".join(f"{g.get('name')} ({g.get('detail', '')})".replace(" ()", "") for g in failed)
        text = f":warning: Report '{d['template']}' for {who}: {len(failed)} gate(s) failed: {names}"
    if d.get("html"):
        text += f"\nReport: {d['html']}"
    return {
        "text": text,
        "modelops": {k: d.get(k) for k in ("id", "ref", "template", "status", "error", "gates", "html", "finished")},
    }


def post_webhook(url: str, run: Any, *, timeout: float = 10.0) -> dict:
    """POST the message; never raises (a failed alert must not hide the run's own result)."""
    try:
        checked = check_url(url)
    except ValidationError as exc:
        return {"url": url, "status": None, "error": str(exc)}
    body = json.dumps(message(run)).encode()
    req = urllib.request.Request(checked, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - user-given webhook
            return {"url": url, "status": resp.status}
    except urllib.error.HTTPError as exc:
        return {"url": url, "status": exc.code, "error": str(exc)}
    except (urllib.error.URLError, OSError) as exc:
        return {"url": url, "status": None, "error": str(exc)}
