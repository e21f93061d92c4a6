"""Names and references.

A model name is 1 to 128 characters from ``A-Z a-z 0-9 . _ -``, starting with
a letter or a digit (so no path separators, no ``..``, no leading dot or dash).
An alias follows the same rule but may not be only digits. A reference is:

``name``
    the latest version of ``name``
``name:3``
    version 3 of ``name``
``name@production``
    the version the alias ``production`` points at
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import ValidationError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NAME_RULE = "1 to 128 characters from letters, digits, '.', '_' and '-', starting with a letter or a digit"
ROLE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
KIND_RE = ROLE_RE


@dataclass(frozen=True)
class Ref:
    """A parsed reference: exactly one of ``version`` and ``alias`` or neither (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def check_name(name: object, *, what: str = "model name", arg: str = "name") -> str:
    """Return ``name`` if valid, else raise :class:`ValidationError` naming the argument."""
    if not isinstance(name, str):
        raise ValidationError(f"The argument '{arg}' must be a string; got {type(name).__name__}.")
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise ValidationError(
            f"The {what} {name!r} is not valid: expected {NAME_RULE} (and no '..').",
            hint="Pick a name such as 'churn' or 'churn-model_v2'.",
        )
    return name


def check_alias(alias: object, *, arg: str = "alias") -> str:
    check_name(alias, what="alias", arg=arg)
    assert isinstance(alias, str)
    if alias.isdigit():
        raise ValidationError(
            f"The alias {alias!r} is only digits, which reads like a version number.",
            hint="Use a word such as 'production' or 'staging'.",
        )
    if alias == "latest":
        raise ValidationError("The alias 'latest' is reserved: it always means the newest version.")
    return alias


def check_role(role: object, *, arg: str = "role", what: str = "artifact role") -> str:
    if not isinstance(role, str) or not ROLE_RE.fullmatch(role):
        raise ValidationError(
            f"The {what} {role!r} (argument '{arg}') is not valid: expected 1 to 64 characters from "
            "lower-case letters, digits, '.', '_' and '-', starting with a letter or a digit.",
            hint="For example 'onnx', 'torchscript' or 'onnx-int8'.",
        )
    return role


def check_filename(name: object, *, what: str = "artifact file name") -> str:
    """Return ``name`` if it is one plain file name, else raise :class:`ValidationError`.

    A plain file name is 1 to 255 characters, one path component: no ``/`` or
    ``\\``, not ``.`` or ``..``, no leading dot, no NUL or other control characters.
    """
    ok = (
        isinstance(name, str)
        and 0 < len(name) <= 255
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    )
    if not ok:
        raise ValidationError(
            f"The {what} {name!r} is not a plain file name: expected one path component of 1 to 255 characters, "
            "without '/', '\\', a leading '.' or control characters.",
            hint="Name files such as 'model.onnx'; a bundle with such a name was not written by export_bundle().",
        )
    assert isinstance(name, str)
    return name


def parse_ref(ref: object, *, arg: str = "ref") -> Ref:
    """Parse ``name``, ``name:3``, ``name@alias`` (or a :class:`ModelVersion`)."""
    name_attr = getattr(ref, "name", None)
    version_attr = getattr(ref, "version", None)
    if not isinstance(ref, str) and isinstance(name_attr, str) and isinstance(version_attr, int):
        return Ref(name_attr, version=version_attr)
    if not isinstance(ref, str):
        raise ValidationError(
            f"The argument '{arg}' must be a model reference such as 'churn', 'churn:3' or "
            f"'churn@production' (or a ModelVersion); got {type(ref).__name__}."
        )
    text = ref.strip()
    if "@" in text:
        name, _, alias = text.partition("@")
        check_name(name, arg=arg)
        if alias == "latest":
            return Ref(name)
        return Ref(name, alias=check_alias(alias, arg=arg))
    if ":" in text:
        name, _, num = text.partition(":")
        check_name(name, arg=arg)
        if not num.isdigit() or int(num) < 1:
            raise ValidationError(
                f"The version in {ref!r} must be a positive whole number; got {num!r}.",
                hint="Write it as 'name:3'.",
            )
        return Ref(name, version=int(num))
    return Ref(check_name(text, arg=arg))
