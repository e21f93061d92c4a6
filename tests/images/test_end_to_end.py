"""End to end: the image's root filesystem on a Debian + Python base, its entrypoint under chroot, a V2 answer.

The base is Debian bookworm minbase with python3 (3.11), made by debootstrap
once and cached (see ``conftest.python_base``). The image is pushed to the real
registry, copied back by skopeo, unpacked by umoci, and its entrypoint is run
the way a container runtime would: chroot into the root filesystem, the
image's user (65532), working dir and environment, with only the Cmd's host
and port changed to 127.0.0.1 and a free port.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_modelops.images import build
from jupyter_modelops.images.oci import Layout
from realparts import free_port, need_tool

from .conftest import skopeo

pytestmark = pytest.mark.slow


def _run_entrypoint(bundle, port: int) -> subprocess.Popen:
    process = json.loads((bundle / "config.json").read_text())["process"]
    args = list(process["args"])
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    env = dict(item.split("=", 1) for item in process["env"])
    uid, gid = process["user"]["uid"], process["user"]["gid"]
    rootfs, cwd = str(bundle / "rootfs"), process["cwd"]

    def enter() -> None:  # what a container runtime does, minus namespaces
        os.chroot(rootfs)
        os.chdir(cwd)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return subprocess.Popen(args, env=env, preexec_fn=enter, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_image_runs_under_chroot_and_answers_v2(session_model_dir, python_base, registry, tmp_path):
    umoci = need_tool("umoci", "unpacks the image's root filesystem")
    img = build(session_model_dir, base=python_base, push=f"{registry.host}/e2e/toy:1", progress=False)
    assert [la["role"] for la in img.layers] == ["base", "dependencies", "app", "model"]
    copied = tmp_path / "copied"
    skopeo(
        "copy",
        "--src-tls-verify=false",
        "--preserve-digests",
        f"docker://{registry.host}/e2e/toy:1",
        f"oci:{copied}:toy",
    )
    bundle = tmp_path / "bundle"
    subprocess.run([umoci, "unpack", "--image", f"{copied}:toy", str(bundle)], check=True, capture_output=True)

    rootfs = bundle / "rootfs"
    # what skopeo copied and umoci unpacked is byte for byte what went in
    for name in ("modelops-model.json", "model.onnx", "model.skops"):
        assert filecmp.cmp(session_model_dir / name, rootfs / "opt" / "model" / name, shallow=False)
    # ... and so is every file of the app and dependency layers we built (read from our own layout)
    layout = Layout(Path(img.layout))
    for layer in img.layers:
        if layer["role"] not in ("app", "dependencies"):
            continue
        with tarfile.open(layout.blob_path(layer["digest"])) as tar:
            files = [m for m in tar.getmembers() if m.isfile()]
            assert len(files) > 10
            for m in files:
                assert (rootfs / m.name).read_bytes() == tar.extractfile(m).read(), m.name
                assert (rootfs / m.name).stat().st_mode & 0o777 == m.mode, m.name
    assert (rootfs / "opt" / "modelops" / "deps" / "onnxruntime").is_dir()
    assert (rootfs / "opt" / "modelops" / "deps" / "uvicorn").is_dir()
    process = json.loads((bundle / "config.json").read_text())["process"]
    assert process["user"]["uid"] == 65532 and process["args"][:3] == ["python3", "-m", "jupyter_modelops.serving"]
    assert process["cwd"] == "/opt/model"

    port = free_port()
    proc = _run_entrypoint(bundle, port)
    try:
        import tritonclient.http as triton

        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.is_model_ready("toy"):
                    break
            except Exception:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else "(still running)"
                pytest.fail(f"the server in the image did not become ready: {out[-3000:]}")
            time.sleep(0.2)
        X = np.array([[1.0, 1.0, 0.0, 0.0], [-1.0, -1.0, 0.0, 0.0], [0.3, -0.1, 2.0, 5.0]])
        inp = triton.InferInput("X", list(X.shape), "FP64")
        inp.set_data_from_numpy(X, binary_data=False)
        result = client.infer("toy", [inp])
        labels = result.as_numpy("label")
        probs = result.as_numpy("probabilities")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    import skops.io as sio

    model = sio.load(
        session_model_dir / "model.skops", trusted=sio.get_untrusted_types(file=session_model_dir / "model.skops")
    )
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(probs, model.predict_proba(X), rtol=1e-5, atol=1e-6)
