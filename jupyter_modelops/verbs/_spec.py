"""What a verb declaration is made of: :class:`Verb`, :class:`Param` and the kinds of values.

A verb lists its parameters once. Each parameter has a *kind* that says how
each face finds its value: the ``%modelops`` magic reads notebook variables,
the ``modelops`` command reads files, REST reads JSON fields. The faces never
restate a parameter; they ask the declaration for an argparse parser
(:meth:`Verb.add_arguments`), for the values of the core call
(:meth:`Verb.resolve`, :meth:`Verb.from_json`) and for a JSON schema
(:meth:`Verb.schema`).

Nothing here imports a heavy package: the kinds import what they read with
(pandas, the model loaders) inside the functions that read.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..exceptions import ValidationError, suggest

__all__ = [
    "FACES",
    "Face",
    "Param",
    "Verb",
    "Kind",
    "Text",
    "Ref",
    "Path",
    "Int",
    "Float",
    "Flag",
    "Items",
    "Pairs",
    "Gates",
    "Variable",
    "Labels",
    "ModelOrRef",
    "exit_gates",
    "exit_ok",
]

#: The faces a verb can appear on.
FACES = ("magic", "cli", "rest")
_MISSING: Any = object()


@dataclass
class Face:
    """The face running a verb: its name, the notebook shell (magic) and whether output is machine-read.

    ``quiet`` is true for ``--json`` on the command line and for REST: no progress bars.
    """

    name: str
    shell: Any = None
    quiet: bool = False

    @property
    def prog(self) -> str:
        return "%modelops" if self.name == "magic" else "modelops"


def _per_face(value: Any, face: str, fallback: Any = None) -> Any:
    if isinstance(value, Mapping):
        return value.get(face, value.get("*", fallback))
    return fallback if value is None else value


# --------------------------------------------------------------------------- kinds


class Kind:
    """How a value is written as text (magic, CLI) and as JSON (REST), and what the core receives.

    Subclasses override :meth:`parse` (text to value, used as the argparse ``type``),
    :meth:`from_json` (checked JSON to value) and :meth:`resolve` (parsed value to
    what the core takes: a notebook variable, a file's content...).
    """

    name = "text"
    json_type = "string"
    faces: tuple[str, ...] = FACES
    metavar: Any = None
    #: resolution order: gates are checked first, labels read the data after it is read
    order = 0

    def parse(self, text: str) -> Any:
        return text

    def from_json(self, value: Any, param: "Param") -> Any:
        if self.json_type == "string" and not isinstance(value, str):
            raise ValidationError(f"The parameter '{param.name}' must be a string, got {type(value).__name__}.")
        if "\x00" in value:
            raise ValidationError(f"The parameter '{param.name}' contains a NUL character.")
        return value

    def resolve(self, value: Any, face: Face, ctx: dict) -> Any:
        return value

    def help(self, face: str) -> str:
        return ""

    def schema(self) -> dict:
        return {"kind": self.name, "type": self.json_type}


class Text(Kind):
    """A plain string."""


class Ref(Text):
    """A registry reference: ``name``, ``name:3`` or ``name@alias``."""

    name = "reference"


class Path(Text):
    """A file or directory path, passed to the core as a string."""

    name = "path"
    metavar = "PATH"


class Int(Kind):
    """An integer."""

    name = json_type = "integer"

    def parse(self, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer such as 3, got {text!r}") from None

    def from_json(self, value: Any, param: "Param") -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    pass
            raise ValidationError(f"The parameter '{param.name}' must be an integer, got {value!r}.")
        return value


class Float(Kind):
    """A number."""

    name = json_type = "number"

    def parse(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number such as 0.5, got {text!r}") from None

    def from_json(self, value: Any, param: "Param") -> float:
        if isinstance(value, bool):
            raise ValidationError(f"The parameter '{param.name}' must be a number, got {value!r}.")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValidationError(f"The parameter '{param.name}' must be a number, got {value!r}.")


class Flag(Kind):
    """A switch. ``negate=True`` spells it ``--no-NAME`` on the command line and the core gets ``not`` it."""

    name = json_type = "boolean"

    def __init__(self, *, negate: bool = False) -> None:
        self.negate = negate

    def from_json(self, value: Any, param: "Param") -> bool:
        if not isinstance(value, bool):
            raise ValidationError(f"The parameter '{param.name}' must be true or false, got {value!r}.")
        return value

    def schema(self) -> dict:
        return {**super().schema(), "negate": self.negate}


class Items(Kind):
    """A comma-separated list (``a,b,c``); JSON takes a list or the same text."""

    name = "list"
    json_type = "array"

    def __init__(self, item: Kind | None = None, *, sep: str = ",") -> None:
        self.item = item or Text()
        self.sep = sep

    def parse(self, text: str) -> list:
        return [self.item.parse(v.strip()) for v in text.split(self.sep) if v.strip()]

    def from_json(self, value: Any, param: "Param") -> list:
        if isinstance(value, str):
            try:
                return self.parse(value)
            except argparse.ArgumentTypeError as exc:
                raise ValidationError(f"The parameter '{param.name}': {exc}.") from None
        if not isinstance(value, list):
            raise ValidationError(f"The parameter '{param.name}' must be a list, got {type(value).__name__}.")
        return [self.item.from_json(v, param) for v in value]

    def schema(self) -> dict:
        return {**super().schema(), "items": self.item.schema()}


class Pairs(Kind):
    """``NAME VALUE`` pairs (repeatable on the command line); a JSON object in REST."""

    name = "pairs"
    json_type = "object"
    metavar = ("NAME", "VALUE")

    def from_json(self, value: Any, param: "Param") -> dict:
        if not isinstance(value, dict):
            raise ValidationError(f"The parameter '{param.name}' must be a JSON object, got {type(value).__name__}.")
        return value


class Gates(Text):
    """Gate expressions such as ``f1>=0.8``, checked before any work is done."""

    name = "gate"
    metavar = "GATE"
    order = -1

    def __init__(self, *, precheck: bool = False) -> None:
        self.precheck = precheck  # metric gates parse alone; robustness gates need the report

    def resolve(self, value: Any, face: Face, ctx: dict) -> Any:
        if value and self.precheck:
            from ..gates import parse_gates

            parse_gates(value)
        return value


class Variable(Kind):
    """A Python object: a notebook variable in the magic, a file on the command line.

    ``reader`` says what the command line does with the path: ``"model"`` loads a
    model file, ``"table"`` reads CSV/Parquet, ``"sample"`` also reads ``.npy``,
    ``None`` passes the path on. With ``stream=True`` a Parquet file or folder is
    passed on as a path, for a core function that reads it batch by batch (data
    larger than memory); CSV is still read. REST does not take objects.
    """

    name = "object"

    def __init__(
        self,
        what: str,
        *,
        reader: str | None = None,
        file_what: str | None = None,
        trust: str = "trust",
        stream: bool = False,
    ) -> None:
        self.what = what
        self.reader = reader
        self.file_what = file_what or what
        self.trust = trust
        self.stream = stream
        self.faces = ("magic", "cli")

    def help(self, face: str) -> str:
        if face == "magic":
            return f"variable holding the {self.what}"
        return {
            "model": "model file: .skops, .joblib/.pkl or .onnx",
            "table": "data file: .csv or .parquet",
            "sample": "file: .csv, .parquet or .npy",
        }.get(self.reader or "", "file")

    def resolve(self, value: Any, face: Face, ctx: dict) -> Any:
        if value is None:
            return None
        if face.name == "magic":
            from ..magics._util import resolve

            return resolve(face.shell, value, self.what)
        if self.stream and is_parquet_path(value):
            return value
        return read_file(value, self.reader, what=self.file_what, trusted=bool(ctx.get(self.trust)))

    def schema(self) -> dict:
        return {**super().schema(), "what": self.what, "reader": self.reader}


def is_parquet_path(value: Any) -> bool:
    """Whether ``value`` names a Parquet file or a folder (of Parquet files) that exists."""
    import os

    if not isinstance(value, str):
        return False
    return os.path.isdir(value) or (os.path.isfile(value) and value.lower().endswith((".parquet", ".parq", ".pq")))


class Labels(Variable):
    """True labels: a notebook variable in the magic, a column of the data file on the command line."""

    name = "labels"
    order = 1

    def __init__(self, what: str = "y", *, table: str = "X") -> None:
        super().__init__(what)
        self.table = table

    def help(self, face: str) -> str:
        return (
            "variable holding the true labels or values" if face == "magic" else "column holding the true labels/values"
        )

    def resolve(self, value: Any, face: Face, ctx: dict) -> Any:
        if value is None or face.name == "magic":
            return super().resolve(value, face, ctx)
        data = ctx[self.table]
        if isinstance(data, str):  # a streamed Parquet path: the core reads this column batch by batch
            return value
        if value not in data.columns:
            raise ValidationError(
                f"The target column '{value}' is not in the data.{suggest(value, map(str, data.columns))} "
                f"Columns are: {', '.join(map(str, list(data.columns)[:20]))}."
            )
        ctx[self.table] = data.drop(columns=[value])
        return data[value].to_numpy()


class ModelOrRef(Ref):
    """A registry reference, or in the magic a variable holding the model when one has that name."""

    name = "model-or-reference"

    def __init__(self, what: str = "model", *, method: str | None = None) -> None:
        self.what = what
        self.method = method

    def resolve(self, value: Any, face: Face, ctx: dict) -> Any:
        if value is None or face.name != "magic" or "://" in value:
            return value
        head = value.split(".", 1)[0].split("[", 1)[0]
        if head not in face.shell.user_ns:
            return value
        if self.method and not hasattr(face.shell.user_ns[head], self.method):
            return value
        from ..magics._util import resolve

        return resolve(face.shell, value, self.what)


def read_file(path: str, reader: str | None, *, what: str, trusted: bool = False) -> Any:
    """What the command line reads for an object parameter (see :class:`Variable`)."""
    if reader == "model":
        from ..evaluation import load_model

        return load_model(path, trusted=trusted)
    if reader == "sample" and path.lower().endswith(".npy"):
        import numpy as np

        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValidationError(
                f"Could not read the sample file '{path}': {exc}.", hint="Save it with numpy.save (no object arrays)."
            ) from exc
    if reader == "reference" and path.lower().endswith(".json"):
        from ..drift_detection import Profile

        return Profile.load(path)
    if reader in ("table", "sample", "reference"):
        from ..io import read_table

        return read_table(path, what=what)
    return path


# --------------------------------------------------------------------------- parameters


@dataclass
class Param:
    """One parameter of a verb.

    Parameters
    ----------
    name : str
        The keyword of the core call and the key in REST JSON.
    kind : Kind
        How each face finds the value.
    help : str or dict, default=""
        Help text; a dict gives one text per face (``"*"`` for the others).
    default : object, default=None
        The value when the parameter is not given.
    required : bool, default=False
        Must be given (a positional is required unless ``optional``).
    positional : bool or tuple of str, default=False
        Written without a flag, on every face or on the faces named.
    flag : str or dict, optional
        The option spelling (default ``--name-with-dashes``; ``--no-...`` for a negated flag).
    short : str, optional
        A short option such as ``-p``.
    aliases : tuple of str, default=()
        Other option spellings accepted on the command-line faces (``--trusted`` beside ``--trust``).
    choices : sequence, optional
        The accepted values.
    repeat : bool, default=False
        The option may be given several times (a list).
    many : bool, default=False
        A positional taking one or more values.
    optional : bool, default=False
        A positional that may be left out.
    metavar : str or dict, optional
        The placeholder in the usage line.
    faces : tuple of str, optional
        The faces that have this parameter (default: every face its kind allows).
    to_core : bool, default=True
        Passed to the verb's call (false for face-only switches such as ``--trust``).
    """

    name: str
    kind: Kind = field(default_factory=Text)
    help: Any = ""
    default: Any = None
    required: bool = False
    positional: Any = False
    flag: Any = None
    short: str | None = None
    aliases: tuple[str, ...] = ()
    choices: Sequence[Any] | None = None
    repeat: bool = False
    many: bool = False
    optional: bool = False
    metavar: Any = None
    faces: tuple[str, ...] | None = None
    to_core: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.kind, Flag) and self.default is None:
            self.default = False  # a switch left out is off (the core gets True for a negated one)

    def on(self, face: str) -> bool:
        return face in (self.faces or self.kind.faces)

    def is_positional(self, face: str) -> bool:
        if isinstance(self.positional, (tuple, list)):
            return face in self.positional
        return bool(self.positional)

    def spelling(self, face: str) -> str:
        """``--n-boot``, or the positional's placeholder."""
        if self.is_positional(face):
            metavar = _per_face(self.metavar, face)
            return metavar if isinstance(metavar, str) else self.name
        flag = _per_face(self.flag, face)
        if flag:
            return flag
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if isinstance(self.kind, Flag) and self.kind.negate else f"--{dashed}"

    def help_text(self, face: str) -> str:
        text = _per_face(self.help, face, "") or self.kind.help(face)
        if self.default not in (None, False, [], "") and not isinstance(self.kind, Flag) and "default" not in text:
            text = f"{text} (default {self.default})" if text else f"default {self.default}"
        return text

    def add_to(self, parser: argparse.ArgumentParser, face: str) -> None:
        kw: dict[str, Any] = {"help": self.help_text(face).replace("%", "%%")}
        metavar = _per_face(self.metavar, face) or self.kind.metavar
        if isinstance(self.kind, Flag):
            kw["action"] = "store_true"
        elif isinstance(self.kind, Pairs):
            kw.update(nargs=2, action="append", default=[], metavar=metavar)
        else:
            kw["type"] = self.kind.parse
            if self.choices:
                kw["choices"] = list(self.choices)
            elif metavar:
                kw["metavar"] = metavar
            if self.repeat:
                kw.update(action="append", default=[])
            else:
                kw["default"] = self.default
        if self.is_positional(face):
            if self.many:
                kw["nargs"] = "+"
            elif self.optional:
                kw["nargs"] = "?"
            parser.add_argument(self.name, **kw)
            return
        flags = ([self.short] if self.short else []) + [self.spelling(face), *self.aliases]
        if self.required:
            kw["required"] = True
        parser.add_argument(*flags, dest=self.name, **kw)

    def value(self, parsed: Any) -> Any:
        """The parsed value as the core sees it (a negated flag turned around, pairs as a dict)."""
        if isinstance(self.kind, Flag) and self.kind.negate:
            return not parsed
        if isinstance(self.kind, Pairs):
            return dict(parsed or [])
        return parsed

    def schema(self) -> dict:
        face = next(f for f in ("rest", "cli", "magic") if self.on(f))
        out: dict[str, Any] = {
            "name": self.name,
            **self.kind.schema(),
            "help": self.help_text(face),
            "required": self.required or (bool(self.positional) and not self.optional),
        }
        out["default"] = jsonable(self.value(self.default)) if not self.repeat else []
        if self.choices:
            out["choices"] = list(self.choices)
        if self.repeat or self.many:
            out["multiple"] = True
        out["faces"] = [f for f in FACES if self.on(f)]
        out["spelling"] = {f: self.spelling(f) for f in FACES if self.on(f) and f != "rest"}
        return out


# --------------------------------------------------------------------------- verbs


class Outcome:
    """A small result of a face-only step (a folder written, a profile saved): text and a dict."""

    def __init__(self, text: str, data: dict) -> None:
        self.text, self.data = text, data

    def to_text(self) -> str:
        return self.text

    def to_dict(self) -> dict:
        return dict(self.data)

    def __repr__(self) -> str:
        return self.text


def exit_gates(result: Any) -> int:
    """0 when every gate passed (or none was given), 1 when one failed."""
    gates = getattr(result, "gates", None)
    return 1 if gates is not None and not gates.passed else 0


def exit_ok(result: Any) -> int:
    """0 when the result is ok, 4 when the operation failed (a rollout that did not finish...)."""
    return 0 if getattr(result, "ok", True) else 4


@dataclass
class Verb:
    """A verb: its parameters once, its core call, and where it appears.

    Parameters
    ----------
    name : str
        ``%modelops NAME`` and ``modelops NAME``.
    summary : str
        One line for the verb lists.
    doc : str
        The description; ``{prog}`` becomes ``%modelops`` or ``modelops``. A dict gives one per face.
    params : list of Param
    run : callable
        ``run(face, **values)``: the core call. ``face`` is a :class:`Face`.
    faces : tuple of str
        Where the verb appears (REST: as a background job of the panel).
    html : bool
        The result can be written as HTML (``--html FILE`` on the command line).
    exit_code : callable
        The command line's exit code for a result.
    text : callable, optional
        The command line's text for a result (default: its ``to_text()``).
    cli_path : tuple of str, optional
        The command line spelling when it differs, e.g. ``("report", "run")``.
    """

    name: str
    summary: str
    params: list[Param]
    run: Callable[..., Any]
    doc: Any = ""
    faces: tuple[str, ...] = ("magic", "cli")
    html: bool = False
    exit_code: Callable[[Any], int] = lambda result: 0
    text: Callable[[Any], str | None] | None = None
    cli_path: tuple[str, ...] | None = None

    def params_on(self, face: str) -> list[Param]:
        return [p for p in self.params if p.on(face)]

    def description(self, face: str) -> str:
        doc = _per_face(self.doc, face, "")
        return re.sub(r"\n{3,}", "\n\n", doc.replace("{prog}", Face(face).prog)).strip()

    def add_arguments(self, parser: argparse.ArgumentParser, face: str) -> None:
        """Add this verb's arguments, as spelled on ``face``, to an argparse parser."""
        for param in self.params_on(face):
            param.add_to(parser, face)

    def resolve(self, parsed: Any, face: Face) -> dict:
        """Parsed arguments (an argparse namespace) -> the keywords of :attr:`run`."""
        ctx = {p.name: p.value(getattr(parsed, p.name, p.default)) for p in self.params_on(face.name)}
        for p in sorted(self.params_on(face.name), key=lambda p: p.kind.order):
            ctx[p.name] = p.kind.resolve(ctx[p.name], face, ctx)
        return {p.name: ctx[p.name] for p in self.params_on(face.name) if p.to_core}

    def from_json(self, data: Any, *, what: str = "action") -> dict:
        """Check a REST JSON object against the declaration and convert it by kind."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValidationError(f"'params' must be a JSON object, got {type(data).__name__}.")
        params = {p.name: p for p in self.params_on("rest")}
        names = list(params)
        for key in data:
            if key not in params:
                raise ValidationError(
                    f"The {what} '{self.name}' has no parameter {key!r}; expected some of: "
                    f"{', '.join(names)}.{suggest(str(key), names)}"
                )
        missing = [n for n, p in params.items() if p.schema()["required"] and data.get(n) in (None, "")]
        if missing:
            required = [n for n, p in params.items() if p.schema()["required"]]
            raise ValidationError(
                f"The {what} '{self.name}' needs {_and(required)}; "
                f"{_and(missing)} {'is' if len(missing) == 1 else 'are'} missing."
            )
        out: dict[str, Any] = {}
        for name, p in params.items():
            value = data.get(name, _MISSING)
            if value is _MISSING or value is None:
                out[name] = p.value(p.default if not p.repeat else [])
                continue
            if p.repeat or p.many:
                items = value if isinstance(value, list) else [value]
                value = [p.kind.from_json(v, p) for v in items]
            else:
                value = p.kind.from_json(value, p)
            if p.choices and value not in p.choices:
                raise ValidationError(
                    f"The parameter '{name}' must be one of {', '.join(map(str, p.choices))}; "
                    f"got {value!r}.{suggest(str(value), map(str, p.choices))}"
                )
            out[name] = value  # JSON keys are the core's names: a negated switch is not turned around here
        return {k: v for k, v in out.items() if params[k].to_core}

    def call(self, face: Face, values: dict) -> Any:
        # a parameter this face does not offer (e.g. a CLI-only path) takes the run function's own
        # default when it has one (e.g. serve's detach=True for the magic), else the declared default
        import inspect

        own = inspect.signature(self.run).parameters
        values = {
            **{
                p.name: p.value(p.default if not p.repeat else [])
                for p in self.params
                if p.to_core
                and p.name not in values
                and not p.on(face.name)
                and (p.name not in own or own[p.name].default is inspect.Parameter.empty)
            },
            **values,
        }
        return self.run(face, **values)

    def schema(self) -> dict:
        """The JSON schema of the verb: what the panel builds a form from."""
        return {
            "name": self.name,
            "summary": self.summary,
            "description": self.description("cli"),
            "faces": list(self.faces),
            "html": self.html,
            "cli": " ".join(self.cli_path or (self.name,)) if "cli" in self.faces else None,
            "params": [p.schema() for p in self.params],
        }


def _and(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def jsonable(value: Any) -> Any:
    """A default or choice as JSON (tuples as lists, other objects as their repr)."""
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)
