"""skops, imported fast and loaded with an exact list of trusted types.

``import skops.io`` builds its list of default-trusted types by calling
scikit-learn's ``all_estimators()``, which imports every module of
scikit-learn (and, through a vendored array-API shim, torch when it is
installed): seconds on every fresh process. Here the names that list yields
are cached per scikit-learn/skops/Python installation under
``MODELOPS_HOME/cache``; when the cache is there, ``all_estimators`` is
answered from it while skops is imported (with placeholder classes that carry
the same module and name, which is all skops reads from them), so the trusted
list is the same and nothing else of scikit-learn is imported. The first
import of an installation walks scikit-learn once (skipping its vendored and
test packages, which ``all_estimators`` ignores anyway) and writes the cache.

:func:`load_skops` loads a file only when every type it asks for that skops
does not trust by default is in the caller's list, and refuses with one
sentence otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable

from .._optional import require
from ..exceptions import ValidationError

_CACHE_FORMAT = 1


def _cache_file() -> Path | None:
    try:
        import importlib.metadata as md

        import sklearn

        key = json.dumps(
            [_CACHE_FORMAT, sys.version, sklearn.__version__, str(Path(sklearn.__file__).parent), md.version("skops")]
        )
        from ..config import subdir

        return subdir("cache") / f"skops-estimators-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    except Exception:  # no writable home, no metadata: import the slow way
        return None


def _read_cache(path: Path | None) -> list[tuple[str, str, str]] | None:
    if path is None:
        return None
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == 3 and all(isinstance(x, str) for x in r) for r in rows
    ):
        return None
    return [(r[0], r[1], r[2]) for r in rows]


def _write_cache(path: Path | None, rows: list[tuple[str, str, str]]) -> None:
    if path is None or not rows:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(rows), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def _narrow_walk(pkgutil: Any):
    """``pkgutil.walk_packages`` that does not recurse into scikit-learn's ``externals`` and ``tests``."""

    def walk(path=None, prefix="", onerror=None):
        for info in pkgutil.iter_modules(path, prefix):
            yield info
            parts = info.name.split(".")
            if not info.ispkg or (parts[0] == "sklearn" and ("externals" in parts or "tests" in parts)):
                continue
            try:
                __import__(info.name)
            except ImportError:
                if onerror is not None:
                    onerror(info.name)
                continue
            except Exception:
                if onerror is not None:
                    onerror(info.name)
                    continue
                raise
            sub = getattr(sys.modules[info.name], "__path__", None) or []
            yield from walk(sub, info.name + ".", onerror)

    return walk


def import_skops() -> Any:
    """Return ``skops.io``, imported without walking scikit-learn when the estimator list is cached."""
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    require("sklearn", purpose="load scikit-learn models", extra="sklearn")
    import pkgutil

    import sklearn.utils

    cache = _cache_file()
    rows = _read_cache(cache)
    original_all, original_walk = sklearn.utils.all_estimators, pkgutil.walk_packages
    seen: list[tuple[str, str, str]] = []
    if rows is not None:
        answer = [(name, type(cls_name, (), {"__module__": module})) for name, module, cls_name in rows]

        def all_estimators(*args: Any, **kwargs: Any) -> list:
            if args or kwargs:  # a filtered call: the real one
                return original_all(*args, **kwargs)
            return list(answer)
    else:

        def all_estimators(*args: Any, **kwargs: Any) -> list:
            out = original_all(*args, **kwargs)
            if not args and not kwargs:
                seen.extend((name, cls.__module__, cls.__name__) for name, cls in out)
            return out

        pkgutil.walk_packages = _narrow_walk(pkgutil)
    sklearn.utils.all_estimators = all_estimators
    try:
        sio = require("skops.io", purpose="load a scikit-learn model saved with skops", extra="sklearn")
    finally:
        sklearn.utils.all_estimators = original_all
        pkgutil.walk_packages = original_walk
    if rows is None:
        _write_cache(cache, seen)
    return sio


def untrusted_types(path: str | Path) -> list[str]:
    """The types of a skops file that skops does not trust by default (reads only its schema)."""
    from .flavors import skops_untrusted

    return skops_untrusted(Path(path))


def load_skops(path: str | Path, trusted: Iterable[str] | bool | None, *, what: str, hint: str | None = None) -> Any:
    """Load a skops file if every type it asks for is trusted by skops' defaults or listed in ``trusted``.

    ``trusted=True`` allows every type the file asks for (the user trusts the file itself);
    ``hint`` replaces the default advice (trust the version) in the refusal.

    Raises
    ------
    ValidationError
        Naming the types that are not trusted; nothing of the file was run.
    """
    found = untrusted_types(path)
    allowed = set(found) if trusted is True else set(trusted or ())
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise ValidationError(
            f"{what} asks for types that are not trusted ({', '.join(unknown)}), so it was not loaded.",
            hint=hint
            or "If you trust where it came from, trust the version with trust(ref) (or pass trusted=True) "
            "and try again.",
        )
    sio = import_skops()
    return sio.load(Path(path), trusted=sorted(set(found) & allowed) or None)
