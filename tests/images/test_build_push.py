"""Build and push against Debian's real docker-registry on loopback; read back with skopeo and umoci."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jupyter_modelops.exceptions import BuildError, ModelNotFoundError, RegistryAuthError, ValidationError
from jupyter_modelops.images import build
from jupyter_modelops.images.oci import Layout
from realparts import free_port

from .conftest import skopeo, write_model_dir

# These tests build on base="scratch" on purpose: layouts, digests and pushes do not depend on a base,
# and the tests stay offline. Such an image cannot start (build() warns; test_scratch.py covers that).
pytestmark = pytest.mark.filterwarnings("ignore::jupyter_modelops.exceptions.ModelOpsWarning")

BLOB_WRITES = ("POST", "PATCH", "PUT")


def _blob_writes(reqs):
    return [r for r in reqs if r["method"] in BLOB_WRITES and "/blobs/" in r["uri"]]


def test_build_twice_gives_one_digest_and_reuses_layers(session_model_dir, tmp_path, monkeypatch):
    first = build(session_model_dir, base="scratch", progress=False)
    second = build(session_model_dir, base="scratch", progress=False)
    assert first.digest == second.digest and first.digest.startswith("sha256:")
    assert [la["role"] for la in second.layers] == ["dependencies", "app", "model"]
    assert second.reused == 3
    # another home, another machine: still the same digest
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "elsewhere"))
    assert build(session_model_dir, base="scratch", progress=False).digest == first.digest
    # the model layer is stored uncompressed; the others are gzip
    media = {la["role"]: la["media_type"] for la in first.layers}
    assert media["model"].endswith("tar") and media["dependencies"].endswith("tar+gzip")


def test_config_runs_the_server_as_non_root_with_labels(session_model_dir):
    img = build(session_model_dir, base="scratch", progress=False, tag="v1")
    layout = Layout(Path(img.layout))
    manifest = json.loads(layout.read_blob(img.digest))
    config = json.loads(layout.read_blob(manifest["config"]["digest"]))
    inner = config["config"]
    assert inner["User"] == "65532:65532" and inner["WorkingDir"] == "/opt/model"
    assert inner["Entrypoint"] == ["python3", "-m", "jupyter_modelops.serving"]
    assert inner["Cmd"] == ["--model-dir", "/opt/model", "--host", "0.0.0.0", "--port", "8080"]
    assert "8080/tcp" in inner["ExposedPorts"]
    spec = json.loads((session_model_dir / "modelops-model.json").read_text())
    labels = inner["Labels"]
    assert labels["org.opencontainers.image.title"] == "toy" and labels["org.opencontainers.image.version"] == "1"
    assert labels["io.jupyter-modelops.artifact.onnx.sha256"] == spec["artifacts"]["onnx"]["sha256"]
    assert manifest["annotations"]["io.jupyter-modelops.runtime"] == "onnx"
    assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"]) == 3
    assert img.tag == "v1" and img.layout_name == "toy:v1" and "toy:v1" in layout.tags()


def test_skopeo_reads_the_local_layout(session_model_dir):
    img = build(session_model_dir, base="scratch", progress=False)
    out = skopeo("inspect", "--raw", img.location).stdout
    from jupyter_modelops.images.oci import sha256_digest

    assert sha256_digest(out.encode()) == img.digest


def test_push_then_skopeo_inspect_reports_our_digest(session_model_dir, registry):
    img = build(session_model_dir, base="scratch", push=f"{registry.host}/models/toy:1", progress=False)
    assert img.pushed == f"{registry.host}/models/toy:1@{img.digest}"
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/models/toy:1").stdout)
    assert info["Digest"] == img.digest
    assert info["Labels"]["io.jupyter-modelops.model.name"] == "toy"
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    # (skopeo copy + umoci unpack byte for byte: see test_end_to_end.py, which then runs what it unpacked)


def test_second_push_sends_no_blobs(session_model_dir, registry):
    target = f"{registry.host}/models/toy:1"
    first = build(session_model_dir, base="scratch", push=target, progress=False)
    assert first.push_stats["uploaded"] == 4  # config + three layers
    mark = registry.mark()
    again = build(session_model_dir, base="scratch", push=target, progress=False)
    reqs = registry.since(mark)
    assert again.digest == first.digest
    assert _blob_writes(reqs) == []
    assert not [r for r in reqs if r["method"] == "PUT"]  # not even the manifest: the tag already points at it
    assert {r["method"] for r in reqs} == {"HEAD"}
    assert again.push_stats["uploaded"] == 0 and again.push_stats["present"] == 4


def test_cross_repository_mount_is_used(session_model_dir, registry):
    build(session_model_dir, base="scratch", push=f"{registry.host}/team-a/toy:1", progress=False)
    mark = registry.mark()
    img = build(session_model_dir, base="scratch", push=f"{registry.host}/team-b/toy:1", progress=False)
    reqs = registry.since(mark)
    mounts = [r for r in reqs if r["method"] == "POST" and "mount=" in r["uri"]]
    assert len(mounts) == 4 and all(r["status"] == 201 and "from=team-a" in r["uri"] for r in mounts)
    assert not [r for r in reqs if r["method"] in ("PUT", "PATCH") and "/blobs/" in r["uri"]]
    assert img.push_stats["mounted"] == 4
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/team-b/toy:1").stdout)
    assert info["Digest"] == img.digest


def test_chunked_upload(session_model_dir, registry):
    img = build(
        session_model_dir, base="scratch", push=f"{registry.host}/chunked/toy:1", chunk_size=4 << 20, progress=False
    )
    reqs = registry.since(0)
    patches = [r for r in reqs if r["method"] == "PATCH"]
    dep = next(la for la in img.layers if la["role"] == "dependencies")
    assert len(patches) >= dep["size"] // (4 << 20)
    assert all(r["status"] == 202 for r in patches)
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/chunked/toy:1").stdout)
    assert info["Digest"] == img.digest


def test_base_from_registry_is_mounted_not_downloaded_twice(session_model_dir, registry):
    base = build(
        session_model_dir, base="scratch", tag="base", push=f"{registry.host}/bases/toy-base:1", progress=False
    )
    mark = registry.mark()
    img = build(
        session_model_dir, base=f"{registry.host}/bases/toy-base:1", push=f"{registry.host}/apps/toy:1", progress=False
    )
    reqs = registry.since(mark)
    base_digests = [la["digest"] for la in base.layers]
    assert [la["role"] for la in img.layers][:3] == ["base", "base", "base"]
    assert [la["digest"] for la in img.layers[:3]] == base_digests
    mounted = [r for r in reqs if r["method"] == "POST" and "mount=" in r["uri"] and r["status"] == 201]
    assert {r["uri"].split("mount=")[1].split("&")[0].replace("%3A", ":") for r in mounted} >= set(base_digests)
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/apps/toy:1").stdout)
    assert info["Digest"] == img.digest and len(info["Layers"]) == 6


# ----------------------------------------------------------------------------- auth


def _login(docker_config: Path, host: str, user: str, password: str) -> None:
    import base64

    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


def test_push_with_htpasswd_basic_auth(session_model_dir, start_registry, docker_config):
    reg = start_registry(users={"alice": "s3cret"})
    _login(docker_config, reg.host, "alice", "s3cret")
    img = build(session_model_dir, base="scratch", push=f"{reg.host}/private/toy:1", progress=False)
    info = json.loads(
        skopeo("inspect", "--tls-verify=false", "--creds", "alice:s3cret", f"docker://{reg.host}/private/toy:1").stdout
    )
    assert info["Digest"] == img.digest
    # skopeo without credentials is refused: the auth is real
    with pytest.raises(subprocess.CalledProcessError):
        skopeo("inspect", "--tls-verify=false", "--no-creds", f"docker://{reg.host}/private/toy:1")


def test_wrong_password_names_the_credentials_and_how_to_log_in(session_model_dir, start_registry, docker_config):
    reg = start_registry(users={"alice": "s3cret"})
    _login(docker_config, reg.host, "alice", "wrong")
    with pytest.raises(RegistryAuthError) as info:
        build(session_model_dir, base="scratch", push=f"{reg.host}/private/toy:1", progress=False)
    msg = str(info.value)
    assert "401" in msg and "user 'alice'" in msg and str(docker_config / "config.json") in msg
    assert f"docker login {reg.host}" in msg and "\n" not in msg


def test_no_credentials_says_where_it_looked(session_model_dir, start_registry, docker_config):
    reg = start_registry(users={"alice": "s3cret"})
    with pytest.raises(RegistryAuthError) as info:
        build(session_model_dir, base="scratch", push=f"{reg.host}/private/toy:1", progress=False)
    msg = str(info.value)
    assert "no credentials were found" in msg and str(docker_config / "config.json") in msg
    assert "docker login" in msg


@pytest.mark.parametrize("kind", ["credHelpers", "credsStore"])
def test_credential_helpers(session_model_dir, start_registry, docker_config, tmp_path, monkeypatch, kind):
    reg = start_registry(users={"bob": "hunter2"})
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-testhelper"
    calls = tmp_path / "helper-calls.txt"
    helper.write_text(
        "#!/bin/sh\n"
        f'read server; echo "$1 $server" >> {calls}\n'
        'printf \'{"ServerURL":"%s","Username":"bob","Secret":"hunter2"}\' "$server"\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    cfg = (
        {"credHelpers": {reg.host: "testhelper"}}
        if kind == "credHelpers"
        else {"credsStore": "testhelper", "auths": {reg.host: {}}}
    )
    (docker_config / "config.json").write_text(json.dumps(cfg))
    img = build(session_model_dir, base="scratch", push=f"{reg.host}/private/toy:1", progress=False)
    assert img.pushed and calls.read_text().startswith(f"get {reg.host}")


# ----------------------------------------------------------------------------- bad input


def test_unreachable_registry_names_the_url_and_cause(session_model_dir):
    port = free_port()
    with pytest.raises(BuildError) as info:
        build(session_model_dir, base="scratch", push=f"127.0.0.1:{port}/toy:1", progress=False)
    msg = str(info.value)
    assert f"http://127.0.0.1:{port}/v2/" in msg and "refused" in msg.lower() and "\n" not in msg


def test_malformed_push_target(session_model_dir):
    with pytest.raises(ValidationError, match="push target 'Bad Repo:x'.*expected"):
        build(session_model_dir, base="scratch", push="Bad Repo:x", progress=False)


def test_missing_base_image(session_model_dir, registry, tmp_path):
    with pytest.raises(ModelNotFoundError) as info:
        build(session_model_dir, base=f"{registry.host}/no/such:image", progress=False)
    assert f"{registry.host}/no/such:image was not found" in str(info.value)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        build(session_model_dir, base=tmp_path / "nope", progress=False)


def test_model_without_an_export_says_how_to_export(tmp_path):
    md = write_model_dir(tmp_path / "native-only", with_onnx=False)
    with pytest.raises(ValidationError) as info:
        build(md, base="scratch", progress=False)
    msg = str(info.value)
    assert "no exported artifact" in msg and "export(" in msg and "--format onnx" in msg


def test_bad_options_are_validated(session_model_dir):
    with pytest.raises(ValidationError, match="platform must be one of"):
        build(session_model_dir, base="scratch", platform="windows/amd64", progress=False)
    with pytest.raises(ValidationError, match="tag must be"):
        build(session_model_dir, base="scratch", tag="-bad", progress=False)


def test_tls_is_the_default_away_from_loopback():
    from jupyter_modelops.images.client import RegistryClient

    assert RegistryClient("registry.example.com").base == "https://registry.example.com"
    assert RegistryClient("docker.io").base == "https://registry-1.docker.io"
    assert RegistryClient("registry.example.com", insecure=True).scheme == "http"
    assert RegistryClient("127.0.0.1:5000").scheme == "http"


def test_bearer_token_flow(session_model_dir, registry, docker_config):
    """Bearer auth as large registries do it: a token per scope from the realm, with Basic credentials."""
    from ._bearer import BearerFront

    front = BearerFront(registry.host, free_port(), user="carol", password="pa55", deny=("tok/secret",))
    try:
        _login(docker_config, front.host, "carol", "pa55")
        img = build(session_model_dir, base="scratch", push=f"{front.host}/tok/toy:1", progress=False)
        assert front.token_requests and all(t["basic"] for t in front.token_requests)
        assert any("repository:tok/toy:pull,push" in t["scope"] for t in front.token_requests)
        assert all(t["service"] == "test-registry" for t in front.token_requests)
        # a mount asks for pull on the source repository too
        build(session_model_dir, base="scratch", push=f"{front.host}/tok/other:1", progress=False)
        assert any(
            "repository:tok/toy:pull" in t["scope"] and "repository:tok/other:pull,push" in t["scope"]
            for t in front.token_requests
        )
        info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/tok/other:1").stdout)
        assert info["Digest"] == img.digest
        with pytest.raises(RegistryAuthError) as info:  # a valid token, but no right to that repository: 403
            build(session_model_dir, base="scratch", push=f"{front.host}/tok/secret:1", progress=False)
        msg = str(info.value)
        assert "denied access" in msg and "403" in msg and "user 'carol'" in msg and "lack permission" in msg
        assert "docker login" in msg and "\n" not in msg
        _login(docker_config, front.host, "carol", "wrong")
        with pytest.raises(RegistryAuthError, match="user 'carol'.*docker login"):
            build(session_model_dir, base="scratch", push=f"{front.host}/tok/third:1", progress=False)
    finally:
        front.stop()


def test_docker_format_base_and_multi_platform_index(session_model_dir, registry, tmp_path):
    """A Docker schema 2 base (as Docker Hub serves them) and an OCI index with several platforms."""
    from jupyter_modelops.images.oci import INDEX, MANIFEST, Descriptor, canonical_json

    base = build(session_model_dir, base="scratch", tag="base", progress=False)
    skopeo(
        "copy", "--dest-tls-verify=false", "--format", "v2s2", base.location, f"docker://{registry.host}/docker/base:1"
    )
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/docker/base:1").stdout)
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    img = build(
        session_model_dir, base=f"{registry.host}/docker/base:1", push=f"{registry.host}/docker/app:1", progress=False
    )
    pushed = json.loads(
        skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/docker/app:1").stdout
    )
    assert pushed["mediaType"] == MANIFEST
    assert [la["digest"] for la in pushed["layers"][:3]] == [la["digest"] for la in raw["layers"]]  # same bytes
    assert all(la["mediaType"].startswith("application/vnd.oci.image.layer.v1.tar") for la in pushed["layers"])
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/docker/app:1").stdout)
    assert info["Digest"] == img.digest

    # an OCI index with arm64 and amd64 entries: the build picks the platform asked for
    layout = Layout(Path(base.layout))
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [
            {
                "mediaType": MANIFEST,
                "digest": "sha256:" + "0" * 64,
                "size": 1,
                "platform": {"os": "linux", "architecture": "arm64"},
            },
            {
                "mediaType": MANIFEST,
                "digest": base.digest,
                "size": len(layout.read_blob(base.digest)),
                "platform": {"os": "linux", "architecture": "amd64"},
            },
        ],
    }
    data = canonical_json(index)
    layout.tag("multi:1", Descriptor(INDEX, layout.put_bytes(data), len(data)))
    on_index = build(session_model_dir, base=f"oci:{base.layout}:multi:1", tag="on-index", progress=False)
    assert [la["digest"] for la in on_index.layers[:3]] == [la["digest"] for la in base.layers]
    with pytest.raises(ModelNotFoundError, match="no variant for platform 'linux/arm64/v8'.*linux/amd64"):
        build(session_model_dir, base=f"oci:{base.layout}:multi:1", platform="linux/arm64/v8", progress=False)
