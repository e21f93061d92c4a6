"""The ``modelops`` command (also ``jupyter modelops``): the terminal face of :mod:`jupyter_modelops.verbs`.

Each verb's parser is generated from its declaration; the values are found the
way a terminal does (a model or a table is a file). ``--json`` prints the
result as JSON and ``--html FILE`` writes it as HTML where the result has an
HTML form. The router turns :class:`ModelOpsError` into one line on stderr
and the exit code the error class declares (see
:mod:`jupyter_modelops.exceptions`); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, Sequence

from .. import verbs as _verbs
from .._version import __version__
from ..exceptions import ModelOpsError, suggest

FACE = "cli"

#: verbs spelled under a group on the command line (``modelops report run``): group -> its help line
GROUPS = {"report": "monitoring reports: run, history, schedule, schedules, unschedule"}


def _spellings() -> dict[tuple[str, ...], Any]:
    """command-line spelling (``("report", "run")``) -> verb declaration."""
    return {(v.cli_path or (v.name,)): v for v in _verbs.all_verbs().values() if FACE in v.faces}


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint when an option's value begins with '-' (sub-parsers inherit it)."""

    def error(self, message: str) -> NoReturn:
        from ..exceptions import usage_hint

        super().error(usage_hint(message))


def build_parser() -> argparse.ArgumentParser:
    """The ``modelops`` parser: one sub-parser per verb, generated from the declarations."""
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = _Parser(
        prog="modelops",
        description="Evaluate, version, export, serve, package, deploy and monitor models.",
        epilog="Exit codes: 0 ok, 1 a gate failed, 2 usage or bad input, 3 not found, "
        "4 operation failed, 5 missing optional dependency.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"jupyter-modelops {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    groups: dict[str, Any] = {}
    for path, verb in sorted(_spellings().items()):
        where = sub
        if len(path) > 1:
            if path[0] not in groups:
                g = sub.add_parser(path[0], help=GROUPS.get(path[0], ""), description=GROUPS.get(path[0]))
                groups[path[0]] = g.add_subparsers(dest="action", metavar="ACTION", required=True)
            where = groups[path[0]]
        p = where.add_parser(
            path[-1],
            help=verb.summary,
            description=verb.description(FACE),
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_face_options(p, verb)
        p.set_defaults(_verb=verb)
    return parser


def add_face_options(parser: argparse.ArgumentParser, verb: Any) -> None:
    """A verb's own arguments, then what the terminal adds: ``--json`` and (for HTML results) ``--html``."""
    verb.add_arguments(parser, FACE)
    parser.add_argument("--json", action="store_true", help="print the result as JSON (no progress bar)")
    if verb.html:
        parser.add_argument("--html", metavar="FILE", help="also write the result as HTML to this file")


def _unknown_verb(argv: Sequence[str]) -> str | None:
    """One sentence when the first word is not a verb (argparse would only list the choices)."""
    words = [a for a in argv if not a.startswith("-")]
    if not words or any(a in ("-h", "--help", "--version") for a in argv[: argv.index(words[0])]):
        return None
    known = sorted({path[0] for path in _spellings()})
    if words[0] not in known:
        return (
            f"unknown verb '{words[0]}'.{suggest(words[0], known)} Known verbs: {', '.join(known)}. "
            "Run 'modelops --help' for what each does."
        )
    if words[0] in GROUPS and len(words) > 1:
        actions = sorted(path[1] for path in _spellings() if len(path) > 1 and path[0] == words[0])
        if words[1] not in actions and argv.index(words[1]) == argv.index(words[0]) + 1:
            return (
                f"unknown action '{words[1]}' of '{words[0]}'.{suggest(words[1], actions)} "
                f"Actions: {', '.join(actions)}."
            )
    return None


def emit(verb: Any, result: Any, *, as_json: bool = False, html: str | None = None) -> None:
    """Print a result: its JSON with ``--json``, else its text; ``--html`` also writes its HTML."""
    import json

    from .._html import to_jsonable

    text = verb.text(result) if verb.text else None
    if verb.text and text is None:
        return
    if html:
        result.save_html(html)
    if as_json:
        data = result.to_dict() if callable(getattr(result, "to_dict", None)) else result
        print(json.dumps(to_jsonable(data), indent=2))
        return
    if text is None:
        text = result.to_text() if hasattr(result, "to_text") else repr(result)
    print(text)
    if html:
        print(f"HTML report: {html}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    problem = _unknown_verb(argv)
    if problem:
        print(f"modelops: error: {problem}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    verb = getattr(args, "_verb", None)
    if verb is None:
        parser.print_help()
        return 2
    name = " ".join(verb.cli_path or (verb.name,))
    try:
        face = _verbs.Face(FACE, quiet=args.json)
        result = verb.call(face, verb.resolve(args, face))
        emit(verb, result, as_json=args.json, html=getattr(args, "html", None))
        return int(verb.exit_code(result) or 0)
    except ModelOpsError as exc:
        if args.debug:
            raise
        print(f"modelops {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"modelops {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"modelops {name}: unexpected error: {type(exc).__name__}: {exc}. "
            "Run again with --debug to see the traceback.",
            file=sys.stderr,
        )
        return 4


def run() -> None:  # console-script entry point that exits
    sys.exit(main())


if __name__ == "__main__":  # python -m jupyter_modelops.cli
    run()
