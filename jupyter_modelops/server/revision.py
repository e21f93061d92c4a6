"""A cheap token that changes whenever the registry changes; the panel polls it.

Every write to the registry (a snapshot, an alias move, a record added by
export, images, deploy or reports) commits to its SQLite database in WAL
mode, which changes the size or modification time of the database or of its
write-ahead log. Hashing those two ``stat()`` results costs microseconds and
opens no connection, so polling it every few seconds is free.
"""

from __future__ import annotations

import hashlib
import os


def registry_revision() -> str:
    """Return an opaque token; equal tokens mean the registry did not change."""
    from ..registry.store import default_store

    db = default_store().db_path
    parts = [str(db)]
    for path in (db, db.with_name(db.name + "-wal")):
        try:
            st = os.stat(path)
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except FileNotFoundError:
            parts.append("-")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]
