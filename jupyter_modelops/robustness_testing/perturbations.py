"""Perturbations: how inputs go wrong in production, each with severity levels.

A perturbation takes a table, a random generator and a severity and returns a
perturbed copy; it never changes its input. The built-ins work on named
columns (:class:`~jupyter_modelops.drift_detection._columns.Table`); a user perturbation
is any callable ``(X, rng, severity) -> X'`` that receives and returns ``X`` in
the form the user passed to :func:`~jupyter_modelops.robustness` (DataFrame,
NumPy array or torch tensor).

Third-party packages add perturbations through the entry-point group
``jupyter_modelops.perturbations``: each entry point names a callable (or a
:class:`Perturbation`), registered under the entry point's name when the
registry is first used. Registration is last-wins, so plugins and users can
override a built-in.

================  =================================================  =====================
name              what it does (severity s)                          default severities
================  =================================================  =====================
``noise``         numeric x + N(0, (s * std(x))^2)                   0.01, 0.05, 0.1, 0.2
``missing``       a share s of the cells become missing              0.05, 0.2
``flip``          a share s of categorical cells take another seen   0.05, 0.2
                  category
``shift``         numeric x + s * std(x)                             0.1, 0.5, 1.0
``scale``         numeric x * s (unit errors)                        0.9, 1.1, 10.0
``extremes``      a share s of numeric cells go far out of range     0.01, 0.05
                  (min - 3 * range or max + 3 * range)
``dropout``       a share s of the cells are replaced by the         0.1, 0.3
                  column's mean (numeric) or mode (categorical)
``fgsm``          one signed-gradient step of size s * std per       0.01, 0.05, 0.1
                  feature (differentiable torch models)
``pgd``           10 projected gradient steps in the same box        0.01, 0.05, 0.1
================  =================================================  =====================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..drift_detection._columns import CATEGORICAL, NUMERIC, Table
from ..exceptions import ValidationError, suggest

ENTRY_POINT_GROUP = "jupyter_modelops.perturbations"


@dataclass
class Perturbation:
    """A named perturbation with default severities.

    Parameters
    ----------
    name : str
        Registry name (``noise``, ``missing`` ...).
    fn : callable
        ``fn(table, rng, severity, ctx) -> table`` for built-ins (``table=True``),
        or ``fn(X, rng, severity) -> X`` for user callables (``table=False``).
    severities : sequence of float
        Default severity levels.
    description : str
        One line for reports.
    table : bool
        Whether ``fn`` works on a :class:`Table` (built-ins) or on the user's ``X``.
    adversarial : bool
        Needs gradients of a torch model (FGSM, PGD).
    """

    name: str
    fn: Callable[..., Any]
    severities: tuple[float, ...] = (0.05,)
    description: str = ""
    table: bool = False
    adversarial: bool = False
    needs: str = ""  # "numeric" or "categorical": skipped (with a note) when the data has no such column

    def __post_init__(self) -> None:
        self.severities = tuple(float(s) for s in self.severities)


@dataclass
class Context:
    """What a built-in perturbation may need besides the table: column statistics and the model."""

    stats: dict[str, dict] = field(default_factory=dict)
    model: Any = None
    y: Any = None
    task: str = "auto"
    columns: Sequence[str] | None = None  # restrict to these columns (per-feature sensitivity)
    noise: dict[str, np.ndarray] = field(default_factory=dict)  # cached standard normal draws
    _scratch: dict = field(default_factory=dict)
    block: dict | None = None  # column views of the model-input buffer, when perturbations may write there

    def scratch(self, column: str, n: int) -> np.ndarray:
        """A float64 work array for one column, reused by the next perturbation (its table is consumed first)."""
        if self.block is not None and column in self.block and self.block[column].size == n:
            return self.block[column]
        buf = self._scratch.get(column)
        if buf is None or buf.size != n:
            buf = self._scratch[column] = np.empty(n, dtype=np.float64)
        return buf


class PerturbationRegistry:
    """A plain holder of named perturbations, filled with the built-ins and entry points."""

    def __init__(self) -> None:
        self._items: dict[str, Perturbation] = {}
        self._entry_points_loaded = False

    def register(
        self,
        name: str,
        perturbation: Perturbation | Callable[..., Any],
        *,
        severities: Sequence[float] | None = None,
        description: str = "",
    ) -> Perturbation:
        """Register ``perturbation`` under ``name`` (replacing any earlier one)."""
        if not isinstance(name, str) or not name.strip() or "," in name:
            raise ValidationError(f"A perturbation name must be a non-empty string without commas; got {name!r}.")
        if isinstance(perturbation, Perturbation):
            p = perturbation
            if severities is not None:
                p = Perturbation(name, p.fn, tuple(severities), p.description, p.table, p.adversarial, p.needs)
            p.name = name
        elif callable(perturbation):
            p = Perturbation(
                name,
                perturbation,
                tuple(severities or (0.05,)),
                description or (getattr(perturbation, "__doc__", "") or "").strip().split("\n")[0],
            )
        else:
            raise ValidationError(
                f"The perturbation '{name}' must be callable as (X, rng, severity) -> X; "
                f"got {type(perturbation).__name__}."
            )
        self._items[name] = p
        return p

    def register_entry_points(self) -> None:
        """Load third-party perturbations from the ``jupyter_modelops.perturbations`` entry-point group."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not break the built-ins
                import warnings

                warnings.warn(f"Could not load the perturbation plugin '{ep.name}' ({ep.value}): {exc}", stacklevel=2)
                continue
            self.register(ep.name, obj)

    def get(self, name: str) -> Perturbation:
        self.register_entry_points()
        if name not in self._items:
            known = self.names()
            raise ValidationError(
                f"Unknown perturbation '{name}'.{suggest(name, known)} Known perturbations: {', '.join(known)}.",
                hint="Or pass a callable (X, rng, severity) -> X.",
            )
        return self._items[name]

    def names(self) -> list[str]:
        self.register_entry_points()
        return list(self._items)

    def __contains__(self, name: str) -> bool:
        self.register_entry_points()
        return name in self._items


# -- built-ins ---------------------------------------------------------------


def _copy(table: Table) -> Table:
    return Table(
        list(table.names), dict(table.columns), dict(table.kinds), table.n_rows, table.source, dict(table.extra)
    )


def _targets(table: Table, ctx: Context, kind: str) -> list[str]:
    cols = ctx.columns if ctx.columns is not None else table.names
    return [c for c in cols if table.kinds[c] == kind]


def _normal(ctx: Context, c: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws per column, cached so that all severities share them (common random numbers)."""
    z = ctx.noise.get(c)
    if z is None or z.size != n:
        z = rng.standard_normal(n, dtype=np.float32)
        ctx.noise[c] = z
    return z


def noise(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    out = _copy(table)
    for c in _targets(table, ctx, NUMERIC):
        std = ctx.stats[c]["std"]
        if std > 0:
            v = ctx.scratch(c, table.n_rows)
            np.multiply(_normal(ctx, c, table.n_rows, rng), severity * std, out=v)
            v += table.columns[c]
            out.columns[c] = v
    return out


def _numeric_copy(table: Table, c: str, ctx: Context) -> np.ndarray:
    v = ctx.scratch(c, table.n_rows)
    v[:] = table.columns[c]
    return v


def _cell_mask(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return rng.random(n, dtype=np.float32) < share


def missing(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    out = _copy(table)
    cols = ctx.columns if ctx.columns is not None else table.names
    for c in cols:
        mask = _cell_mask(rng, table.n_rows, severity)
        numeric = table.kinds[c] == NUMERIC
        v = _numeric_copy(table, c, ctx) if numeric else table.columns[c].copy()
        v[mask] = np.nan if numeric else None
        out.columns[c] = v
    return out


def flip(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    out = _copy(table)
    for c in _targets(table, ctx, CATEGORICAL):
        cats = ctx.stats[c]["categories"]
        if len(cats) < 2:
            continue
        v = table.columns[c].copy()
        mask = _cell_mask(rng, table.n_rows, severity)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        # another seen category: draw among the k - 1 others by skipping the current one
        lookup = {k: i for i, k in enumerate(cats)}
        cur = np.array([lookup.get(x, -1) for x in v[idx]], dtype=np.int64)
        draw = rng.integers(0, len(cats) - 1, idx.size)
        draw = np.where((cur >= 0) & (draw >= cur), draw + 1, draw)
        cat_arr = np.asarray(cats, dtype=object)
        v[idx] = cat_arr[draw]
        out.columns[c] = v
    return out


def shift(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    out = _copy(table)
    for c in _targets(table, ctx, NUMERIC):
        out.columns[c] = np.add(table.columns[c], severity * ctx.stats[c]["std"], out=ctx.scratch(c, table.n_rows))
    return out


def scale(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    out = _copy(table)
    for c in _targets(table, ctx, NUMERIC):
        out.columns[c] = np.multiply(table.columns[c], severity, out=ctx.scratch(c, table.n_rows))
    return out


def extremes(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    out = _copy(table)
    for c in _targets(table, ctx, NUMERIC):
        st = ctx.stats[c]
        span = (st["max"] - st["min"]) or max(abs(st["max"]), 1.0)
        mask = _cell_mask(rng, table.n_rows, severity)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        v = _numeric_copy(table, c, ctx)
        high = rng.random(idx.size) < 0.5
        v[idx] = np.where(high, st["max"] + 3 * span, st["min"] - 3 * span)
        out.columns[c] = v
    return out


def dropout(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    out = _copy(table)
    cols = ctx.columns if ctx.columns is not None else table.names
    for c in cols:
        st = ctx.stats[c]
        numeric = table.kinds[c] == NUMERIC
        fill = st["mean"] if numeric else st["mode"]
        if severity >= 1.0:
            v = np.full(table.n_rows, fill, dtype=table.columns[c].dtype)
        else:
            v = _numeric_copy(table, c, ctx) if numeric else table.columns[c].copy()
            v[_cell_mask(rng, table.n_rows, severity)] = fill
        out.columns[c] = v
    return out


def _adversarial(table: Table, rng: np.random.Generator, severity: float, ctx: Context, *, steps: int) -> Table:
    from .adversarial import attack

    return attack(table, ctx, eps=severity, steps=steps)


def fgsm(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    return _adversarial(table, rng, severity, ctx, steps=1)


def pgd(table: Table, rng: np.random.Generator, severity: float, ctx: Context) -> Table:
    return _adversarial(table, rng, severity, ctx, steps=10)


registry = PerturbationRegistry()
for _p in (
    Perturbation("noise", noise, (0.01, 0.05, 0.1, 0.2), "Gaussian noise, s x the feature's std", True, needs=NUMERIC),
    Perturbation("missing", missing, (0.05, 0.2), "a share s of the cells missing", True),
    Perturbation(
        "flip",
        flip,
        (0.05, 0.2),
        "a share s of categorical cells flipped to another seen category",
        True,
        needs=CATEGORICAL,
    ),
    Perturbation("shift", shift, (0.1, 0.5, 1.0), "every numeric feature shifted by s x its std", True, needs=NUMERIC),
    Perturbation(
        "scale", scale, (0.9, 1.1, 10.0), "every numeric feature multiplied by s (unit errors)", True, needs=NUMERIC
    ),
    Perturbation(
        "extremes", extremes, (0.01, 0.05), "a share s of numeric cells far out of range", True, needs=NUMERIC
    ),
    Perturbation("dropout", dropout, (0.1, 0.3), "a share s of the cells replaced by the mean / mode", True),
    Perturbation("fgsm", fgsm, (0.01, 0.05, 0.1), "FGSM step of s x std per feature (torch)", True, True, NUMERIC),
    Perturbation(
        "pgd", pgd, (0.01, 0.05, 0.1), "PGD, 10 steps in a box of s x std per feature (torch)", True, True, NUMERIC
    ),
):
    registry._items[_p.name] = _p

#: The suite run by ``perturbations="default"`` (adversarial ones only for torch models).
DEFAULT = ("noise", "missing", "flip", "shift", "scale", "extremes", "dropout", "fgsm", "pgd")


def register_perturbation(
    name: str, fn: Callable[..., Any], *, severities: Sequence[float] = (0.05,), description: str = ""
) -> Perturbation:
    """Register a perturbation ``fn(X, rng, severity) -> X'`` under ``name``.

    ``X`` is what the user passes to :func:`robustness` (DataFrame, NumPy array
    or torch tensor); return a perturbed copy of the same form and shape.

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_modelops import register_perturbation
    >>> def round_off(X, rng, severity):
    ...     return np.round(X, int(severity))
    >>> register_perturbation("round", round_off, severities=[2, 0]).severities
    (2.0, 0.0)
    """
    return registry.register(name, fn, severities=severities, description=description)
