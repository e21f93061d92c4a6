"""Runtime loading details that matter in production."""

from __future__ import annotations

import json
import subprocess
import sys


def test_skops_loads_without_importing_torch_and_trusts_the_same_types():
    code = (
        "import sys, json\n"
        "from jupyter_modelops.serving.runtimes import _import_skops\n"
        "_import_skops()\n"
        "torch_loaded = 'torch' in sys.modules\n"
        "from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES as narrowed\n"
        "from skops.io._utils import get_type_name\n"
        "from sklearn.utils import all_estimators\n"
        "full = [get_type_name(c) for _, c in all_estimators() if get_type_name(c).startswith('sklearn.')]\n"
        "print(json.dumps({'torch': torch_loaded, 'same': sorted(narrowed) == sorted(full), 'n': len(full)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc == {"torch": False, "same": True, "n": doc["n"]} and doc["n"] > 100
