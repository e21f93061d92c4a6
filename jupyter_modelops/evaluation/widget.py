"""An ipywidgets view of a binary report with a decision-threshold slider.

Moving the slider recomputes the threshold-dependent metrics (accuracy,
balanced accuracy, precision, recall, F1 and the confusion counts) from the
report's level table, in microseconds, without re-running the model. The
intervals shown in the report are those of the original threshold.

Its mime bundle also carries the static report (``text/html``) and a text
summary (``text/plain``), so a view without a live kernel or a notebook not
trusted (where the widget cannot render) shows the report instead of
``VBox(children=...)``.
"""

from __future__ import annotations

from typing import Any

from .._html import esc, fmt, page, table
from .._optional import require
from ..exceptions import ValidationError
from .report import LABELS, EvaluationReport


def _threshold_html(report: EvaluationReport, t: float) -> str:
    m = report.at_threshold(t)
    rows = [
        (esc(LABELS.get(k, k)), esc(fmt(m[k]))) for k in ("accuracy", "balanced_accuracy", "precision", "recall", "f1")
    ]
    cm = table(
        [
            (f"true {report.classes[0]}", fmt(int(m["tn"])), fmt(int(m["fp"]))),
            (f"true {report.classes[1]}", fmt(int(m["fn"])), fmt(int(m["tp"]))),
        ],
        ["", f"pred {report.classes[0]}", f"pred {report.classes[1]}"],
    )
    return page(
        f"At threshold {t:.3f}",
        table(rows, ["metric", "value"], raw_cols=(0, 1)) + cm,
        subtitle="point values; intervals below are for the report's threshold",
    )


class ThresholdExplorer:
    """The interactive view: ``.widget`` (an ipywidgets VBox), ``.slider``, ``.report``."""

    def __init__(self, report: EvaluationReport) -> None:
        if report.task != "binary" or report._levels is None:
            raise ValidationError(
                f"--interactive needs a binary classifier with scores; this report is {report.task}"
                + ("" if report.task != "binary" else " computed from labels only")
                + "."
            )
        widgets = require("ipywidgets", purpose="show the interactive threshold view")
        self.report = report
        self.slider = widgets.FloatSlider(
            value=report.threshold,
            min=0.01,
            max=0.99,
            step=0.01,
            description="threshold",
            continuous_update=True,
            readout_format=".2f",
        )
        self.live = widgets.HTML(_threshold_html(report, report.threshold))
        self.full = widgets.HTML(report.to_html())
        self.slider.observe(self._changed, names="value")
        self.widget = widgets.VBox([self.slider, self.live, self.full])

    def _changed(self, change: Any) -> None:
        self.live.value = _threshold_html(self.report, float(change["new"]))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        """The widget view, with the static report and a text summary as fallbacks in the same bundle."""
        t = float(self.slider.value)
        data = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        data["text/html"] = _threshold_html(self.report, t) + self.report.to_html()
        m = self.report.at_threshold(t)
        data["text/plain"] = f"{self.report._summary()} at threshold {t:.3f}: " + ", ".join(
            f"{k} {fmt(m[k])}" for k in ("accuracy", "precision", "recall", "f1")
        )
        return data

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        return f"<ThresholdExplorer of {self.report._summary()}>"


def threshold_explorer(report: EvaluationReport) -> ThresholdExplorer:
    """Build the interactive threshold view of a binary report."""
    return ThresholdExplorer(report)
