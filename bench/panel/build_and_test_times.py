"""Panel figures: labextension build, wheel build from a clean checkout, browser-test wall time.

Run from the repository root: ``python bench/panel/build_and_test_times.py``.
Writes ``bench/results/panel.json`` and ``bench/results/panel.md``.

No peer runs side by side here (the issue names none for the panel); the
reference figures of a minimal extension built with the same recipe
(extension-template layout, jupyter-builder, Python Playwright + Debian
Chromium) are quoted for scale, not as a same-run comparison.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# a minimal one-handler extension built with the same recipe (seconds), for scale
REFERENCE = {"jlpm build:prod": 7.0, "python -m build (sdist+wheel)": 19.0, "browser test wall": 11.0}


CPU: dict[str, float] = {}


def run(cmd: list[str], cwd: Path, env: dict | None = None, *, label: str = "") -> float:
    """Wall seconds of one command; its CPU seconds (user+sys of the children) go to CPU[label]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[label] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall


def main() -> int:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    jlpm = str(VENV_BIN / "jlpm")
    figures: dict[str, float] = {}
    load = os.getloadavg()[0]

    ext = REPO / "labextension"
    for label, cmd in [
        ("jlpm install --immutable (yarn cache warm)", [jlpm, "install", "--immutable"]),
        ("jlpm build:prod (tsc + rspack, production)", [jlpm, "build:prod"]),
        ("jlpm build (tsc + rspack, development)", [jlpm, "build"]),
    ]:
        figures[label] = run(cmd, ext, env, label=label)

    # wheel from a clean checkout: tracked files only, no node_modules, no built labextension
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
        for rel in filter(None, files.decode().split("\0")):
            dst = src / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if (REPO / rel).is_file():
                shutil.copy2(REPO / rel, dst)
        label = "python -m build --wheel (clean checkout, yarn cache warm)"
        figures[label] = run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(Path(tmp) / "dist"), str(src)],
            REPO,
            env,
            label=label,
        )
        wheel = next((Path(tmp) / "dist").glob("*.whl"))
        names = zipfile.ZipFile(wheel).namelist()
        shipped = {
            "labextension remoteEntry": any(
                "share/jupyter/labextensions/jupyter-modelops/static/remoteEntry" in n for n in names
            ),
            "install.json": any(n.endswith("share/jupyter/labextensions/jupyter-modelops/install.json") for n in names),
            "server config": any(
                n.endswith("etc/jupyter/jupyter_server_config.d/jupyter_modelops.json") for n in names
            ),
        }
        wheel_kb = wheel.stat().st_size / 1024

    label = "browser tests (tests/ui: seed, JupyterLab start, every test)"
    figures[label] = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/ui"], REPO, env, label=label
    )

    result = {
        "figures_s": {k: round(v, 2) for k, v in figures.items()},
        "cpu_s": {k: round(v, 2) for k, v in CPU.items()},
        "reference_minimal_extension_s": REFERENCE,
        "wheel_kb": round(wheel_kb, 1),
        "wheel_ships": shipped,
        "load_average_at_start": round(load, 2),
        "cpus": os.cpu_count(),
        "note": "2 shared cores; the load average says how busy the machine was",
    }
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "panel.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| step | wall s | CPU s |", "| --- | ---: | ---: |"]
    lines += [f"| {k} | {v:.1f} | {CPU.get(k, 0):.1f} |" for k, v in figures.items()]
    lines += [
        "",
        f"Wheel: {wheel_kb:.0f} KB; ships " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in shipped.items()),
        f"Load average at start: {load:.1f} on {os.cpu_count()} cores (shared machine).",
        "",
        "For scale (not the same run), a minimal one-handler extension with the same recipe: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in REFERENCE.items())
        + ".",
    ]
    (out / "panel.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(shipped.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
