"""Write the registry of ``tests/data/registry-v1/`` (schema 1, jupyter-modelops 0.x before migrations).

Kept for the record: it ran once with the code of that release and its output
is committed. Later code opens that output to prove it migrates old registries;
running this script with later code would write the newer schema instead.

    MODELOPS_HOME=/tmp/fixture python tests/data/registry-v1/make_fixture.py
    # then copy $MODELOPS_HOME/registry/{registry.db,blobs} into registry/ here
"""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import jupyter_modelops as mo
from jupyter_modelops.registry import store as store_mod

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["tenure", "spend", "calls"])
y = (X["tenure"] + 0.5 * X["spend"] > 0).astype(int)

v1 = mo.snapshot(
    LogisticRegression(C=1.0).fit(X, y),
    "churn",
    data=X,
    params={"C": 1.0},
    report={"metrics": {"f1_score": {"value": 0.9, "low": 0.8, "high": 0.97}}},
    tags={"team": "retention"},
    alias="staging",
    notes="first fit",
)
v2 = mo.snapshot(
    LogisticRegression(C=0.1).fit(X, y),
    "churn",
    data=X,
    params={"C": 0.1},
    report={"metrics": {"f1_score": {"value": 0.92, "low": 0.83, "high": 0.98}}},
    alias="staging",
    notes="more regularized",
)
mo.alias("churn:1", "production")
v3 = mo.snapshot(LogisticRegression(C=10.0).fit(X, y), "churn", params={"C": 10.0})
mo.attach_artifact(v2, "notes-file", b"checked by hand\n", metadata={"format": "text", "filename": "notes.txt"})
mo.add_record(v1, "deployment", {"target": "local", "url": "http://127.0.0.1:8080"})
mo.add_record(v2, "export", {"format": "onnx", "parity": {"max_abs_diff": 0.0}})
mo.add_record(v3, "report", {"template": "monitoring", "status": "ok"})
mo.snapshot(LogisticRegression().fit(X.iloc[:, :2], y), "fraud", data=X.iloc[:, :2], alias="production")
mo.add_record("fraud:1", "deployment", {"target": "local"})

# no machine-specific values in the committed file
s = store_mod.default_store()
with s.write() as con:
    con.execute("UPDATE versions SET user = 'modelops', created = 1767225600 + id")
    con.execute("UPDATE alias_history SET user = 'modelops', at = 1767225600 + id")
    con.execute("UPDATE aliases SET updated = 1767225600")
    con.execute("UPDATE models SET created = 1767225600")
    con.execute("UPDATE artifacts SET created = 1767225600")
    con.execute("UPDATE records SET created = 1767225600 + id")
    for vid, meta in con.execute("SELECT version_id, meta FROM version_meta").fetchall():
        import json

        m = json.loads(meta)
        m["git"], m["notebook"] = None, None
        con.execute(
            "UPDATE version_meta SET meta = ? WHERE version_id = ?",
            (json.dumps(m, separators=(",", ":"), sort_keys=True), vid),
        )
s.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c = sqlite3.connect(s.db_path)
c.execute("VACUUM")
c.close()
print(os.environ["MODELOPS_HOME"])
