"""Gates: pass/fail checks of metrics against thresholds, judged on intervals.

A gate is written ``"metric OP threshold"`` (``"f1 >= 0.8"``, ``"log_loss<0.3"``)
or as a mapping ``{"f1": ">= 0.8"}``. Metrics are given as
``name -> (value, low, high)`` (a confidence interval) or ``name -> value``.

By default a gate is judged **on the interval**, conservatively: ``>=`` and
``>`` compare the interval's lower bound, ``<=`` and ``<`` its upper bound.
So ``"f1 >= 0.8"`` passes only if the whole interval clears 0.8 and
``"log_loss <= 0.3"`` passes only if the upper bound is below 0.3. With
``on="value"`` the point value is compared instead. A metric without an
interval is always judged on its value.

This module is shared by every capability that checks numbers (evaluation,
robustness, drift, reports) and by the ``--check`` option of the faces.

Examples
--------
>>> from jupyter_modelops.gates import check
>>> r = check({"f1": (0.84, 0.81, 0.87), "log_loss": (0.31, 0.28, 0.35)},
...           ["f1 >= 0.8", "log_loss <= 0.33"])
>>> [g.passed for g in r.results]
[True, False]
>>> r.passed
False
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from ._html import Result, esc, fmt, page, table
from .exceptions import GateFailure, ValidationError, suggest

__all__ = ["Gate", "GateResult", "GateReport", "parse_gate", "parse_gates", "check", "lower_is_better"]

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_GATE_RE = re.compile(
    r"^\s*([A-Za-z_][\w.\-]*)?\s*(>=|<=|==|>|<|=>|=<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)

GateSpec = Union[str, Mapping[str, Any], Sequence[str], "Gate", None]


def lower_is_better(metric: str) -> bool:
    """scikit-learn's naming contract: ``*_error`` and ``*_loss`` are lower-is-better."""
    return metric.endswith(("_error", "_loss")) or metric in ("mae", "mse", "rmse", "mape", "ece")


@dataclass(frozen=True)
class Gate:
    """One threshold on one metric: ``metric op threshold``."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate."""

    gate: str
    metric: str
    op: str
    threshold: float
    judged_on: str  # "low", "high" or "value"
    observed: float | None
    value: float | None
    low: float | None
    high: float | None
    passed: bool

    def to_dict(self) -> dict:
        return asdict(self)


def parse_gate(text: str, metric: str | None = None) -> Gate:
    """Parse ``"f1 >= 0.8"``; with ``metric`` given, ``text`` may be just ``">= 0.8"``.

    Raises
    ------
    ValidationError
        When the text is not ``metric OP number`` with OP one of ``>= <= > < ==``.
    """
    if not isinstance(text, str):
        if metric is not None and isinstance(text, (int, float)) and not isinstance(text, bool):
            return Gate(metric, ">=", float(text))
        raise ValidationError(f"A gate must be a string such as 'f1 >= 0.8'; got {text!r}.")
    m = _GATE_RE.match(text)
    if not m or (m.group(1) is None and metric is None):
        raise ValidationError(
            f"Could not read the gate {text!r}; expected 'METRIC OP NUMBER' such as 'f1 >= 0.8' "
            "(OP is one of >=, <=, >, <, ==)."
        )
    name = m.group(1) or metric
    if metric is not None and m.group(1) is not None and m.group(1) != metric:
        raise ValidationError(f"The gate {text!r} names '{m.group(1)}' but is given for the metric '{metric}'.")
    op = {"=>": ">=", "=<": "<="}.get(m.group(2), m.group(2))
    return Gate(str(name), op, float(m.group(3)))


def parse_gates(spec: GateSpec) -> list[Gate]:
    """Accept a mapping ``{"f1": ">= 0.8"}``, a list of strings, one string
    (several gates separated by commas or semicolons), or Gate objects."""
    if spec is None:
        return []
    if isinstance(spec, Gate):
        return [spec]
    if isinstance(spec, Mapping):
        return [parse_gate(v, metric=str(k)) for k, v in spec.items()]
    if isinstance(spec, str):
        parts = [p for p in re.split(r"[;,]", spec) if p.strip()]
        return [parse_gate(p) for p in parts]
    if isinstance(spec, Iterable):
        out: list[Gate] = []
        for item in spec:
            out.extend(parse_gates(item))
        return out
    raise ValidationError(
        f"checks must be a dict, a list of strings or a string such as 'f1>=0.8'; got {type(spec).__name__}."
    )


def _triple(entry: Any) -> tuple[float | None, float | None, float | None]:
    if isinstance(entry, Mapping):
        return entry.get("value"), entry.get("low"), entry.get("high")
    if isinstance(entry, (tuple, list)):
        v = list(entry) + [None, None, None]
        return v[0], v[1], v[2]
    if hasattr(entry, "value") and hasattr(entry, "low"):
        return entry.value, entry.low, getattr(entry, "high", None)
    return entry, None, None


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def check(
    metrics: Mapping[str, Any], gates: GateSpec, *, on: str = "bound", aliases: Mapping[str, str] | None = None
) -> "GateReport":
    """Judge gates against metrics.

    Parameters
    ----------
    metrics : mapping
        ``name -> (value, low, high)``, ``name -> {"value", "low", "high"}`` or ``name -> value``.
    gates : str, list of str or mapping
        For example ``{"f1": ">= 0.8"}`` or ``["f1 >= 0.8", "log_loss <= 0.3"]``.
    on : {"bound", "value"}, default="bound"
        ``"bound"`` judges ``>=``/``>`` on the lower bound and ``<=``/``<`` on the
        upper bound of the interval (conservative); ``"value"`` uses the point value.
    aliases : mapping, optional
        Other names accepted for metrics (``{"auc": "roc_auc"}``).

    Returns
    -------
    GateReport
    """
    if on not in ("bound", "value"):
        raise ValidationError(f"on must be 'bound' or 'value'; got {on!r}.")
    aliases = dict(aliases or {})
    results = []
    for g in parse_gates(gates):
        name = g.metric if g.metric in metrics else aliases.get(g.metric, g.metric)
        if name not in metrics:
            # suggest only names that would work here: this result's metrics and the aliases of those
            known = sorted(set(metrics) | {a for a, target in aliases.items() if target in metrics})
            raise ValidationError(
                f"The gate '{g}' names the metric '{g.metric}', which this result does not have."
                f"{suggest(g.metric, known)} Available: {', '.join(sorted(metrics))}."
            )
        value, low, high = (_num(x) for x in _triple(metrics[name]))
        judged, observed = "value", value
        if on == "bound":
            if g.op in (">=", ">") and low is not None:
                judged, observed = "low", low
            elif g.op in ("<=", "<") and high is not None:
                judged, observed = "high", high
        passed = observed is not None and OPS[g.op](observed, g.threshold)
        results.append(GateResult(str(g), name, g.op, g.threshold, judged, observed, value, low, high, bool(passed)))
    return GateReport(results, on=on)


class GateReport(Result):
    """The outcome of a set of gates: ``.passed``, ``.results``, ``.failed``."""

    def __init__(self, results: list[GateResult], *, on: str = "bound") -> None:
        self.results = list(results)
        self.on = on

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def __bool__(self) -> bool:
        return self.passed

    def __len__(self) -> int:
        return len(self.results)

    def raise_for_failure(self) -> "GateReport":
        """Raise :class:`GateFailure` naming the failed gates; return self when all pass."""
        if not self.passed:
            raise GateFailure(
                "Gates failed: "
                + "; ".join(f"{r.gate} (observed {r.judged_on} {fmt(r.observed)})" for r in self.failed)
                + "."
            )
        return self

    def to_dict(self) -> dict:
        return {"passed": self.passed, "on": self.on, "gates": [r.to_dict() for r in self.results]}

    def _summary(self) -> str:
        return f"GateReport {sum(r.passed for r in self.results)}/{len(self.results)} passed"

    def to_text(self) -> str:
        lines = []
        for r in self.results:
            mark = "PASS" if r.passed else "FAIL"
            lines.append(f"  {mark}  {r.gate:<28} {r.judged_on} = {fmt(r.observed)}")
        return "\n".join(lines)

    def html_table(self) -> str:
        rows = []
        for r in self.results:
            badge = '<span class="pass">PASS</span>' if r.passed else '<span class="fail">FAIL</span>'
            rows.append(
                (
                    badge,
                    esc(r.gate),
                    esc(r.judged_on),
                    esc(fmt(r.observed)),
                    esc(f"[{fmt(r.low)}, {fmt(r.high)}]" if r.low is not None else "–"),
                )
            )
        return table(rows, ["gate", "rule", "judged on", "observed", "interval"], raw_cols=(0, 1, 2, 3, 4))

    def to_html(self) -> str:
        return page(self._summary(), self.html_table())
