"""Benchmark: pushing model images to a real OCI registry on loopback, beside skopeo, in one run.

Scenario (the real life cycle): version 1 of a model with 100 MiB of weights is
built and pushed; version 2 changes only the weights, so only its 100 MiB model
layer (and a config) is new; then version 2 is pushed again unchanged.

Each repetition uses a fresh Debian ``docker-registry`` (CNCF distribution) on
127.0.0.1 with temporary storage, once for jupyter-modelops and once for
``skopeo copy`` of the *same* OCI layout (``--preserve-digests``, so both send
identical bytes). Our push runs in-process (no interpreter start-up); skopeo
is a process per copy (its start-up, ~tens of ms, is included). Medians of
``--repeat`` runs. Targets: model-layer push <= 1.5 s, unchanged re-push <= 0.2 s.

Usage: python bench/images/run.py [--repeat 3] [--mb 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        root.mkdir(parents=True)
        cfg = root / "config.yml"
        cfg.write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {root / 'storage'}\nhttp:\n  addr: 127.0.0.1:{self.port}\n"
        )
        self.log = open(root / "registry.log", "wb")
        self.proc = subprocess.Popen(
            [shutil.which("docker-registry"), "serve", str(cfg)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise RuntimeError("registry did not start") from None
                time.sleep(0.03)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def model_dir(path: Path, *, mb: int, seed: int) -> Path:
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    path.mkdir(parents=True)
    onx = to_onnx(model, X[:1], options={id(model): {"zipmap": False}}).SerializeToString()
    weights = np.random.default_rng(seed).bytes(mb << 20)
    (path / "model.onnx").write_bytes(onx)
    (path / "weights.bin").write_bytes(weights)
    spec = {
        "schema": 1,
        "name": "bench",
        "version": seed,
        "flavor": "sklearn",
        "signature": {
            "inputs": [{"name": "X", "datatype": "FP64", "shape": [-1, 4]}],
            "outputs": [],
            "feature_names": [],
        },
        "artifacts": {
            "onnx": {"path": "model.onnx", "sha256": hashlib.sha256(onx).hexdigest(), "format": "onnx"},
            "weights": {"path": "weights.bin", "sha256": hashlib.sha256(weights).hexdigest(), "format": "raw"},
        },
    }
    (path / "modelops-model.json").write_text(json.dumps(spec))
    return path


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mb", type=int, default=100)
    args = ap.parse_args()
    skopeo = shutil.which("skopeo")
    if not (skopeo and shutil.which("docker-registry")):
        print("needs docker-registry and skopeo (apt-get install docker-registry skopeo)", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-images-", dir=os.environ.get("TMPDIR")))
    os.environ["MODELOPS_HOME"] = str(work / "home")
    from jupyter_modelops.images import build
    from jupyter_modelops.images.oci import Layout
    from jupyter_modelops.images.reference import parse_reference
    from jupyter_modelops.images.upload import push_layout_image

    try:
        v1 = model_dir(work / "v1", mb=args.mb, seed=1)
        v2 = model_dir(work / "v2", mb=args.mb, seed=2)
        build(v1, base="scratch", progress=False)  # warm the dependency-layer cache (pip), not timed
        t_build1 = timed(lambda: build(v1, base="scratch", tag="1", progress=False))
        img1 = build(v1, base="scratch", tag="1", progress=False)
        img2 = build(v2, base="scratch", tag="2", progress=False)
        model_layer = next(la for la in img2.layers if la["role"] == "model")
        layout = Layout(Path(img1.layout))
        rows: dict[str, list[float]] = {
            k: []
            for k in (
                "ours_full_push",
                "ours_model_layer_push",
                "ours_repush",
                "ours_chunked_full_push",
                "skopeo_full_push",
                "skopeo_model_layer_push",
                "skopeo_repush",
            )
        }
        for i in range(args.repeat):
            reg = Registry(work / f"reg-ours-{i}")
            try:

                def ours(img, repo="bench/model", chunk=None, reg=reg):
                    target = parse_reference(f"{reg.host}/{repo}:{img.tag}")
                    push_layout_image(layout, img.digest, target, progress=False, chunk_size=chunk)

                # a fresh blob-location memory per run, so no mount shortcut from an earlier run
                (Path(os.environ["MODELOPS_HOME"]) / "cache" / "images" / "blob-locations.json").unlink(missing_ok=True)
                rows["ours_full_push"].append(timed(lambda: ours(img1)))
                rows["ours_model_layer_push"].append(timed(lambda: ours(img2)))
                rows["ours_repush"].append(timed(lambda: ours(img2)))
            finally:
                reg.stop()
            reg = Registry(work / f"reg-chunked-{i}")
            try:
                (Path(os.environ["MODELOPS_HOME"]) / "cache" / "images" / "blob-locations.json").unlink(missing_ok=True)
                t = timed(
                    lambda reg=reg: push_layout_image(
                        layout,
                        img1.digest,
                        parse_reference(f"{reg.host}/bench/model:1"),
                        progress=False,
                        chunk_size=10 << 20,
                    )
                )
                rows["ours_chunked_full_push"].append(t)
            finally:
                reg.stop()
            reg = Registry(work / f"reg-skopeo-{i}")
            try:

                def sk(img, reg=reg):
                    tag = img.tag
                    subprocess.run(
                        [
                            skopeo,
                            "copy",
                            "-q",
                            "--dest-tls-verify=false",
                            "--preserve-digests",
                            img.location,
                            f"docker://{reg.host}/bench/model:{tag}",
                        ],
                        check=True,
                        capture_output=True,
                    )

                rows["skopeo_full_push"].append(timed(lambda: sk(img1)))
                rows["skopeo_model_layer_push"].append(timed(lambda: sk(img2)))
                rows["skopeo_repush"].append(timed(lambda: sk(img2)))
            finally:
                reg.stop()
        med = {k: statistics.median(v) for k, v in rows.items()}
        result = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "skopeo": subprocess.run([skopeo, "--version"], capture_output=True, text=True).stdout.strip(),
                "registry": "Debian docker-registry (CNCF distribution 2.8)",
                "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            },
            "repeat": args.repeat,
            "model_layer_bytes": model_layer["size"],
            "image_bytes": img1.size,
            "unchanged_build_s": round(t_build1, 3),
            "runs_s": {k: [round(x, 4) for x in v] for k, v in rows.items()},
            "median_s": {k: round(v, 4) for k, v in med.items()},
            "ratios_skopeo_over_ours": {
                "full_push": round(med["skopeo_full_push"] / med["ours_full_push"], 2),
                "model_layer_push": round(med["skopeo_model_layer_push"] / med["ours_model_layer_push"], 2),
                "repush": round(med["skopeo_repush"] / med["ours_repush"], 2),
            },
            "targets": {
                "model_layer_push_s": 1.5,
                "repush_s": 0.2,
                "model_layer_push_met": med["ours_model_layer_push"] <= 1.5,
                "repush_met": med["ours_repush"] <= 0.2,
            },
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "images.json").write_text(json.dumps(result, indent=2) + "\n")
        m = result["median_s"]
        r = result["ratios_skopeo_over_ours"]
        md = [
            "# Images: push to a loopback OCI registry (medians of %d runs, one run, same OCI layout)" % args.repeat,
            "",
            f"Image: {img1.size / 1e6:.0f} MB (dependencies + app + a {model_layer['size'] / 1e6:.0f} MB uncompressed model layer); "
            f"{os.cpu_count()} cores, shared and noisy (1-minute load average {load_before[0]:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after): compare ratios, not absolute times.",
            "",
            "| step | jupyter-modelops | skopeo copy | skopeo / ours | target |",
            "| --- | --- | --- | --- | --- |",
            f"| full image, empty registry | {m['ours_full_push']:.3f} s | {m['skopeo_full_push']:.3f} s | {r['full_push']:.2f}x | |",
            f"| new version: 100 MiB model layer + config | {m['ours_model_layer_push']:.3f} s | {m['skopeo_model_layer_push']:.3f} s | {r['model_layer_push']:.2f}x | <= 1.5 s |",
            f"| re-push unchanged | {m['ours_repush']:.3f} s | {m['skopeo_repush']:.3f} s | {r['repush']:.2f}x | <= 0.2 s |",
            f"| full image, 10 MiB chunks | {m['ours_chunked_full_push']:.3f} s | | | |",
            "",
            f"Rebuilding the unchanged image (every layer reused): {t_build1:.2f} s. Ours runs in-process; "
            "skopeo's times include its process start-up.",
        ]
        (RESULTS / "images.md").write_text("\n".join(md) + "\n")
        print("\n".join(md))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
