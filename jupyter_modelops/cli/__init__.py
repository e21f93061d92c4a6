"""The ``modelops`` command (also ``jupyter modelops``): a router over one module per verb.

Each module in :mod:`jupyter_modelops.cli.commands` defines ``SUMMARY``,
``add_arguments(parser)`` and ``run(args) -> int``. Its file name is the verb
(``foo_bar.py`` is ``foo-bar``). The router turns :class:`ModelOpsError` into
one line on stderr and the exit code the error class declares (see
:mod:`jupyter_modelops.exceptions`); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from .._version import __version__
from ..exceptions import ModelOpsError
from . import commands as _commands


def _verbs() -> dict[str, str]:
    return {
        m.name.replace("_", "-"): f"{_commands.__name__}.{m.name}"
        for m in pkgutil.iter_modules(_commands.__path__)
        if not m.name.startswith("_")
    }


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = argparse.ArgumentParser(
        prog="modelops",
        description="Evaluate, version, export, serve, package, deploy and monitor models.",
        epilog="Exit codes: 0 ok, 1 a gate failed, 2 usage or bad input, 3 not found, "
        "4 operation failed, 5 missing optional dependency.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"jupyter-modelops {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, modname in sorted(_verbs().items()):
        module = importlib.import_module(modname)
        p = sub.add_parser(verb, help=getattr(module, "SUMMARY", ""), description=module.__doc__,
                           parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        code = args._run(args)
    except ModelOpsError as exc:
        if args.debug:
            raise
        print(f"modelops {args.verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"modelops {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"modelops {args.verb}: unexpected error: {type(exc).__name__}: {exc}. "
              "Run again with --debug to see the traceback.", file=sys.stderr)
        return 4
    return int(code or 0)


def run() -> None:  # console-script entry point that exits
    sys.exit(main())


if __name__ == "__main__":  # python -m jupyter_modelops.cli
    run()
