"""The embedded store: SQLite (WAL) for metadata, content-addressed blobs for bytes.

Layout under ``MODELOPS_HOME/registry``::

    registry.db            SQLite database in WAL mode
    blobs/ab/abcdef...     one read-only file per distinct sha256
    tmp/<pid>-<random>/    staging areas of writers in progress

Crash safety. A writer stages every file under ``tmp/`` (written, hashed and
fsynced there), then opens one ``BEGIN IMMEDIATE`` transaction, renames the
staged files into ``blobs/`` (a blob already present is not written again),
inserts the rows and commits. A process killed at any moment therefore leaves
either nothing visible or the whole version; what it leaves behind (a staging
folder of a dead process, a blob no row references) is removed by
:meth:`Store.gc`. Version numbers come from a per-model counter that is
incremented in the same transaction, so concurrent writers get unique,
gap-free numbers and a number is never reused after a delete.

Schema versions. ``PRAGMA user_version`` holds the schema number. ``_DDL`` is
schema 1, the first release's, and never changes; every later change is a
forward migration in :data:`MIGRATIONS` (number ``n`` takes schema ``n - 1``
to ``n``). Opening a registry of an older schema copies the database first
(SQLite's online backup API, consistent although the database is in WAL
mode) to ``registry.db.schema<N>-<time>.bak``, then applies every missing
migration in one ``BEGIN IMMEDIATE`` transaction, so concurrent openers wait
and then find the work done, and a failure leaves the registry as it was. A
registry of a newer schema than the code knows is refused untouched. A new
registry goes through the same path from schema 0. The number is also kept in
the table ``schema_version``, which the first release does not know: that
release sets ``user_version`` back to 1 whenever it opens a registry, and the
table tells that the migrations were applied already.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from ..exceptions import ModelOpsError

CHUNK = 1 << 20

# Schema 1. Never edit: change the schema with a migration below.
_DDL = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL REFERENCES models(name),
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    user TEXT,
    flavor TEXT NOT NULL,
    parent TEXT,
    summary TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS version_meta (
    version_id INTEGER PRIMARY KEY REFERENCES versions(id) ON DELETE CASCADE,
    meta TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    filename TEXT NOT NULL,
    meta TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (version_id, role)
);
CREATE INDEX IF NOT EXISTS artifacts_sha ON artifacts(sha256);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (name, alias)
);
CREATE TABLE IF NOT EXISTS alias_history (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER,
    previous INTEGER,
    at REAL NOT NULL,
    user TEXT
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_ref ON records(name, version, kind);
CREATE INDEX IF NOT EXISTS records_kind ON records(kind);
"""


class Migration(NamedTuple):
    """One forward step of the schema: ``apply(con)`` runs inside the open write transaction."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: dict[int, Migration] = {}


def migration(version: int, description: str) -> Callable[[Callable[[sqlite3.Connection], None]], Migration]:
    """Register the function that takes a registry from schema ``version - 1`` to ``version``.

    The function gets the connection inside the write transaction that opens
    the registry, with foreign key enforcement off (so a table can be rebuilt:
    create the new table, copy, drop the old, rename); foreign keys are checked
    before the commit. It must only use SQL, write no files, and must not
    commit. Numbers follow each other without gaps from 2.
    """

    def register(fn: Callable[[sqlite3.Connection], None]) -> Migration:
        if version in MIGRATIONS or version < 2:
            raise ValueError(f"registry migration {version} is defined twice or is below 2")
        MIGRATIONS[version] = Migration(version, description, fn)
        return MIGRATIONS[version]

    return register


@migration(2, "records of deleted versions are removed, as delete() now does")
def _drop_orphan_records(con: sqlite3.Connection) -> None:
    con.execute(
        "DELETE FROM records WHERE version IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM versions v WHERE v.name = records.name AND v.version = records.version)"
    )


@migration(3, "trust records: who trusted a version that came from outside, when, and which types")
def _add_trust(con: sqlite3.Connection) -> None:
    con.execute(
        "CREATE TABLE trust (version_id INTEGER PRIMARY KEY REFERENCES versions(id) ON DELETE CASCADE, "
        "by TEXT, at REAL NOT NULL, types TEXT NOT NULL)"
    )


SCHEMA_VERSION = max(MIGRATIONS, default=1)


class StagedFile:
    """A file written under ``tmp/``, hashed and fsynced, waiting for a commit.

    A staged file may also be *pending*: its bytes are held in memory
    (``chunks``) and written only if the blob store does not have them yet.
    """

    __slots__ = ("path", "sha256", "size", "chunks")

    def __init__(self, path: Path, sha256: str, size: int, chunks: list | None = None) -> None:
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.chunks = chunks

    def write(self) -> None:
        """Write pending chunks to ``path`` and fsync them."""
        if self.chunks is None or self.path.exists():
            return
        with open(self.path, "wb") as f:
            for chunk in self.chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def hash_file(path: Path, *, fsync: bool = False) -> tuple[str, int]:
    """sha256 and size of a file (optionally fsyncing it on the way)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
            size += n
        if fsync:
            os.fsync(f.fileno())
    return h.hexdigest(), size


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's live process
        return True
    # a zombie child still answers kill(0); check /proc when available
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


class Store:
    """One registry folder. Cheap to construct; connections are per thread and process."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.db_path = self.root / "registry.db"
        self._local = threading.local()
        self._active: set[str] = set()
        for p in (self.root, self.blobs, self.tmp):
            p.mkdir(parents=True, exist_ok=True)
        self._init_db()

    # -- database -----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout = 60000")
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA synchronous = FULL")
        return con

    def _init_db(self) -> None:
        con = self._connect()
        try:
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # pragma: no cover - e.g. a network file system
                raise ModelOpsError(
                    f"The registry database at {self.db_path} could not use write-ahead logging (got {mode!r}).",
                    hint="Put MODELOPS_HOME on a local file system.",
                )
            if int(con.execute("PRAGMA user_version").fetchone()[0]) != SCHEMA_VERSION:
                self._check_schema(con)
                self._migrate(con)
        finally:
            con.close()

    def _check_schema(self, con: sqlite3.Connection) -> int:
        """The registry's schema number; refuses one newer than this code knows."""
        found = int(con.execute("PRAGMA user_version").fetchone()[0])
        if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone():
            found = max([found] + [int(v) for (v,) in con.execute("SELECT version FROM schema_version")])
        if found > SCHEMA_VERSION:
            raise ModelOpsError(
                f"The registry at {self.root} has schema version {found}, newer than the {SCHEMA_VERSION} this "
                "jupyter-modelops understands, so it was left untouched.",
                hint="Upgrade jupyter-modelops (pip install -U jupyter-modelops) to open it.",
            )
        return found

    def _migrate(self, con: sqlite3.Connection) -> None:
        """Bring the schema up to date in one write transaction, after a backup copy."""
        con.execute("PRAGMA foreign_keys = OFF")  # no effect inside a transaction: set it before
        try:
            with self._tx(con):
                found = self._check_schema(con)  # another process may have migrated while we waited
                if found >= SCHEMA_VERSION:
                    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")  # reset by a release before migrations
                    return
                if found > 0:
                    self._backup(found)
                else:
                    for stmt in _DDL.split(";"):
                        if stmt.strip():
                            con.execute(stmt)
                for number in range(max(found, 1) + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[number].apply(con)
                broken = con.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise ModelOpsError(
                        f"Migrating the registry at {self.root} to schema {SCHEMA_VERSION} would break "
                        f"{len(broken)} references (first in table {broken[0][0]}), so it was left at schema {found}.",
                        hint="Report this as a bug with the registry folder; the registry still opens with the "
                        "release that wrote it.",
                    )
                con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                con.execute("DELETE FROM schema_version")
                con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            con.execute("PRAGMA foreign_keys = ON")

    def _backup(self, schema: int) -> Path:
        """Copy the database, as committed now, beside it (called while holding the write lock).

        A second connection reads through SQLite's backup API: it sees the last
        commit (WAL readers are not blocked) and, as we hold the write lock and
        wrote nothing yet, that is the state about to be migrated.
        """
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        dest = self.root / f"registry.db.schema{schema}-{stamp}-{uuid.uuid4().hex[:6]}.bak"
        part = dest.with_name(dest.name + ".part")
        src = sqlite3.connect(self.db_path, timeout=60.0)
        try:
            out = sqlite3.connect(part)
            try:
                src.backup(out)
            finally:
                out.close()
        finally:
            src.close()
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        os.replace(part, dest)
        _fsync_dir(self.root)
        return dest

    @property
    def con(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.con = self._connect()
            local.pid = os.getpid()
        return local.con

    @contextlib.contextmanager
    def _tx(self, con: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``: one writer at a time, readers go on)."""
        con = con or self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")

    def write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._tx()

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    # -- staging and blobs --------------------------------------------------
    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder under ``tmp/`` removed on exit (or by ``gc`` after a crash)."""
        path = self.tmp / f"{os.getpid()}-{uuid.uuid4().hex}"
        path.mkdir()
        self._active.add(path.name)
        try:
            yield path
        finally:
            self._active.discard(path.name)
            shutil.rmtree(path, ignore_errors=True)

    def stage_chunks(self, path: Path, chunks: list, sha256: str, size: int) -> StagedFile:
        """Stage bytes held in memory: written now unless the blob store already has them."""
        staged = StagedFile(path, sha256, size, chunks)
        if not self.has_blob(sha256):
            staged.write()
        return staged

    def stage(self, path: Path, *, sha256: str | None = None, size: int | None = None) -> StagedFile:
        """Hash and fsync a file that lives in a staging folder.

        A writer that hashed the bytes as it wrote them passes ``sha256`` and
        ``size``; the file is then only fsynced (and its size checked).
        """
        if sha256 is None or size is None:
            sha, n = hash_file(path, fsync=True)
            return StagedFile(path, sha, n)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
            if os.fstat(f.fileno()).st_size != size:
                raise ModelOpsError(f"The staged file {path.name} has the wrong size; nothing was stored.")
        return StagedFile(path, sha256, size)

    def stage_bytes(self, directory: Path, name: str, data: bytes) -> StagedFile:
        path = directory / name
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return StagedFile(path, hashlib.sha256(data).hexdigest(), len(data))

    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def has_blob(self, sha256: str) -> bool:
        return self.blob_path(sha256).exists()

    def place(self, staged: StagedFile) -> bool:
        """Move a staged file into the blob store (call inside a write transaction).

        Returns True if new bytes were stored, False if the blob already existed.
        """
        dest = self.blob_path(staged.sha256)
        if dest.exists() and dest.stat().st_size == staged.size:
            return False
        staged.write()  # a pending file whose blob vanished (gc) since it was staged
        dest.parent.mkdir(exist_ok=True)
        os.chmod(staged.path, 0o444)
        os.replace(staged.path, dest)
        _fsync_dir(dest.parent)
        return True

    def verify_blob(self, sha256: str, *, what: str) -> Path:
        """Return the blob path after checking its bytes still hash to ``sha256``."""
        path = self.blob_path(sha256)
        if not path.exists():
            raise ModelOpsError(
                f"The stored file of {what} is missing from the registry (sha256 {sha256[:12]}...).",
                hint="The registry folder was altered outside jupyter-modelops; restore it from a bundle.",
            )
        actual, _ = hash_file(path)
        if actual != sha256:
            raise ModelOpsError(
                f"The stored file of {what} is corrupted: its sha256 is {actual[:12]}... but "
                f"{sha256[:12]}... was recorded, so it was not loaded.",
                hint="Restore the version from a bundle or snapshot the model again.",
            )
        return path

    # -- maintenance --------------------------------------------------------
    def gc(self) -> dict[str, Any]:
        """Remove staging folders of dead writers and blobs no row references."""
        removed_tmp = 0
        for entry in self.tmp.iterdir():
            if entry.name in self._active:
                continue
            pid_text = entry.name.split("-", 1)[0]
            if pid_text.isdigit() and _pid_alive(int(pid_text)):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
            removed_tmp += 1
        removed, freed = 0, 0
        with self.write() as con:  # no writer can place blobs while we look
            referenced = {row[0] for row in con.execute("SELECT DISTINCT sha256 FROM artifacts")}
            for sub in self.blobs.iterdir():
                if not sub.is_dir():
                    continue
                for blob in sub.iterdir():
                    if blob.name not in referenced:
                        with contextlib.suppress(OSError):
                            freed += blob.stat().st_size
                            blob.unlink()
                            removed += 1
                with contextlib.suppress(OSError):
                    sub.rmdir()  # only when empty
        self.con.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return {"removed_blobs": removed, "freed_bytes": freed, "removed_staging": removed_tmp}

    def drop_unreferenced(self, con: sqlite3.Connection, shas: set[str]) -> int:
        """Inside a write transaction: unlink blobs among ``shas`` that no row references."""
        freed = 0
        for sha in shas:
            if con.execute("SELECT 1 FROM artifacts WHERE sha256 = ? LIMIT 1", (sha,)).fetchone():
                continue
            path = self.blob_path(sha)
            with contextlib.suppress(OSError):
                freed += path.stat().st_size
                path.unlink()
        return freed


_STORES: dict[str, Store] = {}
_LOCK = threading.Lock()


def default_store() -> Store:
    """The store under the current ``MODELOPS_HOME`` (read on every call)."""
    from ..config import subdir

    root = subdir("registry")
    key = str(root)
    store = _STORES.get(key)
    if store is None or not store.db_path.exists():
        with _LOCK:
            store = Store(root)
            _STORES[key] = store
    return store


def dumps(obj: Any) -> str:
    from .._html import to_jsonable

    return json.dumps(to_jsonable(obj), separators=(",", ":"), sort_keys=True)


def now() -> float:
    return time.time()
