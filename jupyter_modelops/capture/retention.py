"""Retention: remove whole expired hour partitions of a capture store.

An hour partition expires when its hour ended before the cut-off. It is kept,
however old its hour, while a file in it (a complete one or a temporary one)
changed within ``grace_s`` seconds: a writer that is still flushing rows of
that hour is never raced.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from .store import HOUR_RE, CaptureStore

#: a partition with a file changed this recently is still being written
GRACE_S = 600.0


def gc_captures(older_than: Any, *, store: Any = None, grace_s: float = GRACE_S, now: float | None = None) -> dict:
    """Remove capture partitions whose hour ended more than ``older_than`` ago.

    Parameters
    ----------
    older_than : str or timedelta
        Age such as ``"30d"`` or ``"12h"``.
    store : str, optional
        The capture store; default ``MODELOPS_HOME/captures``.
    grace_s : float, default=600
        Keep a partition with a file changed this recently.

    Returns
    -------
    dict
        ``{"removed_partitions", "freed_bytes", "kept_active", "store"}``.
    """
    from .read import parse_duration

    age = parse_duration(older_than, arg="captures_older_than")
    cs = store if isinstance(store, CaptureStore) else CaptureStore(store)
    now = time.time() if now is None else now
    cutoff = now - age
    removed = freed = kept = 0
    for m in cs.listdir(cs.root):
        if m["type"] != "directory" or not m["name"].startswith("model="):
            continue
        for v in cs.listdir(m["path"]):
            if v["type"] != "directory" or not v["name"].startswith("version="):
                continue
            for h in cs.listdir(v["path"]):
                hour = h["name"][len("hour=") :]
                if h["type"] != "directory" or not h["name"].startswith("hour=") or not HOUR_RE.match(hour):
                    continue
                end = calendar.timegm(time.strptime(hour, "%Y-%m-%dT%H")) + 3600
                if end > cutoff:
                    continue
                files = cs.listdir(h["path"])
                if any(f["mtime"] is None or f["mtime"] > now - grace_s for f in files):
                    kept += 1
                    continue
                cs.remove(h["path"])
                removed += 1
                freed += sum(f["size"] for f in files)
    return {"removed_partitions": removed, "freed_bytes": freed, "kept_active": kept, "store": cs.url}
