"""Where captures live, and their layout.

A capture store is a folder: by default ``MODELOPS_HOME/captures``, else a
local path, a ``file://`` URL or any object-storage URL fsspec knows
(``s3://``, ``gs://``, ``abfs://``...; credentials from the standard
environment, e.g. ``AWS_ACCESS_KEY_ID`` and ``AWS_ENDPOINT_URL``). Inside::

    model=<name>/version=<version>/hour=<YYYY-MM-DDTHH>/part-<start>-<writer>-<seq>.parquet
    _labels/model=<name>/labels-<time>-<uuid>.parquet

The partitions are Hive-style, so pyarrow, DuckDB, pandas and Spark prune them
by model, version and hour (UTC). A file is written under a name that starts
with ``.`` and renamed once complete (object stores publish an object only
when its upload completes), so a reader never sees a partial file.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from ..exceptions import ValidationError

#: URL schemes a capture store may use (anything else is refused).
SCHEMES = ("file", "s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "memory")
PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
HOUR_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}$")
LABELS_DIR = "_labels"
SCHEMA_VERSION = "1"


def check_part(value: Any, what: str) -> str:
    """A model name or version usable as one path component (no separators, no ``..``)."""
    text = str(value)
    if not PART_RE.match(text) or ".." in text:
        raise ValidationError(
            f"The {what} {text!r} cannot name a capture partition: expected 1 to 128 letters, "
            "digits, '.', '_' or '-', starting with a letter or a digit."
        )
    return text


def hour_of(ts: float) -> str:
    """The UTC hour partition of an epoch timestamp, e.g. ``2026-12-02T17``."""
    return time.strftime("%Y-%m-%dT%H", time.gmtime(ts))


class CaptureStore:
    """A capture store: a filesystem (fsspec) and a root folder on it.

    Parameters
    ----------
    location : str, path, True or None
        ``None`` or ``True``: ``MODELOPS_HOME/captures``. A local path or
        ``file://`` URL, or an object-storage URL such as ``s3://bucket/captures``.
    """

    def __init__(self, location: Any = None) -> None:
        import fsspec

        self.url = resolve_location(location)
        scheme = self.url.split("://", 1)[0] if "://" in self.url else "file"
        self.local = scheme == "file"
        if self.local:
            self.root = self.url[len("file://") :] if self.url.startswith("file://") else self.url
            self.fs = fsspec.filesystem("file")
        else:
            from .._optional import require

            try:
                self.fs, self.root = fsspec.core.url_to_fs(self.url)
            except ImportError:
                module = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs"}.get(scheme, "adlfs")
                require(module, purpose=f"write captures to {scheme}:// URLs", extra="capture")
                raise  # pragma: no cover - require raised
            self.root = self.root.rstrip("/")

    def __repr__(self) -> str:
        return f"CaptureStore({self.url!r})"

    # -- paths ---------------------------------------------------------------------------------
    def join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def model_dir(self, model: str) -> str:
        return self.join(f"model={check_part(model, 'model name')}")

    def version_dir(self, model: str, version: str) -> str:
        return self.join(f"model={check_part(model, 'model name')}", f"version={check_part(version, 'version')}")

    def partition_dir(self, model: str, version: str, hour: str) -> str:
        return self.version_dir(model, version) + f"/hour={hour}"

    def labels_dir(self, model: str) -> str:
        return self.join(LABELS_DIR, f"model={check_part(model, 'model name')}")

    def exists(self, path: str) -> bool:
        try:
            return bool(self.fs.exists(path))
        except OSError:
            return False

    def listdir(self, path: str) -> list[dict]:
        """Entries of a folder (``name`` without the folder, ``type``, ``size``, ``mtime``); [] if absent."""
        try:
            entries = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for e in entries:
            name = str(e["name"]).rstrip("/").rsplit("/", 1)[-1]
            mtime = e.get("mtime") or e.get("LastModified") or e.get("last_modified") or e.get("created")
            if hasattr(mtime, "timestamp"):
                mtime = mtime.timestamp()
            out.append(
                {
                    "name": name,
                    "path": str(e["name"]).rstrip("/"),
                    "type": e.get("type", "file"),
                    "size": int(e.get("size") or 0),
                    "mtime": float(mtime) if mtime else None,
                }
            )
        return out

    # -- writing -------------------------------------------------------------------------------
    def write_table(self, table: Any, folder: str, name: str, *, dictionary: Any = True) -> int:
        """Write ``table`` as ``folder/name`` (Parquet, zstd); a reader never sees it partial.

        Returns the file's size in bytes. On failure nothing is left behind
        under the final name (and the temporary file is removed). ``dictionary``
        names the columns to dictionary-encode (all by default).
        """
        import pyarrow.parquet as pq

        options = {"compression": "zstd", "use_dictionary": dictionary}

        final = f"{folder}/{name}"
        if self.local:
            os.makedirs(folder, exist_ok=True)
            tmp = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
            try:
                pq.write_table(table, tmp, **options)
                os.replace(tmp, final)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            return os.stat(final).st_size
        # object stores: the object appears only when its upload completes
        with self.fs.open(final, "wb") as fh:
            pq.write_table(table, fh, **options)
        try:
            return int(self.fs.size(final) or 0)
        except OSError:  # pragma: no cover - the object was written; its size is a courtesy
            return 0

    def remove(self, path: str) -> None:
        self.fs.rm(path, recursive=True)


def resolve_location(location: Any) -> str:
    """The store's URL or absolute path; refuses schemes that are not storage."""
    if location is None or location is True:
        from ..config import subdir

        return str(subdir("captures"))
    if location is False:
        raise ValidationError("Capture is off (capture=False); there is no capture store to use.")
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if not isinstance(location, str) or not location.strip():
        raise ValidationError(
            f"The capture location must be a path or a URL such as 's3://bucket/captures'; got {location!r}."
        )
    location = location.strip()
    if any(c in location for c in "\n\r\0"):
        raise ValidationError("The capture location contains a control character; give a plain path or URL.")
    if "://" in location:
        scheme = location.split("://", 1)[0].lower()
        if scheme not in SCHEMES:
            raise ValidationError(
                f"The capture location {location!r} uses the scheme '{scheme}://'; expected a path "
                f"or one of {', '.join(s + '://' for s in SCHEMES)}."
            )
        if scheme == "file":
            return "file://" + str(Path(location[len("file://") :]).expanduser().resolve())
        return location.rstrip("/")
    return str(Path(location).expanduser().resolve())
