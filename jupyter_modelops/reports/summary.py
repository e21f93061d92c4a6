"""What a report template hands back to the runner.

A template ends with ``publish_summary(...)``. It displays one output of the
MIME type :data:`MIME`, which the runner reads from the executed notebook, so
the same template works under ``report()``, plain papermill, nbconvert or a
Kubernetes CronJob.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

MIME = "application/vnd.jupyter-modelops.summary+json"


def _gate_dicts(g: Any) -> list[dict]:
    """Normalise gates: mappings, ``GateResult`` objects or whole ``GateReport`` objects."""
    if isinstance(g, Mapping):
        return [dict(g)]
    if hasattr(g, "results") and not hasattr(g, "gate"):  # a GateReport
        return [d for r in g.results for d in _gate_dicts(r)]
    if hasattr(g, "passed") and hasattr(g, "gate"):  # a GateResult
        from .._html import fmt

        return [
            {
                "name": g.gate,
                "status": "pass" if g.passed else "fail",
                "metric": g.metric,
                "op": g.op,
                "threshold": g.threshold,
                "observed": g.observed,
                "judged_on": g.judged_on,
                "value": g.value,
                "low": g.low,
                "high": g.high,
                "detail": f"{g.judged_on} = {fmt(g.observed)}",
            }
        ]
    raise TypeError(f"a gate must be a mapping, a GateResult or a GateReport, got {type(g).__name__}")


def publish_summary(
    *,
    title: str,
    metrics: Mapping[str, Any] | None = None,
    gates: Iterable[Any] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """Display the run's summary (metrics and gates) for the runner to collect.

    Parameters
    ----------
    title : str
        A short title of the report.
    metrics : mapping
        Key figures, name -> number (or name -> {"value", "low", "high"}).
    gates : iterable
        Gate results, each a mapping with at least ``name`` and ``status``
        (``"pass"``, ``"warn"`` or ``"fail"``) or an object with ``to_dict()``.
    """
    from IPython.display import display

    from .._html import to_jsonable

    data = {
        "title": title,
        "metrics": to_jsonable(dict(metrics or {})),
        "gates": to_jsonable([d for g in gates for d in _gate_dicts(g)]),
        "extra": to_jsonable(dict(extra or {})),
    }
    failed = [g for g in data["gates"] if str(g.get("status", "")).lower() in ("fail", "failed", "false")]
    text = f"{title}: {len(data['gates']) - len(failed)}/{len(data['gates'])} gates passed"
    display({MIME: data, "text/plain": text}, raw=True)
    return data
