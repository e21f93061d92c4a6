"""Schema migrations on a registry written by the first release (``tests/data/registry-v1``)."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ConflictError, ModelNotFoundError, ModelOpsError
from jupyter_modelops.registry import alias_history, export_bundle, import_bundle, load_model_dir, snapshot_file
from jupyter_modelops.registry import store as store_mod

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "registry-v1" / "registry"
X = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["tenure", "spend", "calls"])


def _copy_fixture(home: Path) -> Path:
    """The schema-1 registry copied into ``home`` (the repository's copy is never opened)."""
    reg = home / "registry"
    reg.mkdir(parents=True)
    shutil.copyfile(FIXTURE / "registry.db", reg / "registry.db")
    shutil.copytree(FIXTURE / "blobs", reg / "blobs")
    return reg


def _user_version(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_fixture_is_schema_1():
    assert _user_version(FIXTURE / "registry.db") == 1
    assert store_mod.SCHEMA_VERSION >= 2  # so the tests below do migrate


def test_migrations_are_numbered_without_gaps():
    assert sorted(store_mod.MIGRATIONS) == list(range(2, store_mod.SCHEMA_VERSION + 1))
    for number, m in store_mod.MIGRATIONS.items():
        assert m.version == number and m.description and callable(m.apply)
    with pytest.raises(ValueError, match="defined twice"):
        store_mod.migration(2, "again")(lambda con: None)


def test_v1_registry_migrates_and_every_function_works(modelops_home, tmp_path):
    reg = _copy_fixture(modelops_home)
    before = _dump(reg / "registry.db")

    listing = mo.models()  # the first open migrates
    assert _user_version(reg / "registry.db") == store_mod.SCHEMA_VERSION
    backups = sorted(reg.glob("registry.db.schema1-*.bak"))
    assert len(backups) == 1 and not list(reg.glob("*.part"))
    assert _dump(backups[0]) == before  # the copy holds the database as it was
    assert _user_version(backups[0]) == 1

    # reading
    assert {r["name"]: (r["versions"], r["latest"], r["aliases"]) for r in listing.to_dict()["models"]} == {
        "churn": (3, 3, {"production": 1, "staging": 2}),
        "fraud": (1, 1, {"production": 1}),
    }
    assert mo.versions("churn").numbers() == [3, 2, 1]
    assert [(h["alias"], h["version"], h["previous"]) for h in alias_history("churn")] == [
        ("staging", 1, None),
        ("staging", 2, 1),
        ("production", 1, None),
    ]
    v2 = mo.get("churn@staging")
    assert v2.version == 2 and v2.params == {"C": 0.1} and v2.notes == "more regularized"
    assert v2.metrics["f1_score"] == {"value": 0.92, "low": 0.83, "high": 0.98}
    assert mo.get("churn:1").tags == {"team": "retention"} and mo.get("churn:3").parent == "churn:2"
    with pytest.raises(ModelNotFoundError, match="Did you mean: production"):
        mo.get("churn@prodution")
    model = mo.load("churn@production")
    assert model.C == 1.0 and model.predict(X).shape == (40,)
    assert mo.get("churn:1").profile() is not None
    assert mo.artifact_path("churn:2", "notes-file").read_bytes() == b"checked by hand\n"
    d = mo.materialize("churn:2", tmp_path / "dir")
    assert load_model_dir(d).C == 0.1
    assert [(r["ref"], r["kind"]) for r in mo.records("churn")] == [
        ("churn:1", "deployment"),
        ("churn:2", "export"),
        ("churn:3", "report"),
    ]
    assert mo.records(kind="deployment")[1]["ref"] == "fraud:1"
    assert "C" in mo.diff("churn:1", "churn:2").to_dict()["params"]

    # writing
    mo.alias("churn:3", "staging")
    assert mo.get("churn@staging").version == 3
    mo.attach_artifact("churn:3", "onnx", b"pretend onnx", metadata={"format": "onnx"})
    assert mo.add_record("churn:3", "export", {"format": "onnx"})["ref"] == "churn:3"
    from sklearn.linear_model import LogisticRegression

    y = (X["tenure"] > 0).astype(int)
    assert mo.snapshot(LogisticRegression().fit(X, y), "churn", data=X).version == 4  # the counter carried over
    with pytest.raises(ConflictError, match="production"):
        mo.delete("churn:1")
    out = mo.delete("churn:1", force=True)
    assert out["aliases_removed"] == ["production"] and out["records_removed"] == 1
    assert [r["ref"] for r in mo.records("churn", kind="deployment")] == []
    mo.alias("fraud:1", "production", remove=True)
    assert mo.get("fraud:1").aliases == []
    import skops.io

    skops.io.dump(mo.load("churn:2"), tmp_path / "m.skops")
    X.to_csv(tmp_path / "x.csv", index=False)
    assert snapshot_file(tmp_path / "m.skops", "fraud", data=str(tmp_path / "x.csv")).ref == "fraud:2"
    import torch

    from registry.nets import SmallNet

    net = SmallNet(n_in=3, hidden=4)
    mo.checkpoint(net, "trainer", step=1)
    fresh = SmallNet(n_in=3, hidden=4)
    assert mo.restore_checkpoint("trainer", model=fresh).step == 1
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), net.state_dict().values()))
    bundle = export_bundle(["churn:2", "fraud:1"], tmp_path / "b.mobundle")
    assert bundle.refs == ["churn:2", "fraud:1"]
    assert import_bundle(tmp_path / "b.mobundle", name="copy").refs == ["copy:1", "copy:2"]
    assert mo.gc().removed_blobs == 0
    con = sqlite3.connect(reg / "registry.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    con.close()

    # a second open finds the schema current: no new backup
    store_mod._STORES.clear()
    mo.models()
    assert len(list(reg.glob("registry.db.schema1-*.bak"))) == 1


def test_an_older_release_opening_the_registry_does_not_make_it_migrate_again(modelops_home):
    reg = _copy_fixture(modelops_home)
    mo.alias("churn:3", "staging")  # migrated, then used
    con = sqlite3.connect(reg / "registry.db")
    with con:  # what every open by the first release does
        con.executescript(f"BEGIN IMMEDIATE; {store_mod._DDL}; PRAGMA user_version = 1; COMMIT;")
    con.close()
    assert _user_version(reg / "registry.db") == 1
    store_mod._STORES.clear()
    assert mo.get("churn@staging").version == 3 and len(mo.records()) == 4
    assert _user_version(reg / "registry.db") == store_mod.SCHEMA_VERSION
    assert len(list(reg.glob("*.bak"))) == 1  # no second backup, no migration run twice


def test_records_of_versions_deleted_before_the_upgrade_are_dropped(modelops_home):
    reg = _copy_fixture(modelops_home)
    con = sqlite3.connect(reg / "registry.db")
    with con:  # what delete() of schema 1 did: the version's rows go, its records stay
        vid = con.execute("SELECT id FROM versions WHERE name = 'churn' AND version = 3").fetchone()[0]
        con.execute("DELETE FROM artifacts WHERE version_id = ?", (vid,))
        con.execute("DELETE FROM version_meta WHERE version_id = ?", (vid,))
        con.execute("DELETE FROM versions WHERE id = ?", (vid,))
    assert con.execute("SELECT COUNT(*) FROM records WHERE version = 3").fetchone()[0] == 1
    con.close()
    assert [(r["ref"], r["kind"]) for r in mo.records()] == [
        ("churn:1", "deployment"),
        ("churn:2", "export"),
        ("fraud:1", "deployment"),
    ]


def test_newer_registry_is_refused_and_left_untouched(modelops_home):
    reg = _copy_fixture(modelops_home)
    con = sqlite3.connect(reg / "registry.db")
    con.execute(f"PRAGMA user_version = {store_mod.SCHEMA_VERSION + 1}")
    con.close()
    before = _sha(reg / "registry.db")
    with pytest.raises(ModelOpsError, match=r"newer than the \d+ this jupyter-modelops understands") as err:
        mo.models()
    assert "pip install -U jupyter-modelops" in str(err.value) and "\n" not in str(err.value)
    assert _sha(reg / "registry.db") == before and not list(reg.glob("*.bak"))


def test_newer_registry_reset_by_the_first_release_is_still_refused(modelops_home):
    reg = _copy_fixture(modelops_home)
    con = sqlite3.connect(reg / "registry.db")
    with con:  # written by a newer release, then opened by the first one (which sets user_version to 1)
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        con.execute("INSERT INTO schema_version VALUES (?)", (store_mod.SCHEMA_VERSION + 1,))
    con.close()
    with pytest.raises(ModelOpsError, match="newer than"):
        mo.models()
    assert _user_version(reg / "registry.db") == 1 and not list(reg.glob("*.bak"))


def test_a_failing_migration_leaves_the_registry_as_it_was(modelops_home):
    reg = _copy_fixture(modelops_home)
    top = store_mod.SCHEMA_VERSION + 1

    def half_done(con):
        con.execute("DELETE FROM records")
        con.execute("CREATE TABLE half (x)")
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.MonkeyPatch.context() as mp_:
        mp_.setitem(store_mod.MIGRATIONS, top, store_mod.Migration(top, "fails", half_done))
        mp_.setattr(store_mod, "SCHEMA_VERSION", top)
        with pytest.raises(sqlite3.OperationalError):
            mo.models()
    con = sqlite3.connect(reg / "registry.db")
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 4
    assert con.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchone() is None
    con.close()
    store_mod._STORES.clear()  # the real code then migrates it
    assert mo.get("churn@production").version == 1


def test_migration_that_breaks_references_is_refused(modelops_home, monkeypatch):
    reg = _copy_fixture(modelops_home)
    top = store_mod.SCHEMA_VERSION + 1

    def orphans(con):
        con.execute("DELETE FROM versions WHERE version = 2")  # foreign keys are off during migrations

    monkeypatch.setitem(store_mod.MIGRATIONS, top, store_mod.Migration(top, "breaks", orphans))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", top)
    with pytest.raises(ModelOpsError, match="would break .* references"):
        mo.models()
    assert _user_version(reg / "registry.db") == 1


def _opener(home: str, top: int, barrier, out) -> None:
    os.environ["MODELOPS_HOME"] = home
    import jupyter_modelops as mo
    from jupyter_modelops.registry import store as store_mod

    def slow(con):  # long enough that every opener arrives while it runs
        con.execute("CREATE TABLE IF NOT EXISTS migrated_by (pid INTEGER)")
        con.execute("INSERT INTO migrated_by VALUES (?)", (os.getpid(),))
        time.sleep(1.0)

    store_mod.MIGRATIONS[top] = store_mod.Migration(top, "slow", slow)
    store_mod.SCHEMA_VERSION = top
    barrier.wait(timeout=60)
    out.put((os.getpid(), [r["name"] for r in mo.models().to_dict()["models"]], mo.get("churn@staging").version))


def test_concurrent_openers_migrate_once(modelops_home):
    reg = _copy_fixture(modelops_home)
    top = store_mod.SCHEMA_VERSION + 1
    procs = 4
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    out = ctx.Queue()
    workers = [ctx.Process(target=_opener, args=(str(modelops_home), top, barrier, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert all(names == ["churn", "fraud"] and staging == 2 for _, names, staging in results)
    con = sqlite3.connect(reg / "registry.db")
    assert con.execute("PRAGMA user_version").fetchone()[0] == top
    assert len(con.execute("SELECT pid FROM migrated_by").fetchall()) == 1  # one process did the work
    con.close()
    assert len(list(reg.glob("registry.db.schema1-*.bak"))) == 1


def test_new_registry_gets_the_current_schema(modelops_home):
    mo.snapshot({"a": 1}, "tiny", trusted=True)
    reg = modelops_home / "registry"
    assert _user_version(reg / "registry.db") == store_mod.SCHEMA_VERSION
    assert not list(reg.glob("*.bak"))  # nothing to back up
