"""Progress bars for long work: ``tqdm.auto`` in notebooks and terminals, nothing elsewhere.

``progress=None`` means automatic: a bar when stderr is a terminal or when
running in a Jupyter kernel, none when output is piped (``--json``, CI logs).
"""

from __future__ import annotations

import sys
from typing import Any, Iterable


def enabled(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    if "ipykernel" in sys.modules:
        try:
            from IPython import get_ipython

            shell = get_ipython()
            if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
                return True
        except Exception:  # pragma: no cover
            pass
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    progress: bool | None = None,
    unit: str = "it",
) -> Any:
    """A ``tqdm.auto`` bar, or a silent stand-in with the same ``update``/``close`` methods."""
    if enabled(progress):
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False)
    return _Silent(iterable)


class _Silent:
    def __init__(self, iterable: Iterable[Any] | None) -> None:
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
