"""Cron expressions: validation and a human-readable description.

Standard five fields (minute hour day-of-month month day-of-week), with
``*``, lists, ranges, steps and month/day names, plus the usual ``@daily``
style macros. Kubernetes CronJobs and crontab(5) accept exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ValidationError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}),
    ("day of week", 0, 7, {n: i for i, n in enumerate("sun mon tue wed thu fri sat".split())}),
)

_DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTH_NAMES = [
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Cron:
    """A validated cron expression; ``values`` holds the expanded set of each field."""

    expression: str
    values: tuple[frozenset[int], ...]

    def describe(self) -> str:
        return describe(self.expression)

    def __str__(self) -> str:
        return self.expression


def _bad(expr: str, why: str) -> ValidationError:
    return ValidationError(
        f"The cron expression '{expr}' is invalid: {why}.",
        hint="Expected five fields 'minute hour day-of-month month day-of-week', e.g. '0 6 * * *' (every day at 06:00).",
    )


def _value(token: str, lo: int, hi: int, names: dict, field: str, expr: str) -> int:
    t = token.lower()
    if t in names:
        return names[t]
    if not t.isdigit():
        raise _bad(expr, f"'{token}' in the {field} field is not a number or a known name")
    v = int(t)
    if not lo <= v <= hi:
        raise _bad(expr, f"{v} in the {field} field is outside {lo}-{hi}")
    return v


def parse(expression: str) -> Cron:
    """Validate a cron expression and expand its fields.

    Raises :class:`ValidationError` with one sentence naming the bad field.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise _bad(str(expression), "it is empty")
    expr = " ".join(expression.split())
    full = MACROS.get(expr.lower(), expr)
    if full.startswith("@"):
        raise _bad(expr, f"'{expr}' is not a known macro ({', '.join(MACROS)})")
    parts = full.split(" ")
    if len(parts) != 5:
        raise _bad(expr, f"it has {len(parts)} fields, not 5")
    values = []
    for part, (field, lo, hi, names) in zip(parts, FIELDS):
        got: set[int] = set()
        for item in part.split(","):
            if not item:
                raise _bad(expr, f"the {field} field has an empty list item")
            step = 1
            if "/" in item:
                item, _, s = item.partition("/")
                if not s.isdigit() or int(s) == 0:
                    raise _bad(expr, f"the step '/{s}' in the {field} field must be a positive number")
                step = int(s)
            if item == "*":
                a, b = lo, hi
            elif "-" in item:
                x, _, y = item.partition("-")
                a, b = _value(x, lo, hi, names, field, expr), _value(y, lo, hi, names, field, expr)
                if a > b:
                    raise _bad(expr, f"the range '{item}' in the {field} field runs backwards")
            else:
                a = _value(item, lo, hi, names, field, expr)
                b = hi if step > 1 else a
            got.update(range(a, b + 1, step))
        if field == "day of week" and 7 in got:
            got.discard(7)
            got.add(0)
        values.append(frozenset(got))
    return Cron(expr, tuple(values))


def _list(vals: list[int], fmt) -> str:
    return ", ".join(fmt(v) for v in vals)


def describe(expression: str) -> str:
    """A short English reading of a cron expression (``'0 6 * * 1-5'`` -> 'at 06:00 on Monday to Friday')."""
    cron = parse(expression)
    expr = MACROS.get(cron.expression.lower(), cron.expression)
    m, h, dom, mon, dow = expr.split(" ")
    mins, hours = sorted(cron.values[0]), sorted(cron.values[1])
    if m == "*" and h == "*":
        when = "every minute"
    elif m.startswith("*/") and h == "*":
        when = f"every {m[2:]} minutes"
    elif h == "*":
        when = f"every hour at minute {_list(mins, str)}"
    elif len(mins) * len(hours) <= 6:
        when = "at " + ", ".join(f"{hh:02d}:{mm:02d}" for hh in hours for mm in mins)
    else:
        when = f"at minute {_list(mins, str)} of hours {_list(hours, str)}"
    parts = [when]
    if dom != "*":
        parts.append(f"on day {_list(sorted(cron.values[2]), str)} of the month")
    if mon != "*":
        parts.append(f"in {_list(sorted(cron.values[3]), lambda v: _MONTH_NAMES[v])}")
    if dow != "*":
        days = sorted(cron.values[4])
        if days == [1, 2, 3, 4, 5]:
            parts.append("on Monday to Friday")
        else:
            parts.append("on " + _list(days, lambda v: _DAY_NAMES[v]))
    if dom == "*" and dow == "*" and mon == "*" and h != "*":
        parts.append("every day")
    return " ".join(parts)
