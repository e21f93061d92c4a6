"""Bundles are checked from their manifest before anything is written; same bundle twice, no new version.

Every bundle here is a real tar file written by hand (``tarfile``), the way a
hostile or broken one would be.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.registry import export_bundle, import_bundle


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return path


def _members(bundle: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(bundle) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]


def _written(home: Path) -> list[Path]:
    """Files the registry holds in its blob store and staging area."""
    reg = home / "registry"
    return [p for sub in ("blobs", "tmp") for p in (reg / sub).rglob("*") if p.is_file()]


@pytest.fixture
def good(sk_pipeline, churn_data, tmp_path):
    mo.snapshot(
        sk_pipeline, "churn", data=churn_data[0].head(50)
    )  # three files: the model, a drift profile, the stored sample
    path = tmp_path / "good.mobundle"
    export_bundle("churn", path)
    return path


def _with_manifest(good: Path, tmp_path: Path, edit, name: str = "edited.mobundle") -> Path:
    members = _members(good)
    manifest = json.loads(members[0][1])
    edit(manifest)
    return _tar(tmp_path / name, [("manifest.json", json.dumps(manifest).encode())] + members[1:])


def test_many_members_without_a_manifest_are_refused_at_the_first_header(tmp_path, monkeypatch):
    path = tmp_path / "many.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(20_000):
            data = f"{i}".encode()
            ti = tarfile.TarInfo(f"blobs/{hashlib.sha256(data).hexdigest()}")
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    home = tmp_path / "home"
    monkeypatch.setenv("MODELOPS_HOME", str(home))
    with pytest.raises(ValidationError, match=r"its first member is 'blobs/[0-9a-f]{64}', not manifest.json"):
        import_bundle(path)
    assert _written(home) == []


def test_members_the_manifest_does_not_list_stop_the_import(good, tmp_path, monkeypatch):
    members = _members(good)
    extra = [(f"blobs/{hashlib.sha256(str(i).encode()).hexdigest()}", str(i).encode()) for i in range(50)]
    path = _tar(tmp_path / "extra.mobundle", members[:1] + extra + members[1:])
    home = tmp_path / "home"
    monkeypatch.setenv("MODELOPS_HOME", str(home))
    with pytest.raises(ValidationError, match="holds a member its manifest does not list"):
        import_bundle(path)
    assert _written(home) == []
    assert len(mo.models().rows) == 0


def test_limits_on_files_and_bytes_are_checked_from_the_manifest(good, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "home"))
    n = len(json.loads(_members(good)[0][1])["blobs"])
    with pytest.raises(ValidationError, match=f"more than the limit of {n - 1}"):
        import_bundle(good, max_files=n - 1)
    with pytest.raises(ValidationError, match="more than the limit of 10"):
        import_bundle(good, max_bytes=10)
    monkeypatch.setenv("MODELOPS_BUNDLE_MAX_BYTES", "10")
    with pytest.raises(ValidationError, match="MODELOPS_BUNDLE_MAX_BYTES"):
        import_bundle(good)
    monkeypatch.setenv("MODELOPS_BUNDLE_MAX_BYTES", "lots")
    with pytest.raises(ValidationError, match="MODELOPS_BUNDLE_MAX_BYTES='lots' is not a whole number"):
        import_bundle(good)
    monkeypatch.delenv("MODELOPS_BUNDLE_MAX_BYTES")
    with pytest.raises(ValidationError, match="max_files must be a positive whole number"):
        import_bundle(good, max_files=0)
    assert import_bundle(good).refs == ["churn:1"]


def test_a_member_larger_than_its_manifest_says_is_refused(good, tmp_path, monkeypatch):
    members = _members(good)
    name, data = members[1]
    path = _tar(tmp_path / "grown.mobundle", [members[0], (name, data + b"more")] + members[2:])
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "home"))
    with pytest.raises(ValidationError, match="bytes but its manifest says"):
        import_bundle(path)


def _del(key):
    def edit(m):
        del m[key]

    return edit


def _set(path, value):
    def edit(m):
        node = m
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    "edit, words",
    [
        (_del("versions"), "lists no versions"),
        (_set(["versions"], "churn"), "lists no versions"),
        (_set(["schema"], "one"), "schema is 'one'"),
        (_del("blobs"), "no 'blobs' table"),
        (_set(["versions", 0], 7), "a version entry is a int"),
        (_set(["versions", 0, "artifacts"], []), "lists no files"),
        (_set(["versions", 0, "artifacts", "model"], "x"), "is not an object"),
        (_set(["versions", 0, "artifacts", "model", "sha256"], "0" * 64), "is not among the bundle's files"),
        (_set(["versions", 0, "meta"], None), "has no metadata object"),
        (_set(["versions", 0, "meta", "environment"], "py3"), "'environment' of"),
        (_set(["versions", 0, "version"], "1"), "no positive version number"),
        (_set(["versions", 0, "name"], "../x"), "invalid model name"),
        (_set(["versions", 0, "flavor"], "mystery"), "flavor 'mystery', which is not installed here"),
        (_set(["versions", 0, "records"], [{"kind": 3}]), "is not an object with 'kind'"),
    ],
)
def test_malformed_manifests_get_one_sentence(good, tmp_path, monkeypatch, edit, words):
    bad = _with_manifest(good, tmp_path, edit)
    home = tmp_path / "home"
    monkeypatch.setenv("MODELOPS_HOME", str(home))
    with pytest.raises(ValidationError, match="is not a valid model bundle") as info:
        import_bundle(bad)
    assert words in str(info.value) and "nothing was imported" in str(info.value)
    assert _written(home) == []


def test_a_truncated_bundle_gets_one_sentence(good, tmp_path, monkeypatch):
    raw = good.read_bytes()
    cut = tmp_path / "cut.mobundle"
    cut.write_bytes(raw[: len(raw) // 2])
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "home"))
    with pytest.raises(ValidationError, match="nothing was imported|is not a model bundle"):
        import_bundle(cut)


def test_importing_the_same_bundle_twice_creates_no_new_version(good, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "home"))
    first = import_bundle(good)
    again = import_bundle(good)
    assert first.refs == again.refs == ["churn:1"]
    assert first.existing == [] and again.existing == ["churn:1"]
    assert mo.versions("churn").numbers() == [1]
    # under another name it is another model; twice is still one version
    assert import_bundle(good, name="copy").refs == import_bundle(good, name="copy").refs == ["copy:1"]
    assert mo.versions("copy").numbers() == [1]


def test_the_bundle_verb_passes_the_limits(good, tmp_path, monkeypatch):
    from jupyter_modelops.registry import bundle_command

    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "home"))
    with pytest.raises(ValidationError, match="more than the limit of 1 "):
        bundle_command("import", [str(good)], max_files=1)
    with pytest.raises(ValidationError, match="apply to bundle import only"):
        bundle_command("export", ["churn:1", str(tmp_path / "x.mobundle")], max_bytes=5)
    assert bundle_command("import", [str(good)], max_files=3).refs == ["churn:1"]
