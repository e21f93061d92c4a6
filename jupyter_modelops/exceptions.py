"""One exception tree for every face.

Users of a notebook, a terminal or the JupyterLab panel see one sentence:
what was wrong, what was expected, and what to do. Each class states its HTTP
status (used by the server extension and the model server) and its CLI exit
code; both are read from the class attributes, so the mapping lives here once.

Exit codes of the ``modelops`` command:

====  =====================================================
0     success
1     a gate (``--check``) failed; the command itself worked
2     usage error or bad input
3     a model, version or other named object was not found
4     an operation failed (export, build, push, deploy, report)
5     a required optional dependency is missing
====  =====================================================
"""

from __future__ import annotations

import contextlib
import difflib
import re
from typing import Iterable, Iterator, Mapping

__all__ = [
    "ModelOpsError",
    "ValidationError",
    "ModelNotFoundError",
    "ConflictError",
    "ExportError",
    "ParityError",
    "BuildError",
    "RegistryAuthError",
    "DeployError",
    "ReportError",
    "MissingDependencyError",
    "GateFailure",
    "map_exceptions",
    "suggest",
]


class ModelOpsError(Exception):
    """Base of every error raised on purpose by jupyter-modelops.

    HTTP 500, exit code 4.
    """

    http_status: int = 500
    exit_code: int = 4

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:  # one sentence, plus what to do when known
        if self.hint:
            return f"{self.message} {self.hint}"
        return self.message

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": str(self), "status": self.http_status}


class ValidationError(ModelOpsError, ValueError):
    """Bad input: wrong type, shape, value or argument.

    HTTP 400, exit code 2.
    """

    http_status = 400
    exit_code = 2


class ModelNotFoundError(ModelOpsError, LookupError):
    """A model, version, alias, deployment or other named object does not exist.

    HTTP 404, exit code 3.
    """

    http_status = 404
    exit_code = 3


class ConflictError(ModelOpsError):
    """The operation conflicts with the current state (an alias points at the
    version, a field manager owns the field, the name is taken).

    HTTP 409, exit code 4.
    """

    http_status = 409
    exit_code = 4


class ExportError(ModelOpsError):
    """A model could not be exported to the requested format.

    HTTP 422, exit code 4.
    """

    http_status = 422
    exit_code = 4


class ParityError(ExportError):
    """The exported model's outputs differ from the original beyond tolerance.

    HTTP 422, exit code 4.
    """


class BuildError(ModelOpsError):
    """An image could not be built, pushed or pulled.

    HTTP 502, exit code 4.
    """

    http_status = 502
    exit_code = 4


class RegistryAuthError(BuildError):
    """An OCI registry refused the credentials (401/403).

    HTTP 401, exit code 4.
    """

    http_status = 401


class DeployError(ModelOpsError):
    """A deployment could not be created, rolled out, rolled back or removed.

    HTTP 502, exit code 4.
    """

    http_status = 502
    exit_code = 4


class ReportError(ModelOpsError):
    """A monitoring report could not be run or scheduled.

    HTTP 500, exit code 4.
    """


class MissingDependencyError(ModelOpsError, ImportError):
    """An optional dependency is needed for this call.

    HTTP 501, exit code 5.
    """

    http_status = 501
    exit_code = 5

    def __init__(self, package: str, extra: str, *, purpose: str | None = None) -> None:
        self.package = package
        self.extra = extra
        what = f" to {purpose}" if purpose else ""
        super().__init__(
            f"The optional package '{package}' is needed{what} but is not installed.",
            hint=f"Run: pip install 'jupyter-modelops[{extra}]'",
        )


class GateFailure(ModelOpsError):
    """One or more gates (``check``) failed. Not a bug: the command worked.

    HTTP 200 (the result says which gates failed), exit code 1.
    """

    http_status = 200
    exit_code = 1


class ModelOpsWarning(UserWarning):
    """Something worked but deserves attention (an image that cannot start on its own, say)."""


def suggest(word: str, choices: Iterable[str], *, n: int = 3) -> str:
    """Return ' Did you mean: a, b?' when close names exist, else ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=n, cutoff=0.6)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def usage_hint(message: str) -> str:
    """An argparse error, with what to do when an option's value begins with '-'.

    Tokens, offsets and negative numbers can begin with '-', which argparse reads as the next
    option (``--token -Xy...``: "expected one argument"); joined to the flag they parse.
    """
    m = re.match(r"argument (?:[^:]*/)?(--[\w-]+): expected one argument", message)
    if m:
        return f"{message}. If its value begins with '-', join it to the option: {m.group(1)}=VALUE"
    return message


@contextlib.contextmanager
def map_exceptions(mapping: Mapping[type[BaseException], type[ModelOpsError]], message: str) -> Iterator[None]:
    """Translate a dependency's exceptions into our own, keeping the cause.

    ``message`` may contain ``{exc}``, replaced by the original error text.
    """
    try:
        yield
    except ModelOpsError:
        raise
    except tuple(mapping) as exc:  # type: ignore[misc]
        for src, dst in mapping.items():
            if isinstance(exc, src):
                raise dst(message.format(exc=exc)) from exc
        raise  # pragma: no cover
