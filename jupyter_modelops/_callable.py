"""Subpackages that are also the function they are named after.

``jupyter_modelops.drift`` is a subpackage and ``mo.drift(reference, current)``
its main function (likewise ``robustness``, ``export``, ``deploy``). Python
binds an imported subpackage as an attribute of its parent, so the package
itself is made callable: ``mo.drift(...)`` calls the function, while
``mo.drift.profile``, ``import jupyter_modelops.export as ex`` and dotted
paths (``jupyter_modelops.export._base``) keep working as for any package.
"""

from __future__ import annotations

import functools
import sys
import types
from typing import Any, Callable


class CallablePackage(types.ModuleType):
    """A package whose call runs its main function (``__main_function__``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__main_function__(*args, **kwargs)


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Make the package ``module_name`` callable as ``function`` (with its signature and docs)."""
    module = sys.modules[module_name]
    module.__class__ = CallablePackage
    module.__main_function__ = function
    # help(), inspect.signature() and IPython's ``?`` show the function's
    functools.update_wrapper(module, function, assigned=("__doc__", "__wrapped__"), updated=())
