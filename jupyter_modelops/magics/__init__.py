"""``%modelops VERB ...``: a router over one small module per verb.

Each module in :mod:`jupyter_modelops.magics.commands` defines ``SUMMARY``
(one line), ``add_arguments(parser)`` and ``run(args, shell)``; the router
parses with IPython's ``MagicArgumentParser`` (bad flags become a
``UsageError``), calls ``run`` and returns its result so that the notebook
displays it. ``-o NAME`` stores the result in the user namespace and
``--debug`` shows the full traceback of an error. A module's file name is its
verb (``foo_bar.py`` is ``foo-bar``).
"""

from __future__ import annotations

import importlib
import pkgutil
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser

from ..exceptions import ModelOpsError
from . import commands as _commands


def verbs() -> dict[str, str]:
    """verb -> module name, discovered from the commands package."""
    return {
        m.name.replace("_", "-"): f"{_commands.__name__}.{m.name}"
        for m in pkgutil.iter_modules(_commands.__path__)
        if not m.name.startswith("_")
    }


def _help_text() -> str:
    lines = ["Usage: %modelops VERB [options]   (%modelops VERB --help for one verb)", "", "Verbs:"]
    for verb, modname in sorted(verbs().items()):
        summary = getattr(importlib.import_module(modname), "SUMMARY", "")
        lines.append(f"  {verb:<12} {summary}")
    return "\n".join(lines)


class HelpText(str):
    """Plain text that displays as itself (not as a quoted string)."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def build_parser(verb: str) -> tuple[MagicArgumentParser, Any]:
    module = importlib.import_module(verbs()[verb])
    parser = MagicArgumentParser(prog=f"%modelops {verb}", description=module.__doc__, add_help=True)
    module.add_arguments(parser)
    if not any(a.dest == "out" for a in parser._actions):
        parser.add_argument("-o", "--out", metavar="NAME", help="store the result in this variable")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return parser, module


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

        raise UsageError(
            f"Unknown verb '{verb}'.{suggest(verb, known)} Known verbs: {', '.join(sorted(known))}."
        )
    parser, module = build_parser(verb)
    try:
        args = parser.parse_args(rest)
    except SystemExit:  # --help printed the usage
        return None
    try:
        result = module.run(args, shell)
    except ModelOpsError as exc:
        if args.debug:
            raise
        raise UsageError(str(exc)) from None
    except UsageError:
        raise
    except Exception as exc:  # an unexpected failure: one sentence unless --debug
        if args.debug:
            raise
        raise UsageError(
            f"{verb} failed with {type(exc).__name__}: {exc}. Add --debug to see the traceback."
        ) from None
    out = getattr(args, "out", None)
    if out:
        shell.user_ns[out] = result
    return result


@magics_class
class ModelOpsMagics(Magics):
    """The ``%modelops`` line magic."""

    @line_magic
    def modelops(self, line: str = "") -> Any:
        """Run ``%modelops help`` to list the verbs; ``%modelops VERB --help`` for one verb."""
        return dispatch(line, self.shell)
