"""Start-up cost of loading a scikit-learn version in a fresh process (what every CLI ``load``/``predict`` pays).

    .venv/bin/python bench/registry/cli_start.py [--runs 5] [--label after] [--compare DIR --compare-label before]

A scikit-learn pipeline is snapshotted once into a temporary ``MODELOPS_HOME``;
then each run starts a new interpreter that does ``import jupyter_modelops as mo;
mo.load(REF)`` and one ``predict``. ``--compare`` puts another checkout's
package first on ``sys.path`` and measures it in the same loop, alternating
(an older revision side by side on a noisy machine). Every run
after the first finds warm OS caches; the first is reported apart. Results are
appended to ``bench/results/cli_start.json`` and the table in ``cli_start.md``
is rewritten from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"

CHILD = """
import time
t0 = time.perf_counter()
import jupyter_modelops as mo
t1 = time.perf_counter()
model = mo.load("churn")
t2 = time.perf_counter()
model.predict([[0.0] * 20])
t3 = time.perf_counter()
import sys
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {t3 - t0:.4f} {int('torch' in sys.modules)} {len(sys.modules)}")
"""


def _env(home: str, src: str | None) -> dict:
    env = {**os.environ, "MODELOPS_HOME": home, "OMP_NUM_THREADS": "1"}
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return env


def _run(home: str, src: str | None) -> dict:
    wall = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=_env(home, src), check=True, cwd=home, capture_output=True, text=True
    ).stdout.split()
    return {
        "import_s": float(out[0]),
        "load_s": float(out[1]),
        "total_s": float(out[2]),
        "process_s": time.perf_counter() - wall,
        "torch": int(out[3]),
        "modules": int(out[4]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--label", default="current")
    ap.add_argument(
        "--compare",
        default=None,
        metavar="DIR",
        help="another checkout to measure in the same loop, runs alternating (label: --compare-label)",
    )
    ap.add_argument("--compare-label", default="baseline")
    args = ap.parse_args()
    setup = (
        "from sklearn.datasets import make_classification\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "import jupyter_modelops as mo\n"
        "X, y = make_classification(n_samples=500, n_features=20, random_state=0)\n"
        "mo.snapshot(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), 'churn')\n"
    )
    subjects = [(args.label, None)] + ([(args.compare_label, args.compare)] if args.compare else [])
    rows: dict[str, list[dict]] = {label: [] for label, _ in subjects}
    loads = []
    with tempfile.TemporaryDirectory(prefix="modelops-bench-") as tmp:
        homes = {}
        for label, src in subjects:  # each revision writes (and reads) its own registry
            homes[label] = os.path.join(tmp, str(len(homes)))
            os.makedirs(homes[label])
            # run from the home folder: the working directory comes first on sys.path and must not hold a checkout
            subprocess.run([sys.executable, "-c", setup], env=_env(homes[label], src), check=True, cwd=homes[label])
        for _ in range(args.runs + 1):  # alternating, so that both see the same machine
            for label, src in subjects:
                rows[label].append(_run(homes[label], src))
            loads.append(os.getloadavg()[0])
    RESULTS.mkdir(exist_ok=True)
    store = RESULTS / "cli_start.json"
    history = json.loads(store.read_text()) if store.exists() else []
    at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for label, _ in subjects:
        first, rest = rows[label][0], rows[label][1:]
        history.append(
            {
                "label": label,
                "runs": args.runs,
                "first": first,
                **{k: statistics.median(r[k] for r in rest) for k in first},
                "loadavg": statistics.median(loads),
                "python": platform.python_version(),
                "at": at,
            }
        )
    store.write_text(json.dumps(history, indent=1))
    lines = [
        "# Fresh-process load of a scikit-learn version (`import jupyter_modelops; mo.load(ref)`)",
        "",
        "Medians of the runs after the first (the first run, with cold caches, is shown apart); rows measured "
        "together ran alternating. A LogisticRegression pipeline, 20 features; one predict. 2 shared cores; "
        "the median 1-minute load average is shown.",
        "",
        "| revision | runs | import s | load s | import+load+predict s | whole process s | first run total s "
        "| modules imported | torch imported | load avg | measured |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in history:
        lines.append(
            f"| {r['label']} | {r['runs']} | {r['import_s']:.2f} | {r['load_s']:.2f} | {r['total_s']:.2f} "
            f"| {r['process_s']:.2f} | {r['first']['total_s']:.2f} | {r['modules']:.0f} "
            f"| {'yes' if r['torch'] else 'no'} | {r['loadavg']:.1f} | {r['at']} |"
        )
    (RESULTS / "cli_start.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-len(subjects) :]))


if __name__ == "__main__":
    main()
