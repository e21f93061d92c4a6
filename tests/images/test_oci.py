"""References, deterministic layers and the OCI layout (no registry needed)."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.images.oci import Entry, Layout, tree_entries, write_layer
from jupyter_modelops.images.reference import LayoutReference, parse_base, parse_reference


@pytest.mark.parametrize(
    "text, registry, repo, tag",
    [
        ("127.0.0.1:5000/churn:3", "127.0.0.1:5000", "churn", "3"),
        ("localhost/team/churn", "localhost", "team/churn", None),
        ("ghcr.io/org/model:v1.2", "ghcr.io", "org/model", "v1.2"),
        ("python:3.11-slim", "docker.io", "library/python", "3.11-slim"),
        ("docker://quay.io/a/b:c", "quay.io", "a/b", "c"),
    ],
)
def test_parse_reference(text, registry, repo, tag):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repo, tag)


def test_parse_reference_with_digest_and_loopback():
    ref = parse_reference("127.0.0.1:5000/churn@sha256:" + "a" * 64)
    assert ref.reference == "sha256:" + "a" * 64 and ref.is_loopback
    assert not parse_reference("registry.example.com/x").is_loopback
    assert parse_reference("localhost:5000/x").is_loopback


@pytest.mark.parametrize(
    "text, needle",
    [
        ("127.0.0.1:5000/Churn:3", "malformed repository"),
        ("127.0.0.1:5000/churn:bad tag!", "malformed"),
        ("127.0.0.1:5000/churn@sha256:xyz", "malformed digest"),
        ("", "empty"),
        ("127.0.0.1:5000/", "malformed"),
    ],
)
def test_malformed_reference_is_one_sentence(text, needle):
    with pytest.raises(ValidationError) as info:
        parse_reference(text, what="push target")
    msg = str(info.value)
    assert needle in msg and "expected" in msg
    assert "\n" not in msg


def test_parse_base(tmp_path):
    assert parse_base("scratch") is None
    assert isinstance(parse_base(tmp_path), LayoutReference)
    lr = parse_base(f"oci:{tmp_path}:v1")
    assert isinstance(lr, LayoutReference) and lr.tag == "v1" and lr.path == tmp_path


def _members(blob: bytes, gz: bool):
    data = gzip.decompress(blob) if gz else blob
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode, m.type) for m in tar.getmembers()]


@pytest.mark.parametrize("compress", [True, False])
def test_layers_are_deterministic(tmp_path, compress):
    src = tmp_path / "src"
    (src / "b").mkdir(parents=True)
    (src / "b" / "z.txt").write_text("z")
    (src / "a.sh").write_text("#!/bin/sh\n")
    (src / "a.sh").chmod(0o700)
    (src / "b" / "y.bin").write_bytes(b"\0" * 1000)
    (src / "b" / "x.pyc").write_bytes(b"junk")
    outs = []
    for i in range(2):
        buf = io.BytesIO()
        import os
        import time

        os.utime(src / "b" / "z.txt", (time.time() + i * 100, time.time() + i * 100))  # mtime must not matter
        ids = write_layer(tree_entries(src, "opt/x") + [Entry("etc/note", data=b"hi")], buf, compress=compress)
        outs.append((ids, buf.getvalue()))
    assert outs[0] == outs[1]
    diff_id, digest, size = outs[0][0]
    assert size == len(outs[0][1]) and (digest == diff_id) == (not compress)
    if compress:
        assert outs[0][1][4:8] == b"\0\0\0\0"  # gzip MTIME field
    members = _members(outs[0][1], compress)
    names = [m[0] for m in members]
    assert names == sorted(names) and "opt/x/b/x.pyc" not in names
    assert {"etc", "opt", "opt/x", "opt/x/a.sh", "opt/x/b/z.txt", "etc/note"} <= set(names)
    for name, mtime, uid, gid, uname, gname, mode, typ in members:
        assert (mtime, uid, gid, uname, gname) == (0, 0, 0, "", "")
        if typ == tarfile.DIRTYPE or name == "opt/x/a.sh":
            assert mode == 0o755, name
        else:
            assert mode == 0o644, name


def test_layout_tags_and_missing(tmp_path):
    from jupyter_modelops.exceptions import ModelNotFoundError
    from jupyter_modelops.images.oci import MANIFEST, Descriptor

    lay = Layout(tmp_path / "l", create=True)
    d = lay.put_bytes(b"{}")
    lay.tag("m:1", Descriptor(MANIFEST, d, 2))
    lay.tag("m:2", Descriptor(MANIFEST, d, 2))
    assert set(lay.tags()) == {"m:1", "m:2"} and lay.resolve("m:1").digest == d
    with pytest.raises(ModelNotFoundError, match="no image tagged 'm:3'.*Did you mean"):
        lay.resolve("m:3")
    with pytest.raises(ModelNotFoundError, match="not an OCI image layout"):
        Layout(tmp_path)


def test_dependency_layer_is_resolved_for_the_target_and_cached(tmp_path, monkeypatch):
    """pip resolves for the image's platform and Python (here 3.12 on linux/arm64, not this machine) and caches."""
    import tarfile

    from jupyter_modelops.images.deps import dependency_layer

    monkeypatch.setenv("MODELOPS_IMAGE_CACHE", str(tmp_path / "cache"))
    reqs = ["six==1.17.0", "charset-normalizer==3.4.2"]  # a pure wheel and a compiled one
    layer, blob = dependency_layer(reqs, platform="linux/arm64", python_version="3.12")
    assert not layer.reused and layer.descriptor.digest.startswith("sha256:")
    with tarfile.open(blob) as tar:
        names = tar.getnames()
    assert "opt/modelops/deps/six.py" in names
    compiled = [n for n in names if n.endswith(".so")]
    assert compiled and all("cpython-312-aarch64" in n for n in compiled if "cpython" in n)
    assert not [n for n in names if n.startswith("opt/modelops/deps/bin/")]  # no console scripts with our interpreter
    again, _ = dependency_layer(reqs, platform="linux/arm64", python_version="3.12")
    assert again.reused and again.descriptor.digest == layer.descriptor.digest
    blob.write_bytes(b"damaged")  # a damaged cache entry is rebuilt, not trusted
    rebuilt, _ = dependency_layer(reqs, platform="linux/arm64", python_version="3.12")
    assert not rebuilt.reused and rebuilt.descriptor.digest == layer.descriptor.digest


def test_results_repr_is_one_line():
    from jupyter_modelops.images import ArtifactTransfer, BuildContext, Image

    img = Image(
        name="m",
        version=1,
        digest="sha256:" + "a" * 64,
        size=2_000_000,
        layers=[],
        layout="/x",
        tag="1",
        platform="linux/amd64",
        base="scratch",
        config_digest="sha256:" + "b" * 64,
        entrypoint=[],
        cmd=[],
    )
    assert repr(img) == "<Image m:1 sha256:aaaaaaaaaaaa 2.0 MB, 0 layers (0 reused) at oci:/x:m:1>"
    assert "\n" not in repr(ArtifactTransfer("push", "m:1", "r/m:1@sha256:x", "sha256:x", 10))
    assert repr(BuildContext("/ctx", "scratch", "FROM scratch\n", 3)).startswith("<BuildContext /ctx")
