"""``%modelops VERB ...``: the notebook face of the verbs declared in :mod:`jupyter_modelops.verbs`.

The router builds each verb's parser from its declaration with IPython's
``MagicArgumentParser`` (bad flags become a ``UsageError``), resolves the
values the way a notebook does (a model, a table or a report is the name of a
variable) and returns the core call's result so that the notebook displays
it. ``-o NAME`` stores the result in the user namespace and ``--debug`` shows
the full traceback of an error.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser

from .. import verbs as _verbs
from ..exceptions import ModelOpsError

FACE = "magic"


def verbs() -> dict[str, Any]:
    """verb -> declaration, for the verbs a notebook has."""
    return {name: _verbs.all_verbs()[name] for name in _verbs.names(FACE)}


def _help_text() -> str:
    lines = ["Usage: %modelops VERB [options]   (%modelops VERB --help for one verb)", "", "Verbs:"]
    for name, verb in verbs().items():
        lines.append(f"  {name:<12} {verb.summary}")
    return "\n".join(lines)


class HelpText(str):
    """Plain text that displays as itself (not as a quoted string)."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


class _Parser(MagicArgumentParser):
    """IPython's parser (errors are a ``UsageError``) with plain argparse help text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        from ..exceptions import usage_hint

        raise UsageError(usage_hint(message))


def build_parser(verb: str) -> tuple[MagicArgumentParser, Any]:
    """The parser of ``%modelops VERB``, generated from the verb's declaration, and the declaration."""
    decl = verbs()[verb]
    parser = _Parser(prog=f"%modelops {verb}", description=decl.description(FACE), add_help=True)
    decl.add_arguments(parser, FACE)
    parser.add_argument("-o", "--out", metavar="NAME", help="store the result in this variable")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return parser, decl


def dispatch(line: str, shell: Any) -> Any:
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"Could not parse the line: {exc}. Check the quotes.") from None
    if not argv or argv[0] in ("help", "-h", "--help"):
        return HelpText(_help_text())
    verb, rest = argv[0], argv[1:]
    known = verbs()
    if verb not in known:
        from ..exceptions import suggest

        raise UsageError(f"Unknown verb '{verb}'.{suggest(verb, known)} Known verbs: {', '.join(sorted(known))}.")
    parser, decl = build_parser(verb)
    try:
        args = parser.parse_args(rest)
    except SystemExit:  # --help printed the usage
        return None
    try:
        face = _verbs.Face(FACE, shell=shell)
        result = decl.call(face, decl.resolve(args, face))
    except ModelOpsError as exc:
        if args.debug:
            raise
        raise UsageError(str(exc)) from None
    except UsageError:
        raise
    except Exception as exc:  # an unexpected failure: one sentence unless --debug
        if args.debug:
            raise
        raise UsageError(f"{verb} failed with {type(exc).__name__}: {exc}. Add --debug to see the traceback.") from None
    if args.out:
        shell.user_ns[args.out] = result
    return result


@magics_class
class ModelOpsMagics(Magics):
    """The ``%modelops`` line magic."""

    @line_magic
    def modelops(self, line: str = "") -> Any:
        """Run ``%modelops help`` to list the verbs; ``%modelops VERB --help`` for one verb."""
        return dispatch(line, self.shell)
