"""skops is imported without walking scikit-learn once its estimator list is cached, and trusts the same types."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
from jupyter_modelops.registry._skops import import_skops
import_skops()
walked = [m for m in ("sklearn.semi_supervised", "sklearn.gaussian_process", "torch") if m in sys.modules]
from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES as names
from skops.io._utils import get_type_name
from sklearn.utils import all_estimators
full = [get_type_name(c) for _, c in all_estimators() if get_type_name(c).startswith("sklearn.")]
print(json.dumps({"walked": walked, "same": sorted(names) == sorted(full), "n": len(full)}))
"""


def _run(home) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**__import__("os").environ, "MODELOPS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_imports_skops_from_the_cached_list_with_the_same_trusted_types(modelops_home):
    first = _run(modelops_home)
    assert first["same"] and first["n"] > 100 and "torch" not in first["walked"]
    assert list((modelops_home / "cache").glob("skops-estimators-*.json"))
    second = _run(modelops_home)
    assert second == {"walked": [], "same": True, "n": first["n"]}


def test_a_damaged_cache_is_ignored(modelops_home):
    _run(modelops_home)
    for f in (modelops_home / "cache").glob("skops-estimators-*.json"):
        f.write_text('{"not": "a list"}')
    again = _run(modelops_home)
    assert again["same"]
